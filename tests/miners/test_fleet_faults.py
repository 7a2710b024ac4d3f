"""PyasicFleet with unmodified pyasic against emulated miners (real sockets) in every fault mode.

One fleet of three miners, one per emulated family; one of them is faulted at a time. The
emulator runs on a stepped clock, so restart delays and reboots need no sleeping.
"""

from __future__ import annotations

import gc
import itertools
import logging
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from miners.config import MinerConfig
from miners.driver import CommandKind, MiningState
from miners.emulator import (
    Disconnect,
    EmulatedMiner,
    EmulatorFleet,
    Garbage,
    Reboot,
    Slow,
    Truncated,
    Unreachable,
    WrongPassword,
)
from miners.fleet import PyasicFleet
from tests.loopback import claim_net

warnings.filterwarnings("ignore", category=UserWarning)

NET = claim_net()
_blocks = itertools.count(1)
MODELS = {"whatsminer": "m53s-plus-plus", "whatsminer-v3": "m63s-plus-plus", "braiins": "s21-hyd"}
TIMEOUT_S = 2.0  # generous: a loaded CI machine with debug logging must not look like a dead miner


class Clock:
    def __init__(self) -> None:
        self.now_s = 5000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Plant:
    emulators: EmulatorFleet
    fleet: PyasicFleet
    clock: Clock

    def emu(self, name: str) -> EmulatedMiner:
        return self.emulators.miners[list(MODELS).index(name)]


@pytest.fixture
async def plant(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Plant]:
    clock = Clock()
    block = next(_blocks)
    emus = [
        EmulatedMiner(model, f"{NET}.{block}.{i}", family=family, clock=clock,  # type: ignore[arg-type]
                      password=f"pw-{family}-Xq7")
        for i, (family, model) in enumerate(MODELS.items(), start=1)
    ]
    for family in MODELS:
        monkeypatch.setenv(f"PW_{family.replace('-', '_').upper()}", f"pw-{family}-Xq7")
    configs = [
        MinerConfig(name=family, model=MODELS[family], host=emu.ip, mac=emu.mac,
                    password_env=f"PW_{family.replace('-', '_').upper()}")
        for family, emu in zip(MODELS, emus, strict=True)
    ]
    emulators = EmulatorFleet(emus)
    await emulators.start()
    fleet = PyasicFleet(configs, timeout_s=TIMEOUT_S, clock=clock, retries=2, backoff_s=0.01)
    try:
        yield Plant(emulators, fleet, clock)
    finally:
        await emulators.stop()
        # pyasic's factory leaves a probe task with an unretrieved exception when a miner answers
        # garbage; collect it now, not at some later moment (CPython 3.11.7 can then fail an
        # unrelated ast.parse running when the collector formats that task's traceback).
        gc.collect()


def by_name(readings: list) -> dict:
    return {r.name: r for r in readings}


async def test_healthy_fleet_reads_and_commands_every_family(plant: Plant) -> None:
    readings = by_name(await plant.fleet.poll())
    for name in MODELS:
        truth = plant.emu(name).readings()
        assert readings[name].available and readings[name].state is MiningState.MINING
        assert readings[name].power_w == pytest.approx(truth.power_w, abs=0.5)
    results = await plant.fleet.apply({"whatsminer": 5000.0, "whatsminer-v3": None, "braiins": 4000.0})
    assert all(r.ok for r in results), results
    assert [r.kind for r in results] == [CommandKind.SET_LIMIT, CommandKind.SLEEP, CommandKind.SET_LIMIT]
    assert plant.emu("whatsminer").readings().power_limit_w == 5000.0
    assert plant.emu("whatsminer-v3").sleeping
    readings = by_name(await plant.fleet.poll())
    assert readings["whatsminer-v3"].state is MiningState.SLEEPING
    assert readings["braiins"].state is MiningState.RESTARTING  # BOS+ restarts on a new target
    plant.clock.now_s += 400.0
    readings = by_name(await plant.fleet.poll())
    assert readings["braiins"].state is MiningState.MINING
    assert readings["braiins"].power_w == pytest.approx(4000.0, abs=0.5)


FAULTS = {
    "unreachable": Unreachable(),
    "slow": Slow(60.0),  # would hold a plain pyasic call for 60 s
    "garbage": Garbage(),
    "truncated": Truncated(),
    "disconnect": Disconnect(after_requests=1),
}


@pytest.mark.parametrize("fault", [pytest.param(f, marks=pytest.mark.slow) if f == "slow" else f for f in FAULTS])
@pytest.mark.parametrize("victim", list(MODELS))
async def test_a_faulty_miner_is_unavailable_alone_and_recovers(plant: Plant, fault: str, victim: str) -> None:
    first = by_name(await plant.fleet.poll())
    assert all(r.available for r in first.values())
    plant.emu(victim).set_fault(FAULTS[fault])
    plant.clock.now_s += 10.0
    for _ in range(2):  # the second poll goes through re-identification, which must fail too
        readings = by_name(await plant.fleet.poll())
        bad = readings[victim]
        # Unavailable, never passed off as fresh: the values are the last good ones, with their time.
        assert not bad.available and bad.stale and bad.state is MiningState.UNREACHABLE
        assert bad.polled_at_s == first[victim].polled_at_s and bad.power_w == first[victim].power_w
        assert bad.errors[0].startswith(f"miner {victim} ({plant.emu(victim).ip}): ")
        if fault == "slow":
            # Had the fleet waited for the slow answer, the reading would be available.
            assert f"no answer within {TIMEOUT_S:g} s" in bad.errors[0]
        for name, reading in readings.items():
            if name != victim:
                assert reading.available and not reading.stale and reading.polled_at_s == plant.clock.now_s
    result = (await plant.fleet.apply({victim: None}))[0]
    assert not result.ok and result.error.startswith(f"miner {victim} ")
    plant.emu(victim).clear_fault()
    healed = by_name(await plant.fleet.poll())[victim]
    # Fresh again, but still not where the failed command wanted it: unavailable until retried.
    assert not healed.stale and healed.state is MiningState.MINING
    assert not healed.available and result.error in healed.errors
    (retry,) = await plant.fleet.apply({victim: None})
    assert retry.ok and plant.emu(victim).sleeping
    after = by_name(await plant.fleet.poll())[victim]
    assert after.available and after.state is MiningState.SLEEPING and after.errors == ()


@pytest.mark.parametrize("victim", list(MODELS))
async def test_garbage_never_ends_the_loop(plant: Plant, victim: str) -> None:
    plant.emu(victim).set_fault(Garbage())
    for _ in range(5):
        readings = by_name(await plant.fleet.poll())
        assert not readings[victim].available
        assert sum(r.available for r in readings.values()) == 2
        results = await plant.fleet.apply({victim: 3000.0})
        assert not results[0].ok


@pytest.mark.parametrize("victim", list(MODELS))
async def test_a_rebooted_miner_comes_back_as_the_same_miner(
    plant: Plant, victim: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="miners")
    emu = plant.emu(victim)
    await plant.fleet.poll()
    emu.set_fault(Reboot(down_s=90.0))
    down = by_name(await plant.fleet.poll())[victim]
    assert not down.available and down.state is MiningState.UNREACHABLE
    plant.clock.now_s += 91.0
    await plant.emulators.settle()
    back = by_name(await plant.fleet.poll())[victim]
    assert back.available and back.name == victim
    assert back.state is MiningState.RESTARTING  # fresh boot: hashing starts after the wake delay
    assert plant.fleet.identity_of(victim).mac == emu.mac
    assert emu.boots == 2
    plant.clock.now_s += emu.spec.wake_delay_s + 1
    assert by_name(await plant.fleet.poll())[victim].state is MiningState.MINING


@pytest.mark.parametrize("victim", list(MODELS))
async def test_a_reboot_between_polls_is_noticed_from_the_uptime(
    plant: Plant, victim: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="miners")
    emu = plant.emu(victim)
    plant.clock.now_s += 3600.0
    await plant.fleet.poll()
    emu.set_fault(Reboot(down_s=30.0))
    plant.clock.now_s += 31.0
    await plant.emulators.settle()  # back before the fleet looked again
    back = by_name(await plant.fleet.poll())[victim]
    assert back.available and back.state is MiningState.RESTARTING
    assert back.errors == ()
    assert f"event=reboot miner={victim}" in caplog.text


@pytest.mark.parametrize("victim", list(MODELS))
async def test_wrong_password_is_a_clear_error_naming_the_miner_and_never_logged(
    plant: Plant, victim: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, pyasic's own debug lines included
    await plant.fleet.poll()
    plant.emu(victim).set_fault(WrongPassword())
    (result,) = await plant.fleet.apply({victim: 4000.0})
    assert not result.ok and result.attempts == 1
    assert result.error.startswith(f"miner {victim} ({plant.emu(victim).ip}): ")
    assert "password" in result.error
    reading = by_name(await plant.fleet.poll())[victim]
    assert not reading.available and any("password" in e for e in reading.errors)
    assert caplog.records
    assert "-Xq7" not in caplog.text


async def test_the_configured_password_is_used(plant: Plant) -> None:
    # Every emulated miner has a non-default password; commands succeed only with the configured one.
    await plant.fleet.poll()
    results = await plant.fleet.apply({name: None for name in MODELS})
    assert all(r.ok for r in results), results
    assert all(plant.emu(name).sleeping for name in MODELS)
