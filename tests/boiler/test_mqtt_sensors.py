"""Sensor board without a broker: parsing, unit conversion, stale and implausible, rejection counts."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boiler.mqtt.config import SensorConfig
from boiler.mqtt.payload import MAX_PAYLOAD_BYTES, PayloadError, extract_number
from boiler.mqtt.ratelimit import RateLimitedLog
from boiler.mqtt.sensors import SensorBoard


def sensor(**kw: object) -> SensorConfig:
    data: dict[str, object] = {"name": "tank_top", "topic": "dev/tank", "unit": "°C"}
    data.update(kw)
    return SensorConfig.model_validate(data)


# Each row: unit, raw value, value in the product unit (by hand: 212 °F = 100 °C, 3.6 m³/h = 60 L/min ...).
CONVERSIONS = [
    ("°C", 61.5, 61.5),
    ("K", 333.15, 60.0),
    ("°F", 140.0, 60.0),
    ("°F", 212.0, 100.0),
    ("L/min", 12.0, 12.0),
    ("m³/h", 3.6, 60.0),
    ("W", 5200.0, 5200.0),
    ("kW", 5.2, 5200.0),
    ("kWh", 12.5, 12.5),
    ("Wh", 12500.0, 12.5),
    ("MWh", 1.25, 1250.0),
    ("m³", 2.0, 2.0),
    ("L", 500.0, 0.5),
]


@pytest.mark.parametrize(("unit", "raw", "expected"), CONVERSIONS)
def test_values_are_converted_to_the_product_unit(unit: str, raw: float, expected: float) -> None:
    board = SensorBoard([sensor(unit=unit, plausible=(-1e9, 1e9))])
    assert board.ingest("dev/tank", str(raw).encode(), now_s=0.0) == []
    assert board.value("tank_top", now_s=1.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        ("temperature", {"temperature": 55.25}, 55.25),
        ("data.t", {"data": {"t": 48}, "other": 1}, 48.0),
        ("probes.1.t", {"probes": [{"t": 1}, {"t": 62.5}]}, 62.5),
        ("t", {"t": "57.5"}, 57.5),
    ],
)
def test_json_paths(path: str, payload: object, expected: float) -> None:
    assert extract_number(json.dumps(payload).encode(), path) == expected


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        (None, b"", "empty"),
        (None, b"   \n", "empty"),
        (None, b"\xff\xfe", "not_utf8"),
        (None, b"warm", "not_a_number"),
        (None, b"nan", "not_finite"),
        (None, b"1e999", "not_finite"),
        ("t", b"{t: 1}", "not_json"),
        ("t", b'{"t": NaN}', "not_finite"),
        ("t", b'{"u": 1}', "missing_key"),
        ("t.x", b'{"t": 5}', "missing_key"),
        ("t.3", b'{"t": [1, 2]}', "missing_key"),
        ("t", b"[1, 2]", "missing_key"),
        ("t", b'{"t": true}', "not_a_number"),
        ("t", b'{"t": null}', "not_a_number"),
        ("t", b'{"t": [1]}', "not_a_number"),
        ("t", b'{"t": "hot"}', "not_a_number"),
        (None, b"1" * (MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_malformed_payloads_have_a_reason(path: str | None, payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        extract_number(payload, path)
    assert info.value.reason == reason


def test_stale_exactly_after_the_timeout() -> None:
    board = SensorBoard([sensor(stale_after_s=60)])
    board.ingest("dev/tank", b"55", now_s=100.0)
    assert board.reading("tank_top", 160.0).ok
    reading = board.reading("tank_top", 160.5)
    assert reading.status == "stale" and reading.value is None
    assert reading.age_s == pytest.approx(60.5)
    board.ingest("dev/tank", b"56", now_s=170.0)
    assert board.value("tank_top", 171.0) == 56.0


def test_never_seen_until_first_valid_message() -> None:
    board = SensorBoard([sensor()])
    assert board.reading("tank_top", 0.0).status == "never_seen"
    board.ingest("dev/tank", b"garbage", 1.0)
    assert board.reading("tank_top", 1.0).status == "never_seen"


def test_implausible_value_distrusts_the_sensor_until_a_plausible_one() -> None:
    board = SensorBoard([sensor(plausible=(0, 100))])
    board.ingest("dev/tank", b"60", 0.0)
    rejections = board.ingest("dev/tank", b"-127", 1.0)
    assert [r.reason for r in rejections] == ["implausible"]
    reading = board.reading("tank_top", 1.5)
    assert reading.status == "implausible" and reading.value is None
    assert "-127" in reading.detail
    board.ingest("dev/tank", b"61", 2.0)
    assert board.value("tank_top", 2.0) == 61.0


def test_garbled_message_keeps_the_previous_reading() -> None:
    board = SensorBoard([sensor()])
    board.ingest("dev/tank", b"60", 0.0)
    board.ingest("dev/tank", b"{oops", 1.0)
    assert board.value("tank_top", 2.0) == 60.0
    assert board.rejections == {"not_a_number": 1}


def test_plausible_bounds_are_inclusive() -> None:
    board = SensorBoard([sensor(plausible=(0, 100))])
    assert board.ingest("dev/tank", b"100", 0.0) == []
    assert board.ingest("dev/tank", b"0", 0.0) == []
    assert board.ingest("dev/tank", b"100.001", 0.0)[0].reason == "implausible"


def test_one_topic_can_feed_several_sensors() -> None:
    board = SensorBoard(
        [
            sensor(name="top", topic="dev/tank", json_path="top"),
            sensor(name="bottom", topic="dev/tank", json_path="bottom"),
        ]
    )
    assert board.ingest("dev/tank", b'{"top": 62, "bottom": 18}', 0.0) == []
    assert (board.value("top", 0.0), board.value("bottom", 0.0)) == (62.0, 18.0)
    rejections = board.ingest("dev/tank", b'{"top": 63}', 1.0)
    assert [(r.sensor, r.reason) for r in rejections] == [("bottom", "missing_key")]
    assert board.value("top", 1.0) == 63.0
    assert board.rejections_by_sensor["bottom"] == {"missing_key": 1}


def test_retained_values_are_ignored_unless_accepted() -> None:
    board = SensorBoard([sensor(name="a", topic="x"), sensor(name="b", topic="x", accept_retained=True)])
    board.ingest("x", b"50", 0.0, retained=True)
    assert board.reading("a", 0.0).status == "never_seen"
    assert board.value("b", 0.0) == 50.0
    assert board.ignored_retained == 1


def test_unknown_topic_is_ignored() -> None:
    board = SensorBoard([sensor()])
    assert board.ingest("other", b"1", 0.0) == []
    assert sum(board.rejections.values()) == 0


def test_rejections_are_logged_with_rate_limit(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    board = SensorBoard([sensor()], log_interval_s=60.0, log_clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="boiler.mqtt.sensors"):
        for _ in range(5):
            board.ingest("dev/tank", b"bad", 0.0)
        now[0] = 61.0
        board.ingest("dev/tank", b"bad", 0.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "mqtt_sensor_rejected sensor=tank_top topic=dev/tank reason=not_a_number" in lines[0]
    assert lines[1].endswith("suppressed=4")
    assert board.rejections["not_a_number"] == 6


def test_rate_limit_is_per_key() -> None:
    log = RateLimitedLog(logging.getLogger("t"), 10.0, clock=lambda: 0.0)
    assert log.log(logging.INFO, "a", "x")
    assert log.log(logging.INFO, "b", "x")
    assert not log.log(logging.INFO, "a", "x")


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=64) | st.text(max_size=64).map(str.encode), path=st.sampled_from([None, "t", "a.0"]))
def test_any_payload_is_a_number_or_a_payload_error(payload: bytes, path: str | None) -> None:
    try:
        value = extract_number(payload, path)
    except PayloadError as exc:
        assert exc.reason in {"empty", "not_utf8", "not_json", "missing_key", "not_a_number", "not_finite"}
    else:
        assert value == value and abs(value) != float("inf")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=32), max_size=20))
def test_board_counts_every_message_it_does_not_use(payloads: list[bytes]) -> None:
    board = SensorBoard([sensor(json_path="t")])
    for i, payload in enumerate(payloads):
        board.ingest("dev/tank", payload, float(i))
    assert board.accepted["tank_top"] + sum(board.rejections.values()) == len(payloads)
