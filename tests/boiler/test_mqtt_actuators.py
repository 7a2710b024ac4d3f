"""Actuator outputs without a broker: value checks, payloads, send-on-change, resend, acknowledgements."""

from __future__ import annotations

import json
from typing import Any

import pytest

from boiler.mqtt.actuators import ActuatorBank, decode, encode, format_number
from boiler.mqtt.config import ActuatorConfig
from boiler.mqtt.payload import PayloadError


def actuator(**kw: Any) -> ActuatorConfig:
    data: dict[str, Any] = {"name": "pump", "kind": "pump_speed", "topic": "dev/pump"}
    data.update(kw)
    return ActuatorConfig.model_validate(data)


@pytest.mark.parametrize(("value", "text"), [(60.0, "60"), (37.25, "37.25"), (1 / 3, "0.333"), (-0.0001, "0")])
def test_numbers_are_written_short(value: float, text: str) -> None:
    assert format_number(value) == text


def test_payload_formats() -> None:
    assert encode(actuator(), 42.5) == b"42.5"
    assert encode(actuator(kind="gas_enable"), True) == b"ON"
    assert encode(actuator(kind="gas_enable", on_payload="1", off_payload="0"), False) == b"0"
    assert json.loads(encode(actuator(format="json", json_key="speed"), 40.0)) == {"speed": 40.0}
    assert json.loads(encode(actuator(kind="dry_cooler", format="json", json_key="state"), True)) == {"state": True}


def test_echo_is_parsed_like_the_command() -> None:
    assert decode(actuator(), b" 42.5 ") == 42.5
    assert decode(actuator(kind="on_off"), b"ON") is True
    assert decode(actuator(kind="on_off"), b"false") is False
    assert decode(actuator(kind="on_off", on_payload="RUN", off_payload="STOP"), b"STOP") is False
    assert decode(actuator(kind="on_off", format="json", json_key="state"), b'{"state": "ON"}') is True
    with pytest.raises(PayloadError) as info:
        decode(actuator(kind="on_off"), b"maybe")
    assert info.value.reason == "not_a_state"


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("pump_speed", 101, "outside 0..100"),
        ("pump_speed", -1, "outside 0..100"),
        ("pump_speed", True, "takes a finite number"),
        ("pump_speed", float("nan"), "takes a finite number"),
        ("gas_setpoint", 95, "outside 20..90"),
        ("gas_enable", 1, "takes True/False"),
    ],
)
def test_wrong_values_raise(kind: str, value: object, words: str) -> None:
    bank = ActuatorBank([actuator(kind=kind)])
    with pytest.raises(ValueError, match=words):
        bank.command("pump", value)


def test_unknown_actuator_names_the_configured_ones() -> None:
    with pytest.raises(KeyError, match="configured: pump"):
        ActuatorBank([actuator()]).command("valve", 1.0)


def test_only_changes_beyond_the_deadband_are_sent() -> None:
    bank = ActuatorBank([actuator(deadband=2.0)])
    assert bank.command("pump", 50) == 50.0
    assert bank.command("pump", 50) is None
    assert bank.command("pump", 51.9) is None
    assert bank.command("pump", 52.0) == 52.0
    assert bank.current() == {"pump": 52.0}


def test_exact_repeat_is_not_sent_even_without_deadband() -> None:
    bank = ActuatorBank([actuator(kind="gas_enable")])
    assert bank.command("pump", True) is True
    assert bank.command("pump", True) is None
    assert bank.command("pump", False) is False


def test_periodic_resend() -> None:
    bank = ActuatorBank([actuator(republish_s=30), actuator(name="valve", kind="valve", topic="v")])
    assert bank.due(0.0) == []
    bank.command("pump", 40)
    bank.command("valve", 100)
    assert bank.due(0.0) == ["pump"]  # never sent yet
    bank.mark_sent("pump", 10.0)
    assert bank.due(39.9) == []
    assert bank.due(40.0) == ["pump"]


def test_ack_matches_only_the_latest_value_after_it_was_sent() -> None:
    bank = ActuatorBank([actuator(ack_topic="dev/pump/state", deadband=0.5)])
    assert bank.ack_topics == {"dev/pump/state"}
    bank.command("pump", 40)
    bank.mark_sent("pump", 1.0)
    assert not bank.status("pump").acked
    assert bank.acknowledge("dev/pump/state", b"40.4", 2.0) == []
    assert bank.status("pump").acked
    bank.command("pump", 60)
    bank.mark_sent("pump", 3.0)
    assert not bank.status("pump").acked  # the old echo does not confirm the new value
    bank.acknowledge("dev/pump/state", b"59", 4.0)
    assert not bank.status("pump").acked  # 1 % off with a 0.5 % deadband
    errors = bank.acknowledge("dev/pump/state", b"fast", 5.0)
    assert [e.reason for e in errors] == ["not_a_number"]
    bank.acknowledge("dev/pump/state", b"60", 6.0)
    status = bank.status("pump")
    assert status.acked and status.acked_value == 60.0 and status.acked_at_s == 6.0
