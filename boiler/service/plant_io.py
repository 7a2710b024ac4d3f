"""Where the service's plant readings come from and where its orders go.

`PlantIO` is the seam: the real plant speaks MQTT (`boiler.service.mqtt_io.MqttPlantIO`), the demo
drives the simulated plant in process (`SimulatedPlantIO`) or over MQTT through simulated devices.
A reading carries the sensors (None where missing, stale or implausible) and the energy the plant
exchanged since the previous reading, for the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Protocol

from boiler.control.types import Commands
from boiler.ledger import EnergyFlows
from boiler.plant.simulated import SimulatedPlant


@dataclass(frozen=True)
class PlantReading:
    at_s: float
    #: Tank sensors by "tank.sensor".
    sensors_c: dict[str, float | None]
    outlet_c: float | None
    loop_return_c: float | None
    coolant_in_c: float | None
    coolant_out_c: float | None
    cold_water_c: float | None
    gas_firing: bool
    #: Coldest known temperature of each store (for the whole-volume hygiene rules).
    store_min_c: dict[str, float]
    flows: EnergyFlows = field(default_factory=EnergyFlows)
    #: Whether `flows` already holds the miners' electricity and hashrate-seconds; if not, the
    #: service books them from the miners' own readings (pyasic wattage and hashrate).
    electricity_metered: bool = True
    hashrate_metered: bool = True


class PlantIO(Protocol):
    async def read(self, now_s: float) -> PlantReading: ...

    async def act(self, commands: Commands) -> None: ...


_SUMMED = tuple(f.name for f in fields(EnergyFlows) if f.name.endswith(("_j", "_l", "_s")))


def add_flows(total: EnergyFlows, step: EnergyFlows) -> None:
    """Accumulate one step's energies and volumes into `total` (temperatures and powers: latest)."""
    for name in _SUMMED:
        setattr(total, name, getattr(total, name) + getattr(step, name))
    total.outlet_c = step.outlet_c if math.isnan(total.outlet_c) else min(total.outlet_c, step.outlet_c)
    total.loop_return_c = step.loop_return_c
    total.gas_power_w = step.gas_power_w
    total.miner_power_w = step.miner_power_w


class SimulatedPlantIO:
    """The simulated plant standing in for the tank, its sensors and its actuators.

    `read(now)` runs the physics up to `now`; miners are the emulated ones (their physics lives in
    the emulator, reached by the controller through pyasic), so only the actuators are applied here.
    """

    def __init__(self, plant: SimulatedPlant, on_read: Callable[[PlantReading], None] | None = None) -> None:
        self.plant = plant
        self.on_read = on_read
        #: Everything the plant exchanged since this object was made (this run's truth).
        self.total = EnergyFlows()

    async def read(self, now_s: float) -> PlantReading:
        plant = self.plant
        total = EnergyFlows()
        while plant.now_s + plant.step_s <= now_s + 1e-6:
            add_flows(total, plant.step())
        add_flows(self.total, total)
        reading = PlantReading(
            at_s=plant.now_s,
            sensors_c=dict(plant.sensor_values()),
            outlet_c=plant.outlet_c,
            loop_return_c=plant.loop_return_c if plant.loop is not None else None,
            coolant_in_c=plant.coolant.inlet_c,
            coolant_out_c=plant.coolant_out_c,
            cold_water_c=plant.cold_water_c,
            gas_firing=plant.gas.firing if plant.gas is not None else False,
            store_min_c=plant.store_min_c(),
            flows=total,
        )
        if self.on_read is not None:
            self.on_read(reading)
        return reading

    async def act(self, commands: Commands) -> None:
        self.plant.apply(commands, miners=False)
