"""Benchmark: a full simulated year of a scenario with the controller in the loop.

    .venv/bin/python benchmarks/bench_simulation.py [--scenario residence-48] [--days 365]

Reports simulated time / wall time and peak memory (max RSS of this process). Not a test:
figures go to BENCHMARKS.md with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import date

from boiler import scenarios
from boiler.simulation import run_simulation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="residence-48")
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--strategy", default=None)
    ap.add_argument("--step-s", type=float, default=None, help="override the physics step")
    ap.add_argument("--period-s", type=float, default=None, help="override the control period")
    ap.add_argument("--json", default=None, help="write the run's summary here (to compare runs)")
    args = ap.parse_args()

    cfg = scenarios.load(args.scenario)
    if args.step_s:
        cfg.simulation.step_s = args.step_s
    if args.period_s:
        cfg.control.period_s = args.period_s
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    result = run_simulation(cfg, args.days, date(2026, 1, 5), scenario=args.scenario, strategy=args.strategy)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = result.summary
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"scenario {args.scenario}, strategy {s['strategy']}, {args.days:g} days, "
          f"step {cfg.simulation.step_s:g} s, control period {cfg.control.period_s:g} s")
    speed = args.days * 86400 / wall
    print(f"wall {wall:.2f} s, cpu {cpu:.2f} s, simulated/wall {speed:,.0f}x, peak RSS {rss_mib:.0f} MiB")
    print(f"energy balance error {s['energy_balance_error_kwh']:.2e} kWh over "
          f"{s['heat_from_miners_kwh'] + s['heat_from_gas_kwh']:,.0f} kWh in; "
          f"below setpoint {s['dhw_volume_below_setpoint_l']:.0f} L; min outlet {s['min_outlet_temp_c']:.2f} °C")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(s, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
