"""The service's durable state: ledger rows and what the controller must remember across restarts.

One SQLite file in WAL mode with `synchronous=FULL`: a transaction that returned is on disk and
survives a crash or a power cut. Each tick commits, in one transaction, the ledger rows that
closed since the last tick and a snapshot of the open interval and the controller's memory (daily
change budgets, legionella cycle history). After a restart the service resumes from the snapshot:
a committed row is never lost, and a row is stored at most once (its interval start is the key).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    start_s REAL PRIMARY KEY,
    end_s REAL NOT NULL,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compliance (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    store TEXT,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    extreme_c REAL,
    violation INTEGER NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (kind, store, start_s)
);
"""

_ROW_FIELDS = tuple(f.name for f in fields(LedgerRow))


class StoreError(Exception):
    """The state file cannot be used (locked by another service, corrupt, unwritable)."""


class PlantStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PlantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def commit(
        self,
        rows: Iterable[LedgerRow] = (),
        state: Mapping[str, Any] | None = None,
        events: Iterable[ComplianceEvent] = (),
    ) -> None:
        """Store closed ledger rows, the state snapshot and compliance events atomically."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            for row in rows:
                db.execute(
                    "INSERT INTO ledger (start_s, end_s, row) VALUES (?, ?, ?)",
                    (row.start_s, row.end_s, json.dumps(asdict(row))),
                )
            for key, value in (state or {}).items():
                db.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )
            for ev in events:
                db.execute(
                    "INSERT OR IGNORE INTO compliance (kind, store, start_s, end_s, extreme_c, violation, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ev.kind, ev.store, ev.start_s, ev.end_s, ev.extreme_c, int(ev.violation), ev.detail),
                )
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: a ledger row was written twice: {exc}") from exc
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: cannot write the state database: {exc}") from exc

    # -- reading ---------------------------------------------------------------------------------
    def ledger_rows(self) -> list[LedgerRow]:
        out = []
        for (text,) in self._db.execute("SELECT row FROM ledger ORDER BY start_s"):
            data = json.loads(text)
            out.append(LedgerRow(**{k: data[k] for k in _ROW_FIELDS if k in data}))
        return out

    def state(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def compliance_events(self) -> list[dict[str, Any]]:
        cur = self._db.execute(
            "SELECT kind, store, start_s, end_s, extreme_c, violation, detail FROM compliance ORDER BY start_s")
        return [dict(zip(("kind", "store", "start_s", "end_s", "extreme_c", "violation", "detail"), r, strict=True))
                for r in cur]
