"""The simulation: the one control loop against the simulated plant, with its yardsticks.

It sits above `boiler.control` (which never imports it) and beside the service; production
adapters never import it. `run_simulation` is the entry point of `boiler simulate`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from boiler.config import PlantConfig
from boiler.simulation.build import build_plant, draw_profile, local_midnight_s, mains_model
from boiler.simulation.optimum import run_optimum
from boiler.simulation.runner import SensorFault, Simulation, SimulationResult, Trace, run_loop
from boiler.simulation.search import searched_yardstick
from boiler.simulation.yardsticks import STRATEGIES
from boiler.site_time import DEFAULT_START
from boiler.summary import SUMMARY_KEYS

__all__ = [
    "DEFAULT_START", "STRATEGIES", "SUMMARY_KEYS", "SensorFault", "Simulation", "SimulationResult", "Trace",
    "build_plant", "draw_profile", "local_midnight_s", "mains_model", "run_simulation",
]


def run_simulation(
    cfg: PlantConfig,
    days: float,
    start: date,
    *,
    scenario: str = "custom",
    strategy: str | None = None,
    seed: int = 1,
    faults: tuple[SensorFault, ...] = (),
    progress: Callable[[float], None] | None = None,
    trace_points: int = 20_000,
) -> SimulationResult:
    """Run the controller against the simulated plant for `days` from local midnight of `start`.

    `strategy="optimum"` solves the perfect-foresight bound instead (`optimum.py`); `best_fixed` and
    `c_star` search the simulator (`search.py`) and return their best run."""
    if strategy == "optimum":
        return run_optimum(cfg, days, start, scenario=scenario, seed=seed)
    if strategy in ("best_fixed", "c_star"):
        return searched_yardstick(cfg, days, start, strategy, seed=seed)
    sim = Simulation(cfg, days, start, scenario=scenario, strategy=strategy, seed=seed, faults=faults,
                     trace_points=trace_points)
    return run_loop(sim, progress)
