"""Where a report's data comes from: the service's state file (through its config) or CSV files.

Every problem with the input raises `ReportInputError` with a message for the person who typed
the command (the CLI exits 2).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from boiler.config import ConfigError, load_config
from boiler.hygiene import CSV_COLUMNS, ComplianceEvent, EventKind
from boiler.ledger import LedgerRow
from boiler.store import PlantStore, StoreError

#: The product's outlet target when the data does not say (DESIGN §1: 60 °C at all times).
DEFAULT_TARGET_C = 60.0
_ROW_FIELDS = {f.name for f in fields(LedgerRow)} - {"start_s", "end_s"}
_EVENT_KINDS = frozenset(get_args(EventKind))
#: Columns without which a CSV is not a ledger (the rest may be missing in older files: unknown).
_LEDGER_COLUMNS = frozenset({"start", "end", "electricity_kwh", "heat_from_miners_kwh", "heat_from_gas_kwh",
                             "gas_fuel_kwh", "dhw_heat_kwh", "dhw_volume_l"})


class ReportInputError(Exception):
    """The report cannot be made from what was given; the message says why and what to do."""


@dataclass(frozen=True)
class ReportSource:
    site: str
    timezone: ZoneInfo
    rows: list[LedgerRow]
    events: list[ComplianceEvent] | None  # None: no hygiene log was given
    origin: str  # where the data was read, in words
    target_c: float  # the outlet temperature to hold


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportInputError(
            f"--timezone {name!r} is not a time zone; use an IANA name such as Europe/Paris") from exc


def from_config(path: Path, site: str | None) -> ReportSource:
    """The ledger and hygiene log in the state file of the service this config runs."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise ReportInputError(str(exc)) from exc
    if site is not None and site != cfg.site.name:
        raise ReportInputError(f"unknown site {site!r}: {path} is the config of site {cfg.site.name!r}")
    state = cfg.service.state_path
    if not state.is_file():
        raise ReportInputError(
            f"no ledger for site {cfg.site.name!r}: its state file {state} (service.state_path in {path}) "
            "does not exist; has the service run here? For a simulation use --ledger FILE.csv")
    try:
        with PlantStore(state) as store:
            rows = store.ledger_rows()
            events = [_event(e) for e in store.compliance_events()]
    except StoreError as exc:
        raise ReportInputError(str(exc)) from exc
    return ReportSource(site=cfg.site.name, timezone=ZoneInfo(cfg.site.timezone), rows=rows, events=events,
                        origin=f"state file {state}", target_c=cfg.control.setpoint_c)


def from_csv(ledger: Path, hygiene_log: Path | None, site: str | None, timezone: ZoneInfo) -> ReportSource:
    """Ledger rows (and the hygiene log) written by `boiler simulate --ledger/--hygiene-log`."""
    table = _read_csv(ledger, "ledger")
    header = table[0] if table else []
    missing = _LEDGER_COLUMNS - set(header)
    if missing:
        raise ReportInputError(f"{ledger}: not a ledger CSV (no column {', '.join(sorted(missing))}); "
                               "write one with boiler simulate --ledger FILE")
    records = [dict(zip(header, line, strict=False)) for line in table[1:]]
    if "site" in header:
        sites = sorted({r["site"] for r in records})
        if site is None:
            if len(sites) > 1:
                raise ReportInputError(f"{ledger} holds several sites ({', '.join(sites)}); choose one with --site")
            site = sites[0] if sites else ledger.stem
        elif site not in sites:
            raise ReportInputError(f"unknown site {site!r}: {ledger} holds {', '.join(sites) or 'no rows'}")
        records = [r for r in records if r["site"] == site]
    elif site is None:
        site = ledger.stem
    rows = [_ledger_row(r, ledger, n) for n, r in enumerate(records, start=2)]
    events = None if hygiene_log is None else _read_events(hygiene_log)
    origin = f"ledger {ledger.name}" + (f" and hygiene log {hygiene_log.name}" if hygiene_log else "")
    return ReportSource(site=site, timezone=timezone, rows=rows, events=events, origin=origin,
                        target_c=DEFAULT_TARGET_C)


def _read_csv(path: Path, what: str) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    except OSError as exc:
        raise ReportInputError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReportInputError(f"{path}: not a CSV file: {exc}") from exc


def _float(text: str, path: Path, line: int, column: str) -> float:
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError as exc:
        raise ReportInputError(f"{path}, line {line}: {column} = {text!r} is not a number") from exc


def _epoch_s(text: str, path: Path, line: int, column: str) -> float:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReportInputError(f"{path}, line {line}: {column} = {text!r} is not an ISO 8601 time") from exc
    if at.tzinfo is None:
        raise ReportInputError(f"{path}, line {line}: {column} = {text!r} has no UTC offset")
    return at.timestamp()


def _ledger_row(record: dict[str, str], path: Path, line: int) -> LedgerRow:
    values = {k: _float(v, path, line, k) for k, v in record.items() if k in _ROW_FIELDS}
    return LedgerRow(start_s=_epoch_s(record["start"], path, line, "start"),
                     end_s=_epoch_s(record["end"], path, line, "end"), **values)


def _read_events(path: Path) -> list[ComplianceEvent]:
    table = _read_csv(path, "hygiene log")
    if not table or set(table[0]) != set(CSV_COLUMNS):
        raise ReportInputError(f"{path}: not a hygiene log (expected columns {', '.join(CSV_COLUMNS)}); "
                               "write one with boiler simulate --hygiene-log FILE")
    events = []
    for n, line in enumerate(table[1:], start=2):
        r = dict(zip(table[0], line, strict=False))
        if r["kind"] not in _EVENT_KINDS:
            raise ReportInputError(f"{path}, line {n}: unknown event kind {r['kind']!r}")
        extreme = _float(r["extreme_c"], path, n, "extreme_c")
        events.append(ComplianceEvent(
            kind=r["kind"],  # type: ignore[arg-type]
            store=r["store"] or None,
            start_s=_float(r["start_s"], path, n, "start_s"),
            end_s=_float(r["end_s"], path, n, "end_s"),
            extreme_c=None if math.isnan(extreme) else extreme,
            violation=_bool(r["violation"], path, n, "violation"),
            detail=r["detail"],
            ongoing=_bool(r["ongoing"], path, n, "ongoing"),
        ))
    return events


def _bool(text: str, path: Path, line: int, column: str) -> bool:
    if text in ("True", "true", "1"):
        return True
    if text in ("False", "false", "0"):
        return False
    raise ReportInputError(f"{path}, line {line}: {column} = {text!r} is not True or False")


def _event(e: dict[str, object]) -> ComplianceEvent:
    return ComplianceEvent(kind=e["kind"], store=e["store"], start_s=float(e["start_s"]),  # type: ignore[arg-type]
                           end_s=float(e["end_s"]), extreme_c=e["extreme_c"],  # type: ignore[arg-type]
                           violation=bool(e["violation"]), detail=str(e["detail"]))
