"""Plate exchanger (ε-NTU), recirculation loop and the sensor-based tank estimate."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tank.estimate import estimate_tank
from tank.exchanger import PlateExchanger, counterflow_effectiveness
from tank.loop import RecirculationLoop
from tank.water import HEAT_CAPACITY_J_PER_L_K, lpm_to_w_per_k


@given(st.floats(0.01, 20.0), st.floats(0.0, 1.0))
def test_effectiveness_matches_counterflow_formula(ntu: float, cr: float) -> None:
    eps = counterflow_effectiveness(ntu, cr)
    if abs(1 - cr) < 1e-9:
        expected = ntu / (1 + ntu)
    else:
        e = math.exp(-ntu * (1 - cr))
        expected = (1 - e) / (1 - cr * e)
    assert eps == pytest.approx(expected, rel=1e-12)
    assert 0.0 < eps <= 1.0


def test_balanced_effectiveness_and_heat_equal_on_both_sides() -> None:
    hx = PlateExchanger(ua_w_per_k=5000.0)
    c = lpm_to_w_per_k(18.0)
    res = hx.exchange(hot_in_c=55.0, c_hot_w_per_k=c, cold_in_c=45.0, c_cold_w_per_k=c)
    ntu = 5000.0 / c
    assert res.effectiveness == pytest.approx(ntu / (1 + ntu))
    assert res.heat_w == pytest.approx(res.effectiveness * c * 10.0)
    assert c * (55.0 - res.hot_out_c) == pytest.approx(c * (res.cold_out_c - 45.0))


def test_domain_example_cold_outlet_for_ntu_values() -> None:
    # domain.md §4.2: hot 55 °C, cold 45 °C, balanced: 52.5 / 53.3 / 53.9 °C for NTU 3 / 5 / 8.
    c = 1000.0
    for ntu, expected in ((3, 52.5), (5, 53.3), (8, 53.9)):
        res = PlateExchanger(ua_w_per_k=ntu * c).exchange(55.0, c, 45.0, c)
        assert res.cold_out_c == pytest.approx(expected, abs=0.05)


def test_sized_for_approach_gives_that_approach_with_balanced_flows() -> None:
    hx = PlateExchanger.sized_for_approach(heat_w=10_400.0, approach_k=3.0)
    c = lpm_to_w_per_k(18.0)
    # Choose inlets so that the exchanger carries exactly 10.4 kW.
    eps = hx.effectiveness(c, c)
    hot_in = 40.0 + 10_400.0 / (eps * c)
    res = hx.exchange(hot_in, c, 40.0, c)
    assert res.heat_w == pytest.approx(10_400.0)
    assert hot_in - res.cold_out_c == pytest.approx(3.0)


def test_miner_coolant_delta_t_oracle() -> None:
    # Oracle 9: 5.36 kW raises the coolant 9.65 K at 8 L/min and 7.72 K at 10 L/min (ρ ≈ 0.983).
    assert 5360.0 / lpm_to_w_per_k(8.0) == pytest.approx(9.78, abs=0.15)
    assert 5360.0 / lpm_to_w_per_k(10.0) == pytest.approx(7.72, abs=0.1)


def test_loop_sized_reproduces_loss_and_drop() -> None:
    loop = RecirculationLoop.sized(loss_w=1500.0, supply_c=60.0, drop_k=4.0, ambient_c=20.0)
    s = loop.state(60.0)
    assert s.loss_w == pytest.approx(1500.0)
    assert s.return_c == pytest.approx(56.0)
    # The return follows the exact exponential decay along the pipe.
    c = loop.flow_lpm / 60 * HEAT_CAPACITY_J_PER_L_K
    assert loop.state(50.0).return_c == pytest.approx(20 + 30 * math.exp(-loop.ua_w_per_k / c))
    assert loop.return_c(50.0) == loop.state(50.0).return_c  # the simulator's shortcut, same value


def test_estimate_of_linear_profile_is_exact() -> None:
    readings = [(0.0, 20.0), (1.0, 60.0)]
    est = estimate_tank(3000.0, readings, setpoint_c=50.0, reference_c=20.0)
    assert est is not None
    assert est.mean_c == pytest.approx(40.0)
    assert est.energy_kwh == pytest.approx(3000 * HEAT_CAPACITY_J_PER_L_K * 20 / 3.6e6)
    assert est.usable_volume_l == pytest.approx(750.0)  # top quarter is ≥ 50 °C


def test_estimate_ignores_faulty_sensors_and_extends_flat() -> None:
    readings = [(0.1, 30.0), (0.5, None), (0.9, 60.0)]
    est = estimate_tank(1000.0, readings, setpoint_c=60.0, reference_c=10.0)
    assert est is not None and est.sensors_used == 2
    assert est.top_c == 60.0 and est.bottom_c == 30.0
    assert est.usable_volume_l == pytest.approx(100.0)
    assert est.mean_c == pytest.approx(0.1 * 30 + 0.8 * 45 + 0.1 * 60)
    assert estimate_tank(1000.0, [(0.5, None)], 60.0, 10.0) is None
