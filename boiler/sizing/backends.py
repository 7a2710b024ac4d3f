"""Where tasks run: the embedded default, a local process pool over this machine's cores.

Each backend runs a list of tasks and calls back as each one finishes, in whatever order they finish
(the caller stores each result as it arrives). The Dask cluster backend is `dask_backend` (it needs the
optional `cluster` extra, so it lives in its own module).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from boiler.sizing.task import SimTask, run_task

log = logging.getLogger("boiler.sizing")

OnResult = Callable[[SimTask, dict[str, Any]], None]
OnError = Callable[[SimTask, str], None]


class Backend(Protocol):
    name: str
    workers: int

    def run(self, tasks: Sequence[SimTask], on_result: OnResult, on_error: OnError) -> None: ...


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class LocalPool:
    """A pool of `workers` processes on this machine (spawned: no state inherited from the caller).

    A worker process that dies (killed, out of memory) breaks the whole pool: the candidates it had not
    finished are given to a fresh pool, up to `retries` times, then reported failed."""

    name = "local"

    def __init__(self, workers: int | None = None, retries: int = 2) -> None:
        self.workers = workers or default_workers()
        self.retries = retries

    def run(self, tasks: Sequence[SimTask], on_result: OnResult, on_error: OnError) -> None:
        remaining = list(tasks)
        for attempt in range(self.retries + 1):
            if not remaining:
                return
            broken = self._run_once(remaining, on_result, on_error)
            if broken:
                log.warning("pool_broken attempt=%d unfinished=%d", attempt + 1, len(broken))
            remaining = broken
        for task in remaining:
            on_error(task, f"worker processes died {self.retries + 1} times while it was pending; run again to resume")

    def _run_once(self, tasks: Sequence[SimTask], on_result: OnResult, on_error: OnError) -> list[SimTask]:
        """Run the tasks; those left unfinished by a broken pool."""
        ctx = multiprocessing.get_context("spawn")
        broken: list[SimTask] = []
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=ctx) as pool:
            pending: dict[Future[dict[str, Any]], SimTask] = {pool.submit(run_task, t): t for t in tasks}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = pending.pop(fut)
                        try:
                            record = fut.result()
                        except BrokenProcessPool:
                            broken.append(task)
                        except Exception as exc:  # the candidate failed; the others go on
                            on_error(task, f"{type(exc).__name__}: {exc}")
                        else:
                            on_result(task, record)
            finally:
                for fut in pending:
                    fut.cancel()
        return broken
