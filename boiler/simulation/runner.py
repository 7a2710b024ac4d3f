"""`simulate`: the one control loop against the simulated plant on a virtual clock.

Every physics step the plant advances and its flows are collected; every control period the loop
books them (ledger, hygiene, heat meter), decides on the plant's sensors (with any injected sensor
faults) and the commands go back to the plant. The loop is `boiler.loop.PlantLoop`, the same object
the plant service runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from boiler.config import PlantConfig
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import Strategy
from boiler.control.types import MinerReading
from boiler.hygiene import HygieneChecker
from boiler.ledger import EnergyFlows, LedgerRow
from boiler.loop import FlowSample, PlantLoop, PlantReading, TickRecord
from boiler.plant.simulated import SimulatedPlant
from boiler.simulation.build import build_plant, local_midnight_s
from boiler.simulation.yardsticks import IN_LOOP, PlantStrategy
from boiler.summary import HygieneFigures, RunSummary, build_summary
from miners.model import HydroMiner
from tank.water import J_PER_KWH, S_PER_DAY


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
    run_summary: RunSummary | None = None


def plant_reading(plant: SimulatedPlant, samples: tuple[FlowSample, ...]) -> PlantReading:
    """The simulated plant's sensors as the loop reads them, with the flows since the last reading."""
    return PlantReading(
        at_s=plant.now_s,
        sensors_c=plant.sensor_values(),
        outlet_c=plant.outlet_c,
        loop_return_c=plant.loop_return_c if plant.loop is not None else None,
        coolant_in_c=plant.coolant.inlet_c,
        coolant_out_c=plant.coolant_out_c,
        cold_water_c=plant.cold_water_c,
        gas_firing=plant.gas.firing if plant.gas is not None else False,
        samples=samples,
    )


class Simulation:
    """The simulated plant and the one control loop on a virtual clock.

    `run_simulation` drives it. A caller that reaches the miners another way (the emulator through
    pyasic) uses the steps itself: at each `control_due()`, `tick(miners=its readings,
    apply_miners=False)` and carry out the record's miner commands; then `advance()` one physics step;
    `result()` at the end.
    """

    def __init__(
        self,
        cfg: PlantConfig,
        days: float,
        start: date,
        *,
        scenario: str = "custom",
        strategy: str | Strategy | None = None,
        seed: int = 1,
        faults: tuple[SensorFault, ...] = (),
        trace_points: int = 20_000,
        miners: list[HydroMiner] | None = None,
        plant_strategies: dict[str, PlantStrategy] = IN_LOOP,
    ) -> None:
        """`strategy`: a registered name, a name in `plant_strategies` (yardsticks that read the
        simulated plant, see `yardsticks`), or a strategy built by the caller."""
        self.wall0 = time.perf_counter()
        self.cfg = cfg
        self.days = days
        self.start = start
        self.scenario = scenario
        self.seed = seed
        self.step_s = step_s = cfg.simulation.step_s
        self.n_steps = n_steps = round(days * S_PER_DAY / step_s)
        if n_steps < 1:
            raise ValueError("the simulation must last at least one step")
        self.start_s = local_midnight_s(cfg, start)

        self.plant = build_plant(cfg, start, days, seed, miners)
        self.model = PlantModel.from_config(cfg, self.plant.exchanger.ua_w_per_k)
        if isinstance(strategy, str) and strategy in plant_strategies:
            strategy = plant_strategies[strategy](cfg, self.model, self.plant, self.start_s)
        self.loop = PlantLoop(cfg, self.model, start_s=self.start_s, strategy=strategy)
        self._control_every = max(1, round(cfg.control.period_s / step_s))
        self._faults = [(f.sensor, self.start_s + f.start_s, self.start_s + f.end_s) for f in faults]
        self._samples: list[FlowSample] = []

        self._trace_every = max(1, math.ceil(n_steps / trace_points))
        n_trace = n_steps // self._trace_every + 1
        names = [*self.plant.sensor_values(), "outlet_c", "loop_return_c", "coolant_in_c", "miner_power_w",
                 "gas_power_w", "draw_l_per_min", "setpoint_c"]
        self._cols = {name: np.full(n_trace, np.nan) for name in names}
        self._trace_t = np.full(n_trace, np.nan)
        self._row = 0
        self._draw_acc_l = 0.0
        self.reasons: list[tuple[float, str]] = []

        self.k = 0
        self._e0 = self.plant.energy_j()

    @property
    def controller(self) -> Controller:
        return self.loop.controller

    @property
    def done(self) -> bool:
        return self.k >= self.n_steps

    def control_due(self) -> bool:
        return self.k % self._control_every == 0

    def reading(self) -> PlantReading:
        """The plant now, with injected sensor faults, and the flows since the last tick."""
        reading = plant_reading(self.plant, tuple(self._samples))
        self._samples.clear()
        if not self._faults:
            return reading
        now = reading.at_s
        active = [key for key, t0, t1 in self._faults if t0 <= now < t1]
        if not active:
            return reading
        sensors = dict(reading.sensors_c)
        outlet, coolant_in = reading.outlet_c, reading.coolant_in_c
        for key in active:
            if key == "outlet":
                outlet = None
            elif key == "coolant_in":
                coolant_in = None
            else:
                sensors[key] = None
        return replace(reading, sensors_c=sensors, outlet_c=outlet, coolant_in_c=coolant_in)

    def tick(self, miners: tuple[MinerReading, ...] | None = None, *, apply_miners: bool = True) -> TickRecord:
        """One step of the loop; the plant carries out the commands (its miners too unless told not to:
        the caller then sent the limits through its own driver). Miner readings come from the simulated
        miners unless the caller polled them itself."""
        record = self.loop.step(self.reading(), self.plant.miner_readings() if miners is None else miners)
        if record.reason_changed:
            self.reasons.append((record.now_s - self.start_s, record.commands.reason))
        self.plant.apply(record.commands, miners=apply_miners)
        return record

    def advance(self) -> EnergyFlows:
        """One physics step; its flows wait for the loop's next step (and feed the trace)."""
        plant = self.plant
        flows = plant.step()
        self._samples.append(FlowSample(end_s=plant.now_s, flows=flows, store_min_c=plant.store_min_c(),
                                        dt_s=self.step_s))
        self._draw_acc_l += flows.dhw_volume_l
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
        plant, loop = self.plant, self.loop
        #: What closed only at the end (the last ledger rows, the open hygiene episodes), for publishers.
        self.final_rows, self.final_events = loop.finish(plant.now_s, tuple(self._samples))
        self._samples.clear()
        stats = loop.stats
        strategy = loop.strategy_name
        summary = build_summary(
            loop.ledger.totals(),
            scenario=self.scenario, strategy=strategy, days=self.days, start=self.start, seed=self.seed,
            step_s=self.step_s, hygiene=HygieneFigures.of(loop.checker.summary()),
            stored_energy_change_kwh=(plant.energy_j() - self._e0) / J_PER_KWH,
            min_outlet_c=stats.min_outlet_c, min_loop_return_c=stats.min_loop_return_c,
            mean_outlet_c=stats.mean_outlet_c,
            power_limit_changes=loop.controller.limit_changes, gas_starts=plant.gas_starts(),
            decided_by=stats.decided_by, warnings=loop.warnings(),
            wall_seconds=time.perf_counter() - self.wall0,
        )
        row = self._row
        trace = Trace(time_s=self._trace_t[:row], columns={k: v[:row] for k, v in self._cols.items()},
                      reasons=self.reasons)
        return SimulationResult(summary=summary.as_dict(), ledger=loop.ledger.rows, trace=trace,
                                hygiene=loop.checker, limit_changes_by_miner=dict(loop.controller.changes_by_miner),
                                run_summary=summary)


def run_loop(sim: Simulation, progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Drive a simulation to its end."""
    progress_every = max(1, sim.n_steps // 200)
    while not sim.done:
        if sim.control_due():
            sim.tick()
        sim.advance()
        if progress is not None and sim.k % progress_every == 0:
            progress(sim.k / sim.n_steps)
    if progress is not None:
        progress(1.0)
    return sim.result()
