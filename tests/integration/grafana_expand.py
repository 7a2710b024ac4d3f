"""Expand Grafana's InfluxQL macros and template variables the way Grafana does before it sends a query.

Covers what the boiler dashboards use: ``$timeFilter`` / ``$__timeFilter``, ``${__from}`` /
``${__to}`` (epoch ms), ``$__interval`` / ``$__interval_ms``, and custom variables such as
``$site`` (multi-value: regex-escaped values joined as ``(a|b)``) and ``$tz``. An unknown
``$name`` left in the query is an error, not a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

# Grafana's rangeutil.roundInterval: (upper bound ms, interval).
_ROUNDED: Final = (
    (15, "10ms"), (35, "20ms"), (75, "50ms"), (150, "100ms"), (350, "200ms"), (750, "500ms"), (1500, "1s"),
    (3500, "2s"), (7500, "5s"), (12500, "10s"), (17500, "15s"), (25000, "20s"), (45000, "30s"), (90000, "1m"),
    (180000, "2m"), (450000, "5m"), (750000, "10m"), (1050000, "15m"), (1500000, "20m"), (2700000, "30m"),
    (5400000, "1h"), (9000000, "2h"), (16200000, "3h"), (27000000, "6h"), (39600000, "12h"),
    (108000000, "1d"), (1209600000, "1w"), (3628800000, "30d"),
)
_UNIT_MS: Final = {
    "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000,
}
_REGEX_SPECIAL: Final = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def escape_regex(value: str) -> str:
    """@grafana/data ``escapeRegex``."""
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def interval_ms(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text).groups()  # type: ignore[union-attr]
    return int(number) * _UNIT_MS[unit]


def round_interval(raw_ms: float) -> str:
    return next((text for bound, text in _ROUNDED if raw_ms < bound), "1y")


@dataclass(frozen=True)
class TimeRange:
    """What Grafana sends: both ends in epoch milliseconds, ``to`` inclusive (``now/M`` ends at .999)."""

    from_ms: int
    to_ms: int


@dataclass(frozen=True)
class Expander:
    time_range: TimeRange
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    max_data_points: int = 1000
    min_interval: str = "10s"  # the datasource's timeInterval

    @property
    def interval(self) -> str:
        raw = (self.time_range.to_ms - self.time_range.from_ms) / self.max_data_points
        rounded = round_interval(raw)
        return self.min_interval if interval_ms(rounded) < interval_ms(self.min_interval) else rounded

    def _variable(self, name: str) -> str:
        value = self.variables[name]
        if isinstance(value, str):
            return value
        escaped = [escape_regex(v) for v in value]  # multi-value: regex format
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    def expand(self, query: str) -> str:
        r = self.time_range
        macros = {
            "timeFilter": f"time >= {r.from_ms}ms and time <= {r.to_ms}ms",
            "__timeFilter": f"time >= {r.from_ms}ms and time <= {r.to_ms}ms",
            "__from": str(r.from_ms),
            "__to": str(r.to_ms),
            "__interval": self.interval,
            "__interval_ms": str(interval_ms(self.interval)),
        }

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name in macros:
                return macros[name]
            if name in self.variables:
                return self._variable(name)
            raise KeyError(f"unknown Grafana variable ${name} in {query}")

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, query)
