"""Sizing: which miners and which store for a building, and for a landlord's portfolio (`boiler size`).

Each candidate is a full plant config simulated with `boiler.simulation.run_simulation` (the one control
loop), on a local process pool or a Dask cluster, its result cached by the config's hash; then scored
(feasibility, energy, money, capital, payback, NPV). See docs/sizing.md.
"""

from __future__ import annotations

from boiler.sizing.backends import Backend, LocalPool
from boiler.sizing.cache import ResultCache
from boiler.sizing.candidates import Candidate, candidate_config, expand, reference_of
from boiler.sizing.engine import RunOutcome, run_tasks
from boiler.sizing.score import Scored, ranked
from boiler.sizing.spec import SizingError, SizingSpec, load_sizing, parse_sizing
from boiler.sizing.study import SiteStudy, plan
from boiler.sizing.task import SimTask, make_task, run_task

__all__ = [
    "Backend", "Candidate", "LocalPool", "ResultCache", "RunOutcome", "Scored", "SimTask", "SiteStudy",
    "SizingError", "SizingSpec", "candidate_config", "expand", "load_sizing", "make_task", "parse_sizing", "plan",
    "ranked", "reference_of", "run_task", "run_tasks",
]
