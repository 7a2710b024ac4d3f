"""Faults against real databases: outages, a writer killed by SIGKILL, a full outbox, bad token, bad data.

Zero points lost, order kept and original timestamps kept are checked against what the
database holds and, for order, against the sequence of writes the InfluxDB shim accepted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from boiler.telemetry import Outbox, Point, Telemetry, TelemetryConfig, miner_points, plant_points
from tests.integration.influx_servers import InfluxDB1, VictoriaMetrics

REPO = Path(__file__).resolve().parents[2]
START = datetime(2024, 2, 1, tzinfo=UTC)
TICK_S = 10


def tick_points(site: str, tick: int) -> list[Point]:
    """One controller tick: plant, three tank sensors, one miner (5 points)."""
    at = START + timedelta(seconds=TICK_S * tick)
    observation = {
        "outlet_c": 55.0 + (tick % 100) / 10,
        "gas_firing": tick % 7 == 0,
        "sensors_c": {"top": 60.0 + tick / 1000, "mid": 45.0 + tick / 1000, "bottom": 15.0 + tick / 1000},
    }
    miner = {"name": "m1", "power_w": 5000.0 + tick, "state": "mining"}
    return plant_points(site, at, observation) + miner_points(site, at, [miner])


def ticks(site: str, first: int, last: int) -> list[Point]:
    return [p for k in range(first, last) for p in tick_points(site, k)]


def config(tmp_path: Path, url: str, bucket: str, token: str = "", **overrides: object) -> TelemetryConfig:
    return TelemetryConfig.model_validate(
        {
            "url": url,
            "bucket": bucket,
            "token": token,
            "outbox_path": tmp_path / "outbox.sqlite",
            "batch_size": 100,
            "flush_interval_s": 0.05,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.3,
            "timeout_s": 5,
            "close_timeout_s": 0.5,
            **overrides,
        }
    )


async def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


Row = tuple[str, int, list[tuple[str, str]], list[tuple[str, object]]]


def _row(measurement: str, time_ns: int, tags: dict, fields: dict) -> Row:
    # JSON gives 55 for 55.0: compare numbers as floats (bool and str compare as they are).
    norm = {k: float(v) if type(v) in (int, float) else v for k, v in fields.items()}
    return (measurement, time_ns, sorted(tags.items()), sorted(norm.items()))


def influx_content(server: InfluxDB1, site: str) -> list[Row]:
    rows = [
        _row(r.measurement, r.time_ns, r.tags, r.fields)
        for measurement in ("plant", "tank", "miner")
        for r in server.rows(measurement, where=f"site = '{site}'")
    ]
    return sorted(rows, key=repr)


def expected_content(points: list[Point]) -> list[Row]:
    return sorted((_row(p.measurement, p.time_ns, dict(p.tags), dict(p.fields)) for p in points), key=repr)


def shim_lines(server: InfluxDB1, site: str) -> list[str]:
    marker = f"site={site}"
    return [line for w in list(server.shim.writes) for line in w.body.split("\n") if marker in line]


async def test_influxdb_down_for_a_simulated_hour_loses_nothing_and_keeps_order(
    influx1_private: InfluxDB1, tmp_path: Path
) -> None:
    server, site = influx1_private, "outage-influx"
    before, during, after = ticks(site, 0, 30), ticks(site, 30, 390), ticks(site, 390, 420)
    async with Telemetry(config(tmp_path, server.url, server.bucket, server.token)) as telemetry:
        await telemetry.submit(before)
        assert await telemetry.flush(30)

        server.stop_database()
        for k in range(30, 390):  # an hour of 10 s ticks, submitted tick by tick as the service does
            await telemetry.submit(tick_points(site, k))
        await wait_until(lambda: telemetry.stats().failed_attempts >= 3)
        stats = telemetry.stats()
        assert (stats.queued, stats.written, stats.dropped) == (len(during), len(before), 0)
        assert stats.consecutive_failures >= 3 and "unreachable" in (stats.last_error or "")

        server.start_database()
        await telemetry.submit(after)
        assert await telemetry.flush(60)
        stats = telemetry.stats()
    total = before + during + after
    assert (stats.written, stats.queued, stats.dropped, stats.rejected) == (len(total), 0, 0, 0)
    assert stats.consecutive_failures == 0
    # Arrival order at the database is the submission order, line for line.
    assert shim_lines(server, site) == [p.to_line() for p in total]
    # And the database holds every point, with its original timestamp and values.
    assert influx_content(server, site) == expected_content(total)


async def test_victoriametrics_down_then_back_loses_nothing(
    victoria_private: VictoriaMetrics, tmp_path: Path
) -> None:
    server, site = victoria_private, "outage-vm"
    before, during = ticks(site, 0, 20), ticks(site, 20, 380)
    async with Telemetry(config(tmp_path, server.url, "ignored")) as telemetry:
        await telemetry.submit(before)
        assert await telemetry.flush(30)
        server.stop()  # connection refused from now on
        for k in range(20, 380):
            await telemetry.submit(tick_points(site, k))
        await wait_until(lambda: telemetry.stats().failed_attempts >= 3)
        assert telemetry.stats().queued == len(during)
        server.start()
        assert await telemetry.flush(60)
        assert telemetry.stats().written == len(before) + len(during)

    expected = sorted(
        (p.time_ns // 1_000_000, p.tags.get("sensor", ""), p.fields["temp_c"])
        for p in before + during
        if p.measurement == "tank"
    )
    series = server.wait_for_samples(f'{{__name__="tank_temp_c",site="{site}"}}', len(expected))
    got = sorted(
        (t, s.metric["sensor"], v) for s in series for t, v in zip(s.timestamps_ms, s.values, strict=True)
    )
    assert [(t, sensor) for t, sensor, _ in got] == [(t, sensor) for t, sensor, _ in expected]
    # VictoriaMetrics stores floats as decimals of limited precision (15.274000000000001 -> 15.274).
    assert [v for *_, v in got] == pytest.approx([v for *_, v in expected], rel=1e-12)


_WRITER_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from boiler.telemetry import Telemetry, TelemetryConfig
    config = TelemetryConfig.model_validate_json(sys.argv[1])
    async def main():
        async with Telemetry(config):
            await asyncio.Event().wait()
    asyncio.run(main())
    """
)


def test_writer_killed_with_sigkill_resumes_without_loss_or_duplicates(
    influx1: InfluxDB1, tmp_path: Path
) -> None:
    site = f"kill-{uuid.uuid4().hex[:8]}"
    points = ticks(site, 0, 600)  # 3000 points, 120 requests of 25
    cfg = config(tmp_path, influx1.url, influx1.bucket, influx1.token, batch_size=25, flush_interval_s=0.01)
    with Outbox(cfg.outbox_path, cfg.outbox_max_points) as box:
        box.append([p.to_line() for p in points])

    # model_dump_json() masks the token; the child needs the real one.
    cfg_json = json.dumps({**cfg.model_dump(mode="json"), "token": cfg.token.get_secret_value()})
    rng = random.Random(4711)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    marker = f"site={site}"
    for _ in range(3):
        done = sum(marker in w.body for w in list(influx1.shim.writes))
        target = done + rng.randint(5, 30)
        child = subprocess.Popen([sys.executable, "-c", _WRITER_CHILD, cfg_json], env=env, cwd=REPO)
        deadline = time.monotonic() + 30
        while sum(marker in w.body for w in list(influx1.shim.writes)) < target:
            assert child.poll() is None and time.monotonic() < deadline, "writer child stalled"
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait()

    async def drain() -> None:
        async with Telemetry(cfg) as telemetry:
            assert await telemetry.flush(60)

    asyncio.run(drain())
    received = shim_lines(influx1, site)
    first_seen = list(dict.fromkeys(received))
    assert first_seen == [p.to_line() for p in points]  # every point arrived, first times in order
    assert len(received) >= len(points)  # a batch re-sent after a kill is allowed ...
    assert influx_content(influx1, site) == expected_content(points)  # ... and stored once


async def test_full_outbox_during_an_outage_keeps_the_newest_and_warns(
    victoria_private: VictoriaMetrics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, site = victoria_private, "bounded"
    server.stop()
    points = ticks(site, 0, 50)  # 250 points
    cfg = config(tmp_path, server.url, "ignored", outbox_max_points=100)
    with caplog.at_level(logging.WARNING, logger="boiler.telemetry"):
        async with Telemetry(cfg) as telemetry:
            for k in range(0, 50, 10):
                await telemetry.submit(ticks(site, k, k + 10))
            stats = telemetry.stats()
            assert (stats.queued, stats.dropped, stats.written) == (100, 150, 0)
            server.start()
            assert await telemetry.flush(60)
    full = [r.getMessage() for r in caplog.records if "outbox full" in r.getMessage()]
    assert full and "dropped=50 " in full[0] and "limit=100" in full[0]

    kept = [p for p in points[150:] if p.measurement == "tank"]
    lost = [p for p in points[:150] if p.measurement == "tank"]
    series = server.wait_for_samples(f'{{__name__="tank_temp_c",site="{site}"}}', len(kept))
    got = {(t, s.metric["sensor"]) for s in series for t in s.timestamps_ms}
    assert got == {(p.time_ns // 1_000_000, p.tags["sensor"]) for p in kept}
    assert not got & {(p.time_ns // 1_000_000, p.tags["sensor"]) for p in lost}


async def test_a_wrong_token_keeps_points_queued_and_is_never_logged(
    influx1: InfluxDB1, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-SECRET-4242"
    cfg = config(tmp_path, influx1.url, influx1.bucket, secret)
    with caplog.at_level(logging.DEBUG):
        async with Telemetry(cfg) as telemetry:
            await telemetry.submit(ticks("badtoken", 0, 2))
            assert not await telemetry.flush(0.5)
            stats = telemetry.stats()
    assert stats.queued == 10 and stats.consecutive_failures >= 1
    assert "unauthorized" in (stats.last_error or "")
    assert any(r.levelno == logging.ERROR and "status=401" in r.getMessage() for r in caplog.records)
    assert secret not in caplog.text
    assert secret.encode() not in cfg.outbox_path.read_bytes()
    with Outbox(cfg.outbox_path, cfg.outbox_max_points) as box:  # still there for the next start
        assert box.count == 10


async def test_a_type_conflict_drops_only_the_offending_point(
    influx1: InfluxDB1, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = f"conflict-{uuid.uuid4().hex[:8]}"
    measurement = f"conflict_{uuid.uuid4().hex[:8]}"
    base = 1_706_745_600_000_000_000
    good = [Point(measurement, {"site": site}, {"x": 1.5 + i}, base + i) for i in range(10)]
    bad = Point(measurement, {"site": site}, {"x": 7}, base + 100)  # integer into a float field
    cfg = config(tmp_path, influx1.url, influx1.bucket, influx1.token)
    with caplog.at_level(logging.WARNING, logger="boiler.telemetry"):
        async with Telemetry(cfg) as telemetry:
            await telemetry.submit(good[:1])
            assert await telemetry.flush(30)
            await telemetry.submit([*good[1:5], bad, *good[5:]])
            assert await telemetry.flush(30)
            stats = telemetry.stats()
    assert (stats.rejected, stats.written, stats.queued) == (1, 10, 0)
    assert any("rejected" in r.getMessage() and "x=7i" in r.getMessage() for r in caplog.records)
    rows = influx1.rows(measurement)
    assert [(r.time_ns, r.fields["x"]) for r in rows] == [(p.time_ns, p.fields["x"]) for p in good]
