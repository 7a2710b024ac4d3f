"""The report as JSON: the month's ledger totals (the same keys and sums as the ledger's rows), the
figures derived from them, the hygiene log's verdicts and each day's sums. Unknown values are null."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from boiler.report.month import MonthReport


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def report_json(report: MonthReport) -> dict[str, Any]:
    h = report.hygiene
    hygiene = None
    if h is not None:
        hygiene = asdict(h)
        hygiene["cycle_days"] = {d.isoformat(): n for d, n in h.cycle_days.items()}
        hygiene["failed_days"] = {d.isoformat(): n for d, n in h.failed_days.items()}
    return _clean({
        "site": report.site,
        "month": report.label,
        "timezone": report.timezone,
        "source": report.origin,
        "first_row_start": _iso(report.rows[0].start_s),
        "last_row_end": _iso(report.rows[-1].end_s),
        "ledger_rows": len(report.rows),
        "totals": report.totals.as_dict(),
        "figures": report.figures(),
        "hygiene": hygiene,
        "days": [{"date": d.day.isoformat(), "hours": d.hours, "mining_hours": d.mining_hours,
                  **d.totals.as_dict()} for d in report.days],
    })
