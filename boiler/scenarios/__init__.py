"""Built-in reference scenarios (reference/scenarios.md): YAML files shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from boiler.config import ConfigError, PlantConfig, parse_config
from boiler.safe_yaml import YamlInputError, load_yaml_file


def _files() -> dict[str, Path]:
    root = resources.files(__name__)
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def names() -> list[str]:
    return sorted(_files())


def describe() -> dict[str, str]:
    """Scenario name → one-line description."""
    out = {}
    for name, path in sorted(_files().items()):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[name] = " ".join(str(data.get("description", "")).split())
    return out


def load(name: str) -> PlantConfig:
    files = _files()
    if name not in files:
        raise ConfigError(f"unknown scenario {name!r}; built-in scenarios: {', '.join(sorted(files))}")
    try:
        data = load_yaml_file(files[name])
    except YamlInputError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(data, f"scenario {name}")
