"""A simulated candidate's scores: feasibility, energy, money per year, capital, payback and NPV.

Figures of a period shorter or longer than a year are scaled to a year linearly (`annualised_from_days`
says from how many days); a week is a poor guide to a year, so the default period is a year.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from boiler.sizing.candidates import Candidate
from boiler.sizing.capital import CapitalCosts, capital_of
from boiler.sizing.finance import npv_eur, simple_payback_years
from boiler.sizing.spec import FinanceSpec

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True)
class Scored:
    site: str
    key: str
    label: str
    model: str
    count: int
    store_volume_l: float
    layout: str
    strategy: str
    reference: bool
    feasible: bool
    infeasible_because: str
    dhw_volume_below_setpoint_l: float
    legionella_compliant: bool
    min_outlet_temp_c: float
    miner_heat_share: float
    gas_fuel_kwh_per_year: float
    electricity_kwh_per_year: float
    net_cost_eur_per_year: float
    net_cost_eur_per_m3: float | None
    baseline_gas_cost_eur_per_year: float
    savings_eur_per_year: float
    co2_avoided_kg_per_year: float
    capital_eur: float
    capital_miners_eur: float
    capital_storage_eur: float
    capital_exchanger_eur: float
    capital_installation_eur: float
    payback_years: float | None
    npv_eur: float
    life_years: int
    discount_rate: float
    annualised_from_days: float
    seed: int
    wall_seconds: float
    #: What degraded during the candidate's run (the summary's `warnings`), joined with "; ".
    warnings: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(site: str, key: str, cand: Candidate, summary: dict[str, Any], tank_volumes_l: list[float],
          costs: CapitalCosts, finance: FinanceSpec, reference: bool) -> Scored:
    days = float(summary["days"])
    per_year = DAYS_PER_YEAR / days
    below_l = float(summary["dhw_volume_below_setpoint_l"])
    compliant = bool(summary["legionella_compliant"])
    why = [f"{below_l:,.0f} L drawn below the setpoint"] if below_l > 0 else []
    if not compliant:
        why.append(f"hygiene broken ({summary['hygiene_violations']} violation(s))")
    capital = capital_of(costs, cand.model, cand.count, tank_volumes_l, cand.layout)
    savings = float(summary["savings_eur"]) * per_year
    volume_m3 = float(summary["dhw_volume_l"]) / 1000.0
    return Scored(
        site=site, key=key, label=cand.label, model=cand.model, count=cand.count,
        store_volume_l=cand.store_volume_l, layout=cand.layout, strategy=cand.strategy, reference=reference,
        feasible=not why, infeasible_because="; ".join(why),
        dhw_volume_below_setpoint_l=below_l, legionella_compliant=compliant,
        min_outlet_temp_c=float(summary["min_outlet_temp_c"]),
        miner_heat_share=float(summary["miner_heat_share"]),
        gas_fuel_kwh_per_year=float(summary["gas_fuel_kwh"]) * per_year,
        electricity_kwh_per_year=float(summary["electricity_kwh"]) * per_year,
        net_cost_eur_per_year=float(summary["net_cost_eur"]) * per_year,
        net_cost_eur_per_m3=float(summary["net_cost_eur"]) / volume_m3 if volume_m3 > 0 else None,
        baseline_gas_cost_eur_per_year=float(summary["baseline_gas_cost_eur"]) * per_year,
        savings_eur_per_year=savings,
        co2_avoided_kg_per_year=float(summary["co2_avoided_kg"]) * per_year,
        capital_eur=capital.total_eur, capital_miners_eur=capital.miners_eur,
        capital_storage_eur=capital.storage_eur, capital_exchanger_eur=capital.exchanger_eur,
        capital_installation_eur=capital.installation_eur,
        payback_years=simple_payback_years(capital.total_eur, savings),
        npv_eur=npv_eur(capital.total_eur, savings, life_years=finance.life_years,
                        discount_rate=finance.discount_rate, miners_eur=capital.miners_eur,
                        miner_life_years=finance.miner_life_years),
        life_years=finance.life_years, discount_rate=finance.discount_rate,
        annualised_from_days=days, seed=int(summary["seed"]), wall_seconds=float(summary["wall_seconds"]),
        warnings="; ".join(summary.get("warnings") or []),
    )


def ranked(rows: list[Scored]) -> list[Scored]:
    """Feasible candidates first, best NPV first; then the infeasible ones, least water below setpoint first."""
    return sorted(rows, key=lambda r: (not r.feasible, -r.npv_eur if r.feasible else r.dhw_volume_below_setpoint_l,
                                       -r.npv_eur))
