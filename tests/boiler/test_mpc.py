"""The predictive strategy: never reads the future, falls back to rule (logged) when the solver fails
or runs out of time, stays wrapped by the safety layer, and keeps the hot water hot."""

import logging
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from boiler import scenarios
from boiler.control.lp_store import StorePlan, solve_store
from boiler.control.mpc import MpcStrategy
from boiler.control.plant_model import PlantModel
from boiler.control.registry import make_strategy
from boiler.simulation import SensorFault, Simulation, run_simulation

WINTER = date(2026, 1, 5)
DAY_S = 86_400.0


def _drive(sim: Simulation, until_s: float | None = None) -> list[tuple]:
    """Run the loop; return every decision as (time, commands) up to `until_s` from the start."""
    out = []
    while not sim.done:
        if sim.control_due():
            t = sim.plant.now_s - sim.start_s
            if until_s is not None and t > until_s:
                break
            cmds = sim.tick().commands
            out.append((t, dict(cmds.miner_limits_w), cmds.gas_setpoint_c, cmds.charge_pump, cmds.dry_cooler,
                        cmds.reason))
        sim.advance()
    return out


def _mpc(sim: Simulation) -> MpcStrategy:
    strategy = sim.controller.safety.strategy
    assert isinstance(strategy, MpcStrategy)
    return strategy


def test_mpc_never_reads_the_future() -> None:
    """Swap every draw after the decision time: the decisions up to it are identical."""
    cfg = scenarios.load("residence-48")
    decision_s = 1.6 * DAY_S  # past the forecast's learning day: plans are in use
    a = Simulation(cfg, 2.5, WINTER, strategy="mpc", seed=4)
    b = Simulation(scenarios.load("residence-48"), 2.5, WINTER, strategy="mpc", seed=4)
    k = int(decision_s / a.step_s)
    # The future of b: another building's draws (a different seed), shifted by a few hours.
    other = Simulation(scenarios.load("residence-48"), 2.5, WINTER, strategy="rule", seed=99)
    future = np.roll(np.asarray(other.plant._draw_heat), 97)
    b.plant._draw_heat[k:] = future[k:].tolist()
    assert a.plant._draw_heat[:k] == b.plant._draw_heat[:k]
    assert a.plant._draw_heat[k:] != b.plant._draw_heat[k:]

    da = _drive(a, until_s=decision_s)
    db = _drive(b, until_s=decision_s)
    assert da == db
    assert any(r[-1].startswith("mpc") for r in da)  # the plan, not the rule fallback, decided
    assert _mpc(a).solves > 10
    # After the decision time the swapped draws do change what the controller does.
    assert _drive(a) != _drive(b)


class _Failing:
    def __init__(self, status: str = "infeasible", solve_s: float = 0.0) -> None:
        self.status, self.solve_s, self.calls = status, solve_s, 0

    def __call__(self, lp, time_limit_s):
        self.calls += 1
        if self.status == "slow":  # an "optimal" plan that came too late counts as a time-out
            plan = solve_store(lp, time_limit_s)
            return replace(plan, solve_s=time_limit_s + 1.0)
        return StorePlan(status=self.status, solve_s=self.solve_s)


@pytest.mark.parametrize(("status", "logged"), [("infeasible", "reason=infeasible"),
                                                ("time_limit", "reason=time_limit"),
                                                ("slow", "reason=time_limit")])
def test_solver_failure_or_time_out_falls_back_to_rule_and_is_logged(status, logged, caplog) -> None:
    days = 1.3
    ref = run_simulation(scenarios.load("residence-48"), days, WINTER, strategy="rule", seed=2)
    sim = Simulation(scenarios.load("residence-48"), days, WINTER, strategy="mpc", seed=2)
    failing = _Failing(status)
    _mpc(sim).solver = failing
    with caplog.at_level(logging.WARNING, logger="boiler.control.mpc"):
        decisions = _drive(sim)
    with caplog.at_level(logging.WARNING, logger="boiler.run"):
        res = sim.result()
    assert failing.calls > 0
    lines = [r.getMessage() for r in caplog.records if "event=mpc_fallback" in r.getMessage()]
    assert len(lines) == failing.calls and all(logged in line for line in lines)
    assert all(r[-1].startswith("rule[") for r in decisions)
    # The fallback is named, in the tick counts, the summary's warning and the log: never silent.
    s = res.summary
    assert s["strategy"] == "mpc" and s["decided_by"].get("mpc", 0) == 0
    assert s["decided_by"]["rule"] == sum(1 for r in decisions if r[-1].startswith("rule["))
    assert s["strategy_share"] == 0.0
    assert len(s["warnings"]) == 1 and "strategy mpc decided only 0%" in s["warnings"][0]
    assert any("run_warning" in r.getMessage() and "strategy mpc decided only" in r.getMessage()
               for r in caplog.records if r.name == "boiler.run")
    # Falling back means deciding exactly as the rule strategy would.
    for key in ("net_cost_eur", "gas_fuel_kwh", "electricity_kwh", "power_limit_changes"):
        assert res.summary[key] == pytest.approx(ref.summary[key], rel=1e-12), key


def test_a_real_time_limit_is_passed_to_the_solver() -> None:
    sim = Simulation(scenarios.load("residence-48"), 1.2, WINTER, strategy="mpc")
    seen = []
    _mpc(sim).solver = lambda lp, limit: seen.append(limit) or solve_store(lp, limit)
    _drive(sim)
    assert seen and all(limit == scenarios.load("residence-48").control.mpc.time_limit_s for limit in seen)


def test_the_safety_layer_still_wraps_the_mpc() -> None:
    fault = SensorFault("store.bottom", start_s=1.5 * DAY_S, end_s=1.6 * DAY_S)
    sim = Simulation(scenarios.load("residence-48"), 1.8, WINTER, strategy="mpc", faults=(fault,))
    decisions = _drive(sim)
    during = [r for r in decisions if 1.52 * DAY_S <= r[0] < 1.6 * DAY_S]
    assert during and all(r[-1].startswith("safe:sensor_fault") for r in during)
    assert any(r[-1].startswith("mpc") for r in decisions if r[0] > 1.65 * DAY_S)


@pytest.fixture(scope="module")
def mpc_week():
    return run_simulation(scenarios.load("residence-48"), 7, WINTER, scenario="residence-48", strategy="mpc")


def test_mpc_keeps_60c_and_beats_rule_over_a_winter_week(mpc_week) -> None:
    s = mpc_week.summary
    assert s["strategy"] == "mpc"
    assert s["dhw_volume_below_setpoint_l"] == 0
    assert s["min_outlet_temp_c"] >= 60.0
    rule = run_simulation(scenarios.load("residence-48"), 7, WINTER, strategy="rule").summary
    assert s["net_cost_eur"] < rule["net_cost_eur"]


def test_mpc_stays_within_the_change_budget(mpc_week) -> None:
    policy = scenarios.load("residence-48").control.allocation
    for name, n in mpc_week.limit_changes_by_miner.items():
        assert n <= policy.max_changes_per_day * 7, name
    assert mpc_week.summary["power_limit_changes"] / 2 / 7 <= 24


def test_the_oracle_mpc_knows_the_future_draws_exactly() -> None:
    """`mpc_oracle` (a yardstick) is told the plant's own future: its expected draw heat over any span is
    the plant's demand over that span, pro rata within a step, and it plans from the first tick."""
    sim = Simulation(scenarios.load("residence-48"), 2, WINTER, strategy="mpc_oracle", seed=3)
    oracle = sim.controller.safety.strategy
    assert oracle.name == "mpc_oracle" and isinstance(oracle, MpcStrategy)
    heat_kwh = np.asarray(sim.plant.draw_heat_j) / 3.6e6
    first = sim.tick()
    assert first.decided_by == "mpc_oracle" and first.commands.reason.startswith("mpc")
    obs = first.observation
    sim.advance()
    step = sim.step_s
    assert oracle.expected_draw_kwh(sim.start_s, obs, 0.0, DAY_S) == pytest.approx(heat_kwh[:720].sum())
    assert oracle.expected_draw_kwh(sim.start_s, obs, 10 * step, 5 * step) == pytest.approx(heat_kwh[10:15].sum())
    half = oracle.expected_draw_kwh(sim.start_s, obs, 10.5 * step, 0.5 * step)
    assert half == pytest.approx(0.5 * heat_kwh[10])
    assert oracle.expected_draw_kwh(sim.start_s, obs, 3 * DAY_S, DAY_S) == 0.0  # past the data: nothing
    decisions = _drive(sim, until_s=3600.0)
    assert all(r[-1].startswith("mpc") for r in decisions)  # no learning day: the plan decides at once


def test_the_oracle_is_not_a_controller() -> None:
    """Only the simulator can build it; a config or the service cannot ask for it."""
    cfg = scenarios.load("residence-48")
    with pytest.raises(ValueError, match="unknown strategy 'mpc_oracle'"):
        make_strategy("mpc_oracle", cfg, PlantModel.from_config(cfg, 1000.0))
    with pytest.raises(ValueError):
        cfg.model_copy(update={"control": cfg.control.model_validate({**cfg.control.model_dump(),
                                                                       "strategy": "mpc_oracle"})})


@pytest.mark.parametrize("learn_h", [1.0, 3.0])
def test_the_rule_decides_until_the_forecast_has_learn_h_of_history(learn_h: float) -> None:
    cfg = scenarios.load("residence-48")
    cfg = cfg.model_copy(update={"control": cfg.control.model_copy(
        update={"mpc": cfg.control.mpc.model_copy(update={"learn_h": learn_h})})})
    decisions = _drive(Simulation(cfg, 0.5, WINTER, strategy="mpc"), until_s=learn_h * 3600.0 + 1800.0)
    learning = [t for t, *_, reason in decisions if reason.startswith("rule[learning]")]
    planned = [t for t, *_, reason in decisions if reason.startswith("mpc")]
    assert learning and planned
    # Bins close on the tick after their end: the plan decides from then on, never before.
    assert max(learning) < min(planned)
    assert learn_h * 3600.0 <= min(planned) <= learn_h * 3600.0 + 3 * cfg.control.period_s


def test_mpc_plans_on_a_plant_without_a_gas_boiler(caplog) -> None:
    """Nothing lifts the drawn water there: the plan takes draws and loop from the store with a soft floor at
    the setpoint, so it exists at every replan (it used to be infeasible at all of them, and `rule` decided)."""
    cfg = scenarios.load("residence-48-hot")
    cfg.gas_boiler = None
    with caplog.at_level(logging.WARNING, logger="boiler.control.mpc"):
        s = run_simulation(cfg, 7, date(2026, 7, 6), strategy="mpc").summary
    assert not [r for r in caplog.records if "event=mpc_fallback" in r.getMessage()]
    assert s["decided_by"]["mpc"] >= 0.95 * sum(s["decided_by"].values())
    assert s["gas_fuel_kwh"] == 0.0 and s["strategy_share"] >= 0.95 and not s["warnings"]


def test_slot_prices_and_draws_are_the_per_slot_definitions() -> None:
    """The plan's slot prices (tariff table, cached per local start minute) are the mean of the tariff sampled
    every 5 minutes of each slot, and its draws the forecast of each slot: exactly, slot by slot."""
    sim = Simulation(scenarios.load("residence-48-tou"), 1.5, WINTER, strategy="mpc")
    mpc = _mpc(sim)
    _drive(sim)
    obs = sim.tick().observation
    tariff = sim.cfg.prices.electricity
    now_s = sim.plant.now_s
    edges = mpc._edges_s(now_s, obs.local_minute)
    starts, ends = edges[:-1], edges[1:]
    span_min = (ends - starts) / 60.0
    for shift_min in (0.0, 0.0, 0.5):  # computed, from the cache, off the whole minute (not cached)
        local_min = (starts - now_s) / 60.0 + obs.local_minute + shift_min
        expected = [float(np.mean([tariff.price(int(mm) % 1440) for mm in a + np.arange(0.0, n, 5.0)]))
                    for a, n in zip(local_min, span_min, strict=True)]
        assert mpc._slot_prices_eur_per_kwh(local_min, span_min).tolist() == expected
        assert len(set(expected)) > 1  # the tariff does change over the horizon
    draws = mpc.expected_draws_kwh(now_s, obs, starts - now_s, ends - starts)
    one_by_one = [mpc.expected_draw_kwh(now_s, obs, a - now_s, b - a) for a, b in zip(starts, ends, strict=True)]
    assert draws.tolist() == one_by_one
