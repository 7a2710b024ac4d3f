"""What a live view or a health check wants to know of the service, updated every tick."""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from boiler.control.types import Commands, Decision, MinerReading
from boiler.ledger import LedgerRow, empty_total
from boiler.loop import PlantReading


@dataclass
class ServiceStatus:
    now_s: float = math.nan
    ticks: int = 0
    reading: PlantReading | None = None
    miners: tuple[MinerReading, ...] = ()
    decision: Decision | None = None
    commands: Commands | None = None
    #: The configured strategy, who decided the last tick, and the count per decider this run.
    strategy: str = ""
    decided_by: str = ""
    decided_counts: Counter[str] = field(default_factory=Counter)
    #: Closed ledger rows (this run and those stored before), and the same with the open interval.
    totals: LedgerRow = field(default_factory=empty_total)
    live_totals: LedgerRow = field(default_factory=empty_total)
    reasons: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=8))
    safe_state: bool = False
    compliant: bool = True
    tick_wall_s: float = 0.0
