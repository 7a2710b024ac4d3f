"""Physics and firmware behaviour of one hydro miner, cheap enough to step every simulated minute.

Power follows the limit; hashrate = power / J/TH; a share of the power heats the coolant. The
firmware behaviour that matters for control is modelled as a small state machine:

* STARTING: after `wake()`, after a limit change on firmware that restarts, or when the inlet
  comes back into the window. Draws `starting_power_w`, no hashrate.
* THROTTLED: the inlet is between `throttle_start_c` and `inlet_max_c`; the firmware cuts power
  linearly from `max_power_w` (at the throttle start) to `min_power_w` (at the inlet maximum).
* STOPPED_HOT: the inlet is outside [`inlet_min_c`, `inlet_max_c`] (too hot, or too cold: the
  Bitmain firmware stops on both sides of its window). Draws `standby_power_w` and restarts,
  with the wake delay, once the inlet is `restart_hysteresis_k` back inside the window.
* SLEEPING: asleep on command; draws `standby_power_w`.

Timers are absolute times, so `output()` depends only on `now_s`, the inlet, and the commands
and inlet history seen before (the inlet guard latches until the inlet comes back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from miners.catalogue import MinerSpec
from tank.water import lpm_to_w_per_k


class MinerState(StrEnum):
    HASHING = "hashing"
    STARTING = "starting"
    SLEEPING = "sleeping"
    STOPPED_HOT = "stopped_hot"  # inlet outside the firmware's window, hot or cold side
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class MinerOutput:
    state: MinerState
    power_w: float
    hashrate_ths: float
    heat_to_coolant_w: float


class HydroMiner:
    """One miner of a given model; commands and queries take the current time in seconds."""

    def __init__(
        self, spec: MinerSpec, name: str, power_limit_w: float | None = None, now_s: float = 0.0
    ) -> None:
        self.spec = spec
        self.name = name
        self.power_limit_w = self._clamp(spec.nominal_power_w if power_limit_w is None else power_limit_w)
        self.sleeping = False
        self.limit_changes = 0
        # The miner is taken to be hashing already at construction.
        self._starting_until_s = now_s
        self._inlet_stopped = False
        self._last_now_s = now_s
        # Constants of the hot path, computed once.
        self._j_nominal = spec.nominal_power_w / spec.nominal_hashrate_ths
        self._throttle_slope_w_per_k = (
            (spec.max_power_w - spec.min_power_w) / (spec.inlet_max_c - spec.throttle_start_c)
            if spec.inlet_max_c > spec.throttle_start_c
            else 0.0
        )
        self._restart_low_c = spec.inlet_min_c + spec.restart_hysteresis_k
        self._restart_high_c = spec.inlet_max_c - spec.restart_hysteresis_k
        self._standby = MinerOutput(
            MinerState.STOPPED_HOT, spec.standby_power_w, 0.0, spec.standby_power_w * spec.heat_to_coolant
        )
        self._asleep = MinerOutput(
            MinerState.SLEEPING, spec.standby_power_w, 0.0, spec.standby_power_w * spec.heat_to_coolant
        )
        self._starting = MinerOutput(
            MinerState.STARTING, spec.starting_power_w, 0.0, spec.starting_power_w * spec.heat_to_coolant
        )

    def _clamp(self, power_w: float) -> float:
        if math.isnan(power_w):
            raise ValueError(f"{self.name}: power limit is NaN")
        return min(max(power_w, self.spec.min_power_w), self.spec.max_power_w)

    def set_power_limit(self, power_w: float, now_s: float) -> float:
        """Apply a limit, clamped to the model's range; returns the applied value.

        A change restarts hashing on firmware that does so; setting the same value again is not
        a change. An asleep miner stores the limit and uses it after waking.
        """
        applied = self._clamp(power_w)
        self._last_now_s = now_s
        if applied != self.power_limit_w:
            self.power_limit_w = applied
            self.limit_changes += 1
            if self.spec.restarts_on_limit_change and not self.sleeping and not self._inlet_stopped:
                self._starting_until_s = max(self._starting_until_s, now_s + self.spec.restart_delay_s)
        return applied

    def sleep(self, now_s: float) -> None:
        self._last_now_s = now_s
        self.sleeping = True

    def wake(self, now_s: float) -> None:
        self._last_now_s = now_s
        if self.sleeping:
            self.sleeping = False
            self._starting_until_s = now_s + self.spec.wake_delay_s

    def uptime_s(self, now_s: float) -> float:
        """Seconds since hashing last (re)started; 0 while not hashing."""
        if self.sleeping or self._inlet_stopped or now_s < self._starting_until_s:
            return 0.0
        return now_s - self._starting_until_s

    def output(self, now_s: float, coolant_in_c: float) -> MinerOutput:
        """State, power, hashrate and heat at time `now_s` with this coolant inlet."""
        self._last_now_s = now_s
        if self.sleeping:
            return self._asleep
        spec = self.spec
        if self._inlet_stopped:
            if not self._restart_low_c <= coolant_in_c <= self._restart_high_c:
                return self._standby
            self._inlet_stopped = False
            self._starting_until_s = now_s + spec.wake_delay_s
        elif coolant_in_c > spec.inlet_max_c or coolant_in_c < spec.inlet_min_c:
            self._inlet_stopped = True
            return self._standby
        if now_s < self._starting_until_s:
            return self._starting

        power_w = self.power_limit_w
        state = MinerState.HASHING
        hot_k = coolant_in_c - spec.throttle_start_c
        if hot_k > 0.0:
            cap_w = spec.max_power_w - self._throttle_slope_w_per_k * hot_k
            if cap_w < power_w:
                power_w = cap_w
                state = MinerState.THROTTLED
        # Inline of MinerSpec.j_per_th (kept equal by tests): this is the hot path.
        penalty_k = coolant_in_c - spec.efficiency_ref_inlet_c
        j_per_th = self._j_nominal * (power_w / spec.nominal_power_w) ** spec.underclock_exponent
        if penalty_k > 0.0:
            j_per_th *= 1.0 + spec.hot_penalty_per_k * penalty_k
        return MinerOutput(state, power_w, power_w / j_per_th, power_w * spec.heat_to_coolant)

    def coolant_out_c(
        self, coolant_in_c: float, flow_lpm: float | None = None, now_s: float | None = None
    ) -> float:
        """Outlet temperature: inlet + heat / (ṁ c_p).

        `flow_lpm` defaults to the model's nominal coolant flow, `now_s` to the time of the
        latest call on this miner. Zero or negative flow has no steady outlet and is refused.
        """
        flow = self.spec.coolant_flow_lpm if flow_lpm is None else flow_lpm
        if not flow > 0.0:
            raise ValueError(f"{self.name}: coolant flow must be positive, got {flow} L/min")
        out = self.output(self._last_now_s if now_s is None else now_s, coolant_in_c)
        return coolant_in_c + out.heat_to_coolant_w / lpm_to_w_per_k(flow)
