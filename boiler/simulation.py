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

from boiler.baseline import GasBaseline
from boiler.config import CsvDrawsConfig, PlantConfig, SeasonalMainsConfig, StochasticDrawsConfig
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import RuleStrategy, Strategy, make_strategy
from boiler.control.types import Commands, MinerReading, Observation
from boiler.hygiene import HygieneChecker
from boiler.ledger import BASELINE_SUMMARY_KEYS, EnergyFlows, Ledger, LedgerRow, baseline_summary
from boiler.plant.simulated import SimulatedPlant
from miners.model import HydroMiner
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
    *BASELINE_SUMMARY_KEYS,
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


def local_midnight_s(cfg: PlantConfig, day: date) -> float:
    """Epoch seconds of the site's local midnight starting `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(cfg.site.timezone)).timestamp()


def build_plant(cfg: PlantConfig, start: date, days: float, seed: int = 1,
                miners: list[HydroMiner] | None = None) -> SimulatedPlant:
    """The simulated plant from local midnight of `start`, with draws and mains for `days`."""
    step_s = cfg.simulation.step_s
    n_steps = max(1, round(days * S_PER_DAY / step_s))
    mains = mains_model(cfg)
    draws = draw_profile(cfg, mains, seed).steps(start, math.ceil(days), step_s)
    cold = np.asarray(mains.temp_c(day_of_year(start, np.arange(n_steps) * step_s)), dtype=float)
    return SimulatedPlant(cfg, draws, np.broadcast_to(cold, (n_steps,)).tolist(), local_midnight_s(cfg, start),
                          miners=miners)


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


class Simulation:
    """The simulated plant, the controller, the ledger and the hygiene checker on one virtual clock.

    `run_simulation` drives it synchronously. A caller that reaches the miners another way (the
    emulator through pyasic) uses the steps itself: at each `control_due()`, `observe()` with its own
    miner readings, `decide()`, carry out the miner commands, `apply(..., miners=False)`; then
    `advance()` one physics step; `result()` at the end.
    """

    def __init__(
        self,
        cfg: PlantConfig,
        days: float,
        start: date,
        *,
        scenario: str = "custom",
        strategy: str | None = None,
        seed: int = 1,
        faults: tuple[SensorFault, ...] = (),
        trace_points: int = 20_000,
        miners: list[HydroMiner] | None = None,
    ) -> None:
        self.wall0 = time.perf_counter()
        self.cfg = cfg
        self.days = days
        self.start = start
        self.scenario = scenario
        self.seed = seed
        tz = ZoneInfo(cfg.site.timezone)
        self.step_s = step_s = cfg.simulation.step_s
        self.n_steps = n_steps = round(days * S_PER_DAY / step_s)
        if n_steps < 1:
            raise ValueError("the simulation must last at least one step")
        self.start_s = local_midnight_s(cfg, start)

        self.plant = build_plant(cfg, start, days, seed, miners)
        self.model = PlantModel.from_config(cfg, self.plant.exchanger.ua_w_per_k)
        self.controller = Controller(cfg, self.model, self._oracle() if strategy == "mpc_oracle" else strategy)
        self.checker = HygieneChecker(cfg.hygiene, {t.name: t.role for t in cfg.tanks})
        self.ledger = Ledger(self.start_s, cfg.mining, cfg.prices.gas, cfg.co2, baseline=GasBaseline.from_config(cfg))
        self._clock = _LocalClock(tz)
        self._hashprice_net = cfg.mining.hashprice.gross_eur_per_ph_day() * (1 - cfg.mining.pool_fee)
        self._control_every = max(1, round(cfg.control.period_s / step_s))
        self._faults = [(f.sensor, self.start_s + f.start_s, self.start_s + f.end_s) for f in faults]

        self._trace_every = max(1, math.ceil(n_steps / trace_points))
        n_trace = n_steps // self._trace_every + 1
        names = [*self.plant.sensor_values(), "outlet_c", "loop_return_c", "coolant_in_c", "miner_power_w",
                 "gas_power_w", "draw_l_per_min", "setpoint_c"]
        self._cols = {name: np.full(n_trace, np.nan) for name in names}
        self._trace_t = np.full(n_trace, np.nan)
        self._row = 0
        self._draw_acc_l = 0.0
        self.reasons: list[tuple[float, str]] = []
        self._last_reason = ""

        self.k = 0
        self._e0 = self.plant.energy_j()
        self._min_outlet = math.inf
        self._min_loop_return = math.inf
        self._price = cfg.prices.electricity.price(0)
        self._day = 0
        # task G: a heat meter on the hot-water outlet (cumulative, past steps only), read by
        # strategies that learn a draw forecast (mpc).
        self._dhw_heat_j = 0.0
        self._meter = getattr(self.controller.safety.strategy, "read_meter", None)

    def _oracle(self) -> Strategy:
        """`mpc_oracle`: the MPC told the plant's future draws (a yardstick, see control/mpc.py)."""
        from boiler.control.mpc import PerfectForecastMpc

        rule = make_strategy("rule", self.cfg, self.model)
        assert isinstance(rule, RuleStrategy)
        return PerfectForecastMpc(self.cfg, self.model, rule, self.plant.draw_heat_j, self.start_s, self.step_s)

    @property
    def done(self) -> bool:
        return self.k >= self.n_steps

    def control_due(self) -> bool:
        return self.k % self._control_every == 0

    def observe(self, miners: tuple[MinerReading, ...] | None = None) -> Observation:
        """The controller's view now: the plant's sensors (with injected faults), prices, hygiene.
        Miner readings come from the simulated miners unless the caller polled them itself."""
        plant = self.plant
        now = plant.now_s
        minute, weekday, self._day = self._clock.local(now)
        self._price = self.cfg.prices.electricity.price(minute)
        if self._meter is not None:  # task G
            self._meter(now, self._dhw_heat_j / J_PER_KWH)
        sensors: dict[str, float | None] = dict(plant.sensor_values())
        outlet: float | None = plant.outlet_c
        coolant_in: float | None = plant.coolant.inlet_c
        for key, t0, t1 in self._faults:
            if t0 <= now < t1:
                if key == "outlet":
                    outlet = None
                elif key == "coolant_in":
                    coolant_in = None
                else:
                    sensors[key] = None
        return Observation(
            now_s=now,
            local_minute=minute,
            local_weekday=weekday,
            sensors_c=sensors,
            outlet_c=outlet,
            loop_return_c=plant.loop_return_c if plant.loop is not None else None,
            coolant_in_c=coolant_in,
            coolant_out_c=plant.coolant_out_c,
            miners=plant.miner_readings() if miners is None else miners,
            gas_firing=plant.gas.firing if plant.gas is not None else False,
            electricity_eur_per_kwh=self._price,
            hashprice_eur_per_ph_day=self._hashprice_net,
            cold_water_c=plant.cold_water_c,
            legionella_due=self.checker.cycle_due(now, horizon_s=S_PER_DAY),
            legionella_last_pass_s=self.checker.last_required_pass_s(),
        )

    def decide(self, obs: Observation) -> Commands:
        cmds = self.controller.tick(obs, self._day)
        if cmds.reason != self._last_reason:
            self.reasons.append((obs.now_s - self.start_s, cmds.reason))
            self._last_reason = cmds.reason
        return cmds

    def apply(self, cmds: Commands, *, miners: bool = True) -> None:
        self.plant.apply(cmds, miners=miners)

    def advance(self) -> EnergyFlows:
        """One physics step, booked in the ledger, the hygiene checker and the trace."""
        plant = self.plant
        flows = plant.step()
        now = plant.now_s
        self.ledger.add(now, self._price, flows)
        outlet = flows.outlet_c
        if outlet < self._min_outlet:
            self._min_outlet = outlet
        loop_ret = flows.loop_return_c
        if loop_ret < self._min_loop_return:
            self._min_loop_return = loop_ret
        # Without a recirculation loop the outlet is the distribution's only temperature.
        self.checker.update(now, self.step_s, outlet, loop_ret if loop_ret == loop_ret else outlet,
                            plant.store_min_c())
        self._draw_acc_l += flows.dhw_volume_l
        self._dhw_heat_j += flows.dhw_heat_j  # task G: the heat meter
        if self.k % self._trace_every == 0:
            self._record(flows)
        self.k += 1
        return flows

    def _record(self, flows: EnergyFlows) -> None:
        row, cols, plant = self._row, self._cols, self.plant
        self._trace_t[row] = plant.now_s - self.start_s
        for key, value in plant.sensor_values().items():
            cols[key][row] = value
        cols["outlet_c"][row] = flows.outlet_c
        cols["loop_return_c"][row] = flows.loop_return_c
        cols["coolant_in_c"][row] = plant.coolant.inlet_c
        cols["miner_power_w"][row] = flows.miner_power_w
        cols["gas_power_w"][row] = flows.gas_power_w
        cols["draw_l_per_min"][row] = self._draw_acc_l / (self._trace_every * self.step_s / 60.0)
        cols["setpoint_c"][row] = self.cfg.control.setpoint_c
        self._draw_acc_l = 0.0
        self._row += 1

    def result(self) -> SimulationResult:
        plant, ledger, checker = self.plant, self.ledger, self.checker
        ledger.close(plant.now_s)
        checker.finish(plant.now_s)
        totals = ledger.totals()
        stored_kwh = (plant.energy_j() - self._e0) / J_PER_KWH
        balance = (totals.heat_from_miners_kwh + totals.heat_from_gas_kwh - totals.dhw_heat_kwh
                   - totals.tank_losses_kwh - totals.loop_losses_kwh - stored_kwh)
        hygiene = checker.summary()
        summary: dict[str, object] = {
            "scenario": self.scenario,
            "strategy": self.controller.strategy_name,
            "days": self.days,
            "start": self.start.isoformat(),
            "seed": self.seed,
            "step_s": self.step_s,
            "dhw_volume_l": totals.dhw_volume_l,
            "dhw_heat_kwh": totals.dhw_heat_kwh,
            "dhw_demand_kwh": totals.dhw_demand_kwh,
            "dhw_volume_below_setpoint_l": totals.dhw_volume_below_setpoint_l,
            "min_outlet_temp_c": self._min_outlet,
            "min_loop_return_c": self._min_loop_return if math.isfinite(self._min_loop_return) else None,
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
            **baseline_summary(totals),
            "power_limit_changes": self.controller.limit_changes,
            "gas_starts": plant.gas_starts(),
            "legionella_compliant": hygiene.compliant,
            "hygiene_preset": hygiene.preset,
            "hygiene_violations": hygiene.violations,
            "legionella_cycles_passed": hygiene.cycles_passed,
            "wall_seconds": time.perf_counter() - self.wall0,
        }
        row = self._row
        trace = Trace(time_s=self._trace_t[:row], columns={k: v[:row] for k, v in self._cols.items()},
                      reasons=self.reasons)
        return SimulationResult(summary=summary, ledger=ledger.rows, trace=trace, hygiene=checker,
                                limit_changes_by_miner=dict(self.controller.changes_by_miner))


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
    """Run the controller against the simulated plant for `days` from local midnight of `start`.

    `strategy="optimum"` solves the perfect-foresight bound instead (boiler/control/optimum.py).
    """
    if strategy == "optimum":  # task G: a yardstick, not a controller in the loop
        from boiler.control.optimum import run_optimum

        return run_optimum(cfg, days, start, scenario=scenario, seed=seed)
    sim = Simulation(cfg, days, start, scenario=scenario, strategy=strategy, seed=seed, faults=faults,
                     trace_points=trace_points)
    progress_every = max(1, sim.n_steps // 200)
    while not sim.done:
        if sim.control_due():
            sim.apply(sim.decide(sim.observe()))
        sim.advance()
        if progress is not None and sim.k % progress_every == 0:
            progress(sim.k / sim.n_steps)
    if progress is not None:
        progress(1.0)
    return sim.result()


def _share(a: float, b: float) -> float:
    return a / (a + b) if a + b > 0 else 0.0


def default_start() -> date:
    """A winter Monday: the harder half of the year for hot water."""
    return date(2026, 1, 5)
