"""The perfect-foresight optimum is a lower bound: no strategy that holds the outlet at the setpoint
costs less. Its ingredients are checked one by one against the simulator, then end to end."""

import dataclasses
import json
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.control.lp_store import solve_store
from boiler.control.types import Decision, Observation
from boiler.economics import FlatTariff, TimeOfUseTariff
from boiler.plant.simulated import SimulatedPlant
from boiler.simulation import SUMMARY_KEYS, Simulation, run_simulation
from boiler.simulation.optimum import (
    END_PRICE_KEY,
    OptimumError,
    build_problem,
    hashrate_ths,
    miner_ceiling_c,
    miner_lp,
    relaxation,
    run_optimum,
    scored_cost_eur,
    step_inputs,
)
from miners.catalogue import CATALOGUE, get_spec
from tank.water import lpm_to_w_per_k

WINTER = date(2026, 1, 5)


# -- ingredients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_the_hashrate_hull_is_above_everything_a_miner_can_do(key: str) -> None:
    spec = get_spec(key)
    m = miner_lp(key, spec)

    def bound(p_kw: float) -> float:
        return min(a + b * p_kw for a, b in m.cuts)

    for p in np.linspace(spec.min_power_w, spec.max_power_w, 57):
        for inlet in (10.0, spec.efficiency_ref_inlet_c, spec.inlet_max_c):
            real = p / spec.j_per_th(p, inlet)
            assert bound(p / 1000.0) >= real * (1 - 1e-12)
    # Asleep and starting it hashes nothing; the hull may not ask for a negative hashrate there.
    assert bound(spec.standby_power_w / 1000.0) == pytest.approx(0.0, abs=1e-9)
    assert bound(spec.starting_power_w / 1000.0) >= 0.0
    # Tight where it touches the curve (the tangent points), so the bound is not loose for nothing.
    assert bound(spec.min_power_w / 1000.0) == pytest.approx(hashrate_ths(spec, spec.min_power_w))
    assert bound(spec.max_power_w / 1000.0) == pytest.approx(hashrate_ths(spec, spec.max_power_w))


def test_miner_ceiling_of_the_flagship_is_the_hot_side_at_throttle_start() -> None:
    s21 = get_spec("s21-hyd")
    c_hot = lpm_to_w_per_k(2 * s21.coolant_flow_lpm)
    theta = miner_ceiling_c([s21, s21], c_hot)
    # Full power at the throttle start is the hottest point of inlet + heat / C_hot for the S21 curve.
    assert theta == pytest.approx(s21.throttle_start_c + 2 * s21.max_power_w * s21.heat_to_coolant / c_hot,
                                  abs=0.01)


@pytest.mark.parametrize("scenario", ["residence-48", "house-xl"])
def test_no_strategy_returns_charging_water_hotter_than_the_ceiling(scenario: str, monkeypatch) -> None:
    seen: list[float] = []
    original = SimulatedPlant.step

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.charge_supply_c == self.charge_supply_c:  # the exchanger charged the tank this step
            seen.append(self.charge_supply_c)
        return out

    monkeypatch.setattr(SimulatedPlant, "step", spy)
    cfg = scenarios.load(scenario)
    theta = relaxation(cfg, 10.0).theta_c
    for strategy in ("rule", "thermostat"):
        run_simulation(scenarios.load(scenario), 3, WINTER, strategy=strategy)
    assert len(seen) > 100
    assert max(seen) <= theta


def test_step_inputs_are_what_the_simulator_books() -> None:
    cfg = scenarios.load("residence-48-tou")
    si = step_inputs(cfg, 2, WINTER, seed=3)
    res = run_simulation(scenarios.load("residence-48-tou"), 2, WINTER, seed=3, strategy="rule")
    assert si.demand_j.sum() / 3.6e6 == pytest.approx(res.summary["dhw_demand_kwh"], rel=1e-12)
    # The ledger prices each step at the tariff read at the last tick: same electricity bill.
    elec_kwh = np.array([r.electricity_kwh for r in res.ledger])
    cost = np.array([r.electricity_cost_eur for r in res.ledger])
    hourly_price = cost / elec_kwh
    hours = np.arange(hourly_price.size)
    step_price = si.price_eur_per_kwh.reshape(-1, 30)  # 30 steps of 120 s per hour
    assert np.allclose(hourly_price, step_price.mean(axis=1)[hours], rtol=1e-9)
    assert set(np.unique(si.price_eur_per_kwh)) == {0.12, 0.17}


# -- the bound as a result -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flagship_optimum():
    return run_optimum(scenarios.load("residence-48"), 3, WINTER, scenario="residence-48")


def test_optimum_summary_is_consistent(flagship_optimum) -> None:
    s = flagship_optimum.summary
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["strategy"] == "optimum"
    assert s["net_cost_eur"] == pytest.approx(s["electricity_cost_eur"] + s["gas_cost_eur"] - s["mining_revenue_eur"])
    assert abs(s["energy_balance_error_kwh"]) < 1e-4 * s["dhw_heat_kwh"]
    assert s["dhw_heat_kwh"] == pytest.approx(s["dhw_demand_kwh"], rel=1e-6)  # no step is flagged here
    assert s["dhw_volume_below_setpoint_l"] == 0
    # The ledger rows add up to the summary.
    assert sum(r.net_cost_eur for r in flagship_optimum.ledger) == pytest.approx(s["net_cost_eur"])


def test_the_bound_ends_as_full_as_it_started_and_prices_that_condition(flagship_optimum) -> None:
    s = flagship_optimum.summary
    assert s["stored_energy_change_kwh"] >= -1e-6
    # The end-state price is the bound's marginal cost of ending 1 kWh fuller (finite difference).
    cfg = scenarios.load("residence-48")
    si = step_inputs(cfg, 3, WINTER, 1)
    rx = relaxation(cfg, float(si.cold_c.min()))
    lp, _ = build_problem(cfg, rx, si, 30)
    base = solve_store(lp)
    more = solve_store(dataclasses.replace(lp, end_min_kwh=lp.end_min_kwh + 0.5))
    loose = solve_store(dataclasses.replace(lp, end_min_kwh=None))
    assert base.end_price_eur_per_kwh == pytest.approx(s[END_PRICE_KEY], rel=1e-6)
    assert (more.cost_eur - base.cost_eur) / 0.5 == pytest.approx(base.end_price_eur_per_kwh, rel=1e-2)
    # Without the condition the store ends emptier and the bound is lower (looser).
    assert loose.cost_eur < base.cost_eur - 1.0
    assert loose.el_kwh[-1] + loose.eh_kwh[-1] < lp.end_min_kwh - 10.0


def test_cli_runs_the_optimum(tmp_path) -> None:
    out = tmp_path / "opt.json"
    r = CliRunner().invoke(app, ["simulate", "--scenario", "house-xl", "--days", "1", "--strategy", "optimum",
                                 "--json", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert s["strategy"] == "optimum" and s["power_limit_changes"] is None


def test_a_gas_boiler_too_small_for_the_peaks_makes_the_bound_infeasible() -> None:
    cfg = scenarios.load("residence-48")
    cfg.gas_boiler.output_kw = 1.0
    cfg.miners = []
    with pytest.raises(OptimumError, match="no strategy can hold the setpoint"):
        run_optimum(cfg, 1, WINTER)
    # ... and indeed the rule strategy cannot hold it either.
    s = run_simulation(cfg, 1, WINTER).summary
    assert s["min_outlet_temp_c"] < cfg.control.setpoint_c


# -- end to end: never beaten ----------------------------------------------------------------------
class _Constant:
    """A naive strategy: fixed fleet power, a fixed gas setpoint, maybe the dry cooler."""

    name = "constant"

    def __init__(self, power_w: float, gas_setpoint_c: float, dump: bool) -> None:
        self.power_w, self.gas_setpoint_c, self.dump = power_w, gas_setpoint_c, dump

    def decide(self, now_s: float, obs: Observation) -> Decision:
        return Decision(miner_power_w=self.power_w, charge_pump=self.power_w > 0, gas_enable=True,
                        gas_setpoint_c=self.gas_setpoint_c, dump_heat=self.dump, reason="constant")


def _run(cfg, days: float, seed: int, strategy: str, replace=None) -> dict:
    sim = Simulation(cfg, days, WINTER, strategy=strategy, seed=seed, trace_points=10)
    if replace is not None:
        sim.controller.safety.strategy = replace
    while not sim.done:
        if sim.control_due():
            sim.tick()
        sim.advance()
    return sim.result().summary


def _assert_not_below(s: dict, bound: dict, setpoint_c: float) -> bool:
    """True if the run held the setpoint (then its cost must not undercut the bound)."""
    if s["min_outlet_temp_c"] < setpoint_c:
        return False
    price = bound[END_PRICE_KEY]
    scale = (abs(s["electricity_cost_eur"]) + abs(s["gas_cost_eur"]) + abs(s["mining_revenue_eur"])
             + price * abs(s["stored_energy_change_kwh"]))
    assert scored_cost_eur(s, price) >= bound["net_cost_eur"] - (1e-3 + 1e-5 * scale), (s["strategy"], s, bound)
    return True


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(["house-xl", "residence-48", "residence-48-bull", "residence-48-preheat"]),
    hashprice=st.floats(5.0, 90.0),
    price=st.floats(0.05, 0.30),
    tou=st.booleans(),
    gas_price=st.floats(0.04, 0.15),
    volume_scale=st.floats(0.6, 1.6),
    seed=st.integers(1, 1000),
    power_share=st.floats(0.0, 1.0),
    gas_setpoint=st.floats(62.0, 72.0),
)
def test_no_strategy_that_holds_the_setpoint_beats_the_optimum(
    scenario, hashprice, price, tou, gas_price, volume_scale, seed, power_share, gas_setpoint
) -> None:
    def config():
        cfg = scenarios.load(scenario)
        cfg.mining.hashprice.eur_per_ph_day = hashprice
        cfg.prices.electricity = (TimeOfUseTariff(peak_eur_per_kwh=price * 1.4, offpeak_eur_per_kwh=price)
                                  if tou else FlatTariff(eur_per_kwh=price))
        cfg.prices.gas.eur_per_kwh_pcs = gas_price
        for t in cfg.tanks:
            t.volume_l *= volume_scale
        return cfg

    days = 1.0
    cfg = config()
    try:
        bound = run_optimum(cfg, days, WINTER, seed=seed).summary
    except OptimumError:
        # Infeasible bound: then no strategy may hold the setpoint either.
        for strategy in ("rule", "thermostat"):
            assert _run(config(), days, seed, strategy)["min_outlet_temp_c"] < cfg.control.setpoint_c
        return
    fleet_max = sum(get_spec(m.model).max_power_w for m in cfg.miners)
    runs = [_run(config(), days, seed, s) for s in ("rule", "thermostat", "mpc")]
    runs.append(_run(config(), days, seed, "rule", _Constant(power_share * fleet_max, gas_setpoint, True)))
    for s in runs:
        _assert_not_below(s, bound, cfg.control.setpoint_c)


@pytest.mark.parametrize("scenario", ["residence-48", "house-xl", "residence-48-tou"])
def test_rule_and_mpc_hold_the_setpoint_and_cost_more_than_the_bound(scenario: str) -> None:
    """The property above is not vacuous: the product's strategies do hold the setpoint."""
    bound = run_optimum(scenarios.load(scenario), 2, WINTER).summary
    for strategy in ("rule", "mpc"):
        s = run_simulation(scenarios.load(scenario), 2, WINTER, strategy=strategy).summary
        assert _assert_not_below(s, bound, 60.0), strategy
