"""A persistent HiGHS model for the MPC's replans: change costs, bounds and coefficients, warm start.

Each replan of `mpc` solves an LP of the same shape as the last one (the same slots and rows; only the
forecast, prices, state and slot lengths move). `PersistentHighs` keeps one `highspy.Highs` object:
when the new LP has the previous one's sparsity pattern it changes only the costs, bounds and matrix
values that differ, and HiGHS starts the simplex from the previous optimal basis; otherwise it passes
the whole model. HiGHS's `time_limit` is measured against the object's whole run time, so each solve
sets it to the run time so far plus the budget.
"""

from __future__ import annotations

import os
import sys
import time

import highspy
import numpy as np

from boiler.control.lp_store import RowPattern, Rows, StoreLp, StorePlan, assemble, plan_from

_INF = highspy.kHighsInf
_banner_done = False


def _new_highs() -> highspy.Highs:
    """A silent Highs. The first one of a process prints HiGHS's banner on the C stdout when callbacks are
    set up, before any option can be set: that one is built with file descriptor 1 pointed at /dev/null."""
    global _banner_done
    if _banner_done:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_done = True
    h.setOptionValue("output_flag", False)
    return h


def _finite(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=float), -_INF, _INF)


class PersistentHighs:
    """A `Solver` for `MpcStrategy`: `plan = solver(lp, time_limit_s)`. `warm_solves` counts the solves that
    reused the previous model (changed in place)."""

    def __init__(self) -> None:
        self._h = _new_highs()
        self._pattern: RowPattern | None = None  # the model's sparsity pattern; None: pass the whole model
        self._data = np.zeros(0)
        self._cost = np.zeros(0)
        self._lo = np.zeros(0)
        self._hi = np.zeros(0)
        self._rlo = np.zeros(0)
        self._rhi = np.zeros(0)
        self.solves = 0
        self.warm_solves = 0

    def __call__(self, p: StoreLp, time_limit_s: float | None = None) -> StorePlan:
        t0 = time.perf_counter()
        a = assemble(p)
        rows = a.eq.stacked(a.ub)
        pattern = self._pattern_of(rows)
        data = rows.values(pattern)
        n_eq = a.eq.n
        b_eq = np.concatenate(a.eq.rhs) if a.eq.rhs else np.zeros(0)
        b_ub = np.concatenate(a.ub.rhs) if a.ub.rhs else np.zeros(0)
        rlo = _finite(np.concatenate([b_eq, np.full(b_ub.size, -np.inf)]))
        rhi = _finite(np.concatenate([b_eq, b_ub]))
        cost, lo, hi = _finite(a.cost), _finite(a.lo), _finite(a.hi)
        h = self._h
        if self._pattern is not None and _same_pattern(pattern, self._pattern):
            self._update(pattern, data, cost, lo, hi, rlo, rhi)
            self.warm_solves += 1
        else:
            self._pass(pattern, data, cost, lo, hi, rlo, rhi)
        self._pattern = pattern
        self._data, self._cost, self._lo, self._hi, self._rlo, self._rhi = data, cost, lo, hi, rlo, rhi
        # The time limit counts the object's whole life: the run time so far plus this solve's budget.
        h.setOptionValue("time_limit", h.getRunTime() + (float(time_limit_s) if time_limit_s is not None else _INF))
        self.solves += 1
        h.run()
        status = h.getModelStatus()
        elapsed = time.perf_counter() - t0
        ms = highspy.HighsModelStatus
        if status != ms.kOptimal:
            name = {ms.kInfeasible: "infeasible", ms.kTimeLimit: "time_limit", ms.kUnbounded: "unbounded",
                    ms.kUnboundedOrInfeasible: "infeasible"}.get(status, f"status_{h.modelStatusToString(status)}")
            self._pattern = None  # start the next solve from a fresh model
            return StorePlan(status=name, solve_s=elapsed)
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        end_price = 0.0
        if p.end_min_kwh is not None and rows.n > n_eq:
            end_price = -float(sol.row_dual[rows.n - 1])
        return plan_from(p, a.columns, x, float(h.getInfo().objective_function_value), elapsed, end_price)

    def _pattern_of(self, rows: Rows) -> RowPattern:
        """The rows' sparsity pattern: the last one's when the structure is the same (every replan of
        the MPC), built only when it changes."""
        key = rows.structure()
        last = self._pattern
        return last if last is not None and last.key == key else rows.pattern(key)

    def _pass(self, pattern: RowPattern, data: np.ndarray, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              rlo: np.ndarray, rhi: np.ndarray) -> None:
        lp = highspy.HighsLp()
        lp.num_col_ = int(cost.size)
        lp.num_row_ = int(pattern.n_rows)
        lp.col_cost_ = cost
        lp.col_lower_ = lo
        lp.col_upper_ = hi
        lp.row_lower_ = rlo
        lp.row_upper_ = rhi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = pattern.indptr
        lp.a_matrix_.index_ = pattern.indices
        lp.a_matrix_.value_ = data
        self._h.clearSolver()
        self._h.passModel(lp)

    def _update(self, pattern: RowPattern, data: np.ndarray, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                rlo: np.ndarray, rhi: np.ndarray) -> None:
        """Change in place only what differs from the last model: HiGHS keeps its basis (a warm start)."""
        h = self._h
        idx = np.flatnonzero(cost != self._cost)
        if idx.size:
            h.changeColsCost(int(idx.size), idx.astype(np.int32), cost[idx])
        idx = np.flatnonzero((lo != self._lo) | (hi != self._hi))
        if idx.size:
            h.changeColsBounds(int(idx.size), idx.astype(np.int32), lo[idx], hi[idx])
        idx = np.flatnonzero((rlo != self._rlo) | (rhi != self._rhi))
        if idx.size:
            h.changeRowsBounds(int(idx.size), idx.astype(np.int32), rlo[idx], rhi[idx])
        changed = np.flatnonzero(data != self._data)
        if changed.size:
            rows = np.repeat(np.arange(pattern.n_rows), np.diff(pattern.indptr))[changed].tolist()
            for r, c, value in zip(rows, pattern.indices[changed].tolist(), data[changed].tolist(), strict=True):
                h.changeCoeff(r, c, value)


def _same_pattern(a: RowPattern, b: RowPattern) -> bool:
    return a is b or (a.n_rows == b.n_rows and a.n_cols == b.n_cols and np.array_equal(a.indptr, b.indptr)
                      and np.array_equal(a.indices, b.indices))
