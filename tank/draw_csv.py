"""Draws from a CSV file of timestamped tappings (measured data, other generators).

Columns (header required, order free):
- `timestamp`: ISO 8601. Naive times are site local time. Times with an offset are converted to
  `site_tz` if one is given, else their own wall-clock time is taken as local time.
- exactly one of `heat_kwh` (useful heat above mains) or `volume_l` (litres of hot water at
  `volume_temp_c`, default 60 °C; heat = V·ρ·c_p·(volume_temp − mains on that day));
- optional `duration_s` (default 60), `use_temp_c` (default 40), `volume_temp_c`, `category`.
Empty optional cells take the default. Blank lines and lines starting with `#` are skipped;
any other row that cannot be read raises `DrawProfileError` naming its line and column, and
unknown columns are refused, so nothing is dropped silently.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from tank.draws import Draw, DrawProfileError, DrawTable, TableProfile
from tank.mains import MainsModel, day_of_year
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH, S_PER_DAY

REQUIRED = ("timestamp",)
AMOUNTS = ("heat_kwh", "volume_l")
OPTIONAL = ("duration_s", "use_temp_c", "volume_temp_c", "category")
DEFAULT_DURATION_S = 60.0
DEFAULT_USE_TEMP_C = 40.0
DEFAULT_VOLUME_TEMP_C = 60.0

__all__ = ["CsvProfile", "DrawProfileError", "write_draws_csv"]


@dataclass(frozen=True, slots=True)
class _Row:
    local: datetime
    heat_kwh: float
    duration_s: float
    use_temp_c: float
    category: str


class CsvProfile(TableProfile):
    """Draws read once from `path`; `draws(start, days)` returns those inside the window."""

    def __init__(self, path: str | Path, mains: MainsModel, site_tz: str | None = None) -> None:
        self.path = Path(path)
        self.mains = mains
        self.site_tz = ZoneInfo(site_tz) if site_tz else None
        rows = sorted(self._read(), key=lambda r: r.local)
        self._day_ordinal = np.array([r.local.toordinal() for r in rows], dtype=np.int64)
        self._table = DrawTable(
            start_s=np.array([_seconds_into_day(r.local) for r in rows], dtype=float),
            duration_s=np.array([r.duration_s for r in rows], dtype=float),
            heat_kwh=np.array([r.heat_kwh for r in rows], dtype=float),
            use_temp_c=np.array([r.use_temp_c for r in rows], dtype=float),
            category=np.array([r.category for r in rows], dtype=object),
        )

    def __len__(self) -> int:
        return len(self._table)

    @property
    def first_day(self) -> date | None:
        return date.fromordinal(int(self._day_ordinal[0])) if len(self) else None

    @property
    def last_day(self) -> date | None:
        return date.fromordinal(int(self._day_ordinal[-1])) if len(self) else None

    def table(self, start: date, days: int) -> DrawTable:
        first = start.toordinal()
        lo, hi = np.searchsorted(self._day_ordinal, [first, first + days], side="left")
        t = self._table
        sl = slice(int(lo), int(hi))
        return DrawTable(
            start_s=t.start_s[sl] + (self._day_ordinal[sl] - first) * S_PER_DAY,
            duration_s=t.duration_s[sl],
            heat_kwh=t.heat_kwh[sl],
            use_temp_c=t.use_temp_c[sl],
            category=t.category[sl],
        )

    def _read(self) -> list[_Row]:
        with self.path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            rows: list[_Row] = []
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                    continue
                if header is None:
                    header = self._check_header([c.strip() for c in cells], line)
                    continue
                if len(cells) != len(header):
                    raise DrawProfileError(
                        f"{self.path}: line {line}: {len(cells)} cells, header has {len(header)}"
                    )
                rows.append(self._parse(dict(zip(header, (c.strip() for c in cells), strict=True)), line))
        if header is None:
            raise DrawProfileError(f"{self.path}: no header line")
        return rows

    def _check_header(self, header: list[str], line: int) -> list[str]:
        known = set(REQUIRED + AMOUNTS + OPTIONAL)
        for name in header:
            if name not in known:
                raise DrawProfileError(
                    f"{self.path}: line {line}, column {name!r}: unknown column; known: {sorted(known)}"
                )
        if len(set(header)) != len(header):
            raise DrawProfileError(f"{self.path}: line {line}: repeated column names")
        if "timestamp" not in header:
            raise DrawProfileError(f"{self.path}: line {line}, column 'timestamp': missing")
        amounts = [a for a in AMOUNTS if a in header]
        if len(amounts) != 1:
            raise DrawProfileError(
                f"{self.path}: line {line}: need exactly one of columns 'heat_kwh' or 'volume_l', "
                f"found {amounts or 'neither'}"
            )
        if "volume_temp_c" in header and "volume_l" not in header:
            raise DrawProfileError(f"{self.path}: line {line}, column 'volume_temp_c': only with 'volume_l'")
        return header

    def _parse(self, cells: dict[str, str], line: int) -> _Row:
        def fail(column: str, why: str) -> DrawProfileError:
            return DrawProfileError(f"{self.path}: line {line}, column {column!r}: {why}")

        def number(column: str, default: float | None) -> float:
            text = cells.get(column, "")
            if text == "":
                if default is None:
                    raise fail(column, "empty")
                return default
            try:
                value = float(text)
            except ValueError:
                raise fail(column, f"not a number: {text!r}") from None
            if not math.isfinite(value):
                raise fail(column, f"not a finite number: {text!r}")
            return value

        stamp = cells["timestamp"]
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise fail("timestamp", f"not an ISO 8601 time: {stamp!r}") from None
        if when.tzinfo is not None:
            when = (when.astimezone(self.site_tz) if self.site_tz else when).replace(tzinfo=None)

        duration_s = number("duration_s", DEFAULT_DURATION_S)
        if duration_s <= 0:
            raise fail("duration_s", f"must be > 0, got {duration_s}")
        use_temp_c = number("use_temp_c", DEFAULT_USE_TEMP_C)
        if not 0 < use_temp_c < 100:
            raise fail("use_temp_c", f"must be between 0 and 100 °C, got {use_temp_c}")
        if "heat_kwh" in cells:
            heat_kwh = number("heat_kwh", None)
            if heat_kwh < 0:
                raise fail("heat_kwh", f"must be ≥ 0, got {heat_kwh}")
        else:
            volume_l = number("volume_l", None)
            if volume_l < 0:
                raise fail("volume_l", f"must be ≥ 0, got {volume_l}")
            volume_temp_c = number("volume_temp_c", DEFAULT_VOLUME_TEMP_C)
            mains_c = float(self.mains.temp_c(day_of_year(when.date(), _seconds_into_day(when))))
            if volume_temp_c <= mains_c:
                raise fail("volume_temp_c", f"{volume_temp_c} °C is not above the mains ({mains_c:.1f} °C)")
            heat_kwh = volume_l * HEAT_CAPACITY_J_PER_L_K * (volume_temp_c - mains_c) / J_PER_KWH
        return _Row(when, heat_kwh, duration_s, use_temp_c, cells.get("category", ""))


def _seconds_into_day(when: datetime) -> float:
    return (when - datetime.combine(when.date(), datetime.min.time())) / timedelta(seconds=1)


def write_draws_csv(path: str | Path, draws: Iterable[Draw], start: date) -> None:
    """Write draws (start_s from local midnight of `start`) as a heat_kwh CSV `CsvProfile` reads."""
    midnight = datetime.combine(start, datetime.min.time())
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "heat_kwh", "duration_s", "use_temp_c", "category"])
        for d in draws:
            when = midnight + timedelta(seconds=d.start_s)
            writer.writerow(
                [when.isoformat(), repr(d.heat_kwh), repr(d.duration_s), repr(d.use_temp_c), d.category]
            )
