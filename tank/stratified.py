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

The loops run compiled (numba, `tank._kernel`): the simulator calls this half a million times for
a simulated year, and per-node Python loops dominated its run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tank import _kernel
from tank.water import CONDUCTIVITY_W_PER_M_K, HEAT_CAPACITY_J_PER_L_K

#: A port entering at this node index finds its own level: the highest node that is not warmer
#: than the incoming water (a stratifying inlet, TRNSYS "variable inlet").
STRATIFIED = _kernel.STRATIFIED
#: Ports per direction in one step (the plant uses at most four).
MAX_PORTS = 8


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
            self.temps_c = np.full(n, float(initial_c))
        else:
            if len(initial_c) != n:
                raise ValueError(f"initial profile has {len(initial_c)} values for {n} nodes")
            self.temps_c = np.array(initial_c, dtype=float)
        self.node_volume_l = params.node_volume_l
        self.node_capacity_j_per_k = self.node_volume_l * HEAT_CAPACITY_J_PER_L_K
        self._node_ua = params.node_ua_w_per_k()
        dz = params.height_m / n
        self._conductance_w_per_k = params.conductivity_w_per_m_k * params.cross_section_m2 / dz
        # Step-size dependent factors, computed once per distinct step (the simulator uses one).
        self._cached_dt_s = math.nan
        self._decay = np.ones(n)
        self._conduction_g = 0.0
        self._conduction_reps = 1
        # Port buffers handed to the compiled kernel (see `advance`).
        self.in_node = np.zeros(MAX_PORTS, dtype=np.int64)
        self.in_q = np.zeros(MAX_PORTS)
        self.in_t = np.zeros(MAX_PORTS)
        self.out_node = np.zeros(MAX_PORTS, dtype=np.int64)
        self.out_q = np.zeros(MAX_PORTS)
        self.out_mean_c = np.zeros(MAX_PORTS)
        self.heat_w = np.zeros(n)
        self._heat_k_per_w = 0.0
        #: The kernel leaves the profile monotone (warmest on top): the coldest node is the bottom one.
        self._monotone = bool(np.all(np.diff(self.temps_c) <= 0.0))

    def prepare(self, dt_s: float) -> None:
        """Compute the step-size dependent factors (`decay`, `conduction_g`, `conduction_reps`,
        `heat_k_per_w`) for dt_s; `advance` does it when the step changes. A caller that runs the
        compiled kernel itself (the simulated plant) calls it once and reads them."""
        if dt_s != self._cached_dt_s:
            self._prepare(dt_s)

    @property
    def decay(self) -> np.ndarray:
        """Per node, the share of the excess over ambient left after one step's losses."""
        return self._decay

    @property
    def conduction_g(self) -> float:
        """Conduction per sub-pass: conductance × dt / node capacity / `conduction_reps`."""
        return self._conduction_g

    @property
    def conduction_reps(self) -> int:
        return self._conduction_reps

    @property
    def heat_k_per_w(self) -> float:
        """Temperature rise of one node per W of heat over one step."""
        return self._heat_k_per_w

    def _prepare(self, dt_s: float) -> None:
        cap = self.node_capacity_j_per_k
        self._decay = np.array([math.exp(-ua * dt_s / cap) for ua in self._node_ua])
        g = self._conductance_w_per_k * dt_s / cap
        # Explicit conduction is stable while g ≤ 1/2; sub-step otherwise (only for very fine grids).
        self._conduction_reps = max(1, math.ceil(g / 0.45))
        self._conduction_g = g / self._conduction_reps
        self._heat_k_per_w = dt_s / cap
        self._cached_dt_s = dt_s

    # -- state -----------------------------------------------------------------------------
    @property
    def top_c(self) -> float:
        return float(self.temps_c[0])

    @property
    def bottom_c(self) -> float:
        return float(self.temps_c[-1])

    @property
    def coldest_c(self) -> float:
        if self._monotone:  # after any step: the kernel mixes inversions away
            return float(self.temps_c[-1])
        return float(self.temps_c.min())

    def energy_j(self, reference_c: float = 0.0) -> float:
        """Heat stored above a reference temperature."""
        return self.node_capacity_j_per_k * float(np.sum(self.temps_c) - reference_c * len(self.temps_c))

    def mean_c(self) -> float:
        return float(np.mean(self.temps_c))

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
        n_in, n_out = len(inflows), len(outflows)
        if n_in > MAX_PORTS or n_out > MAX_PORTS:
            raise ValueError(f"at most {MAX_PORTS} inflows and outflows per step")
        for j, f in enumerate(inflows):
            self.in_node[j] = f.node
            self.in_q[j] = f.flow_l_per_s
            self.in_t[j] = f.temp_c
        for j, g in enumerate(outflows):
            self.out_node[j] = g.node
            self.out_q[j] = g.flow_l_per_s
        total_in = sum(f.flow_l_per_s for f in inflows)
        total_out = sum(f.flow_l_per_s for f in outflows)
        if abs(total_in - total_out) > 1e-9 * max(1.0, total_in):
            raise ValueError(f"tank ports do not balance: in {total_in} L/s, out {total_out} L/s")
        self.heat_w[:] = 0.0
        if heat_w is not None:
            self.heat_w[: len(heat_w)] = heat_w
        loss_j, substeps = self.advance(dt_s, ambient_c, n_in, n_out)
        means = self.out_mean_c
        out_temp = tuple(
            float(means[j]) if substeps and outflows[j].flow_l_per_s > 0 else math.nan for j in range(n_out)
        )
        return StepResult(out_temp_c=out_temp, loss_j=loss_j, substeps=substeps)

    def advance(self, dt_s: float, ambient_c: float, n_in: int, n_out: int) -> tuple[float, int]:
        """The hot path behind `step`: ports and heat already in the buffers `in_node`, `in_q`,
        `in_t` (the first n_in), `out_node`, `out_q` (the first n_out) and `heat_w` (per node).

        The caller guarantees the balance of flows. Returns (heat lost to ambient in J,
        advection sub-steps); each outflow's mean temperature is left in `out_mean_c`.
        """
        if dt_s != self._cached_dt_s:
            self._prepare(dt_s)
        drop_k, substeps = _kernel.advance(
            self.temps_c, dt_s, ambient_c, self.in_node, self.in_q, self.in_t, n_in, self.out_node, self.out_q,
            n_out, self.heat_w, self._heat_k_per_w, self._decay, self._conduction_g, self._conduction_reps,
            self.node_volume_l, self.out_mean_c,
        )
        self._monotone = True
        return drop_k * self.node_capacity_j_per_k, substeps


def mix_inversions(temps: list[float] | np.ndarray) -> None:
    """Merge any warmer-below-colder nodes into their mean until the profile is monotone.

    Nodes have equal volumes, so the mass-weighted mean is the plain mean; pooling adjacent
    violators gives the unique monotone profile reachable by mixing neighbours, and the sum of
    temperatures (the enthalpy) is unchanged. Works in place on a list or an array.
    """
    arr = np.asarray(temps, dtype=float)
    _kernel.mix_inversions(arr)
    if not isinstance(temps, np.ndarray):
        temps[:] = arr.tolist()
