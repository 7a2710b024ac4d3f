"""The run summary: one type, one builder, for `simulate`, the yardsticks and `demo`.

Its JSON keys are its field names (a contract other tools read: keep them). Runs that are not
loops (the perfect-foresight optimum) fill the same type from their own figures.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from boiler.hygiene import ComplianceSummary
from boiler.ledger import LedgerRow

log = logging.getLogger("boiler.run")


@dataclass(frozen=True, slots=True)
class HygieneFigures:
    compliant: bool
    preset: str
    violations: int
    cycles_passed: int

    @staticmethod
    def of(summary: ComplianceSummary) -> HygieneFigures:
        return HygieneFigures(summary.compliant, summary.preset, summary.violations, summary.cycles_passed)


@dataclass(frozen=True, slots=True)
class RunSummary:
    scenario: str
    strategy: str
    days: float
    start: str
    seed: int
    step_s: float
    dhw_volume_l: float
    dhw_heat_kwh: float
    dhw_demand_kwh: float
    dhw_volume_below_setpoint_l: float
    min_outlet_temp_c: float
    #: Time-weighted mean outlet temperature outside legionella cycles (None if never outside one).
    mean_outlet_temp_c: float | None
    min_loop_return_c: float | None
    heat_from_miners_kwh: float
    heat_from_gas_kwh: float
    heat_dumped_kwh: float
    miner_heat_share: float
    electricity_kwh: float
    gas_fuel_kwh: float
    tank_losses_kwh: float
    loop_losses_kwh: float
    stored_energy_change_kwh: float
    energy_balance_error_kwh: float
    mining_revenue_eur: float
    electricity_cost_eur: float
    gas_cost_eur: float
    net_cost_eur: float
    btc_mined: float
    hashrate_ths_mean: float
    co2_kg: float
    #: The same hot water from the site's gas boiler alone (docs/ledger.md), and what the run saved.
    baseline_gas_fuel_kwh: float
    baseline_gas_cost_eur: float
    baseline_co2_kg: float
    savings_eur: float
    co2_avoided_kg: float
    power_limit_changes: int | None
    gas_starts: int | None
    legionella_compliant: bool
    hygiene_preset: str
    hygiene_violations: int
    legionella_cycles_passed: int
    #: Ticks decided by each decider: the strategy, "rule" as its fallback, "safety", "override".
    decided_by: dict[str, int]
    #: Share of the ticks the strategy was asked (not taken by safety or override) that it decided.
    strategy_share: float | None
    #: What degraded during the run, in words (also logged).
    warnings: list[str]
    wall_seconds: float
    #: Figures only some runs have (the demo's speed and ticks, the optimum's slot length ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        d["decided_by"] = dict(self.decided_by)
        d["warnings"] = list(self.warnings)
        d.update(self.extra)
        return d


def strategy_share(strategy: str, decided_by: Mapping[str, int]) -> float | None:
    asked = sum(n for who, n in decided_by.items() if who not in ("safety", "override"))
    return decided_by.get(strategy, 0) / asked if asked else None


def decider_warnings(strategy: str, decided_by: Mapping[str, int], threshold: float) -> list[str]:
    share = strategy_share(strategy, decided_by)
    if share is None or share >= threshold:
        return []
    others = ", ".join(f"{who} {n}" for who, n in sorted(decided_by.items()) if who != strategy)
    return [f"strategy {strategy} decided only {share:.0%} of the ticks it was asked "
            f"(below {threshold:.0%}; ticks by decider: {strategy} {decided_by.get(strategy, 0)}, {others})"]


def build_summary(
    totals: LedgerRow,
    *,
    scenario: str,
    strategy: str,
    days: float,
    start: date,
    seed: int,
    step_s: float,
    hygiene: HygieneFigures,
    stored_energy_change_kwh: float,
    min_outlet_c: float,
    min_loop_return_c: float | None,
    mean_outlet_c: float | None,
    power_limit_changes: int | None,
    gas_starts: int | None,
    decided_by: Mapping[str, int],
    warnings: list[str],
    wall_seconds: float,
    extra: Mapping[str, Any] | None = None,
) -> RunSummary:
    """The summary of a run from its ledger totals and what the ledger does not hold."""
    for warning in warnings:
        log.warning("run_warning scenario=%s strategy=%s detail=%s", scenario, strategy, warning)
    t = totals
    balance = (t.heat_from_miners_kwh + t.heat_from_gas_kwh - t.dhw_heat_kwh - t.tank_losses_kwh
               - t.loop_losses_kwh - stored_energy_change_kwh)
    heat = t.heat_from_miners_kwh + t.heat_from_gas_kwh
    return RunSummary(
        # Every figure the ledger holds under the summary's own name (derived ones like net cost too).
        **{name: getattr(t, name) for name in _FROM_TOTALS},
        scenario=scenario,
        strategy=strategy,
        days=days,
        start=start.isoformat(),
        seed=seed,
        step_s=step_s,
        min_outlet_temp_c=min_outlet_c,
        mean_outlet_temp_c=mean_outlet_c,
        min_loop_return_c=min_loop_return_c if min_loop_return_c is not None and math.isfinite(min_loop_return_c)
        else None,
        miner_heat_share=t.heat_from_miners_kwh / heat if heat > 0 else 0.0,
        stored_energy_change_kwh=stored_energy_change_kwh,
        energy_balance_error_kwh=balance,
        power_limit_changes=power_limit_changes,
        gas_starts=gas_starts,
        legionella_compliant=hygiene.compliant,
        hygiene_preset=hygiene.preset,
        hygiene_violations=hygiene.violations,
        legionella_cycles_passed=hygiene.cycles_passed,
        decided_by=dict(decided_by),
        strategy_share=strategy_share(strategy, decided_by),
        warnings=list(warnings),
        wall_seconds=wall_seconds,
        extra=dict(extra or {}),
    )


#: Summary fields taken as they are from the ledger's totals (fields and derived properties of LedgerRow).
_FROM_TOTALS = tuple(f.name for f in dataclasses.fields(RunSummary) if hasattr(LedgerRow, f.name))

#: Keys of the JSON summary every consumer may rely on (the CLI contract of `simulate` and `demo`).
SUMMARY_KEYS = tuple(f.name for f in dataclasses.fields(RunSummary) if f.name != "extra")
