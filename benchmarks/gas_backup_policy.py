"""Benchmark: what the operator's "gas as a backup only" policy costs on residence-48-hot.

    .venv/bin/python benchmarks/gas_backup_policy.py [--jobs 2] [--no-year]

The reference installation's operator announced that summer would need no gas at all. On the hot-miner plant
that is physics `rule` already delivers: its finishing law holds the fleet at full power and the firmware
throttles it to what the store takes. `mpc` minimises cost, and at the scenario's prices gas finishing the
water behind two miners at part power is cheaper than the miners at full power. `mpc.gas_backup_only` is the
policy as a setting: the plan prices gas heat as a shortfall (1 EUR/kWh) and a running fleet that finishes
the water holds full power. This runs `rule`, `mpc` and `mpc` under the policy on the summer week from a cold
start (the scenario's initial store, under the hot reserve by its sensors), the same week after a warm-up week
(counted from 6 July only), the winter week and the year. Seed 1. ~4 min on 2 cores with the year.
Not a test: the figures go to docs/control.md §3 with this command.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from boiler import scenarios  # noqa: E402
from boiler.simulation.runner import Simulation  # noqa: E402

SCENARIO = "residence-48-hot"


@dataclass(frozen=True)
class Case:
    label: str
    start: date
    days: int
    #: Days simulated before the counted span (the plant warms up; nothing of them is counted).
    warmup_days: int = 0


CASES = (
    Case("summer week, cold start", date(2026, 7, 6), 7),
    Case("summer week after a warm-up week", date(2026, 6, 29), 7, warmup_days=7),
    Case("winter week", date(2026, 1, 5), 7),
    Case("year", date(2026, 1, 5), 365),
)
RUNS = (("rule", "rule", False), ("mpc", "mpc", False), ("mpc, gas_backup_only", "mpc", True))


def run(case: Case, strategy: str, backup_only: bool) -> dict[str, float]:
    """Gas fuel, water below 60 °C, net cost, mean outlet and limit changes over the counted span."""
    cfg = scenarios.load(SCENARIO)
    cfg.control.mpc = cfg.control.mpc.model_copy(update={"gas_backup_only": backup_only})
    sim = Simulation(cfg, case.days + case.warmup_days, case.start, scenario=SCENARIO, seed=1, strategy=strategy,
                     trace_points=50)
    counted_from_s = case.warmup_days * 86_400.0
    gas_j = below_l = 0.0
    changes_at_start: int | None = 0 if case.warmup_days == 0 else None
    cost_at_start = outlet_c_s_at_start = outlet_s_at_start = 0.0
    while not sim.done:
        if sim.control_due():
            sim.tick()
        if changes_at_start is None and sim.k * sim.step_s >= counted_from_s:
            changes_at_start = sim.controller.limit_changes
            ledger, stats = sim.loop.ledger, sim.loop.stats
            cost_at_start = ledger.with_open(ledger.totals()).net_cost_eur
            outlet_c_s_at_start, outlet_s_at_start = stats.outlet_c_s, stats.outlet_s
        flows = sim.advance()
        if sim.k * sim.step_s > counted_from_s:
            gas_j += flows.gas_fuel_j
            below_l += flows.dhw_volume_below_l
    stats = sim.loop.stats
    mean_outlet_c = (stats.outlet_c_s - outlet_c_s_at_start) / (stats.outlet_s - outlet_s_at_start)
    s = sim.result().summary
    assert changes_at_start is not None
    return {"gas_kwh": gas_j / 3.6e6, "below_l": below_l, "net_eur": s["net_cost_eur"] - cost_at_start,
            "mean_outlet_c": mean_outlet_c,
            "changes_per_miner_day": (sim.controller.limit_changes - changes_at_start) / len(cfg.miners) / case.days}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--no-year", action="store_true", help="weeks only (~10 s)")
    a = ap.parse_args()
    if a.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {a.jobs}")
    cases = [c for c in CASES if not (a.no_year and c.days > 7)]
    jobs = [(c, label, strategy, backup) for c in cases for label, strategy, backup in RUNS]
    with ProcessPoolExecutor(a.jobs) as pool:
        results = list(pool.map(run, [j[0] for j in jobs], [j[2] for j in jobs], [j[3] for j in jobs]))
    print("| case | run | gas fuel kWh | L below 60 °C | net EUR | mean outlet °C | limit changes /miner/day |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (case, label, _, _), r in zip(jobs, results, strict=True):
        print(f"| {case.label} | {label} | {r['gas_kwh']:,.0f} | {r['below_l']:,.0f} | {r['net_eur']:,.2f} | "
              f"{r['mean_outlet_c']:.1f} | {r['changes_per_miner_day']:.1f} |")


if __name__ == "__main__":
    main()
