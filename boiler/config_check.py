"""One loader that refuses what it cannot run: a valid file must also build, fit the budgets and run.

`boiler config validate`, `simulate`, `check`, `install-service` and `run` all go through here, so a
file `validate` accepts is one `simulate` builds: the draw profile (a CSV read in full), the mains,
the simulated plant, the plant model and the controller with its strategy are built for one day
from the default start. Before that, the run's size is checked against a step budget and a memory
budget; the message says which figure to change. (`boiler.config.service_problems` lists what
`boiler run` needs beyond that: an `mqtt` section, each miner's `host`.)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from boiler.config import ConfigError, CsvDrawsConfig, PlantConfig, StochasticDrawsConfig, TappingCycleDrawsConfig
from boiler.simulation import Simulation
from boiler.site_time import DEFAULT_START
from tank.dhwcalc import DHWCALC_CATEGORIES, GRDF_SOCIAL_SIZE_FACTORS
from tank.draws import DrawProfileError
from tank.water import S_PER_DAY

#: Physics steps of one run: ten years at the default 120 s step.
MAX_STEPS = 3_000_000
#: Memory a run's per-step arrays and draw tables may take (bytes).
MAX_MEMORY_BYTES = 1_000_000_000
#: Measured peak memory (tracemalloc, building residence-48 with 30 days at a 10 s step and with
#: 14× its draws): ~128 B per physics step and ~180 B per draw; rounded up.
BYTES_PER_STEP = 150
BYTES_PER_DRAW = 200
#: Largest draw CSV read (bytes); a year of minute-resolved draws is a few MB.
MAX_CSV_BYTES = 64 << 20


@dataclass(frozen=True)
class RunSize:
    steps: int
    draws: int

    @property
    def memory_bytes(self) -> int:
        return self.steps * BYTES_PER_STEP + self.draws * BYTES_PER_DRAW


def draws_per_day(cfg: PlantConfig) -> float:
    """Expected draws a day, in the season with most (CSV: not known before reading it)."""
    d = cfg.draws
    if isinstance(d, StochasticDrawsConfig):
        standard_flats = sum(n * GRDF_SOCIAL_SIZE_FACTORS[t] for t, n in d.flats.items())
        per_litre = sum(c.share / c.mean_volume_l for c in DHWCALC_CATEGORIES)
        return standard_flats * d.litres_per_standard_flat_day * (1.0 + d.seasonal_amplitude) * per_litre
    if isinstance(d, TappingCycleDrawsConfig):
        return 30.0  # the EU tapping cycles have at most 30 draws a day
    return 0.0


def run_size(cfg: PlantConfig, days: float) -> RunSize:
    steps = math.ceil(days * S_PER_DAY / cfg.simulation.step_s)
    return RunSize(steps=steps, draws=math.ceil(draws_per_day(cfg) * math.ceil(days)))


def check_budget(cfg: PlantConfig, days: float, source: str) -> None:
    """ConfigError, naming the figure to change, when a run of `days` would pass a budget."""
    size = run_size(cfg, days)
    step_s = cfg.simulation.step_s
    if size.steps > MAX_STEPS:
        shortest_step_s = days * S_PER_DAY / MAX_STEPS
        raise ConfigError(
            f"{source}: simulation.step_s = {step_s:g} s over {days:g} day(s) needs {size.steps:,} physics steps; "
            f"the budget is {MAX_STEPS:,}: raise simulation.step_s to at least {math.ceil(shortest_step_s):g} s "
            "or simulate fewer days"
        )
    if size.memory_bytes > MAX_MEMORY_BYTES:
        step_mb = size.steps * BYTES_PER_STEP / 1e6
        draw_mb = size.draws * BYTES_PER_DRAW / 1e6
        bigger = ("draws (lower draws.flats, draws.litres_per_standard_flat_day or draws.scale)"
                  if draw_mb > step_mb else "physics steps (raise simulation.step_s)")
        raise ConfigError(
            f"{source}: a run of {days:g} day(s) needs about {size.memory_bytes / 1e6:,.0f} MB "
            f"({size.steps:,} steps: {step_mb:,.0f} MB, ~{size.draws:,} draws: {draw_mb:,.0f} MB); the budget is "
            f"{MAX_MEMORY_BYTES / 1e6:,.0f} MB: simulate fewer days, or fewer {bigger}"
        )


def _check_csv(draws: CsvDrawsConfig, source: str) -> None:
    path: Path = draws.path
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{source}:\n  draws.path: cannot read the draw file: {exc.strerror or exc}; "
                          f"got \"{path}\"") from None
    if not path.is_file():
        raise ConfigError(f"{source}:\n  draws.path: not a file; got \"{path}\"")
    if size > MAX_CSV_BYTES:
        raise ConfigError(f"{source}:\n  draws.path: the draw file has {size:,} bytes, more than the "
                          f"{MAX_CSV_BYTES:,} read; got \"{path}\"")


def check_buildable(cfg: PlantConfig, source: str, *, days: float = 1.0, start: date | None = None,
                    seed: int = 1, strategy: str | None = None) -> None:
    """Check the budget of a `days` run, then build one day of the simulation as `simulate` would."""
    check_budget(cfg, days, source)
    if isinstance(cfg.draws, CsvDrawsConfig):
        _check_csv(cfg.draws, source)
    try:
        Simulation(cfg, 1.0, start or DEFAULT_START, seed=seed, strategy=strategy, trace_points=10)
    except (ValueError, ArithmeticError, OSError, csv.Error) as exc:
        # The schema should have refused it; the builder's own words still say what is wrong.
        reading = isinstance(exc, DrawProfileError | UnicodeDecodeError | OSError | csv.Error)
        if reading and isinstance(cfg.draws, CsvDrawsConfig):
            where = "draws.path"
        elif isinstance(exc, DrawProfileError):
            where = "draws"
        else:
            where = "(plant)"
        if isinstance(exc, UnicodeDecodeError):
            detail = f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start} (save it as UTF-8)"
        elif isinstance(exc, OSError) and exc.strerror:
            detail = exc.strerror
        else:
            detail = str(exc)
        raise ConfigError(f"{source}: the plant cannot be built from this configuration:\n  {where}: {detail}") from exc
