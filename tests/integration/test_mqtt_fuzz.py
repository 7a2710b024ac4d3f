"""Malformed sensor payloads and commands through a real broker: never a crash, each rejected and counted.

Every generated payload is malformed by construction (the strategies say why), so each one must
end as exactly one counted rejection, and, for commands, one answer on the result topic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boiler.mqtt import COMMAND_PATHS, PlantMqtt
from boiler.mqtt.commands import CLEAR_WORDS, MODES
from tests.integration.mqtt_server import MosquittoServer, mqtt_client, plant_config, wait_until

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _parses(loader: type | object, text: str) -> bool:
    try:
        loader(text)  # type: ignore[operator]
    except (ValueError, OverflowError):
        return False
    return True


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
NOT_UTF8 = st.binary(max_size=40).map(lambda b: b"\xff" + b)  # 0xFF never occurs in UTF-8
BLANK = st.text(alphabet=" \t\r\n", max_size=4).map(str.encode)
NOT_JSON = st.text(min_size=1, max_size=30).filter(lambda s: not _parses(json.loads, s)).map(str.encode)
NOT_A_NUMBER_TEXT = st.text(max_size=12).filter(lambda s: not _parses(float, s))


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()


# Sensor "tank" reads {"t": <°C>} with a plausible range of 0..100.
SENSOR_GARBAGE = st.one_of(
    NOT_UTF8,
    BLANK,
    NOT_JSON,
    JSON_VALUES.filter(lambda v: not (isinstance(v, dict) and "t" in v)).map(dumps),  # no "t"
    st.one_of(
        st.none(), st.booleans(), st.lists(JSON_VALUES, max_size=3), st.dictionaries(st.text(max_size=3), JSON_VALUES),
        NOT_A_NUMBER_TEXT,
    ).map(lambda v: dumps({"t": v})),  # "t" is no number
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not 0 <= x <= 100).map(
        lambda x: dumps({"t": x})
    ),  # implausible
    st.just(b"7" * 5000),  # too large
)  # fmt: skip

_WORDS = set(MODES) | set(CLEAR_WORDS) | {"on", "off", "true", "false"}
# Malformed for every command path at once.
COMMAND_GARBAGE = st.one_of(
    NOT_UTF8,
    BLANK,
    st.lists(JSON_VALUES, max_size=3).map(dumps),  # an array is no command
    st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=2).map(lambda d: dumps({**d, "zz_extra": 1})),
    st.floats(max_value=-1.0, allow_nan=False, allow_infinity=False).map(dumps),  # negative: nothing takes it
    NOT_A_NUMBER_TEXT.filter(lambda s: s.strip().lower() not in _WORDS and not _parses(json.loads, s)).map(str.encode),
    st.text(max_size=20).map(lambda s: ("{" + s).encode()).filter(lambda b: not _parses(json.loads, b.decode())),
)
UNKNOWN_PATHS = (
    st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10)
    .flatmap(lambda name: st.sampled_from([name, f"override/{name}", f"setpoint/{name}"]))
    .filter(lambda path: path not in COMMAND_PATHS)
)


@dataclass
class Rig:
    plant: PlantMqtt
    sender: aiomqtt.Client
    base: str
    sensor_topic: str


@pytest.fixture
async def rig(mosquitto: MosquittoServer) -> AsyncIterator[Rig]:
    site = f"t{secrets.token_hex(4)}"
    sensors = [{"name": "tank", "topic": f"{site}/tank", "json_path": "t", "unit": "°C", "plausible": [0, 100]}]
    config = plant_config(mosquitto, site, tls=False, discovery=False, sensors=sensors)
    async with PlantMqtt(config) as plant, mqtt_client(mosquitto) as sender:
        await plant.wait_connected(10)
        await sender.subscribe(f"boiler/{site}/command/result", qos=1)
        yield Rig(plant, sender, f"boiler/{site}", f"{site}/tank")
        assert plant.stats.handler_errors == 0
        assert plant.connected


async def next_result(sender: aiomqtt.Client) -> dict[str, object]:
    async with asyncio.timeout(10):
        message = await anext(aiter(sender.messages))
    return json.loads(message.payload)  # type: ignore[arg-type]


@FUZZ
@given(payload=SENSOR_GARBAGE)
async def test_malformed_sensor_payloads_are_rejected_and_counted(rig: Rig, payload: bytes) -> None:
    plant, board = rig.plant, rig.plant.board
    received, rejected = plant.stats.received, sum(board.rejections.values())
    await rig.sender.publish(rig.sensor_topic, payload, qos=1)
    await wait_until(lambda: plant.stats.received == received + 1, what="the message to arrive")
    assert sum(board.rejections.values()) == rejected + 1
    assert board.accepted["tank"] == 0
    assert board.value("tank", 0.0) is None


@FUZZ
@given(path=st.sampled_from(COMMAND_PATHS), payload=COMMAND_GARBAGE)
async def test_malformed_commands_are_rejected_with_a_reason(rig: Rig, path: str, payload: bytes) -> None:
    await _expect_rejection(rig, f"{rig.base}/{path}/set", payload)


@FUZZ
@given(path=UNKNOWN_PATHS, payload=st.binary(max_size=20))
async def test_unknown_commands_are_rejected(rig: Rig, path: str, payload: bytes) -> None:
    result = await _expect_rejection(rig, f"{rig.base}/{path}/set", payload)
    assert result["reason"] in {"unknown_command", "not_utf8", "empty", "not_json", "not_finite"}


async def _expect_rejection(rig: Rig, topic: str, payload: bytes) -> dict[str, object]:
    stats = rig.plant.stats
    rejected, accepted = sum(stats.commands_rejected.values()), stats.commands_accepted
    await rig.sender.publish(topic, payload, qos=1)
    result = await next_result(rig.sender)
    assert result["topic"] == topic
    assert result["accepted"] is False
    assert result["reason"] == rig.plant.results[-1].reason != "ok"
    assert isinstance(result["detail"], str) and result["detail"]
    assert sum(stats.commands_rejected.values()) == rejected + 1
    assert stats.commands_accepted == accepted
    assert rig.plant.drain_commands() == []
    return result


async def test_a_flood_of_garbage_is_counted_logged_sparingly_and_survived(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20250131)
    garbage = [b"\xff" + rng.randbytes(rng.randrange(0, 64)) for _ in range(500)]
    with caplog.at_level(logging.WARNING, logger="boiler.mqtt"):
        for payload in garbage:
            await rig.sender.publish(rig.sensor_topic, payload, qos=0)
        await rig.sender.publish(rig.sensor_topic, b'{"t": 61.5}', qos=1)
        await wait_until(lambda: rig.plant.board.accepted["tank"] == 1, what="the valid reading after the flood")
    assert rig.plant.board.rejections == {"not_utf8": 500}
    assert rig.plant.board.value("tank", 0.0) == 61.5
    lines = [r.getMessage() for r in caplog.records if "mqtt_sensor_rejected" in r.getMessage()]
    assert len(lines) == 1  # one line a minute per sensor and reason
    await rig.sender.publish(f"{rig.base}/mode/set", b"auto", qos=1)
    result = await next_result(rig.sender)
    assert result["accepted"] is True


EDGE_COMMANDS = [
    ("//set", b"auto"),  # `<base>//set`: an empty level the `+` filter matches
    ("/mode//set", b"auto"),
    ("///set", b"auto"),
    ("/override/gas_enable/set", b'{"value": "on", "until": "9999-12-31T23:59:59-14:00"}'),
    ("/override/gas_enable/set", b'{"value": "on", "until": "0001-01-01T00:00:00+14:00"}'),
    ("/override/miner_power_w/set", b'{"value": 100, "until": "9999-12-31T23:59:59Z"}'),
]


async def test_commands_with_empty_levels_or_dates_out_of_range_get_one_result_each(rig: Rig) -> None:
    # Over the real broker: each gets its answer on command/result, in order, and nothing more.
    for suffix, payload in EDGE_COMMANDS:
        await rig.sender.publish(rig.base + suffix, payload, qos=1)
    answered = [await next_result(rig.sender) for _ in EDGE_COMMANDS]
    assert [a["topic"] for a in answered] == [rig.base + suffix for suffix, _ in EDGE_COMMANDS]
    assert all(a["accepted"] is False for a in answered)
    assert [a["reason"] for a in answered] == ["unknown_command"] * 3 + ["out_of_range", "out_of_range", "too_long"]
    await rig.sender.publish(f"{rig.base}/mode/set", b"auto", qos=1)
    assert (await next_result(rig.sender))["accepted"] is True  # and nothing else was waiting before it
    assert rig.plant.stats.handler_errors == 0


async def test_a_burst_of_commands_gets_one_result_each(rig: Rig) -> None:
    # Published all at once: the plant reads them faster than its writer answers; no answer may be
    # pushed out of the queue before it is sent.
    n = 400
    rig.sender.pending_calls_threshold = 2 * n  # no warning for the burst's unacknowledged publishes
    topic = f"{rig.base}/mode/set"
    await asyncio.gather(*(rig.sender.publish(topic, b"turbo-%d" % i, qos=1) for i in range(n)))
    answers = [await next_result(rig.sender) for _ in range(n)]
    assert sorted(a["detail"].split("'turbo-")[1].rstrip("'") for a in answers) == sorted(str(i) for i in range(n))
    assert rig.plant.stats.commands_rejected["invalid"] == n
