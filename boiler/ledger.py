"""The ledger: mining revenue against heat delivered, interval by interval.

Each physics step's energy flows are priced as they happen (tariffs change within a day) and
summed into fixed intervals (hourly by default). A closed interval is a `LedgerRow`; `totals()`
adds them up. Energies are kWh, money EUR; gas fuel is on the net calorific value (PCI) and
priced on the gross one (PCS), as it is billed.

Each row also carries the gas-only baseline (boiler/baseline.py): the same delivered heat from
the site's gas boiler alone, and from it `savings_eur` and `co2_avoided_kg`. A row built without
it (stored before the baseline existed) has NaN there: unknown, never a silent zero.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from boiler.baseline import GasBaseline
from boiler.economics import Co2Factors, GasPrice, MiningEconomics
from tank.water import J_PER_KWH


@dataclass(slots=True)
class EnergyFlows:
    """Energy (J) and volumes (L) of one step, as a plant (simulated or real) measured them."""

    electricity_j: float = 0.0
    hash_ths_s: float = 0.0  # hashrate × seconds
    miner_heat_j: float = 0.0  # into the hot-water system
    gas_heat_j: float = 0.0
    gas_fuel_j: float = 0.0  # PCI
    dumped_j: float = 0.0
    dhw_heat_j: float = 0.0  # at the taps, above the mains temperature
    dhw_demand_j: float = 0.0
    dhw_volume_l: float = 0.0
    dhw_volume_below_l: float = 0.0  # drawn while the outlet was below the setpoint
    tank_loss_j: float = 0.0
    loop_loss_j: float = 0.0
    outlet_c: float = math.nan
    loop_return_c: float = math.nan
    gas_power_w: float = 0.0
    miner_power_w: float = 0.0


@dataclass(slots=True)
class LedgerRow:
    start_s: float = 0.0
    end_s: float = 0.0
    electricity_kwh: float = 0.0
    electricity_cost_eur: float = 0.0
    hashrate_ths_mean: float = 0.0
    mining_revenue_eur: float = 0.0
    btc_mined: float = 0.0
    heat_from_miners_kwh: float = 0.0
    heat_from_gas_kwh: float = 0.0
    heat_dumped_kwh: float = 0.0
    gas_fuel_kwh: float = 0.0
    gas_cost_eur: float = 0.0
    dhw_heat_kwh: float = 0.0
    dhw_demand_kwh: float = 0.0
    dhw_volume_l: float = 0.0
    dhw_volume_below_setpoint_l: float = 0.0
    tank_losses_kwh: float = 0.0
    loop_losses_kwh: float = 0.0
    co2_kg: float = 0.0
    baseline_gas_fuel_kwh: float = math.nan
    baseline_gas_cost_eur: float = math.nan
    baseline_co2_kg: float = math.nan
    # Lowest temperatures seen in the interval (NaN: not measured); the 60 °C proof per hour.
    outlet_min_c: float = math.nan
    loop_return_min_c: float = math.nan

    @property
    def net_cost_eur(self) -> float:
        return self.electricity_cost_eur + self.gas_cost_eur - self.mining_revenue_eur

    @property
    def savings_eur(self) -> float:
        """Against the gas-only baseline: baseline gas cost − net cost."""
        return self.baseline_gas_cost_eur - self.net_cost_eur

    @property
    def co2_avoided_kg(self) -> float:
        return self.baseline_co2_kg - self.co2_kg

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d.update(derived(self))
        return d


#: Keys computed from a row's fields, in `as_dict`, CSV exports and run summaries.
DERIVED_KEYS = ("net_cost_eur", "savings_eur", "co2_avoided_kg")


def derived(row: LedgerRow) -> dict[str, float]:
    return {"net_cost_eur": row.net_cost_eur, "savings_eur": row.savings_eur, "co2_avoided_kg": row.co2_avoided_kg}


#: The baseline's keys in a run summary (built from ledger totals).
BASELINE_SUMMARY_KEYS = ("baseline_gas_fuel_kwh", "baseline_gas_cost_eur", "baseline_co2_kg", "savings_eur",
                         "co2_avoided_kg")


def baseline_summary(totals: LedgerRow) -> dict[str, float]:
    """The baseline's figures of a run's totals, to merge into its summary."""
    return {
        "baseline_gas_fuel_kwh": totals.baseline_gas_fuel_kwh,
        "baseline_gas_cost_eur": totals.baseline_gas_cost_eur,
        "baseline_co2_kg": totals.baseline_co2_kg,
        "savings_eur": totals.savings_eur,
        "co2_avoided_kg": totals.co2_avoided_kg,
    }


def fill_baseline(row: LedgerRow, baseline: GasBaseline) -> LedgerRow:
    """Set the row's gas-only baseline from its delivered heat and losses; returns the row."""
    b = baseline.figures(row.dhw_heat_kwh, row.loop_losses_kwh, row.tank_losses_kwh)
    row.baseline_gas_fuel_kwh = b.gas_fuel_kwh
    row.baseline_gas_cost_eur = b.gas_cost_eur
    row.baseline_co2_kg = b.co2_kg
    return row


#: Fields that keep their lowest value when rows are added up.
_MINIMA = ("outlet_min_c", "loop_return_min_c")
_SUMMED = tuple(f.name for f in fields(LedgerRow)
                if f.name not in ("start_s", "end_s", "hashrate_ths_mean", *_MINIMA))


class Ledger:
    def __init__(self, start_s: float, economics: MiningEconomics, gas: GasPrice, co2: Co2Factors,
                 interval_s: float = 3600.0, *, baseline: GasBaseline) -> None:
        self.interval_s = interval_s
        self.baseline = baseline
        self.rows: list[LedgerRow] = []
        self.revenue_per_ths_s = economics.revenue_eur_per_th_s(1.0)
        self._btc_per_eur = economics.btc_per_eur()
        self.gas_eur_per_j = gas.eur_per_kwh_pci() / J_PER_KWH
        self._co2_gas_per_j = co2.gas_kg_per_kwh_pci / J_PER_KWH
        self._co2_grid_per_j = co2.grid_kg_per_kwh / J_PER_KWH
        self._open = _Accumulator(start_s)
        self._handed_out = 0

    def add(self, now_s: float, electricity_eur_per_kwh: float, f: EnergyFlows) -> None:
        """Book one step that ended at `now_s`."""
        a = self._open
        a.electricity_j += f.electricity_j
        a.electricity_eur += f.electricity_j / J_PER_KWH * electricity_eur_per_kwh
        a.hash_ths_s += f.hash_ths_s
        a.miner_heat_j += f.miner_heat_j
        a.gas_heat_j += f.gas_heat_j
        a.gas_fuel_j += f.gas_fuel_j
        a.dumped_j += f.dumped_j
        a.dhw_heat_j += f.dhw_heat_j
        a.dhw_demand_j += f.dhw_demand_j
        a.dhw_volume_l += f.dhw_volume_l
        a.dhw_volume_below_l += f.dhw_volume_below_l
        a.tank_loss_j += f.tank_loss_j
        a.loop_loss_j += f.loop_loss_j
        if f.outlet_c < a.outlet_min_c:  # NaN (not measured) compares False
            a.outlet_min_c = f.outlet_c
        if f.loop_return_c < a.loop_return_min_c:
            a.loop_return_min_c = f.loop_return_c
        if now_s - a.start_s >= self.interval_s - 1e-6:
            self._close(now_s)

    def _close(self, end_s: float) -> None:
        a = self._open
        if end_s <= a.start_s:
            return
        revenue = a.hash_ths_s * self.revenue_per_ths_s
        self.rows.append(fill_baseline(LedgerRow(
            start_s=a.start_s,
            end_s=end_s,
            electricity_kwh=a.electricity_j / J_PER_KWH,
            electricity_cost_eur=a.electricity_eur,
            hashrate_ths_mean=a.hash_ths_s / (end_s - a.start_s),
            mining_revenue_eur=revenue,
            btc_mined=revenue * self._btc_per_eur,
            heat_from_miners_kwh=a.miner_heat_j / J_PER_KWH,
            heat_from_gas_kwh=a.gas_heat_j / J_PER_KWH,
            heat_dumped_kwh=a.dumped_j / J_PER_KWH,
            gas_fuel_kwh=a.gas_fuel_j / J_PER_KWH,
            gas_cost_eur=a.gas_fuel_j * self.gas_eur_per_j,
            dhw_heat_kwh=a.dhw_heat_j / J_PER_KWH,
            dhw_demand_kwh=a.dhw_demand_j / J_PER_KWH,
            dhw_volume_l=a.dhw_volume_l,
            dhw_volume_below_setpoint_l=a.dhw_volume_below_l,
            tank_losses_kwh=a.tank_loss_j / J_PER_KWH,
            loop_losses_kwh=a.loop_loss_j / J_PER_KWH,
            co2_kg=a.gas_fuel_j * self._co2_gas_per_j + a.electricity_j * self._co2_grid_per_j,
            outlet_min_c=_finite_or_nan(a.outlet_min_c),
            loop_return_min_c=_finite_or_nan(a.loop_return_min_c),
        ), self.baseline))
        self._open = _Accumulator(end_s)

    def close(self, end_s: float) -> None:
        """Close the interval in progress (end of a run)."""
        self._close(end_s)

    def pop_closed(self) -> list[LedgerRow]:
        """Rows closed since the previous call (the service stores them once each)."""
        new = self.rows[self._handed_out:]
        self._handed_out = len(self.rows)
        return new

    def snapshot(self) -> dict[str, float]:
        """The open interval's sums, to resume after a restart."""
        return asdict(self._open)

    def restore(self, snapshot: dict[str, float]) -> None:
        self._open = _Accumulator(**snapshot)

    def totals(self) -> LedgerRow:
        return sum_rows(self.rows)


@dataclass(slots=True)
class _Accumulator:
    start_s: float
    electricity_j: float = 0.0
    electricity_eur: float = 0.0
    hash_ths_s: float = 0.0
    miner_heat_j: float = 0.0
    gas_heat_j: float = 0.0
    gas_fuel_j: float = 0.0
    dumped_j: float = 0.0
    dhw_heat_j: float = 0.0
    dhw_demand_j: float = 0.0
    dhw_volume_l: float = 0.0
    dhw_volume_below_l: float = 0.0
    tank_loss_j: float = 0.0
    loop_loss_j: float = 0.0
    outlet_min_c: float = math.inf
    loop_return_min_c: float = math.inf


def _finite_or_nan(value: float) -> float:
    return value if math.isfinite(value) else math.nan


def _min_known(a: float, b: float) -> float:
    """The lower of two temperatures, ignoring one that is not known (NaN)."""
    if math.isnan(a):
        return b
    return a if math.isnan(b) or a <= b else b


def add_row(total: LedgerRow, row: LedgerRow) -> None:
    """Add `row` into the running `total` (the hashrate stays a time-weighted mean)."""
    span = total.end_s - total.start_s if total.end_s else 0.0
    row_s = row.end_s - row.start_s
    if not total.end_s:
        total.start_s = row.start_s
    for name in _SUMMED:
        setattr(total, name, getattr(total, name) + getattr(row, name))
    for name in _MINIMA:
        setattr(total, name, _min_known(getattr(total, name), getattr(row, name)))
    if span + row_s > 0:
        total.hashrate_ths_mean = (total.hashrate_ths_mean * span + row.hashrate_ths_mean * row_s) / (span + row_s)
    total.end_s = row.end_s


def empty_total() -> LedgerRow:
    """The sum of no rows: zero everywhere, the baseline included."""
    return LedgerRow(baseline_gas_fuel_kwh=0.0, baseline_gas_cost_eur=0.0, baseline_co2_kg=0.0)


def sum_rows(rows: list[LedgerRow]) -> LedgerRow:
    total = empty_total()
    for row in rows:
        add_row(total, row)
    return total
