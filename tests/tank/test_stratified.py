"""Stratified tank against analytic oracles (reference/domain.md §6)."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tank.stratified import STRATIFIED, Inflow, Outflow, StratifiedTank, TankParams, mix_inversions
from tank.water import HEAT_CAPACITY_J_PER_L_K

HOUR_S = 3600.0


def test_loss_only_mixed_tank_follows_exact_exponential() -> None:
    # Oracle 2: 1,500 L, UA = 3 W/K, 60 °C in 20 °C ambient → 58.36 °C after 24 h; τ = 23.8 d.
    tank = StratifiedTank(TankParams(volume_l=1500, n_nodes=1, ua_w_per_k=3.0), 60.0)
    tau_s = 1500 * HEAT_CAPACITY_J_PER_L_K / 3.0
    assert tau_s / 86400 == pytest.approx(23.8, abs=0.05)
    for _ in range(24 * 60):
        tank.step(60.0, ambient_c=20.0)
    assert tank.top_c == pytest.approx(58.36, abs=0.005)
    assert tank.top_c == pytest.approx(20 + 40 * math.exp(-86400 / tau_s), rel=1e-12)


@pytest.mark.parametrize("n_nodes", [2, 5, 10, 30])
def test_uniform_multinode_tank_tracks_one_node_solution(n_nodes: int) -> None:
    # Oracle 3, with the loss split by volume the uniform profile stays uniform exactly. Split by
    # area, lid and base lose more: the top mixes down, the base stratifies and then loses less,
    # so the mean stays within a couple of percent of the one-node decay.
    one = StratifiedTank(TankParams(volume_l=2000, n_nodes=1, ua_w_per_k=8.0), 65.0)
    volume_split = TankParams(volume_l=2000, n_nodes=n_nodes, ua_w_per_k=8.0, loss_split="volume")
    by_volume = StratifiedTank(volume_split, 65.0)
    by_area = StratifiedTank(TankParams(volume_l=2000, n_nodes=n_nodes, ua_w_per_k=8.0), 65.0)
    for _ in range(7 * 24):
        one.step(HOUR_S, 15.0)
        by_volume.step(HOUR_S, 15.0)
        by_area.step(HOUR_S, 15.0)
    for t in by_volume.temps_c:
        assert t == pytest.approx(one.top_c, abs=1e-9)
    decay_k = 65.0 - one.top_c
    assert abs(by_area.mean_c() - one.top_c) < 0.02 * decay_k


def test_constant_power_heating_time() -> None:
    # Oracle 2: 1,500 L from 45 to 60 °C with one 5.36 kW miner takes 4.80 h.
    tank = StratifiedTank(TankParams(volume_l=1500, n_nodes=10, ua_w_per_k=0.0), 45.0)
    per_node = [5360.0 / 10] * 10
    t_s = 0.0
    while tank.mean_c() < 60.0:
        tank.step(10.0, 20.0, heat_w=per_node)
        t_s += 10.0
    assert t_s / HOUR_S == pytest.approx(4.80, abs=0.01)
    expected_s = 1500 * HEAT_CAPACITY_J_PER_L_K * 15.0 / 5360.0
    assert abs(t_s - expected_s) <= 10.0


def erlang_f(theta: float, n: int) -> float:
    x = n * theta
    return 1.0 - math.exp(-x) * sum(x**i / math.factorial(i) for i in range(n))


@pytest.mark.parametrize("n_nodes", [1, 5, 10, 20])
def test_draw_off_matches_tanks_in_series_f_curve(n_nodes: int) -> None:
    # Oracle 4: with no conduction or loss, N upwind nodes are N stirred tanks in series.
    params = TankParams(volume_l=1000, n_nodes=n_nodes, ua_w_per_k=0.0, conductivity_w_per_m_k=0.0)
    tank = StratifiedTank(params, 60.0)
    flow = 0.05  # L/s, small steps so the explicit scheme follows the semi-discrete solution
    dt = 1.0
    drawn = 0.0
    checks = {0.5: None, 0.8: None, 1.0: None, 1.2: None, 1.5: None}
    for theta in sorted(checks):
        while drawn < theta * 1000 - 1e-9:
            res = tank.step(dt, 20.0, [Inflow(n_nodes - 1, flow, 10.0)], [Outflow(0, flow)])
            drawn += flow * dt
        checks[theta] = (60.0 - res.out_temp_c[0]) / 50.0
    for theta, f in checks.items():
        assert f == pytest.approx(erlang_f(theta, n_nodes), abs=0.01), theta


def test_adiabatic_conduction_mode_decays_at_discrete_eigenvalue() -> None:
    # Oracle 5: the slowest mode of N nodes decays with rate 4 sin²(π/2N)·α N²/H².
    n, height = 10, 1.5
    params = TankParams(volume_l=1500, height_m=height, n_nodes=n, ua_w_per_k=0.0)
    mode = [math.cos(math.pi * (i + 0.5) / n) for i in range(n)]  # hot top, cold bottom: no inversion
    tank = StratifiedTank(params, [50.0 + 5.0 * m for m in mode])
    alpha = params.conductivity_w_per_m_k / (HEAT_CAPACITY_J_PER_L_K * 1000.0)
    rate = 4 * math.sin(math.pi / (2 * n)) ** 2 * alpha * n**2 / height**2
    days = 10
    for _ in range(days * 24):
        tank.step(HOUR_S, 20.0)
    amplitude = (tank.temps_c[0] - tank.temps_c[-1]) / (2 * 5.0 * mode[0])
    assert amplitude == pytest.approx(math.exp(-rate * days * 86400), rel=2e-3)
    assert sum(tank.temps_c) == pytest.approx(50.0 * n, abs=1e-9)  # adiabatic: energy kept


def test_ports_conserve_energy_exactly() -> None:
    params = TankParams(volume_l=3000, n_nodes=10, ua_w_per_k=6.0)
    tank = StratifiedTank(params, [62 - 3 * i for i in range(10)])
    cap = tank.node_capacity_j_per_k
    e0 = tank.energy_j()
    balance = 0.0
    for k in range(500):
        draw = 0.3 if k % 7 else 2.5  # occasional big draws need sub-steps
        ins = [Inflow(9, draw, 12.0), Inflow(STRATIFIED, 0.1, 55.0), Inflow(STRATIFIED, 0.2, 50.0)]
        outs = [Outflow(0, draw + 0.1), Outflow(9, 0.2)]
        heat = [20000.0, 20000.0, 0, 0, 0, 0, 0, 0, 0, 0]
        res = tank.step(60.0, 18.0, ins, outs, heat)
        h_in = sum(f.flow_l_per_s * f.temp_c for f in ins) * 60.0 * HEAT_CAPACITY_J_PER_L_K
        h_out = sum(f.flow_l_per_s * t for f, t in zip(outs, res.out_temp_c, strict=True)) * 60.0
        balance += h_in - h_out * HEAT_CAPACITY_J_PER_L_K + sum(heat) * 60.0 - res.loss_j
    assert cap > 0
    assert tank.energy_j() - e0 == pytest.approx(balance, rel=1e-9, abs=1e-3)


def test_stratified_inlet_finds_its_level() -> None:
    params = TankParams(volume_l=1000, n_nodes=5, ua_w_per_k=0.0, conductivity_w_per_m_k=0.0)
    tank = StratifiedTank(params, [60.0, 55.0, 50.0, 30.0, 20.0])
    tank.step(1.0, 20.0, [Inflow(STRATIFIED, 1.0, 52.0)], [Outflow(4, 1.0)])
    # 52 °C enters node 2 (first node from the top not warmer than 52 °C) and warms it.
    assert tank.temps_c[2] > 50.0
    assert tank.temps_c[0] == 60.0 and tank.temps_c[1] == 55.0


def test_unbalanced_ports_are_refused() -> None:
    tank = StratifiedTank(TankParams(volume_l=100), 40.0)
    with pytest.raises(ValueError, match="do not balance"):
        tank.step(60.0, 20.0, [Inflow(9, 0.1, 10.0)], [Outflow(0, 0.2)])


@given(st.lists(st.floats(min_value=0.0, max_value=95.0), min_size=1, max_size=40))
def test_inversion_mixing_conserves_enthalpy_and_leaves_monotone_profile(temps: list[float]) -> None:
    profile = list(temps)
    mix_inversions(profile)
    assert sum(profile) == pytest.approx(sum(temps), rel=1e-12, abs=1e-9)
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(profile))


def test_single_hot_node_under_cold_one_ends_at_mean() -> None:
    profile = [20.0, 60.0]
    mix_inversions(profile)
    assert profile == [40.0, 40.0]
    profile = [50.0, 30.0, 70.0, 10.0]
    mix_inversions(profile)
    assert profile == [50.0, 50.0, 50.0, 10.0]


def test_node_at_height() -> None:
    p = TankParams(volume_l=1000, n_nodes=10)
    assert p.node_at_height(1.0) == 0
    assert p.node_at_height(0.0) == 9
    assert p.node_at_height(0.75) == 2


@given(
    st.lists(st.floats(min_value=5.0, max_value=95.0), min_size=2, max_size=12),
    st.floats(min_value=0.0, max_value=0.5),
    st.floats(min_value=5.0, max_value=95.0),
    st.floats(min_value=0.0, max_value=20_000.0),
)
def test_coldest_node_is_read_from_the_bottom_only_once_the_kernel_keeps_the_profile_monotone(
    initial: list[float], flow_l_per_s: float, inlet_c: float, heat_w: float,
) -> None:
    # Hygiene reads the coldest node every physics step: from the bottom node once the tank has
    # stepped (the kernel mixes inversions away), from the whole profile before (any initial profile).
    tank = StratifiedTank(TankParams(volume_l=300, n_nodes=len(initial), ua_w_per_k=2.0), initial)
    assert tank.coldest_c == min(initial)
    ins = [Inflow(STRATIFIED, flow_l_per_s, inlet_c)] if flow_l_per_s > 0 else []
    outs = [Outflow(0, flow_l_per_s)] if flow_l_per_s > 0 else []
    heat = [0.0] * (len(initial) - 1) + [heat_w]  # heat at the base: an inversion to mix away
    for _ in range(3):
        tank.step(120.0, 20.0, ins, outs, heat)
        temps = tank.temps_c.tolist()
        assert all(upper >= lower for upper, lower in itertools.pairwise(temps))
        assert tank.coldest_c == min(temps) == temps[-1]
