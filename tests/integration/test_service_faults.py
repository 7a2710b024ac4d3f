"""Faults while the plant service runs, against real servers on loopback and emulated miners behind pyasic.

- the broker restarted mid-run: the service runs on, holds the safe state while its sensors are stale,
  reconnects by itself and publishes its whole state tree again;
- InfluxDB stopped for (at least) a simulated hour: every point arrives, in order, with its timestamp;
- a sensor going stale, another implausible: the safe state exactly when the bound says, recovery after;
- hypothesis-generated malformed sensor payloads and commands: each rejected and counted, no crash.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boiler.config import PlantConfig
from boiler.mqtt import COMMAND_PATHS, discovery_configs
from boiler.mqtt.payload import MAX_PAYLOAD_BYTES
from boiler.service.demo import DemoOptions, run_demo
from boiler.store import PlantStore
from tests.integration.influx_servers import InfluxDB1
from tests.integration.mqtt_server import MosquittoServer, wait_until
from tests.integration.service_rig import (
    TICK_S,
    Inside,
    Observer,
    Recorder,
    inside,
    new_site,
    observe,
    random_first_ip,
    retained,
    site_config,
    telemetry_config,
)

pytestmark = pytest.mark.slow  # faults injected into the running service

SPEED = 1e6  # as fast as the work allows: every bound below is in ticks
SAFE_W = 2500.0  # one S21 at its minimum: the safe state is visible in the miners' limits


def with_safe_power(cfg: PlantConfig) -> PlantConfig:
    cfg.control.safe_miner_power_w = SAFE_W
    return cfg


def options(tmp_path: Path, hours: float) -> DemoOptions:
    return DemoOptions(speed=SPEED, duration_s=hours * 3600.0, tick_s=TICK_S, first_ip=random_first_ip(),
                       state_path=tmp_path / "state.sqlite")  # fmt: skip


def fleet_limit_w(limits: dict[str, float | None]) -> float:
    return sum(v or 0.0 for v in limits.values())


def check_fleet_in_safe_state(rec: Recorder, run: list[int], cfg: PlantConfig) -> None:
    """Over one unbroken safe state, the limits the miners report through pyasic (read at the next
    tick) never exceed the safe power (a forced cut passes at once) and reach it as soon as the
    anti-chatter interval lets an asleep miner wake."""
    wake_ticks = math.ceil(cfg.control.allocation.min_change_interval_s / TICK_S)
    assert len(run) > wake_ticks + 1, run
    polled = [fleet_limit_w(rec.tick(n + 1).miner_limits_w) for n in run]
    assert max(polled) <= SAFE_W, polled
    assert set(polled[wake_ticks:]) == {SAFE_W}, polled


# -- the broker ------------------------------------------------------------------------------------


async def test_broker_restart_safe_state_while_stale_then_recovery_and_state_republished(
    mosquitto_private: MosquittoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, site = mosquitto_private, new_site("brk")
    base = f"boiler/{site}"
    cfg = with_safe_power(site_config(site, mosquitto=broker))
    opts = options(tmp_path, 12)
    rec = Recorder()
    with inside(monkeypatch) as seen:
        async with asyncio.TaskGroup() as tg:
            demo = tg.create_task(run_demo(cfg, opts, "broker", on_status=rec))
            await rec.wait_tick(15)
            assert seen.link.connected and seen.device.connected
            stale_after_s = seen.link.board.config("outlet").stale_after_s
            await asyncio.to_thread(broker.stop)
            down = rec.n  # every tick after this one started without the broker
            # Sensors stale past `stale_after_s`, then `sensor_fault_ticks` bad ticks: the safe state.
            bound = down + 1 + math.floor(stale_after_s / TICK_S) + 1 + cfg.control.sensor_fault_ticks
            await rec.wait_tick(bound + 3)
            assert not seen.link.connected
            await asyncio.to_thread(broker.start)
            up = rec.n
            await wait_until(lambda: seen.link.connected and seen.device.connected, 20, "both reconnected")
            await wait_until(lambda: not rec.ticks[-1].safe_state, 20, "the service out of the safe state")
            back = rec.n
            # The devices get every actuator's current value again (the service resends them on connect).
            sent = seen.link.actuators.current
            await wait_until(lambda: all(seen.device.received.get(k) == v for k, v in sent().items()),
                             20, "the actuators resent to the devices")  # fmt: skip
            # The broker lost its retained store (no persistence): the service sent its tree again.
            tree = await retained(broker, [f"{base}/#", f"homeassistant/+/boiler_{site}/+/config"])
        summary = demo.result()

    assert summary["ticks"] == len(rec.ticks) == 12 * 3600 / TICK_S + 1  # it ran on through the outage
    safe = [t for t in rec.ticks if t.safe_state]
    assert safe, "the stale sensors never drove the safe state"
    assert down < safe[0].n <= bound
    # Every sensor goes stale; which ones are listed first depends on which reading last reached the
    # broker before it stopped (the devices publish one after another), so only the set over the outage.
    assert "sensor_fault" in safe[0].reason
    assert any("outlet" in t.reason for t in safe)
    assert all(t.safe_state for t in rec.ticks[safe[0].n - 1 : up])  # held while the broker was away
    for t in safe:
        assert t.gas_enable and t.miner_power_w == SAFE_W
    check_fleet_in_safe_state(rec, [t.n for t in rec.ticks[safe[0].n - 1 : up]], cfg)
    assert not any(t.safe_state for t in rec.ticks[back:])  # recovered by itself, for good
    assert seen.link.stats.connects >= 2 and seen.link.stats.handler_errors == 0

    assert tree[f"{base}/status"] == b"online"
    assert tree[f"{base}/mode"] == b"auto"
    assert {f"{base}/reason", f"{base}/miners/power_w", f"{base}/heat/miners_kwh"} <= tree.keys()
    assert {t for t in tree if t.startswith("homeassistant/")} == discovery_configs(seen.link.config).keys()


# -- the database ----------------------------------------------------------------------------------


def line_time_ns(line: str) -> int:
    return int(line.rsplit(" ", 1)[1])


async def test_influxdb_down_for_a_simulated_hour_loses_no_point_and_keeps_order(
    influx1_private: InfluxDB1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, site = influx1_private, new_site("idb")
    cfg = site_config(site, telemetry=telemetry_config(tmp_path, db.url, db.bucket, db.token))
    opts = options(tmp_path, 6)
    rec = Recorder()
    with inside(monkeypatch) as seen:
        async with asyncio.TaskGroup() as tg:
            demo = tg.create_task(run_demo(cfg, opts, "influx", on_status=rec))
            await rec.wait_tick(10)
            await asyncio.to_thread(db.stop_database)
            last_before = rec.ticks[-1]
            await rec.wait_tick(rec.n + int(3600 / TICK_S) + 1)
            telemetry = seen.telemetry[-1]
            await wait_until(lambda: telemetry.stats().failed_attempts >= 2, 20, "failed writes")
            queued = telemetry.stats().queued
            await asyncio.to_thread(db.start_database)
            first_after = rec.ticks[-1]
        summary = demo.result()
    stats = telemetry.stats()

    assert first_after.now_s - last_before.now_s - TICK_S >= 3600.0  # down for at least a simulated hour
    assert queued > 0 and stats.failed_attempts >= 2
    assert (stats.queued, stats.dropped, stats.rejected, stats.append_failures) == (0, 0, 0, 0)
    submitted = [p.to_line() for p in seen.submitted]
    assert stats.written == len(submitted) and summary["ticks"] == len(rec.ticks)
    # Arrival order at the database is submission order, line for line (a re-sent batch may repeat).
    arrived = [line for w in list(db.shim.writes) for line in w.body.split("\n") if f"site={site}" in line]
    assert list(dict.fromkeys(arrived)) == submitted
    assert all(line_time_ns(a) <= line_time_ns(b) for a, b in itertools.pairwise(submitted))
    # Every point is stored with its original (plant-time) timestamp: one plant point a tick.
    plant = db.rows("plant", where=f"site = '{site}'")
    assert [p.time_ns for p in plant] == [round(t.now_s * 1e9) for t in rec.ticks]
    with PlantStore(opts.state_path) as store:
        rows = store.ledger_rows()
    ledger = db.rows("ledger", where=f"site = '{site}'")
    assert [p.time_ns for p in ledger] == [round(r.end_s * 1e9) for r in rows] and len(rows) == 6
    assert [p.fields["heat_from_gas_kwh"] for p in ledger] == [r.heat_from_gas_kwh for r in rows]
    counts = {m: len(db.rows(m, where=f"site = '{site}'")) for m in ("plant", "tank", "miner", "decision", "ledger")}
    expected = {m: sum(1 for p in seen.submitted if p.measurement == m) for m in counts}
    assert counts == expected


# -- sensors ---------------------------------------------------------------------------------------


async def test_stale_and_implausible_sensors_drive_the_safe_state_within_the_bound_then_recover(
    mosquitto: MosquittoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = new_site("sns")
    base = f"boiler/{site}"
    cfg = with_safe_power(site_config(site, mosquitto=mosquitto))
    fault_ticks = cfg.control.sensor_fault_ticks
    opts = options(tmp_path, 8)
    rec = Recorder()
    stale_at, stale_clear, bad_at, bad_clear = 20, 35, 50, 60
    with inside(monkeypatch) as seen:

        def fault(name: str, value: float | None) -> None:
            seen.device.faults[name] = value

        def clear(name: str) -> None:
            del seen.device.faults[name]

        # Between two ticks: the next sync publishes without the tank's middle probe, ...
        rec.at(stale_at, lambda: fault("store_middle", None))
        rec.at(stale_clear, lambda: clear("store_middle"))
        # ... and later with the outlet probe reading 150 °C (outside its plausible -5..110 °C).
        rec.at(bad_at, lambda: fault("outlet", 150.0))
        rec.at(bad_clear, lambda: clear("outlet"))
        async with observe(mosquitto, site) as obs:
            summary = await run_demo(cfg, opts, "sensors", on_status=rec)
            messages = list(obs.messages)
        stale_after_s = seen.link.board.config("store_middle").stale_after_s

    assert summary["ticks"] == len(rec.ticks)
    safe_ticks = [t.n for t in rec.ticks if t.safe_state]
    # Stale: the last value (tick `stale_at`) is too old once more than `stale_after_s` passed, and
    # `sensor_fault_ticks` such ticks in a row are the fault.
    first_stale = stale_at + math.floor(stale_after_s / TICK_S) + 1
    expected_stale = list(range(first_stale + fault_ticks - 1, stale_clear + 1))
    # Implausible: untrusted at once, so the fault after `sensor_fault_ticks` ticks.
    expected_bad = list(range(bad_at + fault_ticks, bad_clear + 1))
    assert safe_ticks == expected_stale + expected_bad
    assert all("sensor_fault:store.middle" in rec.tick(n).reason for n in expected_stale)
    assert all("sensor_fault:outlet" in rec.tick(n).reason for n in expected_bad)
    for n in safe_ticks:
        t = rec.tick(n)
        assert t.gas_enable and t.miner_power_w == SAFE_W and t.charge_pump
    check_fleet_in_safe_state(rec, expected_stale, cfg)
    check_fleet_in_safe_state(rec, expected_bad, cfg)
    assert rec.tick(bad_at + 1).outlet_c is None and rec.tick(bad_clear + 1).outlet_c is not None

    def states(topic: str) -> list[bytes]:
        out: list[bytes] = []
        for m in messages:
            if str(m.topic) == topic and (not out or out[-1] != m.payload):
                out.append(bytes(m.payload))  # type: ignore[arg-type]
        return out

    assert states(f"{base}/safe_state") == [b"OFF", b"ON", b"OFF", b"ON", b"OFF"]
    assert b"offline" in states(f"{base}/sensor/outlet/available")
    assert states(f"{base}/sensor/outlet/available")[-1] == b"online"


# -- malformed payloads while the service runs -------------------------------------------------------


@dataclass
class Running:
    obs: Observer
    rec: Recorder
    seen: Inside
    base: str
    sensor_topic: str


@pytest.fixture
async def running(
    mosquitto: MosquittoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    """The service over MQTT, running until the test ends; then it must stop cleanly."""
    site = new_site("fuzz")
    cfg = site_config(site, mosquitto=mosquitto)
    opts = DemoOptions(speed=2000.0, duration_s=30 * 86_400.0, tick_s=TICK_S, first_ip=random_first_ip(),
                       state_path=tmp_path / "state.sqlite")  # fmt: skip
    rec, stop = Recorder(), asyncio.Event()
    with inside(monkeypatch) as seen:
        async with observe(mosquitto, site) as obs:
            demo = asyncio.create_task(run_demo(cfg, opts, "fuzz", on_status=rec, stop=stop))
            await rec.wait_tick(2)
            yield Running(obs, rec, seen, f"boiler/{site}", f"devices/{site}/store/top")
            stop.set()
            summary = await demo  # no exception: the service survived
    assert summary["ticks"] == len(rec.ticks) > 2
    assert seen.link.stats.handler_errors == 0


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
#: Never a usable reading of a plain °C sensor with a plausible range of -5..110 °C.
SENSOR_GARBAGE = st.one_of(
    st.binary(max_size=30).map(lambda b: b"\xff" + b),  # not UTF-8
    st.text(alphabet=" \t\r\n", max_size=3).map(str.encode),  # blank
    st.text(min_size=1, max_size=20).filter(lambda s: "\x00" in s or not _parses_as_float(s.strip())).map(str.encode),
    st.sampled_from([b"nan", b"inf", b"-Infinity", b"1e999"]),  # not finite
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not -5.0 <= x <= 110.0).map(
        lambda x: repr(x).encode()),  # implausible
    st.integers(1, 3).map(lambda k: b"6" * (MAX_PAYLOAD_BYTES + k)),  # too large
)  # fmt: skip
#: Refused on every command path.
COMMAND_GARBAGE = st.one_of(
    st.binary(max_size=30).map(lambda b: b"\xff" + b),
    st.text(alphabet=" \t\r\n", max_size=3).map(str.encode),
    st.lists(JSON, max_size=3).map(lambda v: json.dumps(v).encode()),  # an array is no command
    st.dictionaries(st.text(max_size=4), JSON, max_size=2).map(lambda d: json.dumps({**d, "zz": 1}).encode()),
    st.floats(max_value=-1.0, allow_nan=False, allow_infinity=False).map(lambda x: json.dumps(x).encode()),
    st.text(max_size=12).map(lambda s: ("{" + s).encode()).filter(lambda b: not _is_json(b)),
)
UNKNOWN_PATHS = st.from_regex(r"[a-z_]{1,8}(/[a-z_]{1,8})?", fullmatch=True).filter(lambda p: p not in COMMAND_PATHS)


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


@FUZZ
@given(payload=SENSOR_GARBAGE)
async def test_malformed_sensor_payloads_are_rejected_and_counted_while_running(
    running: Running, payload: bytes
) -> None:
    board = running.seen.link.board
    before = sum(board.rejections_by_sensor["store_top"].values())
    await running.obs.client.publish(running.sensor_topic, payload, qos=1)
    await wait_until(lambda: sum(board.rejections_by_sensor["store_top"].values()) == before + 1, 10,
                     "the rejection to be counted")  # fmt: skip
    assert sum(board.rejections.values()) == sum(sum(c.values()) for c in board.rejections_by_sensor.values())


@FUZZ
@given(path=st.sampled_from(COMMAND_PATHS) | UNKNOWN_PATHS, payload=COMMAND_GARBAGE)
async def test_malformed_commands_are_rejected_with_a_reason_and_counted_while_running(
    running: Running, path: str, payload: bytes
) -> None:
    stats = running.seen.link.stats
    rejected, accepted = sum(stats.commands_rejected.values()), stats.commands_accepted
    topic = f"{running.base}/{path}/set"
    mark = len(running.obs.messages)
    await running.obs.client.publish(topic, payload, qos=1)
    result: dict[str, Any] = await running.obs.result_for(topic, after=mark)
    assert result["accepted"] is False and result["reason"] != "ok" and result["detail"]
    assert sum(stats.commands_rejected.values()) == rejected + 1
    assert stats.commands_accepted == accepted


async def test_after_the_garbage_the_service_still_obeys(running: Running) -> None:
    for payload in (b"\xff", b"[1]", b"{", b"-3"):
        mark = len(running.obs.messages)
        await running.obs.client.publish(f"{running.base}/mode/set", payload, qos=1)
        assert not (await running.obs.result_for(f"{running.base}/mode/set", after=mark))["accepted"]
    mark = len(running.obs.messages)
    await running.obs.client.publish(f"{running.base}/mode/set", b"off", qos=1)
    assert (await running.obs.result_for(f"{running.base}/mode/set", after=mark))["accepted"]
    n = running.rec.n
    await running.rec.wait_tick(n + 3)
    assert any("mode_off" in t.reason for t in running.rec.ticks[n:])
