"""The sizing file: which candidates to try, over which period, at what capital cost and finance.

Every list is a range to try; the candidates are their product. A missing list means "as the building's
config has it" (its miners, its store volume, its layout, its strategy). Errors name the field's path,
the bad value and what is allowed (`SizingError`; the CLI exits 2).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from boiler.config import format_validation_error
from boiler.control.registry import REGISTRY
from boiler.site_time import DEFAULT_START
from boiler.sizing.capital import CapitalCosts
from boiler.sizing.weeks import WEEK_DAYS
from miners.catalogue import CATALOGUE

Layout = Literal["single", "preheat"]
LAYOUTS: tuple[Layout, ...] = ("single", "preheat")


class SizingError(Exception):
    """A sizing or sites file that cannot be used; the message names the field's path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MinerOption(_Strict):
    """One miner model and the fleet sizes to try with it."""

    model: str = Field(description="Catalogue key, e.g. 's21-hyd'.")
    counts: list[int] = Field(min_length=1, description="Numbers of miners of this model to try.")

    @field_validator("model")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CATALOGUE:
            raise ValueError(f"unknown miner model {v!r}; known: {', '.join(sorted(CATALOGUE))}")
        return v

    @field_validator("counts")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        bad = [n for n in v if n < 1 or n > 200]
        if bad:
            raise ValueError(f"miner counts must be between 1 and 200, got {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"miner counts repeat: {v}")
        return v


class PeriodSpec(_Strict):
    days: float = Field(365.0, gt=0, le=3660, description="Simulated days of each candidate (a year by default).")
    start: date = Field(DEFAULT_START, description="First day, local midnight.")
    representative_weeks: list[date] | None = Field(
        None, min_length=1, max_length=52,
        description="Instead of `days` from `start`: these weeks (7 days from each date), their sum scaled to "
        "a year. Faster, less exact (docs/sizing.md gives the error against full years).",
    )

    @field_validator("representative_weeks")
    @classmethod
    def _distinct(cls, v: list[date] | None) -> list[date] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"representative weeks repeat: {[d.isoformat() for d in v]}")
        return v

    def windows(self) -> list[tuple[date, float]]:
        """The simulations of one candidate: (first day, days)."""
        if self.representative_weeks is None:
            return [(self.start, self.days)]
        return [(d, WEEK_DAYS) for d in self.representative_weeks]

    @property
    def simulated_days(self) -> float:
        return sum(days for _, days in self.windows())


class FinanceSpec(_Strict):
    """How a candidate's yearly savings pay back its capital."""

    life_years: int = Field(15, ge=1, le=50, description="Life of the installation (store, exchanger, piping).")
    miner_life_years: int = Field(
        5, ge=1, le=50, description="Miners are bought again at their price each time this runs out within the life."
    )
    discount_rate: float = Field(0.05, ge=0, le=0.5, description="Real discount rate of the NPV, per year.")


class SizingSpec(_Strict):
    """What to vary. Absent lists take the building's own value."""

    miners: list[MinerOption] | None = Field(None, min_length=1)
    store_volume_l: list[float] | None = Field(
        None, min_length=1, description="Volume of the store the miners charge (the pre-heat tank in that layout)."
    )
    layout: list[Layout] | None = Field(None, min_length=1)
    strategy: list[str] | None = Field(None, min_length=1)
    finishing_volume_l: float = Field(
        500.0, gt=0, le=100_000, description="Finishing tank of the pre-heat layout when the building has none."
    )
    period: PeriodSpec = Field(default_factory=PeriodSpec)
    seed: int = Field(1, ge=0, description="Seed of the stochastic draws (the same for every candidate).")
    capital: CapitalCosts = Field(default_factory=CapitalCosts)
    finance: FinanceSpec = Field(default_factory=FinanceSpec)

    @field_validator("store_volume_l")
    @classmethod
    def _volumes(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        bad = [x for x in v if not 0 < x <= 100_000]
        if bad:
            raise ValueError(f"store volumes must be in (0, 100000] L, got {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"store volumes repeat: {v}")
        return v

    @field_validator("strategy")
    @classmethod
    def _strategies(cls, v: list[str] | None) -> list[str] | None:
        bad = [s for s in v or [] if s not in REGISTRY]
        if bad:
            raise ValueError(f"unknown strategy {bad}; a plant runs one of {', '.join(REGISTRY)}")
        return v

    @field_validator("layout")
    @classmethod
    def _layouts_unique(cls, v: list[Layout] | None) -> list[Layout] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"layouts repeat: {v}")
        return v

    @model_validator(mode="after")
    def _models_unique(self) -> SizingSpec:
        models = [m.model for m in self.miners or []]
        if len(set(models)) != len(models):
            raise ValueError(f"each miner model appears once (list its counts together), got {models}")
        return self


def parse_sizing(data: Any, source: str) -> SizingSpec:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SizingError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return SizingSpec.model_validate(data)
    except ValidationError as exc:
        raise SizingError(format_validation_error(exc, source).replace("configuration", "sizing file")) from exc


def read_yaml(path: Path) -> Any:
    """A YAML file's data, or a `SizingError` that says where it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SizingError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SizingError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def load_sizing(path: Path) -> SizingSpec:
    return parse_sizing(read_yaml(path), str(path))
