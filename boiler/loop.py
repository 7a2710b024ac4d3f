"""One control loop: the tick that `simulate`, the hardware-in-the-loop run, `demo` and `run` share.

`PlantLoop` owns the controller (strategy → operator overrides → safety → fleet allocation with its
change budgets), the ledger, the hygiene checker, the hot-water heat meter and the site's local
clock. Its one step takes a plant reading and the miners' readings and returns a `TickRecord`:

    reading ──► book the flows since the last step (ledger, hygiene, heat meter)
            ──► observe (sensors, miners, local time, prices, hygiene state, heat meter)
            ──► decide (controller) ──► TickRecord (decision and who made it, commands, safety
                                        state, ledger rows closed, compliance events)

The runners only move readings in and commands out: the simulator on a virtual clock, the service
through MQTT and pyasic. Everything a strategy needs arrives in the observation built here.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from boiler.baseline import GasBaseline
from boiler.config import PlantConfig
from boiler.control.controller import Controller
from boiler.control.overrides import LEGIONELLA_MODE_REASON, Overrides
from boiler.control.plant_model import PlantModel
from boiler.control.safety import LEGIONELLA_CYCLE_REASON
from boiler.control.strategies import Strategy
from boiler.control.types import Commands, Decision, MinerReading, Observation
from boiler.hygiene import ComplianceEvent, HygieneChecker
from boiler.ledger import EnergyFlows, Ledger, LedgerRow
from boiler.site_time import LocalTime, SiteClock
from boiler.summary import decider_warnings
from tank.water import J_PER_KWH, S_PER_DAY

log = logging.getLogger("boiler.loop")

#: Cold water assumed when the plant has no mains sensor (a French average; DESIGN §1 gives 8–18 °C).
DEFAULT_COLD_WATER_C = 12.0
#: Below this share of its ticks decided by the configured strategy, a run says so.
STRATEGY_SHARE_WARN = 0.95
#: Reasons of a commanded disinfection cycle: the safety layer's daily duty, the operator's override.
CYCLE_REASONS = frozenset({LEGIONELLA_CYCLE_REASON, LEGIONELLA_MODE_REASON})


def _is_cycle(reason: str) -> bool:
    return any(part in CYCLE_REASONS for part in reason.split(":"))


@dataclass(slots=True)
class FlowSample:
    """What the plant exchanged over one interval that ended at `end_s`.

    `dt_s` None: since the loop's previous step (a real plant's meters are read once a tick)."""

    end_s: float
    flows: EnergyFlows
    #: Coldest known temperature of each store over the interval (whole-volume hygiene rules).
    store_min_c: Mapping[str, float]
    dt_s: float | None = None


@dataclass(slots=True)
class PlantReading:
    """The plant at `at_s`: sensors (None where missing, stale or implausible) and the flows since
    the previous reading (one sample per physics step in simulation, one per tick on a plant).

    Read-only by convention (not frozen: one is built every tick, and a frozen dataclass costs
    three times as much to build)."""

    at_s: float
    #: Tank sensors by "tank.sensor".
    sensors_c: Mapping[str, float | None]
    outlet_c: float | None
    loop_return_c: float | None
    coolant_in_c: float | None
    coolant_out_c: float | None
    cold_water_c: float | None
    gas_firing: bool
    samples: tuple[FlowSample, ...] = ()
    #: Whether the samples hold the miners' electricity and hashrate-seconds; if not, the loop books
    #: them from the miners' own readings (pyasic wattage and hashrate) of the previous step.
    electricity_metered: bool = True
    hashrate_metered: bool = True


@dataclass(slots=True)
class TickRecord:
    """Everything one step decided and booked; publishers (state, telemetry, live view) read this.

    Read-only by convention, like `PlantReading`."""

    now_s: float
    local: LocalTime
    reading: PlantReading
    observation: Observation
    decision: Decision
    #: The configured strategy, and who decided this tick: that strategy, "rule" as its fallback,
    #: "safety" or "override".
    strategy: str
    decided_by: str
    commands: Commands
    safe_state: bool
    #: A disinfection cycle is running (a store's coldest node at or above a criterion temperature).
    legionella_in_progress: bool
    #: The reason differs from the previous tick's.
    reason_changed: bool
    closed_rows: tuple[LedgerRow, ...]
    compliance_events: tuple[ComplianceEvent, ...]

    @property
    def safety_override(self) -> bool:
        """The safety layer replaced or cut the strategy's decision this tick."""
        return self.decided_by == "safety"


@dataclass
class LoopStats:
    """Running figures of one run, for its summary."""

    ticks: int = 0
    decided_by: Counter[str] = field(default_factory=Counter)
    min_outlet_c: float = math.inf
    min_loop_return_c: float = math.inf
    #: Outlet temperature × seconds and seconds outside commanded legionella cycles (their mean: overheating).
    outlet_c_s: float = 0.0
    outlet_s: float = 0.0
    #: Ticks decided on DEFAULT_COLD_WATER_C because the plant reported no mains temperature.
    cold_water_assumed: int = 0

    @property
    def mean_outlet_c(self) -> float | None:
        return self.outlet_c_s / self.outlet_s if self.outlet_s > 0 else None


class PlantLoop:
    def __init__(
        self,
        cfg: PlantConfig,
        model: PlantModel,
        *,
        start_s: float,
        strategy: str | Strategy | None = None,
        overrides: Overrides | None = None,
        ledger_interval_s: float = 3600.0,
        restored: Mapping[str, Any] | None = None,
    ) -> None:
        """`start_s`: where the first ledger row starts. `restored`: a `state()` of an earlier run of
        the same plant (the service resumes on it; the heat meter restarts from zero)."""
        restored = restored or {}
        self.cfg = cfg
        self.controller = Controller(cfg, model, strategy, overrides=overrides)
        self.clock = SiteClock(cfg.site.timezone)
        passes = restored.get("hygiene_last_pass_s") or {}
        self.checker = HygieneChecker(cfg.hygiene, {t.name: t.role for t in cfg.tanks},
                                      last_cycle_pass_s={k: v for k, v in passes.items() if v is not None})
        self.ledger = Ledger(start_s, cfg.mining, cfg.prices.gas, cfg.co2, interval_s=ledger_interval_s,
                             baseline=GasBaseline.from_config(cfg))
        if restored.get("ledger_open") is not None:
            self.ledger.restore(restored["ledger_open"])
        self.last_step_s: float | None = restored.get("last_tick_s")
        if restored.get("miner_budget"):
            self.controller.restore_budget(restored["miner_budget"], self.clock.local(start_s).day)
        self._hashprice_net = cfg.mining.hashprice.gross_eur_per_ph_day() * (1 - cfg.mining.pool_fee)
        self._price = cfg.prices.electricity.price(self.clock.local(start_s).minute)
        self._meter_j = 0.0
        self._last_miners: tuple[MinerReading, ...] = ()
        self._events_seen = 0
        self._last_reason = ""
        self._cycle_commanded = False  # the flows until the next step follow a commanded legionella cycle
        self.stats = LoopStats()

    @property
    def strategy_name(self) -> str:
        return self.controller.strategy_name

    def warnings(self) -> list[str]:
        """What degraded in this run so far, in words, for its summary."""
        out = decider_warnings(self.strategy_name, self.stats.decided_by, STRATEGY_SHARE_WARN)
        if self.stats.cold_water_assumed:
            out.append(f"no mains temperature on {self.stats.cold_water_assumed} of {self.stats.ticks} ticks: "
                       f"decided on {DEFAULT_COLD_WATER_C:g} °C cold water")
        return out

    @property
    def dhw_heat_meter_kwh(self) -> float:
        return self._meter_j / J_PER_KWH

    # -- the step -----------------------------------------------------------------------------
    def step(self, reading: PlantReading, miners: tuple[MinerReading, ...]) -> TickRecord:
        """Book what happened since the last step, then decide on the plant as it is now."""
        self._book(reading)
        now = reading.at_s
        local = self.clock.local(now)
        self._price = self.cfg.prices.electricity.price(local.minute)
        obs = self._observe(now, local, reading, miners)
        commands = self.controller.tick(obs, local.day)
        decision = self.controller.last_decision
        assert decision is not None  # set by every tick
        strategy = self.strategy_name
        decided_by = decision.decided_by or strategy
        s = self.stats
        s.ticks += 1
        s.decided_by[decided_by] += 1
        changed = commands.reason != self._last_reason
        self._cycle_commanded = _is_cycle(commands.reason)
        self._last_reason = commands.reason
        self._last_miners = miners
        self.last_step_s = now
        return TickRecord(
            now_s=now, local=local, reading=reading, observation=obs, decision=decision, strategy=strategy,
            decided_by=decided_by, commands=commands, safe_state=commands.reason.startswith("safe:"),
            legionella_in_progress=self.checker.cycle_in_progress, reason_changed=changed,
            closed_rows=tuple(self.ledger.pop_closed()), compliance_events=self._new_events(),
        )

    def finish(self, end_s: float, samples: tuple[FlowSample, ...] = ()) -> tuple[tuple[LedgerRow, ...],
                                                                                 tuple[ComplianceEvent, ...]]:
        """Book the last flows, close the ledger's open interval and the hygiene log (end of a run)."""
        for sample in samples:
            self._book_sample(sample, self._last_miners, electricity=True, hashrate=True)
        self.ledger.close(end_s)
        self.checker.finish(end_s)
        return tuple(self.ledger.pop_closed()), self._new_events()

    def state(self) -> dict[str, Any]:
        """What a restarted service needs to carry on (see `restored`)."""
        return {
            "ledger_open": self.ledger.snapshot(),
            "miner_budget": self.controller.budget_state(),
            "hygiene_last_pass_s": {t.name: self.checker.last_cycle_pass_s(t.name) for t in self.cfg.tanks},
            "last_tick_s": self.last_step_s,
        }

    # -- inside the step ------------------------------------------------------------------------
    def _book(self, reading: PlantReading) -> None:
        for sample in reading.samples:
            self._book_sample(sample, self._last_miners, electricity=reading.electricity_metered,
                              hashrate=reading.hashrate_metered)

    def _book_sample(self, sample: FlowSample, miners: tuple[MinerReading, ...], *, electricity: bool,
                     hashrate: bool) -> None:
        end = sample.end_s
        dt = sample.dt_s
        if dt is None:
            dt = 0.0 if self.last_step_s is None else max(0.0, end - self.last_step_s)
        f = sample.flows
        # What the plant does not meter comes from the miners' last readings.
        if not electricity:
            f.electricity_j = dt * sum(m.power_w for m in miners if m.available)
        if not hashrate:
            f.hash_ths_s = dt * sum(m.hashrate_ths for m in miners if m.available)
        # Flows since the last decision are priced at the tariff that decision saw.
        self.ledger.add(end, self._price, f)
        outlet = f.outlet_c
        loop_ret = f.loop_return_c
        s = self.stats
        if outlet < s.min_outlet_c:
            s.min_outlet_c = outlet
        if loop_ret < s.min_loop_return_c:
            s.min_loop_return_c = loop_ret
        if dt > 0:
            if not self._cycle_commanded and outlet == outlet:
                s.outlet_c_s += outlet * dt
                s.outlet_s += dt
            # Without a recirculation loop the outlet is the distribution's only temperature.
            self.checker.update(end, dt, outlet, loop_ret if loop_ret == loop_ret else outlet, sample.store_min_c)
        self._meter_j += f.dhw_heat_j

    def _observe(self, now: float, local: LocalTime, reading: PlantReading,
                 miners: tuple[MinerReading, ...]) -> Observation:
        cold = reading.cold_water_c
        if cold is None:
            if not self.stats.cold_water_assumed:
                log.warning("event=cold_water_assumed value_c=%g reason=no_mains_reading", DEFAULT_COLD_WATER_C)
            self.stats.cold_water_assumed += 1
            cold = DEFAULT_COLD_WATER_C
        return Observation(
            now_s=now,
            local_minute=local.minute,
            local_weekday=local.weekday,
            sensors_c=reading.sensors_c,
            outlet_c=reading.outlet_c,
            loop_return_c=reading.loop_return_c,
            coolant_in_c=reading.coolant_in_c,
            coolant_out_c=reading.coolant_out_c,
            miners=miners,
            gas_firing=reading.gas_firing,
            electricity_eur_per_kwh=self._price,
            hashprice_eur_per_ph_day=self._hashprice_net,
            cold_water_c=cold,
            legionella_due=self.checker.cycle_due(now, horizon_s=S_PER_DAY),
            legionella_last_pass_s=self.checker.last_required_pass_s(),
            dhw_heat_meter_kwh=self._meter_j / J_PER_KWH,
        )

    def _new_events(self) -> tuple[ComplianceEvent, ...]:
        new = tuple(self.checker.events[self._events_seen:])
        self._events_seen = len(self.checker.events)
        return new
