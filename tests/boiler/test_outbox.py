"""The durable outbox: order, acknowledgement, bound, exclusivity, and survival of SIGKILL."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from boiler.telemetry.outbox import Outbox, OutboxLockedError
from boiler.telemetry.service import AsyncOutbox

REPO = Path(__file__).resolve().parents[2]


def lines(prefix: str, n: int) -> list[str]:
    return [f"m,src={prefix} v={i}i {i}" for i in range(n)]


def test_lines_come_back_in_order_and_ack_removes_only_the_head(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_points=100) as box:
        box.append(lines("a", 5))
        box.append(lines("b", 3))
        queued = box.peek(100)
        assert [q.line for q in queued] == lines("a", 5) + lines("b", 3)
        assert [q.id for q in queued] == sorted(q.id for q in queued)
        assert box.ack(queued[4].id) == 5
        assert [q.line for q in box.peek(100)] == lines("b", 3)
        assert box.count == 3
        assert [q.line for q in box.peek(2)] == lines("b", 2)


def test_committed_lines_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_points=100) as box:
        box.append(lines("a", 4))
        box.ack(box.peek(1)[0].id)
    with Outbox(path, max_points=100) as box:
        assert box.count == 3
        assert [q.line for q in box.peek(10)] == lines("a", 4)[1:]


def test_ids_keep_growing_after_the_queue_empties(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_points=100) as box:
        box.append(lines("a", 3))
        last = box.peek(10)[-1].id
        box.ack(last)
        assert box.count == 0
        box.append(lines("b", 1))
        assert box.peek(1)[0].id > last


def test_full_outbox_drops_the_oldest_and_warns_with_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    box = Outbox(tmp_path / "o.sqlite", max_points=10, warn_every_s=60.0, monotonic_s=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="boiler.telemetry.outbox"):
        assert box.append(lines("a", 7)).dropped == 0
        result = box.append(lines("b", 6))
        assert (result.appended, result.dropped) == (6, 3)
        assert box.count == 10
        assert [q.line for q in box.peek(100)] == lines("a", 7)[3:] + lines("b", 6)
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1
        assert "dropped=3 " in warnings[0] and "limit=10" in warnings[0] and "queued=10" in warnings[0]

        box.append(lines("c", 2))  # within warn_every_s: counted, not logged yet
        assert box.dropped_total == 5
        assert len(caplog.records) == 1
        now[0] = 61.0
        box.append(lines("d", 1))
        assert "dropped=3 dropped_total=6" in caplog.records[-1].getMessage()
        box.append(lines("e", 1))
        box.close()  # unreported drops are reported on close
        assert "dropped=1 dropped_total=7" in caplog.records[-1].getMessage()


def test_one_append_larger_than_the_bound_keeps_its_newest_lines(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_points=4) as box:
        result = box.append(lines("a", 9))
        assert result.dropped == 5
        assert [q.line for q in box.peek(10)] == lines("a", 9)[5:]


def test_space_is_returned_to_the_file_system_once_the_queue_empties(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_points=100_000) as box:
        box.append(lines("a", 30_000))
        box.ack(box.peek(100_000)[-1].id)
        assert box.count == 0
    assert path.stat().st_size < 100_000  # 30,000 lines took over 1 MB; emptied, a few pages remain


def test_oldest_queued_time_follows_the_head(tmp_path: Path) -> None:
    clock = [1_000]
    with Outbox(tmp_path / "o.sqlite", max_points=10, clock_ns=lambda: clock[0]) as box:
        assert box.oldest_queued_ns is None
        box.append(lines("a", 2))
        clock[0] = 2_000
        box.append(lines("b", 2))
        assert box.oldest_queued_ns == 1_000
        box.ack(box.peek(2)[-1].id)
        assert box.oldest_queued_ns == 2_000
        box.ack(box.peek(2)[-1].id)
        assert box.oldest_queued_ns is None


def test_a_second_opener_of_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_points=10) as box:
        box.append(lines("a", 1))
        with pytest.raises(OutboxLockedError):
            Outbox(path, max_points=10)
    with Outbox(path, max_points=10) as box:  # free again once closed
        assert box.count == 1


async def test_async_appends_keep_their_submission_order(tmp_path: Path) -> None:
    queue = AsyncOutbox(tmp_path / "o.sqlite", max_points=1000)
    await queue.open()
    try:
        await asyncio.gather(*(queue.append([f"m v={i}i {i}"]) for i in range(200)))
        assert [q.line for q in await queue.peek(1000)] == [f"m v={i}i {i}" for i in range(200)]
    finally:
        await queue.close()


# -- SIGKILL: a child appends numbered batches and reports each commit; we kill it at random moments.

_CHILD = textwrap.dedent(
    """
    import sys
    from boiler.telemetry.outbox import Outbox
    path, first, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    box = Outbox(path, max_points=10_000_000)
    batch = first
    while True:
        box.append([f"m,batch={batch} i={i}i {batch * 1000 + i}" for i in range(size)])
        print(batch, flush=True)
        batch += 1
    """
)


def _parse(line: str) -> tuple[int, int]:
    batch = int(line.split(",batch=")[1].split(" ")[0])
    return batch, int(line.rsplit(" ", 1)[1]) % 1000


def test_sigkill_never_loses_nor_duplicates_a_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    rng = random.Random(20240601)
    size = 40
    acked: list[tuple[int, int]] = []  # what the "writer" removed, in order
    reported: list[int] = []
    next_batch = 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(8):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(next_batch), str(size)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        assert child.stdout is not None
        for _ in range(rng.randint(1, 15)):
            reported.append(int(child.stdout.readline()))
        # Kill at a random moment of the next append: the child never pauses between appends.
        for _ in range(rng.randint(0, 3000)):
            pass
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

        with Outbox(path, max_points=10_000_000) as box:
            queued = box.peek(10_000_000)
            history = acked + [_parse(q.line) for q in queued]
            last = history[-1][0]
            # Whole batches 0..last, each once, in order: nothing partial, duplicated or reordered.
            assert history == [(b, i) for b in range(last + 1) for i in range(size)]
            assert set(reported) <= set(range(last + 1)), "a committed batch was lost"
            next_batch = last + 1
            # Acknowledge a random prefix, as the writer would, to mix deletes into the history.
            cut = rng.randrange(len(queued))
            box.ack(queued[cut].id)
            acked += [_parse(q.line) for q in queued[: cut + 1]]
    assert len(reported) >= 8
