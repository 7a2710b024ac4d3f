"""The report's charts, drawn with matplotlib: one function per chart, each onto a given axes.

Dates on the x axis (the whole month, so missing days show as gaps), units on the y axis, a legend
in words. `chart_svgs` renders each chart on its own for the HTML page (text kept as text, so a
browser prints it sharp and a PDF of it can be searched).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # headless: plant rooms and CI have no screen
import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from boiler.report.month import MonthReport, next_month

MINERS = "#E69F00"
GAS = "#0072B2"
GAS_ONLY = "#9A9A9A"
ACTUAL = "#009E73"
ELECTRICITY = "#D55E00"
REVENUE = "#CC79A7"
OUTLET = "#222222"
LOOP = "#7B3294"

ChartFn = Callable[[Axes, MonthReport], None]


def _x(report: MonthReport) -> list[datetime]:
    return [datetime(d.day.year, d.day.month, d.day.day) for d in report.days]


def _legend(ax: Axes) -> None:
    """Above the plot, under the title: never over the data."""
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False,
              handlelength=1.2, columnspacing=1.2)


def _date_axis(ax: Axes, report: MonthReport) -> None:
    first = datetime(report.month.year, report.month.month, 1)
    last = datetime.combine(next_month(report.month), datetime.min.time())
    ax.set_xlim(first - timedelta(hours=12), last - timedelta(hours=12))
    ax.xaxis.set_major_locator(mdates.DayLocator(bymonthday=(1, 8, 15, 22, 29)))
    ax.xaxis.set_minor_locator(mdates.DayLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b"))
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def heat_by_source(ax: Axes, report: MonthReport) -> None:
    x = _x(report)
    miners = [d.totals.heat_from_miners_kwh for d in report.days]
    gas = [d.totals.heat_from_gas_kwh for d in report.days]
    ax.bar(x, miners, width=0.8, color=MINERS, label="from the miners")
    ax.bar(x, gas, width=0.8, bottom=miners, color=GAS, label="from the gas boiler")
    ax.set_title("Heat into the hot water, per day", pad=18)
    ax.set_ylabel("kWh")
    _legend(ax)
    _date_axis(ax, report)


def _pairs(ax: Axes, report: MonthReport, back: list[float], front: list[float],
           styles: tuple[tuple[str, str], tuple[str, str]]) -> None:
    """Two amounts per day: a wide bar behind, a narrow one in front, so the gap reads at a glance."""
    x = _x(report)
    (b_color, b_label), (f_color, f_label) = styles
    ax.bar(x, back, width=0.85, color=b_color, label=b_label)
    ax.bar(x, front, width=0.45, color=f_color, label=f_label)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("EUR")
    _legend(ax)
    _date_axis(ax, report)


def cost_against_gas(ax: Axes, report: MonthReport) -> None:
    _pairs(ax, report, [d.totals.baseline_gas_cost_eur for d in report.days],
           [d.totals.net_cost_eur for d in report.days],
           ((GAS_ONLY, "gas boiler alone would have cost"), (ACTUAL, "actual net cost")))
    ax.set_title("Cost of the hot water per day", pad=18)


def mining_money(ax: Axes, report: MonthReport) -> None:
    _pairs(ax, report, [d.totals.electricity_cost_eur for d in report.days],
           [d.totals.mining_revenue_eur for d in report.days],
           ((ELECTRICITY, "electricity for the miners"), (REVENUE, "mining revenue")))
    ax.set_title("Miners: electricity bought and revenue, per day", pad=18)


def outlet_temperatures(ax: Axes, report: MonthReport) -> None:
    x = _x(report)
    outlet = [d.totals.outlet_min_c for d in report.days]
    loop = [d.totals.loop_return_min_c for d in report.days]
    ax.plot(x, outlet, marker="o", ms=3, lw=1.4, color=OUTLET, label="lowest outlet temperature")
    if any(not math.isnan(v) for v in loop):
        ax.plot(x, loop, marker="s", ms=2.5, lw=1.0, ls="--", color=LOOP, label="lowest loop return")
    for level, style, text in ((60.0, "-", "60 °C target"), (55.0, "--", "55 °C return"), (50.0, ":", "50 °C minimum")):
        ax.axhline(level, color="#C00000", lw=0.9, ls=style, alpha=0.8)
        ax.annotate(text, (1.0, level), xycoords=("axes fraction", "data"), xytext=(2, 0),
                    textcoords="offset points", va="center", fontsize=7, color="#C00000")
    known = [v for v in (*outlet, *loop) if not math.isnan(v)]
    lo = min([*known, 50.0]) - 2.0
    hi = max([*known, 60.0]) + 3.0
    ax.set_ylim(lo, hi)
    ax.set_title("Lowest hot-water temperature of each day", pad=18)
    ax.set_ylabel("°C")
    _legend(ax)
    _date_axis(ax, report)


#: The charts in reading order: energy and money side by side, then the miners and the 60 °C proof.
CHARTS: tuple[tuple[str, ChartFn], ...] = (
    ("heat", heat_by_source),
    ("cost", cost_against_gas),
    ("mining", mining_money),
    ("temperature", outlet_temperatures),
)


def chart_svgs(report: MonthReport, width_in: float = 4.2, height_in: float = 3.0) -> dict[str, str]:
    """Each chart as a standalone SVG document (no XML prologue), for inlining in HTML."""
    out: dict[str, str] = {}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "boiler-report", "font.size": 7.5}):
        for name, draw in CHARTS:
            fig = Figure(figsize=(width_in, height_in), layout="constrained")
            draw(fig.add_subplot(), report)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
            text = buf.getvalue()
            out[name] = text[text.index("<svg"):]
    return out
