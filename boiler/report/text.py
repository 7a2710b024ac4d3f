"""Numbers and words shared by the HTML page and the PNG sheet, so both say the same thing."""

from __future__ import annotations

import math

from boiler.report.month import HygieneMonth, MonthReport

DASH = "–"


def num(value: float, decimals: int = 0) -> str:
    if value is None or math.isnan(value):
        return DASH
    return f"{value:,.{decimals}f}"


def eur(value: float) -> str:
    if value is None or math.isnan(value):
        return DASH
    sign = "−" if value < 0 else ""
    return f"{sign}€{abs(value):,.2f}"


def pct(share: float) -> str:
    return DASH if math.isnan(share) else f"{100 * share:.0f} %"


def month_title(report: MonthReport) -> str:
    return f"{report.month:%B %Y}"


def coverage(report: MonthReport) -> str:
    days_in_month = round(report.hours_in_month / 24)
    return f"data for {len(report.days)} of {days_in_month} days ({num(report.hours_covered)} of " \
           f"{num(report.hours_in_month)} hours)"


def outlet_verdict(report: MonthReport) -> str:
    """The 60 °C proof in one sentence."""
    measured = report.outlet_hours_measured
    if measured == 0:
        return "outlet temperature not recorded in the ledger"
    below = report.outlet_hours_below_target
    target = f"{report.target_c:g} °C"
    if below == 0:
        return f"at or above {target} in all {measured} hours measured"
    return f"below {target} in {below} of {measured} hours measured"


def kpis(report: MonthReport) -> list[tuple[str, str, str]]:
    """(label, value, note) of the headline figures."""
    t = report.totals
    return [
        ("Hot water delivered", f"{num(report.hot_water_m3, 1)} m³", f"{num(t.dhw_heat_kwh)} kWh of heat at the taps"),
        ("Saved against gas alone", eur(t.savings_eur),
         f"gas alone {eur(t.baseline_gas_cost_eur)}, actual {eur(t.net_cost_eur)}"),
        ("Gas not burnt", f"{num(report.gas_saved_kwh)} kWh",
         f"{eur(report.gas_bill_avoided_eur)} less on the gas bill"),
        ("CO₂ avoided", f"{num(t.co2_avoided_kg)} kg",
         f"{num(t.co2_kg)} kg emitted, gas alone {num(t.baseline_co2_kg)} kg"),
        ("Cost per m³ of hot water", eur(report.net_cost_per_m3_eur),
         f"gas alone: {eur(report.baseline_cost_per_m3_eur)} per m³"),
        ("Heat from the miners", pct(report.miners_share), "the rest from the gas boiler"),
        (f"Lowest outlet temperature (target {report.target_c:g} °C)", f"{num(t.outlet_min_c, 1)} °C",
         outlet_verdict(report)),
        legionella_kpi(report),
    ]


def legionella_kpi(report: MonthReport) -> tuple[str, str, str]:
    h = report.hygiene
    if h is None:
        return ("Legionella log", DASH, "no hygiene log was read")
    violations = f"{h.violations} rule violation{'s' if h.violations != 1 else ''}"
    if not h.days_with_cycle:
        return ("Days with a disinfection cycle", f"0 of {h.days_observed}", violations)
    store, days = min(h.days_with_cycle.items(), key=lambda kv: kv[1])  # the tank with the fewest
    return ("Days with a disinfection cycle", f"{days} of {h.days_observed}", f"{store} tank · {violations}")


def money_rows(report: MonthReport) -> list[tuple[str, str]]:
    t = report.totals
    return [
        ("Gas alone would have cost", eur(t.baseline_gas_cost_eur)),
        ("Electricity for the miners", eur(t.electricity_cost_eur)),
        ("Gas burnt", eur(t.gas_cost_eur)),
        ("Mining revenue (deducted)", eur(-t.mining_revenue_eur)),
        ("Net cost", eur(t.net_cost_eur)),
        ("Saved against gas alone", eur(t.savings_eur)),
    ]


def energy_rows(report: MonthReport) -> list[tuple[str, str]]:
    t = report.totals
    return [
        ("Heat delivered at the taps", f"{num(t.dhw_heat_kwh)} kWh"),
        ("Heat from the miners", f"{num(t.heat_from_miners_kwh)} kWh"),
        ("Heat from the gas boiler", f"{num(t.heat_from_gas_kwh)} kWh"),
        ("Gas burnt", f"{num(t.gas_fuel_kwh)} kWh"),
        ("Gas alone would have burnt", f"{num(t.baseline_gas_fuel_kwh)} kWh"),
        ("Electricity for the miners", f"{num(t.electricity_kwh)} kWh"),
    ]


def hygiene_rows(report: MonthReport) -> list[tuple[str, str]]:
    t = report.totals
    rows = [
        (f"Lowest outlet temperature (target {report.target_c:g} °C)", f"{num(t.outlet_min_c, 1)} °C"),
        (f"Hours with the outlet below {report.target_c:g} °C",
         f"{report.outlet_hours_below_target} of {report.outlet_hours_measured}"),
        ("Hot water drawn below the setpoint", f"{num(t.dhw_volume_below_setpoint_l)} L"),
        ("Lowest loop return (rule: 55 °C)", f"{num(t.loop_return_min_c, 1)} °C"),
    ]
    h = report.hygiene
    if h is None:
        rows.append(("Legionella log", "not given (no hygiene log was read)"))
        return rows
    for store, n in h.days_with_cycle.items():
        rows.append((f"Days with a disinfection cycle passed ({store} tank)", f"{n} of {h.days_observed}"))
    if not h.days_with_cycle:
        rows.append(("Days with a disinfection cycle passed", f"0 of {h.days_observed}"))
    rows += [
        ("Disinfection cycles passed", num(h.cycles_passed)),
        ("Failed or missed cycles", _failed(h)),
        ("Hygiene rule violations", num(h.violations) + (
            " (" + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in h.violations_by_kind.items()) + ")"
            if h.violations_by_kind else "")),
        ("Minutes with the outlet below the rule", num(h.outlet_minutes_below)),
    ]
    return rows


def _failed(h: HygieneMonth) -> str:
    n = h.cycles_failed + h.cycles_missed
    broke = h.violations_by_kind.get("cycle_fail", 0) + h.violations_by_kind.get("cycle_missed", 0)
    if n == 0:
        return "0"
    return f"{n} (no rule broken)" if broke == 0 else f"{n} ({broke} broke a rule)"


def miner_rows(report: MonthReport) -> list[tuple[str, str]]:
    t = report.totals
    return [
        ("Hours the miners ran", f"{num(report.mining_hours)} of {num(report.hours_covered)}"),
        ("Mining revenue", eur(t.mining_revenue_eur)),
        ("Electricity they used", f"{num(t.electricity_kwh)} kWh"),
        ("Its cost", eur(t.electricity_cost_eur)),
        ("Heat they gave the hot water", f"{num(t.heat_from_miners_kwh)} kWh"),
        ("Heat dumped outdoors (no use for it)", f"{num(t.heat_dumped_kwh)} kWh"),
        ("Availability", "not in the ledger"),
    ]


NOTES = (
    "Gas alone: the heat actually delivered to the taps, plus the hot-water loop's and the tanks' "
    "heat losses, made by the site's gas boiler at its rated efficiency and priced at the site's gas "
    "price. It leaves out the gas-only plant's own (cooler) tank and loop temperatures, burner "
    "cycling and changes of the energy stored in the tanks (a few percent; docs/ledger.md).",
    "Net cost = electricity for the miners + gas − mining revenue. Saved = what gas alone would "
    "have cost − net cost. CO₂: gas and grid electricity emission factors of the site's config.",
    "Days are the site's local days; the month counts the ledger hours that start in it.",
)
