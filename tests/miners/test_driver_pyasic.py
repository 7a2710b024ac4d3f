"""The pyasic adapter against the emulator over loopback sockets, with unmodified pyasic 0.79.

Per family: identification, readings equal to the emulator's state, power limit, stop/resume.
Then one test per pyasic bug we work around, each first showing the bug with plain pyasic.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyasic
import pytest
from pyasic.miners.backends.braiins_os import BOSer
from pyasic.miners.backends.btminer import BTMinerV2, BTMinerV3
from pyasic.miners.data import DataOptions
from pyasic.web.braiins_os.boser import BOSerWebAPI
from pydantic import SecretStr

from miners.config import Credentials
from miners.driver_link import MinerAuthError, MinerCommandError
from miners.driver_pyasic import PyasicConnector, PyasicLink, _errors_text, identify
from miners.emulator import EmulatedMiner, EmulatorFleet, Slow, Truncated, WrongPassword
from tests.loopback import claim_net

warnings.filterwarnings("ignore", category=UserWarning)  # pyasic warns about unknown chip counts

NET = claim_net()  # this module's loopback block (tests/loopback.py)
_blocks = itertools.count(1)


class Clock:
    """The emulated miners' clock: tests step it past restart delays instead of sleeping."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Rig:
    emu: EmulatedMiner
    fleet: EmulatorFleet
    clock: Clock
    link: PyasicLink


FAMILIES = {
    "whatsminer": ("m53s-plus-plus", "M53S++ VK10", BTMinerV2),
    "whatsminer-v3": ("m63s-plus-plus", "M63S++ VL20", BTMinerV3),
    "braiins": ("s21-hyd", "S21 Hydro", BOSer),
}


async def _rig(family: str, *, legacy_rpc: bool = True, password: str | None = None) -> Rig:
    clock = Clock()
    ip = f"{NET}.{next(_blocks)}.1"
    emu = EmulatedMiner(FAMILIES[family][0], ip, family=family, clock=clock, legacy_rpc=legacy_rpc,
                        password=password)  # type: ignore[arg-type]
    fleet = EmulatorFleet([emu])
    await fleet.start()
    link = await PyasicConnector().connect(ip, Credentials())
    assert link is not None
    return Rig(emu, fleet, clock, link)


@pytest.fixture(params=list(FAMILIES))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    built = await _rig(request.param)
    yield built
    await built.fleet.stop()


async def test_each_family_is_identified_as_its_model(rig: Rig) -> None:
    _, model, base = FAMILIES[rig.emu.family]
    assert isinstance(rig.link.miner, base)
    identity = await rig.link.identity()
    assert identity.model == model
    assert (identity.ip, identity.mac, identity.serial) == (rig.emu.ip, rig.emu.mac, rig.emu.serial)
    assert identity.fw_version and identity.supports_power_limit


async def test_reading_matches_the_emulated_state(rig: Rig) -> None:
    rig.emu.coolant_inlet_c = 38.5
    rig.clock.now_s += 600.0
    truth = rig.emu.readings()
    sample = await rig.link.read()
    assert sample.power_w == pytest.approx(truth.power_w, abs=0.5)
    assert sample.hashrate_ths == pytest.approx(truth.hashrate_ths, rel=1e-5)
    assert sample.power_limit_w == pytest.approx(truth.power_limit_w, abs=0.5)
    assert sample.coolant_in_c == pytest.approx(38.5, abs=0.01)
    assert sample.uptime_s == int(truth.uptime_s) == 600
    assert sample.mining is True and sample.errors == ()
    if rig.emu.family == "braiins":  # only BOS+ reports the coolant outlet
        assert sample.coolant_out_c == pytest.approx(truth.coolant_out_c, abs=0.01)
    else:
        assert sample.coolant_out_c is None


async def test_power_limit_moves_power_and_hashrate_as_the_model_says(rig: Rig) -> None:
    spec = rig.emu.spec
    watts = round(spec.min_power_w + 1000)
    await rig.link.set_power_limit(watts)
    assert (await rig.link.read()).power_limit_w == watts
    rig.clock.now_s += spec.restart_delay_s + 1  # this firmware restarts hashing on a change
    sample = await rig.link.read()
    assert sample.power_w == pytest.approx(watts, abs=0.5)
    assert sample.hashrate_ths == pytest.approx(watts / spec.j_per_th(watts, 35.0), rel=1e-5)


async def test_stop_and_resume_change_the_mining_state(rig: Rig) -> None:
    await rig.link.stop_mining()
    stopped = await rig.link.read()
    assert stopped.mining is False and stopped.hashrate_ths == 0.0
    assert stopped.power_w == pytest.approx(rig.emu.spec.standby_power_w, abs=0.5)
    await rig.link.resume_mining()
    assert (await rig.link.read()).mining is True
    rig.clock.now_s += rig.emu.spec.wake_delay_s + 1
    assert (await rig.link.read()).hashrate_ths == pytest.approx(rig.emu.spec.nominal_hashrate_ths, rel=1e-5)


async def test_a_refused_limit_says_why(rig: Rig) -> None:
    with pytest.raises(MinerCommandError) as caught:
        await rig.link.set_power_limit(100)
    assert not isinstance(caught.value, MinerAuthError)
    assert "set_power_limit(100)" in str(caught.value)


async def test_wrong_password_is_an_auth_error_for_every_family(rig: Rig) -> None:
    rig.emu.set_fault(WrongPassword())
    with pytest.raises(MinerAuthError, match="password"):
        await rig.link.set_power_limit(round(rig.emu.spec.min_power_w + 100))
    with pytest.raises(MinerAuthError, match="password"):
        await rig.link.stop_mining()
    assert not rig.emu.sleeping


# ---------------------------------------------------------------- workarounds, each bug shown first


async def test_v3_only_whatsminer_gets_the_v3_class() -> None:
    rig = await _rig("whatsminer-v3", legacy_rpc=False)
    try:
        plain = await pyasic.get_miner(rig.emu.ip)
        assert isinstance(plain, BTMinerV2)  # the bug: the v2 class, which reads nothing
        data = await plain.get_data(include=[DataOptions.WATTAGE])
        assert data.wattage is None
        assert not await plain.set_power_limit(4000)

        ours = await identify(rig.emu.ip)
        assert isinstance(ours, BTMinerV3) and type(ours).__name__ == type(plain).__name__
        assert isinstance(rig.link.miner, BTMinerV3)
        assert (await rig.link.read()).power_w == pytest.approx(rig.emu.readings().power_w, abs=0.5)
    finally:
        await rig.fleet.stop()


async def test_bos_model_unknown_to_pyasic_gets_the_grpc_class() -> None:
    clock = Clock()
    ip = f"{NET}.{next(_blocks)}.1"
    emu = EmulatedMiner("s21-xp-hyd", ip, clock=clock)  # BOS+; pyasic 0.79 has no class for the model
    async with EmulatorFleet([emu]):
        plain = await pyasic.get_miner(ip)
        assert plain is not None and not isinstance(plain, BOSer)  # the bug: the legacy pre-gRPC class
        assert not await plain.set_power_limit(4000)

        link = await PyasicConnector().connect(ip, Credentials())
        assert link is not None and isinstance(link.miner, BOSer)
        await link.set_power_limit(4000)
        assert emu.model.power_limit_w == 4000
        assert (await link.read()).power_limit_w == pytest.approx(4000)


async def test_v3_stopped_miner_reads_not_mining() -> None:
    rig = await _rig("whatsminer-v3")
    try:
        await rig.link.stop_mining()
        data = await rig.link.miner.get_data(include=[DataOptions.IS_MINING])
        assert data.is_mining is True  # the bug: pyasic has no is_mining for API v3
        assert (await rig.link.read()).mining is False
    finally:
        await rig.fleet.stop()


async def test_v3_refused_limit_is_reported_not_swallowed() -> None:
    rig = await _rig("whatsminer-v3")
    try:
        rig.emu.set_fault(WrongPassword())
        before = rig.emu.readings().power_limit_w
        assert await rig.link.miner.set_power_limit(4000) is True  # the bug: "success" when refused
        assert rig.emu.readings().power_limit_w == before
        with pytest.raises(MinerAuthError, match="wrong password"):
            await rig.link.set_power_limit(4000)
    finally:
        await rig.fleet.stop()


async def test_v2_refusal_reason_is_kept() -> None:
    rig = await _rig("whatsminer")
    try:
        rig.emu.set_fault(WrongPassword())
        assert await rig.link.miner.set_power_limit(4000) is False  # the bug: the reason is lost
        with pytest.raises(MinerAuthError, match=r"invalid json message.*wrong password"):
            await rig.link.set_power_limit(4000)
    finally:
        await rig.fleet.stop()


async def test_bos_restarting_tuner_is_not_read_as_stopped() -> None:
    rig = await _rig("braiins")
    try:
        await rig.link.set_power_limit(3000)  # BOS+ restarts the tuner on a new target
        data = await rig.link.miner.get_data(include=[DataOptions.IS_MINING])
        assert data.is_mining is False  # the bug: "not mining" while it restarts
        assert (await rig.link.read()).mining is True
        await rig.link.stop_mining()
        assert (await rig.link.read()).mining is False
    finally:
        await rig.fleet.stop()


async def test_bos_coolant_temperatures_are_read() -> None:
    rig = await _rig("braiins")
    try:
        data = await rig.link.miner.get_data(include=[DataOptions.HASHBOARDS, DataOptions.ENVIRONMENT_TEMP])
        assert data.env_temp is None and all(b.outlet_temp is None for b in data.hashboards)  # dropped
        truth = rig.emu.readings()
        sample = await rig.link.read()
        assert sample.coolant_in_c == pytest.approx(truth.coolant_in_c, abs=0.01)
        assert sample.coolant_out_c == pytest.approx(truth.coolant_out_c, abs=0.01)
    finally:
        await rig.fleet.stop()


async def test_bos_password_comes_from_our_config_not_pyasic_settings() -> None:
    rig = await _rig("braiins", password="hunter2")
    old = pyasic.settings.get("default_bosminer_web_password")
    try:
        pyasic.settings.update("default_bosminer_web_password", "hunter2")
        assert BOSerWebAPI(rig.emu.ip).pwd == "root"  # the bug: the setting is never read
        with pytest.raises(MinerAuthError):
            await rig.link.set_power_limit(3000)
        link = await PyasicConnector().connect(rig.emu.ip, Credentials("root", SecretStr("hunter2")))
        assert link is not None
        await link.set_power_limit(3000)
        assert (await link.read()).power_limit_w == 3000
    finally:
        pyasic.settings.update("default_bosminer_web_password", old)
        await rig.fleet.stop()


async def test_pyasic_waits_on_a_stalled_miner_far_past_a_tick() -> None:
    rig = await _rig("whatsminer")
    try:
        rig.emu.set_fault(Slow(30.0))
        task = asyncio.ensure_future(rig.link.miner.get_data(include=[DataOptions.WATTAGE]))
        done, _ = await asyncio.wait({task}, timeout=0.5)
        assert not done  # pyasic's own read timeout is 100 s: the fleet must impose its deadline
        task.cancel()
    finally:
        await rig.fleet.stop()


def test_errors_reported_twice_are_listed_once() -> None:
    from pyasic.data import MinerData
    from pyasic.data.error_codes import WhatsminerError

    # BTMinerV2 reads the same code from get_error_code and from the summary, and keeps both.
    data = MinerData(ip="127.0.0.1")
    data.errors = [WhatsminerError(error_code=531), WhatsminerError(error_code=531)]
    (only,) = _errors_text(data)
    assert only.startswith("531: ")


async def test_v2_unreadable_status_is_no_reading_not_stopped() -> None:
    rig = await _rig("whatsminer")
    try:
        rig.emu.set_fault(Truncated())
        data = await rig.link.miner.get_data(include=[DataOptions.IS_MINING])
        assert data.is_mining is False and not rig.emu.sleeping  # the bug: "stopped" while mining
        with pytest.raises(MinerCommandError):
            await rig.link.read()
    finally:
        await rig.fleet.stop()


async def test_v2_read_joins_the_summary_instead_of_fetching_it_per_field(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyasic.rpc.base import BaseMinerRPCAPI

    sent: list[str] = []
    original = BaseMinerRPCAPI._send_bytes

    async def counting(self: BaseMinerRPCAPI, data: bytes, **kwargs: object) -> bytes:
        sent.append(json.loads(data).get("command", "<encrypted>"))
        return await original(self, data, **kwargs)  # type: ignore[arg-type]

    rig = await _rig("whatsminer")
    try:
        monkeypatch.setattr(BaseMinerRPCAPI, "_send_bytes", counting)
        fields = [DataOptions.HASHRATE, DataOptions.WATTAGE, DataOptions.WATTAGE_LIMIT, DataOptions.UPTIME]
        await rig.link.miner.get_data(include=fields)
        assert sent.count("summary") == len(fields) + 1  # the bug: one lone summary per field, plus one
        sent.clear()
        await rig.link.read()
        joined = sorted("+".join(sorted(command.split("+"))) for command in sent)
        assert joined == ["devs+summary", "get_error_code", "status"]  # three connections
    finally:
        await rig.fleet.stop()


async def test_memoised_command_list_equals_pyasics_own() -> None:
    rig = await _rig("whatsminer")
    try:
        fresh = type(rig.link.miner.rpc)(rig.emu.ip)
        assert rig.link.miner.rpc.get_commands() == fresh.get_commands()
        assert "summary" in rig.link.miner.rpc.commands
    finally:
        await rig.fleet.stop()


async def test_v2_token_dropped_by_the_firmware_is_fetched_again() -> None:
    rig = await _rig("whatsminer")
    try:
        await rig.link.set_power_limit(5000)  # pyasic now caches the write token for 30 min of wall time
        rig.clock.now_s += 31 * 60.0  # the firmware's token has expired
        assert await rig.link.miner.set_power_limit(5100) is False  # the bug: refused until pyasic's 30 min
        await rig.link.set_power_limit(5200)
        assert rig.emu.readings().power_limit_w == 5200
    finally:
        await rig.fleet.stop()
