"""Tank state from a few temperature sensors at known heights.

The profile between sensors is taken as linear, and flat beyond the lowest and highest sensor.
From it: heat stored above a reference temperature, and the volume at or above the setpoint
(the hot water ready to serve). The same function serves the simulator and the real plant.
"""

from __future__ import annotations

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
    pts = [(h, t) for h, t in readings if t is not None and -1e9 < t < 1e9]  # drops None, NaN, inf
    if not pts:
        return None
    used = len(pts)
    pts.sort()
    # Extend flat to the base and the top so the integral covers the whole height.
    if pts[0][0] > 0.0:
        pts.insert(0, (0.0, pts[0][1]))
    if pts[-1][0] < 1.0:
        pts.append((1.0, pts[-1][1]))
    mean = 0.0
    hot_fraction = 0.0
    h0, t0 = pts[0]
    for h1, t1 in pts[1:]:
        dh = h1 - h0
        if dh > 0:
            mean += dh * (t0 + t1) * 0.5
            lo, hi = (t0, t1) if t0 < t1 else (t1, t0)
            if lo >= setpoint_c:
                hot_fraction += dh
            elif hi > setpoint_c:
                hot_fraction += dh * (hi - setpoint_c) / (hi - lo)
        h0, t0 = h1, t1
    cap_j_per_k = volume_l * HEAT_CAPACITY_J_PER_L_K
    return TankEstimate(
        energy_kwh=cap_j_per_k * (mean - reference_c) / J_PER_KWH,
        usable_volume_l=volume_l * hot_fraction,
        top_c=pts[-1][1],
        bottom_c=pts[0][1],
        mean_c=mean,
        sensors_used=used,
    )
