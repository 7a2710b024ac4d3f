"""Mains (cold) water temperature over the year.

Day of year is 1-based and fractional: 1.0 is 1 January 00:00, 1.5 is 1 January noon
(`day_of_year` below). Seasonal models use a 365.25-day period, so they stay continuous
across New Year and a calendar year averages out to the mean within a few thousandths of a K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np

YEAR_DAYS = 365.25


def day_of_year(day: date, seconds: float | np.ndarray = 0.0) -> float | np.ndarray:
    """Fractional 1-based day of year of `seconds` after local midnight of `day`."""
    doy = day.timetuple().tm_yday + np.asarray(seconds, dtype=float) / 86_400.0
    return float(doy) if np.ndim(seconds) == 0 else doy


@runtime_checkable
class MainsModel(Protocol):
    def temp_c(self, day_of_year: float | np.ndarray) -> float | np.ndarray:
        """Cold-water temperature; vectorised over arrays of days."""
        ...


def _like(day_of_year: float | np.ndarray, values: np.ndarray) -> float | np.ndarray:
    return float(values) if np.ndim(day_of_year) == 0 else values


class ConstantMains:
    """The same temperature all year (EU tapping cycles use 10 °C)."""

    __slots__ = ("constant_c",)

    def __init__(self, temp_c: float = 10.0) -> None:
        self.constant_c = float(temp_c)

    def __repr__(self) -> str:
        return f"ConstantMains({self.constant_c!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConstantMains) and other.constant_c == self.constant_c

    def __hash__(self) -> int:
        return hash(self.constant_c)

    def temp_c(self, day_of_year: float | np.ndarray) -> float | np.ndarray:
        return _like(day_of_year, np.full(np.shape(day_of_year), self.constant_c, dtype=float))


@dataclass(frozen=True, slots=True)
class SeasonalMains:
    """Sinusoid with its minimum `mean_c − amplitude_k` on `coldest_day`.

    The French reference (ADEME/COSTIC measurements, ≈ 9 °C in February, 21 °C in August) is
    `SeasonalMains(15.0, 6.0, 46.0)`, kept as `FRENCH_MAINS`.
    """

    mean_c: float
    amplitude_k: float
    coldest_day: float

    def temp_c(self, day_of_year: float | np.ndarray) -> float | np.ndarray:
        phase = 2.0 * math.pi * (np.asarray(day_of_year, dtype=float) - self.coldest_day) / YEAR_DAYS
        return _like(day_of_year, self.mean_c - self.amplitude_k * np.cos(phase))


FRENCH_MAINS = SeasonalMains(mean_c=15.0, amplitude_k=6.0, coldest_day=46.0)
