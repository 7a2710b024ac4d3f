"""The simulated plant's physics step, compiled with numba: one call per physics step.

A simulated year is a quarter of a million plant steps; in Python the arithmetic of the coolant loop,
the gas boiler, the draw and the tanks' ports cost several times the tank kernel itself. These
functions hold the numerics only, on plain floats and small arrays; the physics and its explanation
live in `boiler.plant.simulated`, `boiler.plant.coolant` and `boiler.plant.gas`, whose classes call the
same functions (one implementation). The miners stay in Python (`miners.model.HydroMiner`): the
hardware-in-the-loop run shares them with the emulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from tank import _kernel as _tank_kernel
from tank._kernel import advance as tank_advance


def _drop_stale_cache() -> None:
    """numba's on-disk cache (`cache=True`) is keyed on this file only, so a plant step compiled
    against an older tank kernel would be reused after `tank/_kernel.py` changed. When any of this
    module's cached code is older than the tank kernel's source, drop all of it: the next call
    compiles afresh (a few seconds, once). Only numba's default location, `__pycache__` here."""
    me = Path(__file__)
    try:
        tank_mtime = Path(_tank_kernel.__file__).stat().st_mtime
        cached = list(me.with_name("__pycache__").glob(f"{me.stem}.*.nb[ic]"))
        stale = any(f.stat().st_mtime < tank_mtime for f in cached)
    except OSError:
        return
    if stale:
        for f in cached:
            f.unlink(missing_ok=True)


_drop_stale_cache()

# Columns of the per-tank parameter table `tank_f` (one row per tank, in flow order).
T_NODE_VOLUME_L, T_CONDUCTION_G, T_HEAT_K_PER_W, T_NODE_CAPACITY_J_PER_K, T_VOLUME_L = range(5)
# Plant parameters `p`.
(P_DT_S, P_AMBIENT_C, P_SETPOINT_C, P_CAP_PER_L, P_C_HOT, P_C_COLD, P_Q_CHARGE, P_COOLANT_CAP, P_COOLANT_UA,
 P_COOLANT_AMBIENT_C, P_MIN_INLET_C, P_HX_G, P_HX_DECAY, P_GAS_OUTPUT_W, P_GAS_EFFICIENCY, P_GAS_MIN_RUN_S,
 P_GAS_MIN_OFF_S, P_GAS_HYSTERESIS_K, P_GAS_MIN_MODULATION, P_GAS_BAND_K, P_GAS_MAX_FLOW_C, P_LOOP_AMBIENT_C,
 P_LOOP_KEPT, P_Q_LOOP, P_DESTRATIFY_TURNOVER_S, P_DRY_CAPACITY_W, P_DRY_AIR_C, P_DRY_DELTA_K) = range(28)
N_PARAMS = 28
# Integer layout `pi`.
# I_GAS: the tank with the gas coil and the destratification pump (a plant without a boiler has one too).
(I_CHARGE, I_GAS, I_COIL_NODE, I_AQUASTAT_NODE, I_LOOP_RETURN_NODE, I_CHARGE_INLET, I_HAS_LOOP,
 I_HAS_MINERS, I_HAS_DRY_COOLER, I_HAS_GAS) = range(10)
N_INTS = 10
# Commands `cmd` (as floats).
C_CHARGE_PUMP, C_GAS_ENABLE, C_GAS_SETPOINT_C, C_DESTRATIFY, C_DRY_COOLER = range(5)
N_CMD = 5
# The step's outputs `out`: the `EnergyFlows` fields in their declared order, then the plant's own.
N_FLOWS = 16
O_COOLANT_OUT_C = N_FLOWS
O_CHARGE_SUPPLY_C = N_FLOWS + 1  # the exchanger's water to the tank (NaN: no exchange this step)
N_OUT = N_FLOWS + 2


@njit(cache=True)
def gas_heat_w(
    firing: bool, since_s: float, starts: int, output_w: float, min_run_s: float, min_off_s: float,
    hysteresis_k: float, min_modulation: float, band_k: float, max_flow_c: float,
    now_s: float, enabled: bool, setpoint_c: float, sensor_c: float,
) -> tuple[bool, float, int, float]:
    """The burner's state at now_s and its heat output for the coming step:
    (firing, since_s, starts, heat_w). See `boiler.plant.gas.GasBoiler`."""
    elapsed = now_s - since_s
    if firing:
        done = sensor_c >= setpoint_c and elapsed >= min_run_s
        if not enabled or done or sensor_c >= max_flow_c:
            firing = False
            since_s = now_s
    elif enabled and sensor_c < setpoint_c - hysteresis_k and elapsed >= min_off_s and sensor_c < max_flow_c:
        firing = True
        since_s = now_s
        starts += 1
    if not firing:
        return firing, since_s, starts, 0.0
    share = (setpoint_c - sensor_c) / band_k
    return firing, since_s, starts, output_w * min(1.0, max(min_modulation, share))


@njit(cache=True)
def coolant_step(
    t0: float, cap: float, ua_w_per_k: float, ambient_c: float, min_inlet_c: float, g: float, decay: float,
    dt_s: float, miner_heat_w: float, c_hot: float, pump_on: bool, c_cold: float, tank_c: float, dump_w: float,
) -> tuple[float, float, float]:
    """The coolant loop over one step, exactly: (inlet at the end, mean heat to the secondary,
    secondary outlet). `g` = ε·C_min and `decay` = exp(−g·dt/C). See `boiler.plant.coolant`."""
    net_w = miner_heat_w - dump_w - ua_w_per_k * (t0 - ambient_c)
    if not (pump_on and c_cold > 0 and c_hot > 0 and t0 >= min_inlet_c):
        return t0 + net_w * dt_s / cap, 0.0, tank_c
    t_inf = tank_c - miner_heat_w / c_hot + net_w / g
    t1 = t_inf + (t0 - t_inf) * decay
    if t1 < min_inlet_c:
        t1 = min_inlet_c
    exchanged = net_w - cap * (t1 - t0) / dt_s
    return t1, exchanged, tank_c + exchanged / c_cold


@njit(cache=True)
def plant_step(
    temps: tuple[np.ndarray, ...], heats: tuple[np.ndarray, ...], decays: tuple[np.ndarray, ...],
    tank_f: np.ndarray, tank_reps: np.ndarray, p: np.ndarray, pi: np.ndarray, cmd: np.ndarray,
    in_node: np.ndarray, in_q: np.ndarray, in_t: np.ndarray, out_node: np.ndarray, out_q: np.ndarray,
    out_mean: np.ndarray, out: np.ndarray,
    cold_c: float, demand_j: float, use_c: float, miner_heat_w: float, p_elec_w: float, hash_ths: float,
    now_s: float, coolant_c: float, gas_firing: bool, gas_since_s: float, gas_starts: int,
) -> tuple[float, bool, float, int]:
    """One physics step of the plant after the miners: draw, recirculation loop, coolant loop and
    exchanger, gas boiler, every tank's ports and inner step, and the step's flows (into `out`).

    Returns the new coolant inlet and burner state (firing, since, starts)."""
    dt = p[P_DT_S]
    ambient = p[P_AMBIENT_C]
    cap_per_l = p[P_CAP_PER_L]
    n_tanks = len(temps)
    last = n_tanks - 1
    charge = pi[I_CHARGE]
    gas = pi[I_GAS]

    # Draw: the tap takes the heat asked for from the outlet, mixing down with cold water.
    outlet0 = temps[last][0]
    q_draw = 0.0
    if demand_j > 0.0:
        lift_k = outlet0 - cold_c if outlet0 >= use_c else use_c - cold_c
        q_draw = demand_j / (dt * cap_per_l * max(lift_k, 1.0))
    has_loop = pi[I_HAS_LOOP] != 0
    loop_return_c = np.nan
    q_loop = 0.0
    if has_loop:
        loop_amb = p[P_LOOP_AMBIENT_C]
        loop_return_c = loop_amb + (outlet0 - loop_amb) * p[P_LOOP_KEPT]
        q_loop = p[P_Q_LOOP]

    # Coolant loop and exchanger.
    c_hot = p[P_C_HOT]
    rise_k = miner_heat_w / c_hot if c_hot else 0.0
    dump_w = 0.0
    if cmd[C_DRY_COOLER] != 0.0:
        if pi[I_HAS_DRY_COOLER] != 0:
            share = (coolant_c + rise_k - p[P_DRY_AIR_C]) / p[P_DRY_DELTA_K]
            dump_w = p[P_DRY_CAPACITY_W] * min(1.0, max(0.0, share))
        dump_w = min(dump_w, max(miner_heat_w, 0.0)
                     + p[P_COOLANT_CAP] * max(coolant_c - ambient, 0.0) / dt)
    charge_temps = temps[charge]
    coolant_c, exchanged_w, secondary_out_c = coolant_step(
        coolant_c, p[P_COOLANT_CAP], p[P_COOLANT_UA], p[P_COOLANT_AMBIENT_C], p[P_MIN_INLET_C], p[P_HX_G],
        p[P_HX_DECAY], dt, miner_heat_w, c_hot, cmd[C_CHARGE_PUMP] != 0.0 and pi[I_HAS_MINERS] != 0,
        p[P_C_COLD], charge_temps[charge_temps.shape[0] - 1], dump_w,
    )

    # Gas boiler on its coil (see SimulatedPlant.step for the headroom).
    gas_w = 0.0
    has_gas = pi[I_HAS_GAS] != 0
    if has_gas:
        gt = temps[gas]
        gas_firing, gas_since_s, gas_starts, gas_w = gas_heat_w(
            gas_firing, gas_since_s, gas_starts, p[P_GAS_OUTPUT_W], p[P_GAS_MIN_RUN_S], p[P_GAS_MIN_OFF_S],
            p[P_GAS_HYSTERESIS_K], p[P_GAS_MIN_MODULATION], p[P_GAS_BAND_K], p[P_GAS_MAX_FLOW_C], now_s,
            cmd[C_GAS_ENABLE] != 0.0, cmd[C_GAS_SETPOINT_C], gt[pi[I_AQUASTAT_NODE]],
        )
        if gas_w > 0.0:
            coil = pi[I_COIL_NODE]
            if coil < gt.shape[0] - 1:
                arriving_c = gt[coil + 1]
            elif gas > 0:  # the coil's lowest turn in the base: the water arrives from upstream
                arriving_c = temps[gas - 1][0]
            else:  # ... or from the mains
                arriving_c = cold_c
            max_c = p[P_GAS_MAX_FLOW_C]
            room_w = ((max_c - gt[coil]) * tank_f[gas, T_NODE_CAPACITY_J_PER_K] / dt
                      + q_draw * cap_per_l * max(max_c - arriving_c, 0.0))
            gas_w = max(0.0, min(gas_w, room_w))

    # The tanks in flow order.
    water_in_c = cold_c
    tank_loss_j = 0.0
    miner_heat_j = 0.0
    exchanging = exchanged_w != 0.0
    q_c = p[P_Q_CHARGE]
    for i in range(n_tanks):
        t = temps[i]
        bottom = t.shape[0] - 1
        n_in = 0
        n_out = 0
        charge_idx = -1
        if q_draw > 0:
            in_node[0] = bottom
            in_q[0] = q_draw
            in_t[0] = water_in_c
            n_in = 1
        top_out = q_draw
        if i == last and has_loop:
            in_node[n_in] = pi[I_LOOP_RETURN_NODE]
            in_q[n_in] = q_loop
            in_t[n_in] = loop_return_c
            n_in += 1
            top_out += q_loop
        if top_out > 0:
            out_node[0] = 0
            out_q[0] = top_out
            n_out = 1
        if exchanging and i == charge:
            in_node[n_in] = pi[I_CHARGE_INLET]
            in_q[n_in] = q_c
            in_t[n_in] = secondary_out_c
            out_node[n_out] = bottom
            out_q[n_out] = q_c
            charge_idx = n_out
            n_in += 1
            n_out += 1
        if i == gas:
            if cmd[C_DESTRATIFY] != 0.0:
                q_mix = tank_f[i, T_VOLUME_L] / p[P_DESTRATIFY_TURNOVER_S]
                in_node[n_in] = bottom
                in_q[n_in] = q_mix
                in_t[n_in] = t[0]
                out_node[n_out] = 0
                out_q[n_out] = q_mix
                n_in += 1
                n_out += 1
            heats[i][pi[I_COIL_NODE]] = gas_w
        drop_k, _ = tank_advance(
            t, dt, ambient, in_node, in_q, in_t, n_in, out_node, out_q, n_out, heats[i],
            tank_f[i, T_HEAT_K_PER_W], decays[i], tank_f[i, T_CONDUCTION_G], tank_reps[i],
            tank_f[i, T_NODE_VOLUME_L], out_mean,
        )
        tank_loss_j += drop_k * tank_f[i, T_NODE_CAPACITY_J_PER_K]
        if top_out > 0:
            water_in_c = out_mean[0]
        if charge_idx >= 0:
            miner_heat_j = q_c * dt * cap_per_l * (secondary_out_c - out_mean[charge_idx])

    # The flows, in the order of EnergyFlows' fields.
    outlet_avg = water_in_c if q_draw + q_loop > 0 else temps[last][0]
    vol = q_draw * dt if q_draw > 0 else 0.0
    out[0] = p_elec_w * dt  # electricity_j
    out[1] = hash_ths * dt  # hash_ths_s
    out[2] = miner_heat_j
    out[3] = gas_w * dt  # gas_heat_j
    out[4] = gas_w / p[P_GAS_EFFICIENCY] * dt if has_gas else 0.0  # gas_fuel_j
    out[5] = dump_w * dt  # dumped_j
    out[6] = vol * cap_per_l * (outlet_avg - cold_c) if q_draw > 0 else 0.0  # dhw_heat_j
    out[7] = demand_j
    out[8] = vol  # dhw_volume_l
    out[9] = vol if q_draw > 0 and outlet_avg < p[P_SETPOINT_C] else 0.0  # dhw_volume_below_l
    out[10] = tank_loss_j
    out[11] = q_loop * dt * cap_per_l * (outlet_avg - loop_return_c) if has_loop else 0.0  # loop_loss_j
    out[12] = outlet_avg
    out[13] = loop_return_c
    out[14] = gas_w  # gas_power_w
    out[15] = p_elec_w  # miner_power_w
    out[O_COOLANT_OUT_C] = coolant_c + rise_k
    out[O_CHARGE_SUPPLY_C] = secondary_out_c if exchanging else np.nan
    return coolant_c, gas_firing, gas_since_s, gas_starts
