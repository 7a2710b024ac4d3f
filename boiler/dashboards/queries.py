"""The InfluxQL the dashboards run, built from the telemetry schema's names (docs/telemetry.md).

Two kinds of time range: ledger rows are stamped at the END of their hour, so sums over them use
the half-open ``INTERVAL_END_RANGE``; everything sampled at a tick uses Grafana's ``$timeFilter``.
"""

from __future__ import annotations

from typing import Final

from boiler.dashboards.influxql import DAILY, INSTANT_RANGE, INTERVAL_END_RANGE, SITE_FILTER
from boiler.telemetry.schema import DECISION, LEDGER, MINER, PLANT, TANK

#: Hygiene events (cycles, low-temperature episodes), one point per event.
#: Tags: site, kind, store; fields: duration_s, extreme_c, violation, detail.
COMPLIANCE: Final = "compliance"


def _q(name: str) -> str:
    return '"' + name + '"'


def ledger(select: str, *, group_by: str = "") -> str:
    """A sum-style query over the ledger rows of the range (half-open, end-stamped)."""
    text = f"SELECT {select} FROM {_q(LEDGER)} WHERE {SITE_FILTER} AND {INTERVAL_END_RANGE}"
    return f"{text} GROUP BY {group_by}" if group_by else text


def ledger_daily(select: str) -> str:
    """Per local day of the site (``$tz``), each hour in the day it ends in."""
    return ledger(select, group_by=DAILY)


def measured(measurement: str, select: str, *, where: str = "", group_by: str = "") -> str:
    """A query over tick-stamped points (plant, tank, miner, decision) or events."""
    cond = f" AND {where}" if where else ""
    text = f"SELECT {select} FROM {_q(measurement)} WHERE {SITE_FILTER}{cond} AND {INSTANT_RANGE}"
    return f"{text} GROUP BY {group_by}" if group_by else text


def plant(select: str, **kw: str) -> str:
    return measured(PLANT, select, **kw)


def tank(select: str, **kw: str) -> str:
    return measured(TANK, select, **kw)


def miner(select: str, **kw: str) -> str:
    return measured(MINER, select, **kw)


def decision(select: str, **kw: str) -> str:
    return measured(DECISION, select, **kw)


def compliance(select: str, **kw: str) -> str:
    return measured(COMPLIANCE, select, **kw)


def days_with(select_count: str, *, where: str) -> str:
    """How many local days of each site have at least one matching compliance event."""
    group = f"time(1d), {_q('site')} fill(none) tz('$tz')"
    inner = compliance(f"{select_count} AS {_q('n')}", where=where, group_by=group)
    return f"SELECT count({_q('n')}) FROM ({inner}) GROUP BY {_q('site')}"


#: The site variable lists the sites that wrote plant points.
SITE_VALUES: Final = f"SHOW TAG VALUES FROM {_q(PLANT)} WITH KEY = {_q('site')}"
