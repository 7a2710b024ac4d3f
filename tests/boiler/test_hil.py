"""The controller, the simulated plant and emulated miners reached through unmodified pyasic over
loopback sockets, for a simulated day: the hot-water outcome must match the pure simulation."""

from datetime import date

import pytest

from boiler import scenarios
from boiler.hil import VirtualClock, driver_configs, emulated_fleet, run_with_driver
from boiler.simulation import run_simulation
from miners.fleet import PyasicFleet
from tests import loopback

pytestmark = pytest.mark.slow  # hardware in the loop: days through pyasic

WINTER = date(2026, 1, 5)


@pytest.mark.parametrize(
    ("scenario", "model"),
    [("residence-48", None),
     pytest.param("residence-48", "m53s-plus-plus", marks=pytest.mark.xfail(strict=True, reason=(
         "known, open: woken through pyasic, the emulated Whatsminer hashes at the next tick where the pure "
         "simulation's model is still in its wake delay (13,680 s: both woken; 13,920 s: 6,750 W against 80 W); "
         "since identical "
         "miners move together (even split), that puts the day's miner heat 10 % above the pure simulation")))],
    ids=["s21-braiins", "m53-whatsminer-v2"],
)
async def test_a_day_through_pyasic_matches_the_pure_simulation(scenario: str, model: str | None) -> None:
    cfg = scenarios.load(scenario)
    if model is not None:  # the same building with another firmware family behind pyasic
        cfg.miners = [m.model_copy(update={"model": model}) for m in cfg.miners]
    pure = run_simulation(cfg, 1, WINTER, scenario=scenario).summary

    clock = VirtualClock(0.0)
    first_ip = loopback.first_ip()
    fleet = emulated_fleet(cfg, first_ip, clock)
    async with fleet:
        driver = PyasicFleet(driver_configs(cfg, fleet), timeout_s=10.0, clock=clock)
        hil = (await run_with_driver(cfg, 1, WINTER, fleet, driver, clock, scenario=scenario)).summary

    # The same water was drawn and kept hot; the miners did the same work within a few percent.
    assert hil["dhw_volume_below_setpoint_l"] == pure["dhw_volume_below_setpoint_l"] == 0
    assert hil["min_outlet_temp_c"] >= 60.0
    assert hil["dhw_volume_l"] == pytest.approx(pure["dhw_volume_l"], rel=0.01)
    assert hil["heat_from_miners_kwh"] == pytest.approx(pure["heat_from_miners_kwh"], rel=0.05)
    assert hil["heat_from_gas_kwh"] == pytest.approx(pure["heat_from_gas_kwh"], rel=0.08)
    assert hil["electricity_kwh"] > 0 and hil["power_limit_changes"] > 0
    # Every limit change went out through pyasic and was read back by the firmware's physics.
    assert sum(m.model.limit_changes for m in fleet.miners) > 0
    assert abs(hil["energy_balance_error_kwh"]) < 1e-6
