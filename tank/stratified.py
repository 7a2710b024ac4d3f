"""One-dimensional stratified storage tank: N equal-volume nodes, node 0 at the top.

Each step applies, in order (operator splitting; each part conserves energy exactly, so the
whole does too):
1. advection by the ports' flows (explicit upwind, sub-stepped so that no node is flushed more
   than once per sub-step: the Courant number stays ≤ 1),
2. heat sources per node (a gas coil, an immersion heater),
3. axial conduction between neighbours,
4. jacket losses to ambient, integrated exactly (exponential decay per node),
5. inversion mixing: warmer water under colder water is merged into the mass-weighted mean,
   pooling adjacent nodes until the profile is monotone (pool-adjacent-violators), so enthalpy
   is unchanged.

Plain Python floats and lists: with ~10 nodes this beats numpy's per-call overhead, and the
simulator calls it half a million times for a simulated year.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tank.water import CONDUCTIVITY_W_PER_M_K, HEAT_CAPACITY_J_PER_L_K

#: A port entering at this node index finds its own level: the highest node that is not warmer
#: than the incoming water (a stratifying inlet, TRNSYS "variable inlet").
STRATIFIED = -1


@dataclass(frozen=True, slots=True)
class TankParams:
    volume_l: float
    height_m: float = 2.0
    n_nodes: int = 10
    ua_w_per_k: float = 5.0
    #: "area": the jacket loss is split by each node's outer area (top and bottom nodes also lose
    #: through the lid and base); "volume": equally per node.
    loss_split: str = "area"
    #: Effective axial conductivity: water plus the wall's contribution.
    conductivity_w_per_m_k: float = CONDUCTIVITY_W_PER_M_K

    def __post_init__(self) -> None:
        if self.volume_l <= 0 or self.height_m <= 0:
            raise ValueError("tank volume and height must be positive")
        if self.n_nodes < 1:
            raise ValueError("a tank needs at least one node")
        if self.ua_w_per_k < 0 or self.conductivity_w_per_m_k < 0:
            raise ValueError("loss coefficient and conductivity cannot be negative")
        if self.loss_split not in ("area", "volume"):
            raise ValueError("loss_split must be 'area' or 'volume'")

    @property
    def node_volume_l(self) -> float:
        return self.volume_l / self.n_nodes

    @property
    def cross_section_m2(self) -> float:
        return self.volume_l / 1000.0 / self.height_m

    def node_ua_w_per_k(self) -> list[float]:
        n = self.n_nodes
        if self.loss_split == "volume" or n == 1:
            return [self.ua_w_per_k / n] * n
        area = self.cross_section_m2
        radius = math.sqrt(area / math.pi)
        side = 2.0 * math.pi * radius * self.height_m / n
        areas = [side] * n
        areas[0] += area
        areas[-1] += area
        total = sum(areas)
        return [self.ua_w_per_k * a / total for a in areas]

    def node_at_height(self, fraction_from_bottom: float) -> int:
        """Index of the node that holds a point at this fraction of the height (0 bottom, 1 top)."""
        f = min(max(fraction_from_bottom, 0.0), 1.0)
        from_top = int((1.0 - f) * self.n_nodes)
        return min(from_top, self.n_nodes - 1)


@dataclass(frozen=True, slots=True)
class Inflow:
    """Water entering the tank: at a node index, or STRATIFIED to find its own level."""

    node: int
    flow_l_per_s: float
    temp_c: float


@dataclass(frozen=True, slots=True)
class Outflow:
    node: int
    flow_l_per_s: float


@dataclass(frozen=True, slots=True)
class StepResult:
    #: Mean temperature of each outflow over the step, in the order given (NaN if no flow).
    out_temp_c: tuple[float, ...]
    loss_j: float
    #: Sub-steps the advection needed.
    substeps: int


class StratifiedTank:
    def __init__(self, params: TankParams, initial_c: float | Sequence[float]) -> None:
        self.params = params
        n = params.n_nodes
        if isinstance(initial_c, int | float):
            self.temps_c = [float(initial_c)] * n
        else:
            if len(initial_c) != n:
                raise ValueError(f"initial profile has {len(initial_c)} values for {n} nodes")
            self.temps_c = [float(t) for t in initial_c]
        self.node_volume_l = params.node_volume_l
        self.node_capacity_j_per_k = self.node_volume_l * HEAT_CAPACITY_J_PER_L_K
        self._node_ua = params.node_ua_w_per_k()
        dz = params.height_m / n
        self._conductance_w_per_k = params.conductivity_w_per_m_k * params.cross_section_m2 / dz
        # Step-size dependent factors, computed once per distinct step (the simulator uses one).
        self._cached_dt_s = math.nan
        self._decay: list[float] = []
        self._conduction_g = 0.0
        self._conduction_reps = 1

    def _prepare(self, dt_s: float) -> None:
        cap = self.node_capacity_j_per_k
        self._decay = [math.exp(-ua * dt_s / cap) for ua in self._node_ua]
        g = self._conductance_w_per_k * dt_s / cap
        # Explicit conduction is stable while g ≤ 1/2; sub-step otherwise (only for very fine grids).
        self._conduction_reps = max(1, math.ceil(g / 0.45))
        self._conduction_g = g / self._conduction_reps
        self._cached_dt_s = dt_s

    # -- state -----------------------------------------------------------------------------
    @property
    def top_c(self) -> float:
        return self.temps_c[0]

    @property
    def bottom_c(self) -> float:
        return self.temps_c[-1]

    @property
    def coldest_c(self) -> float:
        return min(self.temps_c)

    def energy_j(self, reference_c: float = 0.0) -> float:
        """Heat stored above a reference temperature."""
        return self.node_capacity_j_per_k * sum(t - reference_c for t in self.temps_c)

    def mean_c(self) -> float:
        return sum(self.temps_c) / len(self.temps_c)

    # -- dynamics --------------------------------------------------------------------------
    def step(
        self,
        dt_s: float,
        ambient_c: float,
        inflows: Sequence[Inflow] = (),
        outflows: Sequence[Outflow] = (),
        heat_w: Sequence[float] | None = None,
    ) -> StepResult:
        """Advance the tank by dt_s. Inflows and outflows must balance (the tank is full)."""
        temps = self.temps_c
        n = len(temps)
        if dt_s != self._cached_dt_s:
            self._prepare(dt_s)
        out_sum = [0.0] * len(outflows)
        substeps = 0
        if inflows or outflows:
            total_in = sum(f.flow_l_per_s for f in inflows)
            total_out = sum(f.flow_l_per_s for f in outflows)
            if abs(total_in - total_out) > 1e-9 * max(1.0, total_in):
                raise ValueError(f"tank ports do not balance: in {total_in} L/s, out {total_out} L/s")
            if total_in > 0:
                substeps = self._advect(dt_s, inflows, outflows, out_sum)
        if heat_w is not None:
            cap = self.node_capacity_j_per_k
            for i, q in enumerate(heat_w):
                if q:
                    temps[i] += q * dt_s / cap
        if n > 1 and self._conductance_w_per_k > 0:
            self._conduct(dt_s)
        loss_j = self._lose(dt_s, ambient_c)
        if n > 1:
            mix_inversions(temps)
        out_temp = tuple(
            (out_sum[k] / substeps) if substeps and outflows[k].flow_l_per_s > 0 else math.nan
            for k in range(len(outflows))
        )
        return StepResult(out_temp_c=out_temp, loss_j=loss_j, substeps=substeps)

    def _advect(
        self, dt_s: float, inflows: Sequence[Inflow], outflows: Sequence[Outflow], out_sum: list[float]
    ) -> int:
        temps = self.temps_c
        n = len(temps)
        v = self.node_volume_l
        # The busiest node sees at most all inflow passing through it: bound the Courant number by that.
        through_l = sum(f.flow_l_per_s for f in inflows) * dt_s
        substeps = max(1, math.ceil(through_l / v - 1e-12))
        h = dt_s / substeps
        for _ in range(substeps):
            # Net source per node (L/s) and the inflowing enthalpy per node (L/s·°C).
            src = [0.0] * n
            src_heat = [0.0] * n
            for f in inflows:
                if f.flow_l_per_s <= 0:
                    continue
                node = f.node if f.node != STRATIFIED else _level_for(temps, f.temp_c)
                src[node] += f.flow_l_per_s
                src_heat[node] += f.flow_l_per_s * f.temp_c
            sink = [0.0] * n
            for k, f in enumerate(outflows):
                if f.flow_l_per_s <= 0:
                    continue
                sink[f.node] += f.flow_l_per_s
                out_sum[k] += temps[f.node]
            new = temps[:]
            down = 0.0  # net flow across the interface above node i, downward positive
            for i in range(n):
                t_i = temps[i]
                heat = src_heat[i] - sink[i] * t_i
                if down > 0:
                    heat += down * temps[i - 1]
                elif down < 0:
                    heat += down * t_i  # water leaves upward at this node's temperature
                down_next = down + src[i] - sink[i]
                if i < n - 1:
                    if down_next > 0:
                        heat -= down_next * t_i
                    elif down_next < 0:
                        heat -= down_next * temps[i + 1]
                # Mass balance keeps the node full (in = out), so net enthalpy flow sets dT.
                new[i] = t_i + heat * h / v
                down = down_next
            temps[:] = new
        return substeps

    def _conduct(self, dt_s: float) -> None:
        temps = self.temps_c
        g = self._conduction_g
        n = len(temps)
        for _ in range(self._conduction_reps):
            flux = [g * (temps[i] - temps[i + 1]) for i in range(n - 1)]
            for i in range(n - 1):
                temps[i] -= flux[i]
                temps[i + 1] += flux[i]

    def _lose(self, dt_s: float, ambient_c: float) -> float:
        temps = self.temps_c
        before = sum(temps)
        for i, decay in enumerate(self._decay):
            temps[i] = ambient_c + (temps[i] - ambient_c) * decay
        return self.node_capacity_j_per_k * (before - sum(temps))


def _level_for(temps: list[float], temp_c: float) -> int:
    """Highest node (smallest index) not warmer than the incoming water; bottom if none."""
    for i, t in enumerate(temps):
        if t <= temp_c:
            return i
    return len(temps) - 1


def mix_inversions(temps: list[float]) -> None:
    """Merge any warmer-below-colder nodes into their mean until the profile is monotone.

    Nodes have equal volumes, so the mass-weighted mean is the plain mean; pooling adjacent
    violators gives the unique monotone profile reachable by mixing neighbours, and the sum of
    temperatures (the enthalpy) is unchanged.
    """
    n = len(temps)
    for i in range(n - 1):
        if temps[i + 1] > temps[i]:
            break
    else:
        return
    sums: list[float] = []
    counts: list[int] = []
    for t in temps:
        s, c = t, 1
        while sums and s / c > sums[-1] / counts[-1]:
            s += sums.pop()
            c += counts.pop()
        sums.append(s)
        counts.append(c)
    i = 0
    for s, c in zip(sums, counts, strict=True):
        mean = s / c
        for _ in range(c):
            temps[i] = mean
            i += 1
