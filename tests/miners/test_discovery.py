"""Discovery: a CIDR scan with unmodified pyasic against emulated miners, bounded concurrency and
descriptors, and matching found miners to the config by MAC/serial."""

from __future__ import annotations

import asyncio
import resource
import warnings
from collections.abc import Iterator

import pytest
from pyasic.miners.factory import MinerFactory

from miners.config import Credentials, MinerConfig
from miners.discovery import (
    FD_RESERVE,
    SOCKETS_PER_PROBE,
    addresses,
    fd_bounded_concurrency,
    match_to_configs,
    scan,
)
from miners.driver_link import Identity
from miners.emulator import EmulatedMiner, EmulatorFleet
from miners.fleet import PyasicFleet
from tests.loopback import claim_net

warnings.filterwarnings("ignore", category=UserWarning)

NET = claim_net()


async def test_scan_finds_each_family_with_its_identity_and_reading() -> None:
    emus = [
        EmulatedMiner("m53s-plus-plus", f"{NET}.1.2", family="whatsminer"),
        EmulatedMiner("m63s-plus-plus", f"{NET}.1.5", family="whatsminer-v3"),
        EmulatedMiner("s21-hyd", f"{NET}.1.9", family="braiins"),
    ]
    async with EmulatorFleet(emus):
        progress: list[tuple[int, int]] = []
        found = await scan(f"{NET}.1.0/28", concurrency=4, timeout_s=5.0,
                           on_progress=lambda done, total: progress.append((done, total)))
    assert [f.identity.ip for f in found] == [e.ip for e in emus]
    assert [f.identity.model for f in found] == ["M53S++ VK10", "M63S++ VL20", "S21 Hydro"]
    for emu, item in zip(emus, found, strict=True):
        assert (item.identity.mac, item.identity.serial) == (emu.mac, emu.serial)
        assert item.identity.supports_power_limit and item.error is None
        assert item.sample is not None
        assert item.sample.power_limit_w == pytest.approx(emu.readings().power_limit_w, abs=0.5)
    assert len(progress) == 14 and progress[-1] == (14, 14)


class CountingConnector:
    """Records how many probes are in flight at once; nothing answers."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.seen: list[str] = []

    async def connect(self, host: str, credentials: Credentials) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.seen.append(host)
        await asyncio.sleep(0.001)
        self.in_flight -= 1


async def test_scan_keeps_at_most_concurrency_probes_in_flight_and_probes_each_host_once() -> None:
    connector = CountingConnector()
    found = await scan("10.9.0.0/23", concurrency=7, connector=connector)
    assert found == []
    assert connector.peak == 7
    assert sorted(connector.seen) == sorted(addresses("10.9.0.0/23")) and len(connector.seen) == 510


async def test_pyasic_generator_limit_bounds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Why discovery does not use pyasic's generator: it creates every task before its semaphore.
    counter = CountingConnector()

    async def fake_get_miner(self: MinerFactory, ip: str) -> None:
        await counter.connect(ip, Credentials())

    monkeypatch.setattr(MinerFactory, "get_miner", fake_get_miner)
    ips = list(addresses("10.9.0.0/26"))
    async for _ in MinerFactory().get_miner_generator(ips, limit=5):
        pass
    assert counter.peak == len(ips) > 5


@pytest.fixture
def low_fd_limit() -> Iterator[int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        yield 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_concurrency_is_lowered_to_fit_the_descriptor_limit(low_fd_limit: int) -> None:
    allowed = fd_bounded_concurrency(1000)
    assert allowed == (low_fd_limit - FD_RESERVE) // SOCKETS_PER_PROBE
    assert allowed * SOCKETS_PER_PROBE + FD_RESERVE <= low_fd_limit
    assert fd_bounded_concurrency(3) == 3


def test_addresses_are_lazy_hosts_and_huge_ranges_are_refused() -> None:
    assert list(addresses("192.168.7.9/32")) == ["192.168.7.9"]
    assert list(addresses("192.168.7.8/30")) == ["192.168.7.9", "192.168.7.10"]
    with pytest.raises(ValueError, match="more than 65536"):
        addresses("10.0.0.0/8")
    with pytest.raises(ValueError):
        addresses("not-a-network")


def _found(ip: str, mac: str | None, serial: str | None) -> Identity:
    return Identity(ip, "WhatsMiner", "M53S++ VK10", "Stock", "x", mac, serial, True)


def test_found_miners_are_matched_by_mac_then_serial_then_address() -> None:
    configs = [
        MinerConfig(name="a", model="m53s-plus-plus", host="10.0.0.1", mac="02:00:00:00:00:0A"),
        MinerConfig(name="b", model="m53s-plus-plus", host="10.0.0.2", serial="SN-B"),
        MinerConfig(name="c", model="m53s-plus-plus", host="10.0.0.3"),
        MinerConfig(name="d", model="m53s-plus-plus", host="10.0.0.4", mac="02:00:00:00:00:0D"),
    ]
    found = [
        _found("10.0.0.3", "02:00:00:00:00:0C", "SN-C"),  # c, by its address
        _found("10.0.0.50", "02:00:00:00:00:0a", "SN-A"),  # a moved (DHCP); MAC case differs
        _found("10.0.0.51", "02:00:00:00:00:0B", "SN-B"),  # b moved, known by serial
        _found("10.0.0.4", "02:00:00:00:00:FF", "SN-X"),  # a different machine on d's address
    ]
    matches = match_to_configs(configs, found)
    assert {name: i.ip for name, i in matches.items()} == {"a": "10.0.0.50", "b": "10.0.0.51", "c": "10.0.0.3"}


def test_one_found_miner_matches_one_configured_name() -> None:
    configs = [
        MinerConfig(name="x", model="s21-hyd", mac="02:00:00:00:00:01"),
        MinerConfig(name="y", model="s21-hyd", mac="02:00:00:00:00:01"),
    ]
    assert list(match_to_configs(configs, [_found("10.0.0.9", "02:00:00:00:00:01", None)])) == ["x"]


async def test_a_miner_that_changed_address_is_found_again_not_duplicated() -> None:
    old_ip, new_ip = f"{NET}.2.1", f"{NET}.2.7"
    emu = EmulatedMiner("s21-hyd", old_ip, family="braiins")
    config = MinerConfig(name="boiler-1", model="s21-hyd", host=old_ip, mac=emu.mac)
    fleet = PyasicFleet([config], timeout_s=2.0)
    async with EmulatorFleet([emu]):
        (before,) = await fleet.poll()
    assert before.available
    moved = EmulatedMiner("s21-hyd", new_ip, family="braiins", mac=emu.mac, serial=emu.serial)
    async with EmulatorFleet([moved]):
        (lost,) = await fleet.poll()
        assert not lost.available
        found = await scan(f"{NET}.2.0/28", timeout_s=5.0, read=False)
        assert match_to_configs([config], (f.identity for f in found)) == {"boiler-1": found[0].identity}
        assert fleet.relocate(f.identity for f in found) == {"boiler-1": new_ip}
        (back,) = await fleet.poll()
        (result,) = await fleet.apply({"boiler-1": 3000.0})
    assert fleet.names == ["boiler-1"] and back.available and result.ok
    assert moved.readings().power_limit_w == 3000.0
