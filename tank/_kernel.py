"""The stratified tank's inner step, compiled with numba.

A simulated year is half a million steps; in plain Python the per-node loops dominated the run
time. These functions work on small float arrays in place and hold the numerics only; the
physics and its explanation live in `tank.stratified`. `cache=True` keeps the compiled code on
disk, so only the first run on a machine pays the compile time (a few seconds).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

STRATIFIED = -1


@njit(cache=True)
def level_for(temps: np.ndarray, temp_c: float) -> int:
    """Highest node (smallest index) not warmer than the incoming water; bottom if none."""
    n = temps.shape[0]
    for i in range(n):
        if temps[i] <= temp_c:
            return i
    return n - 1


@njit(cache=True)
def mix_inversions(temps: np.ndarray) -> None:
    """Pool adjacent violators: merge warmer-below-colder nodes into their mean (equal volumes)."""
    n = temps.shape[0]
    monotone = True
    for i in range(n - 1):
        if temps[i + 1] > temps[i]:
            monotone = False
            break
    if monotone:
        return
    sums = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        s = temps[i]
        c = 1
        while top > 0 and s / c > sums[top - 1] / counts[top - 1]:
            top -= 1
            s += sums[top]
            c += counts[top]
        sums[top] = s
        counts[top] = c
        top += 1
    i = 0
    for b in range(top):
        mean = sums[b] / counts[b]
        for _ in range(counts[b]):
            temps[i] = mean
            i += 1


@njit(cache=True)
def advance(
    temps: np.ndarray,
    dt_s: float,
    ambient_c: float,
    in_node: np.ndarray,
    in_q: np.ndarray,
    in_t: np.ndarray,
    n_in: int,
    out_node: np.ndarray,
    out_q: np.ndarray,
    n_out: int,
    heat_w: np.ndarray,
    heat_k_per_w: float,
    decay: np.ndarray,
    conduction_g: float,
    conduction_reps: int,
    node_volume_l: float,
    out_mean_c: np.ndarray,
) -> tuple[float, int]:
    """One step: advection, heat (W per node; times `heat_k_per_w` = dt / node capacity gives the
    temperature rise), conduction, losses, mixing. The profile it leaves is monotone (warmest on top).

    Returns (sum of the nodes' temperature drop from losses, advection sub-steps) and fills
    out_mean_c with each outflow's mean temperature over the step.
    """
    n = temps.shape[0]
    total_in = 0.0
    for j in range(n_in):
        if in_q[j] > 0.0:
            total_in += in_q[j]
    substeps = 0
    for j in range(n_out):
        out_mean_c[j] = 0.0
    if total_in > 0.0:
        substeps = max(1, math.ceil(total_in * dt_s / node_volume_l - 1e-12))
        k = dt_s / substeps / node_volume_l
        sink = np.zeros(n)
        for j in range(n_out):
            sink[out_node[j]] += out_q[j]
        q = np.empty(n)
        hq = np.empty(n)
        flux = np.zeros(n)
        for _ in range(substeps):
            q[:] = 0.0
            hq[:] = 0.0
            for j in range(n_in):
                if in_q[j] > 0.0:
                    node = in_node[j] if in_node[j] != STRATIFIED else level_for(temps, in_t[j])
                    q[node] += in_q[j]
                    hq[node] += in_q[j] * in_t[j]
            for j in range(n_out):
                out_mean_c[j] += temps[out_node[j]]
            # Enthalpy carried across each interface, upwind; positive flow moves downwards.
            down = 0.0
            for i in range(n - 1):
                down += q[i] - sink[i]
                flux[i] = down * (temps[i] if down > 0.0 else temps[i + 1])
            above = 0.0
            for i in range(n):
                below = flux[i] if i < n - 1 else 0.0
                t_i = temps[i]
                # Nodes stay full (in = out), so the net enthalpy flow alone sets dT.
                temps[i] = t_i + k * (hq[i] - sink[i] * t_i + above - below)
                above = below
        for j in range(n_out):
            out_mean_c[j] /= substeps
    for i in range(n):
        temps[i] += heat_w[i] * heat_k_per_w
    for _ in range(conduction_reps):
        upper = temps[0]  # values before this pass: explicit, fluxes from the old profile
        for i in range(n - 1):
            lower = temps[i + 1]
            f = conduction_g * (upper - lower)
            temps[i] -= f
            temps[i + 1] += f
            upper = lower
    drop = 0.0
    for i in range(n):
        before = temps[i]
        temps[i] = ambient_c + (before - ambient_c) * decay[i]
        drop += before - temps[i]
    if n > 1:
        mix_inversions(temps)
    return drop, substeps
