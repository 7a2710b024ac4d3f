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
    """Virtual time that advances only by `sleep_until`, paced `speed` times faster than real time.

    The timeline is deterministic: work done between sleeps takes no virtual time. Virtual instant t
    falls due at a fixed real instant, so several tasks sleeping until the same t wake together;
    when the work overruns, the clock runs behind and catches up as fast as the work allows.
    """

    def __init__(self, start_s: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._now = start_s
        self.speed = speed
        self._origin_virtual = start_s
        self._origin_real = time.monotonic()

    def now_s(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    async def sleep_until(self, t_s: float) -> None:
        if t_s > self._now:
            due = self._origin_real + (t_s - self._origin_virtual) / self.speed
            delay = due - time.monotonic()
            await asyncio.sleep(max(delay, 0.0))
            self._now = max(self._now, t_s)
        else:
            await asyncio.sleep(0)
