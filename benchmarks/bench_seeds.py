"""Benchmark: `mpc` against the week's best fixed setting on other draw sequences (seeds).

    .venv/bin/python benchmarks/bench_seeds.py [--seeds 6] [--jobs 2]

The strategy table (benchmarks/strategies.md) scores every run on one draw sequence (seed 1), where a knob
that moves the week's cost by ±3 % may be luck. Here the best fixed setting found on seed 1 (one fleet power,
one gas setpoint: residence-48 winter week 6.0 kW / 61 °C, summer week 5.5 kW / 61 °C) and `mpc` at its
defaults run on seeds 1..N of the same week: the fixed setting is not re-tuned per seed, so a seed it does
not hold 60 °C on shows as FAIL. Scored at each week's end-state price (the brackets table). Prints one line
per week and seed, then the mean of mpc's cost against the fixed setting's over the seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402

from boiler import scenarios  # noqa: E402
from boiler.simulation import run_simulation  # noqa: E402
from boiler.simulation.optimum import scored_cost_eur  # noqa: E402
from boiler.simulation.search import Schedule, run_schedule  # noqa: E402

#: week → (start, end-state price EUR/kWh from the brackets table, the seed-1 best fixed setting W, °C)
WEEKS: dict[str, tuple[date, float, float, float]] = {
    "residence-48 winter week": (date(2026, 1, 5), 0.1086, 6000.0, 61.0),
    "residence-48 summer week": (date(2026, 7, 6), 0.0614, 5500.0, 61.0),
}


def fixed_scored_eur(week: str, seed: int) -> float:
    """The week's seed-1 best fixed setting on `seed`, scored; inf if it broke 60 °C."""
    start, price, power_w, gas_c = WEEKS[week]
    run = run_schedule(scenarios.load("residence-48"), 7, start, seed, Schedule.fixed(power_w, gas_c), price)
    return run.scored_eur


def _one(week: str, seed: int) -> tuple[str, int, float | None, float, float]:
    """(week, seed, fixed scored EUR or None if it broke 60 °C, mpc scored EUR, mpc litres below 60 °C)."""
    start, price, _, _ = WEEKS[week]
    fixed = fixed_scored_eur(week, seed)
    s = run_simulation(scenarios.load("residence-48"), 7, start, seed=seed, strategy="mpc", trace_points=50).summary
    return (week, seed, fixed if math.isfinite(fixed) else None, scored_cost_eur(s, price),
            s["dhw_volume_below_setpoint_l"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    if a.seeds < 1 or a.jobs < 1:
        ap.error("--seeds and --jobs must be at least 1")
    jobs = [(w, seed) for w in WEEKS for seed in range(1, a.seeds + 1)]
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        rows = list(pool.map(_one, *zip(*jobs, strict=True)))
    print("| week | seed | fixed setting, scored EUR | mpc, scored EUR | mpc vs fixed | mpc L below 60 °C |")
    print("|---|---:|---:|---:|---:|---:|")
    rel: dict[str, list[float]] = {w: [] for w in WEEKS}
    for week, seed, fixed, mpc, below in rows:
        vs = "–" if fixed is None else f"{(mpc / fixed - 1) * 100:+.1f} %"
        if fixed is not None:
            rel[week].append(mpc / fixed - 1)
        print(f"| {week} | {seed} | {'FAIL' if fixed is None else f'{fixed:.2f}'} | {mpc:.2f} | {vs} | {below:.0f} |")
    print()
    for week, r in rel.items():
        if r:
            print(f"{week}: mpc {np.mean(r) * 100:+.2f} % against the fixed setting over {len(r)} seeds "
                  f"(cheaper on {sum(x < 0 for x in r)}), spread {min(r) * 100:+.1f} … {max(r) * 100:+.1f} %")


if __name__ == "__main__":
    main()
