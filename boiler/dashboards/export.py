"""Render the dashboards to JSON and write the provisioning tree Grafana reads.

The rendering is deterministic (sorted keys, two-space indent, one final newline), so the JSON
committed under ``grafana/dashboards/`` can be checked for being current by regenerating it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from boiler.dashboards import installer, landlord
from boiler.dashboards.provisioning import (
    DASHBOARDS_DIR,
    DATASOURCE_FILE,
    PROVIDER_FILE,
    datasource_yaml,
    provider_yaml,
)

#: File name -> dashboard builder.
DASHBOARDS: Final[Mapping[str, Callable[[], dashboard.Dashboard]]] = {
    f"{landlord.UID}.json": landlord.build,
    f"{installer.UID}.json": installer.build,
}
#: Keys the SDK writes on every variable though only interval variables have them (the schema
#: has them nowhere else, and tsc refuses them).
_INTERVAL_ONLY_KEYS: Final = ("auto", "auto_count", "auto_min")


def normalise(model: dict[str, Any]) -> dict[str, Any]:
    """Drop the interval-only keys from the other variables."""
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") != "interval":
            for key in _INTERVAL_ONLY_KEYS:
                variable.pop(key, None)
    return model


def to_model(built: object) -> dict[str, Any]:
    """The JSON model of a built SDK object (dashboard), normalised."""
    return normalise(json.loads(json.dumps(built, cls=JSONEncoder)))


def render(model: Mapping[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dashboard_files() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(to_model(build().build())) for name, build in DASHBOARDS.items()}


def tree(dashboards_path: str) -> dict[str, str]:
    """Relative path -> text of the whole provisioning tree; `dashboards_path` is where Grafana
    finds the dashboards directory of this tree."""
    files = {f"{DASHBOARDS_DIR}/{name}": text for name, text in dashboard_files().items()}
    files[DATASOURCE_FILE] = datasource_yaml()
    files[PROVIDER_FILE] = provider_yaml(dashboards_path)
    return files


def write_tree(root: Path, dashboards_path: str | None = None) -> list[Path]:
    """Write the tree under `root`; by default the provider points at ``root/dashboards``."""
    root = root.resolve()
    path = dashboards_path if dashboards_path is not None else str(root / DASHBOARDS_DIR)
    written = []
    for rel, text in tree(path).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
