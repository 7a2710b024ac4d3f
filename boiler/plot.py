"""PNG plot of a simulation: temperatures, power, draws."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: plant rooms and CI have no screen
import matplotlib.pyplot as plt

from boiler.simulation import Trace


def plot_trace(trace: Trace, path: Path, title: str) -> None:
    cols = trace.columns
    hours = trace.time_s / 3600.0
    x, unit = (hours / 24.0, "days") if hours.size and hours[-1] > 72 else (hours, "hours")
    fig, (ax_t, ax_p, ax_d) = plt.subplots(3, 1, figsize=(12, 9), sharex=True,
                                           gridspec_kw={"height_ratios": [3, 2, 1]})
    sensors = [k for k in cols if "." in k]
    cmap = plt.get_cmap("coolwarm")
    for i, key in enumerate(sensors):
        ax_t.plot(x, cols[key], lw=0.8, color=cmap(1 - i / max(len(sensors) - 1, 1)), label=key)
    ax_t.plot(x, cols["outlet_c"], lw=1.4, color="black", label="outlet")
    ax_t.plot(x, cols["setpoint_c"], lw=1.0, ls="--", color="red", label="setpoint")
    ax_t.plot(x, cols["loop_return_c"], lw=0.8, ls=":", color="purple", label="loop return")
    ax_t.set_ylabel("°C")
    ax_t.legend(loc="lower left", ncol=4, fontsize=8)
    ax_t.set_title(title)
    ax_t.grid(alpha=0.3)
    ax_p.plot(x, cols["miner_power_w"] / 1000, lw=0.9, label="miners (electric)")
    ax_p.plot(x, cols["gas_power_w"] / 1000, lw=0.9, label="gas (heat)")
    ax_p.set_ylabel("kW")
    ax_p.legend(loc="upper right", fontsize=8)
    ax_p.grid(alpha=0.3)
    ax_d.fill_between(x, cols["draw_l_per_min"], step="mid", alpha=0.6, color="tab:blue")
    ax_d.set_ylabel("draws L/min")
    ax_d.set_xlabel(unit)
    ax_d.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
