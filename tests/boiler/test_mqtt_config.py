"""MQTT config: what is accepted, what is refused with which message, and the derived defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from boiler.mqtt.config import DEFAULT_PLAUSIBLE, ActuatorConfig, BrokerConfig, MqttConfig, SensorConfig


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "site": "montlucon",
        "sensors": [{"name": "tank_top", "topic": "plant/tank/top", "unit": "°C"}],
        "actuators": [{"name": "charging_pump", "kind": "pump_speed", "topic": "plant/pump/set_speed"}],
    }
    base.update(overrides)
    return base


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        MqttConfig.model_validate(data)
    return str(info.value)


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = MqttConfig.model_validate({"site": "s1"})
    assert cfg.prefix == "boiler"
    assert cfg.discovery_prefix == "homeassistant"
    assert cfg.broker.effective_port == 1883
    assert cfg.client_id == "boiler-s1"
    assert cfg.sensors == [] and cfg.actuators == []


def test_tls_changes_the_default_port_but_not_an_explicit_one() -> None:
    assert BrokerConfig.model_validate({"tls": {}}).effective_port == 8883
    assert BrokerConfig.model_validate({"tls": {}, "port": 18883}).effective_port == 18883


def test_unknown_field_is_refused_with_its_path() -> None:
    text = error_text(config(broker={"hostname": "x"}))
    assert "broker.hostname" in text
    assert "Extra inputs are not permitted" in text


@pytest.mark.parametrize("topic", ["plant/+/top", "plant/#", "", "/plant/top", "plant/top/"])
def test_sensor_topic_must_be_plain(topic: str) -> None:
    text = error_text(config(sensors=[{"name": "t", "topic": topic, "unit": "°C"}]))
    assert "sensors.0.topic" in text


@pytest.mark.parametrize("name", ["Tank", "tank top", "tank/top", "_x", ""])
def test_names_are_slugs(name: str) -> None:
    assert "sensors.0.name" in error_text(config(sensors=[{"name": name, "topic": "a", "unit": "°C"}]))


def test_unknown_unit_lists_the_allowed_ones() -> None:
    text = error_text(config(sensors=[{"name": "t", "topic": "a", "unit": "kelvins"}]))
    assert "unknown unit 'kelvins'" in text and "°F" in text and "m³/h" in text


def test_unit_aliases_are_canonicalised() -> None:
    sensor = SensorConfig(name="flow", topic="a", unit="m3/h")
    assert sensor.unit == "m³/h"
    assert sensor.quantity == "flow"
    assert sensor.product_unit == "L/min"


def test_plausible_range_defaults_by_quantity_and_must_be_ordered() -> None:
    assert SensorConfig(name="t", topic="a", unit="°F").plausible_range == DEFAULT_PLAUSIBLE["temperature"]
    assert SensorConfig(name="t", topic="a", unit="°C", plausible=(5, 95)).plausible_range == (5, 95)
    with pytest.raises(ValidationError, match="low < high"):
        SensorConfig(name="t", topic="a", unit="°C", plausible=(95, 5))


def test_duplicate_names_are_refused() -> None:
    sensors = [{"name": "t", "topic": "a", "unit": "°C"}, {"name": "t", "topic": "b", "unit": "°C"}]
    assert "sensor names must be unique; repeated: t" in error_text(config(sensors=sensors))


def test_set_is_not_a_name_and_device_topics_stay_off_command_topics() -> None:
    assert "`set` cannot be" in error_text(config(sensors=[{"name": "set", "topic": "a", "unit": "°C"}]))
    sensors = [{"name": "t", "topic": "boiler/montlucon/mode/set", "unit": "°C"}]
    assert "collides with the command topics" in error_text(config(sensors=sensors))


def test_password_needs_username_and_only_one_source() -> None:
    assert "needs a `username`" in error_text(config(broker={"password": "x"}))
    text = error_text(config(broker={"username": "u", "password": "x", "password_env": "P"}))
    assert "either `password` or `password_env`" in text


def test_password_never_shows_in_repr_and_resolves_from_env() -> None:
    broker = BrokerConfig(username="boiler", password="s3cret-value")
    assert "s3cret-value" not in repr(broker)
    assert "s3cret-value" not in str(broker.model_dump())
    assert broker.resolved_password() == "s3cret-value"
    from_env = BrokerConfig(username="boiler", password_env="MQTT_PW")
    assert from_env.resolved_password({"MQTT_PW": "abc"}) == "abc"
    with pytest.raises(ValueError, match="MQTT_PW"):
        from_env.resolved_password({})


def test_client_cert_needs_its_key() -> None:
    text = error_text(config(broker={"tls": {"cert_file": str(Path("/x/c.crt"))}}))
    assert "both `cert_file` and `key_file`" in text


def test_actuator_rules() -> None:
    with pytest.raises(ValidationError, match="needs a `json_key`"):
        ActuatorConfig(name="p", kind="pump_speed", topic="a", format="json")
    with pytest.raises(ValidationError, match="takes no `range`"):
        ActuatorConfig(name="g", kind="gas_enable", topic="a", range=(0, 1))
    pump = ActuatorConfig(name="p", kind="pump_speed", topic="a")
    assert pump.value_range == (0.0, 100.0) and pump.value_unit == "%"
    assert ActuatorConfig(name="g", kind="gas_setpoint", topic="a").value_range == (20.0, 90.0)
    assert ActuatorConfig(name="g", kind="gas_enable", topic="a").is_bool


def test_reconnect_bounds_are_ordered() -> None:
    with pytest.raises(ValidationError, match="reconnect_max_s"):
        BrokerConfig(reconnect_min_s=10, reconnect_max_s=1)


def test_the_example_in_docs_is_a_valid_config() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = MqttConfig.model_validate(yaml.safe_load(block)["mqtt"])
    assert cfg.broker.effective_port == 8883
    assert [s.name for s in cfg.sensors][:2] == ["tank_top", "tank_bottom"]
    assert cfg.sensors[3].product_unit == "L/min"
    assert {a.kind for a in cfg.actuators} == {"pump_speed", "valve", "gas_enable", "gas_setpoint", "dry_cooler"}
