"""`mpc`: receding-horizon control on forecasts the controller could really have.

Every `replan_s` it solves the two-layer store LP (lp_store) over the next `horizon_h`: the tariff
schedule, the hashprice of the moment, the store's state estimated from its sensors and a draw
forecast learned from the plant's own heat-meter history (raised by a safety margin). It never
sees the simulator's future. Between replans it follows the plan's slot of the moment.

What the plan sets: the fleet's power (a flat power at the miners' most economic efficiency rather
than full power then curtailment), whether to run the dry cooler, and whether mining pays at all.
The gas boiler keeps its own aquastat; the strategy sets its setpoint a small margin above the
outlet setpoint, raised before the draws the forecast expects to be large. The rule strategy runs
alongside as a shadow: its physics caps what the store can absorb now, and its decision is used
whenever there is no plan (while the forecast learns its first day, or when the solver fails or
runs out of time; both are logged as key=value lines).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from boiler.config import MpcConfig, PlantConfig
from boiler.control.forecast import MINUTES_PER_DAY, DrawForecast
from boiler.control.lp_highs import PersistentHighs
from boiler.control.lp_store import MinerLp, StoreLp, StorePlan
from boiler.control.outlet_trim import OutletTrim
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import RuleStrategy, charging_decision
from boiler.control.types import Decision, Observation
from miners.allocation import wake_order_key
from tank.loop import RecirculationLoop
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH, litres_to_j_per_k

log = logging.getLogger(__name__)

Solver = Callable[[StoreLp, float | None], StorePlan]

#: Tangent points of each miner's hashrate curve in the plan.
_HULL_POINTS = 6
#: Hottest water anywhere the plan allows (above it the safety layer stops charging).
_STORE_MAX_C = 80.0
#: Without a gas boiler: what each kWh the store's mean is short of the setpoint costs the plan per hour.
_SHORT_EUR_PER_KWH_H = 1.0
#: Gas heat in the plan under `gas_backup_only`: dearer than any miner heat, so gas covers only a shortfall.
_BACKUP_GAS_EUR_PER_KWH = 1.0


def _profile(model: PlantModel, tank: str, sensors_c: Mapping[str, float | None],
             heights: np.ndarray) -> np.ndarray | None:
    """A tank's temperature at these height fractions: linear between its readable sensors, flat
    beyond the outermost ones (as `tank.estimate`). None if no sensor is readable."""
    pts = sorted((h, t) for k, h in model.tank_sensors[tank] if (t := sensors_c.get(k)) is not None)
    if not pts:
        return None
    return np.interp(heights, [p[0] for p in pts], [p[1] for p in pts])


@dataclass(frozen=True)
class _TankCells:
    """One tank cut into equal cells for `store_state_kwh`: which cells are pre-heat and which the gas zone."""

    name: str
    cell_kwh_per_k: float
    pre: np.ndarray  # indices of the pre-heat cells
    zone: np.ndarray  # indices of the gas zone's cells (none outside the zone's tank)


@lru_cache(maxsize=16)
def _cells(volumes_l: tuple[tuple[str, float], ...], zone_tank: str, zone: tuple[float, float],
           samples: int) -> tuple[np.ndarray, tuple[_TankCells, ...]]:
    """The cells' mid-heights and every tank's cells, once per plant (the sensors change, not these)."""
    heights = (np.arange(samples) + 0.5) / samples
    tanks = []
    for tank, volume_l in volumes_l:
        in_zone = (heights >= zone[0]) & (heights <= zone[1]) if tank == zone_tank else np.zeros(samples, bool)
        cell = litres_to_j_per_k(volume_l) / J_PER_KWH / samples
        tanks.append(_TankCells(tank, cell, np.flatnonzero(~in_zone), np.flatnonzero(in_zone)))
    return heights, tuple(tanks)


def store_state_kwh(model: PlantModel, sensors_c: Mapping[str, float | None], zone_tank: str,
                    zone: tuple[float, float], hold_c: float, samples: int = 48) -> tuple[float, float] | None:
    """(pre-heat energy above 0 °C, the gas zone's heat above `hold_c`) from the sensors.

    The pre-heat part is every tank except the gas zone (height fractions `zone` of `zone_tank`).
    """
    e_pre = e_zone = 0.0
    heights, tanks = _cells(tuple(model.tank_volumes_l.items()), zone_tank, tuple(zone), samples)
    for t in tanks:
        temps = _profile(model, t.name, sensors_c, heights)
        if temps is None:
            return None
        e_pre += t.cell_kwh_per_k * float(temps[t.pre].sum())
        e_zone += t.cell_kwh_per_k * float(np.maximum(temps[t.zone] - hold_c, 0.0).sum())
    return e_pre, e_zone


class MpcStrategy:
    name = "mpc"

    def __init__(self, cfg: PlantConfig, model: PlantModel, rule: RuleStrategy,
                 solver: Solver | None = None) -> None:
        self.cfg = cfg
        self.m = model
        self.c: MpcConfig = cfg.control.mpc
        self.rule = rule
        # One persistent HiGHS model per strategy: each replan changes it in place and warm starts.
        self.solver: Solver = solver if solver is not None else PersistentHighs()
        steps = max(1, round(self.c.replan_s / 60.0))
        bin_min = next(b for b in (15, 10, 5, 1) if steps % b == 0 or b == 1)
        self.forecast = DrawForecast(bin_minutes=bin_min, weeks=max(1, self.c.forecast_days // 7))
        self._plan: StorePlan | None = None
        self._plan_edges_s: np.ndarray = np.zeros(0)  # absolute slot edges of the plan
        self._fleet_of: StorePlan | None = None  # the plan `_fleet_kw` was summed from
        self._fleet_kw = np.zeros(0)
        self._next_replan_s = -math.inf
        self._target_w = 0.0
        self._peak_key: tuple[int, int] | None = None
        self._peak = False
        self.solves = 0
        self.fallbacks = 0  # replans that found no plan (solver failure or time-out)
        # The tariff by minute of the day, and mean prices of slots by (local start minute, minutes).
        self._tariff: object | None = None
        self._minute_price = np.zeros(MINUTES_PER_DAY)
        self._slot_price: dict[tuple[float, float], float] = {}
        # Fixed figures of the plant, once.
        g = cfg.gas_boiler
        self.gas_heat_eur_per_kwh = cfg.prices.gas.eur_per_kwh_pci() / g.efficiency_pci if g else 0.0
        self.gas_hysteresis_k = g.hysteresis_k if g else 2.0
        # The hottest water the miners deliver in practice (full power, inlet below throttling).
        self.theta_c = model.miner_reach_c if model.fleet_max_w > 0 else cfg.control.setpoint_c
        inlet_typ = model.inlet_throttle_c - 4.0
        # The plan's miners: efficiency at a typical charging inlet (with its hot penalty).
        self.miners = tuple(MinerLp.hull(name, spec, inlet_typ, _HULL_POINTS)
                            for name, spec in model.miner_specs.items())
        # Two compartments: the gas coil's zone, held at the outlet target by the boiler's aquastat, and
        # the pre-heat volume below it (and in any upstream tank), which the miners charge.
        total_l = sum(model.tank_volumes_l.values())
        gas_tank = cfg.gas_tank if cfg.gas_boiler is not None else cfg.finishing_tank
        coil = gas_tank.gas_coil if cfg.gas_boiler is not None else None  # no boiler: no zone it holds
        self.zone_tank = gas_tank.name
        self.zone = (coil.bottom, coil.top) if coil else (1.0, 1.0)
        zone_l = gas_tank.volume_l * (self.zone[1] - self.zone[0])
        self.pre_cap_kwh_per_k = litres_to_j_per_k(total_l - zone_l) / J_PER_KWH
        ua_w = sum(t.ua_w_per_k for t in cfg.tanks)
        self.pre_ua_kw_per_k = ua_w * (total_l - zone_l) / total_l / 1000.0
        self.zone_ua_kw_per_k = ua_w * zone_l / total_l / 1000.0
        self.zone_cap_kwh_per_k = litres_to_j_per_k(zone_l) / J_PER_KWH
        # A gas zone that is a whole tank of its own (coil from its base), downstream of a pre-heat tank: a
        # peak pushes the pre-heat tank's top water in at the coil, which heats it as it arrives. No cold front
        # rises under the zone's sensor for a flat peak boost to race; how cold that water is, the cold boost
        # weighs (docs/control.md §3).
        tank_names = list(model.tank_volumes_l)
        self.zone_fed_by_preheat = self.zone[0] <= 0.0 and tank_names.index(self.zone_tank) > 0
        lc = cfg.loop
        amb = cfg.site.plant_room_c
        self.loop = (RecirculationLoop.sized(lc.loss_w, lc.design_supply_c, lc.drop_k,
                                             lc.ambient_c if lc.ambient_c is not None else amb)
                     if lc is not None and lc.loss_w > 0 else None)
        self.coolant_cap_kwh_per_k = litres_to_j_per_k(cfg.coolant.loop_volume_l) / J_PER_KWH
        # Each miner's minimum in the order the allocator wakes them (most efficient first).
        self._wake_order_min_w = [spec.min_power_w for _, spec in sorted(
            model.miner_specs.items(), key=lambda kv: wake_order_key(*kv))]
        self.finishing = model.finish_target_c is not None
        # Miners that finish the water where no gas may (`gas_backup_only`) or can (no boiler) finish it
        # instead: a running fleet holds full power and its firmware throttles, as the rule's finishing law
        # (part power cannot finish the water: the target needs the coolant's full rise). With no boiler at
        # all they also charge at the hottest target the fleet holds, the rule's, not the site's default: the
        # store's top alone carries the peaks (residence-48-hot without its burner, winter week: 987 → 343 L
        # below 60 °C; with a burner under the policy the hotter target drew 43 L, the default none).
        self.hold_full = self.finishing and (self.c.gas_backup_only or cfg.gas_boiler is None)
        self.charge_target_c = model.finish_target_c if self.finishing and cfg.gas_boiler is None else None
        self.trim = OutletTrim(cfg.control.setpoint_c, guard_k=self.c.outlet_trim_guard_k,
                               max_k=self.c.outlet_trim_max_k, alarm_k=self.c.outlet_trim_alarm_k)
        self.ambient_c = amb

    @property
    def outlet_target_c(self) -> float:
        return self.c_setpoint + self.c.outlet_margin_k

    @property
    def c_setpoint(self) -> float:
        return self.cfg.control.setpoint_c

    # -- the draws ahead ----------------------------------------------------------------------
    def forecast_ready(self) -> bool:
        """Has the forecast seen `learn_h` of history? Until then the rule strategy decides. Bins without
        history yet fall back to the mean rate so far, so a young forecast plans on a flat draw profile —
        still cheaper than the rule strategy (benchmarks/strategies.md)."""
        return self.forecast.samples * self.forecast.bin_minutes >= self.c.learn_h * 60.0

    def expected_draw_kwh(self, now_s: float, obs: Observation, ahead_s: float, span_s: float) -> float:
        """Draw heat expected from `ahead_s` after now over `span_s`, from the learned forecast."""
        offset = ahead_s / 60.0 + obs.local_minute
        weekday = (obs.local_weekday + int(offset // MINUTES_PER_DAY)) % 7
        return self.forecast.expected_kwh(weekday, offset % MINUTES_PER_DAY, span_s / 60.0)

    def expected_draws_kwh(self, now_s: float, obs: Observation, ahead_s: np.ndarray,
                           span_s: np.ndarray) -> np.ndarray:
        """`expected_draw_kwh` of every window at once (a plan's slots), with the same arithmetic."""
        if type(self).expected_draw_kwh is not MpcStrategy.expected_draw_kwh:  # a subclass's own draws (oracle)
            return np.array([self.expected_draw_kwh(now_s, obs, a, s) for a, s in zip(ahead_s, span_s, strict=True)])
        offset = ahead_s / 60.0 + obs.local_minute
        weekday = (obs.local_weekday + (offset // MINUTES_PER_DAY).astype(int)) % 7
        return self.forecast.expected_kwh_many(weekday, offset % MINUTES_PER_DAY, span_s / 60.0)

    # -- the plan ---------------------------------------------------------------------------
    def _slot_prices_eur_per_kwh(self, local_minute: np.ndarray, span_min: np.ndarray) -> np.ndarray:
        """Each slot's mean electricity price, sampled every 5 minutes from its local start minute.

        The tariff depends on the minute of the day only: a slot starting on a whole minute has the price
        of every slot of its length starting at that minute of the day, computed once (a year of hourly
        replans asks for 8,760 × 36 slots and finds 1,440 × a few)."""
        tariff = self.cfg.prices.electricity
        if tariff is not self._tariff:
            self._tariff = tariff
            self._minute_price = np.array([tariff.price(mm) for mm in range(MINUTES_PER_DAY)])
            self._slot_price.clear()
        out = np.empty(local_minute.size)
        for i, (start, span) in enumerate(zip(local_minute.tolist(), span_min.tolist(), strict=True)):
            key = (start % MINUTES_PER_DAY, span) if start.is_integer() else None
            price = self._slot_price.get(key) if key is not None else None
            if price is None:
                minutes = start + np.arange(0.0, span, 5.0)
                price = float(np.mean(self._minute_price[minutes.astype(int) % MINUTES_PER_DAY]))
                if key is not None:
                    self._slot_price[key] = price
            out[i] = price
        return out

    def _edges_s(self, now_s: float, local_minute: int) -> np.ndarray:
        """Slot edges from now: `fine_slots` replan periods, then `slot_s` slots aligned to the local
        clock (tariffs change on the hour), up to the horizon."""
        c = self.c
        edges = [now_s + i * c.replan_s for i in range(c.fine_slots + 1)]
        end = now_s + c.horizon_h * 3600.0
        # Align the coarse slots to whole multiples of slot_s in local time.
        local_s = local_minute * 60.0 + (edges[-1] - now_s)
        t = edges[-1] + (c.slot_s - local_s % c.slot_s) % c.slot_s
        if t - edges[-1] > 1.0:
            edges.append(t)
        while edges[-1] < end - 1.0:
            edges.append(edges[-1] + c.slot_s)
        return np.asarray(edges)

    def problem(self, now_s: float, obs: Observation, absorbable_w: float) -> StoreLp | None:
        """The horizon LP from now: forecasts, tariff schedule, hashprice now, state from sensors."""
        out_c = self.outlet_target_c
        state = store_state_kwh(self.m, obs.sensors_c, self.zone_tank, self.zone, out_c)
        if state is None:
            return None
        e_pre, e_zone = state
        edges = self._edges_s(now_s, obs.local_minute)
        starts, ends = edges[:-1], edges[1:]
        hours = (ends - starts) / 3600.0
        n = starts.size
        ahead_s, span_s = starts - now_s, ends - starts
        price = self._slot_prices_eur_per_kwh(ahead_s / 60.0 + obs.local_minute, span_s / 60.0)
        draws = self.expected_draws_kwh(now_s, obs, ahead_s, span_s)
        draws *= 1.0 + self.c.draw_margin
        cold = obs.cold_water_c
        c_pre = self.pre_cap_kwh_per_k
        # Drawn water leaves the zone at the outlet target; as much water rises from the pre-heat
        # volume (mixed, at E/C) into the zone, where gas lifts it, and cold water enters below.
        drawn_kwh_per_k = draws / max(out_c - cold, 1.0)
        zone_loss_kw = self.zone_ua_kw_per_k * (out_c - self.ambient_c)
        loop_kw = (self.loop.state(out_c).loss_w / 1000.0 if self.loop is not None else 0.0) + zone_loss_kw
        rev = obs.hashprice_eur_per_ph_day / 1000.0 / 24.0
        co2 = self.c.co2_eur_per_kg
        g = self.cfg.gas_boiler
        dc = self.cfg.dry_cooler
        coolant_c = obs.coolant_in_c if obs.coolant_in_c is not None else self.ambient_c
        floor = min(self.ambient_c, cold, coolant_c)
        standby_kw = sum(mn.min_kw for mn in self.miners)
        fleet_hi = np.full(n, np.inf)
        if dc is None:  # the store must take all the heat: no more than it absorbs now
            fleet_hi[0] = max(absorbable_w / 1000.0, standby_kw)
        # The exchanger passes UA·(limit − base); the base sits some kelvin below the pre-heat mean.
        t_lim = self.m.inlet_throttle_c - self.cfg.control.rule.coolant_margin_k + self.c.stratification_k
        ua_kw = self.m.ua_w_per_k / 1000.0
        # Heat left at the horizon is worth what it would cost to make it then (a little less, so the
        # plan does not hoard): pre-heat at the cheaper of gas and the miners, zone heat at gas.
        miner_heat = (max(price[-1] - rev * 1000.0 / self.m.nominal_j_per_th, 0.0) / self.m.heat_fraction
                      if self.m.fleet_max_w > 0 else math.inf)
        v_low = 0.9 * min(self.gas_heat_eur_per_kwh if g else math.inf, miner_heat)
        v_high = 0.9 * self.gas_heat_eur_per_kwh if g else v_low
        # The pre-heat mean stays below the exchanger's limit: above it the plan could only pass heat back
        # into the coolant (a negative `qm`), which overfills the coolant loop and leaves no plan at all.
        top_c = max(min(self.theta_c, t_lim), cold + 1.0)
        # Without a gas boiler nothing lifts the drawn water: the draws and the loop come out of the store,
        # which should stay hot enough to draw from (a soft floor: when the miners cannot keep up the plan
        # still exists, it runs them as hard as the store takes).
        no_gas = g is None
        el_min = -np.inf if no_gas else c_pre * min(cold, top_c)
        return StoreLp(
            hours=hours,
            price_eur_per_kwh=price,
            revenue_eur_per_ths_h=np.full(n, rev),
            gas_eur_per_kwh_heat=(max(self.gas_heat_eur_per_kwh, _BACKUP_GAS_EUR_PER_KWH) if self.c.gas_backup_only
                                  else self.gas_heat_eur_per_kwh),
            co2_eur_per_kwh_elec=co2 * self.cfg.co2.grid_kg_per_kwh,
            co2_eur_per_kwh_heat_gas=co2 * self.cfg.co2.gas_kg_per_kwh_pci / g.efficiency_pci if g else 0.0,
            miners=self.miners,
            gas_max_kw=g.output_kw if g else 0.0,
            dump_max_kw=dc.capacity_kw if dc else 0.0,
            dhw_lo_kwh=draws,
            dhw_hi_kwh=draws,
            draw_high_share=np.zeros(n),
            loop_lo_kwh=loop_kw * hours,
            loop_hi_kwh=loop_kw * hours,
            loop_high_lo_kwh=np.zeros(n) if no_gas else loop_kw * hours,
            loop_low_lo_kwh=np.zeros(n),
            loss_rate=self.pre_ua_kw_per_k * hours / c_pre,
            loss_slack_kwh=np.full(n, c_pre * self.ambient_c),
            loss_offset_kwh=np.zeros(n),
            loss_lo_kwh=np.full(n, -np.inf),
            loss_hi_kwh=np.full(n, np.inf),
            el_min_kwh=el_min,
            el_max_kwh=c_pre * top_c,
            eh_max_kwh=self.zone_cap_kwh_per_k * max(_STORE_MAX_C - out_c, 0.0),
            eh_reserve_kwh=np.zeros(n),
            el0_kwh=min(max(e_pre, c_pre * min(cold, top_c)), c_pre * top_c),
            eh0_kwh=min(e_zone, self.zone_cap_kwh_per_k * max(_STORE_MAX_C - out_c, 0.0)),
            coolant_max_kwh=self.coolant_cap_kwh_per_k * max(self.m.inlet_max_c + 10.0 - floor, 1.0),
            coolant0_kwh=self.coolant_cap_kwh_per_k * (min(coolant_c, self.m.inlet_max_c + 10.0) - floor),
            coolant_loss_lo_kw=0.0,
            coolant_loss_hi_kw=0.0,
            fleet_hi_kw=fleet_hi,
            draw_low_coef=None if no_gas else drawn_kwh_per_k / c_pre,
            draw_low_offset_kwh=None if no_gas else drawn_kwh_per_k * cold,
            absorb_kw=np.full(n, ua_kw * t_lim),
            absorb_kw_per_kwh=ua_kw / c_pre,
            terminal_eur_per_kwh_low=v_low,
            terminal_eur_per_kwh_high=v_high,
            el_soft_min_kwh=np.full(n, c_pre * self.c_setpoint) if no_gas else None,
            el_soft_eur_per_kwh_h=_SHORT_EUR_PER_KWH_H,
            change_eur_per_kw=self.c.change_eur_per_kw,
            fleet_now_kw=self._target_w / 1000.0,
        )

    def _replan(self, now_s: float, obs: Observation, absorbable_w: float) -> None:
        self._next_replan_s = now_s + self.c.replan_s
        lp = self.problem(now_s, obs, absorbable_w)
        if lp is None:
            self._drop_plan(now_s, "no_state")
            return
        self.solves += 1
        plan = self.solver(lp, self.c.time_limit_s)
        if not plan.ok:
            self._drop_plan(now_s, plan.status)
            return
        if plan.solve_s > self.c.time_limit_s:
            self._drop_plan(now_s, "time_limit")
            return
        self._plan = plan
        self._plan_edges_s = np.cumsum(np.concatenate([[now_s], lp.hours * 3600.0]))

    def _drop_plan(self, now_s: float, why: str) -> None:
        self.fallbacks += 1
        self._plan = None
        log.warning("event=mpc_fallback to=rule reason=%s now_s=%.0f", why, now_s)

    def _planned(self, now_s: float) -> tuple[float, bool] | None:
        """The plan's fleet power (W) and dry-cooler use for the slot holding `now_s`; with `smooth_h`, the
        plan's mean fleet power over that many hours from now (a steady power the miners can hold)."""
        plan = self._plan
        if plan is None:
            return None
        edges = self._plan_edges_s
        i = int(np.searchsorted(edges, now_s, side="right")) - 1
        if i < 0 or i >= plan.gas_kw.size:
            return None
        if self._fleet_of is not plan:  # the plan's fleet power, once per plan rather than every tick
            self._fleet_of, self._fleet_kw = plan, plan.miner_kw.sum(axis=0)
        fleet_kw = self._fleet_kw
        power_kw = float(fleet_kw[i])
        if self.c.smooth_h > 0:
            lo = np.maximum(edges[:-1], now_s)
            hi = np.minimum(edges[1:], now_s + self.c.smooth_h * 3600.0)
            span = np.maximum(hi - lo, 0.0)
            power_kw = float((fleet_kw * span).sum() / span.sum())
        return power_kw * 1000.0, bool(plan.dump_kw[i] > 0.05)

    # -- the decision -----------------------------------------------------------------------
    def decide(self, now_s: float, obs: Observation) -> Decision:
        if obs.dhw_heat_meter_kwh is not None:
            self.forecast.record(obs.local_weekday, obs.local_minute, obs.dhw_heat_meter_kwh)
        shadow = self.rule.decide(now_s, obs)  # keeps the rule warm; the fallback decision
        # Local day number (local midnights are whole days apart, give or take a DST hour).
        trim_was_k = self.trim.trim_k
        self.trim.observe(round((now_s - 60.0 * obs.local_minute) / 86_400.0), obs.outlet_c)
        if self.trim.trim_k != trim_was_k:
            log.info("event=outlet_trim trim_k=%.1f was_k=%.1f now_s=%.0f", self.trim.trim_k, trim_was_k, now_s)
        absorbable = self.rule.absorbable_w(now_s, obs) if self.m.fleet_max_w > 0 else 0.0
        if not self.c.absorb_cap:  # the miners' own inlet throttle (and the safety layer) limit them instead
            absorbable = self.m.fleet_max_w
        if not self.forecast_ready():
            return _tagged(shadow, "learning")
        if now_s >= self._next_replan_s:
            self._replan(now_s, obs, absorbable)
        planned = self._planned(now_s)
        if planned is None:
            return _tagged(shadow, "fallback")
        power_w, dump = planned
        # With a dry cooler, heat the store cannot take is dumped rather than the miners curtailed:
        # holding the planned power spares the restarts a moving target would cost.
        dump = self.m.has_dry_cooler and (dump or power_w > absorbable + self.c.change_min_w)
        target = self._fleet_target(power_w, absorbable, dump)
        reasons = ["mpc", "dump" if dump else "absorb" if target > 0 else "miners_off"]
        gas_sp = self.c_setpoint + self.gas_hysteresis_k
        if self.c.sized_boost:
            gas_sp += self.c.gas_margin_k + self.trim.trim_k
            boost = self._sized_boost_k(now_s, obs)
            if boost > 0.05:
                gas_sp += boost
                reasons.append("peak")
            return self._commands(obs, target, gas_sp, dump, reasons)
        peak = self._peak_ahead(now_s, obs)
        cover = math.nan if peak else self._reserve_cover(now_s, obs)  # read once a tick: estimate and forecast
        short = cover < 1.0
        ample = not (peak or short) and self._reserve_ample(obs, cover)
        gas_sp += self._gas_margin_k(obs, mining=target > 0, peak=peak or short, ample=ample)
        if short or (peak and not self.zone_fed_by_preheat):
            gas_sp += self.c.peak_boost_k
        if peak or short:
            reasons.append("peak" if peak else "reserve_low")
        elif ample:
            reasons.append("reserve_ample")
        return self._commands(obs, target, gas_sp, dump, reasons)

    def _commands(self, obs: Observation, target_w: float, gas_setpoint_c: float, dump: bool,
                  reasons: list[str]) -> Decision:
        d = charging_decision(self.m, obs, target_w, gas_setpoint_c, dump, reasons)
        return d if self.charge_target_c is None else replace(d, charge_target_c=self.charge_target_c)

    def _fleet_target(self, power_w: float, absorbable_w: float, dump: bool) -> float:
        """The plan's power as a fleet target the miners can hold: at least the smallest minimum or
        nothing, within what the store absorbs now (unless dumping), changed only on a clear move."""
        m = self.m
        step = self.cfg.control.rule.power_step_w
        if not dump:
            power_w = min(power_w, absorbable_w)
        if power_w < 0.5 * m.fleet_min_w:
            wanted = 0.0
        elif self.hold_full:  # part power cannot finish the water, and no gas may (__init__)
            wanted = m.fleet_max_w
        else:
            wanted = self._snap_to_more_miners(max(power_w, m.fleet_min_w))
            wanted = min(math.floor(wanted / step) * step, m.fleet_max_w)
            wanted = max(wanted, m.fleet_min_w)
        current = self._target_w
        if current > 0 and wanted > 0 and abs(wanted - current) < self.c.change_min_w:
            wanted = current
        self._target_w = wanted
        return wanted

    def _snap_to_more_miners(self, power_w: float) -> float:
        """A fleet power just short of what one more miner needs at its minimum is raised to it.

        The allocator wakes miners while their minimums fit (most efficient first): 4.75 kW on two S21 Hyd
        (2.5 kW minimum each) runs one of them near full power, where its J/TH is worst and its coolant
        hottest; 5 kW runs both at their minimum. The plan's hull cannot see that (it mixes states over a
        slot), so a power within `snap_share` of the next miner count takes that count."""
        need_w = 0.0
        for min_w in self._wake_order_min_w:
            need_w += min_w
            if power_w < need_w:
                return need_w if power_w >= self.c.snap_share * need_w else power_w
        return power_w

    def _sized_boost_k(self, now_s: float, obs: Observation) -> float:
        """The gas zone's extra temperature the next hour's largest forecast draw needs: the water rising into
        the zone needs lifting from the pre-heat mean to the outlet; what the burner cannot lift over the
        draw (each forecast bin taken as falling within 10 minutes, the design peak, the burner perhaps in its
        minimum off time for the first minutes) the zone must hold in advance. At most `peak_boost_k + cold_boost_k`."""
        g = self.cfg.gas_boiler
        cap = self.zone_cap_kwh_per_k
        if g is None or cap <= 0:
            return 0.0
        out_c, cold = self.outlet_target_c, obs.cold_water_c
        state = store_state_kwh(self.m, obs.sensors_c, self.zone_tank, self.zone, out_c)
        t_pre = state[0] / self.pre_cap_kwh_per_k if state is not None else cold
        lift = min(1.0, max(0.0, (out_c - t_pre) / max(out_c - cold, 1.0)))
        bin_s = self.forecast.bin_minutes * 60.0
        worst_kwh = max(self.expected_draw_kwh(now_s, obs, k * bin_s, bin_s)
                        for k in range(max(1, round(3600.0 / bin_s)))) * (1.0 + self.c.draw_margin)
        # The burner may sit in its minimum off time when the draw starts: it lifts only for the rest.
        burner_kwh = g.output_kw * max(min(bin_s, 600.0) - g.min_off_s, 0.0) / 3600.0
        need_k = (worst_kwh * lift - burner_kwh) / cap
        return min(max(need_k, 0.0), self.c.peak_boost_k + self.c.cold_boost_k)

    def _cold_share(self, obs: Observation) -> float:
        """How cold the pre-heat volume is, from 0 (half-way from the mains to θ, or warmer) to 1 (at the
        mains; also without a state estimate)."""
        state = store_state_kwh(self.m, obs.sensors_c, self.zone_tank, self.zone, self.outlet_target_c)
        if state is None:
            return 1.0
        t_pre = state[0] / self.pre_cap_kwh_per_k
        cold = obs.cold_water_c
        half = (self.theta_c + cold) / 2.0
        return min(1.0, max(0.0, (half - t_pre) / max(half - cold, 1.0)))

    def _gas_margin_k(self, obs: Observation, mining: bool = True, peak: bool = True, ample: bool = False) -> float:
        """The aquastat above setpoint + hysteresis, before peak boosts: `gas_margin_k`, plus up to
        `cold_boost_k` as the pre-heat volume gets colder (miners idle or outrun: the water rising into the
        gas zone during a peak then needs more lift than the boiler's full power gives, and the zone's own
        excess over the setpoint has to bridge the difference). A negative margin (a lower aquastat) holds
        only while the miners charge and the pre-heat water is warm, and so does the outlet trim: both fade
        with the same share (the loop's return alone keeps a store warm, not hot enough for a peak)."""
        # Miners that finish the water (a controlled charging flow) charge the store from the top down: a cold
        # base is its normal state, not a sign the zone must bridge a peak alone; the backup aquastat sits lower.
        margin_k = self.c.finish_gas_margin_k if self.finishing else self.c.gas_margin_k
        boost_k = 0.0 if self.finishing else self.c.cold_boost_k
        if not peak:  # off-peak draws the burner lifts in real time; the zone's excess bridges peaks
            boost_k *= self.c.cold_offpeak_share
        share = self._cold_share(obs)
        lower_k = min(margin_k, 0.0) + self.trim.trim_k  # the outlet trim is a lower aquastat too
        if not mining:  # the miners are not charging: nothing refills the pre-heat volume during a peak
            lower_k = 0.0
        # An ample hot reserve bridges the next hour whoever refills the pre-heat volume.
        lower_k -= self.c.reserve_trim_k if ample else 0.0
        return max(margin_k, 0.0) + lower_k * (1.0 - share) + boost_k * share

    def _reserve_cover(self, now_s: float, obs: Observation) -> float:
        """The finishing tank's water at the setpoint over what the next hour should draw (with the draw
        margin): below 1 the reserve is short. 0 without an estimate; inf when nothing is expected."""
        ready = self.m.estimate(self.m.finishing_tank, obs.sensors_c, obs.cold_water_c)
        if ready is None:
            return 0.0
        need_kwh = self.expected_draw_kwh(now_s, obs, 0.0, 3600.0)
        need_l = need_kwh * J_PER_KWH / (HEAT_CAPACITY_J_PER_L_K * max(self.c_setpoint - obs.cold_water_c, 1.0))
        need_l *= 1.0 + self.c.draw_margin
        return ready.usable_volume_l / need_l if need_l > 0 else math.inf

    def _reserve_ample(self, obs: Observation, cover: float) -> bool:
        """May the reserve cut act: on, the outlet clear of the trim's guard, and the hot water `cover` (from
        `_reserve_cover`) at least `reserve_ample_cover` times the next hour's draw?"""
        if self.c.reserve_trim_k <= 0 or obs.outlet_c is None:
            return False
        return obs.outlet_c >= self.c_setpoint + self.c.outlet_trim_guard_k and cover >= self.c.reserve_ample_cover

    def _peak_ahead(self, now_s: float, obs: Observation) -> bool:
        """Does the forecast expect the next hour to draw clearly more than an average hour?"""
        key = (obs.local_weekday, obs.local_minute // self.forecast.bin_minutes)
        if key != self._peak_key:
            nxt = self.expected_draw_kwh(now_s, obs, 0.0, 3600.0)
            day = self.expected_draw_kwh(now_s, obs, -60.0 * obs.local_minute, 86400.0) / 24.0
            self._peak_key, self._peak = key, day > 0 and nxt > self.c.peak_factor * day
        return self._peak


def _tagged(d: Decision, why: str) -> Decision:
    """The rule's decision standing in for the plan: named as such in the tick record."""
    return replace(d, reason=f"rule[{why}]:{d.reason}", decided_by="rule")
