"""The site's local clock: schedules (tariffs, legionella windows, budgets) run in local time.

Timestamps are epoch seconds (UTC); the site's zone turns them into a local minute of the day, a
weekday and a local day number. One place for the default start of runs, too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tank.water import S_PER_DAY

#: A winter Monday: the harder half of the year for hot water. Default start of simulations and demos.
DEFAULT_START = date(2026, 1, 5)


class LocalTime(NamedTuple):
    minute: int  # of the local day, 0–1439
    weekday: int  # Monday = 0
    day: int  # local days since 1970-01-01 (changes at local midnight)


class SiteClock:
    """Local minute, weekday and day for epoch seconds, the zone's offset cached per hour (DST
    changes fall on whole hours in every zone the product serves)."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self._hour_start = -1.0
        self._offset_s = 0.0

    def offset_s(self, now_s: float) -> float:
        hour = now_s - now_s % 3600.0
        if hour != self._hour_start:
            self._hour_start = hour
            off = datetime.fromtimestamp(hour, self.tz).utcoffset()
            self._offset_s = off.total_seconds() if off else 0.0
        return self._offset_s

    def local(self, now_s: float) -> LocalTime:
        t = now_s + self.offset_s(now_s)
        day = int(t // S_PER_DAY)
        minute = int((t - day * S_PER_DAY) // 60)
        return LocalTime(minute, (day + 3) % 7, day)  # 1970-01-01 was a Thursday


def local_midnight_s(timezone: str, day: date) -> float:
    """Epoch seconds of the site's local midnight starting `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).timestamp()
