"""The simulated plant as the field devices of an MQTT plant (the demo and the tests).

It publishes the plant's sensors and cumulative meters on the topics `MqttPlantIO` reads and obeys
the actuator topics, over a real broker. See `SimulatedDevices`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import Callable
from typing import Any, Protocol

import aiomqtt

from boiler.config import PlantConfig
from boiler.control.types import Commands
from boiler.ledger import EnergyFlows, add_flows
from boiler.mqtt.actuators import ActuatorBank, decode, encode
from boiler.mqtt.client import make_tls_context
from boiler.mqtt.config import ActuatorConfig, MqttConfig, SensorConfig
from boiler.mqtt.sensors import SensorBoard
from boiler.plant.simulated import SimulatedPlant
from boiler.service.mqtt_io import ACTUATORS, METERS, POINT_SENSORS, tank_sensor_name
from tank.water import J_PER_KWH

log = logging.getLogger(__name__)

class ServiceLink(Protocol):
    """What `sync` needs of the service's MQTT link (`boiler.mqtt.PlantMqtt`)."""

    @property
    def connected(self) -> bool: ...

    @property
    def actuators(self) -> ActuatorBank: ...

    @property
    def board(self) -> SensorBoard: ...


def device_mqtt_config(cfg: PlantConfig, base: MqttConfig) -> MqttConfig:
    """`base` (broker, prefix, site) with one sensor per plant measurement and one actuator per
    plant output on `devices/<site>/…` topics: what `SimulatedDevices` publishes and obeys."""
    site = base.site
    sensors = [SensorConfig(name=tank_sensor_name(t.name, s.name), topic=f"devices/{site}/{t.name}/{s.name}",
                            unit="°C", plausible=(-5.0, 110.0), stale_after_s=3 * cfg.service.tick_s)
               for t in cfg.tanks for s in t.sensors]
    sensors += [SensorConfig(name=n, topic=f"devices/{site}/{n}", unit="°C", plausible=(-5.0, 110.0),
                             stale_after_s=3 * cfg.service.tick_s) for n in POINT_SENSORS]
    sensors += [SensorConfig(name=n, topic=f"devices/{site}/meter/{n}", unit="kWh" if n.endswith("kwh") else "L",
                             stale_after_s=3 * cfg.service.tick_s) for n in METERS]
    # The charging pump's setpoint exists only where the charging flow is controlled.
    outputs = {n: k for n, k in ACTUATORS.items() if n != "charging_setpoint" or cfg.charge_target_c is not None}
    actuators = [ActuatorConfig(name=n, kind=kind, topic=f"devices/{site}/set/{n}") for n, kind in outputs.items()]
    return base.model_copy(update={"sensors": sensors, "actuators": actuators})


class SimulatedDevices:
    """The simulated plant acting as the field devices of an MQTT plant.

    It publishes the plant's sensors and cumulative meters and obeys the actuator topics, over a
    real broker. `sync(now)` is called by the demo before each service tick: it waits until the
    orders the service sent have arrived, runs the physics up to `now`, publishes, and waits until
    the service's link has the new values, so each tick sees the plant exactly as it is at `now`
    (a real plant's devices publish on their own schedule instead). Like real devices, they
    reconnect by themselves after a broker restart; while either side is offline nothing is
    awaited and the physics runs on with the last orders received.
    """

    def __init__(self, plant: SimulatedPlant, mqtt: MqttConfig, cfg: PlantConfig) -> None:
        self.plant = plant
        self.mqtt = mqtt
        self.cfg = cfg
        self._meters = dict.fromkeys(METERS, 0.0)
        self._flows = EnergyFlows()
        self._actuators = {a.topic: a for a in mqtt.actuators}
        self._topics = {s.name: s.topic for s in mqtt.sensors}
        self.received: dict[str, Any] = {}
        #: Injected sensor faults, by sensor name: None stops that device publishing (its reading goes
        #: stale); a number is published instead of the true value (say an implausible -127 °C).
        self.faults: dict[str, float | None] = {}
        self._client: Any = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None
        self.min_outlet_c = math.inf
        #: Called after each advance (the demo hands the coolant temperature to the emulated firmware).
        self.on_advance: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Connect (and keep reconnecting); raise if the first connection fails within the timeout."""
        self._task = asyncio.create_task(self._run(), name=f"devices-{self.mqtt.site}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.mqtt.broker.connect_timeout_s)
        except TimeoutError:
            await self.stop()
            raise self.last_error or TimeoutError("simulated devices: no connection to the broker") from None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        b = self.mqtt.broker
        tls = make_tls_context(b.tls) if b.tls is not None else None
        delay_s = b.reconnect_min_s
        while True:
            try:
                async with aiomqtt.Client(
                    b.host, b.effective_port, username=b.username, password=b.resolved_password(None),
                    tls_context=tls, identifier=f"devices-{self.mqtt.site}", timeout=b.connect_timeout_s,
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                ) as client:
                    client.pending_calls_threshold = 2 * len(self._topics) + 10  # one tick's publishes at once
                    for topic in self._actuators:
                        await client.subscribe(topic, qos=1)
                    self._client, delay_s = client, b.reconnect_min_s
                    self._connected.set()
                    await self._listen(client)
            except aiomqtt.MqttError as exc:
                if self.connected:
                    log.warning("devices_disconnected error=%s", exc)
                self.last_error = exc
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(delay_s)
            delay_s = min(2 * delay_s, b.reconnect_max_s)

    async def _listen(self, client: Any) -> None:
        async for message in client.messages:
            config = self._actuators.get(str(message.topic))
            if config is None:
                continue
            try:
                self.received[config.name] = decode(config, message.payload)
            except ValueError as exc:
                log.warning("device_bad_command topic=%s error=%s", message.topic, exc)
                continue
            self._obey()

    def _obey(self) -> None:
        c = self.received
        current = self.plant.commands
        self.plant.apply(Commands(
            miner_limits_w={}, charge_pump=bool(c.get("charging_pump", current.charge_pump)),
            gas_enable=bool(c.get("gas_enable", current.gas_enable)),
            gas_setpoint_c=float(c.get("gas_setpoint", current.gas_setpoint_c)),
            destratify=bool(c.get("destratify_pump", current.destratify)),
            dry_cooler=bool(c.get("dry_cooler", current.dry_cooler)), reason="devices",
            charge_target_c=float(c["charging_setpoint"]) if "charging_setpoint" in c else current.charge_target_c),
            miners=False)

    async def sync(self, now_s: float, link: ServiceLink, timeout_s: float = 5.0) -> None:
        """Bring the devices to `now_s` with the service's link (see the class docstring)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s

        def online() -> bool:
            return self.connected and bool(link.connected)

        sent = dict(link.actuators.current())
        while online() and self.orders_pending(sent) and loop.time() < deadline:
            await asyncio.sleep(0.002)
        if online() and self.orders_pending(sent):
            log.warning("devices_orders_timeout at=%s pending=%s", now_s, ",".join(self.orders_pending(sent)))
        self.advance(now_s)
        if self.on_advance is not None:
            self.on_advance()
        last = await self.publish()
        if last is None:
            return
        while online() and loop.time() < deadline:
            # The last message sent arrived (trusted or not): everything before it has too.
            r = link.board.reading(last, now_s)
            if r.age_s is not None and r.age_s <= 0.0 and r.status in ("ok", "implausible"):
                return
            await asyncio.sleep(0.002)
        if online():
            log.warning("devices_sync_timeout at=%s", now_s)

    def orders_pending(self, sent: dict[str, Any]) -> list[str]:
        """The actuators whose last order `sent` has not arrived yet. An order is compared as it
        travels: the payload is rounded (a setpoint of 57.12345 °C goes out as "57.123")."""
        by_name = {a.name: a for a in self._actuators.values()}
        pending = []
        for name, value in sent.items():
            config = by_name.get(name)
            wire = value if config is None else decode(config, encode(config, value))
            if self.received.get(name) != wire:
                pending.append(name)
        return pending

    def advance(self, now_s: float) -> None:
        plant = self.plant
        while plant.now_s + plant.step_s <= now_s + 1e-6:
            step = plant.step()
            add_flows(self._flows, step)
            self.min_outlet_c = min(self.min_outlet_c, step.outlet_c)
        f = self._flows
        self._meters = {"miner_heat_kwh": f.miner_heat_j / J_PER_KWH, "gas_kwh": f.gas_fuel_j / J_PER_KWH,
                        "dhw_volume": f.dhw_volume_l, "electricity_kwh": f.electricity_j / J_PER_KWH}

    def values(self) -> dict[str, float]:
        """What each device would publish now, by sensor name (faults applied), the outlet last."""
        plant = self.plant
        true: dict[str, float | None] = {
            tank_sensor_name(*key.split(".", 1)): v for key, v in plant.sensor_values().items()}
        true.update(loop_return=plant.loop_return_c, coolant_in=plant.coolant.inlet_c,
                    coolant_out=plant.coolant_out_c, cold_water=plant.cold_water_c, **self._meters)
        true["outlet"] = plant.outlet_c  # last: `sync` waits for the last one sent
        out = {}
        for name, value in true.items():
            if name in self.faults:
                value = self.faults[name]
            if name in self._topics and value is not None and math.isfinite(value):
                out[name] = value
        return out

    async def publish(self) -> str | None:
        """Publish every sensor; the name of the last one sent, or None if nothing could be sent."""
        client, values = self._client, self.values()
        if client is None or not values:
            return None
        try:
            # Calls start in order, so the messages leave in order; the acks are awaited together.
            await asyncio.gather(*(client.publish(self._topics[name], f"{value:.6f}", qos=1)
                                   for name, value in values.items()))
        except aiomqtt.MqttError as exc:
            log.warning("devices_publish_failed error=%s", exc)
            return None
        return next(reversed(values))

    @property
    def flows(self) -> EnergyFlows:
        """Everything the simulated plant exchanged (the truth the meters measure)."""
        return self._flows
