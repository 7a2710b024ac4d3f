"""State tree, discovery configs and message routing, without a broker; and docs/mqtt.md agreeing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boiler.mqtt import PlantMqtt
from boiler.mqtt.commands import COMMAND_PATHS, ModeCommand
from boiler.mqtt.config import MqttConfig
from boiler.mqtt.discovery import discovery_configs
from boiler.mqtt.state import STATE_BY_KEY, STATE_ITEMS, format_state
from boiler.mqtt.topics import Topics

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"
NOW = datetime(2025, 1, 31, 16, 0, tzinfo=UTC)


def site_config() -> MqttConfig:
    return MqttConfig.model_validate(
        {
            "site": "montlucon",
            "sensors": [
                {"name": "tank_top", "topic": "plant/tank", "json_path": "top", "unit": "°C"},
                {"name": "charge_flow", "topic": "plant/heatmeter", "json_path": "flow", "unit": "m³/h"},
                {"name": "gas_meter", "topic": "plant/gas", "unit": "m³", "device_class": "gas"},
            ],
            "actuators": [
                {"name": "charging_pump", "kind": "pump_speed", "topic": "plant/pump/set", "ack_topic": "plant/pump"},
                {"name": "gas_enable", "kind": "gas_enable", "topic": "plant/gas/enable/set"},
            ],
            "commands": {"outlet_c": [45, 75], "miner_power_max_w": 30000},
        }
    )


@pytest.mark.parametrize(
    ("key", "value", "payload"),
    [
        ("mode", "legionella", b"legionella"),
        ("safe_state", True, b"ON"),
        ("safe_state", False, b"OFF"),
        ("setpoint/outlet_c", 60, b"60"),
        ("miners/hashrate_ths", 412.3456, b"412.346"),
        ("override/miner_power_w", None, b"None"),
        ("override/gas_enable", "auto", b"auto"),
        ("reason", "x" * 300, b"x" * 255),
    ],
)
def test_state_payloads(key: str, value: object, payload: bytes) -> None:
    assert format_state(STATE_BY_KEY[key], value) == payload  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "value"),
    [("mode", "turbo"), ("safe_state", 1), ("miners/power_w", True), ("miners/power_w", float("inf")),
     ("mode", None), ("reason", 5)],
)  # fmt: skip
def test_state_values_of_the_wrong_kind_raise(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        format_state(STATE_BY_KEY[key], value)  # type: ignore[arg-type]


def test_discovery_covers_every_item_sensor_and_actuator_once() -> None:
    cfg = site_config()
    configs = discovery_configs(cfg, "1.2.3")
    topics = Topics(cfg)
    assert len(configs) == len(STATE_ITEMS) + 3 + 2
    unique_ids = [body["unique_id"] for body in configs.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for topic, body in configs.items():
        prefix, component, node, object_id, last = topic.split("/")
        assert (prefix, node, last) == ("homeassistant", "boiler_montlucon", "config")
        assert body["unique_id"] == f"boiler_montlucon_{object_id}"
        assert body["availability"][0]["topic"] == "boiler/montlucon/status"
        assert body["availability_mode"] == "all"
        assert body["device"]["identifiers"] == ["boiler_montlucon"]
        assert body["device"]["sw_version"] == "1.2.3"
        assert body["state_topic"].startswith("boiler/montlucon/")
        assert None not in body.values()
        if component in ("number", "select"):
            assert body["command_topic"] == body["state_topic"] + "/set"
            assert topics.command_path(body["command_topic"]) in COMMAND_PATHS


def test_discovery_details_follow_config() -> None:
    configs = discovery_configs(site_config(), "1")
    outlet = configs["homeassistant/number/boiler_montlucon/setpoint_outlet_c/config"]
    assert (outlet["min"], outlet["max"], outlet["unit_of_measurement"]) == (45.0, 75.0, "°C")
    power = configs["homeassistant/number/boiler_montlucon/override_miner_power_w/config"]
    assert (power["min"], power["max"]) == (0.0, 30000.0)
    mode = configs["homeassistant/select/boiler_montlucon/mode/config"]
    assert mode["options"] == ["auto", "manual", "off", "legionella"]
    flow = configs["homeassistant/sensor/boiler_montlucon/sensor_charge_flow/config"]
    assert (flow["unit_of_measurement"], flow["device_class"]) == ("L/min", "volume_flow_rate")
    assert flow["availability"][1]["topic"] == "boiler/montlucon/sensor/charge_flow/available"
    gas = configs["homeassistant/sensor/boiler_montlucon/sensor_gas_meter/config"]
    assert (gas["device_class"], gas["state_class"]) == ("gas", "total_increasing")
    pump = configs["homeassistant/sensor/boiler_montlucon/actuator_charging_pump/config"]
    assert (pump["state_topic"], pump["unit_of_measurement"]) == ("boiler/montlucon/actuator/charging_pump", "%")
    assert "homeassistant/binary_sensor/boiler_montlucon/actuator_gas_enable/config" in configs


def test_docs_name_every_state_item_command_and_reason() -> None:
    text = DOCS.read_text()
    for item in STATE_ITEMS:
        assert f"`B/{item.key}`" in text, item.key
    for path in COMMAND_PATHS:
        assert f"`B/{path}/set`" in text, path
    for reason in ("invalid", "out_of_range", "naive_time", "expired", "too_long", "unknown_command", "retained"):
        assert f"`{reason}`" in text, reason


def test_command_topic_parsing() -> None:
    topics = Topics(site_config())
    assert topics.command_path("boiler/montlucon/mode/set") == "mode"
    assert topics.command_path("boiler/montlucon/override/gas_enable/set") == "override/gas_enable"
    assert topics.command_path("boiler/other/mode/set") is None
    assert topics.command_path("boiler/montlucon/mode") is None
    assert topics.command_path("boiler/montlucon/set") is None
    # Empty levels match the `+` of the command filters: they are command topics too (and get rejected).
    assert topics.command_path("boiler/montlucon//set") == ""
    assert topics.command_path("boiler/montlucon/mode//set") == "mode/"
    assert topics.command_path("boiler/montlucon///set") == "/"
    assert topics.command_path("boiler/montlucon/a/b/c/set") is None


async def test_routing_without_a_broker() -> None:
    now = [100.0]
    plant = PlantMqtt(site_config(), clock=lambda: now[0], wall_clock=lambda: NOW)
    plant.handle_message("plant/tank", b'{"top": 61}')
    plant.handle_message("plant/tank", b"{bad")
    plant.handle_message("boiler/montlucon/mode/set", b"off")
    plant.handle_message("boiler/montlucon/mode/set", b"off", retained=True)
    plant.handle_message("boiler/montlucon/override/charging_pump/set", b"maybe")
    plant.handle_message("plant/pump", b"fast")
    plant.handle_message("somewhere/else", b"1")
    assert plant.board.value("tank_top", 100.0) == 61.0
    assert plant.board.rejections == {"not_json": 1}
    assert plant.drain_commands() == [ModeCommand(mode="off")]
    assert plant.stats.commands_accepted == 1
    assert plant.stats.commands_rejected == {"retained": 1, "invalid": 1}
    assert plant.stats.ack_errors == {"not_a_number": 1}
    assert (plant.stats.received, plant.stats.unexpected) == (7, 1)
    assert [(r.accepted, r.reason) for r in plant.results] == [(True, "ok"), (False, "retained"), (False, "invalid")]
    assert json.loads(plant.results[-1].to_payload())["topic"] == "boiler/montlucon/override/charging_pump/set"


async def test_publish_state_rejects_wrong_input_and_changes_nothing() -> None:
    plant = PlantMqtt(site_config())
    with pytest.raises(KeyError, match="unknown state item 'tank_temp'"):
        plant.publish_state({"mode": "auto", "tank_temp": 1.0})
    with pytest.raises(ValueError, match="mode must be one of"):
        plant.publish_state({"reason": "x", "mode": "turbo"})
    plant.publish_state({"mode": "auto"})
    pending = {m.topic: m.payload for m in plant._pending.values()}
    assert pending == {"boiler/montlucon/mode": b"auto"}


# -- every command gets exactly one answer (issue 12) ---------------------------------------------------
LEVEL = st.sampled_from(["", "mode", "override", "setpoint", "gas_enable", "outlet_c", "miner_power_w", "x"])
UNTIL = st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
                         "2025-01-31T17:00:00+01:00", "2025-01-31T15:00:00Z", "not a date"])
PAYLOAD = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([b"auto", b"off", b"on", b"60", b"{}", b"", b"NaN"]),
    st.builds(lambda v, u: json.dumps({"value": v, "until": u}).encode(), st.sampled_from(["on", 500, None]), UNTIL),
)


@settings(max_examples=300, deadline=None)
@given(levels=st.lists(LEVEL, min_size=1, max_size=2), payload=PAYLOAD, retained=st.booleans())
def test_each_message_on_a_command_topic_gets_exactly_one_result(levels: list[str], payload: bytes,
                                                                  retained: bool) -> None:
    plant = PlantMqtt(site_config(), wall_clock=lambda: NOW)
    topic = "boiler/montlucon/" + "/".join(levels) + "/set"
    plant.handle_message(topic, payload, retained=retained)
    assert len(plant.results) == 1
    results = [m for m in plant._events if m.topic == "boiler/montlucon/command/result"]
    assert len(results) == 1
    body = json.loads(results[0].payload)
    assert body["topic"] == topic and isinstance(body["accepted"], bool) and body["reason"]
    assert plant.stats.commands_accepted + sum(plant.stats.commands_rejected.values()) == 1
    assert plant.stats.handler_errors == 0


async def test_a_bug_in_parsing_still_gives_one_result(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    import boiler.mqtt.client as client

    def broken(*args: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "parse_command", broken)
    plant = PlantMqtt(site_config(), wall_clock=lambda: NOW)
    plant.handle_message("boiler/montlucon/mode/set", b"auto")
    assert [(r.accepted, r.reason) for r in plant.results] == [(False, "internal_error")]
    assert "boom" in plant.results[0].detail
    assert plant.stats.commands_rejected == {"internal_error": 1}
    assert any("mqtt_command_error" in r.getMessage() and r.exc_info for r in caplog.records)
