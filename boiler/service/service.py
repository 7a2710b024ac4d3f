"""The plant service: one asyncio program around the same controller `simulate` uses.

Each tick (`service.tick_s` on the service's clock):
1. read the plant (sensors, and the energy exchanged since the last tick) and poll the miners
   (each miner within its own timeout: a stalled one cannot hold the tick);
2. build the observation, let the controller decide (strategy → operator overrides → safety);
3. send the actuator orders and the miner limits (read back by the driver);
4. book the tick in the ledger and the hygiene checker; commit closed ledger rows, new compliance
   events and the state snapshot in one SQLite transaction;
5. publish state on MQTT, queue telemetry, ping the systemd watchdog.
A stop (SIGTERM/SIGINT) ends the loop after a last commit; the miners are left as `service.on_exit`
says, the last state is published, telemetry is flushed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from boiler.baseline import GasBaseline
from boiler.config import PlantConfig
from boiler.control.controller import Controller
from boiler.control.overrides import Overrides
from boiler.control.plant_model import PlantModel
from boiler.control.types import Commands, Decision, MinerReading, Observation
from boiler.hygiene import ComplianceEvent, HygieneChecker
from boiler.ledger import Ledger, LedgerRow, add_row, empty_total, sum_rows
from boiler.service.clock import Clock
from boiler.service.notify import notify
from boiler.service.plant_io import PlantIO, PlantReading
from boiler.store import PlantStore
from miners.driver import MinerDriver
from tank.water import S_PER_DAY

log = logging.getLogger("boiler.service")


@dataclass
class ServiceStatus:
    """What a live view or a health check wants to know, updated every tick."""

    now_s: float = math.nan
    ticks: int = 0
    reading: PlantReading | None = None
    miners: tuple[MinerReading, ...] = ()
    decision: Decision | None = None
    commands: Commands | None = None
    totals: LedgerRow = field(default_factory=empty_total)
    reasons: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=8))
    safe_state: bool = False
    compliant: bool = True
    tick_wall_s: float = 0.0


class PlantService:
    def __init__(
        self,
        cfg: PlantConfig,
        io: PlantIO,
        driver: MinerDriver,
        store: PlantStore,
        clock: Clock,
        *,
        exchanger_ua_w_per_k: float,
        telemetry: Any | None = None,
        mqtt: Any | None = None,
        on_status: Callable[[ServiceStatus], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.io = io
        self.driver = driver
        self.store = store
        self.clock = clock
        self.telemetry = telemetry
        self.mqtt = mqtt
        self.on_status = on_status
        self.tick_s = cfg.service.tick_s
        self.site = cfg.site.name
        self.tz = ZoneInfo(cfg.site.timezone)
        self.overrides = Overrides.from_state(store.state("overrides", {}))
        self.model = PlantModel.from_config(cfg, exchanger_ua_w_per_k)
        self.controller = Controller(cfg, self.model, overrides=self.overrides)
        passes = store.state("hygiene_last_pass_s", {}) or {}
        self.checker = HygieneChecker(cfg.hygiene, {t.name: t.role for t in cfg.tanks},
                                      last_cycle_pass_s={k: v for k, v in passes.items() if v is not None})
        now = clock.now_s()
        interval = cfg.service.ledger_interval_s
        self.ledger = Ledger(now - now % interval, cfg.mining, cfg.prices.gas, cfg.co2, interval_s=interval,
                             baseline=GasBaseline.from_config(cfg))
        snapshot = store.state("ledger_open")
        if snapshot is not None:
            self.ledger.restore(snapshot)
        self.controller.restore_budget(store.state("miner_budget", {}) or {}, self._local(now)[2])
        self.status = ServiceStatus(totals=sum_rows(store.ledger_rows()))
        self._events_stored = 0
        self._last_tick_s: float | None = store.state("last_tick_s")
        io_state = store.state("plant_io")
        if io_state and hasattr(io, "restore"):
            io.restore(io_state)
        self._hashprice_net = cfg.mining.hashprice.gross_eur_per_ph_day() * (1 - cfg.mining.pool_fee)

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> None:
        start = self.clock.now_s()
        # Ticks fall on multiples of tick_s, so ledger rows keep to whole hours across restarts.
        next_tick = start
        notify("READY=1", f"STATUS=controlling site {self.site}")
        log.info("service_started site=%s tick_s=%g strategy=%s", self.site, self.tick_s,
                 self.controller.strategy_name)
        try:
            while not stop.is_set():
                await self.tick()
                notify("WATCHDOG=1")
                next_tick = (math.floor(next_tick / self.tick_s) + 1) * self.tick_s
                if duration_s is not None and next_tick - start > duration_s + 1e-6:
                    break
                sleeper = asyncio.create_task(self.clock.sleep_until(next_tick))
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
                for t in (sleeper, stopper):
                    t.cancel()
        finally:
            await self.shutdown()

    async def tick(self) -> None:
        wall0 = time.perf_counter()
        now = self.clock.now_s()
        dt = self.tick_s if self._last_tick_s is None else max(0.0, now - self._last_tick_s)
        reading, polled = await asyncio.gather(self.io.read(now), self.driver.poll())
        miners = tuple(MinerReading.from_driver(r) for r in polled)
        self._apply_operator_commands(now)
        minute, weekday, day = self._local(now)
        price = self.cfg.prices.electricity.price(minute)
        obs = self._observe(now, minute, weekday, price, reading, miners)
        commands = self.controller.tick(obs, day)
        decision = self.controller.last_decision
        await self.io.act(commands)
        if commands.miner_limits_w:
            for result in await self.driver.apply(commands.miner_limits_w):
                if not result.ok:
                    log.warning("miner_command_failed miner=%s kind=%s error=%s", result.name, result.kind,
                                result.error)

        # Book what happened since the last tick; what the plant does not meter comes from the miners.
        flows = reading.flows
        if not reading.electricity_metered:
            flows.electricity_j = dt * sum(m.power_w for m in self.status.miners if m.available)
        if not reading.hashrate_metered:
            flows.hash_ths_s = dt * sum(m.hashrate_ths for m in self.status.miners if m.available)
        self.ledger.add(now, price, flows)
        outlet = reading.outlet_c if reading.outlet_c is not None else math.nan
        loop_ret = reading.loop_return_c if reading.loop_return_c is not None else outlet
        if dt > 0:
            self.checker.update(now, dt, outlet, loop_ret, reading.store_min_c)
        closed = self.ledger.pop_closed()
        new_events = self.checker.events[self._events_stored:]
        self.store.commit(rows=closed, state=self._snapshot(now), events=[_event_row(e) for e in new_events])
        self._events_stored = len(self.checker.events)
        self._last_tick_s = now

        s = self.status
        for row in closed:
            add_row(s.totals, row)
        s.now_s, s.reading, s.miners, s.decision, s.commands = now, reading, miners, decision, commands
        s.ticks += 1
        s.safe_state = commands.reason.startswith("safe:")
        s.compliant = self.checker.summary().compliant
        if not s.reasons or s.reasons[-1][1] != commands.reason:
            s.reasons.append((now, commands.reason))
            log.info("decision at=%s reason=%s miners_w=%.0f gas=%s setpoint_c=%.1f", _iso(now), commands.reason,
                     decision.miner_power_w if decision else 0.0, commands.gas_enable, commands.gas_setpoint_c)
        await self._publish(now, obs, decision, miners, closed, new_events)
        s.tick_wall_s = time.perf_counter() - wall0
        if self.on_status is not None:
            self.on_status(s)

    def _observe(self, now: float, minute: int, weekday: int, price: float, reading: PlantReading,
                 miners: tuple[MinerReading, ...]) -> Observation:
        return Observation(
            now_s=now,
            local_minute=minute,
            local_weekday=weekday,
            sensors_c=reading.sensors_c,
            outlet_c=reading.outlet_c,
            loop_return_c=reading.loop_return_c,
            coolant_in_c=reading.coolant_in_c,
            coolant_out_c=reading.coolant_out_c,
            miners=miners,
            gas_firing=reading.gas_firing,
            electricity_eur_per_kwh=price,
            hashprice_eur_per_ph_day=self._hashprice_net,
            cold_water_c=reading.cold_water_c if reading.cold_water_c is not None else 12.0,
            legionella_due=self.checker.cycle_due(now, horizon_s=S_PER_DAY),
            legionella_last_pass_s=self.checker.last_required_pass_s(),
        )

    def _snapshot(self, now: float) -> dict[str, Any]:
        return {
            "ledger_open": self.ledger.snapshot(),
            "miner_budget": self.controller.budget_state(),
            "hygiene_last_pass_s": {t.name: self.checker.last_cycle_pass_s(t.name) for t in self.cfg.tanks},
            "overrides": self.overrides.to_state(),
            "last_tick_s": now,
            "plant_io": self.io.snapshot() if hasattr(self.io, "snapshot") else None,
        }

    def _local(self, now_s: float) -> tuple[int, int, int]:
        local = datetime.fromtimestamp(now_s, self.tz)
        return local.hour * 60 + local.minute, local.weekday(), local.toordinal()

    # -- operators (MQTT commands) -------------------------------------------------------------
    def _apply_operator_commands(self, now_s: float) -> None:
        if self.mqtt is None:
            return
        for cmd in self.mqtt.drain_commands():
            if cmd.kind == "mode":
                self.overrides.set_mode(cmd.mode)
            elif cmd.kind == "setpoint" and cmd.target == "outlet_c":
                self.overrides.outlet_setpoint_c = cmd.value_c
            elif cmd.kind == "setpoint" and cmd.target == "tank_c":
                self.overrides.tank_setpoint_c = cmd.value_c
            elif cmd.kind == "override":
                until = cmd.expires_at.timestamp() if cmd.expires_at is not None else None
                self.overrides.set_item(cmd.item, cmd.value, until)
            log.info("operator_command kind=%s detail=%s", cmd.kind, cmd.model_dump(mode="json"))

    # -- outputs -------------------------------------------------------------------------------
    async def _publish(self, now: float, obs: Observation, decision: Decision | None,
                       miners: tuple[MinerReading, ...], closed: list[LedgerRow],
                       events: Sequence[ComplianceEvent] = ()) -> None:
        s = self.status
        if self.mqtt is not None:
            totals = _totals_with_open(s.totals, self.ledger)
            active = self.overrides.active(now)
            state = {
                "mode": self.overrides.mode,
                "reason": s.commands.reason if s.commands else "",
                "safe_state": s.safe_state,
                "setpoint/outlet_c": self.overrides.outlet_setpoint_c or self.cfg.control.setpoint_c,
                "miners/power_w": sum(m.power_w for m in miners),
                "miners/hashrate_ths": sum(m.hashrate_ths for m in miners),
                "miners/online": sum(1 for m in miners if m.available),
                "heat/miners_kwh": totals.heat_from_miners_kwh,
                "heat/gas_kwh": totals.heat_from_gas_kwh,
                "money/revenue_eur": totals.mining_revenue_eur,
                "money/net_eur": -totals.net_cost_eur,
            }
            # Every override item, also when none is active: an expired or cleared override must not
            # linger in the retained tree (None and "auto" are the documented "no override").
            power = active.get("miner_power_w")
            state["override/miner_power_w"] = None if power is None else float(power)
            for item in ("gas_enable", "charging_pump"):
                state[f"override/{item}"] = "auto" if item not in active else "on" if active[item] else "off"
            state["setpoint/tank_c"] = self.overrides.tank_setpoint_c
            try:
                self.mqtt.publish_state(state)
            except (KeyError, ValueError) as exc:
                log.warning("mqtt_state_rejected error=%s", exc)
        if self.telemetry is not None:
            await self._submit_telemetry(now, obs, decision, miners, closed, events)

    async def _submit_telemetry(self, now: float, obs: Observation, decision: Decision | None,
                                miners: tuple[MinerReading, ...], closed: list[LedgerRow],
                                events: Sequence[ComplianceEvent] = ()) -> None:
        from boiler.telemetry import schema

        at = datetime.fromtimestamp(now, UTC)
        plant = {
            "outlet_c": obs.outlet_c, "loop_return_c": obs.loop_return_c, "cold_water_c": obs.cold_water_c,
            "coolant_in_c": obs.coolant_in_c, "coolant_out_c": obs.coolant_out_c, "gas_firing": obs.gas_firing,
            "electricity_eur_per_kwh": obs.electricity_eur_per_kwh,
            "hashprice_eur_per_ph_day": obs.hashprice_eur_per_ph_day, "legionella_due": obs.legionella_due,
            "safe_state": self.status.safe_state, "miners_power_w": sum(m.power_w for m in miners),
            "hashrate_ths": sum(m.hashrate_ths for m in miners), "sensors_c": obs.sensors_c,
        }
        cmds = self.status.commands
        if cmds is not None:
            plant.update(charge_pump=cmds.charge_pump, gas_enable=cmds.gas_enable,
                         gas_setpoint_c=cmds.gas_setpoint_c, destratify=cmds.destratify, dry_cooler=cmds.dry_cooler)
        points = schema.plant_points(self.site, at, plant)
        points += schema.miner_points(self.site, at, [
            {"name": m.name, "power_w": m.power_w, "hashrate_ths": m.hashrate_ths, "power_limit_w": m.limit_w,
             "available": m.available, "state": m.state} for m in miners])
        if decision is not None:
            d = {"strategy": self.controller.strategy_name, "reason": decision.reason,
                 "miner_power_w": decision.miner_power_w, "charge_pump": decision.charge_pump,
                 "gas_enable": decision.gas_enable, "gas_setpoint_c": decision.gas_setpoint_c,
                 "destratify": decision.destratify, "dump_heat": decision.dump_heat, "force": decision.force}
            points.append(schema.decision_point(self.site, at, d))
        for row in closed:
            points.append(schema.ledger_point(self.site, datetime.fromtimestamp(row.end_s, UTC), row))
        points += [schema.compliance_point(self.site, ev) for ev in events]
        await self.telemetry.submit(points)

    async def shutdown(self) -> None:
        """Leave the plant as configured, record a last snapshot, flush what is queued."""
        notify("STOPPING=1")
        on_exit = self.cfg.service.on_exit
        names = [m.name for m in self.cfg.miners]
        if names and on_exit != "keep":
            target = None if on_exit == "sleep" else self.cfg.control.safe_miner_power_w or None
            try:
                await asyncio.wait_for(self.driver.apply(dict.fromkeys(names, target)),
                                       timeout=self.cfg.service.miner_timeout_s * 2)
            except (TimeoutError, OSError) as exc:
                log.warning("shutdown_miners_failed error=%s", exc)
        now = self.clock.now_s()
        self.store.commit(state=self._snapshot(self._last_tick_s or now))
        if self.mqtt is not None:
            try:
                self.mqtt.publish_state({"reason": "stopped"})
                await self.mqtt.flush(2.0)
            except Exception as exc:  # a broken link must not block the shutdown
                log.warning("shutdown_mqtt_failed error=%s", exc)
        if self.telemetry is not None:
            await self.telemetry.flush(self.cfg.service.miner_timeout_s)
        log.info("service_stopped site=%s ticks=%d", self.site, self.status.ticks)


def _event_row(ev: Any) -> dict[str, Any]:
    return {"kind": ev.kind, "store": ev.store, "start_s": ev.start_s, "end_s": ev.end_s,
            "extreme_c": ev.extreme_c, "violation": ev.violation, "detail": ev.detail}


def _totals_with_open(closed: LedgerRow, ledger: Ledger) -> LedgerRow:
    """Closed rows plus the interval in progress, for live displays."""
    total = replace(closed)
    snap = ledger.snapshot()
    j = 3.6e6
    total.heat_from_miners_kwh += snap["miner_heat_j"] / j
    total.heat_from_gas_kwh += snap["gas_heat_j"] / j
    total.electricity_kwh += snap["electricity_j"] / j
    total.electricity_cost_eur += snap["electricity_eur"]
    total.mining_revenue_eur += snap["hash_ths_s"] * ledger.revenue_per_ths_s
    total.gas_cost_eur += snap["gas_fuel_j"] * ledger.gas_eur_per_j
    return total


def _iso(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
