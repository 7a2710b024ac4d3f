"""The simulation with its miners behind real sockets: emulated firmware reached through pyasic.

The plant's physics is unchanged; only the path of the miner readings and commands differs. Each
decision tick polls the fleet through the `MinerDriver` (pyasic over loopback), the controller
decides on what pyasic reported, and the limits go back through pyasic to the emulated firmware,
whose miner physics the plant then runs on the same virtual clock. If the product works here, the
same code path works on real miners.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import date
from typing import Any

from boiler.config import PlantConfig
from boiler.control.types import MinerReading
from boiler.simulation import Simulation, SimulationResult
from miners.config import MinerConfig
from miners.driver import MinerDriver
from miners.emulator import EmulatedMiner, EmulatorFleet

log = logging.getLogger(__name__)


class VirtualClock:
    """Seconds on the simulation's clock; the emulated firmware keeps time by it."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


class _LivePhysics:
    """The plant's handle on an emulated miner's physics. The emulator replaces the model when the
    miner reboots, so every access goes to the current one."""

    def __init__(self, miner: EmulatedMiner) -> None:
        self._miner = miner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._miner.model, name)


def live_physics(cfg: PlantConfig, fleet: EmulatorFleet) -> list[Any]:
    """The plant's handles on the emulated miners' physics, in config order."""
    by_name = {m.name: m for m in fleet.miners}
    return [_LivePhysics(by_name[m.name]) for m in cfg.miners]


def emulated_fleet(cfg: PlantConfig, first_ip: str, clock: VirtualClock) -> EmulatorFleet:
    """One emulated miner per configured miner, on consecutive loopback addresses."""
    base = ipaddress.ip_address(first_ip)
    miners = [
        EmulatedMiner(m.model, str(base + i), name=m.name, clock=clock) for i, m in enumerate(cfg.miners)
    ]
    return EmulatorFleet(miners)


async def run_with_driver(
    cfg: PlantConfig,
    days: float,
    start: date,
    fleet: EmulatorFleet,
    driver: MinerDriver,
    clock: VirtualClock,
    *,
    scenario: str = "custom",
    strategy: str | None = None,
    seed: int = 1,
) -> SimulationResult:
    """Run the simulation with the miners reached through `driver`; the fleet must be started."""
    sim = Simulation(cfg, days, start, scenario=scenario, strategy=strategy, seed=seed,
                     miners=live_physics(cfg, fleet))
    clock.now_s = sim.plant.now_s
    while not sim.done:
        clock.now_s = sim.plant.now_s
        if sim.control_due():
            fleet.set_coolant_inlet(sim.plant.coolant.inlet_c)
            await fleet.settle()
            readings = tuple(MinerReading.from_driver(r) for r in await driver.poll())
            commands = sim.tick(readings, apply_miners=False).commands
            if commands.miner_limits_w:
                for result in await driver.apply(commands.miner_limits_w):
                    if not result.ok:
                        log.warning("miner_command_failed miner=%s kind=%s error=%s", result.name, result.kind,
                                    result.error)
        sim.advance()
    return sim.result()


def driver_configs(cfg: PlantConfig, fleet: EmulatorFleet) -> list[MinerConfig]:
    """The config's miners pointed at their emulated addresses."""
    hosts = {m.name: m.ip for m in fleet.miners}
    return [m.model_copy(update={"host": hosts[m.name]}) for m in cfg.miners]
