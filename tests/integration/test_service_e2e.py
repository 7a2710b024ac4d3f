"""The plant service end to end, against real servers on loopback and emulated miners behind unmodified pyasic.

A simulated day of `run_demo` with the plant over MQTT (mosquitto with password and TLS, simulated
field devices) and telemetry into InfluxDB 1.x behind the v2-write shim: the database holds exactly
the ledger; the retained state tree and the Home Assistant discovery configs are as docs/mqtt.md says;
operator commands on `…/set` take effect within the documented bounds, and bad ones are refused with a
reason and counted. Then the VictoriaMetrics native `/api/v2/write` path on a shorter run.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from boiler.ledger import LedgerRow
from boiler.mqtt import STATE_ITEMS, discovery_configs
from boiler.service.demo import DemoOptions, run_demo
from boiler.store import PlantStore
from boiler.telemetry.schema import LEDGER_FIELDS
from tests.integration.influx_servers import InfluxDB1, VictoriaMetrics
from tests.integration.mqtt_server import MosquittoServer
from tests.integration.service_rig import (
    TICK_S,
    Inside,
    Observer,
    Recorder,
    Tick,
    inside,
    new_site,
    observe,
    random_first_ip,
    retained,
    site_config,
    telemetry_config,
)

pytestmark = pytest.mark.slow  # the service end to end

DAY_S = 86_400.0
SPEED = 1e6  # plant time runs as fast as the work allows; every check below counts ticks, not seconds
#: Reasons under which the safety layer, not the operator, has the last word.
SAFETY_REASONS = ("safe:", "tank_hot", "coolant_hot", "legionella_cycle")
NUMBER = re.compile(rb"^-?\d+(\.\d{1,3})?$|^None$")


def ledger_fields(row: LedgerRow) -> dict[str, float]:
    """The fields a ledger point carries for `row` (docs/telemetry.md)."""
    data = row.as_dict()
    data["interval_s"] = row.end_s - row.start_s
    return {k: float(data[k]) for k in LEDGER_FIELDS if k in data and math.isfinite(data[k])}  # NaN: not written


def by_operator(t: Tick) -> bool:
    return not t.reason.startswith(SAFETY_REASONS)


async def command(obs: Observer, rec: Recorder, topic: str, payload: str | bytes) -> tuple[dict, int]:
    """Publish a command; its result and the number of ticks finished when the result was seen."""
    mark = len(obs.messages)
    await obs.client.publish(topic, payload, qos=1)
    result = await obs.result_for(topic, after=mark)
    return result, rec.n


def first_tick(rec: Recorder, after: int, predicate: Callable[[Tick], bool]) -> Tick:
    found = next((t for t in rec.ticks[after:] if predicate(t)), None)
    assert found is not None, f"no tick after {after} shows the expected effect"
    return found


async def operator(obs: Observer, rec: Recorder, seen: Inside, base: str, change_bound: int,
                   hysteresis_k: float) -> None:
    """Commands at set points of the day, each checked for its effect. A command seen accepted after
    tick k is applied by a tick that starts after it: at the latest tick k + 2."""
    # -- mode off: the miners sleep at once (a cut to zero lifts the anti-chatter rules) ----------
    await rec.wait_tick(80)
    result, k = await command(obs, rec, f"{base}/mode/set", "off")
    assert (result["accepted"], result["reason"], result["command"]) == (True, "ok", {"kind": "mode", "mode": "off"})
    await rec.wait_tick(k + 4)
    applied = first_tick(rec, k, lambda t: "mode_off" in t.reason or t.miner_power_w == 0.0)
    assert applied.n <= k + 2
    asleep = rec.tick(applied.n + 1)  # polled through pyasic after the sleep order went out
    assert set(asleep.miner_states.values()) == {"sleeping"}, asleep
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/mode" and m.payload == b"off", what="mode off in state")

    result, k = await command(obs, rec, f"{base}/mode/set", '{"mode": "AUTO"}')
    assert result["accepted"] and result["command"]["mode"] == "auto"
    await rec.wait_tick(k + 3)
    assert "mode_off" not in rec.tick(k + 2).reason
    off_ticks = [t for t in rec.ticks if "mode_off" in t.reason]
    assert off_ticks and all(t.miner_power_w == 0.0 for t in off_ticks)

    # -- a miner-power override with an expiry (plant time: the demo's clock) ---------------------
    await rec.wait_tick(100)
    result, k = await command(obs, rec, f"{base}/override/miner_power_w/set", '{"value": 3000, "for_s": 3600}')
    assert result["accepted"], result
    at = datetime.fromisoformat(result["at"])
    expires = datetime.fromisoformat(result["command"]["expires_at"])
    assert expires - at == timedelta(seconds=3600)
    assert abs(at.timestamp() - rec.tick(k).now_s) <= 2 * TICK_S  # stamped in plant time, not the wall's
    end_s = expires.timestamp()
    await rec.wait_tick(k + 2 + math.ceil(3600 / TICK_S) + 2)
    tagged = [t for t in rec.ticks[k:] if "override_miner_power_w" in t.reason]
    assert tagged and tagged[0].n <= k + 2
    for t in rec.ticks[tagged[0].n - 1:]:
        if by_operator(t):
            assert ("override_miner_power_w" in t.reason) == (t.now_s < end_s), t
            if t.now_s < end_s:
                assert t.miner_power_w == 3000.0
    # The fleet follows within the anti-chatter bound: one S21 at 3 kW (two minimums do not fit).
    reached = first_tick(rec, tagged[0].n, lambda t: sum(v or 0.0 for v in t.miner_limits_w.values()) == 3000.0)
    assert reached.n <= tagged[0].n + change_bound and reached.now_s <= end_s
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/override/miner_power_w" and m.payload == b"3000",
                       what="the override in state")  # fmt: skip
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/override/miner_power_w" and m.payload == b"None",
                       what="the expired override cleared in state")  # fmt: skip

    # -- the outlet setpoint: the gas boiler's setpoint follows ----------------------------------
    await rec.wait_tick(130)
    result, k = await command(obs, rec, f"{base}/setpoint/outlet_c/set", "65")
    assert result["accepted"] and result["command"] == {"kind": "setpoint", "target": "outlet_c", "value_c": 65.0}
    await rec.wait_tick(k + 4)
    # The boiler's own hysteresis sits on top of the outlet setpoint (the strategy adds margins above).
    floor_c = 65.0 + hysteresis_k
    raised = [t for t in rec.ticks[k + 2:] if by_operator(t)]
    assert raised and min(t.gas_setpoint_c for t in raised) >= floor_c, raised
    before = [t for t in rec.ticks[:k] if by_operator(t)]
    assert max(t.gas_setpoint_c for t in before) < floor_c
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/setpoint/outlet_c" and m.payload == b"65",
                       what="the outlet setpoint in state")  # fmt: skip
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/actuator/gas_setpoint" and float(m.payload) >= floor_c,
                       what="the gas setpoint sent to the boiler")  # fmt: skip
    assert seen.device.received["gas_setpoint"] >= floor_c  # and the device obeyed
    result, k = await command(obs, rec, f"{base}/setpoint/outlet_c/set", '{"value": 60}')
    assert result["accepted"]

    # -- bad commands: each refused with a reason on the result topic, and counted ----------------
    await rec.wait_tick(160)
    bad = [
        ("mode/set", "turbo", "invalid"),
        ("mode/set", b"\xff\xfe", "not_utf8"),
        ("mode/set", "{", "not_json"),
        ("mode/set", "", "empty"),
        ("setpoint/outlet_c/set", "95", "out_of_range"),
        ("setpoint/outlet_c/set", "NaN", "not_finite"),
        ("override/miner_power_w/set", '{"value": 3000, "until": "2026-01-05T23:00:00"}', "naive_time"),
        ("override/miner_power_w/set", '{"value": 3000, "until": "2026-01-01T00:00:00Z"}', "expired"),
        ("override/miner_power_w/set", '{"value": 3000, "for_s": 1e9}', "too_long"),
        ("override/miner_power_w/set", "-5", "out_of_range"),
        ("override/gas_enable/set", "maybe", "invalid"),
        ("turbo/set", "1", "unknown_command"),
    ]
    stats = seen.link.stats
    accepted = stats.commands_accepted
    for path, payload, reason in bad:
        result, _ = await command(obs, rec, f"{base}/{path}", payload)
        assert (result["accepted"], result["reason"]) == (False, reason), (path, payload, result)
        assert result["detail"] and "command" not in result
    assert stats.commands_rejected == Counter(reason for *_, reason in bad)
    assert stats.commands_accepted == accepted and stats.handler_errors == 0

    # An `until` in the plant's future is accepted (and then cleared) even though the wall clock is past it.
    result, _ = await command(obs, rec, f"{base}/override/gas_enable/set",
                              '{"value": "on", "until": "2026-01-06T03:00:00+01:00"}')  # fmt: skip
    assert result["accepted"], result
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/override/gas_enable" and m.payload == b"on",
                       what="the gas override in state")  # fmt: skip
    result, _ = await command(obs, rec, f"{base}/override/gas_enable/set", "auto")
    assert result["accepted"] and result["command"]["value"] is None
    await obs.wait_for(lambda m: str(m.topic) == f"{base}/override/gas_enable" and m.payload == b"auto",
                       what="the gas override cleared in state")  # fmt: skip


async def test_a_day_over_mqtt_into_influxdb_1x(
    mosquitto: MosquittoServer, influx1: InfluxDB1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = new_site("e2e")
    base = f"boiler/{site}"
    cfg = site_config(site, mosquitto=mosquitto,
                      telemetry=telemetry_config(tmp_path, influx1.url, influx1.bucket, influx1.token))  # fmt: skip
    # Keep the strategy's own gas boosts small, so a raised setpoint is the operator's doing.
    cfg.control.rule.cold_boost_k = 0.0
    policy = cfg.control.allocation
    assert cfg.gas_boiler is not None
    change_bound = math.ceil(policy.min_change_interval_s / TICK_S) + 2
    state_path = tmp_path / "state.sqlite"
    opts = DemoOptions(speed=SPEED, duration_s=DAY_S, tick_s=TICK_S, first_ip=random_first_ip(),
                       state_path=state_path)  # fmt: skip
    rec = Recorder()
    with inside(monkeypatch) as seen:
        async with observe(mosquitto, site) as obs:
            async with asyncio.TaskGroup() as tg:
                demo = tg.create_task(run_demo(cfg, opts, "e2e", on_status=rec))
                await operator(obs, rec, seen, base, change_bound, cfg.gas_boiler.hysteresis_k)
            summary = demo.result()
            online = obs.on(f"{base}/status")

    ticks = int(DAY_S / TICK_S) + 1
    assert summary["ticks"] == len(rec.ticks) == ticks
    assert [m.payload for m in online][:1] == [b"online"]
    link = seen.link
    assert link.stats.handler_errors == 0 and sum(link.board.rejections.values()) == 0

    # -- the database holds exactly the ledger: every row, field by field, nothing else -----------
    with PlantStore(state_path) as store:
        rows = store.ledger_rows()
    assert len(rows) == DAY_S / cfg.service.ledger_interval_s
    stored = {round(r.end_s * 1e9): ledger_fields(r) for r in rows}
    points = influx1.rows("ledger", where=f"site = '{site}'")
    got = {p.time_ns: {k: float(v) for k, v in p.fields.items()} for p in points}  # JSON gives 3 for 3.0
    assert len(points) == len(got)
    assert got == stored
    # One decision point per change of reason, at the tick's plant time, with who decided.
    changes = [t for i, t in enumerate(rec.ticks) if i == 0 or t.reason != rec.ticks[i - 1].reason]
    decisions = influx1.rows("decision", where=f"site = '{site}'")
    assert [d.time_ns for d in decisions] == [round(t.now_s * 1e9) for t in changes]
    assert [d.fields["reason"] for d in decisions] == [t.reason for t in changes]
    assert [d.fields["decided_by"] for d in decisions] == [t.decided_by for t in changes]
    assert [d.fields["safety_override"] for d in decisions] == [t.decided_by == "safety" for t in changes]

    # -- the retained tree and the discovery configs, as a newcomer (Home Assistant) finds them -----
    tree = await retained(mosquitto, [f"{base}/#", f"homeassistant/+/boiler_{site}/+/config"])
    assert tree[f"{base}/status"] == b"offline"  # said on the clean stop
    assert tree[f"{base}/reason"] == b"stopped"
    assert f"{base}/command/result" not in tree  # answers are not retained
    assert tree[f"{base}/mode"] == b"auto"
    assert tree[f"{base}/setpoint/outlet_c"] == b"60"
    assert tree[f"{base}/override/miner_power_w"] == b"None"
    assert tree[f"{base}/override/gas_enable"] == tree[f"{base}/override/charging_pump"] == b"auto"
    assert tree[f"{base}/safe_state"] == b"OFF"
    totals = {k: sum(getattr(r, k) for r in rows) for k in ("heat_from_miners_kwh", "heat_from_gas_kwh",
                                                             "mining_revenue_eur")}  # fmt: skip
    assert float(tree[f"{base}/heat/miners_kwh"]) == pytest.approx(totals["heat_from_miners_kwh"], abs=1e-3)
    assert float(tree[f"{base}/heat/gas_kwh"]) == pytest.approx(totals["heat_from_gas_kwh"], abs=1e-3)
    assert float(tree[f"{base}/money/revenue_eur"]) == pytest.approx(totals["mining_revenue_eur"], abs=1e-3)
    for item in STATE_ITEMS:
        assert f"{base}/{item.key}" in tree, item.key
        if item.value_type == "number":
            assert NUMBER.match(tree[f"{base}/{item.key}"]), (item.key, tree[f"{base}/{item.key}"])
    mqtt_cfg = link.config
    for s in mqtt_cfg.sensors:
        assert NUMBER.match(tree[f"{base}/sensor/{s.name}"]), s.name
        assert tree[f"{base}/sensor/{s.name}/available"] in (b"online", b"offline")
    assert tree[f"{base}/sensor/outlet/available"] == b"online"
    for a in mqtt_cfg.actuators:
        assert tree[f"{base}/actuator/{a.name}"] in (b"ON", b"OFF") or NUMBER.match(tree[f"{base}/actuator/{a.name}"])

    configs = {t: json.loads(p) for t, p in tree.items() if t.startswith("homeassistant/")}
    assert configs == discovery_configs(mqtt_cfg)
    assert len(configs) == len(STATE_ITEMS) + len(mqtt_cfg.sensors) + len(mqtt_cfg.actuators)
    node = f"boiler_{site}"
    for topic, body in configs.items():
        _, _component, node_id, object_id, _ = topic.split("/")
        assert node_id == node and body["unique_id"] == f"{node}_{object_id}"
        assert body["availability"][0] == {"topic": f"{base}/status", "payload_available": "online",
                                           "payload_not_available": "offline"}  # fmt: skip
        assert body["availability_mode"] == "all"
        assert body["device"]["identifiers"] == [node] and body["device"]["name"] == f"Mining boiler {site}"
        assert body["state_topic"] in tree, f"{topic}: nothing published on {body['state_topic']}"
        if "command_topic" in body:
            assert body["command_topic"] == body["state_topic"] + "/set"
        if object_id.startswith("sensor_"):
            assert body["availability"][1]["topic"] == f"{base}/sensor/{object_id[7:]}/available"
            assert body["unit_of_measurement"] in ("°C", "kWh", "m³")
    mode = configs[f"homeassistant/select/{node}/mode/config"]
    assert mode["options"] == ["auto", "manual", "off", "legionella"]
    outlet = configs[f"homeassistant/number/{node}/setpoint_outlet_c/config"]
    assert (outlet["min"], outlet["max"], outlet["step"], outlet["unit_of_measurement"]) == (40.0, 80.0, 0.5, "°C")
    assert configs[f"homeassistant/binary_sensor/{node}/safe_state/config"]["device_class"] == "problem"
    assert configs[f"homeassistant/sensor/{node}/heat_miners_kwh/config"]["state_class"] == "total_increasing"
    assert configs[f"homeassistant/sensor/{node}/sensor_outlet/config"]["device_class"] == "temperature"


async def test_victoriametrics_native_write_holds_the_ledger(victoria: VictoriaMetrics, tmp_path: Path) -> None:
    site = new_site("e2e_vm")
    cfg = site_config(site, telemetry=telemetry_config(tmp_path, victoria.url, "ignored"))
    hours = 6
    state_path = tmp_path / "state.sqlite"
    opts = DemoOptions(speed=SPEED, duration_s=hours * 3600.0, tick_s=TICK_S, first_ip=random_first_ip(),
                       state_path=state_path)  # fmt: skip
    rec = Recorder()
    summary = await run_demo(cfg, opts, "e2e-vm", on_status=rec)
    with PlantStore(state_path) as store:
        rows = store.ledger_rows()
    assert len(rows) == hours and summary["ticks"] == len(rec.ticks)

    expected = {(f"ledger_{k}", round(r.end_s * 1000)): v for r in rows for k, v in ledger_fields(r).items()}
    series = victoria.wait_for_samples(f'{{__name__=~"ledger_.*",site="{site}"}}', len(expected))
    got = {(s.name, t): v for s in series for t, v in zip(s.timestamps_ms, s.values, strict=True)}
    assert got.keys() == expected.keys()
    # VictoriaMetrics keeps floats as decimals of limited precision.
    assert [got[k] for k in sorted(got)] == pytest.approx([expected[k] for k in sorted(got)], rel=1e-12, abs=1e-12)
    # A decision point for each change of reason (the first tick's included), none for the ticks between.
    changes = [t for i, t in enumerate(rec.ticks) if i == 0 or t.reason != rec.ticks[i - 1].reason]
    assert 1 < len(changes) < len(rec.ticks)
    decisions = victoria.wait_for_samples(f'{{__name__="decision_miner_power_w",site="{site}"}}', len(changes))
    assert [t for s in decisions for t in s.timestamps_ms] == [round(t.now_s * 1000) for t in changes]
    assert [v for s in decisions for v in s.values] == [t.miner_power_w for t in changes]
