"""Yardsticks found by searching the real simulator: `best_fixed` and `c_star`. Never controllers.

Both run open-loop schedules — a fleet power and a gas setpoint per block of time, nothing read
from the plant — through the one control loop (safety layer and allocator included) on the simulated
plant, and keep the cheapest run that held the outlet at the setpoint at every step:

* `best_fixed`: the best of a grid of one constant fleet power × one constant gas setpoint (every point, or
  per power the setpoints upward to the first that holds and a little above it: `scan="first_holding"`);
* `c_star`: a derivative-free search (CMA-ES, the `cma` package) over a fleet power and a gas setpoint
  per block of `block_h` hours of the day (the same blocks every day), warm-started from `best_fixed`
  and from the block means of what `mpc_oracle` decided. Reproducible for a seed: the simulator is
  deterministic and CMA-ES draws from its own seeded generator.

Every run is scored as the bound is (`optimum.scored_cost_eur`): its net cost less its stored-energy
change at the bound's end-state price, one stated price per case. The cheapest run that holds the
setpoint bounds the plant's true optimum from above; the bound bounds it from below: the bracket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

import cma
import numpy as np

from boiler.config import PlantConfig
from boiler.control.types import Decision, Observation
from boiler.simulation.build import local_midnight_s
from boiler.simulation.optimum import END_PRICE_KEY, OptimumError, run_optimum, scored_cost_eur
from boiler.simulation.runner import Simulation, SimulationResult
from miners.catalogue import get_spec
from tank.water import S_PER_DAY

#: Gas setpoints searched: from the outlet setpoint to this far above it.
SETPOINT_SPAN_K = 10.0

#: How `best_fixed` walks its grid: every point, or per power the setpoints upward to the first that holds.
FixedScan = Literal["grid", "first_holding"]


@dataclass(frozen=True)
class Schedule:
    """Fleet power (W) and gas setpoint (°C) per block of `block_s` from the run's start; with
    `period_s` the blocks repeat (block i at time t: ⌊(t mod period) / block⌋). With a controlled charging
    flow, optionally the pump's target (°C) per block too (None: the site's)."""

    power_w: tuple[float, ...]
    gas_setpoint_c: tuple[float, ...]
    block_s: float
    period_s: float | None = None
    charge_target_c: tuple[float, ...] | None = None

    def _block(self, elapsed_s: float) -> int:
        t = elapsed_s % self.period_s if self.period_s else elapsed_s
        return min(int(t // self.block_s), len(self.power_w) - 1)

    def at(self, elapsed_s: float) -> tuple[float, float]:
        i = self._block(elapsed_s)
        return self.power_w[i], self.gas_setpoint_c[i]

    def charge_target_at(self, elapsed_s: float) -> float | None:
        return None if self.charge_target_c is None else self.charge_target_c[self._block(elapsed_s)]

    @classmethod
    def fixed(cls, power_w: float, gas_setpoint_c: float, charge_target_c: float | None = None) -> Schedule:
        return cls((power_w,), (gas_setpoint_c,), math.inf,
                   charge_target_c=None if charge_target_c is None else (charge_target_c,))


class ScheduleStrategy:
    """Follows a schedule blindly: the fixed-setting class of strategies a controller has to beat."""

    def __init__(self, name: str, schedule: Schedule, start_s: float, dump_heat: bool) -> None:
        self.name = name
        self.schedule = schedule
        self.start_s = start_s
        self.dump_heat = dump_heat

    def decide(self, now_s: float, obs: Observation) -> Decision:
        elapsed_s = now_s - self.start_s
        power_w, gas_c = self.schedule.at(elapsed_s)
        return Decision(miner_power_w=power_w, charge_pump=power_w > 0, gas_enable=True, gas_setpoint_c=gas_c,
                        dump_heat=self.dump_heat, reason="schedule",
                        charge_target_c=self.schedule.charge_target_at(elapsed_s))


@dataclass
class Run:
    """One schedule run: held the setpoint to the end (`ok`) or stopped at the first step below it."""

    schedule: Schedule
    ok: bool
    scored_eur: float  # net cost − end price × stored-energy change (inf if not ok)
    done_share: float  # share of the period simulated before it failed (1 if ok)
    result: SimulationResult | None


@dataclass
class Search:
    """The runs of one search, in order, and the best that held the setpoint."""

    runs: list[Run] = field(default_factory=list)
    best: Run | None = None
    wall_s: float = 0.0
    scan: str = ""  # how the runs were chosen: a `FixedScan` for best_fixed, "cma" for C*

    def add(self, run: Run) -> None:
        self.runs.append(run)
        if run.ok and (self.best is None or run.scored_eur < self.best.scored_eur):
            self.best = run


def end_price(cfg: PlantConfig, days: float, start: date, seed: int) -> float:
    """The bound's end-state price for this case: every run is scored with it. 0 where the bound is
    infeasible: then no run holds the setpoint either (docs/control.md §2), and nothing is compared."""
    try:
        return float(run_optimum(cfg, days, start, seed=seed).summary[END_PRICE_KEY])  # type: ignore[arg-type]
    except OptimumError:
        return 0.0


def run_schedule(cfg: PlantConfig, days: float, start: date, seed: int, schedule: Schedule, price_eur_per_kwh: float,
                 *, name: str = "schedule", scenario: str = "custom", dump_heat: bool = False) -> Run:
    """Run a schedule through the loop; stop at the first tick that finds the outlet below the setpoint.

    The schedule never dumps heat unless told: open loop, a dry cooler left on takes the miners' heat before
    the store does (residence-48-bull year: none of the 247 fixed settings held 60 °C with it on)."""
    strategy = ScheduleStrategy(name, schedule, local_midnight_s(cfg, start), dump_heat and cfg.dry_cooler is not None)
    sim = Simulation(cfg.model_copy(deep=True), days, start, scenario=scenario, seed=seed, trace_points=200,
                     strategy=strategy)
    setpoint = cfg.control.setpoint_c
    while not sim.done:
        if sim.control_due():
            sim.tick()
            if sim.loop.stats.min_outlet_c < setpoint:
                return Run(schedule, False, math.inf, sim.k / sim.n_steps, None)
        sim.advance()
    res = sim.result()
    s = res.summary
    ok = float(s["min_outlet_temp_c"]) >= setpoint and float(s["dhw_volume_below_setpoint_l"]) == 0.0  # type: ignore[arg-type]
    return Run(schedule, ok, scored_cost_eur(s, price_eur_per_kwh) if ok else math.inf, 1.0, res)


def _fleet_range_w(cfg: PlantConfig) -> tuple[float, float]:
    specs = [get_spec(m.model) for m in cfg.miners]
    return (min((s.min_power_w for s in specs), default=0.0), sum(s.max_power_w for s in specs))


def fixed_grid(cfg: PlantConfig, power_step_w: float = 500.0, setpoint_step_k: float = 0.5,
               setpoint_span_k: float = 6.0) -> tuple[list[float], list[float]]:
    """Fleet powers (0, then from the smallest minimum to the fleet's maximum) and gas setpoints (from the
    outlet setpoint up) of the best-fixed grid."""
    lo_w, hi_w = _fleet_range_w(cfg)
    powers = [0.0]
    if hi_w > 0:
        powers += [float(p) for p in np.arange(lo_w, hi_w, power_step_w)] + [hi_w]
    sp = cfg.control.setpoint_c
    setpoints = [float(x) for x in np.arange(sp, sp + setpoint_span_k + 1e-9, setpoint_step_k)]
    return powers, setpoints


#: The first-holding scan re-checks the setpoints this far above a power's first holding one ...
REFINE_ABOVE_K = 1.0
#: ... at the powers whose first holding run is within this share of the scan's best: at one power the scored
#: cost is not monotone in the setpoint (measured on the residence-48 weeks, docs/control.md §2.6).
REFINE_WITHIN = 0.05


def best_fixed(cfg: PlantConfig, days: float, start: date, seed: int = 1, *, price_eur_per_kwh: float | None = None,
               powers_w: Sequence[float] | None = None, setpoints_c: Sequence[float] | None = None,
               scan: FixedScan = "grid", refine_above_k: float = REFINE_ABOVE_K, refine_within: float = REFINE_WITHIN,
               on_run: Callable[[Run], None] | None = None) -> Search:
    """The best run that held the setpoint over the grid of (power, setpoint).

    `scan="grid"` runs every point. `scan="first_holding"` runs, per power, the setpoints upward to the first
    that holds, then the setpoints up to `refine_above_k` above it at the powers whose first holding run is
    within `refine_within` of the best. It never skips a setpoint below a power's first hold, so it needs no
    assumption on holding (which is not always monotone in the setpoint); it assumes the cheapest run at a
    power that can win lies at most `refine_above_k` above its first hold (gas costs more the hotter it
    runs): measured (docs/control.md §2.6) and tested, not proven. Failing runs stop at their first step
    below the setpoint, so a year's scan costs little more than one run per power."""
    if scan not in get_args(FixedScan):
        raise ValueError(f"best_fixed: unknown scan {scan!r}, not one of {get_args(FixedScan)}")
    t0 = time.perf_counter()
    price = end_price(cfg, days, start, seed) if price_eur_per_kwh is None else price_eur_per_kwh
    grid_p, grid_s = fixed_grid(cfg)
    powers = list(powers_w if powers_w is not None else grid_p)
    setpoints = sorted(setpoints_c if setpoints_c is not None else grid_s)
    out = Search(scan=scan)

    def run(p: float, g: float) -> Run:
        r = run_schedule(cfg, days, start, seed, Schedule.fixed(p, g), price, name="best_fixed")
        out.add(r)
        if on_run is not None:
            on_run(r)
        return r

    if scan == "grid":
        for p in powers:
            for g in setpoints:
                run(p, g)
    else:
        first = {p: _first_holding(p, setpoints, run) for p in powers}
        _refine(first, setpoints, out, run, refine_above_k, refine_within)
    out.wall_s = time.perf_counter() - t0
    return out


def _first_holding(power_w: float, setpoints: Sequence[float], run: Callable[[float, float], Run]) -> Run | None:
    """Setpoints upward at one power to the first run that holds."""
    for g in setpoints:
        r = run(power_w, g)
        if r.ok:
            return r
    return None


def _refine(first: dict[float, Run | None], setpoints: Sequence[float], out: Search,
            run: Callable[[float, float], Run], above_k: float, within: float) -> None:
    """The setpoints just above the first holding one, at the powers that came close to the best."""
    if out.best is None:
        return
    cutoff = out.best.scored_eur + within * abs(out.best.scored_eur)
    for p, r in first.items():
        if r is None or r.scored_eur > cutoff:
            continue
        g0 = r.schedule.gas_setpoint_c[0]
        for g in setpoints:
            if g0 < g <= g0 + above_k + 1e-9:
                run(p, g)


# -- C*: CMA-ES over block schedules ------------------------------------------------------------------
@dataclass(frozen=True)
class BlockSpace:
    """x ∈ [0, 1]^(2·blocks) ↔ a daily schedule: powers from 0 to the fleet's maximum, setpoints over
    [setpoint, setpoint + SETPOINT_SPAN_K]."""

    blocks: int
    fleet_max_w: float
    setpoint_c: float

    @property
    def block_s(self) -> float:
        return S_PER_DAY / self.blocks

    def schedule(self, x: np.ndarray) -> Schedule:
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        powers = tuple(round(float(v) * self.fleet_max_w, 0) for v in x[: self.blocks])
        setpoints = tuple(round(self.setpoint_c + float(v) * SETPOINT_SPAN_K, 2) for v in x[self.blocks:])
        return Schedule(powers, setpoints, self.block_s, S_PER_DAY)

    def point(self, schedule: Schedule) -> np.ndarray:
        """A schedule as x (a fixed schedule spreads over every block)."""
        p = [schedule.at(i * self.block_s + 1.0)[0] for i in range(self.blocks)]
        g = [schedule.at(i * self.block_s + 1.0)[1] for i in range(self.blocks)]
        return np.clip(np.concatenate([np.asarray(p) / max(self.fleet_max_w, 1.0),
                                       (np.asarray(g) - self.setpoint_c) / SETPOINT_SPAN_K]), 0.0, 1.0)


def oracle_schedule(cfg: PlantConfig, days: float, start: date, seed: int, blocks: int) -> Schedule:
    """The block means (over the days) of the fleet power and gas setpoint `mpc_oracle` decided."""
    sim = Simulation(cfg.model_copy(deep=True), days, start, seed=seed, strategy="mpc_oracle", trace_points=200)
    power = np.zeros(blocks)
    gas = np.zeros(blocks)
    count = np.zeros(blocks)
    block_s = S_PER_DAY / blocks
    while not sim.done:
        if sim.control_due():
            rec = sim.tick()
            i = min(int(((rec.now_s - sim.start_s) % S_PER_DAY) // block_s), blocks - 1)
            power[i] += rec.decision.miner_power_w
            gas[i] += rec.decision.gas_setpoint_c
            count[i] += 1
        sim.advance()
    count = np.maximum(count, 1)
    return Schedule(tuple(power / count), tuple(gas / count), block_s, S_PER_DAY)


def c_star(cfg: PlantConfig, days: float, start: date, seed: int = 1, *, search_seed: int = 1, block_h: float = 3.0,
           max_evals: int = 400, sigma0: float = 0.15, price_eur_per_kwh: float | None = None,
           fixed: Search | None = None, warm: Sequence[Schedule] = (),
           on_run: Callable[[Run], None] | None = None) -> Search:
    """The cheapest run holding the setpoint that CMA-ES finds in `max_evals` simulations, started from the
    best fixed setting (computed unless given) with `warm` schedules (e.g. `oracle_schedule`) injected.
    Runs that fail are ranked by how long they held (longer is better); the result is always a run that held
    the setpoint: the best fixed run if nothing better was found."""
    t0 = time.perf_counter()
    price = end_price(cfg, days, start, seed) if price_eur_per_kwh is None else price_eur_per_kwh
    if fixed is None:
        fixed = best_fixed(cfg, days, start, seed, price_eur_per_kwh=price)
    out = Search(scan="cma")
    if fixed.best is not None:
        out.add(fixed.best)
    blocks = max(1, round(24.0 / block_h))
    space = BlockSpace(blocks, _fleet_range_w(cfg)[1], cfg.control.setpoint_c)
    x0 = space.point(fixed.best.schedule) if fixed.best is not None else np.full(2 * blocks, 0.5)
    es = cma.CMAEvolutionStrategy(x0, sigma0, {"seed": search_seed, "bounds": [0.0, 1.0], "verbose": -9,
                                               "maxfevals": max_evals})
    if warm:
        es.inject([space.point(s) for s in warm], force=True)
    scale = abs(fixed.best.scored_eur) if fixed.best is not None else 100.0
    evals = 0
    while not es.stop() and evals < max_evals:
        xs = es.ask()
        values = []
        for x in xs:
            run = run_schedule(cfg, days, start, seed, space.schedule(x), price, name="c_star")
            evals += 1
            out.add(run)
            if on_run is not None:
                on_run(run)
            # A failed run costs more than any run that held, less the longer it held.
            values.append(run.scored_eur if run.ok else 10.0 * scale + 10.0 * scale * (1.0 - run.done_share))
        es.tell(xs, values)
    out.wall_s = time.perf_counter() - t0
    return out


class SearchError(RuntimeError):
    """No searched schedule held the setpoint."""


def searched_yardstick(cfg: PlantConfig, days: float, start: date, name: str, *, seed: int = 1) -> SimulationResult:
    """`best_fixed` or `c_star` with their defaults, as `simulate --strategy` runs them: the best run."""
    price = end_price(cfg, days, start, seed)
    fixed = best_fixed(cfg, days, start, seed, price_eur_per_kwh=price)
    found = fixed
    if name == "c_star":
        warm = oracle_schedule(cfg, days, start, seed, blocks=round(24.0 / 3.0))
        found = c_star(cfg, days, start, seed, price_eur_per_kwh=price, fixed=fixed, warm=[warm])
    if found.best is None or found.best.result is None:
        raise SearchError(f"{name}: no schedule searched held the setpoint")
    return found.best.result
