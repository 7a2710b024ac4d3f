"""The writer that drains the outbox, against a scripted sink: batching, order, backoff, rejection, flush.

Real databases are exercised in tests/integration/test_telemetry_*.py; here the sink is fake so
that failures happen exactly where the test wants them, with no waiting (sleep is recorded).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from boiler.telemetry import Point, Telemetry, TelemetryConfig
from boiler.telemetry.outbox import QueuedLine
from boiler.telemetry.writer import Backoff, TelemetryWriter, WriteFailed, WriteRejected


class MemoryQueue:
    """The writer's view of the outbox, in memory."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self.rows: list[QueuedLine] = []
        self._next = 1
        self.append(lines or [])

    def append(self, lines: list[str]) -> None:
        for line in lines:
            self.rows.append(QueuedLine(self._next, line))
            self._next += 1

    @property
    def count(self) -> int:
        return len(self.rows)

    async def peek(self, limit: int) -> list[QueuedLine]:
        return self.rows[:limit]

    async def ack(self, up_to_id: int) -> int:
        before = len(self.rows)
        self.rows = [r for r in self.rows if r.id > up_to_id]
        return before - len(self.rows)


class ScriptedSink:
    """Accepts bodies, except: ``failures`` pending WriteFailed, and lines matching ``bad`` rejected."""

    def __init__(self, failures: int = 0, bad: Callable[[str], bool] = lambda line: False) -> None:
        self.failures = failures
        self.retry_after_s: float | None = None
        self.bad = bad
        self.bodies: list[list[str]] = []
        self.attempts = 0
        self.crash_next = False

    async def write(self, body: str) -> None:
        self.attempts += 1
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("bug in a sink")
        if self.failures:
            self.failures -= 1
            raise WriteFailed("connection refused", retry_after_s=self.retry_after_s)
        lines = body.split("\n")
        if any(self.bad(line) for line in lines):
            raise WriteRejected("partial write: field type conflict", status=400)
        self.bodies.append(lines)

    @property
    def written(self) -> list[str]:
        return [line for body in self.bodies for line in body]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        await asyncio.sleep(0)


def make_writer(
    queue: MemoryQueue,
    sink: ScriptedSink,
    sleeps: Sleeps,
    *,
    batch_size: int = 100,
    flush_interval_s: float = 3600,
) -> TelemetryWriter:
    return TelemetryWriter(
        queue,
        sink,
        batch_size=batch_size,
        flush_interval_s=flush_interval_s,
        backoff=Backoff(initial_s=1.0, max_s=8.0),
        rng=random.Random(7),
        sleep=sleeps,
    )


def numbered(n: int, start: int = 0) -> list[str]:
    return [f"m v={i}i {i}" for i in range(start, start + n)]


async def run_until_flushed(writer: TelemetryWriter, timeout_s: float = 10.0) -> bool:
    task = asyncio.create_task(writer.run())
    try:
        return await writer.flush(timeout_s)
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_full_batches_in_queue_order_then_the_rest() -> None:
    queue, sink, sleeps = MemoryQueue(numbered(250)), ScriptedSink(), Sleeps()
    writer = make_writer(queue, sink, sleeps)
    assert await run_until_flushed(writer)
    assert [len(b) for b in sink.bodies] == [100, 100, 50]
    assert sink.written == numbered(250)
    assert (writer.written, queue.count, sleeps.delays) == (250, 0, [])


async def test_a_full_batch_goes_at_once_and_a_partial_one_waits_for_the_interval() -> None:
    queue, sink, sleeps = MemoryQueue(), ScriptedSink(), Sleeps()
    writer = make_writer(queue, sink, sleeps, batch_size=10, flush_interval_s=3600)
    task = asyncio.create_task(writer.run())
    try:
        queue.append(numbered(4))
        writer.notify()
        for _ in range(50):
            await asyncio.sleep(0)
        assert sink.bodies == []  # 4 < batch_size and the hour has not passed
        queue.append(numbered(6, start=4))
        writer.notify()
        for _ in range(50):
            await asyncio.sleep(0)
        assert sink.bodies == [numbered(10)]
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_failures_back_off_exponentially_with_jitter_then_catch_up_in_order() -> None:
    queue, sink, sleeps = MemoryQueue(numbered(300)), ScriptedSink(failures=6), Sleeps()
    writer = make_writer(queue, sink, sleeps)
    assert await run_until_flushed(writer)
    caps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling from 1 s, capped at 8 s
    assert len(sleeps.delays) == 6
    for delay, cap in zip(sleeps.delays, caps, strict=True):
        assert cap / 2 <= delay <= cap
    assert len(set(sleeps.delays)) == 6  # jittered, not a fixed schedule
    assert sink.written == numbered(300)
    assert (writer.failed_attempts, writer.consecutive_failures, writer.written) == (6, 0, 300)


async def test_retry_after_from_the_server_is_honoured_up_to_the_cap() -> None:
    queue, sink, sleeps = MemoryQueue(numbered(5)), ScriptedSink(failures=2), Sleeps()
    sink.retry_after_s = 30.0
    writer = make_writer(queue, sink, sleeps)
    assert await run_until_flushed(writer)
    assert sleeps.delays == [8.0, 8.0]


async def test_rejected_lines_are_isolated_and_the_good_ones_kept_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = numbered(40)
    bad = {lines[3], lines[27]}
    queue, sink, sleeps = MemoryQueue(lines), ScriptedSink(bad=lambda line: line in bad), Sleeps()
    writer = make_writer(queue, sink, sleeps)
    with caplog.at_level(logging.WARNING, logger="boiler.telemetry.writer"):
        assert await run_until_flushed(writer)
    assert sink.written == [line for line in lines if line not in bad]
    assert (writer.rejected, writer.written, writer.failed_attempts) == (2, 38, 0)
    rejected_logs = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(rejected_logs) == 2 and "status=400" in rejected_logs[0] and lines[3] in rejected_logs[0]


async def test_flush_times_out_while_the_database_is_down() -> None:
    queue, sink, sleeps = MemoryQueue(numbered(3)), ScriptedSink(failures=10**9), Sleeps()
    writer = make_writer(queue, sink, sleeps)
    assert not await run_until_flushed(writer, timeout_s=0.05)
    assert queue.count == 3 and writer.failed_attempts > 0 and writer.last_error == "connection refused"


async def test_an_unexpected_error_is_logged_and_retried_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    queue, sink, sleeps = MemoryQueue(numbered(3)), ScriptedSink(), Sleeps()
    sink.crash_next = True
    writer = make_writer(queue, sink, sleeps)
    with caplog.at_level(logging.ERROR, logger="boiler.telemetry.writer"):
        assert await run_until_flushed(writer)
    assert sink.written == numbered(3)
    assert any("writer error" in r.getMessage() for r in caplog.records)


def test_backoff_delays_stay_within_their_doubling_caps() -> None:
    backoff, rng = Backoff(initial_s=0.5, max_s=60.0), random.Random(1)
    for failures in range(1, 20):
        cap = min(60.0, 0.5 * 2 ** (failures - 1))
        for _ in range(50):
            assert cap / 2 <= backoff.delay_s(failures, rng) <= cap
    # A week of failures at the cap must not overflow the exponent.
    assert 30.0 <= backoff.delay_s(10_080, rng) <= 60.0


# -- the Telemetry facade with a real outbox ---------------------------------------------------------


def config(tmp_path: Path, **overrides: object) -> TelemetryConfig:
    values: dict[str, object] = {
        "url": "http://127.0.0.1:9",
        "bucket": "b",
        "outbox_path": tmp_path / "outbox.sqlite",
        "batch_size": 50,
        "flush_interval_s": 0.01,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.02,
        "close_timeout_s": 0.2,
    }
    values.update(overrides)
    return TelemetryConfig.model_validate(values)


def points(n: int, start: int = 0) -> list[Point]:
    return [
        Point("m", {"site": "t"}, {"v": i}, 1_700_000_000_000_000_000 + i) for i in range(start, start + n)
    ]


async def test_points_left_queued_at_close_are_sent_after_the_next_start(tmp_path: Path) -> None:
    down = ScriptedSink(failures=10**9)
    async with Telemetry(config(tmp_path), sink=down) as telemetry:
        await telemetry.submit(points(120))
        assert not await telemetry.flush(0.05)
        stats = telemetry.stats()
        assert (stats.queued, stats.written) == (120, 0)
        assert stats.consecutive_failures > 0 and stats.oldest_age_s >= 0
    up = ScriptedSink()
    async with Telemetry(config(tmp_path), sink=up) as telemetry:
        await telemetry.submit(points(30, start=120))
        assert await telemetry.flush(5)
        stats = telemetry.stats()
    assert up.written == [p.to_line() for p in points(150)]
    assert (stats.queued, stats.written, stats.dropped) == (0, 150, 0)


async def test_close_flushes_what_it_can(tmp_path: Path) -> None:
    sink = ScriptedSink()
    telemetry = Telemetry(config(tmp_path, flush_interval_s=3600, close_timeout_s=5), sink=sink)
    await telemetry.start()
    await telemetry.submit(points(7))
    await telemetry.close()
    assert sink.written == [p.to_line() for p in points(7)]
    assert telemetry.stats().queued == 0


def test_config_refuses_unknown_keys_credentials_in_url_and_bad_retry_bounds(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="extra"):
        config(tmp_path, batchsize=10)
    with pytest.raises(ValidationError, match="credentials"):
        config(tmp_path, url="http://user:pw@127.0.0.1:8086")
    with pytest.raises(ValidationError, match="http"):
        config(tmp_path, url="ftp://127.0.0.1")
    with pytest.raises(ValidationError, match="retry_max_s"):
        config(tmp_path, retry_initial_s=5, retry_max_s=1)
    cfg = config(tmp_path, url="http://127.0.0.1:8086/", token="user:secret")
    assert cfg.url == "http://127.0.0.1:8086"
    assert "secret" not in repr(cfg) and "secret" not in str(cfg.model_dump())
    assert cfg.resolved_token() == "user:secret"


def test_the_token_can_come_from_the_environment(tmp_path: Path) -> None:
    cfg = config(tmp_path, token_env="BOILER_INFLUX_TOKEN")
    assert cfg.resolved_token({"BOILER_INFLUX_TOKEN": "t0k"}) == "t0k"
    with pytest.raises(ValueError, match="BOILER_INFLUX_TOKEN"):
        cfg.resolved_token({})
    with pytest.raises(ValidationError, match="either"):
        config(tmp_path, token="x", token_env="BOILER_INFLUX_TOKEN")
