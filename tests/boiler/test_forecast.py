"""The draw forecast learns from past meter readings only, by weekday and time of day."""

import numpy as np
import pytest

from boiler.control.forecast import DrawForecast


def _feed(fc: DrawForecast, days: int, kwh_per_bin, tick_min: int = 5, start_weekday: int = 0) -> float:
    """Feed a cumulative meter ticking every `tick_min`; kwh_per_bin(weekday, bin) is spread evenly."""
    meter = 0.0
    per_day = 1440 // tick_min
    for d in range(days):
        wd = (start_weekday + d) % 7
        for i in range(per_day):
            minute = i * tick_min
            fc.record(wd, minute, meter)
            meter += kwh_per_bin(wd, minute // fc.bin_minutes) * tick_min / fc.bin_minutes
    fc.record((start_weekday + days) % 7, 0, meter)  # closes the last bin
    return meter


def test_a_weekly_pattern_is_learned_bin_by_bin() -> None:
    fc = DrawForecast(bin_minutes=15, weeks=4)

    def pattern(wd: int, b: int) -> float:
        return (1.0 + wd) * (3.0 if 28 <= b < 36 else 0.5)  # a morning peak, more at the weekend

    _feed(fc, 14, pattern)
    for wd in range(7):
        for b in (0, 10, 30, 95) if wd else (10, 30, 95):  # Monday 00:00 of week 1 had no reading before
            # A reading is booked in the bin of the tick that reads it: the first tick of a bin
            # carries the last 5 minutes of the bin before.
            expected = pattern(wd, b) * 2 / 3 + pattern(wd if b else (wd - 1) % 7, (b - 1) % 96) / 3
            assert fc.bin_kwh(wd, b) == pytest.approx(expected)
    # Over whole hours the bookkeeping shift cancels out except at the edges of the peak.
    assert fc.expected_kwh(2, 0, 1440) == pytest.approx(sum(pattern(2, b) for b in range(96)), rel=0.02)


def test_unseen_weekdays_fall_back_to_the_time_of_day_and_then_the_mean() -> None:
    fc = DrawForecast(bin_minutes=60, weeks=2)
    assert fc.bin_kwh(3, 5) == 0.0  # nothing seen yet: no draws expected
    _feed(fc, 1, lambda wd, b: float(b), tick_min=60, start_weekday=0)  # Monday only
    assert fc.bin_kwh(0, 7) == pytest.approx(6.0)  # booked one tick late: the hour before
    assert fc.bin_kwh(4, 7) == pytest.approx(6.0)  # Friday unseen: same hour on any day
    assert fc.samples == 24


def test_only_increases_of_the_meter_count() -> None:
    fc = DrawForecast(bin_minutes=60, weeks=1)
    fc.record(0, 0, 10.0)
    fc.record(0, 30, 12.0)
    fc.record(0, 45, 5.0)  # meter replaced or reset: no negative draw
    fc.record(0, 60, 6.0)
    fc.record(0, 120, 6.0)
    assert fc.bin_kwh(0, 0) == pytest.approx(2.0)
    assert fc.bin_kwh(0, 1) == pytest.approx(1.0)


def test_forecast_windows_wrap_midnight_into_the_next_weekday() -> None:
    fc = DrawForecast(bin_minutes=60, weeks=1)
    _feed(fc, 7, lambda wd, b: 10.0 * wd + b, tick_min=60)
    # Sunday 23:30 for an hour: half of Sunday's last bin, half of Monday's first.
    expected = 0.5 * fc.bin_kwh(6, 23) + 0.5 * fc.bin_kwh(0, 0)
    assert fc.expected_kwh(6, 23 * 60 + 30, 60) == pytest.approx(expected)


def test_bins_must_divide_a_day() -> None:
    with pytest.raises(ValueError):
        DrawForecast(bin_minutes=7)


def _loop_kwh(fc: DrawForecast, weekday: int, minute: float, span: float) -> float:
    """The forecast's definition, bin by bin from `bin_kwh`: what the fast paths must give exactly."""
    total, m, end, wd = 0.0, float(minute), float(minute) + span, weekday
    while m < end - 1e-9:
        if m >= 1440:
            m, end, wd = m - 1440, end - 1440, (wd + 1) % 7
        b = int(m // fc.bin_minutes)
        take = min(end, (b + 1) * fc.bin_minutes) - m
        total += fc.bin_kwh(wd, b) * take / fc.bin_minutes
        m += take
    return total


@pytest.mark.parametrize("bin_minutes", [15, 60])
def test_every_way_of_asking_gives_the_same_bits(bin_minutes: int) -> None:
    """Windows one at a time, many at once (whole or fractional minutes), days on arrays: equal, not close —
    the MPC's decisions must not depend on which path forecast its draws."""
    fc = DrawForecast(bin_minutes=bin_minutes, weeks=2)
    _feed(fc, 9, lambda wd, b: 0.1 + ((7 * wd + 3 * b) % 11) / 7.0, tick_min=4)
    rng = np.random.default_rng(0)
    weekdays = rng.integers(0, 7, 60)
    minutes = rng.integers(0, 1440, 60).astype(float)
    minutes[::3] += 0.25
    spans = rng.choice([0.0, 4.0, 60.0, 75.0, 1440.0, 2000.0, 3 * 1440.0], 60)
    expected = np.array([_loop_kwh(fc, int(w), m, s) for w, m, s in zip(weekdays, minutes, spans, strict=True)])
    assert np.array_equal(fc.expected_kwh_many(weekdays, minutes, spans), expected)
    whole = minutes % 1 == 0
    assert np.array_equal(fc.expected_kwh_many(weekdays[whole], minutes[whole], spans[whole]), expected[whole])
    one_by_one = [fc.expected_kwh(int(w), m, s) for w, m, s in zip(weekdays, minutes, spans, strict=True)]
    assert np.array_equal(np.array(one_by_one), expected)


def test_the_bin_means_follow_each_closed_bin() -> None:
    fc = DrawForecast(bin_minutes=60, weeks=1)
    fc.record(0, 0, 0.0)
    fc.record(0, 30, 2.0)
    before = fc.bin_means().copy()
    fc.record(0, 60, 5.0)  # closes Monday's first hour with 2 kWh (the next 3 go to the hour it opens)
    assert fc.bin_means()[0, 0] == 2.0 != before[0, 0]
    assert fc.bin_means()[3, 0] == 2.0  # Thursday 00:00 falls back to the time of day
    assert fc.bin_means()[3, 5] == 2.0  # an unseen hour, to the mean so far


def test_the_bin_means_are_bin_kwh_before_and_after_every_bin_has_history() -> None:
    fc = DrawForecast(bin_minutes=60, weeks=1)
    meter = 0.0
    for day in range(9):  # past the first week every bin has its own history, then one bin changes at a time
        for minute in range(0, 1440, 20):
            fc.record(day % 7, minute, meter)
            meter += 0.1 + (minute % 140) / 300.0 + day / 50.0
            means = fc.bin_means()
            if minute % 120 == 0:
                assert all(means[wd, b] == fc.bin_kwh(wd, b) for wd in range(7) for b in range(24))
