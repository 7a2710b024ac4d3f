"""Who an emulated miner says it is: protocol family, firmware version, boards, serial and MAC.

The hashboard and chip counts come from pyasic's own model table, because pyasic fills
hashboards only up to the count it expects for the model; a model pyasic does not know gets
a plain default.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal, get_args

from miners.catalogue import CATALOGUE, MinerSpec

Family = Literal["whatsminer", "whatsminer-v3", "braiins"]
FAMILIES: Final[tuple[Family, ...]] = get_args(Family)

#: TCP ports each family listens on (fixed in pyasic: it has no port option for discovery).
RPC_PORT: Final = 4028
WHATSMINER_V3_PORT: Final = 4433
BRAIINS_GRPC_PORT: Final = 50051

#: Firmware versions as the firmware reports them. pyasic picks its Whatsminer class from the
#: date: later than 2024-11-00 means API v3 (miner-protocols.md §1.1 step 3).
WHATSMINER_V2_FW: Final = "20230911.12.Rel"
WHATSMINER_V3_FW: Final = "20250321.14.Rel"
#: BOS+ version string; pyasic takes field 5 of the dash-split, so it needs at least six fields.
BRAIINS_FW: Final = "2025-03-18-0-6a9a3d3b-25.03-plus"

#: The family a model speaks unless told otherwise; the M63 generation ships with API v3 firmware.
_DEFAULT_FAMILY: Final[dict[str, Family]] = {"m63s-plus-plus": "whatsminer-v3"}
#: Which catalogue firmware each family emulates. A model with `generic` firmware (no emulator of
#: its own protocol, e.g. Auradine's AH3880) is emulated as a generic hydro unit that speaks the
#: Whatsminer API: pyasic identifies it by the Whatsminer handshake and, not knowing the model
#: string, builds its generic `WhatsminerUnknown` class (docs/emulator.md, "Families").
_FAMILY_FIRMWARE: Final[dict[Family, frozenset[str]]] = {
    "whatsminer": frozenset({"whatsminer", "generic"}),
    "whatsminer-v3": frozenset({"whatsminer", "generic"}),
    "braiins": frozenset({"braiins"}),
}
#: The model a family emulates when only the family is given.
DEFAULT_MODEL: Final[dict[Family, str]] = {
    "whatsminer": "m53s-plus-plus",
    "whatsminer-v3": "m63s-plus-plus",
    "braiins": "s21-hyd",
}


def default_family(spec: MinerSpec) -> Family:
    """The protocol family a catalogue model speaks by default; ValueError if none is emulated."""
    if spec.key in _DEFAULT_FAMILY:
        return _DEFAULT_FAMILY[spec.key]
    if spec.firmware == "braiins":
        return "braiins"
    if spec.firmware in ("whatsminer", "generic"):
        return "whatsminer"
    raise ValueError(
        f"model {spec.key!r} has firmware {spec.firmware!r}, which no emulated family speaks "
        f"(families: {', '.join(FAMILIES)})"
    )


def check_family(spec: MinerSpec, family: str) -> Family:
    """`family` as a Family if it can emulate `spec`, else ValueError saying what is allowed."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    fam: Family = family  # type: ignore[assignment]
    if spec.firmware not in _FAMILY_FIRMWARE[fam]:
        fits = [f for f in FAMILIES if spec.firmware in _FAMILY_FIRMWARE[f]]
        raise ValueError(
            f"model {spec.key!r} ({spec.model}) runs {spec.firmware} firmware; family {family!r} "
            f"cannot emulate it" + (f" (use {', '.join(fits)})" if fits else "")
        )
    return fam


def find_spec(name: str) -> MinerSpec:
    """A catalogue entry by key ('s21-hyd') or by model string ('Antminer S21 Hyd.', any case)."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    for spec in CATALOGUE.values():
        if spec.model.casefold() == name.casefold():
            return spec
    raise KeyError(f"unknown miner model {name!r}; valid keys: {', '.join(sorted(CATALOGUE))}")


@dataclass(frozen=True, slots=True)
class BoardLayout:
    boards: int
    chips_per_board: int


@cache
def board_layout(spec: MinerSpec, family: Family) -> BoardLayout:
    """Hashboards and chips per board as pyasic expects them for this model and family."""
    # Imported here: only the emulator needs pyasic's table, and the import is slow.
    from pyasic.miners.factory import MINER_CLASSES, MinerTypes

    miner_type = MinerTypes.BRAIINS_OS if family == "braiins" else MinerTypes.WHATSMINER
    cls = MINER_CLASSES[miner_type].get(pyasic_key(spec, family))
    boards = getattr(cls, "expected_hashboards", None) if cls is not None else None
    chips = getattr(cls, "expected_chips", None) if cls is not None else None
    return BoardLayout(boards=boards or (3 if family == "braiins" else 4), chips_per_board=chips or 100)


def devdetails_model(spec: MinerSpec, family: Family) -> str:
    """The model string the firmware puts in `devdetails`: Whatsminer writes 'M53S++_VK10'."""
    return spec.model if family == "braiins" else spec.model.replace(" ", "_")


def pyasic_key(spec: MinerSpec, family: Family) -> str:
    """The key pyasic's factory derives from `devdetails` to look up its class."""
    raw = devdetails_model(spec, family)
    if family == "braiins":
        return raw.replace("Bitmain ", "").upper()
    raw = raw.replace("_", "")
    return (raw[:-1] + "0").upper()


def family_ports(family: Family, *, legacy_rpc: bool = True) -> tuple[int, ...]:
    """The TCP ports a miner of `family` listens on (v3 firmware also answers on 4028 unless
    `legacy_rpc` is False); the same set `EmulatedMiner` binds."""
    if family == "braiins":
        return (RPC_PORT, BRAIINS_GRPC_PORT)
    if family == "whatsminer-v3":
        return (RPC_PORT, WHATSMINER_V3_PORT) if legacy_rpc else (WHATSMINER_V3_PORT,)
    return (RPC_PORT,)


def firmware_version(family: Family) -> str:
    if family == "braiins":
        return BRAIINS_FW
    return WHATSMINER_V3_FW if family == "whatsminer-v3" else WHATSMINER_V2_FW


def derived_mac(ip: str, family: Family) -> str:
    """A stable, locally administered MAC made from the IP (so every run gives the same one)."""
    octets = ipaddress.IPv4Address(ip).packed
    tag = FAMILIES.index(family) + 1
    return ":".join(f"{b:02X}" for b in (0x02, tag, *octets))


def derived_serial(ip: str, spec: MinerSpec) -> str:
    digest = hashlib.sha1(f"{spec.key}@{ip}".encode()).hexdigest()[:12].upper()
    return f"EMU{digest}"


def loopback_ips(first_ip: str, count: int) -> Iterator[str]:
    """`count` addresses from `first_ip` upward inside 127.0.0.0/8, skipping .0 and .255 hosts
    (a plant /24 does not use them, so a CIDR scan finds every emulated miner)."""
    ip = ipaddress.IPv4Address(first_ip)
    loopback = ipaddress.IPv4Network("127.0.0.0/8")
    if ip not in loopback:
        raise ValueError(f"{first_ip} is not a loopback address (127.0.0.0/8)")
    produced = 0
    while produced < count:
        if ip not in loopback or ip == loopback.broadcast_address:
            raise ValueError(f"{count} addresses from {first_ip} do not fit in 127.0.0.0/8")
        if ip.packed[3] not in (0, 255):
            yield str(ip)
            produced += 1
        ip += 1
