"""What a study prints and writes: the ranked table (rich), every candidate as JSON or CSV."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from boiler.sizing.score import Scored

COLUMNS = tuple(f.name for f in dataclasses.fields(Scored))


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _years(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def ranked_table(rows: list[Scored], title: str, top: int | None = None) -> Table:
    t = Table(title=title, header_style="bold")
    for name, justify in (("#", "right"), ("miners", "left"), ("store", "left"), ("strategy", "left"),
                          ("feasible", "left"), ("miner heat", "right"), ("gas kWh/yr", "right"),
                          ("net €/yr", "right"), ("€/m³", "right"), ("saved €/yr", "right"), ("CO₂ t/yr", "right"),
                          ("capital €", "right"), ("payback", "right"), ("NPV €", "right")):
        t.add_column(name, justify=justify, no_wrap=name in ("miners", "store"))  # type: ignore[arg-type]
    shown = rows if top is None else rows[:top]
    for i, r in enumerate(shown, 1):
        miners = f"{r.count}×{r.model}" + (" [dim]*[/dim]" if r.reference else "")
        ok = "[green]yes[/green]" if r.feasible else (
            "[red]no[/red]: " + ("cold water" if r.dhw_volume_below_setpoint_l > 0 else "hygiene"))
        t.add_row(str(i), miners, f"{r.store_volume_l / 1000:g} m³ {r.layout}", r.strategy, ok,
                  f"{100 * r.miner_heat_share:.0f} %", f"{r.gas_fuel_kwh_per_year:,.0f}",
                  _money(r.net_cost_eur_per_year),
                  "–" if r.net_cost_eur_per_m3 is None else f"{r.net_cost_eur_per_m3:.2f}",
                  _money(r.savings_eur_per_year), f"{r.co2_avoided_kg_per_year / 1000:,.1f}", _money(r.capital_eur),
                  _years(r.payback_years), _money(r.npv_eur))
    notes = ["* the building's own choice; payback in years, CO₂ avoided against gas alone"]
    if top is not None and len(rows) > top:
        notes.append(f"{len(rows) - top} more candidate(s) in --json / --csv")
    t.caption = "; ".join(notes)
    return t


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n", encoding="utf-8")


def rows_json(rows: list[Scored]) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in r.as_dict().items()} for r in rows]


def write_csv(path: Path, rows: list[Scored]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows_json(rows):
            writer.writerow(row)
