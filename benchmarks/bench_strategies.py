"""Benchmark: every strategy against the perfect-foresight optimum on the reference scenarios.

    .venv/bin/python benchmarks/bench_strategies.py run [--cases NAME ...] [--jobs 2]
    .venv/bin/python benchmarks/bench_strategies.py report      # benchmarks/strategies.md table
    .venv/bin/python benchmarks/bench_strategies.py plot        # benchmarks/strategies-week.png

`run` simulates each case with thermostat, rule, mpc and mpc_oracle and solves the optimum, appending one JSON
line per (case, strategy) to benchmarks/strategies.jsonl (a case already there is skipped, so an
interrupted run resumes). Not a test: the figures go to BENCHMARKS.md with the machine they were
measured on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

RESULTS = HERE / "strategies.jsonl"
PLOT = HERE / "strategies-week.png"
STRATEGIES = ("thermostat", "rule", "mpc", "mpc_oracle", "optimum")
#: In the loop with the plant: the best of these that kept 60 °C is the best cost known to be achievable.
IN_LOOP = ("rule", "mpc", "mpc_oracle")
WINTER = date(2026, 1, 5)  # a Monday
SUMMER = date(2026, 7, 6)  # a Monday

#: name → (scenario, first day, days)
CASES: dict[str, tuple[str, date, float]] = {
    "residence-48 winter week": ("residence-48", WINTER, 7),
    "residence-48 summer week": ("residence-48", SUMMER, 7),
    "residence-48 year": ("residence-48", WINTER, 365),
    "house-xl year": ("house-xl", WINTER, 365),
    "residence-48-tou winter week": ("residence-48-tou", WINTER, 7),
    "residence-48-tou year": ("residence-48-tou", WINTER, 365),
    "residence-48-bull winter week": ("residence-48-bull", WINTER, 7),
    "residence-48-bull year": ("residence-48-bull", WINTER, 365),
    "residence-48-bear winter week": ("residence-48-bear", WINTER, 7),
    "residence-48-bear year": ("residence-48-bear", WINTER, 365),
    "residence-48-hot winter week": ("residence-48-hot", WINTER, 7),
    "residence-48-hot year": ("residence-48-hot", WINTER, 365),
    "residence-48-preheat winter week": ("residence-48-preheat", WINTER, 7),
    "residence-48-preheat year": ("residence-48-preheat", WINTER, 365),
}


def _one(case: str, strategy: str) -> dict[str, object]:
    from boiler import scenarios
    from boiler.simulation import run_simulation

    scenario, start, days = CASES[case]
    cfg = scenarios.load(scenario)
    s = run_simulation(cfg, days, start, scenario=scenario, strategy=strategy, trace_points=2000).summary
    keep = ("dhw_volume_below_setpoint_l", "min_outlet_temp_c", "miner_heat_share", "gas_fuel_kwh", "net_cost_eur",
            "electricity_cost_eur", "mining_revenue_eur", "gas_cost_eur", "heat_dumped_kwh",
            "stored_energy_change_kwh", "power_limit_changes", "gas_starts", "wall_seconds")
    return {"case": case, "strategy": strategy, "days": days, "miners": len(cfg.miners),
            **{k: s.get(k) for k in keep}}


def run(cases: list[str], jobs: int) -> None:
    done = set()
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            r = json.loads(line)
            done.add((r["case"], r["strategy"]))
    todo = [(c, s) for c in cases for s in STRATEGIES if (c, s) not in done]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_one, c, s): (c, s) for c, s in todo}
        for fut in futures:
            row = fut.result()
            with RESULTS.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{row['case']:32s} {row['strategy']:10s} net {row['net_cost_eur']:10.2f} EUR  "
                  f"wall {row['wall_seconds']:7.1f} s", flush=True)


def _fmt(x: object, spec: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format(x, spec)


def report() -> str:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    by_case: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["strategy"]] = r
    out = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
           f"Python {platform.python_version()}. Command: `.venv/bin/python benchmarks/bench_strategies.py run`.",
           "",
           "| case | strategy | L below 60 °C | min outlet °C | miner heat share | gas fuel kWh | net cost EUR "
           "| gap to optimum | above best in loop | limit changes /miner/day | gas starts /day | wall s |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in CASES:
        res = by_case.get(case, {})
        opt = res.get("optimum")
        kept = [r["net_cost_eur"] for s, r in res.items() if s in IN_LOOP and r["dhw_volume_below_setpoint_l"] == 0]
        best = min(kept) if kept else None
        for strat in STRATEGIES:
            r = res.get(strat)
            if r is None:
                continue
            gap = above = None
            if opt is not None:
                gap = (r["net_cost_eur"] - opt["net_cost_eur"]) / abs(opt["net_cost_eur"]) * 100
            if best is not None and strat != "optimum":
                above = (r["net_cost_eur"] - best) / abs(best) * 100
            days = r["days"]
            changes = (r["power_limit_changes"] / max(r["miners"], 1) / days
                       if r["power_limit_changes"] is not None else None)
            starts = r["gas_starts"] / days if r["gas_starts"] is not None else None
            out.append(
                f"| {case} | {strat} | {_fmt(r['dhw_volume_below_setpoint_l'], ',.0f')} "
                f"| {_fmt(r['min_outlet_temp_c'], '.1f')} | {_fmt(100 * r['miner_heat_share'], '.0f')} % "
                f"| {_fmt(r['gas_fuel_kwh'], ',.0f')} | {_fmt(r['net_cost_eur'], ',.2f')} "
                f"| {_fmt(gap, '+.1f') + ' %' if gap is not None else '–'} "
                f"| {_fmt(above, '+.1f') + ' %' if above is not None else '–'} | {_fmt(changes, '.1f')} "
                f"| {_fmt(starts, '.1f')} | {_fmt(r['wall_seconds'], '.1f')} |")
    return "\n".join(out)


def plot() -> None:
    """Every strategy over the residence-48 winter week: outlet, miner power, gas power, store middle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from boiler import scenarios
    from boiler.simulation import run_simulation

    fig, axes = plt.subplots(4, 1, figsize=(13, 11), sharex=True)
    colors = {"thermostat": "tab:gray", "rule": "tab:blue", "mpc": "tab:green", "mpc_oracle": "tab:olive",
              "optimum": "tab:red"}
    for strat in STRATEGIES:
        cfg = scenarios.load("residence-48")
        res = run_simulation(cfg, 7, WINTER, scenario="residence-48", strategy=strat, trace_points=5000)
        t = res.trace.time_s / 86400.0
        cols = res.trace.columns
        kw = {"lw": 0.8, "color": colors[strat], "label": f"{strat} ({res.summary['net_cost_eur']:.0f} EUR)"}
        if "outlet_c" in cols:
            axes[0].plot(t, cols["outlet_c"], **kw)
            axes[3].plot(t, cols["store.middle"], **kw)
        axes[1].step(t, cols["miner_power_w"] / 1000, where="post", **kw)
        axes[2].step(t, cols["gas_power_w"] / 1000, where="post", **kw)
    axes[0].axhline(60, color="black", ls="--", lw=0.8)
    axes[0].set_ylabel("outlet °C")
    axes[1].set_ylabel("miners kW (electric)")
    axes[2].set_ylabel("gas kW (heat)")
    axes[3].set_ylabel("store middle °C")
    axes[3].set_xlabel("days from Monday 5 January 2026")
    axes[0].set_title("residence-48, winter week: thermostat, rule, mpc, mpc told the future draws, optimum")
    axes[1].legend(loc="upper right", fontsize=8, ncol=5)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    plt.close(fig)
    print(f"wrote {PLOT}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    r.add_argument("--jobs", type=int, default=2)
    sub.add_parser("report")
    sub.add_parser("plot")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.cases, args.jobs)
    elif args.cmd == "report":
        print(report())
    else:
        plot()


if __name__ == "__main__":
    main()
