"""Simulated sites written into InfluxDB through the project's telemetry path, for the dashboard tests.

The simulation is stepped as ``run_simulation`` steps it; every tick record of the one control loop
becomes points through ``boiler.telemetry.tick.tick_points``, exactly what the service's telemetry
publisher sends (plant, tank and miner points, a decision point on each change of reason, ledger
rows as they close, hygiene events as they are logged); what closes only at the end of the run
follows the same builders. Every point then goes through ``Telemetry``
(outbox → writer → influxdb-client) into the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from boiler import scenarios
from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow
from boiler.simulation import Simulation
from boiler.telemetry import Point, Telemetry, TelemetryConfig, schema
from boiler.telemetry.tick import ledger_points, tick_points


@dataclass(frozen=True)
class SimulatedSite:
    site: str
    summary: dict[str, Any]
    ledger: list[LedgerRow]
    events: list[ComplianceEvent]
    points: list[Point]


def simulate_site(scenario: str, site: str, start: date, days: float, seed: int = 1) -> SimulatedSite:
    sim = Simulation(scenarios.load(scenario), days, start, scenario=scenario, seed=seed)
    points: list[Point] = []
    while not sim.done:
        if sim.control_due():
            points += tick_points(site, sim.tick())  # what the service's telemetry publisher sends
        sim.advance()
    result = sim.result()
    points += ledger_points(site, sim.final_rows)
    points += [schema.compliance_point(site, ev) for ev in sim.final_events]
    return SimulatedSite(site, result.summary, result.ledger, result.hygiene.all_events(), points)


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
