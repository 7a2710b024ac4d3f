"""Beyond one machine: the same tasks on a Dask distributed cluster (`--scheduler tcp://HOST:8786`).

One Dask task per candidate, keyed by the candidate's hash; results come back as they finish and the
caller streams them into the same cache as the local pool. A worker that dies takes its running tasks
with it: the scheduler gives them to another worker (up to `distributed.scheduler.allowed-failures`
times, 3 by default), and a task that raised is retried `retries` times. Workers need this package
installed at the same version (docs/sizing.md); each result carries its worker's code fingerprint and
the caller refuses a result computed by other code.
"""

from __future__ import annotations

from collections.abc import Sequence

import distributed

from boiler.sizing.backends import OnError, OnResult
from boiler.sizing.task import SimTask, run_task


class DaskCluster:
    """Runs tasks through a `distributed.Client` (an address, or a client the caller already holds)."""

    name = "dask"

    def __init__(self, client: distributed.Client, retries: int = 2) -> None:
        self.client = client
        self.retries = retries
        #: Worker threads when the run started (the cluster may grow or shrink while it runs).
        self.workers = self._count_workers()

    @classmethod
    def connect(cls, address: str, timeout_s: float = 10.0, retries: int = 2) -> DaskCluster:
        try:
            client = distributed.Client(address, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        return cls(client, retries)

    def _count_workers(self) -> int:
        info = self.client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())

    def run(self, tasks: Sequence[SimTask], on_result: OnResult, on_error: OnError) -> None:
        if not tasks:
            return
        self.workers = self._count_workers()
        futures = {self.client.submit(run_task, t, key=f"boiler-size-{t.key}", pure=False, retries=self.retries): t
                   for t in tasks}
        try:
            for fut in distributed.as_completed(list(futures)):
                task = futures[fut]
                try:
                    record = fut.result()
                except Exception as exc:  # the task raised on every try, or its workers kept dying
                    on_error(task, f"{type(exc).__name__}: {exc}")
                else:
                    on_result(task, record)
                fut.release()
        finally:
            for fut in futures:
                fut.release()

    def close(self) -> None:
        self.client.close()
