"""Daily windows in site-local time (tariff periods, peak hours, the legionella window)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time


def minute_of(t: time) -> int:
    return t.hour * 60 + t.minute


def in_window(minute: int, start: time, end: time) -> bool:
    """Is this minute of the day within [start, end)? Windows may wrap past midnight."""
    s, e = minute_of(start), minute_of(end)
    return s <= minute < e if s < e else (minute >= s or minute < e)


def in_any(minute: int, windows: Iterable[tuple[time, time]]) -> bool:
    return any(in_window(minute, s, e) for s, e in windows)
