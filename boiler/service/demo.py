"""`boiler demo`: the real service, end to end, on one machine with nothing else installed.

Emulated miners listen on loopback and are reached through unmodified pyasic; the simulated
plant stands in for the tank, its sensors and actuators (in process, or over MQTT when the
config has a broker); the ledger and the controller's memory go to a local SQLite file;
telemetry goes to InfluxDB when configured. Time is virtual and runs `speed` times faster
than real time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from boiler.config import PlantConfig
from boiler.hil import emulated_fleet, live_physics
from boiler.ledger import baseline_summary, sum_rows
from boiler.service.clock import PacedClock
from boiler.service.mqtt_io import MqttPlantIO, SimulatedDevices, device_mqtt_config
from boiler.service.plant_io import PlantReading, SimulatedPlantIO
from boiler.service.service import PlantService, ServiceStatus
from boiler.simulation import SUMMARY_KEYS, build_plant, local_midnight_s
from boiler.store import PlantStore
from miners.fleet import PyasicFleet
from tank.water import J_PER_KWH, S_PER_DAY


@dataclass
class DemoOptions:
    speed: float = 60.0
    duration_s: float | None = None
    start: date = date(2026, 1, 5)
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
    min_outlet = min_loop_return = math.inf

    def coolant_to_firmware(reading: PlantReading) -> None:
        nonlocal min_outlet, min_loop_return
        fleet.set_coolant_inlet(plant.coolant.inlet_c)
        min_outlet = min(min_outlet, reading.flows.outlet_c)
        if reading.loop_return_c is not None:
            min_loop_return = min(min_loop_return, reading.loop_return_c)

    stop = stop or asyncio.Event()
    devices: SimulatedDevices | None = None
    if cfg.mqtt is not None:
        # The plant talks MQTT: simulated field devices publish its sensors and obey its actuators.
        if not cfg.mqtt.sensors and not cfg.mqtt.actuators:
            cfg.mqtt = device_mqtt_config(cfg, cfg.mqtt)
        devices = SimulatedDevices(plant, cfg.mqtt, cfg)
    async with fleet, _optional_mqtt(cfg, clock) as mqtt, _optional_telemetry(cfg) as telemetry:
        if devices is not None and mqtt is not None:
            await devices.start()
            devices.on_advance = lambda: fleet.set_coolant_inlet(plant.coolant.inlet_c)
            io: Any = MqttPlantIO(cfg, mqtt, pre_read=lambda now: devices.sync(now, mqtt))
            await mqtt.wait_connected(10.0)
        else:
            io = SimulatedPlantIO(plant, on_read=coolant_to_firmware)
        driver = PyasicFleet(_driver_configs(cfg, fleet), timeout_s=cfg.service.miner_timeout_s, clock=clock)
        try:
            with PlantStore(opts.state_path) as store:
                service = PlantService(cfg, io, driver, store, clock,
                                       exchanger_ua_w_per_k=plant.exchanger.ua_w_per_k,
                                       telemetry=telemetry, mqtt=mqtt, on_status=on_status)
                await service.run(stop, duration_s=opts.duration_s)
                service.ledger.close(service.clock.now_s())
                rows = store.ledger_rows() + service.ledger.pop_closed()
        finally:
            if devices is not None:
                await devices.stop()
    totals = asdict(sum_rows(rows))
    # The summary's physical keys come from the simulated plant in this run (over MQTT the ledger
    # books what meters measure, without tank or loop losses; a resumed state file holds earlier
    # runs too); the money comes from the ledger in the state file.
    if devices is not None:
        min_outlet = devices.min_outlet_c
        totals.update(_physical_kwh(devices.flows))
    else:
        totals.update(_physical_kwh(io.total))
    stored_kwh = (plant.energy_j() - e0) / J_PER_KWH
    hygiene = service.checker.summary()
    summary: dict[str, Any] = {
        "scenario": scenario,
        "strategy": service.controller.strategy_name,
        "days": (clock.now_s() - local_midnight_s(cfg, opts.start)) / S_PER_DAY,
        "dhw_volume_l": totals["dhw_volume_l"],
        "dhw_heat_kwh": totals["dhw_heat_kwh"],
        "dhw_volume_below_setpoint_l": totals["dhw_volume_below_setpoint_l"],
        "min_outlet_temp_c": min_outlet,
        "heat_from_miners_kwh": totals["heat_from_miners_kwh"],
        "heat_from_gas_kwh": totals["heat_from_gas_kwh"],
        "heat_dumped_kwh": totals["heat_dumped_kwh"],
        "electricity_kwh": totals["electricity_kwh"],
        "gas_fuel_kwh": totals["gas_fuel_kwh"],
        "tank_losses_kwh": totals["tank_losses_kwh"],
        "loop_losses_kwh": totals["loop_losses_kwh"],
        "stored_energy_change_kwh": stored_kwh,
        "energy_balance_error_kwh": totals["heat_from_miners_kwh"] + totals["heat_from_gas_kwh"]
        - totals["dhw_heat_kwh"] - totals["tank_losses_kwh"] - totals["loop_losses_kwh"] - stored_kwh,
        "mining_revenue_eur": totals["mining_revenue_eur"],
        "electricity_cost_eur": totals["electricity_cost_eur"],
        "gas_cost_eur": totals["gas_cost_eur"],
        "net_cost_eur": totals["electricity_cost_eur"] + totals["gas_cost_eur"] - totals["mining_revenue_eur"],
        "btc_mined": totals["btc_mined"],
        "co2_kg": totals["co2_kg"],
        **baseline_summary(sum_rows(rows)),
        "power_limit_changes": service.controller.limit_changes,
        "gas_starts": plant.gas_starts(),
        "legionella_compliant": hygiene.compliant,
        "hygiene_preset": hygiene.preset,
        "hygiene_violations": hygiene.violations,
        "legionella_cycles_passed": hygiene.cycles_passed,
        "min_loop_return_c": min_loop_return if math.isfinite(min_loop_return) else None,
        "miner_heat_share": _share(totals["heat_from_miners_kwh"], totals["heat_from_gas_kwh"]),
        "wall_seconds": time.perf_counter() - wall0,
        "speed": opts.speed,
        "ticks": service.status.ticks,
        "ledger_rows": len(rows),
        "state_path": str(opts.state_path),
    }
    assert set(SUMMARY_KEYS) <= set(summary)
    return summary


def _physical_kwh(f: Any) -> dict[str, float]:
    return {"dhw_volume_l": f.dhw_volume_l, "dhw_heat_kwh": f.dhw_heat_j / J_PER_KWH,
            "dhw_volume_below_setpoint_l": f.dhw_volume_below_l, "heat_from_miners_kwh": f.miner_heat_j / J_PER_KWH,
            "heat_from_gas_kwh": f.gas_heat_j / J_PER_KWH, "heat_dumped_kwh": f.dumped_j / J_PER_KWH,
            "tank_losses_kwh": f.tank_loss_j / J_PER_KWH, "loop_losses_kwh": f.loop_loss_j / J_PER_KWH}


def _share(a: float, b: float) -> float:
    return a / (a + b) if a + b > 0 else 0.0


def _driver_configs(cfg: PlantConfig, fleet: Any) -> list[Any]:
    from boiler.hil import driver_configs

    return driver_configs(cfg, fleet)


class _Nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _optional_mqtt(cfg: PlantConfig, clock: PacedClock) -> Any:
    if cfg.mqtt is None:
        return _Nothing()
    from boiler.mqtt import PlantMqtt

    # Override expiries and `until` are plant time: with the wall clock, an override sent to a demo
    # running in January while the calendar says November would not expire for ten months.
    return PlantMqtt(cfg.mqtt, clock=clock, wall_clock=lambda: datetime.fromtimestamp(clock.now_s(), UTC))


def _optional_telemetry(cfg: PlantConfig) -> Any:
    if cfg.telemetry is None:
        return _Nothing()
    from boiler.telemetry import Telemetry

    return Telemetry(cfg.telemetry)
