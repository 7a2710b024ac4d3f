"""A durable, bounded FIFO of encoded points in SQLite (WAL).

Guarantees:
- ``append`` returns only after its transaction is committed with ``synchronous=FULL``:
  a committed batch survives a kill of the process and a power cut, entirely or not at all.
- Rows keep insertion order (``AUTOINCREMENT`` ids never go back) and are deleted only by
  ``ack`` (after a successful write) or by the size bound, both from the head. So nothing
  committed is lost unless the bound drops it, and nothing is ever queued twice.
- Bounded by a point count. When full, the *oldest* points are dropped in the same
  transaction as the append: during a long outage the freshest state is worth more than the
  oldest (the ledger itself lives in its own database and is never dropped). Each drop is
  logged as a warning with counts, at most once per ``warn_every_s``.
- One process at a time: the file is opened in exclusive locking mode, so a second service
  pointed at the same outbox fails at once instead of sending the same points twice.

The class is thread-safe but blocking; async code calls it from one worker thread
(see ``service.Telemetry``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

log = logging.getLogger(__name__)

_SCHEMA_VERSION: Final = 1
# Pages freed by acks are returned to the file system once the queue is empty and at least this many are free.
_VACUUM_FREE_PAGES: Final = 256


class OutboxLockedError(RuntimeError):
    """Another process holds the outbox file."""


@dataclass(frozen=True, slots=True)
class QueuedLine:
    """One queued point: its outbox id (insertion order) and its line protocol."""

    id: int
    line: str


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: int
    dropped: int


class Outbox:
    """Durable FIFO of line-protocol strings, bounded by ``max_points``."""

    def __init__(
        self,
        path: Path | str,
        max_points: int,
        *,
        warn_every_s: float = 60.0,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_points < 1:
            raise ValueError(f"max_points must be >= 1, got {max_points}")
        self.path = Path(path)
        self.max_points = max_points
        self._warn_every_s = warn_every_s
        self._clock_ns = clock_ns
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0.1)
        try:
            self._setup()
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise OutboxLockedError(f"telemetry outbox {self.path} is in use by another process") from exc
            raise
        self._count: int = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self._oldest_queued_ns: int | None = self._head_queued_ns()
        self.dropped_total = 0
        self._dropped_unreported = 0
        self._last_warn_s: float | None = None
        self._closed = False

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        # auto_vacuum only takes effect before the first table exists.
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"telemetry outbox {self.path}: cannot enable WAL (journal_mode={mode})")
        db.execute("PRAGMA synchronous = FULL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"telemetry outbox {self.path} has format {version}; this program reads {_SCHEMA_VERSION}"
            )
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " queued_ns INTEGER NOT NULL,"
            " line TEXT NOT NULL)"
        )
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("COMMIT")

    def _head_queued_ns(self) -> int | None:
        row = self._db.execute("SELECT queued_ns FROM outbox ORDER BY id LIMIT 1").fetchone()
        return None if row is None else row[0]

    # -- state, readable from any thread without touching SQLite --------------------------------------

    @property
    def count(self) -> int:
        """Points queued and not yet acknowledged."""
        return self._count

    @property
    def oldest_queued_ns(self) -> int | None:
        """Wall-clock time (ns) the oldest queued point was appended, or None when empty."""
        return self._oldest_queued_ns

    # -- operations ------------------------------------------------------------------------------

    def append(self, lines: Sequence[str]) -> AppendResult:
        """Queue lines in order, in one committed transaction; drop the oldest beyond the bound."""
        if not lines:
            return AppendResult(0, 0)
        now_ns = self._clock_ns()
        with self._lock:
            self._check_open()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO outbox (queued_ns, line) VALUES (?, ?)", ((now_ns, s) for s in lines)
                )
                excess = self._count + len(lines) - self.max_points
                dropped = 0
                if excess > 0:
                    dropped = db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                        (excess,),
                    ).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._count += len(lines) - dropped
            if dropped or self._oldest_queued_ns is None:
                self._oldest_queued_ns = self._head_queued_ns()
            if dropped:
                self._note_dropped(dropped)
        return AppendResult(len(lines), dropped)

    def peek(self, limit: int) -> list[QueuedLine]:
        """The oldest ``limit`` queued lines, in order, without removing them."""
        with self._lock:
            self._check_open()
            rows = self._db.execute("SELECT id, line FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [QueuedLine(i, s) for i, s in rows]

    def ack(self, up_to_id: int) -> int:
        """Remove every queued line with id <= ``up_to_id`` (they were written); return how many."""
        with self._lock:
            self._check_open()
            removed = self._db.execute("DELETE FROM outbox WHERE id <= ?", (up_to_id,)).rowcount
            self._count -= removed
            self._oldest_queued_ns = self._head_queued_ns()
            if self._count == 0:
                self._maybe_vacuum()
        return removed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._report_drops(force=True)
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"telemetry outbox {self.path} is closed")

    def _maybe_vacuum(self) -> None:
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        if free >= _VACUUM_FREE_PAGES:
            # executescript runs the pragma to completion; execute() would free a single page.
            self._db.executescript("PRAGMA incremental_vacuum;")

    def _note_dropped(self, dropped: int) -> None:
        self.dropped_total += dropped
        self._dropped_unreported += dropped
        self._report_drops(force=False)

    def _report_drops(self, *, force: bool) -> None:
        if not self._dropped_unreported:
            return
        now = self._monotonic_s()
        if not force and self._last_warn_s is not None and now - self._last_warn_s < self._warn_every_s:
            return
        log.warning(
            "telemetry outbox full, oldest points dropped "  # split to fit the line length
            "dropped=%d dropped_total=%d limit=%d queued=%d path=%s",
            self._dropped_unreported,
            self.dropped_total,
            self.max_points,
            self._count,
            self.path,
        )
        self._dropped_unreported = 0
        self._last_warn_s = now
