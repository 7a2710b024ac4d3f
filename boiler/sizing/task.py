"""One candidate's simulation as a task any process can run: plain data in, plain data out.

A task carries its config as JSON-ready data (it crosses process and machine boundaries: the local pool
pickles it, Dask sends it to a worker). The worker simulates it with `boiler.simulation.run_simulation`,
the loop `boiler simulate` runs, and answers with the summary and the fingerprint of its own code, which
the caller checks against its own: a worker with other code would give other figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from boiler.config import CsvDrawsConfig, PlantConfig, parse_config
from boiler.simulation import run_simulation

#: Bump when what a cached record holds changes.
CACHE_FORMAT = 1

_ROOT = Path(__file__).resolve().parents[2]
#: What decides a simulation's figures: the physics, the miners, the controller and the simulation.
_CODE_DIRS = ("tank", "miners", "boiler")
#: Parts of `boiler` that present results but never change them.
_NOT_CODE = ("boiler/cli", "boiler/sizing", "boiler/dashboards", "boiler/report")
_fingerprint: str | None = None


def code_fingerprint() -> str:
    """A digest of the source and data files the simulation's figures depend on (computed once)."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256()
        for package in _CODE_DIRS:
            for path in sorted((_ROOT / package).rglob("*")):
                rel = path.relative_to(_ROOT).as_posix()
                if (not path.is_file() or "__pycache__" in rel or rel.endswith(".pyc")
                        or any(rel.startswith(p + "/") for p in _NOT_CODE)):
                    continue
                digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        _fingerprint = digest.hexdigest()[:16]
    return _fingerprint


@dataclass(frozen=True, slots=True)
class SimTask:
    """One simulation: the full config, the period and the seed. `key` names it in the cache."""

    key: str
    config: dict[str, Any]
    days: float
    start: str
    seed: int
    scenario: str


def make_task(cfg: PlantConfig, days: float, start: date, seed: int, scenario: str) -> SimTask:
    """The task, keyed by a hash of everything that decides its figures (and the code's fingerprint)."""
    data = cfg.model_dump(mode="json")
    identity: dict[str, Any] = {"format": CACHE_FORMAT, "code": code_fingerprint(), "config": data,
                                "days": days, "start": start.isoformat(), "seed": seed}
    if isinstance(cfg.draws, CsvDrawsConfig):  # the file's contents decide the draws, not its name
        try:
            identity["draws_sha256"] = hashlib.sha256(cfg.draws.path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ValueError(f"draws.path {cfg.draws.path}: cannot read the file: {exc.strerror or exc}") from exc
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]
    return SimTask(key=key, config=data, days=days, start=start.isoformat(), seed=seed, scenario=scenario)


def run_task(task: SimTask) -> dict[str, Any]:
    """Simulate one task; what the cache stores (its summary, where and with which code it ran)."""
    cfg = parse_config(task.config, f"task {task.key}")
    result = run_simulation(cfg, task.days, date.fromisoformat(task.start), scenario=task.scenario, seed=task.seed)
    return {"format": CACHE_FORMAT, "key": task.key, "code": code_fingerprint(), "summary": result.summary,
            "host": socket.gethostname(), "pid": os.getpid()}
