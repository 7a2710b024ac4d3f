"""The emulator's parts without sockets: identity, crypto against pyasic's own code, wire encoding
against pyasic's protobuf classes, and the miner's commands, faults and clock."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from pyasic.rpc.btminer import TokenData, create_privileged_cmd, parse_btminer_priviledge_data
from pyasic.web.braiins_os.proto.braiins.bos import v1 as bos

from miners import protowire as pw
from miners.catalogue import get_spec
from miners.emulator import (
    Disconnect,
    EmulatedMiner,
    EmulatorFleet,
    PowerLimitRejected,
    Reboot,
    Unreachable,
    WrongPassword,
    loopback_ips,
)
from miners.emulator.braiins import BraiinsGrpcApi, BraiinsRpcApi
from miners.emulator.identity import check_family, default_family, derived_mac, find_spec, pyasic_key
from miners.emulator.whatsminer_v2 import WhatsminerV2Api, decrypt, encrypt, md5_crypt_part
from miners.emulator.whatsminer_v3 import WhatsminerV3Api, token_for
from miners.model import MinerState
from tests.loopback import claim_net

warnings.filterwarnings("ignore", module="pyasic")
NET = claim_net()


class FakeClock:
    def __init__(self, start_s: float = 1_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def make(key: str = "s21-hyd", ip: str = "127.0.0.9", **kw: object) -> tuple[EmulatedMiner, FakeClock]:
    clock = FakeClock()
    return EmulatedMiner(key, ip, clock=clock, **kw), clock  # type: ignore[arg-type]


# ---------------------------------------------------------------------- identity
def test_loopback_ips_skip_network_and_broadcast_hosts() -> None:
    ips = list(loopback_ips("127.0.1.253", 4))
    assert ips == ["127.0.1.253", "127.0.1.254", "127.0.2.1", "127.0.2.2"]
    assert len(set(loopback_ips("127.0.1.1", 1000))) == 1000


@pytest.mark.parametrize("first", ["10.0.0.1", "127.255.255.254"])
def test_loopback_ips_refuse_non_loopback_or_overflow(first: str) -> None:
    with pytest.raises(ValueError):
        list(loopback_ips(first, 3))


def test_family_defaults_and_mismatch() -> None:
    assert default_family(get_spec("s21-hyd")) == "braiins"
    assert default_family(get_spec("m53s-plus-plus")) == "whatsminer"
    assert default_family(get_spec("m63s-plus-plus")) == "whatsminer-v3"
    with pytest.raises(ValueError, match="braiins firmware"):
        check_family(get_spec("s21-hyd"), "whatsminer")
    # Generic firmware (no emulator of its own protocol) is a generic Whatsminer-API hydro unit.
    assert default_family(get_spec("ah3880")) == "whatsminer"
    assert default_family(get_spec("generic-hydro-2kw")) == "whatsminer"
    with pytest.raises(ValueError, match="use whatsminer, whatsminer-v3"):
        check_family(get_spec("ah3880"), "braiins")
    assert find_spec("antminer s21 hyd.").key == "s21-hyd"


def test_pyasic_key_follows_the_factory_rules() -> None:
    # The factory strips "_" from the Whatsminer model and zeroes its last character.
    assert pyasic_key(get_spec("m53s-plus-plus"), "whatsminer") == "M53S++VK10"
    assert pyasic_key(get_spec("s21-hyd"), "braiins") == "ANTMINER S21 HYD."


def test_identity_is_stable_and_distinct_per_address() -> None:
    a, _ = make(ip="127.0.3.1")
    b, _ = make(ip="127.0.3.2")
    again, _ = make(ip="127.0.3.1")
    assert (a.mac, a.serial) == (again.mac, again.serial)
    assert a.mac != b.mac and a.serial != b.serial
    assert derived_mac("127.0.3.1", "braiins") == "02:03:7F:00:03:01"
    moved, _ = make(ip="127.0.3.9", serial=a.serial, mac=a.mac)  # an IP change keeps the identity
    assert (moved.mac, moved.serial) == (a.mac, a.serial)


# ---------------------------------------------------------------------- Whatsminer v2 crypto
def _pyasic_token(api: WhatsminerV2Api, password: str) -> TokenData:
    """The token pyasic derives from a get_token reply (its own algorithm, inlined from its docs)."""
    msg = api.handle({"command": "get_token"})["Msg"]
    key = md5_crypt_part(password, msg["salt"])
    return TokenData(host_passwd_md5=key, host_sign=md5_crypt_part(key + msg["time"], msg["newsalt"]))


def test_v2_privileged_write_round_trip_with_pyasic_crypto() -> None:
    emu, _ = make("m53s-plus-plus")
    api = WhatsminerV2Api(emu)
    token = _pyasic_token(api, "admin")
    request = create_privileged_cmd(token, {"cmd": "adjust_power_limit", "power_limit": "5000"})
    import json

    reply = api.handle(json.loads(request))
    assert parse_btminer_priviledge_data(token, reply)["Msg"] == "API command OK"
    assert emu.model.power_limit_w == 5000


def test_v2_encrypt_decrypt_are_inverse_and_key_bound() -> None:
    obj = {"cmd": "power_off", "respbefore": "true", "token": "x" * 22}
    assert decrypt("key-a", encrypt("key-a", obj)) == obj
    with pytest.raises(ValueError):
        decrypt("key-b", encrypt("key-a", obj))


def test_v2_refuses_stale_token_and_wrong_password() -> None:
    import json

    emu, clock = make("m53s-plus-plus")
    api = WhatsminerV2Api(emu)
    token = _pyasic_token(api, "admin")
    clock.advance(1801)  # tokens live 30 min
    reply = api.handle(json.loads(create_privileged_cmd(token, {"cmd": "power_off", "respbefore": "true"})))
    assert parse_btminer_priviledge_data(token, reply)["Code"] == 135
    emu.set_fault(WrongPassword())
    token = _pyasic_token(api, "admin")
    reply = api.handle(json.loads(create_privileged_cmd(token, {"cmd": "power_off", "respbefore": "true"})))
    assert reply["STATUS"] == "E" and reply["Code"] == 23
    assert not emu.sleeping


def test_v2_multicommand_shape() -> None:
    emu, _ = make("m53s-plus-plus")
    reply = WhatsminerV2Api(emu).handle({"command": "summary+devs"})
    assert set(reply) == {"summary", "devs", "id"}
    assert reply["summary"][0]["SUMMARY"][0]["Power Limit"] == 7040
    assert len(reply["devs"][0]["DEVS"]) == emu.board_count
    assert WhatsminerV2Api(emu).handle({"command": "summary+reboot"})["STATUS"][0]["Code"] == 14


def test_v3_token_check() -> None:
    emu, _ = make("m63s-plus-plus")
    api = WhatsminerV3Api(emu)
    salt = api.handle({"cmd": "get.device.info", "param": "salt"})["msg"]["salt"]
    good = {"cmd": "set.miner.power_limit", "param": 5000, "ts": 7, "account": "super",
            "token": token_for("set.miner.power_limit", "super", salt, 7)}
    assert api.handle({**good, "token": "AAAAAAAA"})["code"] == -4
    assert emu.model.power_limit_w == 7200
    assert api.handle(good)["msg"] == "ok"
    assert emu.model.power_limit_w == 5000


# ---------------------------------------------------------------------- BOS+ wire format
def test_protowire_varint_matches_protobuf() -> None:
    assert pw.varint(1) == b"\x01"
    assert pw.varint(300) == b"\xac\x02"
    assert bos.Power().parse(pw.uint(1, 5360)).watt == 5360
    assert bos.Temperature().parse(pw.double(1, 47.25)).degree_c == 47.25


def test_bos_replies_parse_with_pyasic_classes() -> None:
    emu, clock = make("s21-hyd", coolant_inlet_c=40.0)
    clock.advance(125)
    api = BraiinsGrpcApi(emu)
    r = emu.readings()

    details = bos.GetMinerDetailsResponse().parse(api._details(b""))
    assert (details.mac_address, details.serial_number, details.hostname) == (emu.mac, emu.serial, emu.hostname)
    assert details.bos_version.current.split("-")[5] == details.bos_version.major == "25.03"
    assert details.sticker_hashrate.gigahash_per_second == 335_000
    assert details.bosminer_uptime_s == 125

    stats = bos.GetMinerStatsResponse().parse(api._stats(b""))
    assert stats.power_stats.approximated_consumption.watt == 5360
    assert stats.miner_stats.real_hashrate.last_5_s.gigahash_per_second == pytest.approx(r.hashrate_ths * 1000)

    boards = bos.GetHashboardsResponse().parse(api._hashboards(b"")).hashboards
    assert [b.id for b in boards] == ["1", "2", "3"]
    assert boards[0].chips_count == 216
    assert boards[1].board_temp.degree_c == pytest.approx(r.boards[1].board_temp_c)
    assert boards[2].highest_chip_temp.temperature.degree_c == pytest.approx(r.boards[2].chip_temp_c)
    assert boards[0].lowest_inlet_temp.degree_c == 40.0
    assert boards[0].highest_outlet_temp.degree_c == pytest.approx(r.coolant_out_c)
    assert boards[0].stats.real_hashrate.last_5_s.gigahash_per_second == pytest.approx(r.hashrate_ths * 1000 / 3)

    mode = bos.PerformanceMode().parse(api._performance_mode(b""))
    assert mode.tuner_mode.power_target.power_target.watt == 5360
    config = bos.GetMinerConfigurationResponse().parse(api._configuration(b""))
    assert config.tuner.enabled and config.tuner.tuner_mode == bos.TunerMode.POWER_TARGET
    assert config.tuner.power_target.watt == 5360
    pools = bos.GetPoolGroupsResponse().parse(api._pool_groups(b"")).to_pydict()
    assert pools["poolGroups"][0]["pools"][0]["stats"]["acceptedShares"] == 13

    request = bytes(bos.SetPowerTargetRequest(power_target=bos.Power(watt=4000)))
    assert bos.SetPowerTargetResponse().parse(api._set_power_target(request)).power_target.watt == 4000
    assert emu.model.power_limit_w == 4000
    assert bos.PauseMiningResponse().parse(api._pause(b"")).already_paused is False
    assert bos.PauseMiningResponse().parse(api._pause(b"")).already_paused is True


def test_bos_tuner_status_reports_inlet_stop_as_error() -> None:
    emu, _ = make("s21-hyd", coolant_inlet_c=55.0)
    chains = BraiinsRpcApi(emu).handle({"command": "tunerstatus"})["TUNERSTATUS"][0]["TunerChainStatus"]
    assert {c["Status"].split(" {")[0] for c in chains} == {"Coolant inlet out of range"}
    emu.coolant_inlet_c = 35.0
    emu.stop_mining()
    assert BraiinsRpcApi(emu).handle({"command": "tunerstatus"})["TUNERSTATUS"][0]["TunerChainStatus"] == []


# ---------------------------------------------------------------------- the miner
def test_power_limit_outside_range_is_refused() -> None:
    emu, _ = make("s21-hyd")
    with pytest.raises(PowerLimitRejected, match="2500-5360"):
        emu.apply_power_limit(2000)
    with pytest.raises(PowerLimitRejected):
        emu.apply_power_limit(6000)
    assert emu.apply_power_limit(3000) == 3000


def test_readings_follow_the_hydro_model() -> None:
    emu, clock = make("m53s-plus-plus", coolant_inlet_c=30.0)
    spec = emu.spec
    r = emu.readings()
    assert r.state is MinerState.HASHING
    assert r.power_w == spec.nominal_power_w
    assert r.hashrate_ths == pytest.approx(spec.nominal_power_w / spec.j_per_th(spec.nominal_power_w, 30.0))
    assert r.coolant_out_c == pytest.approx(emu.model.coolant_out_c(30.0))
    assert sum(b.hashrate_ths for b in r.boards) == pytest.approx(r.hashrate_ths)
    assert all(b.chip_temp_c > b.board_temp_c > r.coolant_out_c for b in r.boards)
    clock.advance(42)
    assert emu.readings().uptime_s == 42


def test_reboot_goes_down_then_back_with_fresh_uptime_on_the_clock() -> None:
    emu, clock = make("s21-hyd")
    emu.apply_power_limit(4000)
    clock.advance(emu.spec.restart_delay_s + 500)
    emu.reboot(down_s=60)
    assert emu.is_down() and emu.readings().power_w == emu.spec.standby_power_w
    clock.advance(59.9)
    assert emu.is_down()
    clock.advance(0.2)
    assert not emu.is_down() and emu.fault is None and emu.boots == 2
    assert emu.readings().state is MinerState.STARTING
    clock.advance(emu.spec.wake_delay_s + 7)
    r = emu.readings()
    assert (r.state, r.uptime_s, r.power_limit_w) == (MinerState.HASHING, 7, 4000)


def test_disconnect_budget_and_fault_switching() -> None:
    emu, _ = make()
    assert emu.take_request()
    emu.set_fault(Disconnect(after_requests=2))
    assert [emu.take_request() for _ in range(4)] == [True, True, False, False]
    emu.set_fault(Unreachable())
    assert emu.is_down()
    emu.clear_fault()
    assert not emu.is_down() and emu.take_request()
    seen: list[object] = []
    emu.add_listener(lambda: seen.append(emu.fault))
    emu.set_fault(Reboot(5))
    emu.clear_fault()
    assert seen == [Reboot(5), None] and emu.boots == 2


def test_wrong_password_changes_the_session() -> None:
    emu, _ = make()
    before = emu.session_secret
    assert emu.password_ok("root")
    emu.set_fault(WrongPassword())
    assert not emu.password_ok("root") and emu.session_secret != before


# ---------------------------------------------------------------------- the fleet
def test_fleet_rejects_duplicate_addresses() -> None:
    a, _ = make(ip="127.0.4.1")
    b, _ = make(ip="127.0.4.1")
    with pytest.raises(ValueError, match="share an IP"):
        EmulatorFleet([a, b])


async def test_fleet_of_300_starts_binds_and_stops() -> None:
    fleet = EmulatorFleet.build(300, family="braiins", first_ip=f"{NET}.200.1")
    async with fleet:
        assert all(fleet.host(m).bound for m in fleet.miners)
        _, writer = await asyncio.open_connection(fleet.ips[-1], 50051)
        writer.close()
        fleet.set_coolant_inlet(41.0, fleet.miners[:10])
        assert [m.coolant_inlet_c for m in fleet.miners[9:11]] == [41.0, 35.0]
        assert fleet.total_power_w() == pytest.approx(300 * 5360)
    assert not any(fleet.host(m).bound for m in fleet.miners)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(fleet.ips[0], 4028)


async def test_fleet_start_fails_cleanly_when_a_port_is_taken() -> None:
    import socket

    ip = f"{NET}.201.2"
    blocker = socket.socket()
    blocker.bind((ip, 4028))
    blocker.listen()
    try:
        fleet = EmulatorFleet.build(3, family="whatsminer", first_ip=f"{NET}.201.1")
        with pytest.raises(OSError, match=f"cannot listen on {ip}:4028"):
            await fleet.start()
        assert not any(fleet.host(m).bound for m in fleet.miners)
    finally:
        blocker.close()
