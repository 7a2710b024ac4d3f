"""Fault modes an emulated miner can be switched into at run time, to test the code that talks to it.

Each fault changes how the miner's ports behave, not what the miner does physically (a reboot
also restarts the miner). One fault is active at a time; `None` means healthy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Every port is closed: connections are refused, as from a host that is up but not serving."""


@dataclass(frozen=True, slots=True)
class Slow:
    """Every request is answered `delay_s` seconds late (the miner is alive but stalled)."""

    delay_s: float

    def __post_init__(self) -> None:
        if self.delay_s < 0:
            raise ValueError("Slow.delay_s must be >= 0")


@dataclass(frozen=True, slots=True)
class Garbage:
    """Every request is answered with bytes that are no valid reply, then the connection closes."""


@dataclass(frozen=True, slots=True)
class Truncated:
    """Every reply is cut after half its bytes and the connection closed cleanly (FIN)."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The miner drops off mid-poll: it answers `after_requests` more requests, then resets (RST)
    every connection as soon as the request arrives, until the fault is cleared."""

    after_requests: int = 0

    def __post_init__(self) -> None:
        if self.after_requests < 0:
            raise ValueError("Disconnect.after_requests must be >= 0")


@dataclass(frozen=True, slots=True)
class Reboot:
    """The miner reboots: its ports close at once and reopen `down_s` seconds later (on the miner's
    clock) with a fresh uptime. The fault clears itself when the miner is back."""

    down_s: float

    def __post_init__(self) -> None:
        if self.down_s < 0:
            raise ValueError("Reboot.down_s must be >= 0")


@dataclass(frozen=True, slots=True)
class WrongPassword:
    """The miner's password no longer matches what clients send: reads still work, every
    privileged write (and BOS+ login) is refused the way that firmware refuses it."""


Fault = Unreachable | Slow | Garbage | Truncated | Disconnect | Reboot | WrongPassword

#: What a garbage reply looks like: not JSON, not a length prefix that makes sense, not HTTP/2.
GARBAGE_BYTES = b"\x8b\x1f\xff garbage \x00\xfe{{[not json"
