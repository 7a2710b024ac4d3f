"""Just enough protobuf wire format, both ways, for the BOS+ gRPC messages.

betterproto, which pyasic's generated classes use, needs about 2 ms to build and serialise a
small message and 16 ms to parse a `GetHashboards` reply. The emulator writes its replies with
the helpers below, and the driver reads the replies it polls with `decode`, both in microseconds.
Field numbers come from pyasic's generated bos.v1 classes; the tests check every reply against
those classes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

# ---------------------------------------------------------------------------------------- writing


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf writes negative ints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def uint(field: int, value: int) -> bytes:
    """uint32/uint64/int/bool/enum field (wire type 0)."""
    return varint(field << 3) + varint(int(value))


def double(field: int, value: float) -> bytes:
    return varint(field << 3 | 1) + struct.pack("<d", value)


def blob(field: int, data: bytes) -> bytes:
    """Length-delimited field: bytes, or an embedded message already encoded."""
    return varint(field << 3 | 2) + varint(len(data)) + data


def string(field: int, text: str) -> bytes:
    return blob(field, text.encode())


def message(field: int, *parts: bytes) -> bytes:
    return blob(field, b"".join(parts))


# ---------------------------------------------------------------------------------------- reading

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
#: When a Timestamp field holds this, betterproto's `to_pydict` leaves it out as a default.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Kind(Enum):
    """How a field's bytes become a Python value (the protobuf scalar types, grouped)."""

    UINT = "uint"  # uint32, uint64, fixed-width kinds excluded
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    ENUM = "enum"
    DOUBLE = "double"
    FLOAT = "float"
    STRING = "string"
    BYTES = "bytes"
    MESSAGE = "message"
    WRAPPED = "wrapped"  # google.protobuf.*Value: the inner value itself
    TIMESTAMP = "timestamp"  # google.protobuf.Timestamp: a UTC datetime


_WIRE = {
    Kind.UINT: _VARINT, Kind.INT32: _VARINT, Kind.INT64: _VARINT, Kind.BOOL: _VARINT, Kind.ENUM: _VARINT,
    Kind.DOUBLE: _FIXED64, Kind.FLOAT: _FIXED32, Kind.STRING: _LEN, Kind.BYTES: _LEN, Kind.MESSAGE: _LEN,
    Kind.WRAPPED: _LEN, Kind.TIMESTAMP: _LEN,
}
DEFAULTS: dict[Kind, Any] = {
    Kind.UINT: 0, Kind.INT32: 0, Kind.INT64: 0, Kind.BOOL: False, Kind.ENUM: 0, Kind.DOUBLE: 0.0,
    Kind.FLOAT: 0.0, Kind.STRING: "", Kind.BYTES: b"", Kind.TIMESTAMP: EPOCH,
}


@dataclass(eq=False, slots=True)
class Field:
    """One field of a message schema.

    `schema` is the embedded message's schema (MESSAGE), or the one-field wrapper's (WRAPPED).
    `optional` (proto3 `optional`) and oneof members (`rivals`: the other members' names) are
    kept even when they hold their type's default; other scalars are then left out.
    """

    name: str
    kind: Kind
    schema: Schema | None = None
    repeated: bool = False
    optional: bool = False
    rivals: tuple[str, ...] = ()
    in_oneof: bool = False
    wire: int = field(init=False)

    def __post_init__(self) -> None:
        self.wire = _WIRE[self.kind]
        if self.kind in (Kind.MESSAGE, Kind.WRAPPED) and self.schema is None:
            raise ValueError(f"field {self.name}: a {self.kind.value} field needs a schema")


#: Field number -> field; a message's schema.
Schema = dict[int, Field]
_TIMESTAMP: Schema = {1: Field("seconds", Kind.INT64), 2: Field("nanos", Kind.INT32)}
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint starting at `pos` and the position after it."""
    if pos >= len(data):
        raise ValueError("truncated varint")
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value, shift = byte & 0x7F, 7
    while True:
        pos += 1
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos + 1
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def decode(data: bytes, schema: Schema) -> dict[str, Any]:
    """The message in `data` as the dict betterproto's `to_pydict()` makes of it.

    Keys are the schema's names; fields the schema does not list are skipped. As in `to_pydict`,
    a scalar holding its default is left out (unless optional or in a oneof), an embedded message
    on the wire is kept even when empty, a repeated field is a list, and the last of a repeated
    non-repeated field wins. Raises ValueError on bytes that are no valid message.
    """
    out: dict[str, Any] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        wire = key & 7
        raw: Any
        if wire == _VARINT:
            raw, pos = read_varint(data, pos)
        elif wire == _LEN:
            size, pos = read_varint(data, pos)
            stop = pos + size
            if stop > end:
                raise ValueError("length-delimited field runs past the end")
            raw, pos = data[pos:stop], stop
        elif wire in (_FIXED64, _FIXED32):
            stop = pos + (8 if wire == _FIXED64 else 4)
            if stop > end:
                raise ValueError("fixed-width field runs past the end")
            raw, pos = data[pos:stop], stop
        else:
            raise ValueError(f"unsupported wire type {wire}")
        spec = schema.get(key >> 3)
        if spec is None:
            continue
        if wire != spec.wire:
            raise ValueError(f"field {spec.name}: wire type {wire}, expected {spec.wire}")
        value = _value(spec, raw)
        if spec.repeated:
            out.setdefault(spec.name, []).append(value)
            continue
        for rival in spec.rivals:
            out.pop(rival, None)
        if spec.optional or spec.in_oneof or spec.kind in (Kind.MESSAGE, Kind.WRAPPED) or value != DEFAULTS[spec.kind]:
            out[spec.name] = value
        else:
            out.pop(spec.name, None)
    return out


def _value(spec: Field, raw: Any) -> Any:
    kind = spec.kind
    if kind is Kind.UINT or kind is Kind.ENUM:
        return raw
    if kind is Kind.MESSAGE:
        assert spec.schema is not None
        return decode(raw, spec.schema)
    if kind is Kind.DOUBLE:
        return _DOUBLE.unpack(raw)[0]
    if kind is Kind.STRING:
        return str(raw, "utf-8")
    if kind is Kind.BOOL:
        return raw > 0
    if kind is Kind.INT32 or kind is Kind.INT64:
        bits = 32 if kind is Kind.INT32 else 64
        raw &= (1 << bits) - 1
        return raw - (1 << bits) if raw >> (bits - 1) else raw
    if kind is Kind.FLOAT:
        return _FLOAT.unpack(raw)[0]
    if kind is Kind.BYTES:
        return bytes(raw)
    if kind is Kind.WRAPPED:
        assert spec.schema is not None
        inner = spec.schema[1]
        return decode(raw, spec.schema).get(inner.name, DEFAULTS[inner.kind])
    # Kind.TIMESTAMP, converted as betterproto does (whole microseconds).
    stamp = decode(raw, _TIMESTAMP)
    return EPOCH + timedelta(seconds=stamp.get("seconds", 0), microseconds=stamp.get("nanos", 0) // 1000)
