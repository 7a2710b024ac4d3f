"""Benchmark: zero summer gas with hot miners? residence-48-hot, summer week, charging flow controlled.

    .venv/bin/python benchmarks/bench_hot_summer.py [--strategy rule] [--days 7] [--out benchmarks/hot-summer.png]

Runs the week in the loop and plots, per tick: the store's sensors (top to bottom), the outlet, the loop's
return, the miners' coolant inlet against their throttle point and maximum, the fleet's power and the
burner's firing. Prints where the gas went: the share of the burner's heat fired while the store was "full"
(its base too warm for the miners' inlet: they could not take more heat) and while it still had room.
Not a test: the figures go to docs/control.md §3 with the command that made them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _hot_plot import store_and_inlet  # noqa: E402

from boiler import scenarios  # noqa: E402
from boiler.simulation.runner import Simulation  # noqa: E402

SUMMER = date(2026, 7, 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategy", default="rule")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--out", type=Path, default=HERE / "hot-summer.png")
    a = ap.parse_args()
    cfg = scenarios.load("residence-48-hot")
    sim = Simulation(cfg, a.days, SUMMER, scenario="residence-48-hot", strategy=a.strategy, trace_points=200)
    model = sim.controller.model
    sensors = [f"{cfg.charge_tank.name}.{s.name}" for s in sorted(cfg.charge_tank.sensors, key=lambda s: -s.height)]
    rows: list[tuple[float, ...]] = []
    gas_full_j = gas_room_j = 0.0
    full = False
    while not sim.done:
        if sim.control_due():
            rec = sim.tick()
            obs = rec.observation
            full = "tank_full" in rec.decision.reason or "coolant_hot" in rec.decision.reason
            p = sim.plant
            rows.append((
                (rec.now_s - sim.start_s) / 3600.0, *(obs.sensors_c.get(k) or np.nan for k in sensors),
                p.outlet_c, p.loop_return_c, p.coolant.inlet_c, rec.decision.miner_power_w / 1000.0,
                p.gas_power_w / 1000.0, p.charge_flow_lpm,
            ))
        f = sim.advance()
        if full:
            gas_full_j += f.gas_heat_j
        else:
            gas_room_j += f.gas_heat_j
    s = sim.result().summary
    data = np.asarray(rows, dtype=float)
    t = data[:, 0]
    n = len(sensors)
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    store_and_inlet(ax1, ax2, data, sensors, cfg.control.setpoint_c, model)
    ax1.set_title(f"residence-48-hot, summer week, {a.strategy}, charging flow controlled: gas "
                  f"{s['gas_fuel_kwh']:.0f} kWh, {s['dhw_volume_below_setpoint_l']:.0f} L below 60 °C")
    ax3.plot(t, data[:, 4 + n], lw=0.8, label="fleet target, kW")
    ax3.plot(t, data[:, 5 + n], lw=0.8, label="gas burner, kW")
    ax3.plot(t, data[:, 6 + n], lw=0.6, label="charging flow, L/min")
    ax3.set_ylim(0, 40)
    ax3.set_xlabel("hours from Monday 00:00")
    ax3.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    total = gas_full_j + gas_room_j
    print(f"gas fuel {s['gas_fuel_kwh']:.0f} kWh, heat from miners {s['heat_from_miners_kwh']:.0f} kWh, "
          f"loop losses {s['loop_losses_kwh']:.0f} kWh, at the taps {s['dhw_heat_kwh']:.0f} kWh; "
          f"burner heat while the store was full: {gas_full_j / 3.6e6:.0f} kWh "
          f"({gas_full_j / total:.0%} of it)" if total else "no gas")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
