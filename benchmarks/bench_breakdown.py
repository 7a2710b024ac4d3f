"""Benchmark: where a simulated run's time goes, part by part, per physics step.

    .venv/bin/python benchmarks/bench_breakdown.py [--scenario residence-48] [--days 30] [--repeat 3]

Wraps a timer (`perf_counter`, ~0.1 µs a call) around each part of the run (plant step, runner,
loop, controller) and prints each part's exclusive time per physics step and its share, for the
fastest of `--repeat` runs. Cheaper and fairer to call-heavy Python than cProfile. Not a test:
figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from boiler import scenarios
from boiler.simulation.runner import Simulation, run_loop

#: (object path from the Simulation, method, label). Nested parts come after their parents.
PARTS = (
    ("plant", "step", "plant step"),
    ("", "advance", "runner.advance"),
    ("", "reading", "runner: plant reading"),
    ("plant", "miner_readings", "runner: miner readings"),
    ("loop", "_book", "loop: book samples"),
    ("loop", "_observe", "loop: observation"),
    ("loop.controller", "tick", "controller tick (boiler.control)"),
    ("loop", "step", "loop.step"),
    ("", "tick", "runner.tick"),
)
#: Each wrapped part's time minus the parts inside it.
INSIDE = {
    "runner.advance": ("plant step",),
    "loop.step": ("loop: book samples", "loop: observation", "controller tick (boiler.control)"),
    "runner.tick": ("loop.step", "runner: plant reading", "runner: miner readings"),
}


def _wrap(sim: Simulation, spent: dict[str, float]) -> None:
    clock = time.perf_counter
    for path, name, label in PARTS:
        obj: Any = sim
        for attr in filter(None, path.split(".")):
            obj = getattr(obj, attr)
        inner: Callable[..., Any] = getattr(obj, name)

        def timed(*args: Any, _f: Callable[..., Any] = inner, _label: str = label, **kw: Any) -> Any:
            t0 = clock()
            result = _f(*args, **kw)
            spent[_label] += clock() - t0
            return result

        setattr(obj, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="residence-48")
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--strategy", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = scenarios.load(args.scenario)
    start = date(2026, 1, 5)
    run_loop(Simulation(cfg, 1, start, scenario=args.scenario, strategy=args.strategy))  # compile, warm caches
    best: tuple[float, dict[str, float], int] | None = None
    for _ in range(args.repeat):
        spent: dict[str, float] = defaultdict(float)
        sim = Simulation(cfg, args.days, start, scenario=args.scenario, strategy=args.strategy)
        _wrap(sim, spent)
        t0 = time.perf_counter()
        run_loop(sim)
        total = time.perf_counter() - t0
        if best is None or total < best[0]:
            best = (total, dict(spent), sim.n_steps)
    assert best is not None
    total, spent, n_steps = best
    own = {label: spent[label] - sum(spent[p] for p in INSIDE.get(label, ())) for _, _, label in PARTS}
    own["run loop"] = total - spent["runner.advance"] - spent["runner.tick"]
    print(f"{args.scenario}, {args.days:g} days, {n_steps} steps: {total:.3f} s, "
          f"{1e6 * total / n_steps:.1f} µs per physics step")
    for label, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"  {label:34s} {1e6 * seconds / n_steps:6.2f} µs/step  {100 * seconds / total:5.1f} %")


if __name__ == "__main__":
    main()
