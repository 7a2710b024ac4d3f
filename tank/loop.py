"""Building distribution loop with recirculation.

Hot water leaves the store, circulates through the building and returns cooler. The pipe loses
heat to its surroundings along its length, so the water temperature decays exponentially towards
ambient: T_return = T_amb + (T_supply − T_amb)·exp(−UA/C), with C the loop flow's heat-capacity rate.
The return temperature is what hygiene rules watch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tank.water import HEAT_CAPACITY_J_PER_L_K, lpm_to_w_per_k


@dataclass(frozen=True, slots=True)
class LoopState:
    return_c: float
    loss_w: float


@dataclass(frozen=True)
class RecirculationLoop:
    ua_w_per_k: float
    flow_lpm: float
    ambient_c: float = 20.0
    #: exp(−UA/C): the share of the supply's excess over ambient that comes back (constant flow).
    _kept: float = field(init=False, repr=False, compare=False)
    _c_w_per_k: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ua_w_per_k < 0 or self.flow_lpm < 0:
            raise ValueError("loop UA and flow cannot be negative")
        c = lpm_to_w_per_k(self.flow_lpm)
        object.__setattr__(self, "_c_w_per_k", c)
        object.__setattr__(self, "_kept", math.exp(-self.ua_w_per_k / c) if c > 0 else 1.0)

    @property
    def kept(self) -> float:
        """exp(−UA/C): the share of the supply's excess over ambient that comes back."""
        return self._kept

    @property
    def flow_l_per_s(self) -> float:
        return self.flow_lpm / 60.0

    def state(self, supply_c: float) -> LoopState:
        ret = self.return_c(supply_c)
        return LoopState(return_c=ret, loss_w=self._c_w_per_k * (supply_c - ret))

    def return_c(self, supply_c: float) -> float:
        """The return temperature alone (the simulator's hot path)."""
        return self.ambient_c + (supply_c - self.ambient_c) * self._kept

    @staticmethod
    def sized(loss_w: float, supply_c: float, drop_k: float, ambient_c: float = 20.0) -> RecirculationLoop:
        """A loop that loses `loss_w` with `drop_k` between supply and return at this supply."""
        if not 0 < drop_k < supply_c - ambient_c:
            raise ValueError("the temperature drop must be positive and below supply − ambient")
        c = loss_w / drop_k
        ua = c * math.log((supply_c - ambient_c) / (supply_c - drop_k - ambient_c))
        flow_lpm = c / HEAT_CAPACITY_J_PER_L_K * 60.0
        return RecirculationLoop(ua_w_per_k=ua, flow_lpm=flow_lpm, ambient_c=ambient_c)
