"""Control strategies: plain objects with `decide(now_s, observation) -> Decision`. No I/O.

`rule` (the default) runs the miners as hard as the tank can absorb whenever their heat is
cheaper than gas (or mining pays on its own), holds the outlet with the gas boiler when the miners
cannot reach the setpoint, and avoids chattering. `thermostat` is the naive baseline of most hobby
controllers: miners full on below a threshold, off above; gas below a lower threshold.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

from boiler.config import ControlConfig
from boiler.control.plant_model import PlantModel
from boiler.control.types import Decision, Observation
from boiler.economics import GasPrice
from boiler.schedule import in_any

#: Miners that finish the water drawing at least this share of the fleet's full power refill the hot reserve.
_REFILL_SHARE = 0.5


class Strategy(Protocol):
    name: str

    def decide(self, now_s: float, obs: Observation) -> Decision: ...


def mining_revenue_eur_per_kwh(hashprice_net_eur_per_ph_day: float, j_per_th: float) -> float:
    """Revenue per kWh of electricity: hashprice per TH/s-hour × TH/s per kW."""
    if j_per_th <= 0:
        return 0.0
    return hashprice_net_eur_per_ph_day / 1000.0 / 24.0 * (1000.0 / j_per_th)


class RuleStrategy:
    name = "rule"

    def __init__(self, model: PlantModel, control: ControlConfig, gas: GasPrice, gas_efficiency: float,
                 gas_hysteresis_k: float) -> None:
        self.m = model
        self.c = control
        self.r = control.rule
        self.gas_heat_eur_per_kwh = gas.eur_per_kwh_pci() / gas_efficiency
        self.gas_hysteresis_k = gas_hysteresis_k
        self._target_w: float | None = None
        self._wake_since_s: float | None = None
        self._base_ema_c: float | None = None
        self._last_s = 0.0
        # Can the miners alone bring the water to the setpoint (with margin)?
        self.miners_reach_setpoint = model.miner_reach_c >= control.setpoint_c + self.r.gas_margin_k + 1.0

    def mode(self, obs: Observation) -> str:
        """'mine' when mining pays on its own, 'heat' when miner heat beats gas, else 'idle'."""
        revenue = mining_revenue_eur_per_kwh(obs.hashprice_eur_per_ph_day, self.m.nominal_j_per_th)
        price = obs.electricity_eur_per_kwh
        if revenue >= price:
            return "mine"
        if not self.m.has_gas:
            return "heat"  # the miners are the only heat source
        miner_heat = (price - revenue) / self.m.heat_fraction
        return "heat" if miner_heat < self.gas_heat_eur_per_kwh else "idle"

    def _smoothed_base_c(self, now_s: float, base_c: float) -> float:
        """The charged tank's base temperature, smoothed: single draws must not move the miners."""
        if self._base_ema_c is None or self.r.smoothing_s <= 0:
            self._base_ema_c = base_c
        else:
            a = 1.0 - math.exp(-max(now_s - self._last_s, 0.0) / self.r.smoothing_s)
            self._base_ema_c += a * (base_c - self._base_ema_c)
        self._last_s = now_s
        return self._base_ema_c

    def absorbable_w(self, now_s: float, obs: Observation, inlet_c: float | None = None) -> float:
        """Electrical power whose heat the charged tank can take with the miners' inlet kept below
        `inlet_c`, by default the temperature where they start throttling themselves less the margin
        (inlet ≈ base + heat / UA)."""
        base = obs.sensors_c.get(self.m.charge_bottom_sensor)
        if base is None:
            return 0.0
        base = self._smoothed_base_c(now_s, base)
        target_inlet = self.m.inlet_throttle_c - self.r.coolant_margin_k if inlet_c is None else inlet_c
        power = self.m.ua_w_per_k * (target_inlet - base) / self.m.heat_fraction
        if obs.coolant_in_c is not None and obs.coolant_in_c > self.m.inlet_throttle_c and (self._target_w or 0.0) > 0:
            # The miners already throttle: trim below the current target.
            excess_k = obs.coolant_in_c - self.m.inlet_throttle_c
            power = min(power, (self._target_w or 0.0) * max(0.0, 1.0 - 0.2 * excess_k))
        return max(0.0, min(power, self.m.fleet_max_w))

    def _hold_or_move(self, now_s: float, wanted_w: float) -> float:
        """Move the fleet target only on a clear change, so miners do not chatter.

        Reductions act once the tank can take clearly less than we run (and go a step further, so
        the next ones are not needed at once); increases wait for a bigger margin; waking the fleet
        needs headroom above the smallest miner's minimum.
        """
        r = self.r
        step = r.power_step_w
        current = self._target_w or 0.0
        if current <= 0.0:
            if wanted_w < min(self.m.fleet_min_w + r.wake_margin_w, self.m.fleet_max_w):
                self._wake_since_s = None
                return 0.0
            if self._wake_since_s is None:
                self._wake_since_s = now_s
            if now_s - self._wake_since_s < r.wake_after_s:
                return 0.0
            new = wanted_w
        elif wanted_w < current - r.down_hysteresis_w:
            new = wanted_w - r.down_hysteresis_w
        elif wanted_w > current + r.up_hysteresis_w:
            new = wanted_w
        else:
            return current
        new = math.floor(new / step) * step
        return new if new >= self.m.fleet_min_w else 0.0

    def decide(self, now_s: float, obs: Observation) -> Decision:
        if self._target_w is None:  # first tick: start from what the miners do now
            self._target_w = sum(r.limit_w for r in obs.miners if r.available and r.limit_w is not None)
        mode = self.mode(obs)
        if self.m.finish_target_c is not None and mode != "idle":
            return self._finish(now_s, obs, mode)
        reasons = [mode]
        dump = False
        wanted_w = 0.0
        if mode in ("mine", "heat") and self.m.fleet_max_w > 0:
            absorbable = self.absorbable_w(now_s, obs)
            if mode == "mine" and self.m.has_dry_cooler:
                wanted_w, dump = self.m.fleet_max_w, absorbable < self.m.fleet_max_w
            else:
                wanted_w = absorbable
        target_w = self._hold_or_move(now_s, wanted_w) if not dump else wanted_w
        self._target_w = target_w
        if mode in ("mine", "heat"):
            reasons.append("dump" if dump else "absorb" if target_w > 0 else "tank_full")

        gas_setpoint = self.c.setpoint_c + self.gas_hysteresis_k
        if self.miners_reach_setpoint and mode != "idle":
            gas_setpoint += 0.5  # backup only: fires when the zone nears the setpoint
            reasons.append("gas_backup")
        else:
            gas_setpoint += self.r.gas_margin_k
            reasons.append("gas_finish")
        if in_any(obs.local_minute, self.r.peak_hours):
            gas_setpoint += self.r.peak_boost_k
            reasons.append("peak")
        # A cold store below the gas zone (miners idle or outrun) sends colder water up into it during a
        # peak than the burner can lift at full power: keep the zone hotter, in proportion.
        base = obs.sensors_c.get(self.m.charge_bottom_sensor)
        if base is not None and self.r.cold_boost_k > 0:
            half = (self.c.setpoint_c + obs.cold_water_c) / 2.0
            share = (half - base) / max(half - obs.cold_water_c, 1.0)
            if share > 0:
                gas_setpoint += self.r.cold_boost_k * min(1.0, share)
                reasons.append("cold_store")
        # Hot water ready to serve: if the finishing tank holds less than the reserve at the
        # setpoint, let the gas catch up now rather than at the next draw.
        ready = self.m.estimate(self.m.finishing_tank, obs.sensors_c, obs.cold_water_c)
        if ready is not None and ready.usable_volume_l < self.r.reserve_volume_l:
            gas_setpoint += self.r.peak_boost_k
            reasons.append("reserve_low")
        return charging_decision(self.m, obs, target_w, gas_setpoint, dump, reasons)


    def _finish(self, now_s: float, obs: Observation, mode: str) -> Decision:
        """Miners that finish the water themselves (a controlled charging flow, `PlantModel.finish_target_c`):
        full power, the pump sending the water to the tank at the finishing target. Full power because the
        target needs the coolant's full rise: at part power the inlet would have to run hotter than the
        throttle point. By default (`finish_hold_full`) the fleet stays there and its firmware throttles it to
        what the store takes as the base warms (the safety layer leaves that band to the firmware): no limit
        change, and the miners keep reheating what the loop's return cools, night included. Otherwise it
        charges while the store can take it (its base cold enough for the miners' inlet: `absorbable_w`), then
        sleeps until draws have cooled the base again. Gas is the backup only: its aquastat fires when the
        water at its sensor falls below the setpoint (no cold-store boost: a cold base is the normal state of
        a store charged from the top down)."""
        m = self.m
        full_w = m.fleet_max_w
        # The store is full once its base is too warm for the miners' inlet even in their throttle band: the
        # loop's return (a few kelvin below the outlet) can only be reheated by coolant above it.
        absorbable_w = self.absorbable_w(now_s, obs, m.inlet_max_c - self.r.finish_inlet_margin_k)
        room = absorbable_w >= full_w * self.r.finish_absorb_share
        ready = m.estimate(m.finishing_tank, obs.sensors_c, obs.cold_water_c)
        if self.r.finish_hold_full:  # the firmware throttles the fleet to what the store takes (docs/control.md §3)
            wanted_w = full_w
        else:
            # Charging runs until the store is full (its base too warm for the miners' inlet); it starts again
            # only once draws have cooled the base well below that, or the hot water has run low: few, long
            # charges keep the miners within their daily change budget.
            # The base (smoothed, as `absorbable_w` read it) at which the store counts as full, and well below.
            full_base_c = m.inlet_max_c - self.r.finish_inlet_margin_k - full_w * m.heat_fraction / m.ua_w_per_k
            cooled = self._base_ema_c is not None and self._base_ema_c <= full_base_c - self.r.finish_wake_k
            low = ready is None or ready.usable_volume_l < self.r.finish_wake_share * m.tank_volumes_l[m.finishing_tank]
            charging = (self._target_w or 0.0) > 0
            wanted_w = full_w if room and (charging or low or cooled) else 0.0
        target_w = self._hold_or_move(now_s, wanted_w)
        self._target_w = target_w
        reasons = [mode, "finish" if target_w > 0 else "tank_full" if not room else "hot_enough"]
        gas_setpoint = self.c.setpoint_c + self.gas_hysteresis_k + self.r.finish_gas_margin_k
        if in_any(obs.local_minute, self.r.peak_hours):
            gas_setpoint += self.r.peak_boost_k
            reasons.append("peak")
        if ready is not None and ready.usable_volume_l < self.r.reserve_volume_l:
            # A fleet finishing the water at half its full power or more refills the reserve from the top as it
            # runs (~400 L/h on residence-48-hot); the boost is for a fleet that does not (asleep, stopped by
            # its firmware, unavailable). The backup aquastat fires below the setpoint either way.
            if obs.running_w >= _REFILL_SHARE * full_w:
                reasons.append("reserve_refilling")
            else:
                gas_setpoint += self.r.peak_boost_k
                reasons.append("reserve_low")
        d = charging_decision(m, obs, target_w, gas_setpoint, False, reasons)
        return replace(d, charge_target_c=m.finish_target_c)


def charging_decision(model: PlantModel, obs: Observation, target_w: float, gas_setpoint_c: float, dump: bool,
                      reasons: list[str]) -> Decision:
    """A decision of the charging strategies (rule, mpc): the charging pump runs while any miner still
    hashes (its heat must go somewhere, even as it winds down); gas stays enabled on its aquastat."""
    running = any(r.limit_w is not None and r.power_w > 100.0 for r in obs.miners)
    return Decision(
        miner_power_w=target_w,
        charge_pump=target_w > 0 or running,
        gas_enable=model.has_gas,
        gas_setpoint_c=gas_setpoint_c,
        dump_heat=dump,
        reason=":".join(reasons),
    )


class ThermostatStrategy:
    name = "thermostat"

    def __init__(self, model: PlantModel, control: ControlConfig, charge_tank: str) -> None:
        self.m = model
        self.t = control.thermostat
        self.key = f"{charge_tank}.{self.t.sensor}"
        self._miners_on = False
        self._gas_on = False

    def decide(self, now_s: float, obs: Observation) -> Decision:
        t = obs.sensors_c.get(self.key)
        top = obs.outlet_c
        if t is not None:
            if t < self.t.miners_on_below_c:
                self._miners_on = True
            elif t > self.t.miners_off_above_c:
                self._miners_on = False
        if top is not None:
            if top < self.t.gas_on_below_c:
                self._gas_on = True
            elif top > self.t.gas_off_above_c:
                self._gas_on = False
        gas = self._gas_on and self.m.has_gas
        return Decision(
            miner_power_w=self.m.fleet_max_w if self._miners_on else 0.0,
            charge_pump=self._miners_on,
            gas_enable=gas,
            gas_setpoint_c=self.t.gas_off_above_c,
            reason=f"miners_{'on' if self._miners_on else 'off'}:gas_{'on' if gas else 'off'}",
        )
