"""The charging flow as a control handle (`charging.flow: controlled`): a variable-speed pump sends the water
to the tank at a target, the target travels from the decision to the plant (simulated or over MQTT), and the
rule strategy's finishing law charges in few long runs with miners that reach the target."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.config import PlantConfig
from boiler.control.types import Commands
from boiler.mqtt.config import MqttConfig
from boiler.plant.simulated import SimulatedPlant
from boiler.service.mqtt_io import MqttPlantIO
from boiler.simulation import build_plant, run_simulation
from boiler.simulation.devices import SimulatedDevices, device_mqtt_config
from boiler.simulation.optimum import run_optimum
from boiler.simulation.runner import Simulation
from tank.draws import StepDraws
from tank.water import HEAT_CAPACITY_J_PER_L_K

SUMMER = date(2026, 7, 6)


def _hot(**charging: object) -> PlantConfig:
    cfg = scenarios.load("residence-48-hot")
    return cfg.model_copy(update={"charging": cfg.charging.model_copy(update=charging)})


def _still_plant(cfg: PlantConfig, tank_c: float, steps: int) -> SimulatedPlant:
    """The site's store at one temperature, no draws, no loop, gas off, every miner at full power."""
    tanks = [t.model_copy(update={"initial_c": tank_c}) for t in cfg.tanks]
    cfg = cfg.model_copy(update={"tanks": tanks, "loop": None})
    plant = SimulatedPlant(cfg, StepDraws(heat_j=np.zeros(steps), use_temp_c=np.full(steps, np.nan)),
                           [15.0] * steps, 0.0)
    plant.apply(Commands(miner_limits_w={m.name: m.spec.max_power_w for m in plant.miners}, charge_pump=True,
                         gas_enable=False, gas_setpoint_c=20.0, destratify=False, dry_cooler=False, reason="test"))
    return plant


def test_the_pump_sends_the_water_at_its_target_in_one_pass() -> None:
    """From a cold store the flow carries the miners' heat from the base to the target: once the coolant loop
    has warmed, the water leaves the exchanger at the target and ṁ·c·(T_target − T_base) is the heat passed."""
    cfg = _hot()
    target = cfg.charge_target_c
    assert target == cfg.control.setpoint_c + 2.0
    plant = _still_plant(cfg, 20.0, 80)
    lo_lpm, hi_lpm = cfg.charging.min_flow_lpm, sum(m.spec.coolant_flow_lpm for m in plant.miners)
    supplies, balances = [], []
    for k in range(40):
        base = plant._charge.tank.bottom_c
        f = plant.step()
        if k >= 30:  # the coolant loop has warmed (it relaxes over ~20 min at full power)
            supplies.append(plant.charge_supply_c)
            carried_w = plant.charge_flow_lpm / 60.0 * HEAT_CAPACITY_J_PER_L_K * (plant.charge_supply_c - base)
            balances.append(carried_w / (f.miner_heat_j / plant.step_s))
        assert lo_lpm - 1e-9 <= plant.charge_flow_lpm <= hi_lpm + 1e-9
    # Slightly below: the pump sizes the flow on the miners' heat, of which the coolant loses a little.
    assert np.asarray(supplies) == pytest.approx(target, abs=0.3)
    assert np.asarray(balances) == pytest.approx(1.0, abs=0.05)
    assert plant.charge_flow_lpm < 0.5 * hi_lpm  # low flow, high ΔT: far below the balanced flow

    # The strategy moves the target: the water follows.
    plant.apply(Commands(miner_limits_w={}, charge_pump=True, gas_enable=False, gas_setpoint_c=20.0,
                         destratify=False, dry_cooler=False, reason="test", charge_target_c=58.0))
    for _ in range(30):
        plant.step()
    assert plant.charge_supply_c == pytest.approx(58.0, abs=0.3)


def test_a_full_store_runs_the_pump_at_its_highest_flow() -> None:
    cfg = _hot(max_flow_lpm=20.0)
    plant = _still_plant(cfg, cfg.charge_target_c - 0.2, 3)
    plant.step()
    assert plant.charge_flow_lpm == pytest.approx(20.0, abs=0.1)


def test_a_balanced_flow_is_unchanged_by_the_handle() -> None:
    cfg = _hot(flow="balanced")
    assert cfg.charge_target_c is None
    plant = _still_plant(cfg, 20.0, 3)
    plant.step()
    assert plant.charge_flow_lpm == pytest.approx(sum(m.spec.coolant_flow_lpm for m in plant.miners))


@pytest.mark.parametrize(("charging", "words"), [
    ({"flow": "balanced", "target_c": 62}, "only with flow 'controlled'"),
    ({"flow": 8.0, "max_flow_lpm": 10}, "only with flow 'controlled'"),
    ({"flow": "controlled", "min_flow_lpm": 5, "max_flow_lpm": 2}, "below min_flow_lpm"),
    ({"flow": "controlled", "target_c": 120}, "less than or equal to 90"),
])
def test_a_handle_that_cannot_work_is_refused(charging: dict[str, object], words: str, tmp_path: Path) -> None:
    raw = scenarios.load("residence-48-hot").model_dump(mode="json")
    raw["charging"] = {"inlet": "stratified", **charging}
    with pytest.raises(ValidationError) as err:
        PlantConfig.model_validate(raw)
    assert words in str(err.value)
    # From a file, as an installer meets it: exit 2, the field's path, what is allowed.
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "charging." in result.output and words in " ".join(result.output.split())


def test_the_target_reaches_the_plant_from_the_decision() -> None:
    """rule on residence-48-hot: every command carries the finishing target the strategy chose; a site with
    a balanced flow carries none."""
    def targets(scenario: str) -> set[float | None]:
        sim = Simulation(scenarios.load(scenario), 0.5, SUMMER, strategy="rule")
        seen: set[float | None] = set()
        while not sim.done:
            if sim.control_due():
                rec = sim.tick()
                seen.add(rec.commands.charge_target_c)
                assert sim.plant.commands.charge_target_c == rec.commands.charge_target_c
            sim.advance()
        return seen

    (target,) = targets("residence-48-hot")
    assert target is not None and target > scenarios.load("residence-48-hot").control.setpoint_c + 2.0
    assert targets("residence-48") == {None}


class _Link:
    """A link that records what the plant I/O publishes."""

    def __init__(self) -> None:
        self.sent: dict[str, bool | float] = {}

    @property
    def board(self):  # never read here
        raise AssertionError

    def set_actuator(self, name: str, value: bool | float) -> bool:
        self.sent[name] = value
        return True


@pytest.mark.parametrize("target", [63.5, None])
async def test_the_target_goes_out_on_its_actuator_and_the_devices_obey(target: float | None) -> None:
    cfg = scenarios.load("residence-48-hot")
    cfg.mqtt = device_mqtt_config(cfg, MqttConfig.model_validate({"site": "flow"}))
    link = _Link()
    await MqttPlantIO(cfg, link).act(Commands(  # type: ignore[arg-type]
        miner_limits_w={}, charge_pump=True, gas_enable=True, gas_setpoint_c=61.0, destratify=False,
        dry_cooler=False, reason="test", charge_target_c=target))
    assert link.sent.get("charging_setpoint") == target
    devices = SimulatedDevices(build_plant(cfg, SUMMER, 1.0), cfg.mqtt, cfg)
    devices.received.update(link.sent)
    devices._obey()
    assert devices.plant.commands.charge_target_c == target


def test_rule_finishes_the_water_with_a_fraction_of_the_gas() -> None:
    """Scenario table, residence-48-hot summer week, rule: with the controlled flow the miners finish the
    water; against the balanced flow, a fraction of the gas, no water below 60 °C, and the miners within
    their change budget."""
    controlled = run_simulation(scenarios.load("residence-48-hot"), 7, SUMMER, strategy="rule").summary
    balanced = run_simulation(_hot(flow="balanced"), 7, SUMMER, strategy="rule").summary
    assert controlled["dhw_volume_below_setpoint_l"] == 0.0
    # 0 against 371 kWh (108 before full power, 4 while a short reserve boosted the gas under a running fleet)
    assert controlled["gas_fuel_kwh"] == 0.0 < balanced["gas_fuel_kwh"]
    assert controlled["miner_heat_share"] > balanced["miner_heat_share"]
    policy = scenarios.load("residence-48-hot").control.allocation
    assert controlled["power_limit_changes"] <= 7 * policy.max_changes_per_day * 2


def test_the_bound_solves_a_site_with_a_controlled_flow() -> None:
    """The bound takes the pump's highest flow as the charging circuit's (it allows any flow up to it)."""
    res = run_optimum(scenarios.load("residence-48-hot"), 2, SUMMER, seed=1)
    assert res.summary["net_cost_eur"] < run_simulation(
        scenarios.load("residence-48-hot"), 2, SUMMER, strategy="rule").summary["net_cost_eur"]


@pytest.mark.parametrize("hold_full", [True, False])
def test_the_finishing_law_holds_full_power_or_sleeps_a_full_store(hold_full: bool) -> None:
    """residence-48-hot summer week, rule: by default the fleet target never leaves full power (the firmware
    throttles); with `finish_hold_full` false the miners sleep once the store is full, the old long charges."""
    cfg = scenarios.load("residence-48-hot")
    cfg.control.rule = cfg.control.rule.model_copy(update={"finish_hold_full": hold_full})
    sim = Simulation(cfg, 7, SUMMER, strategy="rule")
    targets, reasons = set(), set()
    while not sim.done:
        if sim.control_due():
            rec = sim.tick()
            targets.add(rec.decision.miner_power_w)
            reasons.update(rec.decision.reason.split(":"))
        sim.advance()
    full_w = sim.controller.model.fleet_max_w
    if hold_full:
        assert targets == {full_w} and "tank_full" not in reasons
    else:
        assert 0.0 in targets and full_w in targets and "tank_full" in reasons


def _summer_after_warmup(cfg: PlantConfig, strategy: str) -> tuple[float, float, set[float], dict[str, int]]:
    """Gas fuel (kWh), water below 60 °C (L) and the fleet targets as shares of full power over the summer
    week from 6 July, after a warm-up week (the scenario's initial store holds less than the hot reserve),
    and who decided over both weeks."""
    sim = Simulation(cfg, 14, date(2026, 6, 29), strategy=strategy)
    gas_j = below_l = 0.0
    targets: set[float] = set()
    while not sim.done:
        if sim.control_due():
            rec = sim.tick()
            if sim.k * sim.step_s >= 7 * 86_400:
                targets.add(rec.decision.miner_power_w / sim.controller.model.fleet_max_w)
        flows = sim.advance()
        if sim.k * sim.step_s > 7 * 86_400:
            gas_j += flows.gas_fuel_j
            below_l += flows.dhw_volume_below_l
    return gas_j / 3.6e6, below_l, targets, dict(sim.result().summary["decided_by"])


def test_mpc_under_a_gas_backup_only_policy_carries_the_summer_without_gas() -> None:
    """Scenario table, residence-48-hot, summer week after a warm-up week: `mpc` at the scenario's prices
    prefers gas behind two miners at part power (cheaper); under `gas_backup_only` its plan burns gas only for
    heat the miners cannot make and a running fleet holds full power: no gas, no water below 60 °C, and the
    plan still decides (the rule only while the forecast learns)."""
    cfg = scenarios.load("residence-48-hot")
    gas_kwh, below_l, _, _ = _summer_after_warmup(cfg, "mpc")
    assert gas_kwh > 20.0  # the economic plan: 116 kWh on the week from a cold start
    cfg.control.mpc = cfg.control.mpc.model_copy(update={"gas_backup_only": True})
    gas_kwh, below_l, targets, decided = _summer_after_warmup(cfg, "mpc")
    assert gas_kwh == 0.0
    assert below_l == 0.0
    assert targets <= {0.0, 1.0}  # off or full power: part power cannot finish the water
    assert decided["mpc"] >= 0.99 * sum(decided.values())


def _hot_without_burner() -> PlantConfig:
    d = scenarios.load("residence-48-hot").model_dump(mode="json")
    d["gas_boiler"] = None
    for tank in d["tanks"]:
        tank["gas_coil"] = None
    return PlantConfig.model_validate(d)


def test_mpc_on_a_finishing_plant_without_a_burner_holds_full_power_at_the_finishing_target() -> None:
    """residence-48-hot without its burner: the miners are the only heat. `mpc` runs the fleet at full power
    or not at all, charges at the model's finishing target as `rule` does (the site default, 2 K above the
    setpoint, drew 987 L below 60 °C over the winter week where `rule` drew 340), and still decides: the summer
    week holds 60 °C throughout; the winter week's peaks are beyond the miners alone for both."""
    cfg = _hot_without_burner()
    sim = Simulation(cfg, 7, SUMMER, strategy="mpc")
    targets, charge_c = set(), set()
    while not sim.done:
        if sim.control_due():
            rec = sim.tick()
            if rec.decided_by == "mpc":
                targets.add(rec.decision.miner_power_w / sim.controller.model.fleet_max_w)
                charge_c.add(rec.commands.charge_target_c)
        sim.advance()
    summer = sim.result().summary
    assert summer["dhw_volume_below_setpoint_l"] == 0.0
    assert summer["decided_by"]["mpc"] >= 0.95 * sum(summer["decided_by"].values())
    assert targets <= {0.0, 1.0} and 1.0 in targets
    assert charge_c == {sim.controller.model.finish_target_c}
    winter = run_simulation(cfg, 7, date(2026, 1, 5), strategy="mpc").summary
    rule = run_simulation(cfg, 7, date(2026, 1, 5), strategy="rule").summary
    assert winter["dhw_volume_below_setpoint_l"] <= 1.1 * rule["dhw_volume_below_setpoint_l"]


@pytest.mark.parametrize(("fleet_share", "boosted"), [(1.0, False), (0.6, False), (0.3, True), (0.0, True)])
def test_a_short_reserve_boosts_the_gas_only_while_the_fleet_does_not_refill_it(
        fleet_share: float, boosted: bool) -> None:
    """rule's finishing law, the finishing tank short of its hot reserve: a fleet drawing half its full power
    or more refills the reserve from the top as it runs (reason `reserve_refilling`, no boost); a fleet asleep,
    stopped by its firmware or throttled deep does not, and the aquastat rises by the peak boost
    (`reserve_low`)."""
    sim = Simulation(scenarios.load("residence-48-hot"), 1, SUMMER, strategy="rule")
    obs = sim.tick().observation
    rule = sim.controller.safety.strategy
    full_w = sim.controller.model.fleet_max_w
    short = {k: v for k, v in zip(obs.sensors_c, (62.0, 50.0, 40.0, 25.0), strict=True)}
    ready = rule.m.estimate(rule.m.finishing_tank, short, obs.cold_water_c)
    assert ready is not None and ready.usable_volume_l < rule.r.reserve_volume_l
    per_miner_w = fleet_share * full_w / len(obs.miners)
    miners = tuple(replace(m, power_w=per_miner_w, limit_w=m.limit_w or 8_700.0) for m in obs.miners)
    d = rule.decide(obs.now_s + 3 * 3600.0, replace(obs, sensors_c=short, miners=miners, local_minute=3 * 60))
    reasons = d.reason.split(":")
    assert ("reserve_low" in reasons) is boosted
    assert ("reserve_refilling" in reasons) is not boosted
    base_c = rule.c.setpoint_c + rule.gas_hysteresis_k + rule.r.finish_gas_margin_k
    assert d.gas_setpoint_c == pytest.approx(base_c + (rule.r.peak_boost_k if boosted else 0.0))
