"""`boiler report`: a month of the ledger and hygiene log, its totals, and its refusals (exit 2)."""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow, sum_rows
from boiler.report import text
from boiler.report.html import render_html
from boiler.report.month import build_month, local_midnight_s, parse_month
from boiler.report.sources import ReportInputError, ReportSource, from_config, from_csv
from boiler.simulation import run_simulation
from boiler.store import PlantStore

SCENARIO = "residence-48-preheat"


@pytest.fixture(scope="module")
def three_days():
    """Three simulated days across a month's end (local time): 30 and 31 January, 1 February."""
    return run_simulation(scenarios.load(SCENARIO), 3, date(2026, 1, 30), scenario=SCENARIO)


@pytest.fixture(scope="module")
def state_config(three_days, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site config whose service state file holds the simulated ledger and hygiene log."""
    root = tmp_path_factory.mktemp("site")
    data = yaml.safe_load((Path(scenarios.__file__).parent / f"{SCENARIO}.yaml").read_text(encoding="utf-8"))
    data["service"] = {"state_path": str(root / "state.sqlite")}
    path = root / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with PlantStore(root / "state.sqlite") as store:
        store.commit(three_days.ledger, events=three_days.hygiene.all_events())
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "January", "", "2026-00", "2026-01-05"])
def test_a_malformed_month_is_refused(text: str) -> None:
    with pytest.raises(ReportInputError, match="YYYY-MM"):
        parse_month(text)


def test_the_month_is_the_sites_local_calendar_month_half_open(three_days, state_config: Path) -> None:
    source = from_config(state_config, None)
    assert source.site == SCENARIO and len(source.rows) == 72
    jan, feb = build_month(source, date(2026, 1, 1)), build_month(source, date(2026, 2, 1))
    split_s = local_midnight_s(date(2026, 2, 1), source.timezone)
    assert [r.start_s < split_s for r in jan.rows] == [True] * 48
    assert len(feb.rows) == 24 and feb.rows[0].start_s == split_s
    assert jan.totals == sum_rows(jan.rows) and [d.day.day for d in jan.days] == [30, 31]
    for key in ("dhw_volume_l", "savings_eur", "baseline_gas_cost_eur", "net_cost_eur", "heat_from_miners_kwh"):
        both = getattr(jan.totals, key) + getattr(feb.totals, key)
        assert both == pytest.approx(three_days.summary[key], rel=1e-12), key
    assert jan.hours_in_month == 744 and feb.hours_in_month == 672
    assert jan.hygiene is not None and jan.hygiene.days_observed == 2
    events = three_days.hygiene.all_events()
    assert jan.hygiene.cycles_passed + feb.hygiene.cycles_passed == sum(e.kind == "cycle_pass" for e in events)


def test_json_from_the_state_file_has_the_ledger_totals(three_days, state_config: Path) -> None:
    code, out = run("-c", str(state_config), "--month", "2026-02", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    rows = [r for r in three_days.ledger if r.start_s >= local_midnight_s(date(2026, 2, 1), _paris())]
    expected = sum_rows(rows).as_dict()
    assert data["site"] == SCENARIO and data["ledger_rows"] == 24 and data["timezone"] == "Europe/Paris"
    assert data["totals"].keys() == expected.keys()
    for key, value in expected.items():
        assert data["totals"][key] == (None if math.isnan(value) else pytest.approx(value, rel=1e-12)), key
    assert data["figures"]["outlet_hours_below_target"] == sum(r.outlet_min_c < 60 for r in rows)
    assert [d["date"] for d in data["days"]] == ["2026-02-01"]


def test_unknown_site_empty_month_and_malformed_month_exit_2_with_a_clear_message(
        state_config: Path, tmp_path: Path) -> None:
    code, out = run("-c", str(state_config), "--month", "2026-01", "--site", "elsewhere")
    assert code == 2 and "unknown site 'elsewhere'" in out and SCENARIO in out
    code, out = run("-c", str(state_config), "--month", "2026-03")
    assert code == 2 and "no data for site" in out and "2026-03" in out and "2026-01-30 to 2026-02-02" in out
    code, out = run("-c", str(state_config), "--month", "2026-3")
    assert code == 2 and "is not a month; use YYYY-MM" in out
    code, out = run("--month", "2026-01")
    assert code == 2 and "exactly one of" in out
    code, out = run("-c", str(state_config), "--month", "2026-01", "--format", "docx")
    assert code == 2 and "--format 'docx'" in out
    missing = tmp_path / "nowhere.yaml"
    missing.write_text(state_config.read_text(encoding="utf-8").replace("state.sqlite", "missing.sqlite"))
    code, out = run("-c", str(missing), "--month", "2026-01")
    assert code == 2 and "does not exist" in out


def test_csv_ledger_sites_and_bad_rows(three_days, tmp_path: Path) -> None:
    ledger, log = tmp_path / "ledger.csv", tmp_path / "hygiene.csv"
    code = CliRunner().invoke(app, ["simulate", "-s", SCENARIO, "--days", "1", "--start", "2026-02-01", "-q",
                                    "--ledger", str(ledger), "--hygiene-log", str(log)]).exit_code
    assert code in (0, 1)
    code, out = run("--ledger", str(ledger), "--month", "2026-02", "--site", "residence-48")
    assert code == 2 and "unknown site 'residence-48'" in out and SCENARIO in out
    source = from_csv(ledger, log, None, _paris())
    assert source.site == SCENARIO and len(source.rows) == 24 and source.events is not None
    bad = tmp_path / "bad.csv"
    lines = ledger.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([lines[0], lines[1].replace(SCENARIO + ",", SCENARIO + ",yesterday,", 1)]) + "\n")
    code, out = run("--ledger", str(bad), "--month", "2026-02")
    assert code == 2 and "line 2" in out
    code, out = run("--ledger", str(log), "--month", "2026-02")
    assert code == 2 and "not a ledger CSV" in out
    code, out = run("--ledger", str(ledger), "--month", "2026-02", "--timezone", "Mars/Olympus")
    assert code == 2 and "not a time zone" in out


def test_pdf_without_weasyprint_says_what_to_install_and_exits_1(
        state_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint → ImportError
    code, out = run("-c", str(state_config), "--month", "2026-01", "--format", "pdf", "--out", str(tmp_path / "r.pdf"))
    assert code == 1 and "mining-boiler[pdf]" in out.replace("\n", "")
    assert not (tmp_path / "r.pdf").exists()


def test_png_and_html_are_written(state_config: Path, tmp_path: Path) -> None:
    for fmt in ("png", "html"):
        out = tmp_path / f"r.{fmt}"
        code, text = run("-c", str(state_config), "--month", "2026-01", "--format", fmt, "--out", str(out))
        assert code == 0, text
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4
    # Self-contained: nothing to fetch (no link, script, image, import, and no reference outside the page).
    assert not re.search(r"<link|<script|<img|@import|url\((?!#)|(src|href)\s*=\s*\"(?!#)", page)
    assert re.search(r"url\(#", page)  # the pattern does see the charts' internal references


def _paris() -> ZoneInfo:
    return ZoneInfo("Europe/Paris")


def test_a_month_with_violations_and_failed_cycles_says_so() -> None:
    tz = ZoneInfo("UTC")
    t0 = local_midnight_s(date(2026, 3, 1), tz)
    rows = [LedgerRow(start_s=t0 + h * 3600.0, end_s=t0 + (h + 1) * 3600.0, dhw_volume_l=100.0,
                      outlet_min_c=58.5 if h in (5, 30) else 61.0, loop_return_min_c=56.0,
                      baseline_gas_fuel_kwh=1.0, baseline_gas_cost_eur=0.1, baseline_co2_kg=0.2)
            for h in range(48)]
    day = 86_400.0
    events = [
        ComplianceEvent("cycle_pass", "finishing", t0 + 3600.0, t0 + 7200.0, 66.0, False, "≥ 65 °C for 240 s"),
        ComplianceEvent("cycle_fail", "finishing", t0 + day + 3600.0, t0 + day + 4000.0, 63.0, False, "held 100 s"),
        ComplianceEvent("cycle_missed", "finishing", t0 + day + 7200.0, t0 + 2 * day, None, True, "no cycle in 24 h"),
        ComplianceEvent("outlet_low", None, t0 + 5 * 3600.0, t0 + 5 * 3600.0 + 600.0, 58.5, True, "below 60 °C"),
        ComplianceEvent("outlet_low", None, t0 - 600.0, t0 - 300.0, 50.0, True, "last month: not counted"),
    ]
    source = ReportSource(site="s", timezone=tz, rows=rows, events=events, origin="test", target_c=60.0)
    month = build_month(source, date(2026, 3, 1))
    assert (month.outlet_hours_below_target, month.outlet_hours_measured) == (2, 48)
    h = month.hygiene
    assert h is not None and h.days_observed == 2 and h.days_with_cycle == {"finishing": 1}
    assert (h.cycles_passed, h.cycles_failed, h.cycles_missed, h.violations) == (1, 1, 1, 2)
    assert h.violations_by_kind == {"cycle_missed": 1, "outlet_low": 1}
    assert h.outlet_minutes_below == 10.0 and h.lowest_outlet_episode_c == 58.5
    rows_text = dict(text.hygiene_rows(month))
    assert rows_text["Failed or missed cycles"] == "2 (1 broke a rule)"
    assert rows_text["Hygiene rule violations"] == "2 (cycle missed: 1, outlet low: 1)"
    assert rows_text["Hours with the outlet below 60 °C"] == "2 of 48"
    assert text.outlet_verdict(month) == "below 60 °C in 2 of 48 hours measured"
    assert text.legionella_kpi(month) == ("Days with a disinfection cycle", "1 of 2",
                                          "finishing tank · 2 rule violations")
    page = render_html(month)
    assert 'class="kpi bad"' in page and "2 of 48" in page
