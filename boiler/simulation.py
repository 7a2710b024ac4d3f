"""Run the real controller against the simulated plant on a virtual clock.

The loop is: every control period, build an observation from the plant's sensors (with any
injected sensor faults), let the controller decide, apply its commands; every physics step,
advance the plant, book the energy flows in the ledger, and feed the hygiene checker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from boiler.config import CsvDrawsConfig, PlantConfig, SeasonalMainsConfig, StochasticDrawsConfig
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel
from boiler.control.types import Observation
from boiler.hygiene import HygieneChecker
from boiler.ledger import Ledger, LedgerRow
from boiler.plant.simulated import SimulatedPlant
from tank.dhwcalc import StochasticProfile
from tank.draw_csv import CsvProfile
from tank.draws import DrawProfile
from tank.mains import ConstantMains, MainsModel, SeasonalMains, day_of_year
from tank.tapping_cycles import TappingCycleProfile
from tank.water import J_PER_KWH, S_PER_DAY

#: Keys of the JSON summary every consumer may rely on (the CLI contract).
SUMMARY_KEYS = (
    "scenario", "strategy", "days", "dhw_volume_l", "dhw_heat_kwh", "dhw_volume_below_setpoint_l",
    "min_outlet_temp_c", "heat_from_miners_kwh", "heat_from_gas_kwh", "heat_dumped_kwh", "electricity_kwh",
    "gas_fuel_kwh", "tank_losses_kwh", "loop_losses_kwh", "stored_energy_change_kwh",
    "energy_balance_error_kwh", "mining_revenue_eur", "electricity_cost_eur", "gas_cost_eur", "net_cost_eur",
    "btc_mined", "co2_kg", "power_limit_changes", "gas_starts", "legionella_compliant", "wall_seconds",
)


@dataclass(frozen=True, slots=True)
class SensorFault:
    """Make a sensor read as missing from `start_s` to `end_s` (seconds from the run's start)."""

    sensor: str  # "tank.sensor", "outlet" or "coolant_in"
    start_s: float
    end_s: float


@dataclass
class Trace:
    """Time series sampled for plots and tests (numpy arrays, one row per sample)."""

    time_s: np.ndarray
    columns: dict[str, np.ndarray]
    reasons: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class SimulationResult:
    summary: dict[str, object]
    ledger: list[LedgerRow]
    trace: Trace
    hygiene: HygieneChecker
    limit_changes_by_miner: dict[str, int]


def mains_model(cfg: PlantConfig) -> MainsModel:
    m = cfg.mains
    if isinstance(m, SeasonalMainsConfig):
        return SeasonalMains(mean_c=m.mean_c, amplitude_k=m.amplitude_k, coldest_day=m.coldest_day)
    return ConstantMains(m.temp_c)


def draw_profile(cfg: PlantConfig, mains: MainsModel, seed: int) -> DrawProfile:
    d = cfg.draws
    if isinstance(d, StochasticDrawsConfig):
        return StochasticProfile(d.flats, mains=mains, seed=seed,
                                 litres_per_standard_flat_day=d.litres_per_standard_flat_day,
                                 weekend_factor=d.weekend_factor, seasonal_amplitude=d.seasonal_amplitude,
                                 shape=d.shape)
    if isinstance(d, CsvDrawsConfig):
        return CsvProfile(d.path, mains, site_tz=cfg.site.timezone)
    return TappingCycleProfile(d.profile, scale=d.scale)


class _LocalClock:
    """Site-local minute and weekday for epoch seconds, cached per hour (DST-safe)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hour_start = -1.0
        self._offset_s = 0.0

    def offset_s(self, now_s: float) -> float:
        hour = now_s - now_s % 3600.0
        if hour != self._hour_start:
            self._hour_start = hour
            off = datetime.fromtimestamp(hour, self.tz).utcoffset()
            self._offset_s = off.total_seconds() if off else 0.0
        return self._offset_s

    def local(self, now_s: float) -> tuple[int, int, int]:
        """(minute of day, weekday, local day number)."""
        t = now_s + self.offset_s(now_s)
        day = int(t // S_PER_DAY)
        minute = int((t - day * S_PER_DAY) // 60)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        return minute, weekday, day


def run_simulation(
    cfg: PlantConfig,
    days: float,
    start: date,
    *,
    scenario: str = "custom",
    strategy: str | None = None,
    seed: int = 1,
    faults: tuple[SensorFault, ...] = (),
    progress: Callable[[float], None] | None = None,
    trace_points: int = 20_000,
) -> SimulationResult:
    wall0 = time.perf_counter()
    tz = ZoneInfo(cfg.site.timezone)
    step_s = cfg.simulation.step_s
    n_steps = round(days * S_PER_DAY / step_s)
    if n_steps < 1:
        raise ValueError("the simulation must last at least one step")
    start_s = datetime(start.year, start.month, start.day, tzinfo=tz).timestamp()

    mains = mains_model(cfg)
    profile = draw_profile(cfg, mains, seed)
    whole_days = math.ceil(days)
    draws = profile.steps(start, whole_days, step_s)
    offsets = np.arange(n_steps) * step_s
    cold = np.asarray(mains.temp_c(day_of_year(start, offsets)), dtype=float)
    cold_list = np.broadcast_to(cold, (n_steps,)).tolist()

    plant = SimulatedPlant(cfg, draws, cold_list, start_s)
    model = PlantModel.from_config(cfg, plant.exchanger.ua_w_per_k)
    controller = Controller(cfg, model, strategy)
    checker = HygieneChecker(cfg.hygiene, {t.name: t.role for t in cfg.tanks})
    ledger = Ledger(start_s, cfg.mining, cfg.prices.gas, cfg.co2)
    clock = _LocalClock(tz)
    tariff = cfg.prices.electricity
    hashprice_net = cfg.mining.hashprice.gross_eur_per_ph_day() * (1 - cfg.mining.pool_fee)

    control_every = max(1, round(cfg.control.period_s / step_s))
    trace_every = max(1, math.ceil(n_steps / trace_points))
    sensor_keys = list(plant.sensor_values())
    n_trace = n_steps // trace_every + 1
    cols = {name: np.full(n_trace, np.nan) for name in
            [*sensor_keys, "outlet_c", "loop_return_c", "coolant_in_c", "miner_power_w", "gas_power_w",
             "draw_l_per_min", "setpoint_c"]}
    trace_t = np.full(n_trace, np.nan)
    reasons: list[tuple[float, str]] = []
    last_reason = ""
    fault_windows = [(f.sensor, start_s + f.start_s, start_s + f.end_s) for f in faults]

    e0 = plant.energy_j()
    min_outlet = math.inf
    min_loop_return = math.inf
    price = tariff.price(0)
    setpoint = cfg.control.setpoint_c
    progress_every = max(1, n_steps // 200)
    row = 0
    draw_acc_l = 0.0
    for k in range(n_steps):
        now = plant.now_s
        if k % control_every == 0:
            minute, weekday, day = clock.local(now)
            price = tariff.price(minute)
            obs = _observe(plant, now, minute, weekday, price, hashprice_net, checker, fault_windows)
            cmds = controller.tick(obs, day)
            plant.apply(cmds)
            if cmds.reason != last_reason:
                reasons.append((now - start_s, cmds.reason))
                last_reason = cmds.reason
        flows = plant.step()
        ledger.add(plant.now_s, price, flows)
        outlet = flows.outlet_c
        if outlet < min_outlet:
            min_outlet = outlet
        loop_ret = flows.loop_return_c
        if loop_ret < min_loop_return:
            min_loop_return = loop_ret
        checker.update(plant.now_s, step_s, outlet, loop_ret if loop_ret == loop_ret else outlet,
                       plant.store_min_c())
        draw_acc_l += flows.dhw_volume_l
        if k % trace_every == 0:
            trace_t[row] = plant.now_s - start_s
            for key, value in plant.sensor_values().items():
                cols[key][row] = value
            cols["outlet_c"][row] = outlet
            cols["loop_return_c"][row] = loop_ret
            cols["coolant_in_c"][row] = plant.coolant.inlet_c
            cols["miner_power_w"][row] = flows.miner_power_w
            cols["gas_power_w"][row] = flows.gas_power_w
            cols["draw_l_per_min"][row] = draw_acc_l / (trace_every * step_s / 60.0)
            cols["setpoint_c"][row] = setpoint
            draw_acc_l = 0.0
            row += 1
        if progress is not None and k % progress_every == 0:
            progress(k / n_steps)
    ledger.close(plant.now_s)
    checker.finish(plant.now_s)
    if progress is not None:
        progress(1.0)

    totals = ledger.totals()
    stored_kwh = (plant.energy_j() - e0) / J_PER_KWH
    balance = (totals.heat_from_miners_kwh + totals.heat_from_gas_kwh - totals.dhw_heat_kwh
               - totals.tank_losses_kwh - totals.loop_losses_kwh - stored_kwh)
    hygiene = checker.summary()
    summary: dict[str, object] = {
        "scenario": scenario,
        "strategy": controller.strategy_name,
        "days": days,
        "start": start.isoformat(),
        "seed": seed,
        "step_s": step_s,
        "dhw_volume_l": totals.dhw_volume_l,
        "dhw_heat_kwh": totals.dhw_heat_kwh,
        "dhw_demand_kwh": totals.dhw_demand_kwh,
        "dhw_volume_below_setpoint_l": totals.dhw_volume_below_setpoint_l,
        "min_outlet_temp_c": min_outlet,
        "min_loop_return_c": min_loop_return if math.isfinite(min_loop_return) else None,
        "heat_from_miners_kwh": totals.heat_from_miners_kwh,
        "heat_from_gas_kwh": totals.heat_from_gas_kwh,
        "heat_dumped_kwh": totals.heat_dumped_kwh,
        "miner_heat_share": _share(totals.heat_from_miners_kwh, totals.heat_from_gas_kwh),
        "electricity_kwh": totals.electricity_kwh,
        "gas_fuel_kwh": totals.gas_fuel_kwh,
        "tank_losses_kwh": totals.tank_losses_kwh,
        "loop_losses_kwh": totals.loop_losses_kwh,
        "stored_energy_change_kwh": stored_kwh,
        "energy_balance_error_kwh": balance,
        "mining_revenue_eur": totals.mining_revenue_eur,
        "electricity_cost_eur": totals.electricity_cost_eur,
        "gas_cost_eur": totals.gas_cost_eur,
        "net_cost_eur": totals.net_cost_eur,
        "btc_mined": totals.btc_mined,
        "hashrate_ths_mean": totals.hashrate_ths_mean,
        "co2_kg": totals.co2_kg,
        "power_limit_changes": controller.limit_changes,
        "gas_starts": plant.gas_starts(),
        "legionella_compliant": hygiene.compliant,
        "hygiene_preset": hygiene.preset,
        "hygiene_violations": hygiene.violations,
        "legionella_cycles_passed": hygiene.cycles_passed,
        "wall_seconds": time.perf_counter() - wall0,
    }
    trace = Trace(time_s=trace_t[:row], columns={k: v[:row] for k, v in cols.items()}, reasons=reasons)
    return SimulationResult(summary=summary, ledger=ledger.rows, trace=trace, hygiene=checker,
                            limit_changes_by_miner=dict(controller.changes_by_miner))


def _share(a: float, b: float) -> float:
    return a / (a + b) if a + b > 0 else 0.0


def _observe(
    plant: SimulatedPlant,
    now_s: float,
    minute: int,
    weekday: int,
    price: float,
    hashprice_net: float,
    checker: HygieneChecker,
    faults: list[tuple[str, float, float]],
) -> Observation:
    sensors: dict[str, float | None] = dict(plant.sensor_values())
    outlet: float | None = plant.outlet_c
    coolant_in: float | None = plant.coolant.inlet_c
    for key, t0, t1 in faults:
        if t0 <= now_s < t1:
            if key == "outlet":
                outlet = None
            elif key == "coolant_in":
                coolant_in = None
            else:
                sensors[key] = None
    return Observation(
        now_s=now_s,
        local_minute=minute,
        local_weekday=weekday,
        sensors_c=sensors,
        outlet_c=outlet,
        loop_return_c=plant.loop_return_c if plant.loop is not None else None,
        coolant_in_c=coolant_in,
        coolant_out_c=plant.coolant_out_c,
        miners=plant.miner_readings(),
        gas_firing=plant.gas.firing if plant.gas is not None else False,
        electricity_eur_per_kwh=price,
        hashprice_eur_per_ph_day=hashprice_net,
        cold_water_c=plant.cold_water_c,
        legionella_due=checker.cycle_due(now_s, horizon_s=S_PER_DAY),
        legionella_last_pass_s=checker.last_required_pass_s(),
    )


def default_start() -> date:
    """A winter Monday: the harder half of the year for hot water."""
    return date(2026, 1, 5)
