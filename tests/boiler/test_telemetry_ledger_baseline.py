"""Ledger points carry the gas-only baseline and the savings derived from it (docs/telemetry.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from boiler.ledger import LedgerRow
from boiler.telemetry.schema import LEDGER_FIELDS, ledger_point

AT = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)


def test_a_row_with_a_baseline_writes_the_baseline_and_the_savings() -> None:
    row = LedgerRow(start_s=0.0, end_s=3600.0, electricity_cost_eur=1.5, gas_cost_eur=0.25,
                    mining_revenue_eur=0.5, co2_kg=2.0, baseline_gas_fuel_kwh=30.0, baseline_gas_cost_eur=3.0,
                    baseline_co2_kg=6.5)
    fields = ledger_point("s", AT, row).fields
    assert fields["net_cost_eur"] == pytest.approx(1.25)
    assert fields["savings_eur"] == pytest.approx(3.0 - 1.25)
    assert fields["co2_avoided_kg"] == pytest.approx(4.5)
    assert (fields["baseline_gas_fuel_kwh"], fields["baseline_gas_cost_eur"], fields["baseline_co2_kg"]) == (
        30.0, 3.0, 6.5)
    assert set(fields) == set(LEDGER_FIELDS) - {"row_id"}


def test_a_row_without_a_baseline_leaves_it_out_rather_than_writing_a_number() -> None:
    fields = ledger_point("s", AT, LedgerRow(start_s=0.0, end_s=3600.0, gas_cost_eur=1.0)).fields
    assert fields["net_cost_eur"] == 1.0
    for name in ("baseline_gas_fuel_kwh", "baseline_gas_cost_eur", "baseline_co2_kg", "savings_eur", "co2_avoided_kg"):
        assert name not in fields
