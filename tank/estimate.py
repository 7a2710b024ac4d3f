"""Tank state from a few temperature sensors at known heights.

The profile between sensors is taken as linear, and flat beyond the lowest and highest sensor.
From it: heat stored above a reference temperature, and the volume at or above the setpoint
(the hot water ready to serve). The same function serves the simulator and the real plant.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH


@dataclass(frozen=True, slots=True)
class TankEstimate:
    energy_kwh: float  # above the reference temperature
    usable_volume_l: float  # at or above the setpoint
    top_c: float
    bottom_c: float
    mean_c: float
    sensors_used: int


def estimate_tank(
    volume_l: float,
    readings: Sequence[tuple[float, float | None]],
    setpoint_c: float,
    reference_c: float,
) -> TankEstimate | None:
    """Estimate from (height fraction 0 = bottom … 1 = top, temperature or None if faulty).

    Returns None when no sensor is usable.
    """
    pts = sorted((h, t) for h, t in readings if t is not None and math.isfinite(t))
    if not pts:
        return None
    # Extend flat to the base and the top so the integral covers the whole height.
    if pts[0][0] > 0.0:
        pts.insert(0, (0.0, pts[0][1]))
    if pts[-1][0] < 1.0:
        pts.append((1.0, pts[-1][1]))
    mean = 0.0
    hot_fraction = 0.0
    for (h0, t0), (h1, t1) in itertools.pairwise(pts):
        dh = h1 - h0
        if dh <= 0:
            continue
        mean += dh * (t0 + t1) / 2.0
        hot_fraction += dh * _fraction_at_or_above(t0, t1, setpoint_c)
    cap_j_per_k = volume_l * HEAT_CAPACITY_J_PER_L_K
    return TankEstimate(
        energy_kwh=cap_j_per_k * (mean - reference_c) / J_PER_KWH,
        usable_volume_l=volume_l * hot_fraction,
        top_c=pts[-1][1],
        bottom_c=pts[0][1],
        mean_c=mean,
        sensors_used=sum(1 for _, t in readings if t is not None and math.isfinite(t)),
    )


def _fraction_at_or_above(t0: float, t1: float, level: float) -> float:
    """Share of a linear segment from t0 to t1 that is at or above `level`."""
    lo, hi = min(t0, t1), max(t0, t1)
    if lo >= level:
        return 1.0
    if hi < level:
        return 0.0
    return (hi - level) / (hi - lo)
