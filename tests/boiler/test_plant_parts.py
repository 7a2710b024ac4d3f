"""Parts of the simulated plant and the ledger, against exact solutions."""

import math

import pytest

from boiler.baseline import GasBaseline
from boiler.economics import (
    Co2Factors,
    FixedHashprice,
    GasPrice,
    MiningEconomics,
    NetworkHashprice,
    TimeOfUseTariff,
    btc_per_ph_day,
)
from boiler.ledger import EnergyFlows, Ledger
from boiler.plant.coolant import CoolantLoop
from boiler.plant.gas import GasBoiler
from tank.exchanger import PlateExchanger
from tank.water import litres_to_j_per_k, lpm_to_w_per_k


def _loop(min_inlet: float = 0.0, ua: float = 0.0) -> CoolantLoop:
    return CoolantLoop(litres_to_j_per_k(60.0), PlateExchanger(3500.0), min_inlet, 30.0, ua_w_per_k=ua,
                       ambient_c=20.0)


def test_coolant_loop_exact_step_matches_fine_integration() -> None:
    c = lpm_to_w_per_k(18.0)
    coarse, fine = _loop(), _loop()
    res = coarse.step(600.0, 10_000.0, c, True, c, 40.0)
    heat_fine = 0.0
    for _ in range(60_000):
        r = fine.step(0.01, 10_000.0, c, True, c, 40.0)
        heat_fine += r.exchanged_w * 0.01
    assert coarse.inlet_c == pytest.approx(fine.inlet_c, abs=1e-3)
    assert res.exchanged_w * 600.0 == pytest.approx(heat_fine, rel=1e-4)


def test_coolant_loop_energy_balance_and_steady_state() -> None:
    c = lpm_to_w_per_k(18.0)
    loop = _loop()
    cap = loop.capacity_j_per_k
    t0 = loop.inlet_c
    res = loop.step(300.0, 8000.0, c, True, c, 35.0)
    assert cap * (loop.inlet_c - t0) == pytest.approx((8000.0 - res.exchanged_w) * 300.0, rel=1e-9)
    for _ in range(200):
        res = loop.step(300.0, 8000.0, c, True, c, 35.0)
    # Steady state: all the miners' heat crosses, and the inlet sits Q/UA above the tank (balanced flows).
    assert res.exchanged_w == pytest.approx(8000.0, rel=1e-6)
    assert loop.inlet_c == pytest.approx(35.0 + 8000.0 / 3500.0, abs=1e-6)
    assert res.secondary_out_c == pytest.approx(35.0 + 8000.0 / c)


def test_coolant_loop_without_pump_heats_up_and_mixing_valve_holds_minimum() -> None:
    c = lpm_to_w_per_k(18.0)
    loop = _loop()
    res = loop.step(60.0, 5000.0, c, False, c, 20.0)
    assert res.exchanged_w == 0.0
    assert loop.inlet_c == pytest.approx(30.0 + 5000.0 * 60.0 / loop.capacity_j_per_k)
    cold = _loop(min_inlet=28.0)
    for _ in range(100):
        cold.step(60.0, 1000.0, c, True, c, 10.0)
    assert cold.inlet_c >= 28.0 - 1e-9


def test_gas_boiler_hysteresis_min_run_and_off_times() -> None:
    b = GasBoiler(output_w=100_000, efficiency_pci=0.9, min_run_s=300, min_off_s=300, hysteresis_k=2.0,
                  min_modulation=0.2, modulation_band_k=4.0, max_flow_c=85.0)
    assert b.heat_w(0, True, 60.0, 59.0) == 0.0  # inside the hysteresis band: no start
    assert b.heat_w(60, True, 60.0, 57.0) == pytest.approx(0.75 * 100_000)  # modulates on the gap
    assert b.starts == 1
    assert b.heat_w(120, True, 60.0, 61.0) == pytest.approx(20_000)  # above setpoint but min run: lowest rate
    assert b.heat_w(360, True, 60.0, 61.0) == 0.0  # min run done: stops
    assert b.heat_w(420, True, 60.0, 50.0) == 0.0  # min off time not over
    assert b.heat_w(660, True, 60.0, 50.0) == pytest.approx(100_000)
    assert b.starts == 2
    assert b.heat_w(700, False, 60.0, 50.0) == 0.0  # disabled: stops at once
    assert b.fuel_w(90_000) == pytest.approx(100_000)


def test_hashprice_formula_reproduces_the_reported_figure() -> None:
    # reference/domain.md §6 oracle 12: D = 152e12, P = $91k, fees 0.05 → $38.2/PH/day (within 1 %).
    assert btc_per_ph_day(152e12, 3.125, 0.05) * 91_000 == pytest.approx(38.2, rel=0.01)
    hp = NetworkHashprice(difficulty=152e12, fees_btc_per_block=0.05, btc_price_eur=91_000)
    assert hp.gross_eur_per_ph_day() == pytest.approx(38.2, rel=0.01)


def test_time_of_use_windows_wrap_midnight() -> None:
    t = TimeOfUseTariff()
    assert t.price(23 * 60) == t.offpeak_eur_per_kwh
    assert t.price(3 * 60) == t.offpeak_eur_per_kwh
    assert t.price(6 * 60) == t.peak_eur_per_kwh
    assert t.price(12 * 60) == t.peak_eur_per_kwh


def test_ledger_prices_each_step_and_closes_hourly_rows() -> None:
    mining = MiningEconomics(hashprice=FixedHashprice(eur_per_ph_day=48.0, btc_price_eur=96_000.0), pool_fee=0.0)
    gas = GasPrice(eur_per_kwh_pcs=0.10, pcs_per_pci=1.1)
    ledger = Ledger(0.0, mining, gas, Co2Factors(gas_kg_per_kwh_pci=0.2, grid_kg_per_kwh=0.05),
                    baseline=GasBaseline(efficiency_pci=0.9, gas_eur_per_kwh_pci=0.11, co2_kg_per_kwh_pci=0.2))
    for k in range(120):  # two hours of one-minute steps at 6 kW, 300 TH/s, 10 kW of gas fuel
        price = 0.10 if k < 60 else 0.20
        ledger.add((k + 1) * 60.0, price, EnergyFlows(electricity_j=6000.0 * 60, hash_ths_s=300.0 * 60,
                                                       gas_fuel_j=10_000.0 * 60, dhw_volume_l=1.0))
    ledger.close(7200.0)
    assert len(ledger.rows) == 2
    first, second = ledger.rows
    assert first.electricity_kwh == pytest.approx(6.0)
    assert first.electricity_cost_eur == pytest.approx(0.6) and second.electricity_cost_eur == pytest.approx(1.2)
    # 300 TH/s = 0.3 PH/s × 48 €/PH/day for one hour = 0.6 €.
    assert first.mining_revenue_eur == pytest.approx(0.6)
    assert first.btc_mined == pytest.approx(0.6 / 96_000.0)
    assert first.gas_cost_eur == pytest.approx(10.0 * 0.10 * 1.1)
    assert first.co2_kg == pytest.approx(10.0 * 0.2 + 6.0 * 0.05)
    total = ledger.totals()
    assert total.dhw_volume_l == pytest.approx(120.0)
    assert total.net_cost_eur == pytest.approx(0.6 + 1.2 + 2.2 - 1.2)
    assert total.hashrate_ths_mean == pytest.approx(300.0)
    assert math.isclose(total.end_s - total.start_s, 7200.0)


def _finishing_plant(draw_l_per_min: float, steps: int, finishing_c: float):
    """residence-48-preheat with miners asleep, a constant draw at 45 °C from 10 °C mains."""
    import numpy as np

    from boiler import scenarios
    from boiler.control.types import Commands
    from boiler.plant.simulated import SimulatedPlant
    from tank.draws import StepDraws
    from tank.water import HEAT_CAPACITY_J_PER_L_K

    cfg = scenarios.load("residence-48-preheat")
    tanks = [t.model_copy(update={"initial_c": finishing_c}) if t.role == "finishing" else t for t in cfg.tanks]
    cfg = cfg.model_copy(update={"tanks": tanks, "loop": None})
    dt = cfg.simulation.step_s
    heat = np.full(steps, draw_l_per_min / 60.0 * dt * HEAT_CAPACITY_J_PER_L_K * (45.0 - 10.0))
    plant = SimulatedPlant(cfg, StepDraws(heat_j=heat, use_temp_c=np.full(steps, 45.0)), [10.0] * steps, 0.0)
    plant.apply(Commands(miner_limits_w={m.name: None for m in plant.miners}, charge_pump=False, gas_enable=True,
                         gas_setpoint_c=75.0, destratify=False, dry_cooler=False, reason="test"))
    return plant


def test_the_gas_coil_heats_the_water_flowing_past_it_not_only_its_node() -> None:
    """A 120 kW boiler under a 70 L/min draw: the coil node (62.5 L) is renewed twice a step, so the
    boiler's full output goes into the water (a cap on the standing node alone gave ~55–75 kW and let a
    peak pull the outlet under 60 °C). Standing water near the flow temperature still caps it."""
    plant = _finishing_plant(70.0, 4, 55.0)
    out_w = plant.gas.output_w
    node_only_w = (plant.gas.max_flow_c - 55.0) * plant._gas_unit.tank.node_capacity_j_per_k / plant.step_s
    assert node_only_w < 0.6 * out_w  # the old cap would have bitten here
    # Far below its aquastat (75 °C) the burner fires at full output, and all of it goes into the water.
    heats = [plant.step().gas_heat_j / plant.step_s for _ in range(4)]
    assert heats == pytest.approx([out_w] * 4)
    assert max(max(plant._gas_unit.tank.temps_c), plant.outlet_c) <= plant.gas.max_flow_c + 1e-9

    still = _finishing_plant(0.0, 3, 84.0)
    room_w = (still.gas.max_flow_c - 84.0) * still._gas_unit.tank.node_capacity_j_per_k / still.step_s
    f = still.step()
    assert f.gas_heat_j / still.step_s == pytest.approx(min(room_w, still.gas.output_w)) or f.gas_heat_j == 0.0
    assert f.gas_heat_j / still.step_s <= room_w + 1e-9
