"""``Telemetry``: the one object the service uses — submit points, read counters, flush, close.

Points are committed to the on-disk outbox before ``submit`` returns, then a background writer
task sends them. All SQLite work runs on one dedicated thread: the event loop only waits, and
a single thread keeps appends, reads and acknowledgements in one order.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from boiler.telemetry.config import TelemetryConfig
from boiler.telemetry.outbox import AppendResult, Outbox, QueuedLine
from boiler.telemetry.point import Point
from boiler.telemetry.writer import Backoff, Sink, TelemetryWriter

if TYPE_CHECKING:
    from boiler.telemetry.influx import InfluxSink

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TelemetryStats:
    """Counters since start (``queued`` and ``oldest_age_s`` are current)."""

    queued: int  # points in the outbox, not yet written
    written: int  # points the database accepted
    failed_attempts: int  # write requests that failed and will be retried
    dropped: int  # oldest points removed because the outbox was full
    rejected: int  # points the database refused as invalid (logged, then dropped)
    append_failures: int  # points that could not even be queued (disk full, I/O error)
    oldest_age_s: float  # how long the oldest queued point has waited; 0 when empty
    consecutive_failures: int  # > 0 while the database is unreachable
    last_error: str | None


class AsyncOutbox:
    """The blocking ``Outbox`` driven from asyncio through one worker thread."""

    def __init__(
        self, path: Path | str, max_points: int, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._path = path
        self._max_points = max_points
        self._clock_ns = clock_ns
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telemetry-outbox")
        self._outbox: Outbox | None = None

    async def _call(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("telemetry outbox is not open")
        return self._outbox

    async def open(self) -> None:
        self._outbox = await self._call(Outbox, self._path, self._max_points, clock_ns=self._clock_ns)

    async def close(self) -> None:
        if self._outbox is not None:
            await self._call(self._outbox.close)
            self._outbox = None
        self._executor.shutdown(wait=True)

    @property
    def count(self) -> int:
        return self.outbox.count

    async def append(self, lines: list[str]) -> AppendResult:
        return await self._call(self.outbox.append, lines)

    async def peek(self, limit: int) -> list[QueuedLine]:
        return await self._call(self.outbox.peek, limit)

    async def ack(self, up_to_id: int) -> int:
        return await self._call(self.outbox.ack, up_to_id)


class Telemetry:
    """Durable, batched telemetry to an InfluxDB-compatible database.

    Use as ``async with Telemetry(config) as telemetry: ... await telemetry.submit(points)``.
    On exit it flushes for at most ``config.close_timeout_s``; whatever is left stays in the
    outbox and is sent after the next start.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        sink: Sink | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self._clock_ns = clock_ns
        if sink is None:
            # Imported here so that importing the package does not load aiohttp and influxdb-client.
            from boiler.telemetry.influx import InfluxSink

            self._own_sink: InfluxSink | None = InfluxSink(config)
            sink = self._own_sink
        else:
            self._own_sink = None
        self._sink: Sink = sink
        self._queue = AsyncOutbox(config.outbox_path, config.outbox_max_points, clock_ns=clock_ns)
        self._writer = TelemetryWriter(
            self._queue,
            self._sink,
            batch_size=config.batch_size,
            flush_interval_s=config.flush_interval_s,
            backoff=Backoff(config.retry_initial_s, config.retry_max_s),
        )
        self._task: asyncio.Task[None] | None = None
        self._append_failures = 0
        self._final_stats: TelemetryStats | None = None

    async def __aenter__(self) -> Telemetry:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the outbox (resuming whatever a previous run left) and start the writer task."""
        self.config.resolved_token()  # an unset token variable fails here, at start, not in the writer
        try:
            await self._queue.open()
        except BaseException:
            await self._queue.close()
            raise
        log.info(
            "telemetry started url=%s bucket=%s outbox=%s queued=%d",
            self.config.url,
            self.config.bucket,
            self.config.outbox_path,
            self._queue.count,
        )
        self._task = asyncio.create_task(self._writer.run(), name="telemetry-writer")
        self._writer.notify()

    async def submit(self, points: Iterable[Point]) -> AppendResult:
        """Queue points durably (committed on return) and wake the writer. Never raises on I/O errors:
        telemetry must not stop the controller; such a failure is logged and counted."""
        lines = [p.to_line() for p in points]
        try:
            result = await self._queue.append(lines)
        except (sqlite3.Error, OSError) as exc:
            self._append_failures += len(lines)
            log.error("telemetry outbox append failed; points lost count=%d error=%s", len(lines), exc)
            return AppendResult(0, 0)
        self._writer.notify()
        return result

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Write everything queued now; True once the outbox is empty, False after ``timeout_s``."""
        return await self._writer.flush(timeout_s)

    def stats(self) -> TelemetryStats:
        if self._final_stats is not None:
            return self._final_stats
        outbox = self._queue.outbox
        oldest_ns = outbox.oldest_queued_ns
        age_s = 0.0 if oldest_ns is None else max(0.0, (self._clock_ns() - oldest_ns) / 1e9)
        w = self._writer
        return TelemetryStats(
            queued=outbox.count,
            written=w.written,
            failed_attempts=w.failed_attempts,
            dropped=outbox.dropped_total,
            rejected=w.rejected,
            append_failures=self._append_failures,
            oldest_age_s=age_s,
            consecutive_failures=w.consecutive_failures,
            last_error=w.last_error,
        )

    async def close(self) -> None:
        """Flush (bounded by ``close_timeout_s``), stop the writer, close the outbox and the client."""
        if self._task is None:
            return
        timeout_s = self.config.close_timeout_s
        if timeout_s > 0 and not self._task.done() and not await self.flush(timeout_s):
            log.warning("telemetry closing with points still queued queued=%d", self._queue.count)
        self._task.cancel()
        await asyncio.wait([self._task])  # wait for the cancellation without re-raising it here
        self._task = None
        if self._own_sink is not None:
            await self._own_sink.aclose()
        self._final_stats = self.stats()
        await self._queue.close()
        s = self._final_stats
        log.info(
            "telemetry stopped queued=%d written=%d failed_attempts=%d dropped=%d rejected=%d",
            s.queued,
            s.written,
            s.failed_attempts,
            s.dropped,
            s.rejected,
        )
