"""Telemetry points of one control-loop tick (`boiler.loop.TickRecord`): what the service writes.

Decisions are written when the reason changes (a safety override always changes it), not every
tick: a point per tick is 11,000 a month for a dashboard that annotates changes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from boiler.ledger import LedgerRow
from boiler.loop import TickRecord
from boiler.telemetry.point import Point
from boiler.telemetry.schema import compliance_point, decision_point, ledger_row_point, miner_points, plant_points


def tick_points(site: str, record: TickRecord) -> list[Point]:
    at = datetime.fromtimestamp(record.now_s, UTC)
    obs, cmds, reading = record.observation, record.commands, record.reading
    span_s = sum(s.dt_s or 0.0 for s in reading.samples)
    heat_j = sum(s.flows.miner_heat_j for s in reading.samples)
    drawn_l = sum(s.flows.dhw_volume_l for s in reading.samples)
    dumped_j = sum(s.flows.dumped_j for s in reading.samples)
    last = reading.samples[-1].flows if reading.samples else None
    plant = {
        "outlet_c": obs.outlet_c, "loop_return_c": obs.loop_return_c, "cold_water_c": obs.cold_water_c,
        "coolant_in_c": obs.coolant_in_c, "coolant_out_c": obs.coolant_out_c, "gas_firing": obs.gas_firing,
        "electricity_eur_per_kwh": obs.electricity_eur_per_kwh,
        "hashprice_eur_per_ph_day": obs.hashprice_eur_per_ph_day, "legionella_due": obs.legionella_due,
        "safe_state": record.safe_state, "miners_power_w": sum(m.power_w for m in obs.miners),
        "hashrate_ths": sum(m.hashrate_ths for m in obs.miners), "sensors_c": obs.sensors_c,
        "charge_pump": cmds.charge_pump, "gas_enable": cmds.gas_enable, "gas_setpoint_c": cmds.gas_setpoint_c,
        "destratify": cmds.destratify, "dry_cooler": cmds.dry_cooler,
        # Rates over the interval the reading covers; unknown (left out) when it covers no time.
        "charging_power_w": heat_j / span_s if span_s > 0 else None,
        "draw_lpm": drawn_l / span_s * 60.0 if span_s > 0 else None,
        "gas_power_w": last.gas_power_w if last is not None and span_s > 0 else None,
        "dry_cooler_power_w": dumped_j / span_s if span_s > 0 else None,
        "legionella_in_progress": record.legionella_in_progress,
    }
    points = plant_points(site, at, plant)
    points += miner_points(site, at, [
        {"name": m.name, "power_w": m.power_w, "hashrate_ths": m.hashrate_ths, "power_limit_w": m.limit_w,
         "available": m.available, "state": m.state, "coolant_in_c": m.coolant_in_c,
         "coolant_out_c": m.coolant_out_c} for m in obs.miners])
    if record.reason_changed:
        d = record.decision
        points.append(decision_point(site, at, {
            "strategy": record.strategy, "decided_by": record.decided_by, "reason": cmds.reason,
            "miner_power_w": d.miner_power_w, "charge_pump": d.charge_pump, "gas_enable": d.gas_enable,
            "gas_setpoint_c": d.gas_setpoint_c, "destratify": d.destratify, "dump_heat": d.dump_heat,
            "force": d.force, "safety_override": record.safety_override}))
    points += ledger_points(site, record.closed_rows)
    # Hygiene events as they close (and open episodes as they start: the final version overwrites).
    points += [compliance_point(site, event) for event in record.compliance_events]
    return points


def ledger_points(site: str, rows: tuple[LedgerRow, ...] | list[LedgerRow]) -> list[Point]:
    """One point per closed ledger row, stamped at the row's end, with its gas-only baseline."""
    return [ledger_row_point(site, row) for row in rows]
