"""PyasicFleet's own rules (deadband, interval, verification, retries, staleness, identity), checked
with a scripted miner behind the link seam so each case is exact. The same fleet against real
pyasic and the emulator is in test_fleet_faults.py."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from pydantic import SecretStr

from miners.allocation import AllocationPolicy
from miners.catalogue import get_spec
from miners.config import Credentials, MinerConfig
from miners.driver import CommandKind, MinerDriver, MiningState
from miners.driver_link import Identity, MinerAuthError, MinerCommandError, Sample
from miners.fleet import PyasicFleet, within


@dataclasses.dataclass
class FakeMiner:
    ip: str
    mac: str = "AA:BB:CC:00:00:01"
    serial: str = "SN1"
    limit_w: float = 5000.0
    mining: bool = True
    uptime_s: float = 1000.0
    ignores_limit: bool = False  # takes the command, keeps its old limit
    refuses_auth: bool = False
    stalls: bool = False
    calls: list[str] = dataclasses.field(default_factory=list)

    def sample(self) -> Sample:
        power = min(self.limit_w, 5000.0) if self.mining else 15.0
        return Sample(power_w=power, hashrate_ths=power / 16.0 if self.mining else 0.0,
                      power_limit_w=self.limit_w, coolant_in_c=40.0, coolant_out_c=48.0,
                      mining=self.mining, errors=(), uptime_s=self.uptime_s)


class FakeLink:
    family = "fake"

    def __init__(self, miner: FakeMiner) -> None:
        self.miner = miner

    def describe(self) -> Identity:
        return Identity(self.miner.ip, "Fake", "F1", "Stock", None, None, None, True)

    async def identity(self) -> Identity:
        m = self.miner
        return Identity(m.ip, "Fake", "F1", "Stock", "1.0", m.mac, m.serial, True)

    async def read(self) -> Sample:
        if self.miner.stalls:
            await asyncio.Event().wait()
        self.miner.calls.append("read")
        return self.miner.sample()

    async def set_power_limit(self, watts: int) -> None:
        self.miner.calls.append(f"limit {watts}")
        if self.miner.refuses_auth:
            raise MinerAuthError(f"set_power_limit({watts}): token refused (wrong password?)")
        if not self.miner.ignores_limit:
            self.miner.limit_w = watts

    async def stop_mining(self) -> None:
        self.miner.calls.append("stop")
        self.miner.mining = False

    async def resume_mining(self) -> None:
        self.miner.calls.append("resume")
        self.miner.mining = True


class FakeConnector:
    def __init__(self, *miners: FakeMiner) -> None:
        self.at = {m.ip: m for m in miners}
        self.connects: list[str] = []
        self.credentials: list[Credentials] = []

    async def connect(self, host: str, credentials: Credentials) -> FakeLink | None:
        self.connects.append(host)
        self.credentials.append(credentials)
        miner = self.at.get(host)
        return None if miner is None else FakeLink(miner)


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def make_fleet(
    *miners: FakeMiner, model: str = "s21-hyd", **kw: object
) -> tuple[PyasicFleet, FakeConnector, Clock]:
    connector = FakeConnector(*miners)
    clock = Clock()
    configs = [MinerConfig(name=f"m{i}", model=model, host=m.ip) for i, m in enumerate(miners, 1)]
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kw.setdefault("sleep", record_sleep)
    fleet = PyasicFleet(configs, timeout_s=0.2, clock=clock, connector=connector, **kw)  # type: ignore[arg-type]
    fleet.sleeps = sleeps  # type: ignore[attr-defined]
    return fleet, connector, clock


async def test_fleet_is_a_miner_driver_and_reads_every_field() -> None:
    fleet, _, clock = make_fleet(FakeMiner("10.0.0.1"))
    assert isinstance(fleet, MinerDriver)
    clock.now_s = 42.0
    (reading,) = await fleet.poll()
    assert reading.available and not reading.stale
    assert (reading.power_w, reading.power_limit_w, reading.hashrate_ths) == (5000.0, 5000.0, 312.5)
    assert (reading.coolant_in_c, reading.coolant_out_c, reading.polled_at_s) == (40.0, 48.0, 42.0)
    assert reading.state is MiningState.MINING


async def test_failed_poll_is_unavailable_and_stale_with_last_values_and_their_time() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, connector, clock = make_fleet(miner)
    clock.now_s = 10.0
    await fleet.poll()
    del connector.at["10.0.0.1"]  # it stops answering; the fleet must identify it again
    miner.stalls = True
    clock.now_s = 20.0
    (reading,) = await fleet.poll()
    assert not reading.available and reading.stale
    assert reading.state is MiningState.UNREACHABLE
    assert reading.polled_at_s == 10.0  # when the values were true, not now
    assert reading.power_w == 5000.0
    assert "m1" in reading.errors[0] and "10.0.0.1" in reading.errors[0]


async def test_a_stalled_miner_times_out_alone() -> None:
    stuck, fine = FakeMiner("10.0.0.1", stalls=True), FakeMiner("10.0.0.2", mac="AA:BB:CC:00:00:02")
    fleet, _, _ = make_fleet(stuck, fine)
    first, second = await fleet.poll()
    assert not first.available and "no answer within 0.2 s" in first.errors[0]
    assert second.available and second.power_w == 5000.0


async def test_within_gives_up_on_a_call_that_swallows_its_cancellation() -> None:
    # pyasic's factory catches CancelledError while it cleans up; asyncio.wait_for would then wait.
    release = asyncio.Event()

    async def stubborn() -> str:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue
        return "late"

    with pytest.raises(TimeoutError):
        await within(stubborn(), 0.05)
    release.set()  # let the abandoned task end
    await asyncio.sleep(0)


async def test_deadband_and_min_interval_hold_changes_back_and_force_does_not() -> None:
    miner = FakeMiner("10.0.0.1", limit_w=4000.0)
    policy = AllocationPolicy(deadband_w=200.0, min_change_interval_s=900.0)
    fleet, _, clock = make_fleet(miner, policy=policy)
    await fleet.poll()
    (small,) = await fleet.apply({"m1": 4100.0})
    assert small.ok and small.kind is CommandKind.NONE and "deadband" in small.reason
    assert not any(c.startswith("limit") for c in miner.calls)

    (big,) = await fleet.apply({"m1": 4500.0})
    assert big.ok and big.kind is CommandKind.SET_LIMIT and miner.limit_w == 4500.0

    clock.now_s = 100.0
    (soon,) = await fleet.apply({"m1": 3000.0})
    assert soon.kind is CommandKind.NONE and "minimum 900" in soon.reason and miner.limit_w == 4500.0
    (forced,) = await fleet.apply({"m1": 3000.0}, force=True)
    assert forced.ok and miner.limit_w == 3000.0
    clock.now_s = 1100.0
    (later,) = await fleet.apply({"m1": 3500.0})
    assert later.kind is CommandKind.SET_LIMIT and miner.limit_w == 3500.0


async def test_unconfirmed_command_is_retried_with_backoff_then_reported_and_marks_unavailable() -> None:
    miner = FakeMiner("10.0.0.1", ignores_limit=True)
    fleet, _, _ = make_fleet(miner, retries=3, backoff_s=0.5)
    await fleet.poll()
    (result,) = await fleet.apply({"m1": 4000.0})
    assert not result.ok and result.attempts == 3
    assert "m1" in result.error and "read back limit=5000.0" in result.error
    assert fleet.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]
    # Each retry looks first and resends only because the limit still reads wrong.
    assert miner.calls.count("limit 4000") == 3
    (reading,) = await fleet.poll()
    assert not reading.available and any("read back" in e for e in reading.errors)

    miner.ignores_limit = False
    (retry,) = await fleet.apply({"m1": 4000.0})
    assert retry.ok
    (reading,) = await fleet.poll()
    assert reading.available and reading.errors == ()


async def test_late_confirmation_is_not_resent() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, _, _ = make_fleet(miner, model="ah3880")
    await fleet.poll()
    original = FakeLink.read
    reads = {"n": 0}

    async def slow_to_show(self: FakeLink) -> Sample:
        reads["n"] += 1
        sample = await original(self)
        # The first read after the command still shows the old limit.
        return dataclasses.replace(sample, power_limit_w=5000.0) if reads["n"] == 1 else sample

    FakeLink.read = slow_to_show  # type: ignore[method-assign]
    try:
        (result,) = await fleet.apply({"m1": 4500.0})
    finally:
        FakeLink.read = original  # type: ignore[method-assign]
    assert result.ok and result.attempts == 2
    assert miner.calls.count("limit 4500") == 1


async def test_wrong_password_is_not_retried_and_names_the_miner() -> None:
    miner = FakeMiner("10.0.0.1", refuses_auth=True)
    fleet, _, _ = make_fleet(miner)
    await fleet.poll()
    (result,) = await fleet.apply({"m1": 4000.0})
    assert not result.ok and result.attempts == 1
    assert result.error.startswith("miner m1 (10.0.0.1)") and "password" in result.error


async def test_restarting_firmware_is_known_and_shown_until_its_delay_passes() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, _, clock = make_fleet(miner, model="s21-hyd")  # restarts on change, 120 s
    assert get_spec("s21-hyd").restarts_on_limit_change
    await fleet.poll()
    (result,) = await fleet.apply({"m1": 4000.0})
    assert result.ok and result.restarts
    miner.mining = False  # BOS+ reads "not mining" while the tuner restarts
    clock.now_s = 60.0
    (reading,) = await fleet.poll()
    assert reading.state is MiningState.RESTARTING
    clock.now_s = 121.0
    (reading,) = await fleet.poll()
    assert reading.state is MiningState.SLEEPING


async def test_no_restart_flag_for_firmware_that_applies_on_the_fly() -> None:
    fleet, _, _ = make_fleet(FakeMiner("10.0.0.1"), model="ah3880")
    await fleet.poll()
    (result,) = await fleet.apply({"m1": 6000.0})
    assert result.ok and not result.restarts


async def test_sleep_then_wake_at_a_new_limit_sets_the_limit_before_waking() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, _, _ = make_fleet(miner)
    await fleet.poll()
    (asleep,) = await fleet.apply({"m1": None})
    assert asleep.ok and asleep.kind is CommandKind.SLEEP and not miner.mining
    (again,) = await fleet.apply({"m1": None})
    assert again.kind is CommandKind.NONE and again.reason == "already asleep"
    miner.calls.clear()
    (woken,) = await fleet.apply({"m1": 3000.0})
    assert woken.ok and woken.kind is CommandKind.WAKE and woken.restarts
    sends = [c for c in miner.calls if c != "read"]
    assert sends == ["limit 3000", "resume"]


async def test_out_of_range_and_unknown_names_are_refused_without_sending() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, _, _ = make_fleet(miner)
    await fleet.poll()
    low, unknown = await fleet.apply({"m1": 100.0, "ghost": 3000.0})
    assert not low.ok and "outside s21-hyd's range 2500-5360 W" in low.error
    assert not unknown.ok and "unknown miner 'ghost'" in unknown.error
    assert not any(c.startswith("limit") for c in miner.calls)


async def test_reboot_makes_the_fleet_identify_the_miner_again() -> None:
    miner = FakeMiner("10.0.0.1", uptime_s=5000.0)
    fleet, connector, _ = make_fleet(miner)
    await fleet.poll()
    assert connector.connects == ["10.0.0.1"]
    miner.uptime_s = 30.0
    (reading,) = await fleet.poll()
    assert connector.connects == ["10.0.0.1", "10.0.0.1"]
    assert reading.available and reading.state is MiningState.MINING


async def test_another_machine_at_the_address_is_refused() -> None:
    miner = FakeMiner("10.0.0.1", uptime_s=5000.0)
    fleet, _, _ = make_fleet(miner)
    await fleet.poll()
    # Another machine took the address (it answers the same link, with a fresh uptime).
    miner.mac, miner.serial, miner.uptime_s = "AA:BB:CC:99:99:99", "OTHER", 10.0
    miner.calls.clear()
    (reading,) = await fleet.poll()
    assert not reading.available and "expected MAC AA:BB:CC:00:00:01" in reading.errors[0]
    (result,) = await fleet.apply({"m1": 3000.0}, force=True)
    assert not result.ok and "expected MAC" in result.error
    assert not any(c.startswith("limit") for c in miner.calls)


async def test_relocate_follows_a_miner_to_its_new_address_by_mac() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, connector, _ = make_fleet(miner)
    await fleet.poll()
    moved = FakeMiner("10.0.0.7", mac=miner.mac, serial=miner.serial)
    connector.at = {"10.0.0.7": moved}
    found = [Identity("10.0.0.7", "Fake", "F1", "Stock", "1.0", miner.mac, None, True)]
    assert fleet.relocate(found) == {"m1": "10.0.0.7"}
    (reading,) = await fleet.poll()
    assert reading.available and fleet.host_of("m1") == "10.0.0.7"


async def test_credentials_come_from_the_environment_and_never_reach_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("M1_PASSWORD", "s3cret-Pa55")
    miner = FakeMiner("10.0.0.1", refuses_auth=True)
    connector = FakeConnector(miner)
    config = MinerConfig(
        name="m1", model="s21-hyd", host="10.0.0.1", username="root", password_env="M1_PASSWORD"
    )
    caplog.set_level(logging.DEBUG)
    fleet = PyasicFleet([config], timeout_s=0.2, connector=connector)
    await fleet.poll()
    await fleet.apply({"m1": 3000.0})
    assert connector.credentials[0].password == SecretStr("s3cret-Pa55")
    assert "s3cret" not in repr(connector.credentials[0]) and "s3cret" not in repr(config)
    assert caplog.records and "s3cret" not in caplog.text


def test_an_unset_password_variable_is_an_error_naming_the_miner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_PASSWORD", raising=False)
    config = MinerConfig(name="m9", model="s21-hyd", host="10.0.0.9", password_env="NOPE_PASSWORD")
    with pytest.raises(KeyError, match="miner m9: environment variable NOPE_PASSWORD is not set"):
        PyasicFleet([config], connector=FakeConnector())


def test_config_normalises_mac_and_refuses_two_password_sources() -> None:
    config = MinerConfig(name="a", model="s21-hyd", host=" 127.0.1.3 ", mac="aa-bb-cc-dd-ee-ff")
    assert (config.host, config.mac) == ("127.0.1.3", "AA:BB:CC:DD:EE:FF")
    with pytest.raises(ValueError, match="either `password` or `password_env`"):
        MinerConfig(name="a", model="s21-hyd", password="x", password_env="Y")
    with pytest.raises(ValueError):
        MinerConfig(name="a", model="s21-hyd", host="miner.local")  # pyasic needs an IP address


async def test_a_poll_that_raises_anything_is_isolated() -> None:
    good, bad = FakeMiner("10.0.0.1"), FakeMiner("10.0.0.2", mac="AA:BB:CC:00:00:02")
    fleet, _, _ = make_fleet(good, bad)

    original = FakeLink.read

    async def crashy(self: FakeLink) -> Sample:
        if self.miner is bad:
            raise KeyError("poolGroups")  # the kind of parser crash pyasic lets through
        return await original(self)

    FakeLink.read = crashy  # type: ignore[method-assign]
    try:
        first, second = await fleet.poll()
    finally:
        FakeLink.read = original  # type: ignore[method-assign]
    assert first.available and not second.available and "KeyError" in second.errors[0]


async def test_a_command_error_from_the_link_is_reported() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, _, _ = make_fleet(miner, retries=2)
    await fleet.poll()

    async def refuse(self: FakeLink) -> None:
        raise MinerCommandError("stop_mining: refused")

    original = FakeLink.stop_mining
    FakeLink.stop_mining = refuse  # type: ignore[method-assign]
    try:
        (result,) = await fleet.apply({"m1": None})
    finally:
        FakeLink.stop_mining = original  # type: ignore[method-assign]
    assert not result.ok and result.attempts == 2 and result.error.endswith("stop_mining: refused")


async def test_a_miner_unreachable_at_the_last_poll_is_not_retried_by_apply() -> None:
    miner = FakeMiner("10.0.0.1")
    fleet, connector, _ = make_fleet(miner)
    await fleet.poll()
    del connector.at["10.0.0.1"]
    miner.stalls = True
    (reading,) = await fleet.poll()
    assert not reading.available
    tries = len(connector.connects)
    (result,) = await fleet.apply({"m1": None})
    assert not result.ok and result.attempts == 0 and "not reachable at the last poll" in result.error
    assert len(connector.connects) == tries and fleet.sleeps == []  # type: ignore[attr-defined]
