"""Who hears of each tick: MQTT state, telemetry, the live view, the systemd watchdog.

Each publisher reads the tick record (`boiler.loop.TickRecord`) and the service's status through
one small protocol; the payloads are built by the MQTT and telemetry packages from typed data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from boiler.control.overrides import Overrides
from boiler.loop import TickRecord
from boiler.mqtt.commands import Command
from boiler.mqtt.state import PlantState, StateValue
from boiler.service.notify import notify
from boiler.service.status import ServiceStatus
from boiler.telemetry.point import Point
from boiler.telemetry.tick import tick_points

log = logging.getLogger("boiler.service")


class TickPublisher(Protocol):
    async def publish(self, record: TickRecord, status: ServiceStatus) -> None: ...

    async def stop(self, timeout_s: float) -> None:
        """The service stops: say so and send what is queued, within `timeout_s`."""


class StateLink(Protocol):
    """The MQTT link's state side (`boiler.mqtt.PlantMqtt`)."""

    def publish_state(self, values: Mapping[str, StateValue]) -> None: ...

    async def flush(self, timeout_s: float) -> bool: ...


class CommandSource(Protocol):
    """Operators' commands (`boiler.mqtt.PlantMqtt`): each accepted command once."""

    def drain_commands(self) -> list[Command]: ...


class ServiceLink(StateLink, CommandSource, Protocol):
    pass


class TelemetrySink(Protocol):
    """`boiler.telemetry.Telemetry`: durable, batched writes."""

    async def submit(self, points: Iterable[Point]) -> object: ...

    async def flush(self, timeout_s: float | None = None) -> bool: ...


class MqttStatePublisher:
    def __init__(self, link: StateLink, overrides: Overrides, configured_setpoint_c: float) -> None:
        self.link = link
        self.overrides = overrides
        self.configured_setpoint_c = configured_setpoint_c

    def state(self, record: TickRecord, status: ServiceStatus) -> PlantState:
        o, totals, miners = self.overrides, status.live_totals, record.observation.miners
        active = o.active(record.now_s)
        power = active.get("miner_power_w")

        def switch(item: str) -> str:
            return "auto" if item not in active else "on" if active[item] else "off"

        return PlantState(
            mode=o.mode, reason=record.commands.reason, decided_by=record.decided_by, safe_state=record.safe_state,
            outlet_setpoint_c=o.outlet_setpoint_c or self.configured_setpoint_c, tank_setpoint_c=o.tank_setpoint_c,
            override_miner_power_w=None if power is None else float(power),
            override_gas_enable=switch("gas_enable"), override_charging_pump=switch("charging_pump"),
            miners_power_w=sum(m.power_w for m in miners), miners_hashrate_ths=sum(m.hashrate_ths for m in miners),
            miners_online=sum(1 for m in miners if m.available), heat_miners_kwh=totals.heat_from_miners_kwh,
            heat_gas_kwh=totals.heat_from_gas_kwh, revenue_eur=totals.mining_revenue_eur,
            net_eur=-totals.net_cost_eur,
        )

    async def publish(self, record: TickRecord, status: ServiceStatus) -> None:
        try:
            self.link.publish_state(self.state(record, status).as_items())
        except (KeyError, ValueError) as exc:
            log.warning("mqtt_state_rejected error=%s", exc)

    async def stop(self, timeout_s: float) -> None:
        try:
            self.link.publish_state({"reason": "stopped"})
            await self.link.flush(timeout_s)
        except Exception as exc:  # a broken link must not block the shutdown
            log.warning("shutdown_mqtt_failed error=%s", exc)


class TelemetryPublisher:
    def __init__(self, sink: TelemetrySink, site: str) -> None:
        self.sink = sink
        self.site = site

    async def publish(self, record: TickRecord, status: ServiceStatus) -> None:
        await self.sink.submit(tick_points(self.site, record))

    async def stop(self, timeout_s: float) -> None:
        await self.sink.flush(timeout_s)


class LiveView:
    """A callback that redraws a view (the demo's rich table) from the status."""

    def __init__(self, redraw: Callable[[ServiceStatus], None]) -> None:
        self.redraw = redraw

    async def publish(self, record: TickRecord, status: ServiceStatus) -> None:
        self.redraw(status)

    async def stop(self, timeout_s: float) -> None:
        return None


class SystemdWatchdog:
    """Pings systemd's watchdog once a tick (nothing outside systemd)."""

    async def publish(self, record: TickRecord, status: ServiceStatus) -> None:
        notify("WATCHDOG=1")

    async def stop(self, timeout_s: float) -> None:
        return None
