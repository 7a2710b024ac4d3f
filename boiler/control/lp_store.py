"""A linear program over a two-layer hot-water store: the model both `optimum` and `mpc` solve.

The store's heat is split at a temperature θ, the hottest water the miners can deliver:
``E_low = Σ C_i·min(T_i, θ)`` and ``E_high = Σ C_i·max(T_i − θ, 0)`` over every tank node i
(C_i its heat capacity). Miner heat can only raise ``E_low``; only the gas boiler can raise
``E_high``. Each draw and the recirculation loop take a known minimum share of their heat from
``E_high`` (water leaves at ≥ the setpoint). High-grade heat may degrade into low-grade (mixing,
losses), never the reverse. docs/control.md explains why this is a relaxation of the simulator.

Units inside the LP: kW, kWh, hours, TH/s and EUR, which keeps HiGHS well scaled. One slot is a
span of constant price; every power is the slot's mean and every energy the slot's total.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from miners.catalogue import MinerSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MinerLp:
    """One miner: electrical power range and an upper bound on its hashrate at a given power.

    ``hashrate_ths <= a + b·power_kw`` for every (a, b) in `cuts`: a concave over-estimate of the
    hashrate the miner could reach at that mean power (time-averaging is covered by concavity).
    """

    name: str
    min_kw: float  # its lowest draw at any time (asleep)
    max_kw: float
    heat_share: float  # electrical power that ends up in the coolant
    cuts: tuple[tuple[float, float], ...]

    @classmethod
    def hull(cls, name: str, spec: MinerSpec, inlet_c: float, points: int) -> MinerLp:
        """The miner with its hashrate bounded by the concave hull of everything it can do at this inlet.

        Asleep or starting it draws power for no hashrate; hashing, its power is in [min, max] and its
        hashrate P / J(P, inlet) ∝ P^(1−exponent), concave. The hull is the chord from (standby, 0) to
        (min, H(min)) and the curve's tangents at `points` powers from min to max; time averages of any
        mix of states stay under it.
        """
        sb_kw = spec.standby_power_w / 1000.0
        min_kw, max_kw = spec.min_power_w / 1000.0, spec.max_power_w / 1000.0

        def hashrate(p_kw: float) -> float:
            return p_kw * 1000.0 / spec.j_per_th(p_kw * 1000.0, inlet_c)

        chord = hashrate(min_kw) / (min_kw - sb_kw)
        cuts = [(-chord * sb_kw, chord)]
        for p_kw in np.linspace(min_kw, max_kw, points):
            p = float(p_kw)
            h = hashrate(p)
            slope = (1.0 - spec.underclock_exponent) * h / p  # d/dP of c·P^(1−e)
            cuts.append((h - slope * p, slope))
        return cls(name=name, min_kw=sb_kw, max_kw=max_kw, heat_share=spec.heat_to_coolant, cuts=tuple(cuts))


@dataclass(frozen=True)
class StoreLp:
    """Everything the LP needs, one array entry per slot (length S)."""

    hours: np.ndarray  # slot durations, h
    price_eur_per_kwh: np.ndarray  # electricity
    revenue_eur_per_ths_h: np.ndarray  # net mining revenue of 1 TH/s for one hour
    gas_eur_per_kwh_heat: float  # gas price per kWh of heat into the water (fuel / efficiency)
    co2_eur_per_kwh_elec: float
    co2_eur_per_kwh_heat_gas: float
    miners: tuple[MinerLp, ...]
    gas_max_kw: float
    dump_max_kw: float
    # Draws (kWh per slot): total heat at the taps and the share of it that must be high-grade.
    dhw_lo_kwh: np.ndarray
    dhw_hi_kwh: np.ndarray
    draw_high_share: np.ndarray
    # Loop losses (kWh per slot) and the least of them that is high-grade.
    loop_lo_kwh: np.ndarray
    loop_hi_kwh: np.ndarray
    loop_high_lo_kwh: np.ndarray
    loop_low_lo_kwh: np.ndarray  # least low-grade part (0 unless a step's bounds are loose)
    # Tank losses: loss ≥ loss_rate·(E_start − outflows − loss_slack) − loss_offset, ≤ loss_hi.
    loss_rate: np.ndarray  # 1 (per slot, dimensionless)
    loss_slack_kwh: np.ndarray
    loss_offset_kwh: np.ndarray
    loss_lo_kwh: np.ndarray
    loss_hi_kwh: np.ndarray
    # Store bounds (kWh above 0 °C) and the least high-grade heat at the end of each slot.
    el_min_kwh: float  # may be -inf (the MPC without a gas boiler)
    el_max_kwh: float
    eh_max_kwh: float
    eh_reserve_kwh: np.ndarray
    el0_kwh: float
    eh0_kwh: float
    # The coolant loop as a small store between the miners and the exchanger.
    coolant_max_kwh: float
    coolant0_kwh: float
    coolant_loss_lo_kw: float
    coolant_loss_hi_kw: float
    # Optional bounds on the fleet's mean power per slot (the MPC's first slots), kW.
    fleet_lo_kw: np.ndarray | None = None
    fleet_hi_kw: np.ndarray | None = None
    # The MPC's "mixed pre-heat" model instead of the fixed high-grade share of draws: the draws' low
    # part is the drawn water's capacity times the pre-heat temperature E_low/C over the mains,
    #   dhw − hd = low_coef·E_low(start) − low_offset,
    # and the miners' heat is capped by what the exchanger passes at that temperature,
    #   qm ≤ absorb_kw − absorb_kw_per_kwh·E_low(start).
    draw_low_coef: np.ndarray | None = None
    draw_low_offset_kwh: np.ndarray | None = None
    absorb_kw: np.ndarray | None = None
    absorb_kw_per_kwh: float = 0.0
    # Value of heat left in the store at the end (EUR per kWh; the MPC's terminal value).
    terminal_eur_per_kwh_low: float = 0.0
    terminal_eur_per_kwh_high: float = 0.0
    # The bound's end-state condition: the store ends with at least this much heat (E_low + E_high, kWh).
    end_min_kwh: float | None = None
    # A soft floor on E_low at each slot's end (the MPC without a gas boiler: the store hot enough to draw
    # from): each kWh short costs `el_soft_eur_per_kwh_h` per hour of the slot.
    el_soft_min_kwh: np.ndarray | None = None
    el_soft_eur_per_kwh_h: float = 0.0
    # Steady power (the MPC): each kW the fleet's mean power moves from one slot to the next, and from
    # `fleet_now_kw` into the first slot, costs this much (restarts, efficiency lost while moving).
    change_eur_per_kw: float = 0.0
    fleet_now_kw: float = 0.0

    @property
    def slots(self) -> int:
        return int(self.hours.size)


@dataclass
class StorePlan:
    """The LP's solution, per slot (powers in kW, energies in kWh per slot or at the slot's end)."""

    status: str  # "optimal", or why there is no plan
    cost_eur: float = math.nan
    miner_kw: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (miners, S)
    hashrate_ths: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    miner_heat_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gas_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dump_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    el_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eh_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dhw_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loop_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    solve_s: float = 0.0
    # Shadow price of the end-state condition: d(cost)/d(end_min_kwh), EUR per kWh (0 without it).
    end_price_eur_per_kwh: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


class _Vars:
    """Column indices: each named block holds one variable per slot."""

    def __init__(self, names: list[str], slots: int) -> None:
        self.slots = slots
        self.start = {name: i * slots for i, name in enumerate(names)}
        self.n = len(names) * slots
        self._slots = np.arange(slots)
        # Whole blocks, built once (assemble asks for each many times); read-only as every caller shares them.
        self._blocks = {name: self.start[name] + self._slots for name in names}
        for block in self._blocks.values():
            block.flags.writeable = False

    def __call__(self, name: str, t: np.ndarray | int | slice | None = None) -> np.ndarray:
        if t is None:
            return self._blocks[name]
        idx = self._slots[t] if isinstance(t, slice) else np.asarray(t)
        return self.start[name] + idx


@lru_cache(maxsize=8)
def _vars(names: tuple[str, ...], slots: int) -> _Vars:
    """The column layout, shared by every LP of this shape (its blocks are built once)."""
    return _Vars(list(names), slots)


@dataclass(frozen=True, eq=False)
class RowPattern:
    """The sparsity pattern of a set of row blocks in CSR form (sorted columns, no duplicate entries).

    `key` is the blocks' structure (columns, block sizes, which coefficients are scalars); every LP with
    the same key has this pattern, so a caller that solves many of them (the MPC) builds it once.
    """

    key: tuple[object, ...]
    n_rows: int
    n_cols: int
    indptr: np.ndarray
    indices: np.ndarray
    order: np.ndarray  # positions in the terms' value vector of the CSR entries, in CSR order
    scalar_at: np.ndarray  # positions in the value vector filled by the scalar coefficients
    scalar_sizes: np.ndarray  # entries of each scalar coefficient
    array_at: np.ndarray  # positions filled by the array coefficients (concatenated)


class Rows:
    """Sparse constraint rows, recorded block by block as (columns, coefficients) terms."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols
        self.cols: list[np.ndarray] = []  # each term's columns, one per row of its block; -1 = no variable
        self.coefs: list[np.ndarray | float] = []  # each term's coefficient: one per row, or a scalar
        self.first_row: list[int] = []  # each term's block's first row
        self.rhs: list[np.ndarray] = []
        self.n = 0

    def add(self, terms: list[tuple[np.ndarray, np.ndarray | float]], rhs: np.ndarray) -> None:
        """One row per slot: Σ coef·x[col] (op) rhs; each term is (columns, coefficients)."""
        k = rhs.size
        for cols, coef in terms:
            if not isinstance(coef, np.ndarray) or coef.ndim == 0:
                coef = float(coef)
            elif coef.shape != (k,) or coef.dtype != np.float64:
                coef = np.broadcast_to(coef.astype(float), (k,))
            self.cols.append(np.asarray(cols))
            self.coefs.append(coef)
            self.first_row.append(self.n)
        self.rhs.append(rhs)
        self.n += k

    def stacked(self, below: Rows) -> Rows:
        """These rows, then `below`'s."""
        out = Rows(self.n_cols)
        out.cols = self.cols + below.cols
        out.coefs = self.coefs + below.coefs
        out.first_row = self.first_row + [self.n + r for r in below.first_row]
        out.rhs = self.rhs + below.rhs
        out.n = self.n + below.n
        return out

    def structure(self) -> tuple[object, ...]:
        """What the sparsity pattern depends on (not the coefficients' values)."""
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, int)
        scalar = bytes(not isinstance(c, np.ndarray) for c in self.coefs)
        return self.n, self.n_cols, tuple(self.first_row), scalar, cols.tobytes()

    def pattern(self, key: tuple[object, ...] | None = None) -> RowPattern:
        key = key if key is not None else self.structure()
        sizes = np.array([c.size for c in self.cols], dtype=int)
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, int)
        rows = np.repeat(np.array(self.first_row, dtype=int), sizes) + _ranks(sizes)
        kept = np.flatnonzero(cols >= 0)  # -1 marks "no variable" (the initial state is a constant)
        order = kept[np.lexsort((cols[kept], rows[kept]))]
        r, c = rows[order], cols[order]
        if np.any((r[1:] == r[:-1]) & (c[1:] == c[:-1])):
            raise ValueError("a row holds the same column twice")
        scalar = np.array([not isinstance(x, np.ndarray) for x in self.coefs], dtype=bool)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        return RowPattern(
            key=key, n_rows=self.n, n_cols=self.n_cols,
            indptr=np.concatenate([[0], np.cumsum(np.bincount(r, minlength=self.n))]).astype(np.int32),
            indices=c.astype(np.int32),
            order=order,
            scalar_at=_spans(starts[:-1][scalar], sizes[scalar]),
            scalar_sizes=sizes[scalar],
            array_at=_spans(starts[:-1][~scalar], sizes[~scalar]),
        )

    def values(self, pattern: RowPattern) -> np.ndarray:
        """The coefficients in the pattern's CSR order (the pattern must be this structure's)."""
        scalars = [c for c in self.coefs if not isinstance(c, np.ndarray)]
        arrays = [c for c in self.coefs if isinstance(c, np.ndarray)]
        v = np.empty(pattern.scalar_at.size + pattern.array_at.size)
        v[pattern.scalar_at] = np.repeat(np.array(scalars, dtype=float), pattern.scalar_sizes)
        if arrays:
            v[pattern.array_at] = np.concatenate(arrays)
        return v[pattern.order]

    def matrix(self) -> tuple[csr_matrix | None, np.ndarray | None]:
        if self.n == 0:
            return None, None
        pattern = self.pattern()
        m = csr_matrix((self.values(pattern), pattern.indices, pattern.indptr), shape=(self.n, self.n_cols))
        return m, np.concatenate(self.rhs)


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """0, 1, …, size−1 for each size, concatenated."""
    total = int(sizes.sum())
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(total) - starts


def _spans(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The positions start, …, start+size−1 of each span, concatenated."""
    return np.repeat(starts, sizes) + _ranks(sizes)


@dataclass(frozen=True)
class Assembled:
    """The LP in matrix form: min cost·x, lo ≤ x ≤ hi, A_eq·x = b_eq, A_ub·x ≤ b_ub."""

    cost: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    eq: Rows
    ub: Rows
    columns: _Vars

    def eq_matrix(self) -> tuple[csr_matrix | None, np.ndarray | None]:
        return self.eq.matrix()

    def ub_matrix(self) -> tuple[csr_matrix | None, np.ndarray | None]:
        return self.ub.matrix()


def assemble(p: StoreLp) -> Assembled:
    """The StoreLp as matrices; the end-state row, if any, is the last row of A_ub."""
    s = p.slots
    m = len(p.miners)
    names = [f"p{i}" for i in range(m)] + [f"h{i}" for i in range(m)] + [
        "qm", "qg", "dump", "closs", "sc", "el", "eh", "x", "dhw", "hd", "loop", "hl", "loss", "short", "move"]
    v = _vars(tuple(names), s)
    h = p.hours
    shifted: dict[str, np.ndarray] = {}

    def before(name: str) -> np.ndarray:
        """Each slot's column of the slot before; -1 for the first (its state is a constant)."""
        if name not in shifted:
            cols = np.full(s, -1)
            cols[1:] = v(name)[:-1]
            shifted[name] = cols
        return shifted[name]

    first = (np.arange(s) == 0).astype(float)
    lo = np.zeros(v.n)
    hi = np.full(v.n, np.inf)
    cost = np.zeros(v.n)

    def bounds(name: str, low: np.ndarray | float, high: np.ndarray | float) -> None:
        lo[v(name)] = low
        hi[v(name)] = high

    for i, mn in enumerate(p.miners):
        bounds(f"p{i}", mn.min_kw, mn.max_kw)
        bounds(f"h{i}", 0.0, np.inf)
        cost[v(f"p{i}")] = h * (p.price_eur_per_kwh + p.co2_eur_per_kwh_elec)
        cost[v(f"h{i}")] = -h * p.revenue_eur_per_ths_h
    bounds("qm", -np.inf, np.inf)
    bounds("qg", 0.0, p.gas_max_kw)
    cost[v("qg")] = h * (p.gas_eur_per_kwh_heat + p.co2_eur_per_kwh_heat_gas)
    bounds("dump", 0.0, p.dump_max_kw)
    bounds("closs", p.coolant_loss_lo_kw * h, p.coolant_loss_hi_kw * h)
    bounds("sc", 0.0, p.coolant_max_kwh)
    bounds("el", p.el_min_kwh, p.el_max_kwh)
    bounds("eh", np.minimum(p.eh_reserve_kwh, p.eh_max_kwh), p.eh_max_kwh)
    bounds("x", 0.0, np.inf)
    bounds("dhw", p.dhw_lo_kwh, p.dhw_hi_kwh)
    bounds("hd", 0.0, np.inf)
    bounds("loop", p.loop_lo_kwh, p.loop_hi_kwh)
    bounds("hl", np.minimum(p.loop_high_lo_kwh, p.loop_lo_kwh), np.inf)
    bounds("loss", p.loss_lo_kwh, p.loss_hi_kwh)
    soft = p.el_soft_min_kwh is not None
    bounds("short", 0.0, np.inf if soft else 0.0)
    cost[v("short")] = h * p.el_soft_eur_per_kwh_h if soft else 0.0
    steady = p.change_eur_per_kw > 0 and m > 0
    bounds("move", 0.0, np.inf if steady else 0.0)
    cost[v("move")] = p.change_eur_per_kw if steady else 0.0
    # Heat left in the store is worth something to whoever comes next (the MPC's horizon end).
    cost[v("el", s - 1)] -= p.terminal_eur_per_kwh_low
    cost[v("eh", s - 1)] -= p.terminal_eur_per_kwh_high

    eq = Rows(v.n)
    # High layer: gas in; the draws' and loop's high-grade shares and any degradation out.
    eq.add([(v("eh"), 1.0), (before("eh"), -1.0), (v("qg"), -h), (v("hd"), 1.0), (v("hl"), 1.0),
            (v("x"), 1.0)], first * p.eh0_kwh)
    # Low layer: miner heat and degraded high-grade heat in; the rest of draws, loop, losses out.
    eq.add([(v("el"), 1.0), (before("el"), -1.0), (v("qm"), -h), (v("x"), -1.0), (v("dhw"), 1.0),
            (v("hd"), -1.0), (v("loop"), 1.0), (v("hl"), -1.0), (v("loss"), 1.0)], first * p.el0_kwh)
    # Coolant: miners' heat in; exchanger, dry cooler and pipe losses out.
    terms: list[tuple[np.ndarray, np.ndarray | float]] = [(v("sc"), 1.0), (before("sc"), -1.0)]
    terms += [(v(f"p{i}"), -h * mn.heat_share) for i, mn in enumerate(p.miners)]
    terms += [(v("qm"), h), (v("dump"), h), (v("closs"), 1.0)]
    eq.add(terms, first * p.coolant0_kwh)

    ub = Rows(v.n)
    for i, mn in enumerate(p.miners):
        for a, b in mn.cuts:
            ub.add([(v(f"h{i}"), 1.0), (v(f"p{i}"), -b)], np.full(s, a))
    if p.draw_low_coef is None:
        ub.add([(v("dhw"), p.draw_high_share), (v("hd"), -1.0)], np.zeros(s))  # hd ≥ share·dhw
    else:
        off = p.draw_low_offset_kwh if p.draw_low_offset_kwh is not None else np.zeros(s)
        k = p.draw_low_coef
        eq.add([(v("dhw"), 1.0), (v("hd"), -1.0), (before("el"), -k)], first * k * p.el0_kwh - off)
    if p.absorb_kw is not None:
        ub.add([(v("qm"), 1.0), (before("el"), p.absorb_kw_per_kwh)],
               p.absorb_kw - first * p.absorb_kw_per_kwh * p.el0_kwh)
    ub.add([(v("hd"), 1.0), (v("dhw"), -1.0)], np.zeros(s))  # hd ≤ dhw
    ub.add([(v("hl"), 1.0), (v("loop"), -1.0)], -p.loop_low_lo_kwh)  # loop − hl ≥ its low-grade least
    # loss ≥ rate·(E_start − dhw − loop − loss − slack) − offset
    r = p.loss_rate
    e0 = first * (p.el0_kwh + p.eh0_kwh)
    ub.add([(v("loss"), -(1.0 + r)), (v("dhw"), -r), (v("loop"), -r), (before("el"), r), (before("eh"), r)],
           r * p.loss_slack_kwh + p.loss_offset_kwh - r * e0)
    if p.fleet_lo_kw is not None or p.fleet_hi_kw is not None:
        fleet = [(v(f"p{i}"), 1.0) for i in range(m)]
        if p.fleet_hi_kw is not None:
            ok = np.isfinite(p.fleet_hi_kw)
            ub.add([(c[ok], 1.0) for c, _ in fleet], p.fleet_hi_kw[ok])
        if p.fleet_lo_kw is not None:
            ok = np.isfinite(p.fleet_lo_kw)
            ub.add([(c[ok], -1.0) for c, _ in fleet], -p.fleet_lo_kw[ok])

    if steady:  # move_t ≥ |fleet_t − fleet_{t−1}|, fleet_{−1} = the fleet now
        for sign in (1.0, -1.0):
            terms = [(v(f"p{i}"), sign) for i in range(m)] + [(before(f"p{i}"), -sign) for i in range(m)]
            ub.add([*terms, (v("move"), -1.0)], sign * first * p.fleet_now_kw)
    if p.el_soft_min_kwh is not None:  # el + short ≥ soft floor
        ub.add([(v("el"), -1.0), (v("short"), -1.0)], -np.asarray(p.el_soft_min_kwh, dtype=float))
    if p.end_min_kwh is not None:  # last row: its dual is the end state's price
        last = np.array([s - 1])
        ub.add([(v("el", last), -1.0), (v("eh", last), -1.0)], np.array([-p.end_min_kwh]))

    return Assembled(cost=cost, lo=lo, hi=hi, eq=eq, ub=ub, columns=v)


def solve_store(p: StoreLp, time_limit_s: float | None = None) -> StorePlan:
    """Minimise net cost over the slots; a plan with status other than "optimal" holds no solution."""
    t0 = time.perf_counter()
    a = assemble(p)
    cost, lo, hi = a.cost, a.lo, a.hi
    (a_eq, b_eq), (a_ub, b_ub) = a.eq_matrix(), a.ub_matrix()
    s = p.slots
    options: dict[str, object] = {"presolve": True}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    try:
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=np.column_stack([lo, hi]),
                      method="highs", options=options)
    except (ValueError, MemoryError) as exc:  # malformed input or too big: no plan, the caller decides
        log.warning("event=lp_error slots=%d error=%s", s, exc)
        return StorePlan(status=f"error:{type(exc).__name__}", solve_s=time.perf_counter() - t0)
    elapsed = time.perf_counter() - t0
    if res.status != 0 or res.x is None:
        status = {1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(res.status, f"status_{res.status}")
        return StorePlan(status=status, solve_s=elapsed)
    end_price = 0.0
    if p.end_min_kwh is not None and res.ineqlin is not None:
        end_price = -float(res.ineqlin.marginals[-1])
    return plan_from(p, a.columns, np.asarray(res.x), float(res.fun), elapsed, end_price)


def plan_from(p: StoreLp, v: _Vars, x: np.ndarray, objective_eur: float, elapsed_s: float,
              end_price_eur_per_kwh: float = 0.0) -> StorePlan:
    """The plan of an optimal solution `x` (columns as `assemble` laid them out)."""
    s = p.slots
    m = len(p.miners)
    terminal = p.terminal_eur_per_kwh_low * x[v("el", s - 1)] + p.terminal_eur_per_kwh_high * x[v("eh", s - 1)]
    return StorePlan(
        status="optimal",
        cost_eur=float(objective_eur + terminal),
        miner_kw=np.array([x[v(f"p{i}")] for i in range(m)]).reshape(m, s),
        hashrate_ths=np.array([x[v(f"h{i}")] for i in range(m)]).reshape(m, s),
        miner_heat_kw=x[v("qm")],
        gas_kw=x[v("qg")],
        dump_kw=x[v("dump")],
        el_kwh=x[v("el")],
        eh_kwh=x[v("eh")],
        dhw_kwh=x[v("dhw")],
        loop_kwh=x[v("loop")],
        loss_kwh=x[v("loss")],
        solve_s=elapsed_s,
        end_price_eur_per_kwh=end_price_eur_per_kwh,
    )
