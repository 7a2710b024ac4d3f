"""Benchmark: every strategy against the perfect-foresight optimum on the reference scenarios.

    .venv/bin/python benchmarks/bench_strategies.py run [--cases NAME ...] [--jobs 2] [--strategies ...]
    .venv/bin/python benchmarks/bench_strategies.py report      # benchmarks/strategies.md table
    .venv/bin/python benchmarks/bench_strategies.py plot        # benchmarks/strategies-week.png

`run` simulates each case with thermostat, rule, mpc and mpc_oracle, solves the optimum (the bound, ending
as full as it started) and searches the yardsticks best_fixed and c_star (one job, C* warm-started from
best-fixed and mpc_oracle), appending one JSON line per (case, strategy) to benchmarks/strategies.jsonl (a
row already there is skipped, so an interrupted run resumes). Every run is scored at the bound's end-state
price (`scored cost` = net cost − price × stored-energy change). Not a test: the figures go to
BENCHMARKS.md with the machine they were measured on.

On the years C* is out of budget (400 year runs ≈ 2 h each case) and best_fixed scans each power's gas
setpoints upward to the first that holds (`scan="first_holding"`, docs/control.md §2.6) instead of the
whole grid; the year's bound is solved for its end-state price and written too if missing:

    nice -n 10 .venv/bin/python benchmarks/bench_strategies.py run --jobs 1 --strategies best_fixed \
        --cases "residence-48 year" "house-xl year"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

RESULTS = HERE / "strategies.jsonl"
PLOT = HERE / "strategies-week.png"
STRATEGIES = ("thermostat", "rule", "mpc", "mpc_oracle", "optimum", "best_fixed", "c_star")
#: Searched together in one job (C* starts from the best fixed run).
SEARCHED = ("best_fixed", "c_star")
#: CMA-ES budget of C* (simulations) and its seed.
C_STAR_EVALS = 400
C_STAR_SEED = 1
#: In the loop with the plant: the best of these that kept 60 °C is the best cost known to be achievable.
IN_LOOP = ("rule", "mpc", "mpc_oracle")
#: Cases this long are years: best_fixed by the first-holding scan, no C*.
YEAR_DAYS = 365
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
    "residence-48-hot summer week": ("residence-48-hot", SUMMER, 7),
    "residence-48-hot year": ("residence-48-hot", WINTER, 365),
    "residence-48-preheat winter week": ("residence-48-preheat", WINTER, 7),
    "residence-48-preheat year": ("residence-48-preheat", WINTER, 365),
}


_KEEP = ("dhw_volume_below_setpoint_l", "min_outlet_temp_c", "mean_outlet_temp_c", "miner_heat_share", "gas_fuel_kwh",
         "net_cost_eur",
         "electricity_cost_eur", "mining_revenue_eur", "gas_cost_eur", "heat_dumped_kwh", "heat_from_gas_kwh",
         "stored_energy_change_kwh", "power_limit_changes", "gas_starts", "wall_seconds", "decided_by",
         "strategy_share", "end_price_eur_per_kwh")


def _row(case: str, strategy: str, res, days: float, miners: int, **extra: object) -> dict[str, object]:
    import numpy as np

    s = res.summary
    outlet = res.trace.columns.get("outlet_c")
    mean_outlet = float(np.nanmean(outlet)) if outlet is not None and outlet.size else None
    return {"case": case, "strategy": strategy, "days": days, "miners": miners, "mean_outlet_c": mean_outlet,
            **{k: s.get(k) for k in _KEEP}, **extra}


def _is_year(case: str) -> bool:
    return CASES[case][2] >= YEAR_DAYS


def _job(case: str, strategy: str) -> str | None:
    """The job that makes this row: the searched yardsticks are one job (C* starts from best-fixed); on the
    years that job is best_fixed alone and C* is not run (None)."""
    if strategy not in SEARCHED:
        return strategy
    if _is_year(case):
        return None if strategy == "c_star" else "best_fixed"
    return "c_star"


def _one(case: str, strategy: str) -> list[dict[str, object]]:
    from boiler import scenarios
    from boiler.simulation import run_simulation

    scenario, start, days = CASES[case]
    cfg = scenarios.load(scenario)
    if strategy == "best_fixed":
        return _year_best_fixed(case, cfg)
    if strategy == "c_star":
        return _searched_week(case, cfg)
    res = run_simulation(cfg, days, start, scenario=scenario, strategy=strategy, trace_points=5000)
    return [_row(case, strategy, res, days, len(cfg.miners))]


def _year_best_fixed(case: str, cfg) -> list[dict[str, object]]:
    """The bound (for its end-state price) and best_fixed by the first-holding scan; each run printed."""
    import time

    from boiler.simulation.optimum import END_PRICE_KEY, run_optimum
    from boiler.simulation.search import Run, best_fixed

    scenario, start, days = CASES[case]
    n = len(cfg.miners)
    opt = run_optimum(cfg, days, start, scenario=scenario, seed=1)  # raises if infeasible: nothing to compare
    price = float(opt.summary[END_PRICE_KEY])
    print(f"{case}: bound {opt.summary['net_cost_eur']:,.2f} EUR net, end price {price:.4f} EUR/kWh "
          f"({opt.summary['wall_seconds']:.0f} s)", flush=True)
    t0 = time.perf_counter()
    count = 0

    def progress(run: Run) -> None:
        nonlocal count
        count += 1
        p, g = run.schedule.at(0.0)
        how = f"held, {run.scored_eur:,.2f} EUR scored" if run.ok else f"below 60 °C at {run.done_share:.1%}"
        print(f"  {case}: run {count:3d} {p / 1000:5.2f} kW / {g:4.1f} °C {how}  "
              f"[{time.perf_counter() - t0:6.0f} s]", flush=True)

    fixed = best_fixed(cfg, days, start, price_eur_per_kwh=price, scan="first_holding", on_run=progress)
    if fixed.best is None or fixed.best.result is None:
        raise RuntimeError(f"{case}: no fixed setting held 60 °C")
    return [_row(case, "optimum", opt, days, n), _searched_row(case, fixed, days, n, price)]


def _searched_row(case: str, fixed, days: float, n: int, price: float) -> dict[str, object]:
    """best_fixed's row, marked with how it was searched."""
    return _row(case, "best_fixed", fixed.best.result, days, n, search_runs=len(fixed.runs),
                search_scan=fixed.scan, search_held=sum(r.ok for r in fixed.runs),
                search_full_runs=round(sum(r.done_share for r in fixed.runs), 2), search_wall_s=fixed.wall_s,
                search_end_price_eur_per_kwh=price, schedule=_schedule(fixed.best.schedule))


def _searched_week(case: str, cfg) -> list[dict[str, object]]:
    """best_fixed on the whole grid, then C* from it."""
    import time

    from boiler.simulation.search import best_fixed, c_star, end_price, oracle_schedule

    _, start, days = CASES[case]
    n = len(cfg.miners)
    t0 = time.perf_counter()
    price = end_price(cfg, days, start, 1)
    fixed = best_fixed(cfg, days, start, price_eur_per_kwh=price)
    rows = [_searched_row(case, fixed, days, n, price)]
    warm = oracle_schedule(cfg, days, start, 1, blocks=8)
    found = c_star(cfg, days, start, search_seed=C_STAR_SEED, max_evals=C_STAR_EVALS, price_eur_per_kwh=price,
                   fixed=fixed, warm=[warm])
    rows.append(_row(case, "c_star", found.best.result, days, n, search_runs=len(found.runs),
                     search_held=sum(r.ok for r in found.runs), search_wall_s=time.perf_counter() - t0,
                     schedule=_schedule(found.best.schedule), from_fixed=found.best is fixed.best))
    return rows


def _schedule(s) -> dict[str, object]:
    return {"power_w": list(s.power_w), "gas_setpoint_c": list(s.gas_setpoint_c), "block_s": s.block_s
            if s.block_s != float("inf") else None}


def run(cases: list[str], jobs: int, strategies: list[str]) -> None:
    done = set()
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            r = json.loads(line)
            done.add((r["case"], r["strategy"]))
    todo = []
    for c in cases:
        for s in strategies:
            job = _job(c, s)
            if job is None:
                print(f"{c}: no {s} on a year (out of budget)", flush=True)
            elif (c, s) not in done and (c, job) not in todo:
                todo.append((c, job))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_one, c, s): (c, s) for c, s in todo}
        for fut in as_completed(futures):
            try:
                rows = fut.result()
            except Exception as exc:  # one case failing must not lose the others' rows
                print(f"{futures[fut][0]} {futures[fut][1]}: FAILED: {exc!r}", flush=True)
                continue
            for row in rows:
                if (row["case"], row["strategy"]) in done:  # e.g. the bound a year's best_fixed solved again
                    continue
                done.add((row["case"], row["strategy"]))
                with RESULTS.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{row['case']:32s} {row['strategy']:10s} net {row['net_cost_eur']:10.2f} EUR  "
                      f"wall {row.get('search_wall_s') or row['wall_seconds']:7.1f} s", flush=True)


def _fmt(x: object, spec: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format(x, spec)


def _scored(r: dict, price: float) -> float:
    return r["net_cost_eur"] - price * (r["stored_energy_change_kwh"] or 0.0)


def _case_price(res: dict[str, dict]) -> float:
    """The bound's end-state price; the one best_fixed was searched at if the bound's row is missing."""
    for strat, key in (("optimum", "end_price_eur_per_kwh"), ("best_fixed", "search_end_price_eur_per_kwh")):
        if (res.get(strat) or {}).get(key) is not None:
            return res[strat][key]
    return 0.0


def _mean_outlet(r: dict) -> str:
    """The run's time mean outlet outside commanded legionella cycles; rows written before the summary had it
    show the trace's sample mean, marked *."""
    if r.get("mean_outlet_temp_c") is not None:
        return _fmt(r["mean_outlet_temp_c"], ".1f")
    return _fmt(r.get("mean_outlet_c"), ".1f") + ("*" if r.get("mean_outlet_c") is not None else "")


def _width(upper: float | None, bound: float | None) -> str:
    return f"{(upper - bound) / abs(upper) * 100:.1f} %" if upper is not None and bound is not None else "–"


def _bracket(case: str, res: dict[str, dict], price: float) -> str | None:
    """One line of the brackets table: the bound, C*, best-fixed (its setting and how it was searched)."""
    opt, cs_row, bf_row = res.get("optimum"), res.get("c_star"), res.get("best_fixed")
    if opt is None or (cs_row is None and bf_row is None):
        return None
    bound = _scored(opt, price)
    cs = _scored(cs_row, price) if cs_row else None
    bf = _scored(bf_row, price) if bf_row else None
    setting = search = "–"
    if bf_row:
        sch = bf_row.get("schedule") or {}
        setting = f"{sch['power_w'][0] / 1000:.2f} kW, {sch['gas_setpoint_c'][0]:.1f} °C" if sch else "–"
        scan = (bf_row.get("search_scan") or "grid").replace("_", "-")
        search = f"{bf_row.get('search_runs')} runs, {scan}, {_fmt(bf_row.get('search_wall_s'), ',.0f')} s"
    return (f"| {case} | {bound:,.2f} | {_fmt(cs, ',.2f')} | {_fmt(bf, ',.2f')} | {setting} | {_width(cs, bound)} "
            f"| {_width(bf, bound)} | {price:.4f} | {search} |")


def report() -> str:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    by_case: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["strategy"]] = r
    out = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
           f"Python {platform.python_version()}. Command: `.venv/bin/python benchmarks/bench_strategies.py run`.",
           "",
           "| case | strategy | L below 60 °C | mean outlet °C | miner heat share | gas fuel kWh | net cost EUR "
           "| scored EUR | vs C* | vs best-fixed | place in bracket | limit changes /miner/day | decided by itself "
           "| wall s |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    brackets = []
    for case in CASES:
        res = by_case.get(case, {})
        opt = res.get("optimum")
        price = _case_price(res)
        bound = _scored(opt, price) if opt else None
        cs = _scored(res["c_star"], price) if "c_star" in res else None
        bf = _scored(res["best_fixed"], price) if "best_fixed" in res else None
        line = _bracket(case, res, price)
        if line is not None:
            brackets.append(line)
        for strat in STRATEGIES:
            r = res.get(strat)
            if r is None:
                continue
            sc = _scored(r, price)
            vs_c = (sc - cs) / abs(cs) * 100 if cs is not None and strat != "optimum" else None
            vs_f = (sc - bf) / abs(bf) * 100 if bf is not None and strat != "optimum" else None
            place = ((sc - bound) / (cs - bound) * 100 if bound is not None and cs is not None and cs != bound
                     and strat != "optimum" else None)
            days = r["days"]
            changes = (r["power_limit_changes"] / max(r["miners"], 1) / days
                       if r["power_limit_changes"] is not None else None)
            dec = r.get("decided_by") or {}
            others = sum(dec.get(k, 0) for k in ("rule", "safety", "override"))
            share = (1.0 - others / max(sum(dec.values()), 1)) * 100 if dec and strat != "rule" else (
                dec.get("rule", 0) / max(sum(dec.values()), 1) * 100 if dec else None)
            out.append(
                f"| {case} | {strat} | {_fmt(r['dhw_volume_below_setpoint_l'], ',.0f')} "
                f"| {_mean_outlet(r)} | {_fmt(100 * r['miner_heat_share'], '.0f')} % "
                f"| {_fmt(r['gas_fuel_kwh'], ',.0f')} | {_fmt(r['net_cost_eur'], ',.2f')} | {_fmt(sc, ',.2f')} "
                f"| {_fmt(vs_c, '+.1f') + ' %' if vs_c is not None else '–'} "
                f"| {_fmt(vs_f, '+.1f') + ' %' if vs_f is not None else '–'} "
                f"| {_fmt(place, '.0f') + ' %' if place is not None else '–'} | {_fmt(changes, '.1f')} "
                f"| {_fmt(share, '.0f') + ' %' if share is not None else '–'} "
                f"| {_fmt(r.get('search_wall_s') or r['wall_seconds'], '.1f')} |")
    head = ["", "Brackets (scored EUR at the bound's end-state price): the plant's true optimum lies between the "
            "bound and C* (on the years, where C* is not searched, best-fixed).", "",
            "| case | bound | C* | best-fixed | best-fixed setting | width (C* − bound)/C* "
            "| width (best-fixed − bound)/best-fixed | end price EUR/kWh | best-fixed search |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *brackets, ""]
    return "\n".join(out[:1] + head + out[1:])


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
    for strat in (s for s in STRATEGIES if s not in SEARCHED):  # the searched yardsticks take minutes
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
    r.add_argument("--strategies", nargs="*", default=list(STRATEGIES), choices=list(STRATEGIES))
    sub.add_parser("report")
    sub.add_parser("plot")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.cases, args.jobs, args.strategies)
    elif args.cmd == "report":
        print(report())
    else:
        plot()


if __name__ == "__main__":
    main()
