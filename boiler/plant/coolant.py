"""The miners' primary coolant loop and its plate exchanger to the tank's charging circuit.

The loop is one well-mixed volume at the miners' inlet temperature T. The miners add their heat
P (less a small loss to the room, taken at the step's start); the exchanger passes
Q = ε·C_min·(T + P/C_hot − T_tank) to the secondary side; a dry cooler may reject some. With Q
linear in T, the loop's balance C_loop·dT/dt = P − Q − Q_dump is a linear ODE, integrated exactly
over each step, so the scheme is stable for any step size and the heat handed to the tank is
exactly what the loop lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from boiler.plant._kernel import coolant_step
from tank.exchanger import PlateExchanger


@dataclass(frozen=True, slots=True)
class CoolantStep:
    inlet_c: float  # at the end of the step (the miners' inlet)
    exchanged_w: float  # mean heat to the secondary over the step
    dumped_w: float
    secondary_out_c: float  # water returned to the tank


@dataclass(slots=True)
class CoolantLoop:
    capacity_j_per_k: float
    exchanger: PlateExchanger
    #: A mixing valve bypasses the exchanger to keep the miners' inlet at least this warm.
    min_inlet_c: float
    inlet_c: float
    #: Pipes and miners lose a little heat to the plant room (matters when the miners idle).
    ua_w_per_k: float = 0.0
    ambient_c: float = 20.0
    _cache_key: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    _cache: tuple[float, float] = (0.0, 0.0)

    def exchange_factors(self, dt_s: float, c_hot_w_per_k: float, c_cold_w_per_k: float) -> tuple[float, float]:
        """(g = ε·C_min, exp(−g·dt/C)) for these flows and step; flows and step rarely change: cached."""
        key = (dt_s, c_hot_w_per_k, c_cold_w_per_k)
        if key != self._cache_key:
            if c_hot_w_per_k > 0 and c_cold_w_per_k > 0:
                g = self.exchanger.effectiveness(c_hot_w_per_k, c_cold_w_per_k) * min(c_hot_w_per_k, c_cold_w_per_k)
                self._cache = (g, math.exp(-g * dt_s / self.capacity_j_per_k))
            else:  # no exchange possible: the factors are never used
                self._cache = (0.0, 1.0)
            self._cache_key = key
        return self._cache

    def step(
        self,
        dt_s: float,
        miner_heat_w: float,
        c_hot_w_per_k: float,
        pump_on: bool,
        c_cold_w_per_k: float,
        tank_c: float,
        dump_w: float = 0.0,
    ) -> CoolantStep:
        """Advance one step (the compiled `coolant_step`, which the simulated plant's step runs too):
        dT/dt = (net − g·(T + P/C_hot − T_tank)) / C relaxes to T∞ with rate g/C while the pump runs
        and the inlet is at least `min_inlet_c`; otherwise the loop only gains its net heat."""
        g, decay = self.exchange_factors(dt_s, c_hot_w_per_k, c_cold_w_per_k)
        t1, exchanged, secondary_out_c = coolant_step(
            self.inlet_c, self.capacity_j_per_k, self.ua_w_per_k, self.ambient_c, self.min_inlet_c, g, decay,
            dt_s, miner_heat_w, c_hot_w_per_k, pump_on, c_cold_w_per_k, tank_c, dump_w,
        )
        self.inlet_c = t1
        return CoolantStep(inlet_c=t1, exchanged_w=exchanged, dumped_w=dump_w, secondary_out_c=secondary_out_c)
