"""The writer loop: drains the outbox into the database in order, retrying while it is down.

Delivery is at least once: a batch is acknowledged (deleted from the outbox) only after the
database accepted it, so a crash between the two re-sends that batch after restart. InfluxDB
stores a point by (measurement, tag set, field, timestamp) and overwrites on a repeat, so a
re-sent point changes nothing there; see docs/telemetry.md for VictoriaMetrics.

Failures split in two:
- ``WriteFailed`` (unreachable, timeout, 5xx, 429, auth or bucket errors): retry the same batch
  with exponential backoff and jitter, forever; points stay queued.
- ``WriteRejected`` (400, 413, 422: the data itself is refused): bisect the batch to isolate
  the bad lines, drop each one alone with a warning, and keep the good ones.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from boiler.telemetry.outbox import QueuedLine

log = logging.getLogger(__name__)

# While failures last, repeat the warning at most this often.
_REPEAT_WARNING_S = 60.0
_LOGGED_LINE_CHARS = 200


class WriteFailed(Exception):
    """The write may succeed later: keep the points and retry."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class WriteRejected(Exception):
    """The database refused the data itself; resending it unchanged cannot succeed."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class Sink(Protocol):
    async def write(self, body: str) -> None:
        """Write newline-separated line protocol (ns precision); raise WriteFailed or WriteRejected."""


class Queue(Protocol):
    @property
    def count(self) -> int: ...

    async def peek(self, limit: int) -> list[QueuedLine]: ...

    async def ack(self, up_to_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": a delay drawn in [cap/2, cap], cap doubling per failure."""

    initial_s: float
    max_s: float

    def delay_s(self, failures: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        doublings = min(max(0, failures - 1), 60)  # bounded: a day-long outage must not overflow
        cap = min(self.max_s, self.initial_s * 2.0**doublings)
        delay = rng.uniform(cap / 2.0, cap)
        if retry_after_s is not None:  # the server asked for a pause; honour it up to our cap
            delay = max(delay, min(retry_after_s, self.max_s))
        return delay


class TelemetryWriter:
    """Moves queued lines to a sink in batches, in queue order, acknowledging after each success."""

    def __init__(
        self,
        queue: Queue,
        sink: Sink,
        *,
        batch_size: int,
        flush_interval_s: float,
        backoff: Backoff,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._sink = sink
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._monotonic_s = monotonic_s
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._flush_waiters = 0
        self._pending_since_s: float | None = None
        self._last_warning_s: float | None = None
        self.written = 0
        self.rejected = 0
        self.failed_attempts = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def notify(self) -> None:
        """New points were queued: wake the writer if it is waiting."""
        self._wake.set()

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Ask for an immediate write and wait until the queue is empty; False if ``timeout_s`` passed."""
        self._flush_waiters += 1
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s), self._progress:
                await self._progress.wait_for(lambda: self._queue.count == 0)
            return True
        except TimeoutError:
            return False
        finally:
            self._flush_waiters -= 1

    async def run(self) -> None:
        """Drain forever; cancel the task to stop. Unexpected errors are logged and retried, never fatal."""
        while True:
            await self._wait_for_work()
            try:
                await self._drain()
            except Exception as exc:  # a bug or a full disk must not silently stop telemetry
                log.exception("telemetry writer error; retrying")
                await self._failed(WriteFailed(f"internal error: {exc!r}"))

    # -- internals -------------------------------------------------------------------------------

    async def _wait_for_work(self) -> None:
        """Return when a full batch is queued, a flush is asked, or queued points waited flush_interval."""
        while True:
            self._wake.clear()
            queued = self._queue.count
            if queued == 0:
                self._pending_since_s = None
                await self._wake.wait()
                continue
            now = self._monotonic_s()
            if self._pending_since_s is None:
                self._pending_since_s = now
            due_s = self._pending_since_s + self._flush_interval_s
            if queued >= self._batch_size or self._flush_waiters or now >= due_s:
                return
            try:
                async with asyncio.timeout(due_s - now):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _drain(self) -> None:
        while True:
            rows = await self._queue.peek(self._batch_size)
            if not rows:
                self._pending_since_s = None
                await self._signal_progress()
                return
            try:
                await self._send(rows)
            except WriteFailed as exc:
                await self._failed(exc)
                continue
            self._succeeded()
            await self._signal_progress()

    async def _send(self, rows: list[QueuedLine]) -> None:
        try:
            await self._sink.write("\n".join(r.line for r in rows))
        except WriteRejected as exc:
            if len(rows) > 1:
                mid = len(rows) // 2
                await self._send(rows[:mid])
                await self._send(rows[mid:])
                return
            self.rejected += 1
            log.warning(
                "telemetry point rejected by the database and dropped status=%d reason=%s line=%s",
                exc.status,
                str(exc)[:_LOGGED_LINE_CHARS],
                rows[0].line[:_LOGGED_LINE_CHARS],
            )
            await self._queue.ack(rows[0].id)
            return
        self.written += len(rows)
        await self._queue.ack(rows[-1].id)

    async def _failed(self, exc: WriteFailed) -> None:
        self.failed_attempts += 1
        self.consecutive_failures += 1
        self.last_error = str(exc)
        delay_s = self._backoff.delay_s(self.consecutive_failures, self._rng, exc.retry_after_s)
        now = self._monotonic_s()
        repeat_due = self._last_warning_s is not None and now - self._last_warning_s >= _REPEAT_WARNING_S
        if self.consecutive_failures == 1 or repeat_due:
            self._last_warning_s = now
            # 401/403/404 are configuration errors (token, bucket): louder, since they will not heal alone.
            level = logging.ERROR if exc.status in (401, 403, 404) else logging.WARNING
            log.log(
                level,
                "telemetry write failed, points stay queued "  # split to fit the line length
                "status=%s error=%s attempts=%d queued=%d retry_s=%.2f",
                exc.status,
                exc,
                self.consecutive_failures,
                self._queue.count,
                delay_s,
            )
        await self._signal_progress()
        await self._sleep(delay_s)

    def _succeeded(self) -> None:
        if self.consecutive_failures:
            log.info(
                "telemetry write recovered after failed_attempts=%d; catching up queued=%d",
                self.consecutive_failures,
                self._queue.count,
            )
        self.consecutive_failures = 0
        self._last_warning_s = None

    async def _signal_progress(self) -> None:
        async with self._progress:
            self._progress.notify_all()
