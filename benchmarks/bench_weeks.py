"""Benchmark: the error of representative weeks against full years, on the same candidates.

    .venv/bin/python benchmarks/bench_weeks.py [--workers 2] [--cache /tmp/bench-weeks-cache]

residence-48 candidates (1–4 × S21 Hyd × 1.5 / 3 m³, single tank, rule) are simulated for the full year
from 2026-01-05 and for 4 (one per season) and 8 (two per season) representative weeks; prints, per mode,
the error of each yearly figure against the full year, whether feasibility agrees, and whether the ranking
(by NPV) agrees. Results are cached (`--cache`), so a re-run costs nothing.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path
from typing import Any

from boiler import scenarios
from boiler.sizing import LocalPool, ResultCache, parse_sizing, plan, ranked, run_tasks
from boiler.sizing.score import Scored
from boiler.sizing.weeks import SEASON_WEEKS

EIGHT_WEEKS = (*SEASON_WEEKS, date(2026, 2, 16), date(2026, 5, 18), date(2026, 8, 17), date(2026, 11, 16))
FIGURES = ("net_cost_eur_per_year", "savings_eur_per_year", "gas_fuel_kwh_per_year", "co2_avoided_kg_per_year",
           "npv_eur")


def _scores(period: dict[str, Any], cache: ResultCache, workers: int) -> tuple[list[Scored], float]:
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2, 3, 4]}], "store_volume_l": [1500, 3000],
                         "period": period}, "bench")
    study = plan("residence-48", scenarios.load("residence-48"), spec)
    t0 = time.perf_counter()
    outcome = run_tasks(study.tasks, LocalPool(workers), cache)
    if outcome.failed:
        raise SystemExit(f"failed: {outcome.failed}")
    return study.scores(outcome), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/bench-weeks-cache"))
    args = ap.parse_args()
    cache = ResultCache(args.cache)

    year, wall_year = _scores({"days": 365}, cache, args.workers)
    by_label = {r.label: r for r in year}
    year_order = [r.label for r in ranked(year)]
    print(f"{len(year)} candidates; full years: {wall_year:.0f} s wall (0 if cached)\n")
    print("| mode | simulated days per candidate | " + " | ".join(f"{f}: max (mean) abs error" for f in FIGURES)
          + " | feasibility agrees | ranking by NPV agrees | best candidate agrees |")
    print("|---|---|" + "---|" * len(FIGURES) + "---|---|---|")
    for name, weeks in (("4 weeks (one per season)", SEASON_WEEKS), ("8 weeks (two per season)", EIGHT_WEEKS)):
        rows, _ = _scores({"representative_weeks": list(weeks)}, cache, args.workers)
        cells = []
        for f in FIGURES:
            errors = [abs(getattr(r, f) - getattr(by_label[r.label], f)) for r in rows]
            rel = [abs(getattr(r, f) / getattr(by_label[r.label], f) - 1) for r in rows
                   if getattr(by_label[r.label], f)]
            cells.append(f"{max(errors):,.0f} ({sum(errors) / len(errors):,.0f}); rel. ≤ {max(rel):.1%}")
        feasible = sum(r.feasible == by_label[r.label].feasible for r in rows)
        order = [r.label for r in ranked(rows)]
        print(f"| {name} | {7 * len(weeks)} | " + " | ".join(cells)
              + f" | {feasible}/{len(rows)} | {'yes' if order == year_order else 'no'} | "
              f"{'yes' if order[0] == year_order[0] else 'no: ' + order[0]} |")
    print(f"\nfull-year ranking: {year_order}")


if __name__ == "__main__":
    main()
