"""The three BOS+ gRPC replies the driver reads every poll, decoded from their bytes.

pyasic decodes every gRPC reply with betterproto (16 ms for a `GetHashboards`, 4-5 ms for a
`GetMinerStats`) and hands its readers `to_pydict()`. For the replies read every poll we decode
the bytes with `protowire` into the same dict, in well under a millisecond. The field tables are
taken from pyasic's own generated classes, so a field pyasic knows is a field we decode.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import betterproto
from betterproto.casing import camel_case
from pyasic.web.braiins_os.proto.braiins.bos import v1 as bos

from miners.protowire import Field, Kind, Schema, decode

_SCALARS = {
    betterproto.TYPE_UINT32: Kind.UINT, betterproto.TYPE_UINT64: Kind.UINT,
    betterproto.TYPE_INT32: Kind.INT32, betterproto.TYPE_INT64: Kind.INT64,
    betterproto.TYPE_BOOL: Kind.BOOL, betterproto.TYPE_ENUM: Kind.ENUM,
    betterproto.TYPE_DOUBLE: Kind.DOUBLE, betterproto.TYPE_FLOAT: Kind.FLOAT,
    betterproto.TYPE_STRING: Kind.STRING, betterproto.TYPE_BYTES: Kind.BYTES,
}


def schema_of(cls: type[betterproto.Message], _seen: dict[type, Schema] | None = None) -> Schema:
    """The field table of a betterproto message class (and of every message it embeds).

    Raises NotImplementedError for what `protowire.decode` does not read: maps, packed
    repeated scalars, zig-zag and fixed-width integers, durations.
    """
    seen = {} if _seen is None else _seen
    if cls in seen:
        return seen[cls]  # a message that embeds itself shares its table
    schema: Schema = {}
    seen[cls] = schema
    meta = cls._betterproto
    groups: dict[str, list[str]] = {}
    for name, info in meta.meta_by_field_name.items():
        if info.group is not None:
            groups.setdefault(info.group, []).append(camel_case(name).rstrip("_"))
    for name, info in meta.meta_by_field_name.items():
        key = camel_case(name).rstrip("_")
        repeated = meta.default_gen[name] is list
        sub: Schema | None = None
        if info.proto_type == betterproto.TYPE_MESSAGE:
            target = meta.cls_by_field[name]
            if info.wraps is not None:
                kind, sub = Kind.WRAPPED, {1: Field("value", _scalar(info.wraps, f"{cls.__name__}.{name}"))}
            elif target is datetime:
                kind = Kind.TIMESTAMP
            else:
                kind, sub = Kind.MESSAGE, schema_of(target, seen)
        else:
            kind = _scalar(info.proto_type, f"{cls.__name__}.{name}")
            if repeated:
                raise NotImplementedError(f"{cls.__name__}.{name}: repeated scalars are not decoded")
        rivals = tuple(n for n in groups.get(info.group or "", []) if n != key)
        schema[info.number] = Field(key, kind, sub, repeated=repeated, optional=info.optional,
                                    rivals=rivals, in_oneof=info.group is not None)
    return schema


def _scalar(proto_type: str, where: str) -> Kind:
    try:
        return _SCALARS[proto_type]
    except KeyError:
        raise NotImplementedError(f"{where}: protobuf type {proto_type} is not decoded") from None


#: gRPC method path -> the table of its reply, for the replies read every poll.
REPLIES: dict[str, Schema] = {
    "/braiins.bos.v1.MinerService/GetMinerStats": schema_of(bos.GetMinerStatsResponse),
    "/braiins.bos.v1.MinerService/GetHashboards": schema_of(bos.GetHashboardsResponse),
    "/braiins.bos.v1.PerformanceService/GetActivePerformanceMode": schema_of(bos.PerformanceMode),
}


def decode_reply(path: str, data: bytes) -> dict[str, Any]:
    """The reply of the gRPC method `path`, as pyasic's `to_pydict()` would give it."""
    return decode(data, REPLIES[path])
