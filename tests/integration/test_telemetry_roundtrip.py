"""Every kind of point, through the service path (outbox → writer → influxdb-client), into both databases.

InfluxDB 1.x (behind the v2-write shim) must give back every value with its type and its
nanosecond timestamp; VictoriaMetrics every numeric value as ``measurement_field`` with its
millisecond timestamp (it keeps no strings: see docs/telemetry.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from boiler.hygiene import ComplianceEvent
from boiler.telemetry import (
    SCHEMA,
    Point,
    Telemetry,
    TelemetryConfig,
    compliance_point,
    decision_point,
    ledger_point,
    miner_points,
    plant_points,
    telemetry_point,
)
from boiler.telemetry.schema import DECISION, LEDGER, MINER, PLANT, TELEMETRY, FieldType
from tests.integration.influx_servers import InfluxDB1, VictoriaMetrics

START = datetime(2024, 1, 15, 6, 0, tzinfo=UTC)
_INFLUX_TYPES = {float: "float", int: "integer", bool: "boolean", str: "string"}


def _values(spec: dict[str, FieldType], tick: int, salt: int) -> dict[str, object]:
    """A distinct, exactly representable value of the declared type for every field."""
    out: dict[str, object] = {}
    for i, (name, kind) in enumerate(spec.items()):
        if kind is float:
            out[name] = 10.0 * tick + 0.25 * i + 0.125 * salt
        elif kind is int:
            out[name] = 1000 * tick + 10 * i + salt
        elif kind is bool:
            out[name] = (tick + i + salt) % 2 == 0
        else:
            out[name] = f"{name}-{tick}-{salt}"
    return out


def sample_points(site: str, ticks: int = 6) -> list[Point]:
    """A few controller ticks of every point kind, every field filled."""
    points: list[Point] = []
    for tick in range(ticks):
        at = START + timedelta(seconds=10 * tick)
        observation = _values(dict(SCHEMA[PLANT][1]), tick, 0)
        observation["sensors_c"] = {"main.top": 60.0 + tick, "main.mid": 45.5 + tick, "main.bottom": 20.25}
        points += plant_points(site, at, observation)
        miners = []
        for salt, (name, state) in enumerate((("m1", "mining"), ("m2", "sleeping"))):
            miner = _values(dict(SCHEMA[MINER][1]), tick, salt)
            miner.update(name=name, state=state, state_code=None)
            miners.append(miner)
        points += miner_points(site, at, miners)
        points.append(
            decision_point(site, at, {**_values(dict(SCHEMA[DECISION][1]), tick, 0), "strategy": "rules"})
        )
        if tick % 3 == 2:
            points.append(ledger_point(site, at, _values(dict(SCHEMA[LEDGER][1]), tick, 0)))
        points.append(telemetry_point(site, at, _values(dict(SCHEMA[TELEMETRY][1]), tick, 0)))
        if tick % 2 == 1:
            t0 = at.timestamp()
            points.append(compliance_point(site, ComplianceEvent(
                "cycle_pass", "finishing", t0, t0 + 240.0 + tick, 65.5 + tick, False, f"≥ 65 °C, {tick}", tick == 5)))
            points.append(compliance_point(site, ComplianceEvent(
                "outlet_low", None, t0 + 1.0, t0 + 60.0, 57.25, True, "outlet below 60 °C")))
    return points


def telemetry_config(
    tmp_path: Path, url: str, bucket: str, token: str = "", **overrides: object
) -> TelemetryConfig:
    return TelemetryConfig.model_validate(
        {
            "url": url,
            "bucket": bucket,
            "token": token,
            "outbox_path": tmp_path / "outbox.sqlite",
            "batch_size": 40,
            "flush_interval_s": 0.05,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
            **overrides,
        }
    )


async def send(config: TelemetryConfig, points: list[Point]) -> None:
    async with Telemetry(config) as telemetry:
        result = await telemetry.submit(points)
        assert (result.appended, result.dropped) == (len(points), 0)
        assert await telemetry.flush(30)
        stats = telemetry.stats()
    assert (stats.written, stats.queued, stats.rejected, stats.failed_attempts) == (len(points), 0, 0, 0)


@pytest.mark.parametrize(("bucket_suffix", "gzip"), [("", False), ("/autogen", True)])
async def test_every_point_kind_round_trips_through_influxdb_1x(
    influx1: InfluxDB1, tmp_path: Path, bucket_suffix: str, gzip: bool
) -> None:
    site = f"rt-{uuid.uuid4().hex[:8]}"
    points = sample_points(site)
    config = telemetry_config(tmp_path, influx1.url, influx1.bucket + bucket_suffix, influx1.token, gzip=gzip)
    await send(config, points)

    for measurement, (_, spec) in SCHEMA.items():
        expected = sorted(
            (p.time_ns, sorted(p.tags.items()), sorted(p.fields.items()))
            for p in points
            if p.measurement == measurement
        )
        assert expected, measurement
        stored_types = influx1.field_types(measurement)
        assert stored_types == {k: _INFLUX_TYPES[t] for k, t in spec.items()}, measurement
        convert = {k: t for k, t in spec.items()}  # JSON gives 3 for 3.0: convert by the stored type
        rows = influx1.rows(measurement, where=f"site = '{site}'")
        got = sorted(
            (r.time_ns, sorted(r.tags.items()), sorted((k, convert[k](v)) for k, v in r.fields.items()))
            for r in rows
        )
        assert got == expected, measurement


async def test_every_numeric_field_round_trips_through_victoriametrics(
    victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    site = f"rt-{uuid.uuid4().hex[:8]}"
    points = sample_points(site)
    await send(telemetry_config(tmp_path, victoria.url, "ignored"), points)

    expected: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]] = {}
    for p in points:
        for name, value in p.fields.items():
            if isinstance(value, str):
                continue  # VictoriaMetrics keeps no strings
            key = (f"{p.measurement}_{name}", tuple(sorted(p.tags.items())))
            expected.setdefault(key, []).append((p.time_ns // 1_000_000, float(value)))
    total = sum(len(v) for v in expected.values())
    exported = victoria.wait_for_samples(f'{{site="{site}"}}', total)
    got = {
        (s.name, tuple(sorted((k, v) for k, v in s.metric.items() if k != "__name__"))): list(
            zip(s.timestamps_ms, map(float, s.values), strict=True)
        )
        for s in exported
    }
    string_series = {k for k in got if k not in expected}
    # state, reason, detail
    assert {name.split("_", 1)[0] for name, _ in string_series} <= {"miner", "decision", "compliance"}
    assert {k: v for k, v in got.items() if k in expected} == {k: sorted(v) for k, v in expected.items()}
