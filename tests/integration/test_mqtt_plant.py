"""The plant's MQTT link against a real mosquitto (TLS + password): sensors, commands, state, discovery, actuators."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest

from boiler.mqtt import (
    MqttConfig,
    OverrideCommand,
    PlantMqtt,
    SetpointCommand,
    discovery_configs,
)
from tests.integration.mqtt_server import MosquittoServer, mqtt_client, plant_config, wait_until

NOW = datetime(2025, 1, 31, 16, 0, tzinfo=UTC)


class Clock:
    """The controller's clock, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def new_site() -> str:
    return f"t{secrets.token_hex(4)}"


def sensors_and_actuators(site: str) -> dict[str, object]:
    return {
        "sensors": [
            {"name": "tank_top", "topic": f"{site}/dev/tank", "json_path": "probes.0.t", "unit": "°F",
             "plausible": [0, 100], "stale_after_s": 60},
            {"name": "tank_bottom", "topic": f"{site}/dev/tank", "json_path": "probes.1.t", "unit": "°F"},
            {"name": "charge_flow", "topic": f"{site}/dev/flow", "unit": "m³/h"},
            {"name": "miner_power", "topic": f"{site}/dev/power", "json_path": "p", "unit": "kW"},
        ],
        "actuators": [
            {"name": "charging_pump", "kind": "pump_speed", "topic": f"{site}/dev/pump/set",
             "ack_topic": f"{site}/dev/pump/state", "deadband": 1},
            {"name": "gas_enable", "kind": "gas_enable", "topic": f"{site}/dev/gas/set", "retain": True},
        ],
    }  # fmt: skip


@pytest.fixture
async def observer(mosquitto: MosquittoServer) -> AsyncIterator[aiomqtt.Client]:
    async with mqtt_client(mosquitto) as client:
        yield client


Expected = bytes | Callable[[bytes], bool]


async def await_payloads(
    client: aiomqtt.Client, expected: Mapping[str, Expected], timeout_s: float = 10.0
) -> dict[str, aiomqtt.Message]:
    """Read messages until the latest one on every expected topic matches; returns the latest per topic."""

    def matches(topic: str) -> bool:
        message, want = seen.get(topic), expected[topic]
        if message is None:
            return False
        payload = bytes(message.payload)  # type: ignore[arg-type]
        return want(payload) if callable(want) else payload == want

    seen: dict[str, aiomqtt.Message] = {}
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                seen[str(message.topic)] = message
                if all(matches(topic) for topic in expected):
                    return seen
    except TimeoutError:
        wrong = {t: (seen[t].payload if t in seen else "(nothing)") for t in expected if not matches(t)}
        raise AssertionError(f"topics never showed the expected payload: {wrong}") from None
    raise AssertionError("message stream ended")


async def test_sensor_values_arrive_converted_and_untrusted_ones_are_flagged(
    mosquitto: MosquittoServer, observer: aiomqtt.Client
) -> None:
    site, clock = new_site(), Clock()
    config = plant_config(mosquitto, site, **sensors_and_actuators(site))
    async with PlantMqtt(config, clock=clock, housekeeping_s=0.02) as plant:
        await plant.wait_connected(10)
        await observer.publish(f"{site}/dev/tank", json.dumps({"probes": [{"t": 140}, {"t": 59}]}), qos=1)
        await observer.publish(f"{site}/dev/flow", b"3.6", qos=1)
        await observer.publish(f"{site}/dev/power", b'{"p": 5.2}', qos=1, retain=True)  # live: retain flag cleared
        board = plant.board
        await wait_until(lambda: sum(board.accepted.values()) == 4, what="4 accepted readings")
        assert board.value("tank_top", clock()) == pytest.approx(60.0)
        assert board.value("tank_bottom", clock()) == pytest.approx(15.0)
        assert board.value("charge_flow", clock()) == pytest.approx(60.0)
        assert board.value("miner_power", clock()) == pytest.approx(5200.0)

        # The state tree mirrors trusted values and their availability.
        base = f"boiler/{site}"
        await observer.subscribe(f"{base}/sensor/#", qos=1)
        await await_payloads(
            observer, {f"{base}/sensor/tank_top": b"60", f"{base}/sensor/tank_top/available": b"online"}
        )

        clock.now_s += 61  # past stale_after_s of tank_top (60 s); the default 120 s still holds for the others
        assert board.reading("tank_top", clock()).status == "stale"
        assert board.reading("tank_bottom", clock()).ok
        await await_payloads(observer, {f"{base}/sensor/tank_top/available": b"offline"})

        await observer.publish(f"{site}/dev/tank", json.dumps({"probes": [{"t": 300}, {"t": 60}]}), qos=1)
        await wait_until(lambda: board.rejections["implausible"] == 1, what="an implausible reading")
        reading = board.reading("tank_top", clock())
        assert reading.status == "implausible" and reading.value is None
        assert "148.889 °C outside 0..100" in reading.detail

        await observer.publish(f"{site}/dev/tank", json.dumps({"probes": [{"t": 131}, {"t": 60}]}), qos=1)
        await wait_until(lambda: board.reading("tank_top", clock()).ok, what="recovery")
        assert board.value("tank_top", clock()) == pytest.approx(55.0)
        await await_payloads(
            observer, {f"{base}/sensor/tank_top": b"55", f"{base}/sensor/tank_top/available": b"online"}
        )


async def test_retained_sensor_snapshot_is_ignored_unless_accepted(
    mosquitto: MosquittoServer, observer: aiomqtt.Client
) -> None:
    site = new_site()
    await observer.publish(f"{site}/a", b"50", qos=1, retain=True)
    await observer.publish(f"{site}/b", b"51", qos=1, retain=True)
    sensors = [
        {"name": "a", "topic": f"{site}/a", "unit": "°C"},
        {"name": "b", "topic": f"{site}/b", "unit": "°C", "accept_retained": True},
    ]
    async with PlantMqtt(plant_config(mosquitto, site, sensors=sensors)) as plant:
        await plant.wait_connected(10)
        await wait_until(lambda: plant.board.ignored_retained == 1 and plant.board.accepted["b"] == 1)
        assert plant.board.reading("a", 0).status == "never_seen"
        assert plant.board.value("b", 0) == 51.0
    for topic in (f"{site}/a", f"{site}/b"):
        await observer.publish(topic, b"", qos=1, retain=True)


async def test_commands_are_accepted_or_rejected_with_a_reason(
    mosquitto: MosquittoServer, observer: aiomqtt.Client
) -> None:
    site = new_site()
    base = f"boiler/{site}"
    config = plant_config(mosquitto, site, commands={"miner_power_max_w": 20000})
    async with PlantMqtt(config, wall_clock=lambda: NOW) as plant:
        await plant.wait_connected(10)
        await observer.subscribe(f"{base}/command/result", qos=1)
        sent = [
            ("mode/set", b"legionella"),
            ("setpoint/outlet_c/set", b'{"value": 62.5}'),
            ("setpoint/outlet_c/set", b"95"),
            ("override/miner_power_w/set", b'{"value": 4000, "for_s": 600}'),
            ("override/miner_power_w/set", b"25000"),
            ("override/gas_enable/set", b'{"value": "on", "until": "2025-01-31T18:00:00+01:00"}'),
            ("override/gas_enable/set", b'{"value": "on", "until": "2025-01-31T18:00:00"}'),
            ("mode/set", b"turbo"),
            ("pump/set", b"on"),
            ("override/charging_pump/set", b"auto"),
        ]
        for path, payload in sent:
            await observer.publish(f"{base}/{path}", payload, qos=1)
        results = []
        async with asyncio.timeout(10):
            async for message in observer.messages:
                results.append(json.loads(message.payload))
                if len(results) == len(sent):
                    break
        assert [(r["topic"], r["accepted"], r["reason"]) for r in results] == [
            (f"{base}/mode/set", True, "ok"),
            (f"{base}/setpoint/outlet_c/set", True, "ok"),
            (f"{base}/setpoint/outlet_c/set", False, "out_of_range"),
            (f"{base}/override/miner_power_w/set", True, "ok"),
            (f"{base}/override/miner_power_w/set", False, "out_of_range"),
            (f"{base}/override/gas_enable/set", True, "ok"),
            (f"{base}/override/gas_enable/set", False, "naive_time"),
            (f"{base}/mode/set", False, "invalid"),
            (f"{base}/pump/set", False, "unknown_command"),
            (f"{base}/override/charging_pump/set", True, "ok"),
        ]
        assert results[2]["detail"] == "setpoint outlet_c 95 outside 40..80 °C"
        assert results[3]["command"] == {
            "kind": "override", "item": "miner_power_w", "value": 4000.0, "expires_at": "2025-01-31T16:10:00Z",
        }  # fmt: skip
        commands = plant.drain_commands()
        assert commands[1] == SetpointCommand(target="outlet_c", value_c=62.5)
        assert commands[3] == OverrideCommand(
            item="gas_enable", value=True, expires_at=datetime(2025, 1, 31, 17, 0, tzinfo=UTC)
        )
        assert commands[2].expires_at == NOW + timedelta(seconds=600)  # type: ignore[union-attr]
        assert len(commands) == 5
        assert plant.stats.commands_accepted == 5
        assert plant.stats.commands_rejected == {"out_of_range": 2, "naive_time": 1, "invalid": 1, "unknown_command": 1}


async def test_a_retained_command_is_refused_not_replayed(mosquitto: MosquittoServer, observer: aiomqtt.Client) -> None:
    site = new_site()
    await observer.publish(f"boiler/{site}/mode/set", b"off", qos=1, retain=True)
    async with PlantMqtt(plant_config(mosquitto, site)) as plant:
        await plant.wait_connected(10)
        await wait_until(lambda: plant.stats.commands_rejected["retained"] == 1, what="the retained command")
        assert plant.drain_commands() == []
        assert "empty retained message" in plant.results[-1].detail
    await observer.publish(f"boiler/{site}/mode/set", b"", qos=1, retain=True)


async def test_state_tree_and_discovery_are_retained_as_documented(mosquitto: MosquittoServer) -> None:
    site = new_site()
    config: MqttConfig = plant_config(mosquitto, site, **sensors_and_actuators(site))
    async with PlantMqtt(config, housekeeping_s=0.02) as plant:
        await plant.wait_connected(10)
        plant.publish_state(
            {"mode": "auto", "reason": "tank_below_setpoint", "safe_state": False, "setpoint/outlet_c": 60,
             "override/miner_power_w": None, "override/gas_enable": "auto", "miners/power_w": 5200.4,
             "heat/miners_kwh": 12.3456}
        )  # fmt: skip
        plant.set_actuator("charging_pump", 45)
        plant.set_actuator("gas_enable", True)
        assert await plant.flush(10)

        base = f"boiler/{site}"
        expected_state = {
            f"{base}/status": b"online",
            f"{base}/mode": b"auto",
            f"{base}/reason": b"tank_below_setpoint",
            f"{base}/safe_state": b"OFF",
            f"{base}/setpoint/outlet_c": b"60",
            f"{base}/override/miner_power_w": b"None",
            f"{base}/override/gas_enable": b"auto",
            f"{base}/miners/power_w": b"5200.4",
            f"{base}/heat/miners_kwh": b"12.346",
            f"{base}/actuator/charging_pump": b"45",
            f"{base}/actuator/gas_enable": b"ON",
            f"{base}/sensor/tank_top/available": b"offline",
        }
        expected_discovery = discovery_configs(config)
        async with mqtt_client(mosquitto) as late:  # joins afterwards: sees only what is retained
            await late.subscribe(f"{base}/#", qos=1)
            await late.subscribe(f"homeassistant/+/boiler_{site}/+/config", qos=1)
            await late.subscribe(f"{site}/dev/#", qos=1)
            expected: dict[str, Expected] = {**expected_state, f"{site}/dev/gas/set": b"ON"}
            for topic, body in expected_discovery.items():
                expected[topic] = lambda payload, body=body: json.loads(payload) == body
            seen = await await_payloads(late, expected)
        assert all(seen[topic].retain for topic in expected)
        assert f"{site}/dev/pump/set" not in seen  # not a retained actuator
        assert not any(t.endswith("/set") and t.startswith(base) for t in seen)


async def test_actuators_are_sent_on_change_resent_and_acknowledged(
    mosquitto: MosquittoServer, observer: aiomqtt.Client
) -> None:
    site = new_site()
    layout = sensors_and_actuators(site)
    layout["actuators"].append(  # type: ignore[attr-defined]
        {"name": "dry_cooler", "kind": "dry_cooler", "topic": f"{site}/dev/cooler/set", "format": "json",
         "json_key": "on", "republish_s": 0.05}
    )  # fmt: skip
    await observer.subscribe(f"{site}/dev/+/set", qos=1)
    async with PlantMqtt(plant_config(mosquitto, site, **layout), housekeeping_s=0.01) as plant:
        await plant.wait_connected(10)
        assert plant.set_actuator("charging_pump", 40)
        assert not plant.set_actuator("charging_pump", 40.5)  # inside the 1 % deadband
        assert plant.set_actuator("charging_pump", 42)
        assert plant.set_actuator("dry_cooler", True)
        received: list[tuple[str, bytes]] = []
        async with asyncio.timeout(10):
            async for message in observer.messages:
                received.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                if sum(t.endswith("cooler/set") for t, _ in received) >= 3:
                    break
        pump = [p for t, p in received if t == f"{site}/dev/pump/set"]
        assert pump == [b"42"]  # the newest value replaced 40 before the writer ran; 40.5 was never due
        cooler = {p for t, p in received if t == f"{site}/dev/cooler/set"}
        assert cooler == {b'{"on":true}'}

        assert not await plant.wait_ack("charging_pump", 0.05)
        await observer.publish(f"{site}/dev/pump/state", b"41.5", qos=1)  # device rounds; within deadband
        assert await plant.wait_ack("charging_pump", 10)
        status = plant.actuator_status("charging_pump")
        assert (status.value, status.acked_value) == (42.0, 41.5)
