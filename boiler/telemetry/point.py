"""A time-series point and its InfluxDB line-protocol encoding.

Escaping follows the line-protocol reference (InfluxDB 1.x, 2.x and 3.x agree on it):
measurement names escape comma and space; tag keys, tag values and field keys escape comma,
equals sign and space; string field values escape double quote and backslash.

What no escaping can carry is refused with ``ValueError`` instead of being mangled:
- newlines anywhere (the protocol has no escape for them);
- backslashes in names and tag values: 1.x keeps ``\\\\`` as two characters where 2.x reads
  one, so no encoding round-trips on both;
- empty names and tag values, names starting with ``_`` (reserved by 2.x/3.x), the key
  ``time``, a measurement starting with ``#`` (a comment line);
- non-finite floats and integers outside int64.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

FieldValue = float | int | bool | str

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
#: InfluxDB 1.x and 2.x cap a string field at 64 KiB.
MAX_STRING_FIELD_BYTES: Final = 65_535
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_MEASUREMENT_ESCAPES: Final = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"'})


def ns_from_datetime(at: datetime) -> int:
    """Exact nanoseconds since the Unix epoch of a timezone-aware datetime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware (UTC), got naive {at.isoformat()}")
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


def datetime_from_ns(time_ns: int) -> datetime:
    """UTC datetime of a nanosecond timestamp (truncated to microseconds)."""
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} must be a non-empty string, got {name!r}")
    if "\n" in name or "\r" in name:
        raise ValueError(f"{kind} {name!r} contains a newline, which line protocol cannot carry")
    if "\\" in name:
        raise ValueError(
            f"{kind} {name!r} contains a backslash, which InfluxDB versions unescape differently"
        )


def _check_key(kind: str, key: str) -> None:
    _check_name(kind, key)
    if key.startswith("_"):
        raise ValueError(f"{kind} {key!r} starts with '_', reserved by InfluxDB 2.x/3.x")
    if key == "time":
        raise ValueError(f"{kind} 'time' is reserved by InfluxDB")


def _normalise_field(key: str, value: object) -> FieldValue:
    # bool before int: bool is an int subclass but a distinct line-protocol type.
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        if not _INT64_MIN <= as_int <= _INT64_MAX:
            raise ValueError(f"field {key!r}: integer {as_int} is outside int64")
        return as_int
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"field {key!r}: {as_float} is not a finite number")
        return as_float
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ValueError(f"field {key!r}: string contains a newline, which line protocol cannot carry")
        if len(value.encode()) > MAX_STRING_FIELD_BYTES:
            raise ValueError(f"field {key!r}: string longer than {MAX_STRING_FIELD_BYTES} bytes")
        return value
    raise TypeError(f"field {key!r}: unsupported type {type(value).__name__}")


def _encode_field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)  # shortest text that parses back to the same double
    return '"' + value.translate(_STRING_ESCAPES) + '"'


@dataclass(frozen=True, eq=False)
class Point:
    """One point: measurement, tags, at least one field and a timestamp in ns since the epoch (UTC).

    Values are validated and normalised on construction, so a ``Point`` always encodes.
    Integers stay integers (``5i``) and floats stay floats: keep each field's type stable,
    because InfluxDB rejects a write whose type differs from the stored one.
    """

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int
    _line: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name("measurement", self.measurement)
        if self.measurement.startswith("_"):
            raise ValueError(
                f"measurement {self.measurement!r} starts with '_', reserved by InfluxDB 2.x/3.x"
            )
        if self.measurement.startswith("#"):
            raise ValueError(f"measurement {self.measurement!r} starts with '#', which makes a comment line")
        tags: dict[str, str] = {}
        for key, value in self.tags.items():
            _check_key("tag key", key)
            _check_name(f"tag {key!r} value", value)
            tags[key] = value
        if not self.fields:
            raise ValueError(f"point {self.measurement!r} has no field; line protocol needs at least one")
        fields: dict[str, FieldValue] = {}
        for key, value in self.fields.items():
            _check_key("field key", key)
            if key in tags:
                raise ValueError(f"{key!r} is both a tag and a field; InfluxDB 3.x refuses that")
            fields[key] = _normalise_field(key, value)
        if isinstance(self.time_ns, bool) or not isinstance(self.time_ns, numbers.Integral):
            raise TypeError(f"time_ns must be an integer, got {type(self.time_ns).__name__}")
        time_ns = int(self.time_ns)
        if not _INT64_MIN < time_ns < _INT64_MAX:
            raise ValueError(f"time_ns {time_ns} is outside InfluxDB's int64 range")
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "time_ns", time_ns)
        object.__setattr__(self, "_line", self._encode())

    @classmethod
    def at(
        cls,
        measurement: str,
        at: datetime,
        fields: Mapping[str, FieldValue],
        tags: Mapping[str, str] | None = None,
    ) -> Point:
        """Build a point stamped with a timezone-aware datetime."""
        return cls(measurement, tags or {}, fields, ns_from_datetime(at))

    def _encode(self) -> str:
        key = self.measurement.translate(_MEASUREMENT_ESCAPES)
        # Tags sorted by key: the order InfluxDB stores them in, and its fastest write path.
        tag_text = "".join(
            f",{k.translate(_KEY_ESCAPES)}={v.translate(_KEY_ESCAPES)}" for k, v in sorted(self.tags.items())
        )
        field_text = ",".join(
            f"{k.translate(_KEY_ESCAPES)}={_encode_field_value(v)}" for k, v in self.fields.items()
        )
        return f"{key}{tag_text} {field_text} {self.time_ns}"

    # Equality and hash follow the encoded line: {"v": 1} and {"v": True} compare equal as dicts
    # but are different points (1i vs true).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and self._line == other._line

    def __hash__(self) -> int:
        return hash(self._line)

    def to_line(self) -> str:
        """The point as one line of line protocol (no trailing newline), nanosecond precision."""
        return self._line


def encode_lines(points: Iterable[Point]) -> str:
    """Points joined into one newline-separated line-protocol body."""
    return "\n".join(p.to_line() for p in points)
