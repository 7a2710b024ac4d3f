"""The two panels the hot-miner benchmarks share: the store with the outlet and the loop's return, and the
miners' coolant inlet against their throttle band. Rows: hours, the store's sensors top to bottom, the
outlet, the loop's return, the coolant inlet, then anything the caller plots itself."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from boiler.control.plant_model import PlantModel


def store_and_inlet(ax_store: Axes, ax_inlet: Axes, data: np.ndarray, sensors: list[str], setpoint_c: float,
                    model: PlantModel) -> None:
    t, n = data[:, 0], len(sensors)
    for i, k in enumerate(sensors):
        ax_store.plot(t, data[:, 1 + i], lw=0.8, label=k)
    ax_store.plot(t, data[:, 1 + n], "k", lw=0.8, label="outlet")
    ax_store.plot(t, data[:, 2 + n], "c--", lw=0.7, label="loop return")
    ax_store.axhline(setpoint_c, color="r", lw=0.8, ls=":", label="setpoint")
    ax_store.set_ylabel("°C")
    ax_store.legend(ncol=4, fontsize=7, loc="lower left")
    ax_inlet.plot(t, data[:, 3 + n], lw=0.8, label="miners' coolant inlet")
    ax_inlet.axhline(model.inlet_throttle_c, color="orange", lw=0.8, ls=":", label="throttle starts")
    ax_inlet.axhline(model.inlet_max_c, color="r", lw=0.8, ls=":", label="miners stop")
    ax_inlet.set_ylabel("°C")
    ax_inlet.legend(fontsize=7, loc="lower left")
