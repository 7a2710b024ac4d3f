"""Unmodified pyasic 0.79 against the emulator over real loopback sockets, per family and model.

pyasic identifies each emulated miner as the right class, its `get_data` matches the emulator's
state, `set_power_limit` moves wattage and hashrate as the catalogue model says, and
stop/resume change the mining state. The emulator runs on a fake clock, so restart and wake
delays pass in an instant.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyasic
import pytest

from miners.catalogue import CATALOGUE, get_spec
from miners.driver_pyasic import identify
from miners.emulator import EmulatedMiner, EmulatorFleet
from miners.model import MinerState
from tests.loopback import claim_net

warnings.filterwarnings("ignore", module="pyasic")
TIMEOUT_S = 15.0
INLET_C = 34.0  # inside every model's window and below its throttle start
# A /16 of loopback picked per run, so parallel test runs do not collide on addresses.
NET = claim_net()


class FakeClock:
    def __init__(self, start_s: float = 10_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass(frozen=True)
class Case:
    key: str
    family: str
    cls: str
    base: str
    model: str
    third: int  # third octet of this case's addresses


CASES = [
    Case("m53s-plus-plus", "whatsminer", "BTMinerM53SPlusPlusVK10", "BTMinerV2", "M53S++ VK10", 11),
    Case("m63s-plus-plus", "whatsminer-v3", "BTMinerM63SPlusPlusVL20", "BTMinerV3", "M63S++ VL20", 12),
    Case("s21-hyd", "braiins", "BOSMinerS21Hydro", "BOSer", "S21 Hydro", 13),
    Case("s19-xp-hyd", "braiins", "BOSMinerS19XPHydro", "BOSer", "S19 XP Hydro", 14),
    Case("m53s-plus-plus", "whatsminer-v3", "BTMinerM53SPlusPlusVK10", "BTMinerV3", "M53S++ VK10", 15),
]
IDS = [f"{c.key}-{c.family}" for c in CASES]


@dataclass
class Rig:
    case: Case
    clock: FakeClock
    emu: EmulatedMiner
    fleet: EmulatorFleet

    async def pyasic_miner(self) -> pyasic.AnyMiner:
        miner = await asyncio.wait_for(pyasic.get_miner(self.emu.ip), TIMEOUT_S)
        assert miner is not None, f"pyasic did not identify {self.emu.ip}"
        return miner


@pytest.fixture(params=CASES, ids=IDS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    case: Case = request.param
    clock = FakeClock()
    emu = EmulatedMiner(case.key, f"{NET}.{case.third}.1", family=case.family, clock=clock, coolant_inlet_c=INLET_C)
    async with EmulatorFleet([emu]) as fleet:
        # Let the miner hash for a while so uptime and share counters are not zero.
        clock.advance(600)
        yield Rig(case, clock, emu, fleet)


async def get_data(miner: pyasic.AnyMiner, include: list[str] | None = None) -> pyasic.MinerData:
    return await asyncio.wait_for(miner.get_data(include=include), TIMEOUT_S)


POWER_FIELDS = ["wattage", "wattage_limit", "hashrate", "is_mining", "uptime"]


async def test_pyasic_identifies_class_and_model(rig: Rig) -> None:
    miner = await rig.pyasic_miner()
    bases = [b.__name__ for b in type(miner).__mro__]
    assert type(miner).__name__ == rig.case.cls
    assert rig.case.base in bases
    assert str(miner.raw_model) == rig.case.model


async def test_get_data_matches_emulator_state(rig: Rig) -> None:
    miner = await rig.pyasic_miner()
    data = await get_data(miner)
    state = rig.emu.readings()
    assert state.state is MinerState.HASHING
    assert data.hashrate is not None and float(data.hashrate) == pytest.approx(state.hashrate_ths, rel=1e-6)
    assert data.wattage == round(state.power_w)
    assert data.wattage_limit == round(state.power_limit_w)
    assert data.is_mining is True
    assert data.uptime == int(state.uptime_s) == 600
    assert data.mac == rig.emu.mac
    assert data.serial_number == rig.emu.serial
    assert data.errors == []
    assert len(data.hashboards) == rig.emu.board_count
    for board, want in zip(data.hashboards, state.boards, strict=True):
        assert float(board.hashrate) == pytest.approx(want.hashrate_ths, rel=1e-6)
        assert board.chips == rig.emu.chips_per_board
        # Each backend rounds its sensors its own way (round, int, or two decimals).
        assert board.temp == pytest.approx(want.board_temp_c, abs=1.0)
        assert board.temp > state.coolant_out_c > state.coolant_in_c
    if rig.case.family != "braiins":
        assert data.env_temp == pytest.approx(INLET_C)  # Whatsminer reports the coolant inlet here
        assert data.fw_ver == rig.emu.fw_version


async def test_temperatures_follow_coolant_inlet(rig: Rig) -> None:
    miner = await rig.pyasic_miner()
    before = await get_data(miner, ["hashboards", "env_temp"])
    rig.fleet.set_coolant_inlet(INLET_C - 10.0)
    after = await get_data(miner, ["hashboards", "env_temp"])
    for b0, b1 in zip(before.hashboards, after.hashboards, strict=True):
        assert b1.temp == pytest.approx(b0.temp - 10.0, abs=1.0)
    if rig.case.family != "braiins":
        assert after.env_temp == pytest.approx(INLET_C - 10.0)


async def test_set_power_limit_changes_wattage_and_hashrate_as_the_model_says(rig: Rig) -> None:
    spec = get_spec(rig.case.key)
    target_w = round((spec.min_power_w + spec.nominal_power_w) / 2)
    miner = await rig.pyasic_miner()
    assert await asyncio.wait_for(miner.set_power_limit(target_w), TIMEOUT_S) is True
    data = await get_data(miner, POWER_FIELDS)
    assert data.wattage_limit == target_w
    # These models restart hashing on a limit change: boards initialise first.
    assert spec.restarts_on_limit_change
    assert float(data.hashrate) == 0.0
    assert data.wattage == round(spec.starting_power_w)
    rig.clock.advance(spec.restart_delay_s + 1)
    data = await get_data(miner, POWER_FIELDS)
    assert data.wattage == target_w
    expected_ths = target_w / spec.j_per_th(target_w, INLET_C)
    assert float(data.hashrate) == pytest.approx(expected_ths, rel=1e-4)
    assert float(data.hashrate) < spec.nominal_hashrate_ths
    assert data.uptime == 1  # hashing restarted one second ago


async def test_stop_and_resume_change_mining_state(rig: Rig) -> None:
    spec = get_spec(rig.case.key)
    miner = await rig.pyasic_miner()
    assert await asyncio.wait_for(miner.stop_mining(), TIMEOUT_S) is True
    data = await get_data(miner, [*POWER_FIELDS, "config"])
    assert rig.emu.readings().state is MinerState.SLEEPING
    assert data.wattage == round(spec.standby_power_w)
    assert float(data.hashrate) == 0.0
    if rig.case.base == "BTMinerV3":
        # pyasic 0.79 has no is_mining for API v3 (always True); the sleep shows in the config.
        assert data.is_mining is True
        assert data.config.mining_mode.mode == "sleep"
    else:
        assert data.is_mining is False

    assert await asyncio.wait_for(miner.resume_mining(), TIMEOUT_S) is True
    rig.clock.advance(spec.wake_delay_s + 1)
    data = await get_data(miner, POWER_FIELDS)
    assert data.is_mining is True
    assert data.wattage == round(spec.nominal_power_w)
    expected_ths = spec.nominal_power_w / spec.j_per_th(spec.nominal_power_w, INLET_C)
    assert float(data.hashrate) == pytest.approx(expected_ths, rel=1e-4)


async def test_out_of_range_limit_is_refused_by_the_firmware(rig: Rig) -> None:
    spec = get_spec(rig.case.key)
    miner = await rig.pyasic_miner()
    result = await asyncio.wait_for(miner.set_power_limit(round(spec.max_power_w) + 1000), TIMEOUT_S)
    # pyasic's API v3 client ignores the reply code, so it reports success for a refused write.
    assert result is (rig.case.base == "BTMinerV3")
    assert rig.emu.model.power_limit_w == spec.nominal_power_w
    data = await get_data(miner, ["wattage_limit"])
    assert data.wattage_limit == round(spec.nominal_power_w)


async def test_hot_coolant_throttles_then_stops_the_miner(rig: Rig) -> None:
    spec = get_spec(rig.case.key)
    miner = await rig.pyasic_miner()
    inlet = (spec.throttle_start_c + spec.inlet_max_c) / 2
    rig.fleet.set_coolant_inlet(inlet)
    data = await get_data(miner, [*POWER_FIELDS, "errors"])
    cap_w = spec.max_power_w - (spec.max_power_w - spec.min_power_w) * (inlet - spec.throttle_start_c) / (
        spec.inlet_max_c - spec.throttle_start_c
    )
    assert data.wattage == round(cap_w) < spec.nominal_power_w
    assert data.errors == []

    rig.fleet.set_coolant_inlet(spec.inlet_max_c + 2)
    data = await get_data(miner, [*POWER_FIELDS, "errors"])
    assert float(data.hashrate) == 0.0
    assert data.wattage == round(spec.standby_power_w)
    assert len(data.errors) >= 1
    if rig.case.family == "braiins":
        assert "coolant inlet out of range" in data.errors[0].error_message
    else:
        assert data.errors[0].error_code == 600
        assert "temperature is too high" in data.errors[0].error_message.lower()


async def test_v3_firmware_with_4028_closed_reproduces_pyasic_class_bug() -> None:
    """miner-protocols.md §4.3 item 3: with only 4433 open pyasic picks the v2 class."""
    emu = EmulatedMiner("m63s-plus-plus", f"{NET}.16.1", legacy_rpc=False)
    async with EmulatorFleet([emu]):
        miner = await asyncio.wait_for(pyasic.get_miner(emu.ip), TIMEOUT_S)
        assert miner is not None
        bases = [b.__name__ for b in type(miner).__mro__]
        assert "BTMinerV2" in bases and "BTMinerV3" not in bases
        data = await get_data(miner, ["wattage", "hashrate"])
        assert data.wattage is None


async def test_many_miners_identified_concurrently() -> None:
    fleet = EmulatorFleet.build(12, family="braiins", first_ip=f"{NET}.17.1")
    async with fleet:
        found = await asyncio.wait_for(asyncio.gather(*(pyasic.get_miner(ip) for ip in fleet.ips)), TIMEOUT_S)
        assert [type(m).__name__ for m in found] == ["BOSMinerS21Hydro"] * 12
        limits = [3000 + 100 * i for i in range(12)]
        ok = await asyncio.wait_for(
            asyncio.gather(*(m.set_power_limit(w) for m, w in zip(found, limits, strict=True))), TIMEOUT_S
        )
        assert all(ok)
        assert [m.model.power_limit_w for m in fleet.miners] == limits


#: The pyasic base class each emulated family must produce.
FAMILY_BASE = {"whatsminer": "BTMinerV2", "whatsminer-v3": "BTMinerV3", "braiins": "BOSer"}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
async def test_every_catalogue_model_is_emulated_and_identified_by_pyasic(key: str) -> None:
    # Every built-in scenario runs in `boiler demo`, so every catalogue model needs a family that
    # pyasic identifies and can read and control (generic firmware: a generic Whatsminer). The
    # driver's `identify` is pyasic's factory plus the documented class fixes (docs/pyasic-notes.md).
    clock = FakeClock()
    third = 40 + sorted(CATALOGUE).index(key)
    emu = EmulatedMiner(key, f"{NET}.{third}.1", clock=clock, coolant_inlet_c=INLET_C)
    async with EmulatorFleet([emu]):
        clock.advance(600)
        miner = await asyncio.wait_for(identify(emu.ip), TIMEOUT_S)
        assert miner is not None, f"pyasic did not identify {key} ({emu.family})"
        assert FAMILY_BASE[emu.family] in [b.__name__ for b in type(miner).__mro__]
        data = await get_data(miner, ["wattage", "wattage_limit"])
        assert data.wattage == round(emu.readings().power_w)
        spec = get_spec(key)
        target_w = int((spec.min_power_w + spec.max_power_w) / 2)
        assert await asyncio.wait_for(miner.set_power_limit(target_w), TIMEOUT_S)
        assert emu.model.power_limit_w == target_w
