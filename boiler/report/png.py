"""The report as one PNG sheet drawn with matplotlib: the headline figures, then the four charts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from boiler.report import text
from boiler.report.charts import CHARTS
from boiler.report.month import MonthReport


def render_png(report: MonthReport, path: Path, dpi: int = 120) -> None:
    fig = Figure(figsize=(11.7, 12.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 3.0))
    top.suptitle(f"Hot water at {report.site} — {text.month_title(report)}", fontsize=17, fontweight="bold",
                 x=0.01, ha="left")
    top.text(0.01, 0.80, f"Monthly report · {text.coverage(report)} · local time {report.timezone}",
             fontsize=9, color="#555555", transform=top.transSubfigure)
    cards = text.kpis(report)
    cols = 4
    for i, (label, value, note) in enumerate(cards):
        x = 0.01 + (i % cols) * 0.25
        y = 0.60 - (i // cols) * 0.36
        top.text(x, y, label, fontsize=9, color="#555555", transform=top.transSubfigure)
        top.text(x, y - 0.12, value, fontsize=15, fontweight="bold", transform=top.transSubfigure)
        top.text(x, y - 0.20, note, fontsize=7.5, color="#555555", transform=top.transSubfigure, wrap=True)
    axes = bottom.subplots(2, 2)
    for ax, (_, draw) in zip(axes.flat, CHARTS, strict=True):
        draw(ax, report)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
