"""Just enough protobuf wire format to write the BOS+ replies by hand.

betterproto builds and serialises a small message in about 2 ms; a fleet of a thousand
emulated BOS+ miners answers several of them per miner and poll. These helpers write the same
bytes in microseconds. Field numbers come from pyasic's generated bos.v1 classes, and the
tests parse every reply back with those classes.
"""

from __future__ import annotations

import struct


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
