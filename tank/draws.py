"""Hot-water draws: the common currency of every draw profile.

A draw asks for *useful heat at the tap* (above the mains temperature) over a duration, at a
temperature the user mixes to. The plant turns it into a flow of hot water from the storage
outlet, so the same draw costs less hot water when the store is hotter, as at a real tap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Draw:
    """One tapping. Times are seconds from the profile's start (local midnight of day 0)."""

    start_s: float
    duration_s: float
    heat_kwh: float
    use_temp_c: float = 40.0
    category: str = ""


@dataclass(frozen=True, slots=True)
class StepDraws:
    """Draws spread over fixed simulation steps.

    heat_j[k] is the useful heat asked for during step k; use_temp_c[k] the heat-weighted
    use temperature (NaN where nothing is drawn).
    """

    heat_j: np.ndarray
    use_temp_c: np.ndarray


def draws_to_steps(draws: Iterable[Draw], n_steps: int, step_s: float) -> StepDraws:
    """Spread each draw's heat over the steps it overlaps, in proportion to the overlap."""
    heat_j = np.zeros(n_steps)
    temp_heat = np.zeros(n_steps)
    horizon_s = n_steps * step_s
    for d in draws:
        if d.heat_kwh <= 0 or d.start_s >= horizon_s:
            continue
        duration_s = max(d.duration_s, 1e-9)
        end_s = min(d.start_s + duration_s, horizon_s)
        rate_j_per_s = d.heat_kwh * 3.6e6 / duration_s
        k = int(d.start_s // step_s)
        t = d.start_s
        while t < end_s - 1e-9 and k < n_steps:
            step_end = min((k + 1) * step_s, end_s)
            q = rate_j_per_s * (step_end - t)
            heat_j[k] += q
            temp_heat[k] += q * d.use_temp_c
            t = step_end
            k += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        use_temp = np.where(heat_j > 0, temp_heat / np.where(heat_j > 0, heat_j, 1.0), math.nan)
    return StepDraws(heat_j=heat_j, use_temp_c=use_temp)
