"""The plant service: one asyncio program around the one control loop (`boiler.loop.PlantLoop`).

Each tick (`service.tick_s` on the service's clock):
1. read the plant (sensors, and the energy exchanged since the last tick) and poll the miners
   (each miner within its own timeout: a stalled one cannot hold the tick);
2. take the operators' commands, then one step of the loop: book, observe, decide (strategy →
   operator overrides → safety → allocation);
3. send the actuator orders and the miner limits (read back by the driver);
4. commit closed ledger rows, new compliance events and the loop's state in one SQLite transaction;
5. hand the tick record to the publishers (MQTT state, telemetry), then the live view and watchdog.
A stop (SIGTERM/SIGINT) ends the loop after a last commit; the miners are left as `service.on_exit`
says, the last state is published, telemetry is flushed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from boiler.config import PlantConfig
from boiler.control.controller import Controller
from boiler.control.overrides import Overrides
from boiler.control.plant_model import PlantModel
from boiler.control.types import MinerReading
from boiler.hygiene import HygieneChecker
from boiler.ledger import add_row, sum_rows
from boiler.loop import PlantLoop, TickRecord
from boiler.service.clock import Clock
from boiler.service.notify import notify
from boiler.service.plant_io import PlantIO
from boiler.service.publishers import (
    CommandSource,
    LiveView,
    MqttStatePublisher,
    ServiceLink,
    SystemdWatchdog,
    TelemetryPublisher,
    TelemetrySink,
    TickPublisher,
)
from boiler.service.status import ServiceStatus
from boiler.store import PlantStore
from miners.driver import MinerDriver

log = logging.getLogger("boiler.service")

__all__ = ["PlantService", "ServiceStatus"]


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
        telemetry: TelemetrySink | None = None,
        mqtt: ServiceLink | None = None,
        on_status: Callable[[ServiceStatus], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.io = io
        self.driver = driver
        self.store = store
        self.clock = clock
        self.tick_s = cfg.service.tick_s
        self.site = cfg.site.name
        self.overrides = Overrides.from_state(store.state("overrides", {}))
        now = clock.now_s()
        interval = cfg.service.ledger_interval_s
        restored = {key: store.state(key) for key in ("ledger_open", "miner_budget", "hygiene_last_pass_s",
                                                        "last_tick_s")}
        self.loop = PlantLoop(cfg, PlantModel.from_config(cfg, exchanger_ua_w_per_k), start_s=now - now % interval,
                              overrides=self.overrides, ledger_interval_s=interval, restored=restored)
        io_state = store.state("plant_io")
        if io_state:
            io.restore(io_state)
        self.commands: CommandSource | None = mqtt
        #: Outputs of each tick, then observers that see its wall time (live view, watchdog).
        self.publishers: list[TickPublisher] = []
        if mqtt is not None:
            self.publishers.append(MqttStatePublisher(mqtt, self.overrides, cfg.control.setpoint_c))
        if telemetry is not None:
            self.publishers.append(TelemetryPublisher(telemetry, self.site))
        self.observers: list[TickPublisher] = [SystemdWatchdog()]
        if on_status is not None:
            self.observers.append(LiveView(on_status))
        totals = sum_rows(store.ledger_rows())
        self.status = ServiceStatus(totals=totals, live_totals=totals, strategy=self.loop.strategy_name)

    @property
    def controller(self) -> Controller:
        return self.loop.controller

    @property
    def checker(self) -> HygieneChecker:
        return self.loop.checker

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> None:
        start = self.clock.now_s()
        # Ticks fall on multiples of tick_s, so ledger rows keep to whole hours across restarts.
        next_tick = start
        notify("READY=1", f"STATUS=controlling site {self.site}")
        log.info("service_started site=%s tick_s=%g strategy=%s", self.site, self.tick_s, self.loop.strategy_name)
        try:
            while not stop.is_set():
                await self.tick()
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

    async def tick(self) -> TickRecord:
        wall0 = time.perf_counter()
        now = self.clock.now_s()
        reading, polled = await asyncio.gather(self.io.read(now), self.driver.poll())
        miners = tuple(MinerReading.from_driver(r) for r in polled)
        self._apply_operator_commands()
        record = self.loop.step(reading, miners)
        commands = record.commands
        await self.io.act(commands)
        if commands.miner_limits_w:
            for result in await self.driver.apply(commands.miner_limits_w):
                if not result.ok:
                    log.warning("miner_command_failed miner=%s kind=%s error=%s", result.name, result.kind,
                                result.error)
        self.store.commit(rows=list(record.closed_rows), state=self._snapshot(),
                          events=record.compliance_events)

        s = self.status
        for row in record.closed_rows:
            add_row(s.totals, row)
        s.live_totals = self.loop.ledger.with_open(s.totals)
        s.now_s, s.reading, s.miners, s.decision, s.commands = record.now_s, reading, miners, record.decision, commands
        s.decided_by = record.decided_by
        s.decided_counts = self.loop.stats.decided_by
        s.ticks += 1
        s.safe_state = record.safe_state
        s.compliant = self.loop.checker.summary().compliant
        if record.reason_changed:
            s.reasons.append((record.now_s, commands.reason))
            log.info("decision at=%s reason=%s decided_by=%s miners_w=%.0f gas=%s setpoint_c=%.1f",
                     _iso(record.now_s), commands.reason, record.decided_by, record.decision.miner_power_w,
                     commands.gas_enable, commands.gas_setpoint_c)
        for publisher in self.publishers:
            await publisher.publish(record, s)
        s.tick_wall_s = time.perf_counter() - wall0
        for observer in self.observers:
            await observer.publish(record, s)
        return record

    def _snapshot(self) -> dict[str, Any]:
        return {**self.loop.state(), "overrides": self.overrides.to_state(), "plant_io": self.io.snapshot()}

    # -- operators (MQTT commands) -------------------------------------------------------------
    def _apply_operator_commands(self) -> None:
        if self.commands is None:
            return
        for cmd in self.commands.drain_commands():
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
        self.store.commit(state=self._snapshot())
        for publisher in self.publishers:
            await publisher.stop(self.cfg.service.miner_timeout_s)
        counts = " ".join(f"{who}={n}" for who, n in sorted(self.loop.stats.decided_by.items()))
        log.info("service_stopped site=%s ticks=%d decided_by %s", self.site, self.status.ticks, counts or "-")


def _iso(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
