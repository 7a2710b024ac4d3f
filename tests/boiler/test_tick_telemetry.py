"""What the service's telemetry publisher writes of a tick record (boiler/telemetry/tick.py)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from boiler import scenarios
from boiler.loop import TickRecord
from boiler.simulation import SensorFault, Simulation
from boiler.telemetry.tick import tick_points

WINTER = date(2026, 1, 5)


def _records(days: float = 1.0, faults: tuple[SensorFault, ...] = ()) -> list[TickRecord]:
    sim = Simulation(scenarios.load("residence-48"), days, WINTER, faults=faults)
    out = []
    while not sim.done:
        if sim.control_due():
            out.append(sim.tick())
        sim.advance()
    return out


def test_plant_points_carry_the_rates_over_the_tick() -> None:
    records = _records(0.5)
    rec = next(r for r in records[1:] if any(s.flows.miner_heat_j > 0 for s in r.reading.samples))
    plant = next(p for p in tick_points("s", rec) if p.measurement == "plant")
    span_s = sum(s.dt_s or 0.0 for s in rec.reading.samples)
    heat_j = sum(s.flows.miner_heat_j for s in rec.reading.samples)
    assert plant.fields["charging_power_w"] == pytest.approx(heat_j / span_s)
    assert plant.fields["draw_lpm"] == pytest.approx(
        sum(s.flows.dhw_volume_l for s in rec.reading.samples) / span_s * 60.0)
    assert plant.fields["gas_power_w"] == rec.reading.samples[-1].flows.gas_power_w
    assert plant.fields["dry_cooler_power_w"] == pytest.approx(
        sum(s.flows.dumped_j for s in rec.reading.samples) / span_s)
    assert plant.fields["legionella_in_progress"] is rec.legionella_in_progress
    # The first tick covers no time: no rate is made up for it.
    first = next(p for p in tick_points("s", records[0]) if p.measurement == "plant")
    assert "charging_power_w" not in first.fields and "draw_lpm" not in first.fields


def test_a_decision_point_for_each_change_of_reason_with_who_decided() -> None:
    fault = SensorFault("store.bottom", start_s=6 * 3600.0, end_s=7 * 3600.0)
    records = _records(0.5, faults=(fault,))
    decisions = [(r, p) for r in records for p in tick_points("s", r) if p.measurement == "decision"]
    assert [r.now_s for r, _ in decisions] == [r.now_s for r in records if r.reason_changed]
    assert len(decisions) < len(records)
    for rec, point in decisions:
        assert point.fields["reason"] == rec.commands.reason
        assert point.fields["decided_by"] == rec.decided_by
        assert point.fields["safety_override"] is (rec.decided_by == "safety")
    assert any(point.fields["safety_override"] for _, point in decisions)  # the sensor fault's safe state


def test_miner_points_carry_the_coolant_the_firmware_reports() -> None:
    rec = _records(0.1)[1]
    miner = dataclasses.replace(rec.observation.miners[0], coolant_in_c=41.5, coolant_out_c=49.0)
    obs = dataclasses.replace(rec.observation, miners=(miner, *rec.observation.miners[1:]))
    points = [p for p in tick_points("s", dataclasses.replace(rec, observation=obs)) if p.measurement == "miner"]
    first = next(p for p in points if p.tags["miner"] == miner.name)
    assert (first.fields["coolant_in_c"], first.fields["coolant_out_c"]) == (41.5, 49.0)
    others = [p for p in points if p.tags["miner"] != miner.name]
    assert all("coolant_in_c" not in p.fields for p in others)  # not reported: not written
