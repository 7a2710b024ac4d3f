"""Time for the service: the wall clock on a real plant, a paced virtual clock in the demo."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_s(self) -> float: ...

    async def sleep_until(self, t_s: float) -> None: ...


class WallClock:
    """UTC epoch seconds."""

    def now_s(self) -> float:
        return time.time()

    async def sleep_until(self, t_s: float) -> None:
        delay = t_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class PacedClock:
    """Virtual time that advances only by `sleep_until`, pacing it `speed` times faster than real.

    The timeline is deterministic: work done between sleeps takes no virtual time, and a tick whose
    work overruns its real-time budget simply starts the next one late in real time.
    """

    def __init__(self, start_s: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._now = start_s
        self.speed = speed
        self._real_deadline = time.monotonic()

    def now_s(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    async def sleep_until(self, t_s: float) -> None:
        if t_s <= self._now:
            await asyncio.sleep(0)
            return
        self._real_deadline += (t_s - self._now) / self.speed
        delay = self._real_deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self._real_deadline = time.monotonic()  # behind: do not try to catch up in a burst
            await asyncio.sleep(0)
        self._now = t_s
