"""`boiler demo`: the real service, end to end, on one machine with nothing else installed.

Emulated miners listen on loopback and are reached through unmodified pyasic; the simulated
plant stands in for the tank, its sensors and actuators (in process, or over MQTT when the
config has a broker); the ledger and the controller's memory go to a local SQLite file;
telemetry goes to InfluxDB when configured. Time is virtual and runs `speed` times faster
than real time. The service runs the same loop as `simulate`; only the adapters differ.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from boiler.config import PlantConfig
from boiler.hil import driver_configs, emulated_fleet, live_physics
from boiler.ledger import EnergyFlows, LedgerRow, sum_rows
from boiler.loop import PlantReading
from boiler.service.clock import PacedClock
from boiler.service.links import optional_mqtt, optional_telemetry
from boiler.service.mqtt_io import MqttPlantIO
from boiler.service.plant_io import PlantIO
from boiler.service.service import PlantService, ServiceStatus
from boiler.simulation.build import build_plant, local_midnight_s
from boiler.simulation.devices import SimulatedDevices, device_mqtt_config
from boiler.simulation.plant_io import SimulatedPlantIO
from boiler.site_time import DEFAULT_START
from boiler.store import PlantStore
from boiler.summary import HygieneFigures, build_summary
from miners.fleet import PyasicFleet
from tank.water import J_PER_KWH, S_PER_DAY


@dataclass
class DemoOptions:
    speed: float = 60.0
    duration_s: float | None = None
    start: date = DEFAULT_START
    first_ip: str = "127.0.1.1"
    state_path: Path = Path("boiler-demo.sqlite")
    tick_s: float = 60.0
    seed: int = 1
    horizon_days: float = 366.0


async def run_demo(cfg: PlantConfig, opts: DemoOptions, scenario: str,
                   on_status: Callable[[ServiceStatus], None] | None = None,
                   stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Run until `duration_s` of plant time has passed (or `stop` is set); return the summary."""
    wall0 = time.perf_counter()
    cfg = cfg.model_copy(deep=True)
    cfg.service.tick_s = opts.tick_s
    cfg.service.state_path = opts.state_path
    days = opts.horizon_days if opts.duration_s is None else opts.duration_s / S_PER_DAY + 1.0
    # A demo resumed on an existing state file carries on where that run stopped: the clock starts
    # at its last tick, and the plant (whose state is not stored) is run up to it without booking.
    t0 = local_midnight_s(cfg, opts.start)
    with PlantStore(opts.state_path) as previous:
        last_tick_s = previous.state("last_tick_s")
    begin_s = max(t0, last_tick_s or t0)
    days += (begin_s - t0) / S_PER_DAY
    clock = PacedClock(begin_s, opts.speed)
    fleet = emulated_fleet(cfg, opts.first_ip, clock)
    plant = build_plant(cfg, opts.start, days, opts.seed, live_physics(cfg, fleet))
    while plant.now_s + plant.step_s <= begin_s:
        plant.step()
    e0 = plant.energy_j()

    def coolant_to_firmware(reading: PlantReading) -> None:
        fleet.set_coolant_inlet(plant.coolant.inlet_c)

    stop = stop or asyncio.Event()
    devices: SimulatedDevices | None = None
    if cfg.mqtt is not None:
        # The plant talks MQTT: simulated field devices publish its sensors and obey its actuators.
        if not cfg.mqtt.sensors and not cfg.mqtt.actuators:
            cfg.mqtt = device_mqtt_config(cfg, cfg.mqtt)
        devices = SimulatedDevices(plant, cfg.mqtt, cfg)
    # Override expiries and `until` are plant time: with the wall clock, an override sent to a demo
    # running in January while the calendar says November would not expire for ten months.
    mqtt_cm = optional_mqtt(cfg, clock.now_s, lambda: datetime.fromtimestamp(clock.now_s(), UTC))
    io: PlantIO
    async with fleet, mqtt_cm as mqtt, optional_telemetry(cfg) as telemetry:
        simulated: SimulatedPlantIO | None = None
        if devices is not None and mqtt is not None:
            await devices.start()
            devices.on_advance = lambda: fleet.set_coolant_inlet(plant.coolant.inlet_c)
            link = mqtt
            io = MqttPlantIO(cfg, link, pre_read=lambda now: devices.sync(now, link))
            await mqtt.wait_connected(10.0)
        else:
            io = simulated = SimulatedPlantIO(plant, on_read=coolant_to_firmware)
        driver = PyasicFleet(driver_configs(cfg, fleet), timeout_s=cfg.service.miner_timeout_s, clock=clock)
        try:
            with PlantStore(opts.state_path) as store:
                service = PlantService(cfg, io, driver, store, clock,
                                       exchanger_ua_w_per_k=plant.exchanger.ua_w_per_k,
                                       telemetry=telemetry, mqtt=mqtt, on_status=on_status)
                await service.run(stop, duration_s=opts.duration_s)
                service.loop.ledger.close(service.clock.now_s())
                rows = store.ledger_rows() + service.loop.ledger.pop_closed()
        finally:
            driver.close()  # the kept BOS+ connections
            if devices is not None:
                await devices.stop()
    # The physical figures come from the simulated plant in this run (over MQTT the ledger books what
    # meters measure, without tank or loop losses; a resumed state file holds earlier runs too); the
    # money comes from the ledger in the state file.
    if devices is not None:
        truth, min_outlet = devices.flows, devices.min_outlet_c
    else:
        assert simulated is not None
        truth, min_outlet = simulated.total, service.loop.stats.min_outlet_c
    loop = service.loop
    strategy = loop.strategy_name
    summary = build_summary(
        _with_physical(sum_rows(rows), truth),
        scenario=scenario, strategy=strategy, days=(clock.now_s() - t0) / S_PER_DAY, start=opts.start,
        seed=opts.seed, step_s=cfg.simulation.step_s, hygiene=HygieneFigures.of(loop.checker.summary()),
        stored_energy_change_kwh=(plant.energy_j() - e0) / J_PER_KWH, min_outlet_c=min_outlet,
        min_loop_return_c=loop.stats.min_loop_return_c if math.isfinite(loop.stats.min_loop_return_c) else None,
        mean_outlet_c=loop.stats.mean_outlet_c,
        power_limit_changes=loop.controller.limit_changes, gas_starts=plant.gas_starts(),
        decided_by=loop.stats.decided_by,
        warnings=loop.warnings(),
        wall_seconds=time.perf_counter() - wall0,
        extra={"speed": opts.speed, "ticks": service.status.ticks, "ledger_rows": len(rows),
               "state_path": str(opts.state_path)},
    )
    return summary.as_dict()


def _with_physical(totals: LedgerRow, f: EnergyFlows) -> LedgerRow:
    """The ledger's totals with the physical figures of the simulated plant in this run."""
    totals.dhw_volume_l = f.dhw_volume_l
    totals.dhw_heat_kwh = f.dhw_heat_j / J_PER_KWH
    totals.dhw_demand_kwh = f.dhw_demand_j / J_PER_KWH
    totals.dhw_volume_below_setpoint_l = f.dhw_volume_below_l
    totals.heat_from_miners_kwh = f.miner_heat_j / J_PER_KWH
    totals.heat_from_gas_kwh = f.gas_heat_j / J_PER_KWH
    totals.heat_dumped_kwh = f.dumped_j / J_PER_KWH
    totals.tank_losses_kwh = f.tank_loss_j / J_PER_KWH
    totals.loop_losses_kwh = f.loop_loss_j / J_PER_KWH
    return totals
