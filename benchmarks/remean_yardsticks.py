"""Fill the exact mean outlet (`mean_outlet_temp_c`, outside commanded legionella cycles) into the searched
yardstick rows of strategies.jsonl written before the summary had it, by running each row's stored schedule
again. The run is deterministic: its net cost must match the stored row's to the cent, or nothing is written.

    .venv/bin/python benchmarks/remean_yardsticks.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_strategies import CASES, RESULTS

from boiler import scenarios
from boiler.simulation.search import Schedule, run_schedule
from tank.water import S_PER_DAY

SEARCHED = ("best_fixed", "c_star")


def _schedule(d: dict) -> Schedule:
    """A stored schedule: one fixed setting (no block), or C*'s blocks of the day repeated daily."""
    block = d.get("block_s")
    return Schedule(tuple(d["power_w"]), tuple(d["gas_setpoint_c"]), math.inf if block is None else block,
                    None if block is None else S_PER_DAY)


def main() -> int:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    bad = 0
    for r in rows:
        if r["strategy"] not in SEARCHED or r.get("mean_outlet_temp_c") is not None or "schedule" not in r:
            continue
        scenario, start, days = CASES[r["case"]]
        run = run_schedule(scenarios.load(scenario), days, start, 1, _schedule(r["schedule"]), 0.0,
                           scenario=scenario)
        s = run.result.summary if run.result is not None else None
        if s is None or abs(s["net_cost_eur"] - r["net_cost_eur"]) > 0.005:
            got = "no result" if s is None else f"{s['net_cost_eur']:.2f}"
            print(f"{r['case']} {r['strategy']}: rerun cost {got} != stored {r['net_cost_eur']:.2f}; left as is")
            bad += 1
            continue
        r["mean_outlet_temp_c"] = s["mean_outlet_temp_c"]
        print(f"{r['case']:34s} {r['strategy']:10s} mean outlet {s['mean_outlet_temp_c']:.2f} °C "
              f"(trace sample {r.get('mean_outlet_c', float('nan')):.2f})", flush=True)
    RESULTS.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
