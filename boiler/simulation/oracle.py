"""`mpc_oracle`: the MPC told the simulator's future draws. A benchmark yardstick, never a controller.

Against `mpc` it measures what the learned forecast costs; every other knob is the same. It reads
the simulated plant's draws, so only the simulation can build it (`yardsticks`).
"""

from __future__ import annotations

import numpy as np

from boiler.config import PlantConfig
from boiler.control.mpc import MpcStrategy
from boiler.control.plant_model import PlantModel
from boiler.control.strategies import RuleStrategy
from boiler.control.types import Observation
from tank.water import J_PER_KWH


class PerfectForecastMpc(MpcStrategy):
    """`mpc_oracle`: the same MPC told every future draw exactly. A benchmark yardstick, never a
    controller: it reads the simulator's future. Against `mpc` it measures what the learned
    forecast costs; every other knob (margins included) is the same."""

    name = "mpc_oracle"

    def __init__(self, cfg: PlantConfig, model: PlantModel, rule: RuleStrategy, draw_heat_j: list[float],
                 start_s: float, step_s: float) -> None:
        super().__init__(cfg, model, rule)
        self._start_s = start_s
        self._step_s = step_s
        self._cum_kwh = np.concatenate([[0.0], np.cumsum(np.asarray(draw_heat_j, dtype=float))]) / J_PER_KWH

    def forecast_ready(self) -> bool:
        return True

    def _drawn_until_kwh(self, t_s: float) -> float:
        """Draw heat from the start to `t_s`, steps pro rata; nothing is drawn past the data."""
        x = (t_s - self._start_s) / self._step_s
        n = self._cum_kwh.size - 1
        if x <= 0.0:
            return 0.0
        if x >= n:
            return float(self._cum_kwh[n])
        k = int(x)
        return float(self._cum_kwh[k] + (x - k) * (self._cum_kwh[k + 1] - self._cum_kwh[k]))

    def expected_draw_kwh(self, now_s: float, obs: Observation, ahead_s: float, span_s: float) -> float:
        a = now_s + ahead_s
        return self._drawn_until_kwh(a + span_s) - self._drawn_until_kwh(a)
