"""The simulated plant standing in for the tank, its sensors and its actuators in the service (`demo`).

`read(now)` runs the physics up to `now` and hands the loop every physics step as its own flow
sample, so the service books and checks hygiene step by step exactly as `simulate` does. The miners
are the emulated ones (their physics lives in the emulator, reached through pyasic), so only the
actuators are applied here.
"""

from __future__ import annotations

from collections.abc import Callable

from boiler.control.types import Commands
from boiler.ledger import EnergyFlows, add_flows
from boiler.loop import FlowSample, PlantReading
from boiler.plant.simulated import SimulatedPlant
from boiler.simulation.runner import plant_reading


class SimulatedPlantIO:
    def __init__(self, plant: SimulatedPlant, on_read: Callable[[PlantReading], None] | None = None) -> None:
        self.plant = plant
        self.on_read = on_read
        #: Everything the plant exchanged since this object was made (this run's truth).
        self.total = EnergyFlows()

    async def read(self, now_s: float) -> PlantReading:
        plant = self.plant
        samples = []
        while plant.now_s + plant.step_s <= now_s + 1e-6:
            flows = plant.step()
            add_flows(self.total, flows)
            samples.append(FlowSample(end_s=plant.now_s, flows=flows, store_min_c=plant.store_min_c(),
                                      dt_s=plant.step_s))
        reading = plant_reading(plant, tuple(samples))
        if self.on_read is not None:
            self.on_read(reading)
        return reading

    async def act(self, commands: Commands) -> None:
        self.plant.apply(commands, miners=False)

    def snapshot(self) -> dict[str, float]:
        return {}  # the simulated plant meters nothing: its flows are exact

    def restore(self, state: dict[str, float]) -> None:
        return None
