"""The searched yardsticks: `best_fixed` and `c_star` (boiler/simulation/search.py)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from boiler import scenarios
from boiler.simulation import Simulation, run_simulation
from boiler.simulation.optimum import scored_cost_eur
from boiler.simulation.search import (
    BlockSpace,
    Schedule,
    ScheduleStrategy,
    SearchError,
    best_fixed,
    c_star,
    end_price,
    run_schedule,
    searched_yardstick,
)
from tank.water import S_PER_DAY

WINTER = date(2026, 1, 5)
GRID = {"powers_w": [0.0, 5000.0, 8000.0], "setpoints_c": [61.0, 63.0]}


def test_a_schedule_repeats_its_blocks_every_day() -> None:
    s = Schedule((1.0, 2.0, 3.0), (60.0, 61.0, 62.0), S_PER_DAY / 3, S_PER_DAY)
    assert s.at(0.0) == (1.0, 60.0)
    assert s.at(S_PER_DAY / 3 + 1.0) == (2.0, 61.0)
    assert s.at(S_PER_DAY + 2 * S_PER_DAY / 3 + 1.0) == (3.0, 62.0)
    assert Schedule.fixed(5000.0, 61.5).at(1e9) == (5000.0, 61.5)
    space = BlockSpace(3, 10_000.0, 60.0)
    x = space.point(Schedule.fixed(5000.0, 65.0))
    assert space.schedule(x).power_w == (5000.0,) * 3 and space.schedule(x).gas_setpoint_c == (65.0,) * 3


def test_a_schedule_carries_the_charging_target_block_by_block_to_the_decision() -> None:
    s = Schedule((1.0, 2.0), (60.0, 61.0), S_PER_DAY / 2, S_PER_DAY, charge_target_c=(62.0, 64.0))
    assert s.charge_target_at(1.0) == 62.0 and s.charge_target_at(S_PER_DAY * 3 + S_PER_DAY / 2 + 1.0) == 64.0
    assert Schedule.fixed(5000.0, 61.5).charge_target_at(0.0) is None  # the site's own target
    assert Schedule.fixed(5000.0, 61.5, charge_target_c=63.0).charge_target_at(1e9) == 63.0
    strategy = ScheduleStrategy("s", s, start_s=1000.0, dump_heat=False)
    obs = Simulation(scenarios.load("residence-48-hot"), 1, WINTER, strategy="rule").tick().observation
    assert strategy.decide(1000.0 + S_PER_DAY / 2 + 1.0, obs).charge_target_c == 64.0


def test_a_run_below_the_setpoint_stops_and_never_counts() -> None:
    cfg = scenarios.load("residence-48")
    price = end_price(cfg, 1, WINTER, 1)
    cold = run_schedule(cfg, 1, WINTER, 1, Schedule.fixed(0.0, 55.0), price)
    assert not cold.ok and cold.scored_eur == math.inf and cold.done_share < 1.0 and cold.result is None
    warm = run_schedule(cfg, 1, WINTER, 1, Schedule.fixed(5000.0, 62.0), price)
    assert warm.ok and warm.done_share == 1.0
    s = warm.result.summary
    assert s["dhw_volume_below_setpoint_l"] == 0 and s["min_outlet_temp_c"] >= 60.0
    assert warm.scored_eur == pytest.approx(scored_cost_eur(s, price))


def test_best_fixed_is_the_cheapest_grid_run_that_held() -> None:
    cfg = scenarios.load("residence-48")
    found = best_fixed(cfg, 1, WINTER, **GRID)
    assert len(found.runs) == 6
    held = [r for r in found.runs if r.ok]
    assert held and found.best is min(held, key=lambda r: r.scored_eur)
    assert found.best.result.summary["strategy"] == "best_fixed"


def test_the_first_holding_scan_finds_the_grids_best_with_fewer_runs() -> None:
    # Two days, a grid around the week's best (6 kW / 61 °C): at every power some setpoints fail and some hold.
    cfg = scenarios.load("residence-48")
    grid = {"powers_w": [0.0, 4000.0, 6000.0, 9000.0], "setpoints_c": [61.5, 60.0, 60.5, 61.0, 62.0, 62.5]}
    price = end_price(cfg, 2, WINTER, 1)
    full = best_fixed(cfg, 2, WINTER, price_eur_per_kwh=price, **grid)
    scan = best_fixed(cfg, 2, WINTER, price_eur_per_kwh=price, scan="first_holding", **grid)
    assert full.scan == "grid" and scan.scan == "first_holding"
    assert not all(r.ok for r in full.runs)
    assert scan.best.schedule == full.best.schedule and scan.best.scored_eur == full.best.scored_eur
    assert len(scan.runs) < len(full.runs)
    by_power: dict[float, list] = {}
    for r in scan.runs:
        by_power.setdefault(r.schedule.power_w[0], []).append(r)
    for runs in by_power.values():  # every setpoint upward to the first hold, then at most 1 K (2 runs) more
        held_at = next(i for i, r in enumerate(runs) if r.ok)
        below = [r.schedule.gas_setpoint_c[0] for r in runs[:held_at + 1]]
        assert below == sorted(grid["setpoints_c"])[:held_at + 1] and not any(r.ok for r in runs[:held_at])
        assert len(runs) - held_at - 1 <= 2
    with pytest.raises(ValueError, match="unknown scan"):
        best_fixed(cfg, 2, WINTER, price_eur_per_kwh=price, scan="random", **grid)  # type: ignore[arg-type]


def test_c_star_is_reproducible_for_a_seed_and_never_returns_a_run_below_the_setpoint() -> None:
    cfg = scenarios.load("residence-48")
    fixed = best_fixed(cfg, 1, WINTER, **GRID)

    def search(seed: int):
        return c_star(cfg, 1, WINTER, search_seed=seed, max_evals=16, fixed=fixed, block_h=6.0,
                      warm=[Schedule.fixed(6000.0, 62.0)])

    a, b = search(3), search(3)
    assert [r.schedule for r in a.runs] == [r.schedule for r in b.runs]
    assert a.best.schedule == b.best.schedule and a.best.scored_eur == b.best.scored_eur
    assert a.runs[1].schedule.power_w == (6000.0,) * 4  # the warm start was tried first
    assert any(not r.ok for r in a.runs)  # the search did meet runs below the setpoint ...
    for found in (a, b, search(4)):  # ... and never returns one
        s = found.best.result.summary
        assert found.best.ok and s["dhw_volume_below_setpoint_l"] == 0 and s["min_outlet_temp_c"] >= 60.0
        assert found.best.scored_eur <= fixed.best.scored_eur


def test_no_schedule_holds_on_a_plant_that_cannot_and_the_yardstick_says_so() -> None:
    cfg = scenarios.load("residence-48")
    cfg.gas_boiler.output_kw = 1.0
    cfg.miners = []
    with pytest.raises(SearchError, match="no schedule"):
        searched_yardstick(cfg, 0.5, WINTER, "best_fixed")


def test_simulate_runs_best_fixed_by_name() -> None:
    cfg = scenarios.load("house-xl")
    s = run_simulation(cfg, 0.5, WINTER, strategy="best_fixed").summary
    assert s["strategy"] == "best_fixed" and s["dhw_volume_below_setpoint_l"] == 0
