"""`--strategy optimum`: the perfect-foresight lower bound on net cost. A yardstick, not a controller.

One linear program (lp_store) over the whole simulated period knows every draw, price and
hashprice the simulator will use, step by step, and minimises net cost subject to limits that
are each at least as loose as the simulated plant's. Any strategy that holds the outlet at the
setpoint at every step therefore costs at least this much; docs/control.md gives the argument
bound by bound. The summary it reports carries the simulator's keys; the ones that describe
individual devices (power-limit changes, burner starts) have no meaning here and are None.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from boiler.baseline import GasBaseline
from boiler.config import PlantConfig
from boiler.control.lp_store import MinerLp, StoreLp, StorePlan, solve_store
from boiler.hygiene import HygieneChecker
from boiler.ledger import LedgerRow, fill_baseline, sum_rows
from boiler.simulation.build import draw_profile, mains_model
from boiler.simulation.runner import SimulationResult, Trace
from boiler.summary import HygieneFigures, RunSummary, build_summary
from miners.catalogue import MinerSpec, get_spec
from tank.loop import RecirculationLoop
from tank.mains import day_of_year
from tank.stratified import TankParams
from tank.water import HEAT_CAPACITY_J_PER_L_K, J_PER_KWH, S_PER_DAY, litres_to_j_per_k, lpm_to_w_per_k

#: Tangent points of each miner's hashrate curve in the LP (more = tighter, slower).
HULL_POINTS = 12


#: Summary key of the bound's end-state price (EUR per kWh of stored heat), see `scored_cost_eur`.
END_PRICE_KEY = "end_price_eur_per_kwh"


def scored_cost_eur(summary: dict[str, object], end_price_eur_per_kwh: float) -> float:
    """A run's net cost less its stored-energy change valued at the end-state price: what every run is
    compared on (docs/control.md §2.2). With the bound's own end-state price the bound is below it."""
    net = float(summary["net_cost_eur"])  # type: ignore[arg-type]
    stored = float(summary["stored_energy_change_kwh"])  # type: ignore[arg-type]
    return net - end_price_eur_per_kwh * stored


class OptimumError(RuntimeError):
    """The bound cannot be computed (solver failure, or no strategy could hold the setpoint)."""


# -- the miners --------------------------------------------------------------------------------
def hashrate_ths(spec: MinerSpec, power_w: float) -> float:
    """Best hashrate at this power: nominal efficiency curve, no hot penalty (a colder inlet gives no
    bonus), so no inlet can do better."""
    return power_w / spec.j_per_th(power_w, spec.efficiency_ref_inlet_c)


def miner_lp(name: str, spec: MinerSpec) -> MinerLp:
    """The miner for the bound: the hull at its reference inlet (no hot penalty: no inlet does better)."""
    return MinerLp.hull(name, spec, spec.efficiency_ref_inlet_c, HULL_POINTS)


def miner_ceiling_c(specs: list[MinerSpec], c_hot_w_per_k: float) -> float:
    """θ: the hottest coolant that can reach the exchanger while the miners heat it.

    A miner heats only while its inlet is inside its window and throttles itself towards its
    minimum as the inlet nears its maximum; the exchanger's hot side is the inlet plus the heat over
    the coolant's capacity rate, and a counter-flow exchanger never returns the secondary hotter
    than its hot side. θ is the maximum of inlet + heat/C_hot over every inlet temperature.
    """
    if not specs or c_hot_w_per_k <= 0:
        return math.nan
    lo = min(s.inlet_min_c for s in specs)
    hi = max(s.inlet_max_c for s in specs)
    best = -math.inf
    for t in np.linspace(lo, hi, int((hi - lo) * 100) + 1):
        heat = 0.0
        for s in specs:
            p = s.standby_power_w if t > s.inlet_max_c or t < s.inlet_min_c else s.throttle_cap_w(float(t))
            heat += p * s.heat_to_coolant
        best = max(best, float(t) + heat / c_hot_w_per_k)
    return best


# -- the plant's limits, loosened --------------------------------------------------------------
@dataclass(frozen=True)
class Relaxation:
    """The physical bounds the LP uses, all derived from the config (docs/control.md)."""

    theta_c: float  # hottest water the miners can deliver
    hot_c: float  # no water anywhere gets hotter than this
    floor_c: float  # nor colder than this
    setpoint_c: float
    ambient_c: float
    node_cap_kwh_per_k: np.ndarray  # every node of every tank
    node_loss_share: np.ndarray  # 1 − exp(−ua·dt/C) per node: share of its excess lost in a step
    last_top_cap_kwh_per_k: float
    initial_c: np.ndarray  # every node, tanks in order
    node_volume_l: tuple[float, ...]  # per tank
    coolant_cap_kwh_per_k: float
    coolant0_c: float
    coolant_floor_c: float
    coolant_ua_kw_per_k: float
    charge_flow_l_per_s: float
    mix_flow_l_per_s: float  # destratification pump, only if the hygiene rules need cycles
    loop: RecirculationLoop | None
    loop_ambient_c: float

    def split_kwh(self, temps_c: np.ndarray) -> tuple[float, float]:
        """(E_low, E_high) of a store with these node temperatures (same order as node_cap)."""
        cap = self.node_cap_kwh_per_k
        return (float(np.sum(cap * np.minimum(temps_c, self.theta_c))),
                float(np.sum(cap * np.maximum(temps_c - self.theta_c, 0.0))))


def _initial_nodes(cfg: PlantConfig) -> np.ndarray:
    out: list[float] = []
    for t in cfg.tanks:
        init = t.initial_c
        out.extend(init if isinstance(init, list) else [float(init)] * t.nodes)
    return np.asarray(out, dtype=float)


def relaxation(cfg: PlantConfig, cold_min_c: float) -> Relaxation:
    step_s = cfg.simulation.step_s
    specs = [get_spec(m.model) for m in cfg.miners]
    c_hot = lpm_to_w_per_k(sum(s.coolant_flow_lpm for s in specs))
    theta = miner_ceiling_c(specs, c_hot)
    if math.isnan(theta):
        theta = cfg.control.setpoint_c  # no miners: only gas heats, the split is immaterial
    init = _initial_nodes(cfg)
    amb = cfg.site.plant_room_c
    min_inlet = cfg.coolant.min_inlet_c
    if min_inlet is None:
        min_inlet = max((s.inlet_min_c for s in specs), default=0.0) + 2.0
    coolant0 = max(min_inlet, float(init[sum(t.nodes for t in cfg.tanks[: cfg.tanks.index(cfg.charge_tank)])
                                          + cfg.charge_tank.nodes - 1]))
    gas_max_c = cfg.gas_boiler.max_flow_c if cfg.gas_boiler else -math.inf
    hot = max(gas_max_c, theta + 10.0, float(init.max()), cfg.control.setpoint_c + 10.0, coolant0)
    floor = min(cold_min_c, float(init.min()), amb, min_inlet, coolant0)
    caps: list[float] = []
    shares: list[float] = []
    for t in cfg.tanks:
        params = TankParams(volume_l=t.volume_l, height_m=t.height_m, n_nodes=t.nodes, ua_w_per_k=t.ua_w_per_k)
        node_cap_j = params.node_volume_l * HEAT_CAPACITY_J_PER_L_K
        for ua in params.node_ua_w_per_k():
            caps.append(node_cap_j / J_PER_KWH)
            shares.append(1.0 - math.exp(-ua * step_s / node_cap_j))
    last = cfg.tanks[-1]
    lc = cfg.loop
    loop = None
    loop_amb = amb
    if lc is not None and lc.loss_w > 0:
        loop_amb = lc.ambient_c if lc.ambient_c is not None else amb
        loop = RecirculationLoop.sized(lc.loss_w, lc.design_supply_c, lc.drop_k, loop_amb)
    # The charging circuit's flow; controlled, the pump's highest (the bound allows any flow up to it).
    charge_lpm = cfg.charging.highest_lpm(sum(s.coolant_flow_lpm for s in specs))
    rules = cfg.hygiene
    cycles = rules.daily_cycle != "never" or rules.preheat_daily_cycle
    gas_tank = cfg.gas_tank
    return Relaxation(
        theta_c=theta,
        hot_c=hot,
        floor_c=floor,
        setpoint_c=cfg.control.setpoint_c,
        ambient_c=amb,
        node_cap_kwh_per_k=np.asarray(caps),
        node_loss_share=np.asarray(shares),
        last_top_cap_kwh_per_k=last.volume_l / last.nodes * HEAT_CAPACITY_J_PER_L_K / J_PER_KWH,
        initial_c=init,
        node_volume_l=tuple(t.volume_l / t.nodes for t in cfg.tanks),
        coolant_cap_kwh_per_k=litres_to_j_per_k(cfg.coolant.loop_volume_l) / J_PER_KWH,
        coolant0_c=coolant0,
        coolant_floor_c=floor,
        coolant_ua_kw_per_k=cfg.coolant.ua_w_per_k / 1000.0,
        charge_flow_l_per_s=charge_lpm / 60.0 if specs else 0.0,
        mix_flow_l_per_s=gas_tank.volume_l / 1800.0 if cycles else 0.0,
        loop=loop,
        loop_ambient_c=loop_amb,
    )


# -- what the simulator will see, step by step -------------------------------------------------
@dataclass(frozen=True)
class StepInputs:
    """The simulator's exogenous inputs, one entry per physics step."""

    start_s: float
    step_s: float
    demand_j: np.ndarray
    use_c: np.ndarray
    cold_c: np.ndarray
    price_eur_per_kwh: np.ndarray

    @property
    def n(self) -> int:
        return int(self.demand_j.size)


def step_inputs(cfg: PlantConfig, days: float, start: date, seed: int) -> StepInputs:
    """The draws, mains temperature and electricity price of every step, as the simulator builds them."""
    step_s = cfg.simulation.step_s
    n = round(days * S_PER_DAY / step_s)
    if n < 1:
        raise ValueError("the period must last at least one step")
    tz = ZoneInfo(cfg.site.timezone)
    start_s = datetime(start.year, start.month, start.day, tzinfo=tz).timestamp()
    mains = mains_model(cfg)
    draws = draw_profile(cfg, mains, seed).steps(start, math.ceil(days), step_s)
    demand = np.zeros(n)
    use = np.full(n, math.nan)
    k = min(n, draws.heat_j.size)
    demand[:k] = draws.heat_j[:k]
    use[:k] = draws.use_temp_c[:k]
    cold = np.broadcast_to(np.asarray(mains.temp_c(day_of_year(start, np.arange(n) * step_s)), dtype=float),
                           (n,)).copy()
    # The simulator reads the tariff at each control tick and books every step until the next.
    every = max(1, round(cfg.control.period_s / step_s))
    tariff = cfg.prices.electricity
    price = np.empty(n)
    cache: dict[float, float] = {}
    for k0 in range(0, n, every):
        now = start_s + k0 * step_s
        hour = now - now % 3600.0
        if hour not in cache:
            off = datetime.fromtimestamp(hour, tz).utcoffset()
            cache[hour] = off.total_seconds() if off else 0.0
        local = now + cache[hour]
        minute = int((local - (local // S_PER_DAY) * S_PER_DAY) // 60)
        price[k0:k0 + every] = tariff.price(minute)
    return StepInputs(start_s=start_s, step_s=step_s, demand_j=demand, use_c=use, cold_c=cold,
                      price_eur_per_kwh=price)


@dataclass(frozen=True)
class StepBounds:
    """Per-step bounds on what leaves the store (kWh), derived in docs/control.md."""

    dhw_lo: np.ndarray
    dhw_hi: np.ndarray
    high_share: np.ndarray
    loop_lo: np.ndarray
    loop_hi: np.ndarray
    loop_high_lo: np.ndarray
    loop_low_lo: np.ndarray
    flagged: np.ndarray  # the step may take several advection sub-steps: looser bounds
    outflow: np.ndarray  # water leaves the store's top during the step


def step_bounds(rx: Relaxation, si: StepInputs) -> StepBounds:
    dt = si.step_s
    sp, theta, hot, floor = rx.setpoint_c, rx.theta_c, rx.hot_c, rx.floor_c
    cold = si.cold_c
    drawing = si.demand_j > 0
    use = np.where(drawing, np.nan_to_num(si.use_c, nan=sp), sp)
    demand_kwh = si.demand_j / J_PER_KWH
    # Largest possible draw flow: the tap mixes to its use temperature from an outlet at least that hot.
    q_draw = np.where(drawing, si.demand_j / (dt * HEAT_CAPACITY_J_PER_L_K * np.maximum(use - cold, 1.0)), 0.0)
    q_loop = rx.loop.flow_l_per_s if rx.loop is not None else 0.0
    flagged = np.zeros(si.n, dtype=bool)
    n_tanks = len(rx.node_volume_l)
    for i, v_node in enumerate(rx.node_volume_l):
        q_in = q_draw + rx.charge_flow_l_per_s + rx.mix_flow_l_per_s  # charge and mix: any tank, to be safe
        if i == n_tanks - 1:
            q_in = q_in + q_loop
        flagged |= q_in * dt / v_node - 1e-12 > 1.0

    # Draws: one sub-step → the water leaves at the step's starting outlet temperature (≥ setpoint),
    # so the tap takes exactly the heat asked for (less, if it mixes hotter than the setpoint).
    exact_lo = demand_kwh * np.minimum(1.0, (sp - cold) / np.maximum(use - cold, 1e-9))
    loose_lo = demand_kwh * np.minimum((sp - cold) / (hot - cold), (sp - cold) / np.maximum(use - cold, 1e-9))
    loose_hi = demand_kwh * (hot - cold) / np.maximum(np.minimum(use, sp) - cold, 1.0)
    dhw_lo = np.where(flagged, loose_lo, exact_lo)
    dhw_hi = np.where(flagged, loose_hi, demand_kwh)
    high_share = np.clip((sp - theta) / np.maximum(sp - cold, 1e-9), 0.0, 1.0)

    loop_lo = np.zeros(si.n)
    loop_hi = np.zeros(si.n)
    loop_high_lo = np.zeros(si.n)
    loop_low_lo = np.zeros(si.n)
    if rx.loop is not None:
        c_kwh = rx.loop.flow_l_per_s * HEAT_CAPACITY_J_PER_L_K * dt / J_PER_KWH  # kWh per K per step
        kept = math.exp(-rx.loop.ua_w_per_k / lpm_to_w_per_k(rx.loop.flow_lpm))
        amb = rx.loop_ambient_c
        lo_exact = c_kwh * (1 - kept) * (sp - amb)
        hi_exact = c_kwh * (1 - kept) * (hot - amb)
        high_exact = min(lo_exact, c_kwh * max(sp - theta, 0.0))
        ret_hot = amb + kept * (hot - amb)
        lo_loose = c_kwh * ((sp - amb) - kept * (hot - amb))
        hi_loose = c_kwh * ((hot - amb) - kept * (floor - amb))
        high_loose = c_kwh * (max(sp - theta, 0.0) - max(ret_hot - theta, 0.0))
        low_loose = c_kwh * (min(sp, theta) - min(ret_hot, theta))
        loop_lo = np.where(flagged, lo_loose, lo_exact)
        loop_hi = np.where(flagged, hi_loose, hi_exact)
        loop_high_lo = np.where(flagged, high_loose, high_exact)
        loop_low_lo = np.where(flagged, low_loose, 0.0)
    outflow = drawing | (rx.loop is not None)
    return StepBounds(dhw_lo=dhw_lo, dhw_hi=dhw_hi, high_share=np.where(drawing, high_share, 0.0),
                      loop_lo=loop_lo, loop_hi=loop_hi, loop_high_lo=loop_high_lo, loop_low_lo=loop_low_lo,
                      flagged=flagged, outflow=outflow)


def slot_edges(price: np.ndarray, steps_per_slot: int) -> np.ndarray:
    """Step indices where slots start (plus the end): a new slot at least every `steps_per_slot`
    steps and wherever the price changes, so each slot has one price."""
    n = price.size
    change = np.flatnonzero(np.diff(price) != 0) + 1
    edges = set(range(0, n, steps_per_slot)) | set(change.tolist())
    return np.asarray([*sorted(edges), n])


# -- the problem ---------------------------------------------------------------------------------
def build_problem(cfg: PlantConfig, rx: Relaxation, si: StepInputs, steps_per_slot: int,
                  co2_eur_per_kg: float = 0.0, end_state: bool = True) -> tuple[StoreLp, np.ndarray]:
    """The whole period as one StoreLp, and the slots' first steps (plus the end).

    `end_state`: the store ends with at least the heat it started with (docs/control.md §2.2: the
    bound is then a lower bound on every run's cost less its stored-energy change at the end-state
    price, `scored_cost_eur`)."""
    b = step_bounds(rx, si)
    edges = slot_edges(si.price_eur_per_kwh, steps_per_slot)
    starts = edges[:-1]
    counts = np.diff(edges)
    dt_h = si.step_s / 3600.0

    def total(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts)

    def least(x: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(x, starts)

    # A slot's high-grade share of draws: the least over its steps (valid for the slot's total).
    share = np.where(si.demand_j > 0, b.high_share, np.inf)
    slot_share = least(share)
    slot_share = np.where(np.isfinite(slot_share), slot_share, 0.0)

    # Tank losses: a step loses Σ C_i·w_i·(T_i − T_amb) ≥ ρ·(E − C·T_amb) − K, ρ = min w_i.
    cap, w = rx.node_cap_kwh_per_k, rx.node_loss_share
    rho = float(w.min())
    k_off = float(np.sum(cap * (w - rho)) * max(rx.ambient_c - rx.floor_c, 0.0))
    cap_tot = float(cap.sum())
    coolant_max = rx.coolant_cap_kwh_per_k * (rx.hot_c - rx.coolant_floor_c)
    cl_hi_kw = rx.coolant_ua_kw_per_k * max(rx.hot_c - rx.ambient_c, 0.0)
    cl_lo_kw = -rx.coolant_ua_kw_per_k * max(rx.ambient_c - rx.coolant_floor_c, 0.0)
    hours = counts * dt_h
    loop_neg = total(np.maximum(-b.loop_lo, 0.0))
    slack = coolant_max + cl_hi_kw * hours + loop_neg
    loss_unit = np.sum(cap * w)  # kWh per K of excess over ambient, per step

    # The outlet at the setpoint when a slot ends: its top node holds ≥ (setpoint − θ) of high grade.
    # It holds at a step's start when that step takes one sub-step and water leaves the top, or at a
    # step's end when no water leaves (the simulator then reads the outlet after the step).
    reserve = np.zeros(starts.size)
    top_high = rx.last_top_cap_kwh_per_k * max(rx.setpoint_c - rx.theta_c, 0.0)
    last_steps = edges[1:] - 1
    after = edges[1:]
    holds_end = ~b.outflow[last_steps]
    nxt_ok = np.zeros(starts.size, dtype=bool)
    inside = after < si.n
    nxt_ok[inside] = b.outflow[after[inside]] & ~b.flagged[after[inside]]
    reserve[holds_end | nxt_ok] = top_high

    el0, eh0 = rx.split_kwh(rx.initial_c)
    g = cfg.gas_boiler
    gas_heat_price = cfg.prices.gas.eur_per_kwh_pci() / g.efficiency_pci if g else 0.0
    specs = [(m.name, get_spec(m.model)) for m in cfg.miners]
    rev = cfg.mining.revenue_eur_per_th_s(3600.0)
    dc = cfg.dry_cooler
    lp = StoreLp(
        hours=hours,
        price_eur_per_kwh=least(si.price_eur_per_kwh),
        revenue_eur_per_ths_h=np.full(starts.size, rev),
        gas_eur_per_kwh_heat=gas_heat_price,
        co2_eur_per_kwh_elec=co2_eur_per_kg * cfg.co2.grid_kg_per_kwh,
        co2_eur_per_kwh_heat_gas=co2_eur_per_kg * cfg.co2.gas_kg_per_kwh_pci / g.efficiency_pci if g else 0.0,
        miners=tuple(miner_lp(name, spec) for name, spec in specs),
        gas_max_kw=g.output_kw if g else 0.0,
        dump_max_kw=dc.capacity_kw if dc else 0.0,
        dhw_lo_kwh=total(b.dhw_lo),
        dhw_hi_kwh=total(b.dhw_hi),
        draw_high_share=slot_share,
        loop_lo_kwh=total(b.loop_lo),
        loop_hi_kwh=total(b.loop_hi),
        loop_high_lo_kwh=total(b.loop_high_lo),
        loop_low_lo_kwh=total(b.loop_low_lo),
        loss_rate=counts * rho,
        loss_slack_kwh=slack + cap_tot * rx.ambient_c,
        loss_offset_kwh=counts * k_off,
        loss_lo_kwh=counts * loss_unit * (rx.floor_c - rx.ambient_c),
        loss_hi_kwh=counts * loss_unit * (rx.hot_c - rx.ambient_c),
        el_min_kwh=cap_tot * min(rx.floor_c, rx.theta_c),
        el_max_kwh=cap_tot * rx.theta_c,
        eh_max_kwh=cap_tot * max(rx.hot_c - rx.theta_c, 0.0),
        eh_reserve_kwh=reserve,
        el0_kwh=el0,
        eh0_kwh=eh0,
        coolant_max_kwh=coolant_max,
        coolant0_kwh=rx.coolant_cap_kwh_per_k * (rx.coolant0_c - rx.coolant_floor_c),
        coolant_loss_lo_kw=cl_lo_kw,
        coolant_loss_hi_kw=cl_hi_kw,
        end_min_kwh=el0 + eh0 if end_state else None,
    )
    return lp, edges


# -- the yardstick as a simulation result --------------------------------------------------------
def run_optimum(cfg: PlantConfig, days: float, start: date, *, scenario: str = "custom", seed: int = 1,
                time_limit_s: float | None = None) -> SimulationResult:
    """Solve the bound for this period and report it with the simulator's summary keys."""
    wall0 = time.perf_counter()
    oc = cfg.control.optimum
    si = step_inputs(cfg, days, start, seed)
    rx = relaxation(cfg, float(si.cold_c.min()))
    steps_per_slot = max(1, round(oc.slot_s / si.step_s))
    lp, edges = build_problem(cfg, rx, si, steps_per_slot, oc.co2_eur_per_kg)
    plan = solve_store(lp, time_limit_s if time_limit_s is not None else oc.time_limit_s)
    if not plan.ok:
        why = ("no strategy can hold the setpoint with this plant and these draws"
               if plan.status == "infeasible" else f"the solver stopped: {plan.status}")
        raise OptimumError(f"optimum for {scenario}: {why}")
    rows = _ledger_rows(cfg, lp, plan, si, edges)
    summary = _summary(cfg, lp, plan, si, rx, rows, scenario, days, start, seed, time.perf_counter() - wall0)
    t = (edges[:-1] * si.step_s).astype(float)
    cols = {
        "miner_power_w": plan.miner_kw.sum(axis=0) * 1000.0,
        "gas_power_w": plan.gas_kw * 1000.0,
        "miner_heat_w": plan.miner_heat_kw * 1000.0,
        "dump_w": plan.dump_kw * 1000.0,
        "store_low_kwh": plan.el_kwh,
        "store_high_kwh": plan.eh_kwh,
        "draw_l_per_min": np.add.reduceat(si.demand_j, edges[:-1]) / HEAT_CAPACITY_J_PER_L_K
        / np.maximum(cfg.control.setpoint_c - np.minimum.reduceat(si.cold_c, edges[:-1]), 1.0)
        / (np.diff(edges) * si.step_s / 60.0),
        "setpoint_c": np.full(t.size, cfg.control.setpoint_c),
    }
    checker = HygieneChecker(cfg.hygiene, {tk.name: tk.role for tk in cfg.tanks})
    return SimulationResult(summary=summary.as_dict(), ledger=rows, trace=Trace(time_s=t, columns=cols),
                            hygiene=checker, limit_changes_by_miner={}, run_summary=summary)


def _summary(cfg: PlantConfig, lp: StoreLp, plan: StorePlan, si: StepInputs, rx: Relaxation, rows: list[LedgerRow],
             scenario: str, days: float, start: date, seed: int, wall_s: float) -> RunSummary:
    # Litres at the setpoint that carry the heat drawn (the bound draws no water below it).
    vol = float(np.sum(si.demand_j / (HEAT_CAPACITY_J_PER_L_K * np.maximum(rx.setpoint_c - si.cold_c, 1.0))))
    totals = sum_rows(rows)
    totals.dhw_volume_l = vol
    stored = float(plan.el_kwh[-1] + plan.eh_kwh[-1] - lp.el0_kwh - lp.eh0_kwh)
    rules = cfg.hygiene
    # The bound keeps the outlet ≥ the setpoint (so the loop return ≥ its design drop below it) but does
    # not model daily disinfection cycles.
    hygiene = HygieneFigures(compliant=rules.daily_cycle == "never" and not rules.preheat_daily_cycle,
                             preset=rules.preset, violations=0, cycles_passed=0)
    return build_summary(
        totals, scenario=scenario, strategy="optimum", days=days, start=start, seed=seed, step_s=si.step_s,
        hygiene=hygiene, stored_energy_change_kwh=stored, min_outlet_c=rx.setpoint_c,  # the bound's constraint
        min_loop_return_c=None, mean_outlet_c=None, power_limit_changes=None, gas_starts=None, decided_by={},
        warnings=[],
        wall_seconds=wall_s, extra={"slot_s": float(np.mean(lp.hours) * 3600.0), "miner_ceiling_c": rx.theta_c,
                                    END_PRICE_KEY: plan.end_price_eur_per_kwh},
    )


def _ledger_rows(cfg: PlantConfig, lp: StoreLp, plan: StorePlan, si: StepInputs,
                 edges: np.ndarray) -> list[LedgerRow]:
    g = cfg.gas_boiler
    eff = g.efficiency_pci if g else 1.0
    gas_price = cfg.prices.gas.eur_per_kwh_pci()
    baseline = GasBaseline.from_config(cfg)
    rows = []
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        h = float(lp.hours[i])
        p_kw = float(plan.miner_kw[:, i].sum())
        hs = float(plan.hashrate_ths[:, i].sum())
        revenue = hs * h * float(lp.revenue_eur_per_ths_h[i])
        fuel = float(plan.gas_kw[i]) * h / eff
        rows.append(fill_baseline(LedgerRow(
            start_s=si.start_s + a * si.step_s, end_s=si.start_s + b * si.step_s,
            electricity_kwh=p_kw * h, electricity_cost_eur=p_kw * h * float(lp.price_eur_per_kwh[i]),
            hashrate_ths_mean=hs, mining_revenue_eur=revenue, btc_mined=revenue * cfg.mining.btc_per_eur(),
            heat_from_miners_kwh=float(plan.miner_heat_kw[i]) * h, heat_from_gas_kwh=float(plan.gas_kw[i]) * h,
            heat_dumped_kwh=float(plan.dump_kw[i]) * h, gas_fuel_kwh=fuel, gas_cost_eur=fuel * gas_price,
            dhw_heat_kwh=float(plan.dhw_kwh[i]), dhw_demand_kwh=float(si.demand_j[a:b].sum() / J_PER_KWH),
            tank_losses_kwh=float(plan.loss_kwh[i]), loop_losses_kwh=float(plan.loop_kwh[i]),
            co2_kg=fuel * cfg.co2.gas_kg_per_kwh_pci + p_kw * h * cfg.co2.grid_kg_per_kwh,
        ), baseline))
    return rows
