"""A slow trim of the gas aquastat from the outlet the plant actually delivered.

The boiler's aquastat reads one sensor in its coil zone; the outlet is the top of the store. Where the
sensor sits low in the zone (or the burner's minimum run overshoots a small zone), the outlet runs
several kelvin above the aquastat: on `house-xl` the mean outlet was 68–69 °C with the aquastat at
61 °C, every kelvin of it lost through the jacket and the loop. The trim lowers the aquastat while
each day's coldest outlet stays clearly above the setpoint, a little each day, and gives back what a
day lacked at its end. Within a day, an outlet that falls within `alarm_k` of the setpoint takes the
whole trim back at once: yesterday's room says nothing about this evening's peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class OutletTrim:
    """Kelvin added to the gas aquastat (≤ 0), from each local day's coldest outlet."""

    setpoint_c: float
    #: A day whose coldest outlet stayed this far above the setpoint lets the trim go lower.
    guard_k: float = 3.0
    #: ... by at most this much per day.
    step_k: float = 0.5
    #: The trim never goes below −max_k.
    max_k: float = 4.0
    #: An outlet this close to the setpoint (or closer) takes the whole trim back at once (0: only at day end).
    alarm_k: float = 0.0
    trim_k: float = 0.0
    _day: int | None = None
    _day_min_c: float = math.inf

    def observe(self, day: int, outlet_c: float | None) -> None:
        """One reading of the outlet on local day `day` (any increasing day number)."""
        if day != self._day:
            if self._day is not None and math.isfinite(self._day_min_c):
                self._close_day(self._day_min_c)
            self._day, self._day_min_c = day, math.inf
        if outlet_c is not None:
            self._day_min_c = min(self._day_min_c, outlet_c)
            if outlet_c < self.setpoint_c + self.alarm_k:
                self.trim_k = 0.0

    def _close_day(self, coldest_c: float) -> None:
        room_k = coldest_c - (self.setpoint_c + self.guard_k)
        if room_k > 0:  # a day with room to spare: lower a little
            self.trim_k = max(self.trim_k - min(self.step_k, room_k), -self.max_k)
        else:  # a day that came close: give back at once what it lacked, and a step more
            self.trim_k = min(self.trim_k - room_k + self.step_k, 0.0)
