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
        t0 = self.inlet_c
        cap = self.capacity_j_per_k
        net_w = miner_heat_w - dump_w - self.ua_w_per_k * (t0 - self.ambient_c)
        exchanging = pump_on and c_cold_w_per_k > 0 and c_hot_w_per_k > 0 and t0 >= self.min_inlet_c
        if not exchanging:
            t1 = t0 + net_w * dt_s / cap
            self.inlet_c = t1
            return CoolantStep(inlet_c=t1, exchanged_w=0.0, dumped_w=dump_w, secondary_out_c=tank_c)
        key = (dt_s, c_hot_w_per_k, c_cold_w_per_k)
        if key != self._cache_key:  # flows and step rarely change: keep ε·C_min and the decay
            g = self.exchanger.effectiveness(c_hot_w_per_k, c_cold_w_per_k) * min(c_hot_w_per_k, c_cold_w_per_k)
            self._cache = (g, math.exp(-g * dt_s / cap))
            self._cache_key = key
        g, decay = self._cache
        # dT/dt = (net − g·(T + P/C_hot − T_tank)) / C  →  relaxes to T∞ with rate g/C.
        t_inf = tank_c - miner_heat_w / c_hot_w_per_k + net_w / g
        t1 = t_inf + (t0 - t_inf) * decay
        if t1 < self.min_inlet_c:
            t1 = self.min_inlet_c
        exchanged = net_w - cap * (t1 - t0) / dt_s
        self.inlet_c = t1
        return CoolantStep(
            inlet_c=t1,
            exchanged_w=exchanged,
            dumped_w=dump_w,
            secondary_out_c=tank_c + exchanged / c_cold_w_per_k,
        )
