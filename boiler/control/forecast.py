"""Hot-water draw forecast learned online from the plant's own history.

The forecast only ever sees what a heat meter on the hot-water outlet has already counted: it is
fed the meter's cumulative reading at each decision tick and books the increase into bins of
local time (weekday × time of day). The expected heat for a future bin is the mean of the same
bin over the past weeks; where that bin has no history yet it falls back to the same time of day
on any weekday, then to the mean rate seen so far. A safety margin is applied by the caller.
"""

from __future__ import annotations

from collections import deque

import numpy as np

MINUTES_PER_DAY = 1440
#: Windows longer than this many bins are summed on arrays (a day's forecast), shorter ones bin by bin.
_LONG_BINS = 16


def _whole(x: np.ndarray) -> bool:
    return bool(np.all(x == np.floor(x)))


class DrawForecast:
    """Mean draw heat per (weekday, bin) over the last `weeks` weeks, from meter readings."""

    def __init__(self, bin_minutes: int = 15, weeks: int = 4) -> None:
        if MINUTES_PER_DAY % bin_minutes:
            raise ValueError(f"bin_minutes must divide a day, got {bin_minutes}")
        self.bin_minutes = bin_minutes
        self.bins = MINUTES_PER_DAY // bin_minutes
        self.weeks = max(1, weeks)
        # Finished bins: heat (kWh) per (weekday, bin), the newest `weeks` of each.
        self._history: list[list[deque[float]]] = [
            [deque(maxlen=self.weeks) for _ in range(self.bins)] for _ in range(7)
        ]
        # Running sums per (weekday, bin) and per bin over all weekdays: forecasts in O(1).
        self._sum = np.zeros((7, self.bins))
        self._any_sum = np.zeros(self.bins)
        self._any_n = np.zeros(self.bins, dtype=int)
        self._n = np.zeros((7, self.bins), dtype=int)  # history kept per (weekday, bin)
        self._means: np.ndarray | None = None  # bin_kwh of every bin, until the next bin closes
        self._means_rows: list[list[float]] = []  # the same as lists: the scalar forecast's fast lookups
        self._last_reading: float | None = None
        self._open: tuple[int, int] | None = None  # (weekday, bin) being filled
        self._open_kwh = 0.0
        self._total_kwh = 0.0
        self._total_bins = 0

    # -- learning ---------------------------------------------------------------------------
    def record(self, weekday: int, local_minute: int, meter_kwh: float) -> None:
        """Book the meter's increase since the previous reading into the current local bin.

        The heat counted between two ticks goes to the bin of the later tick (accurate to a tick).
        """
        key = (weekday, local_minute // self.bin_minutes)
        if self._open is not None and key != self._open:
            self._close()
        self._open = key
        if self._last_reading is not None:
            self._open_kwh += max(0.0, meter_kwh - self._last_reading)  # meters only count up
        self._last_reading = meter_kwh

    def _close(self) -> None:
        assert self._open is not None
        weekday, b = self._open
        kept = self._history[weekday][b]
        if len(kept) == kept.maxlen:
            old = kept[0]
            self._sum[weekday, b] -= old
            self._any_sum[b] -= old
            self._any_n[b] -= 1
        else:
            self._n[weekday, b] += 1
        kept.append(self._open_kwh)
        self._sum[weekday, b] += self._open_kwh
        self._any_sum[b] += self._open_kwh
        self._any_n[b] += 1
        self._total_kwh += self._open_kwh
        self._total_bins += 1
        self._open_kwh = 0.0
        if self._means is not None and self._n.all():  # no fallbacks left: only this bin's mean moved
            mean = float(self._sum[weekday, b] / self._n[weekday, b])
            self._means[weekday, b] = mean
            self._means_rows[weekday][b] = mean
        else:
            self._means = None

    @property
    def samples(self) -> int:
        """Bins of history seen so far."""
        return self._total_bins

    # -- forecasting ------------------------------------------------------------------------
    def bin_kwh(self, weekday: int, b: int) -> float:
        """Expected draw heat (kWh) in one bin of one weekday."""
        n = len(self._history[weekday][b])
        if n:
            return float(self._sum[weekday, b]) / n
        if self._any_n[b]:
            return float(self._any_sum[b]) / int(self._any_n[b])
        return self._total_kwh / self._total_bins if self._total_bins else 0.0

    def bin_means(self) -> np.ndarray:
        """`bin_kwh` of every (weekday, bin), computed once per closed bin (the same arithmetic)."""
        if self._means is None:
            fallback = self._total_kwh / self._total_bins if self._total_bins else 0.0
            with np.errstate(invalid="ignore", divide="ignore"):
                any_day = np.where(self._any_n > 0, self._any_sum / self._any_n, fallback)
                self._means = np.where(self._n > 0, self._sum / self._n, any_day[np.newaxis, :])
            self._means_rows = self._means.tolist()
        return self._means

    def expected_kwh(self, weekday: int, local_minute: float, minutes: float) -> float:
        """Expected draw heat from a local time over the next `minutes` (bins pro rata)."""
        self.bin_means()
        rows = self._means_rows
        total = 0.0
        m = float(local_minute)
        end = m + minutes
        if end - m > _LONG_BINS * self.bin_minutes and m.is_integer() and end.is_integer() and 0 <= m < MINUTES_PER_DAY:
            return self._whole_minutes_kwh(weekday, int(m), int(end))
        wd = weekday
        while m < end - 1e-9:
            if m >= MINUTES_PER_DAY:
                m -= MINUTES_PER_DAY
                end -= MINUTES_PER_DAY
                wd = (wd + 1) % 7
            b = int(m // self.bin_minutes)
            b_end = (b + 1) * self.bin_minutes
            take = min(end, b_end) - m
            total += rows[wd][b] * take / self.bin_minutes
            m += take
        return total

    def _whole_minutes_kwh(self, weekday: int, start_min: int, end_min: int) -> float:
        """`expected_kwh` of a long window on whole minutes, on arrays: its steps (bin edges and the window's
        ends) are then exact integers, and a cumulative sum adds the bins in the same order."""
        bm = self.bin_minutes
        points = np.concatenate(([start_min], np.arange((start_min // bm + 1) * bm, end_min, bm), [end_min]))
        starts, take = points[:-1], np.diff(points).astype(float)
        wd = (weekday + starts // MINUTES_PER_DAY) % 7
        terms = self.bin_means()[wd, (starts % MINUTES_PER_DAY) // bm] * take / bm
        return float(np.cumsum(terms)[-1])

    def _whole_minutes_kwh_many(self, weekdays: np.ndarray, start_min: np.ndarray, end_min: np.ndarray) -> np.ndarray:
        """`expected_kwh_many` of windows on whole minutes: every window's bin steps as one row (exact integers),
        each row summed in order by a cumulative sum (padding steps add 0)."""
        bm = self.bin_minutes
        first_bin = start_min // bm
        k = np.arange(int(np.max((end_min - 1) // bm - first_bin, initial=0)) + 1)
        lo = np.where(k == 0, start_min[:, None], (first_bin[:, None] + k) * bm)
        take = np.minimum((first_bin[:, None] + k + 1) * bm, end_min[:, None]) - lo
        steps = take > 0
        lo = np.where(steps, lo, 0)
        wd = (weekdays[:, None] + lo // MINUTES_PER_DAY) % 7
        terms = np.where(steps, self.bin_means()[wd, (lo % MINUTES_PER_DAY) // bm] * take / bm, 0.0)
        return np.cumsum(terms, axis=1)[:, -1] if terms.size else np.zeros(start_min.size)

    def expected_kwh_many(self, weekdays: np.ndarray, local_minutes: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """`expected_kwh` of many windows at once (a plan's slots): the same steps, bin by bin, on arrays."""
        means = self.bin_means()
        bm = self.bin_minutes
        m = np.array(local_minutes, dtype=float)
        end = m + minutes
        if _whole(m) and _whole(end) and np.all((m >= 0) & (m < MINUTES_PER_DAY)):
            return self._whole_minutes_kwh_many(np.asarray(weekdays), m.astype(int), end.astype(int))
        wd = np.array(weekdays, dtype=int)
        total = np.zeros(m.size)
        live = np.flatnonzero(m < end - 1e-9)
        while live.size:
            wrap = live[m[live] >= MINUTES_PER_DAY]
            m[wrap] -= MINUTES_PER_DAY
            end[wrap] -= MINUTES_PER_DAY
            wd[wrap] = (wd[wrap] + 1) % 7
            ml = m[live]
            b = (ml // bm).astype(int)
            take = np.minimum(end[live], (b + 1) * bm) - ml
            total[live] += means[wd[live], b] * take / bm
            m[live] = ml + take
            live = live[m[live] < end[live] - 1e-9]
        return total
