"""The plant over MQTT: sensors and meters in, actuator orders out.

Binding is by name (documented in docs/service.md):
* tank sensors: MQTT sensor `<tank>_<sensor>` (e.g. `store_top`) is the controller's "store.top";
* `outlet`, `loop_return`, `coolant_in`, `coolant_out`, `cold_water` (°C), `gas_firing` (0/1);
* cumulative meters: `miner_heat_kwh` (heat meter on the charging circuit), `gas_kwh` (fuel, PCI),
  `dhw_volume` (hot water drawn, any volume unit), `electricity_kwh` (the miners' supply);
* actuators: `charging_pump`, `gas_enable`, `gas_setpoint`, `dry_cooler`, `destratify_pump`, and with a
  controlled charging flow `charging_setpoint` (the water the charging pump sends to the tank, °C).
Anything not configured is simply absent: a missing tank sensor reads as None (the safety layer
decides what that means), a missing meter books nothing.

The other side, for the demo and the tests, is `boiler.simulation.devices.SimulatedDevices`: the
simulated plant publishing its sensors and meters on those topics as field devices would.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from boiler.config import PlantConfig
from boiler.control.types import Commands
from boiler.ledger import EnergyFlows
from boiler.loop import FlowSample, PlantReading
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH

log = logging.getLogger(__name__)

POINT_SENSORS = ("outlet", "loop_return", "coolant_in", "coolant_out", "cold_water")
METERS = ("miner_heat_kwh", "gas_kwh", "dhw_volume", "electricity_kwh")
ACTUATORS = {"charging_pump": "on_off", "gas_enable": "gas_enable", "gas_setpoint": "gas_setpoint",
             "dry_cooler": "dry_cooler", "destratify_pump": "on_off", "charging_setpoint": "charge_setpoint"}
#: Actuators driven with a temperature, not ON/OFF.
TEMPERATURE_ACTUATORS = frozenset({"gas_setpoint", "charging_setpoint"})


def tank_sensor_name(tank: str, sensor: str) -> str:
    return f"{tank}_{sensor}".replace(".", "_")


class SensorBoard(Protocol):
    def value(self, name: str, now_s: float) -> float | None: ...


class PlantLink(Protocol):
    """What the plant I/O needs of the MQTT link (`boiler.mqtt.PlantMqtt`)."""

    @property
    def board(self) -> SensorBoard: ...

    def set_actuator(self, name: str, value: bool | float) -> bool: ...


class MqttPlantIO:
    """`PlantIO` over a `PlantMqtt` link."""

    def __init__(self, cfg: PlantConfig, link: PlantLink,
                 pre_read: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.cfg = cfg
        self.link = link
        #: Awaited before each read (the demo brings its simulated devices up to date there).
        self.pre_read = pre_read
        self._tank_keys = {f"{t.name}.{s.name}": tank_sensor_name(t.name, s.name) for t in cfg.tanks
                           for s in t.sensors}
        configured = {s.name for s in (cfg.mqtt.sensors if cfg.mqtt else [])}
        self._actuators = {a.name: a for a in (cfg.mqtt.actuators if cfg.mqtt else [])}
        self._configured = configured
        self._last_meter: dict[str, float] = {}
        self._efficiency = cfg.gas_boiler.efficiency_pci if cfg.gas_boiler else 0.92

    def _value(self, name: str, now_s: float) -> float | None:
        if name not in self._configured:
            return None
        return self.link.board.value(name, now_s)

    def _meter_delta(self, name: str, now_s: float) -> float:
        value = self._value(name, now_s)
        if value is None:
            return 0.0
        last = self._last_meter.get(name)
        self._last_meter[name] = value
        if last is None or value < last:  # first reading, or the meter was reset: nothing to book
            return 0.0
        return value - last

    async def read(self, now_s: float) -> PlantReading:
        if self.pre_read is not None:
            await self.pre_read(now_s)
        sensors = {key: self._value(name, now_s) for key, name in self._tank_keys.items()}
        points = {name: self._value(name, now_s) for name in POINT_SENSORS}
        outlet, cold = points["outlet"], points["cold_water"]
        flows = EnergyFlows()
        flows.miner_heat_j = self._meter_delta("miner_heat_kwh", now_s) * J_PER_KWH
        fuel_kwh = self._meter_delta("gas_kwh", now_s)
        flows.gas_fuel_j = fuel_kwh * J_PER_KWH
        flows.gas_heat_j = fuel_kwh * self._efficiency * J_PER_KWH
        flows.electricity_j = self._meter_delta("electricity_kwh", now_s) * J_PER_KWH
        volume = self._meter_delta("dhw_volume", now_s) * 1000.0  # the board gives volumes in m³
        flows.dhw_volume_l = volume
        loop_return = points["loop_return"]
        if loop_return is not None:
            flows.loop_return_c = loop_return
        if outlet is not None:
            flows.outlet_c = outlet
            if cold is not None:
                flows.dhw_heat_j = volume * HEAT_CAPACITY_J_PER_L_K * max(outlet - cold, 0.0)
            if outlet < self.cfg.control.setpoint_c:
                flows.dhw_volume_below_l = volume
        store_min: dict[str, float] = {}
        for t in self.cfg.tanks:
            temps = [sensors[f"{t.name}.{s.name}"] for s in t.sensors]
            known = [v for v in temps if v is not None]
            if known:
                store_min[t.name] = min(known)
        firing = self._value("gas_firing", now_s)
        return PlantReading(
            at_s=now_s, sensors_c=sensors, outlet_c=outlet, loop_return_c=points["loop_return"],
            coolant_in_c=points["coolant_in"], coolant_out_c=points["coolant_out"], cold_water_c=cold,
            gas_firing=bool(firing), samples=(FlowSample(end_s=now_s, flows=flows, store_min_c=store_min),),
            electricity_metered="electricity_kwh" in self._configured, hashrate_metered=False,
        )

    async def act(self, commands: Commands) -> None:
        wanted: dict[str, bool | float] = {
            "charging_pump": commands.charge_pump,
            "gas_enable": commands.gas_enable,
            "gas_setpoint": commands.gas_setpoint_c,
            "dry_cooler": commands.dry_cooler,
            "destratify_pump": commands.destratify,
        }
        if commands.charge_target_c is not None:  # only with a controlled charging flow
            wanted["charging_setpoint"] = commands.charge_target_c
        for name, value in wanted.items():
            config = self._actuators.get(name)
            if config is None:
                continue
            if isinstance(value, bool) and not config.is_bool:
                # An on/off order to a variable device (pump speed, valve): its range's ends.
                low, high = config.value_range or (0.0, 100.0)
                value = high if value else low
            self.link.set_actuator(name, value)

    def snapshot(self) -> dict[str, float]:
        """Last meter readings, so energy metered while the service was down is booked after a restart."""
        return dict(self._last_meter)

    def restore(self, state: dict[str, float]) -> None:
        self._last_meter.update(state)
