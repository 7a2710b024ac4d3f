"""Simulated sites written into InfluxDB through the project's telemetry path, for the dashboard tests.

The simulation is stepped as ``run_simulation`` steps it; at every control tick the observation,
the commands and the controller's decision become points through the schema builders
(``boiler.telemetry.schema``) with the same mapping the service uses (``Service._submit_telemetry``),
each closed ledger row one ledger point stamped at its end (``ledger_row_point``), and each event
of the hygiene log one compliance point (``compliance_point``). Every point then goes through ``Telemetry``
(outbox → writer → influxdb-client) into the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from boiler import scenarios
from boiler.control.types import Commands, Observation
from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow
from boiler.simulation import Simulation
from boiler.telemetry import Point, Telemetry, TelemetryConfig, schema


@dataclass(frozen=True)
class SimulatedSite:
    site: str
    summary: dict[str, Any]
    ledger: list[LedgerRow]
    events: list[ComplianceEvent]
    points: list[Point]


def _tick_points(site: str, sim: Simulation, obs: Observation, cmds: Commands) -> list[Point]:
    at = datetime.fromtimestamp(obs.now_s, UTC)
    miners = obs.miners
    plant = {
        "outlet_c": obs.outlet_c, "loop_return_c": obs.loop_return_c, "cold_water_c": obs.cold_water_c,
        "coolant_in_c": obs.coolant_in_c, "coolant_out_c": obs.coolant_out_c, "gas_firing": obs.gas_firing,
        "electricity_eur_per_kwh": obs.electricity_eur_per_kwh,
        "hashprice_eur_per_ph_day": obs.hashprice_eur_per_ph_day, "legionella_due": obs.legionella_due,
        "safe_state": False, "miners_power_w": sum(m.power_w for m in miners),
        "hashrate_ths": sum(m.hashrate_ths for m in miners), "sensors_c": obs.sensors_c,
        "charge_pump": cmds.charge_pump, "gas_enable": cmds.gas_enable, "gas_setpoint_c": cmds.gas_setpoint_c,
        "destratify": cmds.destratify, "dry_cooler": cmds.dry_cooler,
    }
    points = schema.plant_points(site, at, plant)
    points += schema.miner_points(site, at, [
        {"name": m.name, "power_w": m.power_w, "hashrate_ths": m.hashrate_ths, "power_limit_w": m.limit_w,
         "available": m.available, "state": m.state} for m in miners])
    decision = sim.controller.last_decision
    if decision is not None:
        points.append(schema.decision_point(site, at, {
            "strategy": sim.controller.strategy_name, "reason": decision.reason,
            "miner_power_w": decision.miner_power_w, "charge_pump": decision.charge_pump,
            "gas_enable": decision.gas_enable, "gas_setpoint_c": decision.gas_setpoint_c,
            "destratify": decision.destratify, "dump_heat": decision.dump_heat, "force": decision.force}))
    return points




def simulate_site(scenario: str, site: str, start: date, days: float, seed: int = 1) -> SimulatedSite:
    sim = Simulation(scenarios.load(scenario), days, start, scenario=scenario, seed=seed)
    points: list[Point] = []
    while not sim.done:
        if sim.control_due():
            obs = sim.observe()
            cmds = sim.decide(obs)
            points += _tick_points(site, sim, obs, cmds)
            sim.apply(cmds)
        sim.advance()
    result = sim.result()
    points += [schema.ledger_row_point(site, row, row_id) for row_id, row in enumerate(result.ledger)]
    events = result.hygiene.all_events()
    points += [schema.compliance_point(site, ev) for ev in events]
    return SimulatedSite(site, result.summary, result.ledger, events, points)


async def write(points: list[Point], url: str, bucket: str, token: str, outbox: Path) -> None:
    """Through the service's telemetry object; every point accepted, none rejected."""
    config = TelemetryConfig.model_validate({
        "url": url, "bucket": bucket, "token": token, "outbox_path": outbox, "batch_size": 5000,
        "flush_interval_s": 0.05, "retry_initial_s": 0.05, "retry_max_s": 0.5, "outbox_max_points": 2_000_000,
    })
    async with Telemetry(config) as telemetry:
        for i in range(0, len(points), 20_000):
            result = await telemetry.submit(points[i:i + 20_000])
            assert result.dropped == 0
        assert await telemetry.flush(120), "telemetry did not drain"
        stats = telemetry.stats()
    assert (stats.written, stats.rejected, stats.dropped) == (len(points), 0, 0), stats
