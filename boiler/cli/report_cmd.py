"""`boiler report`: a month of a site's hot water, energy, money and hygiene, for its landlord.

Exit codes: 0 ok, 1 the output could not be made (PDF without WeasyPrint, unwritable file),
2 bad input (config, files, site, month, or no data in the month).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from boiler.report.html import render_html
from boiler.report.jsonout import report_json
from boiler.report.month import build_month, parse_month
from boiler.report.pdf import PdfUnavailable, render_pdf
from boiler.report.png import render_png
from boiler.report.sources import ReportInputError, ReportSource, from_config, from_csv, parse_timezone

FORMATS = ("html", "json", "png", "pdf")

_out = Console()
_err = Console(stderr=True, soft_wrap=True)  # one line per message, to grep


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _source(config: Path | None, ledger: Path | None, hygiene_log: Path | None, site: str | None,
            timezone: str | None) -> ReportSource:
    if (config is None) == (ledger is None):
        raise ReportInputError("give exactly one of -c/--config FILE (the service's ledger) or --ledger FILE.csv")
    if config is not None:
        if hygiene_log is not None or timezone is not None:
            raise ReportInputError("--hygiene-log and --timezone go with --ledger; with -c the config says both")
        return from_config(config, site)
    assert ledger is not None
    return from_csv(ledger, hygiene_log, site, parse_timezone(timezone) if timezone else ZoneInfo("UTC"))


def report(
    month: Annotated[str, typer.Option("--month", "-m", help="The month, YYYY-MM (site-local calendar).")],
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Site config: reads the ledger and hygiene log in its service state file.")] = None,
    ledger: Annotated[Path | None, typer.Option(
        "--ledger", help="Ledger CSV of `boiler simulate --ledger` instead of a config.")] = None,
    hygiene_log: Annotated[Path | None, typer.Option(
        "--hygiene-log", help="With --ledger: the hygiene log CSV of `boiler simulate --hygiene-log`.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name (checked against the data).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="html, json, png or pdf.")] = "html",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output file; default report-SITE-YYYY-MM.EXT here (JSON: standard output).")] = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="With --ledger: the site's time zone for days and months (default UTC).")] = None,
) -> None:
    """The month's figures for a landlord: hot water, savings against gas alone, CO₂, the 60 °C proof."""
    if fmt not in FORMATS:
        raise _fail(f"--format {fmt!r} is not known; choose one of {', '.join(FORMATS)}")
    try:
        first = parse_month(month)
        source = _source(config, ledger, hygiene_log, site, timezone)
        monthly = build_month(source, first)
    except ReportInputError as exc:
        raise _fail(str(exc)) from exc
    if out is None and fmt != "json":
        out = Path(f"report-{monthly.site}-{monthly.label}.{fmt}")
    if out is not None and not out.parent.exists():
        raise _fail(f"cannot write {out}: folder {out.parent} does not exist")
    try:
        if fmt == "json":
            body = json.dumps(report_json(monthly), indent=2, ensure_ascii=False) + "\n"
            if out is None:
                print(body, end="")
                return
            out.write_text(body, encoding="utf-8")
        elif fmt == "html":
            out.write_text(render_html(monthly), encoding="utf-8")
        elif fmt == "png":
            render_png(monthly, out)
        else:
            render_pdf(render_html(monthly), out)
    except PdfUnavailable as exc:
        raise _fail(str(exc), code=1) from exc
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror or exc}", code=1) from exc
    _err.print(escape(f"wrote {out} ({monthly.site}, {monthly.label})"), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
