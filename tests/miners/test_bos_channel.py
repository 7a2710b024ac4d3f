"""The BOS+ gRPC client with one kept channel per miner (miners/bos_web.py) against the emulator,
with unmodified pyasic alongside: same answers as pyasic's own client, one connection across
polls, and recovery when the connection is killed between or during calls or the miner restarts."""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from pyasic.errors import APIError
from pyasic.web.braiins_os.boser import BOSerWebAPI

from miners.bos_web import PersistentBOSerWebAPI
from miners.config import Credentials, MinerConfig
from miners.driver_link import MinerCommandError
from miners.driver_pyasic import _BRAIINS_FIELDS, PyasicConnector, PyasicLink, _bos_read
from miners.emulator import Disconnect, EmulatedMiner, EmulatorFleet, Garbage, Slow, Truncated, Unreachable
from miners.fleet import PyasicFleet
from tests.loopback import claim_net

warnings.filterwarnings("ignore", category=UserWarning)  # pyasic warns about unknown chip counts

NET = claim_net()
_blocks = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now_s = 2000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Rig:
    emu: EmulatedMiner
    emulators: EmulatorFleet
    clock: Clock
    link: PyasicLink

    @property
    def web(self) -> PersistentBOSerWebAPI:
        web = self.link.miner.web
        assert isinstance(web, PersistentBOSerWebAPI)
        return web

    def kill_connections(self) -> None:
        """Reset every open TCP connection to the miner, as a switch or a firmware crash does."""
        for gate in list(self.emulators.host(self.emu).connections):
            gate.reset()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = Clock()
    emu = EmulatedMiner("s21-hyd", f"{NET}.{next(_blocks)}.1", family="braiins", clock=clock, coolant_inlet_c=39.0)
    emulators = EmulatorFleet([emu])
    await emulators.start()
    link = await PyasicConnector().connect(emu.ip, Credentials())
    assert link is not None
    try:
        yield Rig(emu, emulators, clock, link)
    finally:
        link.close()
        await emulators.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (event-loop turns, bounded) until `condition()` holds: a socket event has been seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


def assert_sample_is_the_truth(sample: object, emu: EmulatedMiner) -> None:
    truth = emu.readings()
    assert sample.power_w == pytest.approx(truth.power_w, abs=0.5)  # type: ignore[attr-defined]
    assert sample.power_limit_w == pytest.approx(truth.power_limit_w, abs=0.5)  # type: ignore[attr-defined]
    assert sample.hashrate_ths == pytest.approx(truth.hashrate_ths, rel=1e-5)  # type: ignore[attr-defined]
    assert sample.coolant_in_c == pytest.approx(truth.coolant_in_c, abs=0.01)  # type: ignore[attr-defined]
    assert sample.coolant_out_c == pytest.approx(truth.coolant_out_c, abs=0.01)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- same answers, one connection
async def test_polled_replies_equal_pyasics_own_client(rig: Rig) -> None:
    rig.clock.now_s += 300.0
    plain = BOSerWebAPI(rig.emu.ip)  # pyasic's client: a connection per call, betterproto decoding
    for name in ("get_miner_stats", "get_hashboards", "get_active_performance_mode"):
        ours = await getattr(rig.web, name)()
        theirs = await getattr(plain, name)()
        assert ours == theirs, name
    assert (await rig.web.get_miner_stats())["powerStats"]["approximatedConsumption"]["watt"] == round(
        rig.emu.readings().power_w)


async def test_the_driver_reads_the_truth_over_one_kept_connection(rig: Rig) -> None:
    assert_sample_is_the_truth(await rig.link.read(), rig.emu)
    connection = rig.web.channel._protocol
    assert connection is not None
    await rig.link.set_power_limit(4500)  # a betterproto call through pyasic's stub, same channel
    for _ in range(3):
        rig.clock.now_s += 60.0
        assert_sample_is_the_truth(await rig.link.read(), rig.emu)
    assert rig.web.channel._protocol is connection and not connection.handler.connection_lost
    assert (await rig.link.identity()).mac == rig.emu.mac


@pytest.mark.parametrize("state", ["mining", "restarting", "asleep", "inlet-too-hot"])
async def test_the_braiins_read_equals_pyasics_get_data(rig: Rig, state: str) -> None:
    # The driver fetches summary+tunerstatus once and parses with pyasic's readers; get_data of the
    # same fields, at the same instant on the emulator's clock, must say the same.
    if state == "restarting":
        await rig.link.set_power_limit(4200)
    elif state == "asleep":
        await rig.link.stop_mining()
    elif state == "inlet-too-hot":
        rig.emu.coolant_inlet_c = 55.0  # the firmware stops the boards and reports it per chain
    ours, mining, _ = await _bos_read(rig.link.miner)
    theirs = await rig.link.miner.get_data(include=_BRAIINS_FIELDS)
    for field in ("hashrate", "wattage", "wattage_limit", "uptime"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert [e.error_message for e in ours.errors] == [e.error_message for e in theirs.errors]
    assert bool(ours.errors) is (state == "inlet-too-hot")
    assert mining is (state != "asleep")


async def test_concurrent_calls_without_a_token_log_in_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    web = PersistentBOSerWebAPI(rig.emu.ip)
    logins: list[str | None] = []
    login = web._get_auth

    async def counted() -> str | None:
        logins.append(await login())
        return logins[-1]

    monkeypatch.setattr(web, "_get_auth", counted)
    try:
        await asyncio.gather(web.get_miner_stats(), web.get_hashboards(), web.get_active_performance_mode())
    finally:
        web.close()
    assert logins == [rig.emu.session_secret]


# ---------------------------------------------------------------------- dropped connections
async def test_a_connection_killed_between_polls_is_reopened_by_the_next_read(rig: Rig) -> None:
    await rig.link.read()
    before = rig.web.channel._protocol
    assert before is not None
    rig.kill_connections()
    await until(lambda: before.handler.connection_lost)  # the client has seen the reset
    rig.clock.now_s += 10.0
    assert_sample_is_the_truth(await rig.link.read(), rig.emu)
    assert rig.web.channel._protocol is not before


async def test_a_call_cut_mid_flight_fails_and_the_next_one_reconnects(rig: Rig) -> None:
    await rig.web.get_hashboards()
    rig.kill_connections()
    await until(lambda: rig.web.channel._protocol is None or rig.web.channel._protocol.handler.connection_lost)
    rig.emu.set_fault(Slow(30.0))  # the next connection's request is held: the call is in flight
    call = asyncio.ensure_future(rig.web.get_hashboards())
    await until(lambda: bool(rig.emulators.host(rig.emu).connections))
    rig.kill_connections()
    with pytest.raises(APIError, match="GetHashboards"):
        await asyncio.wait_for(call, 5.0)
    rig.emu.clear_fault()
    boards = (await rig.web.get_hashboards())["hashboards"]
    assert {b["lowestInletTemp"]["degreeC"] for b in boards} == {39.0}


@pytest.mark.parametrize("fault", [Slow(30.0), Garbage(), Truncated(), Disconnect()], ids=lambda f: type(f).__name__)
async def test_a_fault_reaches_calls_on_a_kept_connection(rig: Rig, fault: object) -> None:
    await rig.web.get_hashboards()  # connected and logged in
    rig.emu.set_fault(fault)  # type: ignore[arg-type]
    with pytest.raises((APIError, TimeoutError)):
        await asyncio.wait_for(rig.web.get_hashboards(), 0.5)
    rig.emu.clear_fault()
    assert (await rig.web.get_hashboards())["hashboards"]


async def test_after_the_emulator_restarts_the_next_read_reconnects_and_logs_in_again(rig: Rig) -> None:
    await rig.link.read()
    old_token = rig.web.token
    await rig.emulators.stop()
    with pytest.raises(MinerCommandError):
        await rig.link.read()
    # The firmware restarted: same address, a new session secret (the old token is refused).
    reborn = EmulatedMiner("s21-hyd", rig.emu.ip, family="braiins", clock=rig.clock, coolant_inlet_c=39.0)
    rig.emu, rig.emulators = reborn, EmulatorFleet([reborn])
    await rig.emulators.start()
    assert_sample_is_the_truth(await rig.link.read(), reborn)
    assert rig.web.token == reborn.session_secret != old_token


# ---------------------------------------------------------------------- the fleet closes what it drops
async def test_the_fleet_reconnects_after_a_kill_and_closes_links_it_replaces() -> None:
    clock = Clock()
    emus = [EmulatedMiner("s21-hyd", f"{NET}.{next(_blocks)}.{i}", family="braiins", clock=clock)
            for i in (1, 2)]
    configs = [MinerConfig(name=f"s21-{i}", model="s21-hyd", host=emu.ip) for i, emu in enumerate(emus)]
    async with EmulatorFleet(emus) as emulators:
        fleet = PyasicFleet(configs, timeout_s=3.0, clock=clock)
        try:
            assert all(r.available for r in await fleet.poll())
            links = [fleet._members[c.name].link for c in configs]
            webs = [link.miner.web for link in links]  # type: ignore[union-attr]
            connections = [web.channel._protocol for web in webs]
            for gate in list(emulators.host(emus[0]).connections):
                gate.reset()
            await until(lambda: connections[0].handler.connection_lost)
            readings = await fleet.poll()
            assert all(r.available for r in readings)
            assert [r.power_w for r in readings] == [pytest.approx(e.readings().power_w, abs=0.5) for e in emus]
            assert [fleet._members[c.name].link for c in configs] == links  # reconnected, not re-identified
            assert webs[1].channel._protocol is connections[1]

            # A failed poll makes the fleet identify the miner again at the next contact: a new
            # link, and the connection of the one it replaces is closed.
            emus[1].set_fault(Unreachable())
            assert [r.available for r in await fleet.poll()] == [True, False]
            emus[1].clear_fault()
            await emulators.settle()
            assert all(r.available for r in await fleet.poll())
            assert fleet._members[configs[1].name].link is not links[1]
            assert webs[1]._channel is None and webs[0]._channel is not None
        finally:
            fleet.close()
        assert all(web._channel is None for web in webs)
