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

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix

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

    def __call__(self, name: str, t: np.ndarray | int | slice = slice(None)) -> np.ndarray:
        idx = np.arange(self.slots)[t] if isinstance(t, slice) else np.asarray(t)
        return self.start[name] + idx


class _Rows:
    """Sparse constraint rows collected as (row, col, value) triplets."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.rhs: list[np.ndarray] = []
        self.n = 0

    def add(self, terms: list[tuple[np.ndarray, np.ndarray | float]], rhs: np.ndarray) -> None:
        """One row per slot: Σ coef·x[col] (op) rhs; each term is (columns, coefficients)."""
        k = rhs.size
        rows = self.n + np.arange(k)
        for cols, coef in terms:
            cols = np.asarray(cols)
            keep = cols >= 0  # -1 marks "no variable" (the initial state is a constant)
            self.r.append(rows[keep])
            self.c.append(cols[keep])
            self.v.append(np.broadcast_to(np.asarray(coef, dtype=float), (k,))[keep])
        self.rhs.append(rhs)
        self.n += k

    def matrix(self) -> tuple[csr_matrix | None, np.ndarray | None]:
        if self.n == 0:
            return None, None
        m = coo_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                       shape=(self.n, self.n_cols))
        return m.tocsr(), np.concatenate(self.rhs)


@dataclass(frozen=True)
class Assembled:
    """The LP in matrix form: min cost·x, lo ≤ x ≤ hi, A_eq·x = b_eq, A_ub·x ≤ b_ub."""

    cost: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    a_eq: csr_matrix | None
    b_eq: np.ndarray | None
    a_ub: csr_matrix | None
    b_ub: np.ndarray | None
    columns: _Vars


def assemble(p: StoreLp) -> Assembled:
    """The StoreLp as matrices; the end-state row, if any, is the last row of A_ub."""
    s = p.slots
    m = len(p.miners)
    names = [f"p{i}" for i in range(m)] + [f"h{i}" for i in range(m)] + [
        "qm", "qg", "dump", "closs", "sc", "el", "eh", "x", "dhw", "hd", "loop", "hl", "loss", "short", "move"]
    v = _Vars(names, s)
    h = p.hours
    prev = np.arange(s) - 1  # the slot before; -1 for the first (its state is a constant)

    def before(name: str) -> np.ndarray:
        return np.where(prev >= 0, v(name, np.maximum(prev, 0)), -1)

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

    eq = _Rows(v.n)
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

    ub = _Rows(v.n)
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

    a_eq, b_eq = eq.matrix()
    a_ub, b_ub = ub.matrix()
    return Assembled(cost=cost, lo=lo, hi=hi, a_eq=a_eq, b_eq=b_eq, a_ub=a_ub, b_ub=b_ub, columns=v)


def solve_store(p: StoreLp, time_limit_s: float | None = None) -> StorePlan:
    """Minimise net cost over the slots; a plan with status other than "optimal" holds no solution."""
    t0 = time.perf_counter()
    a = assemble(p)
    cost, lo, hi, a_eq, b_eq, a_ub, b_ub = a.cost, a.lo, a.hi, a.a_eq, a.b_eq, a.a_ub, a.b_ub
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
