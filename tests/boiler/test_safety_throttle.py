"""The safety layer's coolant cut where miners finish the water: the firmware's throttle band is theirs.

With a controlled charging flow the miners' inlet sits in their firmware's throttle band by design; the layer
curtails there only a fleet that draws more than its firmware's throttle allows (a firmware that does not
throttle). On a balanced-flow plant an inlet that hot still means a full store, and is curtailed at once.
Scenario tables on a fake clock (no plant, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from boiler import scenarios
from boiler.config import PlantConfig
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel
from boiler.control.types import MinerReading, Observation
from boiler.simulation import Simulation
from miners.catalogue import get_spec
from tank.exchanger import PlateExchanger

T0 = 1_782_000_000.0  # a fixed epoch second: the fake clock starts here
AH = get_spec("ah3880")
S21 = get_spec("s21-hyd")


def _controller(scenario: str, per_miner_w: float) -> tuple[PlantConfig, Controller]:
    cfg = scenarios.load(scenario)
    ua = PlateExchanger.sized_for_approach(len(cfg.miners) * per_miner_w * 0.97, 3.0).ua_w_per_k
    return cfg, Controller(cfg, PlantModel.from_config(cfg, ua))


def _obs(cfg: PlantConfig, inlet_c: float, power_w: float) -> Observation:
    miners = tuple(MinerReading(name=m.name, available=True, state="hashing", power_w=power_w,
                                hashrate_ths=1.0, limit_w=8_700.0) for m in cfg.miners)
    sensors = {f"store.{k}": v for k, v in (("top", 63.0), ("upper", 62.0), ("middle", 58.0), ("bottom", 55.0))}
    return Observation(now_s=T0, local_minute=14 * 60, local_weekday=2, sensors_c=sensors, outlet_c=63.0,
                       loop_return_c=59.0, coolant_in_c=inlet_c, coolant_out_c=inlet_c + 8.0, miners=miners,
                       gas_firing=False, electricity_eur_per_kwh=0.15, hashprice_eur_per_ph_day=45.0,
                       cold_water_c=15.0, legionella_due=False)


@pytest.mark.parametrize(("label", "inlet_c", "power_w", "cut"), [
    ("firmware throttling at 59.5 °C: left to it", 59.5, AH.throttle_cap_w(59.5), False),
    ("a step behind a rising inlet (within 1 K of the cap)", 59.5, AH.throttle_cap_w(58.6), False),
    ("full power at 59.5 °C: the firmware does not throttle, cut", 59.5, AH.max_power_w, True),
    ("above the rated maximum and still drawing: cut", 60.5, AH.min_power_w, True),
    ("below the cut's threshold: nothing to do", 58.5, AH.max_power_w, False),
])
def test_where_miners_finish_the_water_the_cut_catches_only_a_firmware_that_does_not_throttle(
        label: str, inlet_c: float, power_w: float, cut: bool) -> None:
    cfg, c = _controller("residence-48-hot", AH.max_power_w)
    assert c.model.finish_target_c is not None  # a controlled flow the miners finish
    commands = c.tick(_obs(cfg, inlet_c, power_w), day_index=0)
    d = c.last_decision
    assert d is not None
    assert ("coolant_hot" in commands.reason) is cut, label
    # A hot inlet left to the firmware is named in the reason (state and logs), not silently passed.
    assert commands.reason.endswith(":firmware_throttle") is (not cut and inlet_c > AH.inlet_max_c - 1.0), label
    if cut:
        assert d.force and d.miner_power_w <= 0.5 * len(cfg.miners) * power_w + 1e-6


def test_on_a_balanced_flow_plant_a_throttling_fleet_is_still_cut() -> None:
    """residence-48 (balanced flow): an inlet 1 K from the maximum means a full store, whatever the firmware."""
    cfg, c = _controller("residence-48", S21.max_power_w)
    assert c.model.finish_target_c is None
    inlet_c = S21.inlet_max_c - 0.5
    sensors = {f"store.{k}": v for k, v in (("top", 63.0), ("upper", 62.0), ("middle", 50.0), ("bottom", 46.0))}
    obs = replace(_obs(cfg, inlet_c, S21.throttle_cap_w(inlet_c)), sensors_c=sensors)
    commands = c.tick(obs, day_index=0)
    assert "coolant_hot" in commands.reason
    assert c.last_decision is not None and c.last_decision.force


def test_hot_miners_carry_a_summer_week_without_gas() -> None:
    """Scenario table, residence-48-hot, rule: after a warm-up week the summer week from 6 July burns no
    gas, draws no water below 60 °C and changes no limit: the fleet holds full power and its firmware
    throttles (the week from a cold start burns none either: tests/boiler/test_charge_flow.py)."""
    sim = Simulation(scenarios.load("residence-48-hot"), 14, date(2026, 6, 29), strategy="rule")
    gas_j = below_l = 0.0
    changes_at_week = None
    while not sim.done:
        if sim.control_due():
            sim.tick()
        flows = sim.advance()
        if sim.k * sim.step_s > 7 * 86_400:
            if changes_at_week is None:
                changes_at_week = sim.controller.limit_changes
            gas_j += flows.gas_fuel_j
            below_l += flows.dhw_volume_below_l
    assert gas_j == 0.0
    assert below_l == 0.0
    assert sim.controller.limit_changes == changes_at_week
    assert sim.result().summary["miner_heat_share"] > 0.99
