"""Tuning: a joint random search of `mpc`'s knobs on several draw seeds of both residence-48 weeks.

    .venv/bin/python benchmarks/tune_mpc.py [--configs 80] [--seeds 1 6] [--space wide|narrow] [--jobs 2]
    .venv/bin/python benchmarks/tune_mpc.py --check FILE.jsonl --seeds 7 12     # re-score chosen configs

One knob at a time, on one seed, the weeks move by ±3 % with any change (docs/control.md §3): luck. Here each
configuration runs on seeds a..b of the winter and the summer week and is scored against the week's best
fixed setting (bench_seeds.WEEKS) on the same seed; a seed the fixed setting does not hold 60 °C on is left
out of the mean. Prints one JSON line per configuration: the knobs, the mean relative cost per week (%), the
litres drawn below 60 °C over all runs. The first configuration is always the defaults. What it found, and
the held-out check, are in docs/control.md §3 (“Tuning”).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402
from bench_seeds import WEEKS, fixed_scored_eur  # noqa: E402

from boiler import scenarios  # noqa: E402
from boiler.config import PlantConfig  # noqa: E402
from boiler.simulation import run_simulation  # noqa: E402
from boiler.simulation.optimum import scored_cost_eur  # noqa: E402

SPACES: dict[str, dict[str, list[float]]] = {
    "wide": {"smooth_h": [2, 3, 4, 6, 9], "change_eur_per_kw": [0.03, 0.05, 0.08, 0.12],
             "change_min_w": [500, 1000, 1500], "stratification_k": [5, 8, 11], "draw_margin": [0, 0.05, 0.1],
             "outlet_margin_k": [1.5, 2, 2.5], "peak_boost_k": [0.5, 1, 1.5], "snap_share": [0.6, 0.8, 1.0],
             "gas_margin_k": [-0.5, 0], "horizon_h": [24, 36, 48]},
    "narrow": {"smooth_h": [1.5, 2, 3], "change_eur_per_kw": [0.02, 0.03, 0.05], "change_min_w": [500, 1000],
               "stratification_k": [3, 4, 5, 6], "draw_margin": [0, 0.05], "outlet_margin_k": [1.5, 2],
               "peak_boost_k": [0.5, 1], "snap_share": [0.5, 0.6, 0.7], "gas_margin_k": [-0.5, 0],
               "horizon_h": [36, 48]},
}


def _score(args: tuple[dict[str, float], list[int], dict[tuple[str, int], float]]) -> dict[str, object]:
    knobs, seeds, fixed = args
    data = scenarios.load("residence-48").model_dump(mode="json")
    data["control"]["mpc"].update(knobs)
    cfg = PlantConfig.model_validate(data)
    rel: dict[str, list[float]] = {w: [] for w in WEEKS}
    below = 0.0
    for week, (start, price, _, _) in WEEKS.items():
        for seed in seeds:
            s = run_simulation(cfg.model_copy(deep=True), 7, start, seed=seed, strategy="mpc", trace_points=20).summary
            below += s["dhw_volume_below_setpoint_l"]
            if math.isfinite(fixed[(week, seed)]):
                rel[week].append(scored_cost_eur(s, price) / fixed[(week, seed)] - 1)
    means = {w: round(float(np.mean(r)) * 100, 2) for w, r in rel.items()}
    return {"knobs": knobs, **means, "mean": round(float(np.mean(list(means.values()))), 2), "below_l": below,
            "seeds_scored": {w: len(r) for w, r in rel.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=80)
    ap.add_argument("--seeds", type=int, nargs=2, default=(1, 6), metavar=("FIRST", "LAST"))
    ap.add_argument("--space", choices=sorted(SPACES), default="wide")
    ap.add_argument("--rng", type=int, default=7, help="seed of the random configurations")
    ap.add_argument("--check", type=Path, help="score the configurations of this JSON-lines file instead")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    if not 1 <= a.seeds[0] <= a.seeds[1] or a.configs < 1 or a.jobs < 1:
        ap.error("--seeds FIRST LAST needs 1 <= FIRST <= LAST; --configs and --jobs at least 1")
    if a.check is not None and not a.check.is_file():
        ap.error(f"--check {a.check}: no such file")
    seeds = list(range(a.seeds[0], a.seeds[1] + 1))
    pairs = [(w, s) for w in WEEKS for s in seeds]
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        fixed = dict(zip(pairs, pool.map(fixed_scored_eur, *zip(*pairs, strict=True)), strict=True))
        if a.check is not None:
            configs = [json.loads(line)["knobs"] for line in a.check.read_text().splitlines() if line.strip()]
        else:
            rng = random.Random(a.rng)
            space = SPACES[a.space]
            configs = [{}] + [{k: rng.choice(v) for k, v in space.items()} for _ in range(a.configs - 1)]
        for row in pool.map(_score, [(c, seeds, fixed) for c in configs]):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
