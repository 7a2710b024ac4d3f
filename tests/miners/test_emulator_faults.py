"""Fault modes at the protocol level: what a client sees on the wire, and what unmodified pyasic does.

Each fault is checked on every port of every family with raw sockets (the bytes a client gets)
and through pyasic (so the fleet driver's tests know what to expect from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import struct
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyasic
import pytest
from pyasic.errors import APIError

from miners.catalogue import get_spec
from miners.emulator import (
    Disconnect,
    EmulatedMiner,
    EmulatorFleet,
    Garbage,
    Slow,
    Truncated,
    Unreachable,
    WrongPassword,
)
from miners.emulator.faults import GARBAGE_BYTES
from miners.model import MinerState
from tests.loopback import claim_net

warnings.filterwarnings("ignore", module="pyasic")
logging.getLogger("root").setLevel(logging.ERROR)
TIMEOUT_S = 15.0
NET = claim_net()
FIELDS = ["wattage", "wattage_limit", "hashrate"]


class FakeClock:
    def __init__(self, start_s: float = 50_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


FAMILIES = {"whatsminer": "m53s-plus-plus", "whatsminer-v3": "m63s-plus-plus", "braiins": "s21-hyd"}
PORTS = {"whatsminer": (4028,), "whatsminer-v3": (4028, 4433), "braiins": (4028, 50051)}
# Third octet of each test's addresses, so that no two tests share a listener.
_octets = iter(range(20, 250))


@dataclass
class Rig:
    family: str
    clock: FakeClock
    emu: EmulatedMiner
    fleet: EmulatorFleet


@pytest.fixture(params=list(FAMILIES))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    family: str = request.param
    clock = FakeClock()
    emu = EmulatedMiner(FAMILIES[family], f"{NET}.{next(_octets)}.1", family=family, clock=clock)
    async with EmulatorFleet([emu]) as fleet:
        clock.advance(600)
        yield Rig(family, clock, emu, fleet)


async def pyasic_miner(ip: str) -> pyasic.AnyMiner:
    miner = await asyncio.wait_for(pyasic.get_miner(ip), TIMEOUT_S)
    assert miner is not None
    return miner


# ---------------------------------------------------------------------- raw wire helpers
async def rpc_raw(ip: str, command: str = "summary") -> bytes:
    """One cgminer-style request on 4028; everything read until the server closes."""
    reader, writer = await asyncio.open_connection(ip, 4028)
    try:
        writer.write(json.dumps({"command": command}).encode())
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def v3_raw(ip: str, cmd: str = "get.device.info") -> bytes:
    """One length-prefixed request on 4433; everything read until the server closes or the frame ends."""
    reader, writer = await asyncio.open_connection(ip, 4433)
    try:
        body = json.dumps({"cmd": cmd}).encode()
        writer.write(struct.pack("<I", len(body)) + body)
        await writer.drain()
        head = await reader.readexactly(4)
        (length,) = struct.unpack("<I", head)
        return head + await reader.read(length)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def grpc_raw(ip: str) -> bytes:
    """The HTTP/2 client preface on 50051 and the first bytes that come back (b"" at EOF)."""
    reader, writer = await asyncio.open_connection(ip, 50051)
    try:
        writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        await writer.drain()
        return await reader.read(65536)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def raw(ip: str, port: int) -> bytes:
    return await {4028: rpc_raw, 4433: v3_raw, 50051: grpc_raw}[port](ip)


# ---------------------------------------------------------------------- faults
async def test_healthy_wire_replies(rig: Rig) -> None:
    reply = json.loads(await rpc_raw(rig.emu.ip, "devdetails"))
    assert reply["DEVDETAILS"][0]["Model"] == rig.emu.devdetails_model
    if rig.family == "whatsminer-v3":
        frame = await v3_raw(rig.emu.ip)
        assert json.loads(frame[4:])["msg"]["miner"]["miner-sn"] == rig.emu.serial


async def test_unreachable_refuses_every_port_until_cleared(rig: Rig) -> None:
    miner = await pyasic_miner(rig.emu.ip)
    rig.emu.set_fault(Unreachable())
    for port in PORTS[rig.family]:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(rig.emu.ip, port)
    assert await asyncio.wait_for(pyasic.get_miner(rig.emu.ip), TIMEOUT_S) is None
    # pyasic returns empty fields, or (BOS+ without a cached login) raises APIError.
    assert await _get_data_outcome(miner) in ((None, None, None), "APIError")
    if rig.family == "braiins":
        # pyasic's BOS+ client logs in outside its try block: the refused login escapes.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S)
    else:
        assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is False

    rig.emu.clear_fault()
    await rig.fleet.settle()
    assert type(await pyasic_miner(rig.emu.ip)).__name__ == type(miner).__name__
    data = await asyncio.wait_for(miner.get_data(include=FIELDS), TIMEOUT_S)
    assert data.wattage == round(rig.emu.readings().power_w)


async def test_slow_answers_late_but_correctly(rig: Rig) -> None:
    miner = await pyasic_miner(rig.emu.ip)
    rig.emu.set_fault(Slow(0.4))
    for port in PORTS[rig.family]:
        # Nothing can arrive before the delay has passed ...
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(raw(rig.emu.ip, port), 0.2)
        # ... and then the normal answer does.
        assert len(await asyncio.wait_for(raw(rig.emu.ip, port), TIMEOUT_S)) > 8
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(miner.get_data(include=FIELDS), 0.2)
    data = await asyncio.wait_for(miner.get_data(include=FIELDS), TIMEOUT_S)
    assert data.wattage == round(rig.emu.readings().power_w)
    assert data.wattage_limit == round(rig.emu.model.power_limit_w)


async def test_garbage_replies_are_no_protocol_and_pyasic_survives(rig: Rig) -> None:
    miner = await pyasic_miner(rig.emu.ip)
    rig.emu.set_fault(Garbage())
    for port in PORTS[rig.family]:
        assert await raw(rig.emu.ip, port) == GARBAGE_BYTES
    outcome = await _get_data_outcome(miner)
    # API v2 pyasic swallows decode errors (fields None); v3 and BOS+ raise APIError from get_data.
    if rig.family == "whatsminer":
        assert outcome == (None, None, None)
    else:
        assert outcome == "APIError"
    assert rig.emu.model.power_limit_w == get_spec(FAMILIES[rig.family]).nominal_power_w


async def test_garbage_makes_pyasic_factory_raise(rig: Rig) -> None:
    """pyasic 0.79's socket ping decodes strictly as UTF-8: a discovery must catch this itself."""
    rig.emu.set_fault(Garbage())
    with pytest.raises(UnicodeDecodeError):
        await asyncio.wait_for(pyasic.get_miner(rig.emu.ip), TIMEOUT_S)
    # pyasic leaves the sibling ping task with an unretrieved exception; collect it here, not
    # at some random later point (its __del__ logging inside a C call trips CPython 3.11).
    await asyncio.sleep(0)
    gc.collect()


async def test_truncated_replies_stop_half_way(rig: Rig) -> None:
    healthy = await rpc_raw(rig.emu.ip, "devdetails")
    rig.emu.set_fault(Truncated())
    cut = await rpc_raw(rig.emu.ip, "devdetails")
    assert len(cut) == len(healthy) // 2
    assert healthy.startswith(cut[:20])
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    if rig.family == "whatsminer-v3":
        frame = await v3_raw(rig.emu.ip)
        (length,) = struct.unpack("<I", frame[:4])
        assert 0 < len(frame) - 4 < length  # the frame announces more than it delivers
    miner_outcome = await _get_data_outcome(await _healthy_handle(rig))
    assert miner_outcome in ((None, None, None), "APIError")


async def test_truncated_reply_still_executes_the_command() -> None:
    """A cut reply does not undo the write: the client cannot tell whether it happened."""
    clock = FakeClock()
    emu = EmulatedMiner("s21-hyd", f"{NET}.{next(_octets)}.1", clock=clock)
    async with EmulatorFleet([emu]):
        miner = await pyasic_miner(emu.ip)
        await asyncio.wait_for(miner.get_data(include=FIELDS), TIMEOUT_S)  # logs in
        emu.set_fault(Truncated())
        with pytest.raises(Exception):  # noqa: B017 - pyasic lets grpclib's StreamTerminatedError out
            await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S)
        assert emu.model.power_limit_w == 4000


async def test_disconnect_answers_k_requests_then_resets(rig: Rig) -> None:
    rig.emu.set_fault(Disconnect(after_requests=2))
    assert json.loads(await rpc_raw(rig.emu.ip, "summary"))["SUMMARY"]
    assert json.loads(await rpc_raw(rig.emu.ip, "summary"))["SUMMARY"]
    for port in PORTS[rig.family]:
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await raw(rig.emu.ip, port)
    rig.emu.clear_fault()
    assert json.loads(await rpc_raw(rig.emu.ip, "summary"))["SUMMARY"]


async def test_disconnect_mid_poll_leaves_a_partial_or_failed_read(rig: Rig) -> None:
    miner = await pyasic_miner(rig.emu.ip)
    rig.emu.set_fault(Disconnect(after_requests=1))
    # These fields need at least two requests on every family: only one is answered.
    try:
        data = await asyncio.wait_for(miner.get_data(include=["wattage", "hashboards", "mac"]), TIMEOUT_S)
    except APIError:
        return
    boards_known = any(b.temp is not None for b in data.hashboards)
    assert [data.wattage is not None, boards_known, data.mac is not None].count(True) < 3


async def test_reboot_closes_ports_then_returns_with_fresh_uptime(rig: Rig) -> None:
    spec = get_spec(FAMILIES[rig.family])
    miner = await pyasic_miner(rig.emu.ip)
    assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is True
    rig.clock.advance(spec.restart_delay_s + 600)
    before = await asyncio.wait_for(miner.get_data(include=[*FIELDS, "uptime"]), TIMEOUT_S)
    assert before.uptime == 600

    rig.emu.reboot(down_s=90)
    assert rig.emu.readings().state is MinerState.SLEEPING  # the boards are off while it boots
    for port in PORTS[rig.family]:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(rig.emu.ip, port)
    rig.clock.advance(89)
    await rig.fleet.settle()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(rig.emu.ip, 4028)

    rig.clock.advance(2)
    await rig.fleet.settle()
    assert rig.emu.fault is None and rig.emu.boots == 2
    # Same serial and MAC, the limit it had saved, and a fresh uptime once it hashes again.
    again = await pyasic_miner(rig.emu.ip)
    data = await asyncio.wait_for(again.get_data(include=[*FIELDS, "uptime", "mac"]), TIMEOUT_S)
    assert data.mac == rig.emu.mac and data.wattage_limit == 4000
    assert data.wattage == round(spec.starting_power_w) and data.uptime == 0
    rig.clock.advance(spec.wake_delay_s + 30)
    # The handle from before the reboot works again (BOS+ logs in anew: the old token died).
    data = await asyncio.wait_for(miner.get_data(include=[*FIELDS, "uptime"]), TIMEOUT_S)
    assert data.uptime == 30 < before.uptime
    assert data.wattage == 4000


async def test_reboot_returns_on_its_own_on_a_running_loop() -> None:
    """Without settle(): the fleet's supervisor notices the reboot is over on the miner's clock."""
    emu = EmulatedMiner("m53s-plus-plus", f"{NET}.{next(_octets)}.1")
    async with EmulatorFleet([emu]):
        emu.reboot(down_s=0.2)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(emu.ip, 4028)
        reply = await asyncio.wait_for(_retry_until_open(emu.ip), TIMEOUT_S)
        assert json.loads(reply)["SUMMARY"][0]["Elapsed"] == 0


async def _retry_until_open(ip: str) -> bytes:
    while True:
        try:
            return await rpc_raw(ip, "summary")
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)


async def test_wrong_password_refuses_writes_as_the_firmware_does(rig: Rig) -> None:
    spec = get_spec(FAMILIES[rig.family])
    miner = await pyasic_miner(rig.emu.ip)
    await asyncio.wait_for(miner.get_data(include=FIELDS), TIMEOUT_S)
    rig.emu.set_fault(WrongPassword())

    # Reads without credentials still work.
    data = await asyncio.wait_for(miner.get_data(include=["hashrate"]), TIMEOUT_S)
    assert float(data.hashrate) > 0
    if rig.family == "whatsminer":
        with pytest.raises(APIError, match="invalid json message"):
            await asyncio.wait_for(miner.rpc.adjust_power_limit(4000), TIMEOUT_S)
        assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is False
    elif rig.family == "whatsminer-v3":
        reply = await asyncio.wait_for(miner.rpc.set_miner_power_limit(4000), TIMEOUT_S)
        assert reply["code"] == -4
        # pyasic ignores the v3 reply code: it reports success for a refused write.
        assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is True
    else:
        # BOS+ needs a login even for gRPC reads; the old session died with the password.
        data = await asyncio.wait_for(miner.get_data(include=["wattage"]), TIMEOUT_S)
        assert data.wattage is None
        assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is False
    assert await asyncio.wait_for(miner.stop_mining(), TIMEOUT_S) is False
    assert rig.emu.model.power_limit_w == spec.nominal_power_w and not rig.emu.sleeping

    rig.emu.clear_fault()
    assert await asyncio.wait_for(miner.set_power_limit(4000), TIMEOUT_S) is True
    assert rig.emu.model.power_limit_w == 4000


async def test_fault_on_one_miner_leaves_the_others_alone() -> None:
    fleet = EmulatorFleet.build(3, family="whatsminer", first_ip=f"{NET}.{next(_octets)}.1")
    async with fleet:
        fleet.miners[1].set_fault(Unreachable())
        found = await asyncio.wait_for(asyncio.gather(*(pyasic.get_miner(ip) for ip in fleet.ips)), TIMEOUT_S)
        assert [m is not None for m in found] == [True, False, True]


# ---------------------------------------------------------------------- helpers
async def _healthy_handle(rig: Rig) -> pyasic.AnyMiner:
    """A pyasic handle built without the factory (the factory itself would hit the fault)."""
    from pyasic.miners.factory import MINER_CLASSES, MinerTypes

    from miners.emulator.identity import pyasic_key

    kind = MinerTypes.BRAIINS_OS if rig.family == "braiins" else MinerTypes.WHATSMINER
    cls = MINER_CLASSES[kind][pyasic_key(rig.emu.spec, rig.emu.family)]
    return cls(rig.emu.ip, rig.emu.fw_version)


async def _get_data_outcome(miner: pyasic.AnyMiner) -> tuple[object, ...] | str:
    try:
        data = await asyncio.wait_for(miner.get_data(include=FIELDS), TIMEOUT_S)
    except APIError:
        return "APIError"
    return (data.wattage, data.wattage_limit, data.hashrate)
