"""What the controller needs from a miner fleet, whatever stands behind it (pyasic, a simulation).

The controller polls once per tick and then applies the limits the allocation chose. It never
sees a socket: a reading that could not be taken is `available=False`, a command that could
not be confirmed is `ok=False`, and the controller then counts that miner as unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class MiningState(StrEnum):
    MINING = "mining"
    SLEEPING = "sleeping"
    #: Hashing restarts after a limit change (firmware that restarts) or after a reboot.
    RESTARTING = "restarting"
    #: No answer, or an answer that could not be understood.
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class MinerReading:
    """One miner as seen at one poll. Values are None when the firmware does not report them.

    When the poll failed, `available` is False and `stale` is True; the values are then the
    last ones read (at `polled_at_s`), kept only so the controller can tell what the miner
    was last doing — never to be used as a current measurement.
    """

    name: str
    available: bool
    state: MiningState
    power_w: float | None
    hashrate_ths: float | None
    power_limit_w: float | None
    coolant_in_c: float | None
    coolant_out_c: float | None
    errors: tuple[str, ...]
    polled_at_s: float
    stale: bool


class CommandKind(StrEnum):
    SET_LIMIT = "set_limit"
    SLEEP = "sleep"
    WAKE = "wake"
    #: Nothing sent: already there, inside the deadband or too soon after the last change.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one miner's part of `apply`.

    `ok` means the miner now reads back what was asked (or nothing needed sending). `restarts`
    says that this firmware restarts hashing on the change, so power and hashrate dip for a while.
    """

    name: str
    kind: CommandKind
    target_w: float | None
    ok: bool
    attempts: int
    error: str | None = None
    restarts: bool = False
    reason: str = ""


@runtime_checkable
class MinerDriver(Protocol):
    """A fleet the controller can read and command (real miners through pyasic, or a simulation)."""

    async def poll(self) -> list[MinerReading]:
        """Read every miner once; never raises for one miner's failure, never waits past its timeout."""
        ...

    async def apply(self, limits_w: Mapping[str, float | None]) -> list[CommandResult]:
        """Bring each named miner to its limit in watts; `None` puts it to sleep."""
        ...
