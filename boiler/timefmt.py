"""Times and durations as people read them: plant time in the site's zone, "1 day", "36 h", "3 min 05 s"."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

_MINUTE_S = 60
_HOUR_S = 3600
_DAY_S = 86_400


def plant_time(at_s: float, timezone: str) -> str:
    """UTC epoch seconds as the site's wall clock shows them: 'Mon 05 Jan 00:00'."""
    return datetime.fromtimestamp(at_s, ZoneInfo(timezone)).strftime("%a %d %b %H:%M")


def plant_time_iso(at_s: float, timezone: str) -> str:
    """UTC epoch seconds in the site's zone, ISO 8601 to the minute: '2026-01-05T00:00+01:00'."""
    return datetime.fromtimestamp(at_s, ZoneInfo(timezone)).isoformat(timespec="minutes")


def human_duration(seconds: float) -> str:
    """A length of time as people write it in a title: '1 day', '2 days', '36 h', '90 min', '45 s',
    '2.5 days' (whole units where they fit; a fraction only for several days)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r}")
    s = round(seconds)
    if s >= _DAY_S and s % _DAY_S == 0:
        return _plural(s // _DAY_S, "day")
    if s >= 3 * _DAY_S:
        return f"{round(seconds / _DAY_S, 1):g} days"
    if s >= _HOUR_S and s % _HOUR_S == 0:
        return f"{s // _HOUR_S} h"
    if s >= 2 * _HOUR_S:
        return f"{round(seconds / _HOUR_S, 1):g} h"
    if s >= _MINUTE_S and s % _MINUTE_S == 0:
        return f"{s // _MINUTE_S} min"
    if s >= 2 * _MINUTE_S:
        return f"{round(seconds / _MINUTE_S, 1):g} min"
    return f"{s} s"


def clock_span(seconds: float) -> str:
    """A countdown as a live view shows it: '42 s', '3 min 05 s', '1 h 05 min'."""
    if not math.isfinite(seconds):
        return "—"
    s = max(0, round(seconds))
    if s < _MINUTE_S:
        return f"{s} s"
    if s < _HOUR_S:
        return f"{s // _MINUTE_S} min {s % _MINUTE_S:02d} s"
    return f"{s // _HOUR_S} h {s % _HOUR_S // _MINUTE_S:02d} min"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
