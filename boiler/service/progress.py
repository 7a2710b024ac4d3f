"""How far a demo is, and how long it still takes: for the live view and for plain progress lines.

Progress is plant time done over plant time asked for. Time left is the plant time still to run
divided by the speed achieved so far (plant seconds per wall second), which on a loaded machine is
below the speed asked for.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from boiler.timefmt import clock_span, plant_time, plant_time_iso

log = logging.getLogger("boiler.demo")


@dataclass(frozen=True)
class Progress:
    now_s: float  # plant time (UTC epoch seconds)
    done_s: float  # plant seconds run since the first tick
    wall_s: float  # wall seconds since the first tick
    fraction: float | None  # of the plant time asked for; None when the run has no end
    speed: float | None  # achieved plant seconds per wall second; None until measurable
    left_wall_s: float | None  # wall seconds still needed at the achieved speed

    def summary(self, timezone: str) -> str:
        """'Mon 05 Jan 06:00 · 25 % · 1 min 30 s left · 715× real time' (plant time in `timezone`)."""
        return " · ".join(filter(None, (plant_time(self.now_s, timezone), self.done())))

    def done(self) -> str:
        """'25 % · 1 min 30 s left · 715× real time', as far as known."""
        parts = []
        if self.fraction is not None:
            parts.append(f"{100 * self.fraction:.0f} %")
        if self.left_wall_s is not None:
            parts.append(f"{clock_span(self.left_wall_s)} left")
        if self.speed is not None:
            parts.append(f"{self.speed:,.0f}× real time")
        return " · ".join(parts)

    def fields(self, timezone: str) -> str:
        """The same as key=value pairs for a log line."""
        out = [f"plant_time={plant_time_iso(self.now_s, timezone)}"]
        if self.fraction is not None:
            out.append(f"done_pct={100 * self.fraction:.0f}")
        if self.left_wall_s is not None:
            out.append(f"left_s={self.left_wall_s:.0f}")
        if self.speed is not None:
            out.append(f"speed={self.speed:.0f}")
        return " ".join(out)


class ProgressMeter:
    """Feed it the plant time after each tick; it answers with a `Progress`."""

    def __init__(self, duration_s: float | None, wall_clock: Callable[[], float] = time.monotonic) -> None:
        if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be positive, not {duration_s!r}")
        self.duration_s = duration_s
        self._wall = wall_clock
        self._origin: tuple[float, float] | None = None  # (plant s, wall s) at the first tick

    def update(self, now_s: float) -> Progress:
        wall = self._wall()
        if self._origin is None:
            self._origin = (now_s, wall)
        plant0, wall0 = self._origin
        done_s, wall_s = now_s - plant0, wall - wall0
        speed = done_s / wall_s if done_s > 0 and wall_s > 0 else None
        fraction = left = None
        if self.duration_s is not None:
            fraction = min(max(done_s / self.duration_s, 0.0), 1.0)
            if speed is not None:
                left = max(self.duration_s - done_s, 0.0) / speed
        return Progress(now_s, done_s, wall_s, fraction, speed, left)


class ProgressLines:
    """Every `every_s` wall seconds (and at the first and the last tick), one progress line through
    `emit`: for output that is not a terminal, where a live view would print nothing until the end."""

    def __init__(self, meter: ProgressMeter, timezone: str, emit: Callable[[Progress], None],
                 every_s: float = 10.0, wall_clock: Callable[[], float] = time.monotonic) -> None:
        self.meter = meter
        self.timezone = timezone
        self.emit = emit
        self.every_s = every_s
        self._wall = wall_clock
        self._last_wall: float | None = None

    def update(self, now_s: float) -> Progress:
        p = self.meter.update(now_s)
        wall = self._wall()
        finished = p.fraction is not None and p.fraction >= 1.0
        if self._last_wall is None or wall - self._last_wall >= self.every_s or finished:
            self._last_wall = wall
            self.emit(p)
        return p


def log_progress(timezone: str) -> Callable[[Progress], None]:
    """An `emit` that writes `event=progress …` log lines."""
    return lambda p: log.info("event=progress %s", p.fields(timezone))
