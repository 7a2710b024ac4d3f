"""Representative weeks: a few weeks simulated instead of a year, their sum scaled to a year.

Each week is its own simulation (7 days from local midnight of its first day, the config's initial tank
state, the same seed), so a candidate costs 7 × weeks simulated days instead of 365. `combine` adds the
weeks' summaries up as one run of their total length; `score` then scales it to a year. The error against
full years is measured by `benchmarks/bench_weeks.py` (figures in BENCHMARKS.md): use weeks to screen
many candidates, then full years on the few that matter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from boiler.summary import strategy_share

#: One week per season, Mondays of 2026 (winter, spring, summer, autumn).
SEASON_WEEKS: tuple[date, ...] = (date(2026, 1, 5), date(2026, 4, 6), date(2026, 7, 6), date(2026, 10, 5))
WEEK_DAYS = 7.0

_SUMMED = (
    "days", "dhw_volume_l", "dhw_heat_kwh", "dhw_demand_kwh", "dhw_volume_below_setpoint_l",
    "heat_from_miners_kwh", "heat_from_gas_kwh", "heat_dumped_kwh", "electricity_kwh", "gas_fuel_kwh",
    "tank_losses_kwh", "loop_losses_kwh", "stored_energy_change_kwh", "energy_balance_error_kwh",
    "mining_revenue_eur", "electricity_cost_eur", "gas_cost_eur", "net_cost_eur", "btc_mined", "co2_kg",
    "baseline_gas_fuel_kwh", "baseline_gas_cost_eur", "baseline_co2_kg", "savings_eur", "co2_avoided_kg",
    "power_limit_changes", "gas_starts", "hygiene_violations", "legionella_cycles_passed", "wall_seconds",
)


def _min(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The weeks' summaries as one run of their total length (sums, minima, all-weeks compliance)."""
    if not summaries:
        raise ValueError("no summary to combine")
    if len(summaries) == 1:
        return dict(summaries[0])
    out = dict(summaries[0])
    for key in _SUMMED:
        values = [s.get(key) for s in summaries]
        out[key] = None if any(v is None for v in values) else sum(values)
    out["min_outlet_temp_c"] = _min([s.get("min_outlet_temp_c") for s in summaries])
    out["min_loop_return_c"] = _min([s.get("min_loop_return_c") for s in summaries])
    out["legionella_compliant"] = all(bool(s["legionella_compliant"]) for s in summaries)
    heat = out["heat_from_miners_kwh"] + out["heat_from_gas_kwh"]
    out["miner_heat_share"] = out["heat_from_miners_kwh"] / heat if heat > 0 else 0.0
    out["hashrate_ths_mean"] = sum(s["hashrate_ths_mean"] * s["days"] for s in summaries) / out["days"]
    decided: dict[str, int] = {}
    for s in summaries:
        for who, n in (s.get("decided_by") or {}).items():
            decided[who] = decided.get(who, 0) + n
    out["decided_by"] = decided
    out["strategy_share"] = strategy_share(str(out["strategy"]), decided)
    out["warnings"] = [w for s in summaries for w in s.get("warnings") or []]
    out["start"] = ",".join(str(s["start"]) for s in summaries)
    return out
