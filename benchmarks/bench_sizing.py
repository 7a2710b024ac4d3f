"""Benchmark: sizing candidates on the local pool (1 and 2 workers) and on a Dask LocalCluster (2 workers).

    .venv/bin/python benchmarks/bench_sizing.py [--candidates 12] [--days 61]

Each candidate is a residence-48 variant (miners × store volume) simulated for `--days` with the rule
strategy; nothing is cached. Wall time includes starting the pool's processes (the pool is started per
run, as `boiler size` does); the LocalCluster is started before its timed run (on a real cluster the
workers are already up), its start-up reported apart. Prints a Markdown table with the load average;
the figures go to BENCHMARKS.md. Simulated time is linear in days, so the cost per candidate-year is
scaled from the candidate-days run: say so when you quote it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import distributed

from boiler import scenarios
from boiler.sizing import LocalPool, parse_sizing, plan, run_tasks
from boiler.sizing.backends import Backend
from boiler.sizing.dask_backend import DaskCluster
from boiler.sizing.task import SimTask


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _tasks(n: int, days: float) -> list[SimTask]:
    counts = [1, 2, 3, 4]
    volumes = [1000.0 * (1 + i) for i in range((n + len(counts) - 1) // len(counts))]
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": counts}], "store_volume_l": volumes,
                         "period": {"days": days}}, "bench")
    return plan("residence-48", scenarios.load("residence-48"), spec).tasks[:n]


def _timed(label: str, backend_of: Callable[[], Backend], tasks: list[SimTask]) -> tuple[str, float, int, str]:
    load0 = _load()
    wall0 = time.perf_counter()
    backend = backend_of()
    outcome = run_tasks(tasks, backend)
    wall = time.perf_counter() - wall0
    if outcome.failed or outcome.computed != len(tasks):
        raise SystemExit(f"{label}: {len(outcome.failed)} failed: {outcome.failed}")
    return label, wall, backend.workers, f"{load0} → {_load()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=12)
    ap.add_argument("--days", type=float, default=61.0)
    ap.add_argument("--portfolio-buildings", type=int, default=1000)
    ap.add_argument("--candidates-per-building", type=int, default=24)
    ap.add_argument("--cluster-cores", type=int, default=64)
    args = ap.parse_args()

    tasks = _tasks(args.candidates, args.days)
    years = len(tasks) * args.days / 365.0
    rows = [_timed("local pool, 1 worker", lambda: LocalPool(1), tasks),
            _timed("local pool, 2 workers", lambda: LocalPool(2), tasks)]
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  scheduler_port=0, dashboard_address=None) as lc, distributed.Client(lc) as client:
        start_s = time.perf_counter() - t0
        rows.append(_timed(f"Dask LocalCluster, 2 workers (start-up {start_s:.1f} s apart)",
                           lambda: DaskCluster(client), tasks))

    base = rows[0][1]
    print(f"{len(tasks)} candidates × {args.days:g} days = {years:.2f} candidate-years (residence-48, rule)\n")
    print("| run | wall | candidate-years / hour | core-seconds per candidate-year | scaling efficiency | load |")
    print("|---|---|---|---|---|---|")
    for label, wall, workers, load in rows:
        print(f"| {label} | {wall:.1f} s | {years / wall * 3600:,.0f} | {wall * workers / years:,.1f} | "
              f"{base / (wall * workers):.0%} | {load} |")
    study = args.portfolio_buildings * args.candidates_per_building
    print(f"\nA {args.portfolio_buildings:,}-building portfolio × {args.candidates_per_building} candidates = "
          f"{study:,} candidate-years on {args.cluster_cores} cores, if those cores are as fast as these:")
    for label, wall, workers, _ in rows[:2]:
        core_s = wall * workers / years
        print(f"- at the {label}'s {core_s:.1f} core-seconds per candidate-year: "
              f"≈ {study * core_s / args.cluster_cores / 3600:.1f} h")

if __name__ == "__main__":
    main()
