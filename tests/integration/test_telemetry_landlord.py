"""A simulated plant's ledger rows (with the gas-only baseline) and its hygiene log, written through
the service's telemetry path into a real InfluxDB 1.x and read back: what a landlord's dashboard sums."""

from __future__ import annotations

import math
import uuid
from datetime import date
from pathlib import Path

import pytest

from boiler import scenarios
from boiler.simulation import run_simulation
from boiler.telemetry import compliance_point, ledger_row_point
from boiler.telemetry.schema import COMPLIANCE, COMPLIANCE_FIELDS, DISTRIBUTION_STORE, LEDGER
from tests.integration.influx_servers import InfluxDB1
from tests.integration.test_telemetry_roundtrip import send, telemetry_config


@pytest.fixture(scope="module")
def preheat_days():  # residence-48-preheat: its finishing tank logs disinfection cycles
    return run_simulation(scenarios.load("residence-48-preheat"), 3, date(2026, 1, 5), scenario="preheat")


async def test_ledger_baseline_and_compliance_events_round_trip(influx1: InfluxDB1, tmp_path: Path,
                                                                preheat_days) -> None:
    site = f"landlord-{uuid.uuid4().hex[:8]}"
    rows, events = preheat_days.ledger, preheat_days.hygiene.all_events()
    assert len(rows) == 72 and events
    points = [ledger_row_point(site, row, row_id=i) for i, row in enumerate(rows)]
    points += [compliance_point(site, ev) for ev in events]
    await send(telemetry_config(tmp_path, influx1.url, influx1.bucket, influx1.token), points)

    # The month's sums as a dashboard asks for them equal the run's summary.
    (series,) = influx1.query(
        'SELECT sum("savings_eur"), sum("co2_avoided_kg"), sum("baseline_gas_fuel_kwh"), sum("baseline_gas_cost_eur"),'
        f' sum("net_cost_eur"), count("row_id") FROM "{LEDGER}" WHERE "site" = \'{site}\'')
    _, savings, avoided, fuel, cost, net, n = series["values"][0]
    s = preheat_days.summary
    assert n == len(rows)
    for got, key in ((savings, "savings_eur"), (avoided, "co2_avoided_kg"), (fuel, "baseline_gas_fuel_kwh"),
                     (cost, "baseline_gas_cost_eur"), (net, "net_cost_eur")):
        assert got == pytest.approx(s[key], rel=1e-12), key
    stamped = [r.time_ns for r in influx1.rows(LEDGER, where=f"site = '{site}'")]
    assert stamped == [round(row.end_s * 1e6) * 1000 for row in rows]

    # Every hygiene event comes back with its tags, start time and fields.
    back = influx1.rows(COMPLIANCE, where=f"site = '{site}'")
    assert len(back) == len(events)
    by_key = {(r.tags["kind"], r.tags["store"], r.time_ns): r.fields for r in back}
    for ev in events:
        fields = by_key[(ev.kind, ev.store or DISTRIBUTION_STORE, round(ev.start_s * 1e6) * 1000)]
        assert fields["duration_s"] == pytest.approx(ev.duration_s, abs=1e-9)
        if ev.extreme_c is None:
            assert "extreme_c" not in fields
        else:
            assert fields["extreme_c"] == ev.extreme_c  # a float's shortest repr round-trips exactly
        assert (fields["violation"], fields["ongoing"], fields["detail"]) == (ev.violation, ev.ongoing, ev.detail)
    assert influx1.field_types(COMPLIANCE) == {
        k: {float: "float", bool: "boolean", str: "string"}[t] for k, t in COMPLIANCE_FIELDS.items()}


def test_a_row_without_baseline_writes_none_rather_than_nan(preheat_days) -> None:
    row = preheat_days.ledger[0]
    legacy = type(row)(**{**{f: getattr(row, f) for f in row.__dataclass_fields__},
                          "baseline_gas_fuel_kwh": math.nan, "baseline_gas_cost_eur": math.nan,
                          "baseline_co2_kg": math.nan})
    fields = ledger_row_point("s", legacy).fields
    assert not {"baseline_gas_fuel_kwh", "savings_eur", "co2_avoided_kg"} & set(fields)
    assert fields["net_cost_eur"] == pytest.approx(row.net_cost_eur)
