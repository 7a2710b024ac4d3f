"""Every dashboard query, macros and variables expanded, against a real InfluxDB 1.x loaded with a
month of two simulated sites written through the telemetry path.

November 2026 (30 days, no daylight-saving change in Europe/Paris) of ``residence-48`` and of
``residence-48-preheat`` (it has disinfection cycles), and 31 October of ``residence-48`` as the
"previous month" whose last ledger row is stamped exactly at the start of November. The month's
figures must equal the simulation's summary to 1e-6 relative, and two sites selected must add up.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest

from boiler.dashboards import influxql, installer, landlord
from boiler.ledger import LedgerRow
from tests.integration.dashboard_data import SimulatedSite, simulate_site, write
from tests.integration.grafana_expand import Expander, TimeRange
from tests.integration.influx_servers import InfluxDB1

pytestmark = pytest.mark.slow

GRAFANA: Final = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
DATABASE: Final = "dashboards"
SINGLE, PREHEAT = "residence-48", "residence-48-preheat"
TZ: Final = ZoneInfo("Europe/Paris")
NOVEMBER: Final = date(2026, 11, 1)
DST_SITE, DST_START = "dst-weekend", date(2026, 10, 24)


def local_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)


#: Grafana's "this month" on 15 November 2026, dashboard time zone Europe/Paris: now/M to now/M.
MONTH: Final = TimeRange(local_ms(NOVEMBER), local_ms(date(2026, 12, 1)) - 1)

#: Panel (dashboard uid, title) -> why it is legitimately empty on this month of these two sites.
DECLARED_EMPTY: Final[dict[tuple[str, str], str]] = {
    # Written on every change of reason (tests/boiler/test_tick_telemetry.py shows one); these two sites
    # keep their stores hot enough that no cycle needs the safety layer and no sensor fails.
    (installer.UID, "Safety overrides"): "no safety override in these runs: decided_by is 'rule' on every tick",
    (installer.UID, "Forced commands (safety cut)"): "the rule strategy forced nothing in these runs",
    (landlord.UID, "Breaches of the hygiene rules"): "both sites met the rules (summary: 0 violations)",
}


@dataclass(frozen=True)
class Loaded:
    db: InfluxDB1
    sites: dict[str, SimulatedSite]
    october: SimulatedSite
    dst: SimulatedSite  # 24–26 October 2026: the clocks go back on the 25th (a 25-hour day)

    def run(self, query: str, sites: list[str], time_range: TimeRange = MONTH) -> list[dict[str, Any]]:
        expanded = Expander(time_range, {"site": sites, "tz": "Europe/Paris"}).expand(query)
        return self.db.query(expanded, database=DATABASE)


@pytest.fixture(scope="session")
def loaded(influx1: InfluxDB1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Simulated once per session (about 20 s), written once."""
    sites = {name: simulate_site(name, name, NOVEMBER, 30) for name in (SINGLE, PREHEAT)}
    october = simulate_site(SINGLE, SINGLE, date(2026, 10, 31), 1)
    dst = simulate_site(SINGLE, DST_SITE, DST_START, 3 + 1 / 24)  # three local days: 73 hours
    influx1.create_database(DATABASE)
    points = [p for s in (*sites.values(), october, dst) for p in s.points]
    outbox = tmp_path_factory.mktemp("dashboard-outbox") / "outbox.sqlite"
    asyncio.run(write(points, influx1.url, DATABASE, influx1.token, outbox))
    yield Loaded(influx1, sites, october, dst)


def dashboard(uid: str) -> dict[str, Any]:
    return json.loads((GRAFANA / f"{uid}.json").read_text())


def queries(uid: str) -> list[tuple[str, str]]:
    """(panel or annotation title, query) of every target of a dashboard."""
    model = dashboard(uid)
    found = [(p["title"], t["query"]) for p in model["panels"] for t in p.get("targets", [])]
    found += [(a["name"], a["target"]["query"]) for a in model.get("annotations", {}).get("list", [])]
    return found


def panel_query(uid: str, title: str) -> str:
    matches = [q for t, q in queries(uid) if t == title]
    assert len(matches) == 1, (title, matches)
    return matches[0]


def points_in(series: list[dict[str, Any]]) -> int:
    return sum(len(s["values"]) for s in series)


def single_value(series: list[dict[str, Any]]) -> float:
    assert len(series) == 1 and len(series[0]["values"]) == 1, series
    return float(series[0]["values"][0][1])


def test_site_variable_lists_both_sites(loaded: Loaded) -> None:
    model = dashboard(landlord.UID)
    site = next(v for v in model["templating"]["list"] if v["name"] == "site")
    series = loaded.db.query(site["query"], database=DATABASE)
    assert sorted(v[1] for v in series[0]["values"]) == sorted([DST_SITE, SINGLE, PREHEAT])


#: The installer's default range, "the last 24 hours", on 15 November.
DAY: Final = TimeRange(local_ms(date(2026, 11, 14)), local_ms(date(2026, 11, 15)))


@pytest.mark.parametrize(("uid", "time_range"), [(landlord.UID, MONTH), (installer.UID, MONTH), (installer.UID, DAY)],
                         ids=["landlord-month", "installer-month", "installer-day"])
def test_every_query_returns_data_or_is_declared_empty(loaded: Loaded, uid: str, time_range: TimeRange) -> None:
    both = [SINGLE, PREHEAT]
    failures = []
    for title, query in queries(uid):
        n = points_in(loaded.run(query, both, time_range))
        reason = DECLARED_EMPTY.get((uid, title))
        if reason is None and n == 0:
            failures.append(f"{title}: no data for {query}")
        elif reason is not None and n > 0:
            failures.append(f"{title}: declared empty ({reason}) but returned {n} points: update DECLARED_EMPTY")
    assert not failures, "\n".join(failures)


def _summary(sites: list[SimulatedSite], key: str) -> float:
    return sum(float(s.summary[key]) for s in sites)


Expected = Callable[[list[SimulatedSite]], float]
#: Landlord panel -> its figure from the simulations' summaries.
MONTH_FIGURES: Final[dict[str, Expected]] = {
    "Hot water delivered": lambda s: _summary(s, "dhw_volume_l") / 1000,
    "Heat from the miners": lambda s: _summary(s, "heat_from_miners_kwh"),
    "Heat from the gas boiler": lambda s: _summary(s, "heat_from_gas_kwh"),
    "Miners' share of the heat": lambda s: 100 * _summary(s, "heat_from_miners_kwh") / (
        _summary(s, "heat_from_miners_kwh") + _summary(s, "heat_from_gas_kwh")),
    "Money saved against gas alone": lambda s: _summary(s, "savings_eur"),
    "Gas saved": lambda s: _summary(s, "baseline_gas_fuel_kwh") - _summary(s, "gas_fuel_kwh"),
    "Gas bill saved": lambda s: _summary(s, "baseline_gas_cost_eur") - _summary(s, "gas_cost_eur"),
    "CO₂ avoided": lambda s: _summary(s, "co2_avoided_kg"),
    "Mining revenue": lambda s: _summary(s, "mining_revenue_eur"),
    "Electricity cost": lambda s: _summary(s, "electricity_cost_eur"),
    "Gas cost": lambda s: _summary(s, "gas_cost_eur"),
    "Net cost of the hot water": lambda s: _summary(s, "net_cost_eur"),
    "Net cost per m³": lambda s: _summary(s, "net_cost_eur") / (_summary(s, "dhw_volume_l") / 1000),
    "Electricity used by the miners": lambda s: _summary(s, "electricity_kwh"),
}


@pytest.mark.parametrize("selection", [[SINGLE], [PREHEAT], [SINGLE, PREHEAT]], ids=["single", "preheat", "both"])
def test_month_figures_equal_the_simulation_summary(loaded: Loaded, selection: list[str]) -> None:
    sites = [loaded.sites[name] for name in selection]
    for title, expected in MONTH_FIGURES.items():
        value = single_value(loaded.run(panel_query(landlord.UID, title), selection))
        want = expected(sites)
        assert math.isfinite(want) and want != 0, title
        assert value == pytest.approx(want, rel=1e-6), title


def test_litres_below_the_setpoint_match_the_summary(loaded: Loaded) -> None:
    sites = list(loaded.sites.values())
    series = loaded.run(panel_query(landlord.UID, "Hot water drawn below the set temperature"), [SINGLE, PREHEAT])
    assert single_value(series) == pytest.approx(_summary(sites, "dhw_volume_below_setpoint_l"), abs=1e-9)


def test_the_month_is_half_open_at_the_hour_ends(loaded: Loaded) -> None:
    """The row stamped at 1 Nov 00:00 (October's last hour) is out, the one at 1 Dec 00:00 is in;
    Grafana's ``$timeFilter`` would do the opposite."""
    nov, october = loaded.sites[SINGLE], loaded.october
    assert october.ledger[-1].end_s * 1000 == MONTH.from_ms
    assert nov.ledger[-1].end_s * 1000 == MONTH.to_ms + 1
    query = panel_query(landlord.UID, "Net cost of the hot water")
    value = single_value(loaded.run(query, [SINGLE]))
    assert value == pytest.approx(float(nov.summary["net_cost_eur"]), rel=1e-9)
    naive = single_value(loaded.run(query.replace(influxql.INTERVAL_END_RANGE, "$timeFilter"), [SINGLE]))
    shifted = value - nov.ledger[-1].net_cost_eur + october.ledger[-1].net_cost_eur
    assert naive == pytest.approx(shifted, rel=1e-9)
    assert abs(naive - value) > 1e-6 * value  # the two hours differ: the test can tell them apart


def test_daily_bars_hold_each_local_day_and_add_up_to_the_month(loaded: Loaded) -> None:
    series = loaded.run(panel_query(landlord.UID, "Heat by source, per day"), [SINGLE, PREHEAT])
    assert len(series) == 1
    columns, rows = series[0]["columns"], series[0]["values"]
    assert columns == ["time", "Miners", "Gas boiler"]
    days = [datetime.fromtimestamp(r[0] / 1e9, TZ) for r in rows]
    assert [d.day for d in days] == list(range(1, 31))
    assert all((d.hour, d.minute, d.microsecond) == (0, 0, 1000) for d in days)  # local midnight + 1 ms
    sites = list(loaded.sites.values())
    assert sum(r[1] for r in rows) == pytest.approx(_summary(sites, "heat_from_miners_kwh"), rel=1e-6)
    assert sum(r[2] for r in rows) == pytest.approx(_summary(sites, "heat_from_gas_kwh"), rel=1e-6)
    # Each day holds the 24 hours that end in it: the first ends at 01:00, the last at midnight.
    first_day = sum(row.heat_from_miners_kwh for row in loaded.sites[SINGLE].ledger[:24]) + sum(
        row.heat_from_miners_kwh for row in loaded.sites[PREHEAT].ledger[:24])
    assert rows[0][1] == pytest.approx(first_day, rel=1e-9)


def test_buildings_table_lists_each_site_with_its_own_totals(loaded: Loaded) -> None:
    series = loaded.run(panel_query(landlord.UID, "Buildings side by side"), [SINGLE, PREHEAT])
    by_site = {s["tags"]["site"]: dict(zip(s["columns"], s["values"][0], strict=True)) for s in series}
    assert sorted(by_site) == [SINGLE, PREHEAT]
    for name, row in by_site.items():
        summary = loaded.sites[name].summary
        assert row["Net cost (EUR)"] == pytest.approx(float(summary["net_cost_eur"]), rel=1e-6)
        assert row["Saved against gas alone (EUR)"] == pytest.approx(float(summary["savings_eur"]), rel=1e-6)
        assert row["Hot water (m³)"] == pytest.approx(float(summary["dhw_volume_l"]) / 1000, rel=1e-6)


def test_lowest_temperatures_equal_the_summary(loaded: Loaded) -> None:
    """From the ledger's hourly minima: every physics step counts, as in the summary."""
    for title, key in (("Lowest temperature leaving the tank", "min_outlet_temp_c"),
                       ("Lowest loop return", "min_loop_return_c")):
        query = panel_query(landlord.UID, title)
        for name, site in loaded.sites.items():
            assert single_value(loaded.run(query, [name])) == pytest.approx(float(site.summary[key]), abs=1e-9)
        both = single_value(loaded.run(query, [SINGLE, PREHEAT]))
        assert both == pytest.approx(min(float(s.summary[key]) for s in loaded.sites.values()), abs=1e-9)


def test_miner_time_mining_counts_are_consistent(loaded: Loaded) -> None:
    model = dashboard(landlord.UID)
    panel = next(p for p in model["panels"] if p["title"] == "Miners: time mining and answering")
    counts: dict[str, dict[tuple[str, str], float]] = {}
    for target in panel["targets"]:
        for s in loaded.run(target["query"], [SINGLE, PREHEAT]):
            column = s["columns"][1]
            counts.setdefault(column, {})[(s["tags"]["site"], s["tags"]["miner"])] = s["values"][0][1]
    polls, mining, answered = counts["polls"], counts["mining"], counts["answered"]
    assert set(mining) <= set(polls) and set(answered) <= set(polls)
    assert {site for site, _ in polls} == {SINGLE, PREHEAT}
    assert all(0 < mining.get(k, 0) <= n and answered.get(k, 0) <= n for k, n in polls.items())


def test_days_with_a_passed_cycle_are_the_local_days_of_the_hygiene_log(loaded: Loaded) -> None:
    query = panel_query(landlord.UID, "Days with a disinfection cycle passed")
    series = {s["tags"]["site"]: s["values"][0][1] for s in loaded.run(query, [SINGLE, PREHEAT])}
    expected = {}
    for name, site in loaded.sites.items():
        days = {datetime.fromtimestamp(ev.start_s, TZ).date() for ev in site.events if ev.kind == "cycle_pass"}
        if days:
            expected[name] = len(days)
    assert expected, "no site had a disinfection cycle: the panel is not tested"
    assert series == expected


def test_failed_cycles_and_breaches_count_the_hygiene_log(loaded: Loaded) -> None:
    events = [ev for site in loaded.sites.values() for ev in site.events]
    checks = (
        ("Failed or missed disinfection cycles", lambda ev: ev.kind in ("cycle_fail", "cycle_missed")),
        ("Breaches of the hygiene rules", lambda ev: ev.violation),
    )
    for title, wanted in checks:
        series = loaded.run(panel_query(landlord.UID, title), [SINGLE, PREHEAT])
        count = sum(1 for ev in events if wanted(ev))
        assert (single_value(series) if series else 0) == count, title


def test_daily_bars_follow_the_local_day_across_the_clock_change(loaded: Loaded) -> None:
    """25 October 2026 has 25 hours in Europe/Paris: its bar holds 25 hourly rows."""
    rows = loaded.dst.ledger
    span = TimeRange(local_ms(DST_START), local_ms(date(2026, 10, 27)) - 1)
    series = loaded.run(panel_query(landlord.UID, "Heat by source, per day"), [DST_SITE], span)
    bars = [(datetime.fromtimestamp(r[0] / 1e9, TZ).date(), r[1]) for r in series[0]["values"]]
    assert [d for d, _ in bars] == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    by_day: dict[date, list[LedgerRow]] = {}
    for row in rows:  # each hour in the local day it ends in (the midnight row in the day before)
        by_day.setdefault(datetime.fromtimestamp(row.end_s - 1, TZ).date(), []).append(row)
    assert [len(by_day[d]) for d, _ in bars] == [24, 25, 24]
    for day, value in bars:
        assert value == pytest.approx(sum(r.heat_from_miners_kwh for r in by_day[day]), rel=1e-9), day
