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
from scipy.sparse import csr_matrix, vstack

from boiler.control.lp_store import StoreLp, StorePlan, assemble, plan_from

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
        self._pattern: tuple[tuple[int, int], bytes, bytes] | None = None
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
        blocks = [m for m in (a.a_eq, a.a_ub) if m is not None]
        mat = csr_matrix(vstack(blocks, format="csr")) if blocks else csr_matrix((0, a.cost.size))
        mat.sort_indices()
        n_eq = a.a_eq.shape[0] if a.a_eq is not None else 0
        b_eq = a.b_eq if a.b_eq is not None else np.zeros(0)
        b_ub = a.b_ub if a.b_ub is not None else np.zeros(0)
        rlo = _finite(np.concatenate([b_eq, np.full(b_ub.size, -np.inf)]))
        rhi = _finite(np.concatenate([b_eq, b_ub]))
        cost, lo, hi = _finite(a.cost), _finite(a.lo), _finite(a.hi)
        pattern = (mat.shape, mat.indptr.tobytes(), mat.indices.tobytes())
        h = self._h
        if pattern == self._pattern:
            self._update(mat, cost, lo, hi, rlo, rhi)
            self.warm_solves += 1
        else:
            self._pass(mat, cost, lo, hi, rlo, rhi)
            self._pattern = pattern
        self._data, self._cost, self._lo, self._hi, self._rlo, self._rhi = mat.data.copy(), cost, lo, hi, rlo, rhi
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
        if p.end_min_kwh is not None and mat.shape[0] > n_eq:
            end_price = -float(sol.row_dual[mat.shape[0] - 1])
        return plan_from(p, a.columns, x, float(h.getInfo().objective_function_value), elapsed, end_price)

    def _pass(self, mat: csr_matrix, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, rlo: np.ndarray,
              rhi: np.ndarray) -> None:
        lp = highspy.HighsLp()
        lp.num_col_ = int(cost.size)
        lp.num_row_ = int(mat.shape[0])
        lp.col_cost_ = cost
        lp.col_lower_ = lo
        lp.col_upper_ = hi
        lp.row_lower_ = rlo
        lp.row_upper_ = rhi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = mat.data.astype(float)
        self._h.clearSolver()
        self._h.passModel(lp)

    def _update(self, mat: csr_matrix, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, rlo: np.ndarray,
                rhi: np.ndarray) -> None:
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
        changed = np.flatnonzero(mat.data != self._data)
        if changed.size:
            rows = np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr))
            for k in changed:
                h.changeCoeff(int(rows[k]), int(mat.indices[k]), float(mat.data[k]))
