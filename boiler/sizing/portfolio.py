"""A landlord's portfolio: many buildings, each sized, the best feasible candidate per site.

The sites file lists buildings, each a full config file or the template with per-site overrides (flats,
mains, gas boiler, prices ... any config section, merged key by key). The sizing (candidates, period,
capital, finance) is shared, and a site may override parts of it. Paths are relative to the sites file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from boiler.config import ConfigError, CsvDrawsConfig, PlantConfig, format_validation_error, load_config, parse_config
from boiler.sizing.score import Scored
from boiler.sizing.spec import SizingError, SizingSpec, parse_sizing, read_yaml
from boiler.sizing.study import SiteStudy, plan


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteEntry(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: str | None = Field(None, description="A full plant config file for this site.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Merged into the template, key by key.")
    sizing: dict[str, Any] | None = Field(None, description="Merged into the shared sizing for this site.")

    @model_validator(mode="after")
    def _one_source(self) -> SiteEntry:
        if self.config is not None and self.overrides:
            raise ValueError("give either `config` (a full file) or `overrides` (on the template), not both")
        return self


class PortfolioSpec(_Strict):
    sizing: str | dict[str, Any] | None = Field(None, description="Sizing file, or the sizing inline.")
    template: str | None = Field(None, description="Config the sites without `config` start from.")
    sites: list[SiteEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> PortfolioSpec:
        names = [s.name for s in self.sites]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"site names must be unique, repeated: {repeated}")
        if self.template is None:
            missing = [s.name for s in self.sites if s.config is None]
            if missing:
                raise ValueError(f"sites {missing} have no `config` and there is no `template`")
        return self


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _site_config(entry: SiteEntry, index: int, root: Path, template: tuple[Path, dict[str, Any]] | None,
                 source: str) -> PlantConfig:
    where = f"{source}: sites.{index}"
    try:
        if entry.config is not None:
            return load_config(root / entry.config)
        assert template is not None
        path, data = template
        cfg = parse_config(deep_merge(data, entry.overrides), f"{where}.overrides (on {path.name})")
    except ConfigError as exc:
        raise SizingError(f"{where} ({entry.name}): {exc}") from exc
    if isinstance(cfg.draws, CsvDrawsConfig) and not cfg.draws.path.is_absolute():
        cfg.draws = cfg.draws.model_copy(update={"path": path.parent / cfg.draws.path})
    return cfg


@dataclass(frozen=True)
class Portfolio:
    studies: list[SiteStudy]


def load_portfolio(path: Path, cli_sizing: dict[str, Any] | None = None) -> Portfolio:
    """The sites file's studies; `cli_sizing` (options from the command line) overrides the shared sizing."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SizingError(f"{path}: the top level must be a mapping with `sites:`, got {type(data).__name__}")
    try:
        spec = PortfolioSpec.model_validate(data)
    except ValidationError as exc:
        raise SizingError(format_validation_error(exc, str(path)).replace("configuration", "sites file")) from exc
    root = path.parent
    if isinstance(spec.sizing, str):
        sizing_source = str(root / spec.sizing)
        shared = read_yaml(root / spec.sizing) or {}
    else:
        sizing_source, shared = f"{path}: sizing", spec.sizing or {}
    shared = deep_merge(shared, cli_sizing or {})
    template = None
    if spec.template is not None:
        tpath = root / spec.template
        tdata = read_yaml(tpath)
        if not isinstance(tdata, dict):
            raise SizingError(f"{tpath}: the template must be a mapping of config sections")
        template = (tpath, tdata)
    studies = []
    for i, entry in enumerate(spec.sites):
        cfg = _site_config(entry, i, root, template, str(path))
        sizing: SizingSpec = parse_sizing(deep_merge(shared, entry.sizing or {}),
                                          f"{sizing_source} (site {entry.name})" if entry.sizing is None
                                          else f"{path}: sites.{i}.sizing merged on {sizing_source}")
        studies.append(plan(entry.name, cfg, sizing))
    return Portfolio(studies)


@dataclass(frozen=True)
class SiteBest:
    site: str
    best: Scored | None  # None: no feasible candidate
    candidates: int
    feasible: int


def best_per_site(scored: dict[str, list[Scored]]) -> list[SiteBest]:
    """Each site's feasible candidate of highest NPV; sites ranked by payback (soonest first, never last)."""
    out = []
    for site, rows in scored.items():
        ok = [r for r in rows if r.feasible]
        best = max(ok, key=lambda r: r.npv_eur) if ok else None
        out.append(SiteBest(site, best, len(rows), len(ok)))
    return sorted(out, key=lambda s: (s.best is None, s.best is None or s.best.payback_years is None,
                                      s.best.payback_years if s.best and s.best.payback_years is not None else 0.0))


def totals(bests: list[SiteBest]) -> dict[str, float | int]:
    chosen = [b.best for b in bests if b.best is not None]
    return {
        "sites": len(bests),
        "sites_without_feasible_candidate": sum(1 for b in bests if b.best is None),
        "capital_eur": sum(r.capital_eur for r in chosen),
        "savings_eur_per_year": sum(r.savings_eur_per_year for r in chosen),
        "net_cost_eur_per_year": sum(r.net_cost_eur_per_year for r in chosen),
        "co2_avoided_kg_per_year": sum(r.co2_avoided_kg_per_year for r in chosen),
        "npv_eur": sum(r.npv_eur for r in chosen),
        "miners": sum(r.count for r in chosen),
    }
