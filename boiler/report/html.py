"""The report as one self-contained HTML page: inline CSS, inline SVG charts, nothing fetched.

Laid out for an A4 page when printed (a browser's "print to PDF", or weasyprint).
"""

from __future__ import annotations

from html import escape

from boiler.report import text
from boiler.report.charts import chart_svgs
from boiler.report.month import MonthReport

_CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d1d1d; margin: 0 auto;
       max-width: 186mm; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; border-bottom: 1px solid #ccc; padding-bottom: 1mm; break-after: avoid; }
section { break-inside: avoid; }
section.wide td.v { width: 25%; }
.sub { color: #555; margin: 0 0 4mm; font-size: 9pt; }
.kpis { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 2.5mm; }
.kpi { border: 1px solid #d5d5d5; border-radius: 2mm; padding: 2mm 2.5mm; break-inside: avoid; }
.kpi .label { font-size: 8pt; color: #555; }
.kpi .value { font-size: 14pt; font-weight: bold; margin: 0.5mm 0; white-space: nowrap; }
.kpi .note { font-size: 7.5pt; color: #555; }
.kpi.good .value { color: #00734f; }
.kpi.bad .value { color: #b00000; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 5mm; }
table { border-collapse: collapse; width: 100%; break-inside: avoid; table-layout: fixed; }
td { padding: 0.8mm 1mm; border-bottom: 1px solid #eee; vertical-align: top; }
td.v { text-align: right; width: 30%; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 1px solid #999; }
caption { text-align: left; font-weight: bold; padding-bottom: 1mm; }
.charts { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 3mm; }
.charts figure { margin: 0; break-inside: avoid; }
.charts svg { width: 100%; height: auto; }
.notes { font-size: 8pt; color: #555; }
.notes li { margin-bottom: 1mm; }
"""


def _table(caption: str, rows: list[tuple[str, str]], total_from: int | None = None) -> str:
    lines = []
    for i, (key, value) in enumerate(rows):
        css = ' class="total"' if total_from is not None and i >= total_from else ""
        lines.append(f'<tr{css}><td>{escape(key)}</td><td class="v">{escape(value)}</td></tr>')
    head = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{head}{''.join(lines)}</table>"


def render_html(report: MonthReport) -> str:
    kpis = []
    for i, (label, value, note) in enumerate(text.kpis(report)):
        mood = ""
        if i == 1:
            mood = " good" if report.totals.savings_eur > 0 else " bad"
        if i == 6:
            mood = " good" if report.outlet_hours_below_target == 0 and report.outlet_hours_measured else " bad"
        if i == 7 and report.hygiene is not None:
            mood = " good" if report.hygiene.violations == 0 else " bad"
        kpis.append(f'<div class="kpi{mood}"><div class="label">{escape(label)}</div>'
                    f'<div class="value">{escape(value)}</div><div class="note">{escape(note)}</div></div>')
    charts = chart_svgs(report)
    figures = "".join(f'<figure class="chart-{name}">{svg}</figure>' for name, svg in charts.items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in text.NOTES)
    title = f"Hot water at {report.site} — {text.month_title(report)}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">Monthly report · {escape(text.coverage(report))} · local time {escape(report.timezone)} ·
from the {escape(report.origin)}</p>
<div class="kpis">{"".join(kpis)}</div>
<section><h2>Money and energy</h2>
<div class="pair">
{_table("Money this month", text.money_rows(report), total_from=4)}
{_table("Energy this month", text.energy_rows(report))}
</div></section>
<section class="wide"><h2>Hot-water hygiene (legionella)</h2>{_table("", text.hygiene_rows(report))}</section>
<section class="wide"><h2>Miners</h2>{_table("", text.miner_rows(report))}</section>
<section><h2>Day by day</h2>
<div class="charts">{figures}</div></section>
<section><h2>How these figures are computed</h2>
<ul class="notes">{notes}</ul></section>
</body>
</html>
"""
