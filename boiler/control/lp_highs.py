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


class _Model:
    """One HiGHS model and what it was last given (to change only what differs)."""

    def __init__(self, h: highspy.Highs) -> None:
        self.h = h
        self.pattern: RowPattern | None = None  # its sparsity pattern; None: pass the whole model next time
        self.data = self.cost = self.lo = self.hi = self.rlo = self.rhi = np.zeros(0)

    def load(self, pattern: RowPattern, data: np.ndarray, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray,
             rlo: np.ndarray, rhi: np.ndarray) -> bool:
        """Give it this LP: in place when the pattern is its own (True: a warm start), else the whole model."""
        warm = self.pattern is not None and _same_pattern(pattern, self.pattern)
        if warm:
            self._update(pattern, data, cost, lo, hi, rlo, rhi)
        else:
            self._pass(pattern, data, cost, lo, hi, rlo, rhi)
        self.pattern = pattern
        self.data, self.cost, self.lo, self.hi, self.rlo, self.rhi = data, cost, lo, hi, rlo, rhi
        return warm

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
        self.h.clearSolver()
        self.h.passModel(lp)

    def _update(self, pattern: RowPattern, data: np.ndarray, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                rlo: np.ndarray, rhi: np.ndarray) -> None:
        """Change in place only what differs from the last LP: HiGHS keeps its basis (a warm start)."""
        h = self.h
        idx = np.flatnonzero(cost != self.cost)
        if idx.size:
            h.changeColsCost(int(idx.size), idx.astype(np.int32), cost[idx])
        idx = np.flatnonzero((lo != self.lo) | (hi != self.hi))
        if idx.size:
            h.changeColsBounds(int(idx.size), idx.astype(np.int32), lo[idx], hi[idx])
        idx = np.flatnonzero((rlo != self.rlo) | (rhi != self.rhi))
        if idx.size:
            h.changeRowsBounds(int(idx.size), idx.astype(np.int32), rlo[idx], rhi[idx])
        changed = np.flatnonzero(data != self.data)
        if changed.size:
            rows = np.repeat(np.arange(pattern.n_rows), np.diff(pattern.indptr))[changed].tolist()
            for r, c, value in zip(rows, pattern.indices[changed].tolist(), data[changed].tolist(), strict=True):
                h.changeCoeff(r, c, value)


class PersistentHighs:
    """A `Solver` for `MpcStrategy`: `plan = solver(lp, time_limit_s)`. `warm_solves` counts the solves that
    reused a model (changed in place).

    It keeps one model per LP shape, up to `models` of them (the least recently used goes): with `slot_s`
    longer than `replan_s` the plan's slot count alternates (a half slot to reach the local clock's grid or
    not), and each shape's model then starts from its own last basis instead of being rebuilt every replan.
    """

    def __init__(self, models: int = 2) -> None:
        self._models = [_Model(_new_highs())]  # the most recently used last
        self._max_models = max(1, models)
        self.solves = 0
        self.warm_solves = 0

    @property
    def _h(self) -> highspy.Highs:
        """The HiGHS object of the last solve."""
        return self._models[-1].h

    def __call__(self, p: StoreLp, time_limit_s: float | None = None) -> StorePlan:
        t0 = time.perf_counter()
        a = assemble(p)
        rows = a.eq.stacked(a.ub)
        model, pattern = self._model_for(rows)
        data = rows.values(pattern)
        n_eq = a.eq.n
        b_eq = np.concatenate(a.eq.rhs) if a.eq.rhs else np.zeros(0)
        b_ub = np.concatenate(a.ub.rhs) if a.ub.rhs else np.zeros(0)
        rlo = _finite(np.concatenate([b_eq, np.full(b_ub.size, -np.inf)]))
        rhi = _finite(np.concatenate([b_eq, b_ub]))
        cost, lo, hi = _finite(a.cost), _finite(a.lo), _finite(a.hi)
        if model.load(pattern, data, cost, lo, hi, rlo, rhi):
            self.warm_solves += 1
        h = model.h
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
            model.pattern = None  # start this model's next solve from a fresh model
            return StorePlan(status=name, solve_s=elapsed)
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        end_price = 0.0
        if p.end_min_kwh is not None and rows.n > n_eq:
            end_price = -float(sol.row_dual[rows.n - 1])
        return plan_from(p, a.columns, x, float(h.getInfo().objective_function_value), elapsed, end_price)

    def _model_for(self, rows: Rows) -> tuple[_Model, RowPattern]:
        """The model for these rows' shape (moved to the most recent) and their sparsity pattern: a model's own
        when the structure is the same (every replan of the MPC), built only when it is new."""
        models = self._models
        key = rows.structure()
        same = [m for m in models if m.pattern is not None and m.pattern.key == key]
        if same:
            model, pattern = same[-1], same[-1].pattern
        else:
            pattern = rows.pattern(key)
            like = [m for m in models if m.pattern is not None and _same_pattern(pattern, m.pattern)]
            if like:
                model = like[-1]
            elif models[-1].pattern is None or len(models) < self._max_models:
                # A fresh object only for a new shape while there is room; else the least recent one's.
                model = models[-1] if models[-1].pattern is None else _Model(_new_highs())
            else:
                model = models[0]
        assert pattern is not None
        if model in models:
            models.remove(model)
        models.append(model)
        del models[:-self._max_models]
        return model, pattern


def _same_pattern(a: RowPattern, b: RowPattern) -> bool:
    return a is b or (a.n_rows == b.n_rows and a.n_cols == b.n_cols and np.array_equal(a.indptr, b.indptr)
                      and np.array_equal(a.indices, b.indices))
