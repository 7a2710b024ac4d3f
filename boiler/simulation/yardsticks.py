"""Benchmark yardsticks only the simulation can run: they read the simulated future.

* `mpc_oracle`: the MPC told the plant's future draws (`oracle.PerfectForecastMpc`), in the loop;
* `optimum`: the perfect-foresight LP over the whole period (`optimum.run_optimum`), no loop at all;
* `best_fixed`: the best of a grid of one constant fleet power × one gas setpoint, run in the loop
  (`search.best_fixed`);
* `c_star`: a CMA-ES search in the simulator over a fleet power and gas setpoint per block of the day,
  warm-started from `best_fixed` and `mpc_oracle` (`search.c_star`): the bracket's upper end.
"""

from __future__ import annotations

from collections.abc import Callable

from boiler.config import PlantConfig
from boiler.control.plant_model import PlantModel
from boiler.control.registry import REGISTRY, rule_strategy
from boiler.control.strategies import Strategy
from boiler.plant.simulated import SimulatedPlant
from boiler.simulation.oracle import PerfectForecastMpc

#: Builds a strategy that needs the simulated plant (a yardstick reading its future).
PlantStrategy = Callable[[PlantConfig, PlantModel, SimulatedPlant, float], Strategy]


def _oracle(cfg: PlantConfig, model: PlantModel, plant: SimulatedPlant, start_s: float) -> Strategy:
    return PerfectForecastMpc(cfg, model, rule_strategy(cfg, model), plant.draw_heat_j, start_s, plant.step_s)


#: Yardsticks that run in the loop and need the simulated plant to be built.
IN_LOOP: dict[str, PlantStrategy] = {"mpc_oracle": _oracle}
#: Yardsticks solved or searched instead of running the loop once.
SOLVED = ("optimum", "best_fixed", "c_star")
#: Every name `simulate --strategy` takes: the plant's strategies, then the yardsticks.
STRATEGIES: tuple[str, ...] = (*REGISTRY, *IN_LOOP, *SOLVED)
