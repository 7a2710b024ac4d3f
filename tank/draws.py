"""Hot-water draws: the common currency of every draw profile.

A draw asks for *useful heat at the tap* (above the mains temperature) over a duration, at a
temperature the user mixes to. The plant turns it into a flow of hot water from the storage
outlet, so the same draw costs less hot water when the store is hotter, as at a real tap.

Profiles hand draws over either one by one (`Draw`, for people and tests) or as columns
(`DrawTable`, for speed: a year of a 48-flat building is ~170,000 draws). `DrawProfile` is the
protocol every profile implements; `TableProfile` derives both of its methods from one table.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np

from tank.water import J_PER_KWH, S_PER_DAY


class DrawProfileError(ValueError):
    """A draw profile cannot be built from its input (bad name, bad row, bad value)."""


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


@dataclass(frozen=True, slots=True)
class DrawTable:
    """Draws as parallel columns, sorted by start time. Same meaning as a list of `Draw`."""

    start_s: np.ndarray
    duration_s: np.ndarray
    heat_kwh: np.ndarray
    use_temp_c: np.ndarray
    category: np.ndarray

    def __len__(self) -> int:
        return int(self.start_s.size)

    @classmethod
    def empty(cls) -> DrawTable:
        z = np.zeros(0)
        return cls(z, z, z, z, np.zeros(0, dtype=object))

    @classmethod
    def from_draws(cls, draws: Iterable[Draw]) -> DrawTable:
        rows = sorted(draws, key=lambda d: d.start_s)
        if not rows:
            return cls.empty()
        return cls(
            start_s=np.array([d.start_s for d in rows], dtype=float),
            duration_s=np.array([d.duration_s for d in rows], dtype=float),
            heat_kwh=np.array([d.heat_kwh for d in rows], dtype=float),
            use_temp_c=np.array([d.use_temp_c for d in rows], dtype=float),
            category=np.array([d.category for d in rows], dtype=object),
        )

    @classmethod
    def concat(cls, tables: Sequence[DrawTable]) -> DrawTable:
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        return cls(
            start_s=np.concatenate([t.start_s for t in tables]),
            duration_s=np.concatenate([t.duration_s for t in tables]),
            heat_kwh=np.concatenate([t.heat_kwh for t in tables]),
            use_temp_c=np.concatenate([t.use_temp_c for t in tables]),
            category=np.concatenate([t.category for t in tables]),
        )

    def sorted(self) -> DrawTable:
        order = np.argsort(self.start_s, kind="stable")
        return DrawTable(
            self.start_s[order],
            self.duration_s[order],
            self.heat_kwh[order],
            self.use_temp_c[order],
            self.category[order],
        )

    def to_draws(self) -> list[Draw]:
        return [
            Draw(s, d, q, t, str(c))
            for s, d, q, t, c in zip(
                self.start_s.tolist(),
                self.duration_s.tolist(),
                self.heat_kwh.tolist(),
                self.use_temp_c.tolist(),
                self.category.tolist(),
                strict=True,
            )
        ]

    def to_steps(self, n_steps: int, step_s: float) -> StepDraws:
        return spread_over_steps(
            self.start_s, self.duration_s, self.heat_kwh, self.use_temp_c, n_steps, step_s
        )


@runtime_checkable
class DrawProfile(Protocol):
    """What the plant simulator asks of any source of draws."""

    def draws(self, start: date, days: int) -> list[Draw]:
        """Draws of `days` days from local midnight of `start`; start_s counts from there."""
        ...

    def steps(self, start: date, days: int, step_s: float) -> StepDraws:
        """The same draws spread over `steps_in(days, step_s)` steps of `step_s` seconds."""
        ...


class TableProfile(ABC):
    """Base for profiles that build a `DrawTable`; derives `draws` and `steps` from it."""

    @abstractmethod
    def table(self, start: date, days: int) -> DrawTable:
        """Draws of `days` days from local midnight of `start`, as columns."""

    def draws(self, start: date, days: int) -> list[Draw]:
        return self.table(start, days).to_draws()

    def steps(self, start: date, days: int, step_s: float) -> StepDraws:
        return self.table(start, days).to_steps(steps_in(days, step_s), step_s)


def steps_in(days: float, step_s: float) -> int:
    """Number of steps covering `days` days (the last one partial if step_s does not divide)."""
    if step_s <= 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    return max(0, math.ceil(days * S_PER_DAY / step_s - 1e-9))


def draws_to_steps(draws: Iterable[Draw], n_steps: int, step_s: float) -> StepDraws:
    """Spread each draw's heat over the steps it overlaps, in proportion to the overlap."""
    return DrawTable.from_draws(draws).to_steps(n_steps, step_s)


def spread_over_steps(
    start_s: np.ndarray,
    duration_s: np.ndarray,
    heat_kwh: np.ndarray,
    use_temp_c: np.ndarray,
    n_steps: int,
    step_s: float,
) -> StepDraws:
    """Vectorised `draws_to_steps`: each draw at constant rate over [start, start + duration).

    Only the part of a draw inside [0, n_steps·step_s) counts; draws with heat ≤ 0 are ignored.
    """
    heat_kwh = np.asarray(heat_kwh, dtype=float)
    positive = heat_kwh > 0
    q_j = np.where(positive, heat_kwh, 0.0) * J_PER_KWH
    temps = np.where(positive, np.asarray(use_temp_c, dtype=float), 0.0)
    heat_j, temp_heat = spread_quantity(start_s, duration_s, np.stack([q_j, q_j * temps]), n_steps, step_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        use_temp = np.where(heat_j > 0, temp_heat / np.where(heat_j > 0, heat_j, 1.0), math.nan)
    return StepDraws(heat_j=heat_j, use_temp_c=use_temp)


def spread_quantity(
    start_s: np.ndarray, duration_s: np.ndarray, amount: np.ndarray, n_steps: int, step_s: float
) -> np.ndarray:
    """Sum per step of `amount`s each spread evenly over [start, start + duration).

    `amount` is one value per draw, or several rows of them (shape (m, n) gives (m, n_steps)).
    The parts outside [0, n_steps·step_s) are cut off; zero durations count as 1 ns.
    """
    amount = np.asarray(amount, dtype=float)
    rows = np.atleast_2d(amount)
    out = np.zeros((rows.shape[0], n_steps))
    start = np.asarray(start_s, dtype=float)
    dur = np.maximum(np.asarray(duration_s, dtype=float), 1e-9)
    horizon_s = n_steps * step_s
    end = start + dur
    keep = (rows != 0).any(axis=0) & (end > 0) & (start < horizon_s)
    if n_steps > 0 and keep.any():
        start, end, dur, rows = start[keep], end[keep], dur[keep], rows[:, keep]
        s = np.maximum(start, 0.0)
        e = np.minimum(end, horizon_s)
        k0 = np.minimum((s // step_s).astype(np.int64), n_steps - 1)
        k1 = np.minimum((e // step_s).astype(np.int64), n_steps - 1)
        single = k0 == k1
        # Time in the first step (all of it if the draw ends there) and in the last step.
        first_s = np.where(single, e - s, (k0 + 1) * step_s - s)
        last_s = np.where(single, 0.0, e - k1 * step_s)
        # Whole steps strictly between get rate·step_s, through difference arrays on the rate;
        # an integer count keeps steps that no draw covers exactly zero despite round-off.
        multi = ~single
        lo, hi = k0[multi] + 1, k1[multi]
        d_count = np.bincount(lo, minlength=n_steps + 1) - np.bincount(hi, minlength=n_steps + 1)
        covered = np.cumsum(d_count)[:n_steps] > 0
        for row, values in zip(rows, out, strict=True):
            rate = row / dur
            values += np.bincount(k0, rate * first_s, n_steps)
            values += np.bincount(k1, rate * last_s, n_steps)
            d_rate = np.bincount(lo, rate[multi], n_steps + 1) - np.bincount(hi, rate[multi], n_steps + 1)
            values += np.where(covered, np.cumsum(d_rate)[:n_steps] * step_s, 0.0)
    return out if amount.ndim == 2 else out[0]
