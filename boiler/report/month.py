"""One month of a site: the ledger's totals and days, and the hygiene log's verdicts.

A month is the site's calendar month in its time zone, half-open: a ledger row belongs to it when
the row *starts* in [first local midnight, next month's first local midnight). Its totals are
`sum_rows` of exactly those rows, the same sums as the ledger's. Hygiene events count on the
local day they start.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow, sum_rows
from boiler.report.sources import ReportInputError, ReportSource

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """The first day of a YYYY-MM month."""
    m = _MONTH.match(text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise ReportInputError(f"--month {text!r} is not a month; use YYYY-MM, e.g. 2026-01")
    return date(int(m.group(1)), int(m.group(2)), 1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def local_midnight_s(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def local_day(t_s: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(t_s, tz).date()


@dataclass(frozen=True)
class Day:
    """One local day's ledger sums (only days with rows appear)."""

    day: date
    totals: LedgerRow
    hours: float
    mining_hours: float  # hours of rows in which the miners used electricity


@dataclass(frozen=True)
class HygieneMonth:
    """The month's part of the hygiene log."""

    days_observed: int
    days_with_cycle: dict[str, int]  # store -> local days on which a disinfection cycle passed
    cycles_passed: int
    cycles_failed: int
    cycles_missed: int
    violations: int
    violations_by_kind: dict[str, int]
    outlet_minutes_below: float
    loop_return_minutes_below: float
    lowest_outlet_episode_c: float | None  # lowest outlet in an episode below the rule
    cycle_days: dict[date, int] = field(default_factory=dict)  # local day -> cycles passed
    failed_days: dict[date, int] = field(default_factory=dict)  # local day -> failed or missed cycles


@dataclass(frozen=True)
class MonthReport:
    site: str
    month: date  # first day
    timezone: str
    origin: str
    target_c: float
    rows: list[LedgerRow]
    totals: LedgerRow
    days: list[Day]
    hygiene: HygieneMonth | None  # None: no hygiene log given
    hours_in_month: float

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def hours_covered(self) -> float:
        return sum(r.end_s - r.start_s for r in self.rows) / 3600.0

    @property
    def hot_water_m3(self) -> float:
        return self.totals.dhw_volume_l / 1000.0

    @property
    def miners_share(self) -> float:
        heat = self.totals.heat_from_miners_kwh + self.totals.heat_from_gas_kwh
        return self.totals.heat_from_miners_kwh / heat if heat > 0 else 0.0

    @property
    def gas_saved_kwh(self) -> float:
        """Gas not burnt against the gas-only baseline (PCI)."""
        return self.totals.baseline_gas_fuel_kwh - self.totals.gas_fuel_kwh

    @property
    def gas_bill_avoided_eur(self) -> float:
        return self.totals.baseline_gas_cost_eur - self.totals.gas_cost_eur

    @property
    def net_cost_per_m3_eur(self) -> float:
        return self.totals.net_cost_eur / self.hot_water_m3 if self.hot_water_m3 > 0 else math.nan

    @property
    def baseline_cost_per_m3_eur(self) -> float:
        return self.totals.baseline_gas_cost_eur / self.hot_water_m3 if self.hot_water_m3 > 0 else math.nan

    @property
    def mining_hours(self) -> float:
        return sum(d.mining_hours for d in self.days)

    @property
    def outlet_hours_measured(self) -> int:
        return sum(1 for r in self.rows if not math.isnan(r.outlet_min_c))

    @property
    def outlet_hours_below_target(self) -> int:
        """Ledger intervals (hours) whose lowest outlet temperature was below the target."""
        return sum(1 for r in self.rows if r.outlet_min_c < self.target_c)

    def figures(self) -> dict[str, float | int]:
        """The month's derived figures, by name (units in the names)."""
        return {
            "hot_water_m3": self.hot_water_m3,
            "miners_share": self.miners_share,
            "gas_saved_kwh": self.gas_saved_kwh,
            "gas_bill_avoided_eur": self.gas_bill_avoided_eur,
            "savings_eur": self.totals.savings_eur,
            "co2_avoided_kg": self.totals.co2_avoided_kg,
            "net_cost_per_m3_eur": self.net_cost_per_m3_eur,
            "baseline_cost_per_m3_eur": self.baseline_cost_per_m3_eur,
            "outlet_min_c": self.totals.outlet_min_c,
            "loop_return_min_c": self.totals.loop_return_min_c,
            "outlet_target_c": self.target_c,
            "outlet_hours_measured": self.outlet_hours_measured,
            "outlet_hours_below_target": self.outlet_hours_below_target,
            "dhw_volume_below_setpoint_l": self.totals.dhw_volume_below_setpoint_l,
            "mining_hours": self.mining_hours,
            "hours_covered": self.hours_covered,
            "hours_in_month": self.hours_in_month,
        }


def build_month(source: ReportSource, first: date) -> MonthReport:
    """The month starting `first` (a first of the month) at `source`'s site; refuses an empty month."""
    tz = source.timezone
    start_s, end_s = local_midnight_s(first, tz), local_midnight_s(next_month(first), tz)
    rows = sorted((r for r in source.rows if start_s <= r.start_s < end_s), key=lambda r: r.start_s)
    if not rows:
        raise ReportInputError(_empty_message(source, first))
    by_day: dict[date, list[LedgerRow]] = defaultdict(list)
    for r in rows:
        by_day[local_day(r.start_s, tz)].append(r)
    days = [Day(day=d, totals=sum_rows(rs), hours=sum(r.end_s - r.start_s for r in rs) / 3600.0,
                mining_hours=sum(r.end_s - r.start_s for r in rs if r.electricity_kwh > 0) / 3600.0)
            for d, rs in sorted(by_day.items())]
    hygiene = None
    if source.events is not None:
        events = [e for e in source.events if start_s <= e.start_s < end_s]
        hygiene = _hygiene(events, tz, len(days))
    return MonthReport(site=source.site, month=first, timezone=str(tz.key), origin=source.origin,
                       target_c=source.target_c, rows=rows, totals=sum_rows(rows), days=days, hygiene=hygiene,
                       hours_in_month=(end_s - start_s) / 3600.0)


def _empty_message(source: ReportSource, first: date) -> str:
    where = f"site {source.site!r} in {first:%Y-%m} ({source.timezone.key})"
    if not source.rows:
        return f"no data for {where}: the ledger ({source.origin}) has no rows"
    lo = local_day(min(r.start_s for r in source.rows), source.timezone)
    hi = local_day(max(r.end_s for r in source.rows), source.timezone)
    return f"no data for {where}: the ledger ({source.origin}) covers {lo} to {hi}"


def _hygiene(events: list[ComplianceEvent], tz: ZoneInfo, days_observed: int) -> HygieneMonth:
    kinds = Counter(e.kind for e in events)
    passed_days: dict[str, set[date]] = defaultdict(set)
    cycle_days: Counter[date] = Counter()
    failed_days: Counter[date] = Counter()
    for e in events:
        if e.kind == "cycle_pass":
            passed_days[e.store or "?"].add(local_day(e.start_s, tz))
            cycle_days[local_day(e.start_s, tz)] += 1
        elif e.kind in ("cycle_fail", "cycle_missed"):
            failed_days[local_day(e.start_s, tz)] += 1
    lows = [e.extreme_c for e in events if e.kind in ("outlet_low", "outlet_dip") and e.extreme_c is not None]
    minutes = Counter[str]()
    for e in events:
        minutes[e.kind] += e.duration_s / 60.0
    return HygieneMonth(
        days_observed=days_observed,
        days_with_cycle={store: len(d) for store, d in sorted(passed_days.items())},
        cycles_passed=kinds["cycle_pass"],
        cycles_failed=kinds["cycle_fail"],
        cycles_missed=kinds["cycle_missed"],
        violations=sum(e.violation for e in events),
        violations_by_kind=dict(sorted(Counter(e.kind for e in events if e.violation).items())),
        outlet_minutes_below=minutes["outlet_low"] + minutes["outlet_dip"],
        loop_return_minutes_below=minutes["loop_return_low"],
        lowest_outlet_episode_c=min(lows) if lows else None,
        cycle_days=dict(sorted(cycle_days.items())),
        failed_days=dict(sorted(failed_days.items())),
    )


def month_days(first: date) -> list[date]:
    """Every day of the month."""
    n = (next_month(first) - first).days
    return [first + timedelta(days=i) for i in range(n)]
