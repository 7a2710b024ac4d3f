"""Ledger rows keep the lowest outlet and loop-return temperatures of their interval."""

from __future__ import annotations

import math

from boiler.baseline import GasBaseline
from boiler.economics import Co2Factors, GasPrice, MiningEconomics
from boiler.ledger import EnergyFlows, Ledger, sum_rows


def test_rows_and_totals_keep_the_lowest_measured_temperature() -> None:
    ledger = Ledger(0.0, MiningEconomics(), GasPrice(), Co2Factors(),
                    baseline=GasBaseline(efficiency_pci=0.9, gas_eur_per_kwh_pci=0.1, co2_kg_per_kwh_pci=0.2))
    outlet = [62.0, 59.5, math.nan, 61.0,  # hour 1: a NaN sample (sensor gone) is not a temperature
              math.nan, math.nan, math.nan, math.nan,  # hour 2: nothing measured
              60.5, 63.0, 60.25, 64.0]  # hour 3
    for k, t in enumerate(outlet):
        ledger.add((k + 1) * 900.0, 0.1, EnergyFlows(outlet_c=t, loop_return_c=t - 4.0))
    first, second, third = ledger.rows
    assert (first.outlet_min_c, first.loop_return_min_c) == (59.5, 55.5)
    assert math.isnan(second.outlet_min_c) and math.isnan(second.loop_return_min_c)
    assert third.outlet_min_c == 60.25
    total = sum_rows(ledger.rows)
    assert (total.outlet_min_c, total.loop_return_min_c) == (59.5, 55.5)
    assert sum_rows([second, third]).outlet_min_c == 60.25
    assert "outlet_min_c" in first.as_dict()
