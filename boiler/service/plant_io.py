"""Where the service's plant readings come from and where its orders go.

`PlantIO` is the seam: the real plant speaks MQTT (`boiler.service.mqtt_io.MqttPlantIO`); the demo
drives the simulated plant (`boiler.simulation.plant_io.SimulatedPlantIO`, in process, or
`boiler.simulation.devices.SimulatedDevices` over MQTT). A reading (`boiler.loop.PlantReading`)
carries the sensors (None where missing, stale or implausible) and the energy the plant exchanged
since the previous reading, for the ledger.
"""

from __future__ import annotations

from typing import Protocol

from boiler.control.types import Commands
from boiler.loop import PlantReading


class PlantIO(Protocol):
    async def read(self, now_s: float) -> PlantReading: ...

    async def act(self, commands: Commands) -> None: ...

    def snapshot(self) -> dict[str, float]:
        """What the I/O must remember across a restart (the last meter readings), stored each tick."""
        ...

    def restore(self, state: dict[str, float]) -> None: ...
