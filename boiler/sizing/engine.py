"""Run tasks through a backend with the cache in front: finished tasks are read back, the rest are
simulated and stored the moment each one finishes (so an interrupted run resumes where it stopped)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from boiler.sizing.backends import Backend
from boiler.sizing.cache import ResultCache, normalise
from boiler.sizing.task import SimTask, code_fingerprint

log = logging.getLogger("boiler.sizing")

#: Called with (tasks finished, tasks to run): once before the first runs (the cached ones are not
#: counted: they cost nothing), then after each one finishes or fails.
Progress = Callable[[int, int], None]


@dataclass
class RunOutcome:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def run_tasks(tasks: Sequence[SimTask], backend: Backend, cache: ResultCache | None = None,
              progress: Progress | None = None) -> RunOutcome:
    unique = list({t.key: t for t in tasks}.values())
    out = RunOutcome()
    todo: list[SimTask] = []
    for task in unique:
        record = cache.get(task.key) if cache is not None else None
        if record is None:
            todo.append(task)
            continue
        out.records[task.key] = record
        out.cached += 1
    mine = code_fingerprint()
    if progress is not None:
        progress(0, len(todo))

    def on_result(task: SimTask, record: dict[str, Any]) -> None:
        if record.get("code") != mine:
            on_error(task, f"worker {record.get('host')}:{record.get('pid')} runs other code (fingerprint "
                           f"{record.get('code')}, here {mine}): install the same version on every worker")
            return
        record = normalise(record)
        if cache is not None:
            cache.put(task.key, record)
        out.records[task.key] = record
        out.computed += 1
        log.info("candidate_done key=%s host=%s wall_s=%.2f", task.key, record.get("host"),
                 record["summary"].get("wall_seconds", float("nan")))
        if progress is not None:
            progress(out.computed + len(out.failed), len(todo))

    def on_error(task: SimTask, message: str) -> None:
        out.failed[task.key] = message
        log.error("candidate_failed key=%s error=%s", task.key, message)
        if progress is not None:
            progress(out.computed + len(out.failed), len(todo))

    backend.run(todo, on_result, on_error)
    return out
