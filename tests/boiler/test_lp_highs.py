"""The MPC's persistent HiGHS model gives the plans `solve_store` gives, changed in place and warm started."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from boiler import scenarios
from boiler.control.lp_highs import PersistentHighs
from boiler.control.lp_store import solve_store
from boiler.simulation import Simulation

WINTER = date(2026, 1, 5)


@pytest.fixture(scope="module")
def replans():
    """The LPs of every replan of `mpc` over 1.5 winter days."""
    sim = Simulation(scenarios.load("residence-48"), 1.5, WINTER, strategy="mpc")
    mpc = sim.controller.safety.strategy
    seen = []
    inner = mpc.solver
    mpc.solver = lambda lp, limit: seen.append(lp) or inner(lp, limit)
    while not sim.done:
        if sim.control_due():
            sim.tick()
        sim.advance()
    assert len(seen) > 20
    return seen


def test_persistent_plans_equal_fresh_plans_and_reuse_the_model(replans) -> None:
    solver = PersistentHighs()
    for lp in replans:
        a, b = solve_store(lp, 5.0), solver(lp, 5.0)
        assert a.status == b.status == "optimal"
        assert b.cost_eur == pytest.approx(a.cost_eur, abs=1e-6)
        # (The plans themselves may differ where the LP has several optima; their cost may not.)
    assert solver.warm_solves >= len(replans) - 2  # the model was changed in place, not rebuilt


def test_an_infeasible_plan_is_reported_and_the_next_one_solves(replans) -> None:
    solver = PersistentHighs()
    lp = replans[3]
    assert solver(lp, 5.0).ok
    impossible = dataclasses.replace(lp, gas_max_kw=0.0, miners=(), el_min_kwh=lp.el_max_kwh)
    assert solver(impossible, 5.0).status == "infeasible"
    assert solver(replans[4], 5.0).ok


def test_the_time_limit_is_per_solve_not_for_the_objects_life(replans) -> None:
    """HiGHS measures `time_limit` against the object's whole run time: without a reset, a long-lived model
    would run out after a while and every later plan would fall back."""
    solver = PersistentHighs()
    limit_s = 0.05
    plans = []
    while solver._h.getRunTime() < 4 * limit_s and len(plans) < 5000:
        for lp in replans:
            price = lp.price_eur_per_kwh * (1.0 + 0.1 * (len(plans) % 3))  # never quite the same LP
            plans.append(solver(dataclasses.replace(lp, price_eur_per_kwh=price), limit_s))
    assert solver._h.getRunTime() >= 4 * limit_s
    assert all(p.ok for p in plans)


def test_a_move_cost_makes_the_plan_steady(replans) -> None:
    """`change_eur_per_kw` prices every kW the fleet moves between slots (and from its power now)."""
    solver = PersistentHighs()
    moves_free, moves_priced = [], []
    for lp in replans[5:15]:
        now_kw = 6.0
        free = solver(dataclasses.replace(lp, fleet_now_kw=now_kw), 5.0)
        priced = solver(dataclasses.replace(lp, fleet_now_kw=now_kw, change_eur_per_kw=0.5), 5.0)
        assert free.ok and priced.ok
        for plan, out in ((free, moves_free), (priced, moves_priced)):
            fleet = plan.miner_kw.sum(axis=0)
            out.append(abs(fleet[0] - now_kw) + float(np.abs(np.diff(fleet)).sum()))
        assert priced.cost_eur >= free.cost_eur - 1e-6  # the same plan costs more once moves are priced
    assert sum(moves_priced) < 0.5 * sum(moves_free)


def test_alternating_shapes_each_keep_their_own_warm_model() -> None:
    """With `slot_s` longer than `replan_s` the plan's slot count alternates (20 and 21 for 2-hour slots):
    each shape keeps its own model and basis instead of the model being rebuilt at every replan."""
    cfg = scenarios.load("residence-48")
    control = cfg.control.model_copy(update={"mpc": cfg.control.mpc.model_copy(update={"slot_s": 7200.0})})
    sim = Simulation(cfg.model_copy(update={"control": control}), 1.5, WINTER, strategy="mpc")
    mpc = sim.controller.safety.strategy
    seen = []
    inner = mpc.solver
    mpc.solver = lambda lp, limit: seen.append(lp) or inner(lp, limit)
    while not sim.done:
        if sim.control_due():
            sim.tick()
        sim.advance()
    assert {lp.slots for lp in seen} == {20, 21}
    solver = PersistentHighs()
    for lp in seen:
        a, b = solve_store(lp, 5.0), solver(lp, 5.0)
        assert a.status == b.status == "optimal"
        assert b.cost_eur == pytest.approx(a.cost_eur, abs=1e-6)
    assert solver.warm_solves == len(seen) - 2  # one cold solve per shape
