"""The monthly report of a simulated month, as a landlord would get it: 30 days of
residence-48-preheat (it logs disinfection cycles) through `boiler simulate --ledger --hygiene-log`,
then `boiler report`. Its JSON totals are the ledger's; its HTML, printed to PDF by a real headless
Chromium and read back with pdftotext, shows the month's savings and the 60 °C figures; the first
page is rendered to PNG (pdftoppm) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boiler.cli import app
from boiler.report.text import eur, num
from tests.integration.influx_servers import require_binary

SCENARIO = "residence-48-preheat"
MONTH = "2026-01"
#: Where to keep the first page's PNG for a person (default: the test's temporary folder).
ARTIFACTS = os.environ.get("BOILER_REPORT_ARTIFACTS")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    files = {"ledger": root / "ledger.csv", "hygiene": root / "hygiene.csv", "summary": root / "summary.json"}
    result = CliRunner().invoke(app, ["simulate", "-s", SCENARIO, "--days", "30", "--start", "2026-01-01", "-q",
                                      "--ledger", str(files["ledger"]), "--hygiene-log", str(files["hygiene"]),
                                      "--json", str(files["summary"])])
    assert result.exit_code == 0, result.output  # the scenario holds 60 °C and its hygiene rules
    return {**files, "root": root}


def report(month: dict[str, Path], fmt: str, out: Path | None = None) -> str:
    args = ["report", "--ledger", str(month["ledger"]), "--hygiene-log", str(month["hygiene"]),
            "--timezone", "Europe/Paris", "--month", MONTH, "--format", fmt]
    result = CliRunner().invoke(app, [*args, *(["--out", str(out)] if out else [])])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_json_totals_are_the_ledgers(month: dict[str, Path]) -> None:
    data = json.loads(report(month, "json"))
    summary = json.loads(month["summary"].read_text(encoding="utf-8"))
    assert data["ledger_rows"] == 720 and data["site"] == SCENARIO
    for key in ("dhw_volume_l", "dhw_heat_kwh", "heat_from_miners_kwh", "heat_from_gas_kwh", "gas_fuel_kwh",
                "electricity_kwh", "mining_revenue_eur", "electricity_cost_eur", "gas_cost_eur", "net_cost_eur",
                "co2_kg", "baseline_gas_fuel_kwh", "baseline_gas_cost_eur", "baseline_co2_kg", "savings_eur",
                "co2_avoided_kg", "dhw_volume_below_setpoint_l"):
        assert data["totals"][key] == pytest.approx(summary[key], rel=1e-9, abs=1e-9), key
    assert data["totals"]["outlet_min_c"] == pytest.approx(summary["min_outlet_temp_c"])
    assert data["figures"]["hot_water_m3"] == pytest.approx(summary["dhw_volume_l"] / 1000)
    hygiene = data["hygiene"]
    assert hygiene["cycles_passed"] == summary["legionella_cycles_passed"] > 0
    assert hygiene["violations"] == summary["hygiene_violations"] == 0
    assert hygiene["days_with_cycle"] == {"finishing": 30}


def test_html_printed_by_chromium_shows_the_savings_and_the_60c_proof(month: dict[str, Path]) -> None:
    chromium = require_binary("chromium", "chromium")
    pdftotext = require_binary("pdftotext", "poppler-utils")
    pdftoppm = require_binary("pdftoppm", "poppler-utils")
    root = month["root"]
    page, pdf = root / "report.html", root / "report.pdf"
    report(month, "html", page)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={root / 'chromium'}",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
        check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    flat = " ".join(text.split())
    squashed = "".join(text.split())  # pdftotext's spacing varies with kerning: compare without it

    def shows(*parts: str) -> bool:
        return "".join("".join(parts).split()) in squashed

    summary = json.loads(month["summary"].read_text(encoding="utf-8"))
    # The month's savings, in euros and energy, as computed by the simulation.
    assert shows("Saved against gas alone", eur(summary["savings_eur"]))
    assert shows("Gas alone would have cost", eur(summary["baseline_gas_cost_eur"]))
    assert shows("Net cost", eur(summary["net_cost_eur"]))
    # (the headline cards sit side by side: their labels and values are read row by row)
    assert "Gas not burnt" in flat and shows(num(summary["baseline_gas_fuel_kwh"] - summary["gas_fuel_kwh"]), "kWh")
    assert "CO₂ avoided" in flat and shows(num(summary["co2_avoided_kg"]), "kg")
    # The 60 °C proof: lowest outlet, hours below, litres below the setpoint, the disinfection days.
    assert shows("Lowest outlet temperature (target 60 °C)", f"{summary['min_outlet_temp_c']:.1f} °C")
    assert shows("Hours with the outlet below 60 °C", "0 of 720")
    assert shows("Hot water drawn below the setpoint", "0 L")
    assert shows("Days with a disinfection cycle passed (finishing tank)", "30 of 30")
    assert shows("Hygiene rule violations", "0")
    assert "January 2026" in flat and "1 Jan" in flat  # dates on the chart axes, as text
    # The first page as a picture, for a person to look at.
    subprocess.run([pdftoppm, "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(root / "page1")],
                   check=True, capture_output=True, timeout=60)
    png = root / "page1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(ARTIFACTS) / "report-page1.png")
        shutil.copy(pdf, Path(ARTIFACTS) / "report.pdf")


def test_pdf_format_through_weasyprint_shows_the_savings(month: dict[str, Path]) -> None:
    try:
        import weasyprint  # noqa: F401  (the optional `pdf` extra; scripts/setup.sh --test installs it)
    except (ImportError, OSError) as exc:
        message = f"weasyprint not usable ({exc}): pip install -e '.[pdf]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    pdftotext = require_binary("pdftotext", "poppler-utils")
    pdf = month["root"] / "weasy.pdf"
    report(month, "pdf", pdf)
    text = subprocess.run([pdftotext, str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60).stdout
    summary = json.loads(month["summary"].read_text(encoding="utf-8"))
    assert eur(summary["savings_eur"]) in text and "Hours with the outlet below 60 °C" in text
