"""Benchmark: can the hot miners alone hold 60 °C over residence-48-hot's summer week? A searched answer.

    .venv/bin/python benchmarks/hot_summer_no_gas.py [--evals 4000] [--jobs 2] [--seed 1]

"Zero summer gas" means the two AH3880 hold the outlet at 60 °C with the burner never firing. This takes
the burner out of the plant and lets CMA-ES (the `cma` library, as for C*) search what the miners alone
can do with the handles they have: per 3-hour block of the day (repeated daily), the fleet power (0 to
17.4 kW) and the charging pump's flow-temperature target (60 to 66 °C; the controlled flow sends the water
back at that temperature). The objective is the week's litres drawn below 60 °C, run in full through the
one control loop (safety layer and allocator included), seed 1 draws. Warm starts: the constant settings
an installer would try first, and `rule`'s finishing law (full power, 64.3 °C). Prints the best found,
the constants and `rule`/`mpc` with no burner; writes benchmarks/hot-summer-no-gas.json and plots the
best run (benchmarks/hot-summer-no-gas.png). About 5 min on 2 cores (a run of the week takes ~0.15 s).

A search is evidence, not a proof: it can miss a better schedule. The energy argument is in
docs/control.md §3. Not a test (minutes of CPU); the figures go to BENCHMARKS.md with this command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import cma  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _hot_plot import store_and_inlet  # noqa: E402

from boiler import scenarios  # noqa: E402
from boiler.config import PlantConfig  # noqa: E402
from boiler.simulation import local_midnight_s, run_simulation  # noqa: E402
from boiler.simulation.runner import Simulation, run_loop  # noqa: E402
from boiler.simulation.search import Schedule, ScheduleStrategy  # noqa: E402

SCENARIO = "residence-48-hot"
SUMMER = date(2026, 7, 6)
DAYS = 7.0
BLOCKS = 8  # 3-hour blocks, as C*
FLEET_MAX_W = 17_400.0
TARGET_RANGE_C = (60.0, 66.0)
OUT = HERE / "hot-summer-no-gas.json"
PLOT = HERE / "hot-summer-no-gas.png"


def no_gas_config() -> PlantConfig:
    return scenarios.load(SCENARIO).model_copy(update={"gas_boiler": None})


@dataclass(frozen=True)
class BlockPlan:
    """Per block of the day: fleet power (W) and the charging pump's target (°C)."""

    power_w: tuple[float, ...]
    target_c: tuple[float, ...]

    @classmethod
    def from_x(cls, x: np.ndarray) -> BlockPlan:
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        lo, hi = TARGET_RANGE_C
        return cls(tuple(round(float(v) * FLEET_MAX_W) for v in x[:BLOCKS]),
                   tuple(round(lo + float(v) * (hi - lo), 2) for v in x[BLOCKS:]))

    @classmethod
    def constant(cls, power_w: float, target_c: float) -> BlockPlan:
        return cls((power_w,) * BLOCKS, (target_c,) * BLOCKS)

    def schedule(self) -> Schedule:
        """The plan as a daily schedule (the gas setpoint is moot: the plant has no burner)."""
        return Schedule(self.power_w, (60.0,) * BLOCKS, 86_400.0 / BLOCKS, 86_400.0, charge_target_c=self.target_c)

    def strategy(self, cfg: PlantConfig) -> ScheduleStrategy:
        return ScheduleStrategy("no_gas_search", self.schedule(), local_midnight_s(cfg, SUMMER), dump_heat=False)

    def x(self) -> np.ndarray:
        lo, hi = TARGET_RANGE_C
        return np.clip(np.concatenate([np.asarray(self.power_w) / FLEET_MAX_W,
                                       (np.asarray(self.target_c) - lo) / (hi - lo)]), 0.0, 1.0)


def litres_below(plan: BlockPlan, seed: int = 1) -> tuple[float, float]:
    """(litres drawn below 60 °C over the week, miners' heat kWh) with no burner."""
    cfg = no_gas_config()
    sim = Simulation(cfg, DAYS, SUMMER, scenario=SCENARIO, seed=seed, trace_points=50,
                     strategy=plan.strategy(cfg))
    s = run_loop(sim).summary
    return float(s["dhw_volume_below_setpoint_l"]), float(s["heat_from_miners_kwh"])


def plot_run(plan: BlockPlan, seed: int, out: Path) -> None:
    """The plan's week: the store and the loop's return, the miners' inlet, their power and the charging
    flow, and the litres drawn below 60 °C hour by hour."""
    cfg = no_gas_config()
    sim = Simulation(cfg, DAYS, SUMMER, scenario=SCENARIO, seed=seed, trace_points=50,
                     strategy=plan.strategy(cfg))
    model = sim.controller.model
    sensors = [f"{cfg.charge_tank.name}.{s.name}" for s in sorted(cfg.charge_tank.sensors, key=lambda s: -s.height)]
    rows: list[tuple[float, ...]] = []
    below_l = np.zeros(round(DAYS * 24))
    while not sim.done:
        if sim.control_due():
            obs = sim.tick().observation
            p = sim.plant
            rows.append(((obs.now_s - sim.start_s) / 3600.0, *(obs.sensors_c.get(k) or np.nan for k in sensors),
                         p.outlet_c, p.loop_return_c, p.coolant.inlet_c, sum(m.power_w for m in obs.miners) / 1000.0,
                         p.charge_flow_lpm))
        f = sim.advance()
        hour = min(int((sim.plant.now_s - sim.start_s) // 3600), len(below_l) - 1)
        below_l[hour] += f.dhw_volume_below_l
    data = np.asarray(rows, dtype=float)
    t, n = data[:, 0], len(sensors)
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(4, 1, figsize=(12, 11), sharex=True)
    store_and_inlet(ax1, ax2, data, sensors, cfg.control.setpoint_c, model)
    ax1.set_title(f"residence-48-hot, summer week, no burner, best searched miner plan: "
                  f"{below_l.sum():.0f} L below 60 °C")
    ax3.plot(t, data[:, 4 + n], lw=0.8, label="miners' power, kW")
    ax3.plot(t, data[:, 5 + n], lw=0.6, label="charging flow, L/min")
    ax3.legend(fontsize=7, loc="upper left")
    ax4.bar(np.arange(len(below_l)) + 0.5, below_l, width=1.0, color="tab:red")
    ax4.set_ylabel("L below 60 °C per hour")
    ax4.set_xlabel("hours from Monday 00:00")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def _litres(args: tuple[BlockPlan, int]) -> float:
    return litres_below(*args)[0]


def _strategy_litres(strategy: str, seed: int) -> float:
    s = run_simulation(no_gas_config(), DAYS, SUMMER, scenario=SCENARIO, strategy=strategy, seed=seed,
                       trace_points=50).summary
    return float(s["dhw_volume_below_setpoint_l"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=4000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="the draws' seed (the search's own seed is 1)")
    a = ap.parse_args()
    if a.evals < 1 or a.jobs < 1:
        ap.error("--evals and --jobs must be at least 1")
    t0 = time.perf_counter()
    starts = [BlockPlan.constant(p, t) for p, t in ((8_500.0, 62.0), (10_000.0, 62.0), (17_400.0, 62.0),
                                                    (17_400.0, 64.3), (8_500.0, 64.3))]
    best_l, best = float("inf"), starts[0]
    rows: list[dict[str, object]] = []
    with ProcessPoolExecutor(a.jobs) as pool:
        for plan, litres in zip(starts, pool.map(_litres, [(p, a.seed) for p in starts]), strict=True):
            rows.append({"plan": "constant", "power_w": plan.power_w[0], "target_c": plan.target_c[0],
                         "litres_below": litres})
            print(f"constant {plan.power_w[0] / 1000:5.1f} kW, target {plan.target_c[0]:4.1f} °C: "
                  f"{litres:8.0f} L below 60 °C", flush=True)
            if litres < best_l:
                best_l, best = litres, plan
        es = cma.CMAEvolutionStrategy(best.x(), 0.2, {"seed": 1, "bounds": [0.0, 1.0], "verbose": -9,
                                                      "maxfevals": a.evals})
        es.inject([p.x() for p in starts], force=True)
        evals = 0
        while not es.stop() and evals < a.evals:
            xs = es.ask()
            plans = [BlockPlan.from_x(x) for x in xs]
            values = list(pool.map(_litres, [(p, a.seed) for p in plans]))
            evals += len(xs)
            for plan, litres in zip(plans, values, strict=True):
                if litres < best_l:
                    best_l, best = litres, plan
            es.tell(xs, values)
            print(f"{evals:4d} runs: best {best_l:8.0f} L below 60 °C", flush=True)
        controllers = {s: _strategy_litres(s, a.seed) for s in ("rule", "mpc")}
    heat_kwh = litres_below(best, a.seed)[1]
    wall_s = time.perf_counter() - t0
    for name, litres in controllers.items():
        print(f"{name} with no burner: {litres:8.0f} L below 60 °C")
    print(f"best of {evals} searched runs: {best_l:.0f} L below 60 °C, miners' heat {heat_kwh:.0f} kWh; "
          f"powers {[round(p / 1000, 1) for p in best.power_w]} kW, targets {list(best.target_c)} °C; "
          f"{wall_s:.0f} s wall")
    OUT.write_text(json.dumps({
        "scenario": SCENARIO, "start": SUMMER.isoformat(), "days": DAYS, "seed": a.seed, "evals": evals,
        "best": {"litres_below": best_l, "miner_heat_kwh": heat_kwh, "power_w": best.power_w,
                 "target_c": best.target_c},
        "constants": rows, "controllers_no_burner": controllers, "wall_s": round(wall_s, 1),
    }, indent=1) + "\n")
    plot_run(best, a.seed, PLOT)
    print(f"wrote {OUT} and {PLOT}")


if __name__ == "__main__":
    main()
