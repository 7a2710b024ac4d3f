"""The gas aquastat's trim from the outlet actually delivered (`boiler/control/outlet_trim.py`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from boiler import scenarios
from boiler.control.outlet_trim import OutletTrim
from boiler.simulation import run_simulation


def test_days_with_room_lower_the_aquastat_a_step_at_a_time_down_to_the_bound() -> None:
    trim = OutletTrim(60.0, guard_k=2.0, step_k=0.5, max_k=2.0)
    levels = []
    for day in range(8):
        trim.observe(day, 66.0)
        levels.append(trim.trim_k)
    assert levels == [0.0, -0.5, -1.0, -1.5, -2.0, -2.0, -2.0, -2.0]
    # A day with little room moves by its room only (its warmer readings do not count).
    trim = OutletTrim(60.0, guard_k=2.0, step_k=0.5)
    trim.observe(0, 65.2)
    trim.observe(0, 62.2)
    trim.observe(1, None)
    assert trim.trim_k == pytest.approx(-0.2)


def test_a_day_that_came_close_gives_back_what_it_lacked_and_a_step_more() -> None:
    trim = OutletTrim(60.0, guard_k=2.0, step_k=0.5, max_k=4.0)
    for day in range(10):
        trim.observe(day, 70.0)
    assert trim.trim_k == -4.0
    trim.observe(10, 60.4)  # 1.6 K short of the guard
    trim.observe(11, 70.0)
    assert trim.trim_k == pytest.approx(-4.0 + 1.6 + 0.5)
    trim.observe(12, 55.0)  # far short: back to no trim at all, never above it
    trim.observe(13, 70.0)
    assert trim.trim_k == 0.0


def test_days_without_an_outlet_reading_change_nothing() -> None:
    trim = OutletTrim(60.0)
    for day in range(5):
        trim.observe(day, None)
    assert trim.trim_k == 0.0


def test_mpc_on_a_house_whose_outlet_runs_hot_lowers_it_and_still_holds_60() -> None:
    """house-xl: the aquastat's sensor sits low in a small coil zone, so the outlet ran ~7 K above it."""
    cfg = scenarios.load("house-xl")
    off = cfg.model_copy(deep=True)
    off.control.mpc.outlet_trim_max_k = 0.0
    start = date(2026, 1, 5)
    with_trim = run_simulation(cfg, 14, start, strategy="mpc", trace_points=5000)
    without = run_simulation(off, 14, start, strategy="mpc", trace_points=5000)
    assert with_trim.summary["dhw_volume_below_setpoint_l"] == 0.0
    mean = {k: float(np.nanmean(r.trace.columns["outlet_c"])) for k, r in (("on", with_trim), ("off", without))}
    assert mean["on"] < mean["off"] - 1.0
    assert with_trim.summary["gas_fuel_kwh"] < without.summary["gas_fuel_kwh"]


def test_an_outlet_near_the_setpoint_takes_the_trim_back_within_the_day() -> None:
    """Yesterday's room says nothing about this evening's peak: within `alarm_k` of the setpoint the whole
    trim goes at once, without waiting for the day's end; above it, nothing moves until the day closes."""
    trim = OutletTrim(60.0, guard_k=2.0, step_k=0.5, max_k=4.0, alarm_k=0.5)
    for day in range(6):
        trim.observe(day, 66.0)
    assert trim.trim_k == -2.5
    trim.observe(6, 60.8)  # closes day 5 (room: −0.5); close, but not within the alarm: the day's end will tell
    assert trim.trim_k == -3.0
    trim.observe(6, 60.4)
    assert trim.trim_k == 0.0
    trim.observe(7, 66.0)  # the day that came close gives nothing back above zero
    assert trim.trim_k == 0.0
    off = OutletTrim(60.0, guard_k=2.0, step_k=0.5, alarm_k=0.0)
    for day in range(3):
        off.observe(day, 66.0)
    off.observe(3, 60.1)
    assert off.trim_k == -1.5  # without the alarm it waits for the day's end
    off.observe(4, 66.0)
    assert off.trim_k == 0.0
