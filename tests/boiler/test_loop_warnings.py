"""A default the loop puts in place of a missing reading shows in the run's warnings and the log."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

from boiler import scenarios
from boiler.loop import DEFAULT_COLD_WATER_C
from boiler.simulation import Simulation


def test_a_missing_mains_temperature_is_assumed_warned_and_logged_once(caplog) -> None:
    sim = Simulation(scenarios.load("residence-48"), 0.1, date(2026, 1, 5))
    plain = sim.loop.step(sim.reading(), sim.plant.miner_readings())
    assert plain.observation.cold_water_c != DEFAULT_COLD_WATER_C and sim.loop.warnings() == []
    with caplog.at_level(logging.WARNING, logger="boiler.loop"):
        for _ in range(3):
            reading = dataclasses.replace(sim.reading(), cold_water_c=None)
            rec = sim.loop.step(reading, sim.plant.miner_readings())
            assert rec.observation.cold_water_c == DEFAULT_COLD_WATER_C
    assert [r.getMessage() for r in caplog.records].count(
        f"event=cold_water_assumed value_c={DEFAULT_COLD_WATER_C:g} reason=no_mains_reading") == 1
    assert sim.loop.warnings() == [f"no mains temperature on 3 of 4 ticks: decided on {DEFAULT_COLD_WATER_C:g} °C "
                                   "cold water"]
