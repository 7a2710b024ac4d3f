"""Our protobuf decoder against pyasic's own decoding (betterproto `parse(...).to_pydict()`, with
pyasic's patch applied), on the emulator's replies and on random messages built with pyasic's
generated classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import betterproto
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasic.web.braiins_os.better_monkey import patch
from pyasic.web.braiins_os.proto.braiins.bos import v1 as bos

from miners import protowire as pw
from miners.bos_replies import REPLIES, decode_reply, schema_of
from miners.emulator import EmulatedMiner
from miners.emulator.braiins import BraiinsGrpcApi
from miners.protowire import Field, Kind, decode

patch()  # pyasic's to_pydict, as its BOSer readers see it

ROOTS: dict[str, type[betterproto.Message]] = {
    "/braiins.bos.v1.MinerService/GetMinerStats": bos.GetMinerStatsResponse,
    "/braiins.bos.v1.MinerService/GetHashboards": bos.GetHashboardsResponse,
    "/braiins.bos.v1.PerformanceService/GetActivePerformanceMode": bos.PerformanceMode,
}


def pyasic_dict(cls: type[betterproto.Message], data: bytes) -> dict[str, Any]:
    return cls().parse(data).to_pydict()


# ---------------------------------------------------------------------- the emulator's replies
@pytest.mark.parametrize("state", ["mining", "restarting", "asleep"])
def test_emulator_replies_decode_as_pyasic_decodes_them(state: str) -> None:
    now = [1000.0]
    emu = EmulatedMiner("s21-hyd", "127.37.0.1", family="braiins", clock=lambda: now[0], coolant_inlet_c=41.5)
    if state == "restarting":
        emu.apply_power_limit(4200.0)
    elif state == "asleep":
        emu.stop_mining()
    api = BraiinsGrpcApi(emu)
    replies = {
        "/braiins.bos.v1.MinerService/GetMinerStats": api._stats(b""),
        "/braiins.bos.v1.MinerService/GetHashboards": api._hashboards(b""),
        "/braiins.bos.v1.PerformanceService/GetActivePerformanceMode": api._performance_mode(b""),
    }
    for path, data in replies.items():
        assert decode_reply(path, data) == pyasic_dict(ROOTS[path], data), path
    boards = decode_reply("/braiins.bos.v1.MinerService/GetHashboards",
                          replies["/braiins.bos.v1.MinerService/GetHashboards"])["hashboards"]
    assert len(boards) == emu.board_count
    assert {b["lowestInletTemp"]["degreeC"] for b in boards} == {41.5}


# ---------------------------------------------------------------------- random messages
_INT_RANGES = {
    betterproto.TYPE_UINT32: (0, 2**32 - 1), betterproto.TYPE_UINT64: (0, 2**64 - 1),
    betterproto.TYPE_INT32: (-(2**31), 2**31 - 1), betterproto.TYPE_INT64: (-(2**63), 2**63 - 1),
}
_STAMPS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def _scalar(proto_type: str, enum: Any = None) -> st.SearchStrategy[Any]:
    if proto_type in _INT_RANGES:
        low, high = _INT_RANGES[proto_type]
        return st.one_of(st.just(0), st.integers(low, high))
    if proto_type == betterproto.TYPE_BOOL:
        return st.booleans()
    if proto_type == betterproto.TYPE_DOUBLE:
        return st.one_of(st.just(0.0), st.floats(allow_nan=False))
    if proto_type == betterproto.TYPE_STRING:
        return st.one_of(st.just(""), st.text(max_size=12))
    if proto_type == betterproto.TYPE_ENUM:
        return st.sampled_from(list(enum))
    raise AssertionError(f"no strategy for {proto_type}")


def messages(cls: type[betterproto.Message], depth: int = 0) -> st.SearchStrategy[betterproto.Message]:
    """Random instances of a generated class: any field present or absent, at most one member
    of each oneof, up to three items in a repeated field."""
    meta = cls._betterproto
    fields: dict[str, st.SearchStrategy[Any]] = {}
    groups: dict[str, list[str]] = {}
    for name, info in meta.meta_by_field_name.items():
        target = meta.cls_by_field.get(name)
        if info.proto_type == betterproto.TYPE_MESSAGE:
            if info.wraps is not None:
                value: st.SearchStrategy[Any] = _scalar(info.wraps)
            elif target is datetime:
                value = _STAMPS
            elif depth >= 6:
                continue
            else:
                value = messages(target, depth + 1)
        else:
            value = _scalar(info.proto_type, target)
        if meta.default_gen[name] is list:
            value = st.lists(value, max_size=3)
        if info.group is not None:
            groups.setdefault(info.group, []).append(name)
        fields[name] = value

    @st.composite
    def build(draw: st.DrawFn) -> betterproto.Message:
        chosen = {name: draw(st.one_of(st.none(), strategy)) for name, strategy in fields.items()}
        for members in groups.values():
            keep = draw(st.sampled_from([None, *members]))
            for name in members:
                if name != keep:
                    chosen[name] = None
        return cls(**{name: value for name, value in chosen.items() if value is not None})

    return build()


@pytest.mark.parametrize("path", list(ROOTS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_replies_decode_as_pyasic_decodes_them(path: str, data: st.DataObject) -> None:
    message = data.draw(messages(ROOTS[path]))
    wire = bytes(message)
    assert decode_reply(path, wire) == pyasic_dict(ROOTS[path], wire)


def test_field_tables_name_every_field_pyasic_reads() -> None:
    # The paths the BOSer readers and our driver index into exist in the tables.
    stats, boards, mode = (REPLIES[p] for p in ROOTS)
    assert stats[3].name == "powerStats" and stats[3].schema is not None
    assert stats[3].schema[1].name == "approximatedConsumption"
    assert mode[2].name == "tunerMode" and mode[2].rivals == ("manualMode",)
    board = boards[1].schema
    assert boards[1].repeated and board is not None
    assert (board[10].name, board[11].name) == ("lowestInletTemp", "highestOutletTemp")
    assert board[3].kind is Kind.WRAPPED and board[9].optional


# ---------------------------------------------------------------------- the wire format itself
def test_wire_rules_match_betterproto() -> None:
    power = schema_of(bos.Power)
    # The last of a repeated scalar wins; a default value then drops the key.
    assert decode(pw.uint(1, 5) + pw.uint(1, 7), power) == {"watt": 7}
    assert decode(pw.uint(1, 5) + pw.uint(1, 0), power) == pyasic_dict(bos.Power, pw.uint(1, 5) + pw.uint(1, 0)) == {}
    # Unknown fields are skipped, whatever their wire type.
    noise = pw.uint(9, 300) + pw.double(10, 1.5) + pw.string(11, "x") + b"\x65\x00\x00\x80\x3f"  # field 12 fixed32
    assert decode(noise + pw.uint(1, 5360), power) == {"watt": 5360}
    # A negative int64 is ten bytes of two's complement.
    stamp = {1: Field("seconds", Kind.INT64)}
    assert decode(pw.uint(1, -5), stamp) == {"seconds": -5}
    # An embedded message on the wire is kept even when it is empty.
    assert decode(pw.message(3, pw.message(1)), REPLIES["/braiins.bos.v1.MinerService/GetMinerStats"]) == {
        "powerStats": {"approximatedConsumption": {}}}
    # Timestamps become UTC datetimes with whole microseconds, as betterproto makes them.
    when = datetime(2026, 12, 5, 15, 0, 1, 123456, tzinfo=UTC)
    wire = bytes(bos.PoolStats(last_share_time=when))
    assert decode(wire, schema_of(bos.PoolStats)) == {"lastShareTime": when}
    assert decode(wire, schema_of(bos.PoolStats))["lastShareTime"] - when == timedelta(0)


@pytest.mark.parametrize(
    "data",
    [b"\x08", b"\x08\xff", b"\x0a\x05ab", b"\x09\x00\x00", b"\x0b", b"\x08" + b"\xff" * 11],
    ids=["no-value", "cut-varint", "cut-blob", "cut-fixed64", "group-wire-type", "overlong-varint"],
)
def test_broken_bytes_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode(data, schema_of(bos.Power))


def test_a_field_of_the_wrong_wire_type_raises() -> None:
    with pytest.raises(ValueError, match="watt"):
        decode(pw.double(1, 1.0), schema_of(bos.Power))


def test_types_it_cannot_decode_are_refused_when_the_table_is_built() -> None:
    with pytest.raises(NotImplementedError, match="hashboard_ids: repeated scalars"):
        schema_of(bos.EnableHashboardsRequest)


def test_the_polled_requests_are_empty_messages() -> None:
    # bos_web sends b"" for them instead of serialising pyasic's request objects.
    for cls in (bos.GetMinerStatsRequest, bos.GetHashboardsRequest, bos.GetPerformanceModeRequest):
        assert not cls._betterproto.meta_by_field_name and bytes(cls()) == b""
