"""Commands on `…/set` without a broker: accepted forms, rejection reasons, override expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boiler.mqtt.commands import (
    COMMAND_PATHS,
    CommandRejected,
    CommandResult,
    ModeCommand,
    OverrideCommand,
    SetpointCommand,
    parse_command,
)
from boiler.mqtt.config import CommandConfig

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = CommandConfig(miner_power_max_w=20_000, default_override_s=3600, max_override_s=86_400)


def parse(path: str, payload: str | bytes | object) -> object:
    if isinstance(payload, str):
        data = payload.encode()
    elif isinstance(payload, bytes):
        data = payload
    else:
        data = json.dumps(payload).encode()
    return parse_command(path, data, NOW, LIMITS)


def rejected(path: str, payload: str | bytes | object) -> CommandRejected:
    with pytest.raises(CommandRejected) as info:
        parse(path, payload)
    return info.value


@pytest.mark.parametrize("payload", ["auto", " LEGIONELLA\n", '"off"', {"mode": "manual"}])
def test_mode_forms(payload: object) -> None:
    command = parse("mode", payload)
    assert isinstance(command, ModeCommand)
    assert command.mode in ("auto", "legionella", "off", "manual")


def test_mode_value_is_normalised() -> None:
    assert parse("mode", " LEGIONELLA\n") == ModeCommand(mode="legionella")


@pytest.mark.parametrize("payload", ["60", "60.5", {"value": 60.5}, '"60.5"'])
def test_setpoint_forms(payload: object) -> None:
    command = parse("setpoint/outlet_c", payload)
    assert isinstance(command, SetpointCommand)
    assert command.target == "outlet_c"
    assert command.value_c in (60.0, 60.5)


def test_setpoint_limits_are_per_target() -> None:
    assert parse("setpoint/tank_c", "85") == SetpointCommand(target="tank_c", value_c=85.0)
    error = rejected("setpoint/outlet_c", "85")
    assert error.reason == "out_of_range"
    assert "outside 40..80" in str(error)


def test_override_bare_value_gets_the_default_expiry() -> None:
    command = parse("override/miner_power_w", "3000")
    assert command == OverrideCommand(item="miner_power_w", value=3000.0, expires_at=NOW + timedelta(seconds=3600))


def test_override_for_seconds_and_until() -> None:
    command = parse("override/gas_enable", {"value": "on", "for_s": 600})
    assert command == OverrideCommand(item="gas_enable", value=True, expires_at=NOW + timedelta(seconds=600))
    paris = timezone(timedelta(hours=1))
    until = datetime(2025, 3, 1, 15, 30, tzinfo=paris)
    command = parse("override/charging_pump", {"value": False, "until": until.isoformat()})
    assert isinstance(command, OverrideCommand)
    assert command.value is False
    assert command.expires_at == datetime(2025, 3, 1, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("payload", ["auto", "clear", "", "null", {"value": None}, "AUTO"])
def test_override_clear_forms(payload: object) -> None:
    if payload == "":
        # An empty payload is no command at all (it is how a retained message is deleted).
        assert rejected("override/gas_enable", payload).reason == "empty"
        return
    assert parse("override/gas_enable", payload) == OverrideCommand(item="gas_enable", value=None, expires_at=None)


@pytest.mark.parametrize(
    ("path", "payload", "reason", "words"),
    [
        ("mode", "turbo", "invalid", "mode must be one of auto, manual, off, legionella"),
        ("mode", {"mode": "auto", "x": 1}, "invalid", "x: Extra inputs are not permitted"),
        ("mode", {"mode": 5}, "invalid", "mode: Input should be a valid string"),
        ("mode", "{broken", "not_json", "not valid JSON"),
        ("mode", b"\xc3\x28", "not_utf8", "not UTF-8"),
        ("setpoint/outlet_c", "hot", "invalid", "not a number"),
        ("setpoint/outlet_c", "NaN", "not_finite", "not a finite number"),
        ("setpoint/outlet_c", True, "invalid", "not a number"),
        ("setpoint/tank_c", "39.9", "out_of_range", "outside 40..85"),
        ("override/miner_power_w", "-1", "out_of_range", "outside 0..20000 W"),
        ("override/miner_power_w", "20001", "out_of_range", "outside 0..20000 W"),
        ("override/miner_power_w", "on", "invalid", "not a number"),
        ("override/gas_enable", "1", "invalid", "takes on, off or auto"),
        ("override/gas_enable", {"value": "on", "for_s": 0}, "invalid", "positive number of seconds"),
        ("override/gas_enable", {"value": "on", "for_s": 86_401}, "too_long", "exceeds the limit of 86400 s"),
        ("override/gas_enable", {"value": "on", "for_s": 10, "until": "2025-03-01T13:00:00Z"}, "invalid", "not both"),
        ("override/gas_enable", {"value": "on", "until": "2025-03-01T13:00:00"}, "naive_time", "needs a time zone"),
        ("override/gas_enable", {"value": "on", "until": "2025-03-01T11:59:59Z"}, "expired", "already past"),
        ("override/gas_enable", {"value": "on", "until": "tomorrow"}, "invalid", "until:"),
        ("override/gas_enable", {"on": True}, "invalid", "value: Field required"),
        ("override/boiler_power", "1", "unknown_command", "known: mode, setpoint/outlet_c"),
        ("setpoint/other_c", "60", "unknown_command", "no command 'setpoint/other_c'"),
    ],
)
def test_rejections_say_why(path: str, payload: object, reason: str, words: str) -> None:
    error = rejected(path, payload)
    assert error.reason == reason
    assert words in str(error)


def test_result_payload_is_documented_json() -> None:
    command = parse("mode", "auto")
    assert isinstance(command, ModeCommand)
    body = json.loads(CommandResult("b/s/mode/set", True, "ok", "accepted", NOW, command).to_payload())
    assert body == {
        "topic": "b/s/mode/set",
        "accepted": True,
        "reason": "ok",
        "detail": "accepted",
        "at": "2025-03-01T12:00:00+00:00",
        "command": {"kind": "mode", "mode": "auto"},
    }
    body = json.loads(CommandResult("b/s/x/set", False, "unknown_command", "no", NOW).to_payload())
    assert "command" not in body and body["accepted"] is False


JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    path=st.sampled_from([*COMMAND_PATHS, "nope", "override/x"]),
    payload=st.binary(max_size=80) | JSONISH.map(lambda v: json.dumps(v).encode()),
)
def test_any_payload_is_a_command_or_a_rejection(path: str, payload: bytes) -> None:
    try:
        command = parse_command(path, payload, NOW, LIMITS)
    except CommandRejected as exc:
        assert exc.reason and str(exc)
    else:
        assert isinstance(command, ModeCommand | SetpointCommand | OverrideCommand)
        if isinstance(command, OverrideCommand) and command.value is not None:
            assert command.expires_at is not None and command.expires_at > NOW


# -- one answer per command, whatever it carries (issue 12) -------------------------------------------
@pytest.mark.parametrize(
    ("until", "reason"),
    [
        ("9999-12-31T23:59:59-14:00", "out_of_range"),  # later than datetime.max in UTC
        ("0001-01-01T00:00:00+14:00", "out_of_range"),  # earlier than datetime.min in UTC
        ("9999-12-31T23:59:59+14:00", "too_long"),
        ("9999-12-31T23:59:59Z", "too_long"),
        ("0001-01-01T00:00:00Z", "expired"),
    ],
)
def test_until_at_the_edges_of_the_date_range_is_a_rejection(until: str, reason: str) -> None:
    error = rejected("override/gas_enable", {"value": "on", "until": until})
    assert error.reason == reason
    assert until[:10] in str(error) or reason in ("too_long", "expired")


@pytest.mark.parametrize("path", ["", "/", "mode/", "/mode", "override/", "setpoint/"])
def test_an_empty_topic_level_is_an_unknown_command(path: str) -> None:
    error = rejected(path, "auto")
    assert error.reason == "unknown_command"
    assert "empty level" in str(error)


OFFSETS = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
ANY_UNTIL = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS.map(timezone))
EDGE_UNTIL = st.sampled_from([datetime.min, datetime.max]).flatmap(
    lambda edge: OFFSETS.map(lambda off: edge.replace(tzinfo=timezone(off)))
)


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from([p for p in COMMAND_PATHS if p.startswith("override/")]),
    value=st.sampled_from(["on", "off", 1000, "auto", None]),
    until=ANY_UNTIL | EDGE_UNTIL | st.none(),
    for_s=st.none() | st.floats(allow_nan=False) | st.integers(min_value=-(10**30), max_value=10**30),
)
def test_any_expiry_is_a_command_or_a_rejection(path: str, value: object, until: datetime | None,
                                                 for_s: float | None) -> None:
    body: dict[str, object] = {"value": value}
    if until is not None:
        body["until"] = until.isoformat()
    if for_s is not None:
        body["for_s"] = for_s
    try:
        command = parse(path, body)
    except CommandRejected as exc:
        assert exc.reason in {"invalid", "out_of_range", "expired", "too_long", "not_finite"} and str(exc)
    else:
        assert isinstance(command, OverrideCommand)
        if command.value is not None:
            assert command.expires_at is not None
            assert NOW < command.expires_at <= NOW + timedelta(seconds=LIMITS.max_override_s)
