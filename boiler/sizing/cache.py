"""A local file store of finished simulations, one JSON file per task key.

Writes are atomic (a temporary file renamed into place), so a run killed at any moment leaves only whole
records behind; the next run finds them and simulates only what is missing. A record that cannot be read
is reported and simulated again, never used.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from boiler.sizing.task import CACHE_FORMAT

log = logging.getLogger("boiler.sizing")


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the cache gives it back (a JSON round trip): fresh and cached results compare equal."""
    return json.loads(json.dumps(record, sort_keys=True))


class ResultCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.unreadable: list[str] = []

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cache_unreadable path=%s error=%s", path, exc)
            self.unreadable.append(str(path))
            return None
        if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT or record.get("key") != key:
            log.warning("cache_stale path=%s", path)
            self.unreadable.append(str(path))
            return None
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
