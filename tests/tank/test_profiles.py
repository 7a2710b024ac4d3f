"""Draw profiles: EU tapping cycles, DHWcalc-style stochastic building, CSV, mains, steps."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from tank.dhwcalc import (
    BUILDING_SHAPE,
    DHWCALC_CATEGORIES,
    HOUSEHOLD_SHAPE,
    StochasticProfile,
)
from tank.draw_csv import CsvProfile, DrawProfileError, write_draws_csv
from tank.draws import Draw, DrawProfile, DrawTable, draws_to_steps, steps_in
from tank.mains import FRENCH_MAINS, ConstantMains, SeasonalMains, day_of_year
from tank.tapping_cycles import TAPPING_CYCLES, TappingCycleProfile
from tank.water import HEAT_CAPACITY_J_PER_L_K

RESIDENCE_48 = {"T1": 8, "T2": 12, "T3": 16, "T4": 8, "T5": 4}
YEAR_START = date(2025, 1, 1)  # a Wednesday


# ---------------------------------------------------------------- EU tapping cycles

# Reg. 814/2013 Annex III Table 1: Qref (kWh/day) and number of rows.
REGULATION = {
    "M": (5.845, 23), "L": (11.655, 24), "XL": (19.070, 30),
    "XXL": (24.530, 30), "3XL": (46.76, 10), "4XL": (93.52, 10),
}


@pytest.mark.parametrize("name", list(REGULATION))
def test_tapping_cycle_daily_energy_and_rows_match_regulation(name: str) -> None:
    qref_kwh, n_rows = REGULATION[name]
    draws = TappingCycleProfile(name).draws(YEAR_START, 1)
    assert len(draws) == n_rows
    assert math.fsum(d.heat_kwh for d in draws) == pytest.approx(qref_kwh, abs=1e-9)


@pytest.mark.parametrize("name", list(REGULATION))
def test_tapping_draw_duration_carries_qtap_at_the_regulation_flow(name: str) -> None:
    for row, draw in zip(TAPPING_CYCLES[name], TappingCycleProfile(name).draws(YEAR_START, 1), strict=True):
        use_c = row.tp_c if row.tp_c is not None else row.tm_c
        assert draw.use_temp_c == use_c
        # Energy carried by f l/min for the draw's duration, heated from 10 °C to the use temperature.
        carried_j = row.flow_lpm / 60 * draw.duration_s * HEAT_CAPACITY_J_PER_L_K * (use_c - 10)
        assert carried_j == pytest.approx(row.qtap_kwh * 3.6e6, rel=1e-12)
        hh, mm = row.time.split(":")
        assert draw.start_s == int(hh) * 3600 + int(mm) * 60


def test_tapping_m_shower_is_about_40_litres_at_40c() -> None:
    shower = next(d for d in TappingCycleProfile("M").draws(YEAR_START, 1) if d.start_s == 7 * 3600 + 300)
    litres = shower.duration_s / 60 * 6  # f = 6 l/min
    assert litres == pytest.approx(1.4 * 3.6e6 / (HEAT_CAPACITY_J_PER_L_K * 30), rel=1e-12)
    assert 39 < litres < 42


def test_tapping_profile_repeats_daily_and_scales_heat_not_duration() -> None:
    one = TappingCycleProfile("4XL").draws(YEAR_START, 1)
    three = TappingCycleProfile("4xl", scale=2.0).draws(YEAR_START, 3)
    assert len(three) == 3 * len(one)
    for day in range(3):
        for a, b in zip(one, three[day * len(one) : (day + 1) * len(one)], strict=True):
            assert b.start_s == a.start_s + day * 86_400
            assert b.duration_s == a.duration_s
            assert b.heat_kwh == pytest.approx(2 * a.heat_kwh)
    assert math.fsum(d.heat_kwh for d in three) == pytest.approx(3 * 2 * 93.52, abs=1e-9)


def test_unknown_tapping_cycle_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"XXS.*valid: M, L, XL, XXL, 3XL, 4XL"):
        TappingCycleProfile("XXS")


# ---------------------------------------------------------------- draws_to_steps


def _reference_steps(draws: list[Draw], n_steps: int, step_s: float) -> np.ndarray:
    """Overlap of each draw with each step, computed the slow obvious way."""
    out = np.zeros(n_steps)
    for d in draws:
        rate = d.heat_kwh * 3.6e6 / d.duration_s
        for k in range(n_steps):
            overlap = min(d.start_s + d.duration_s, (k + 1) * step_s) - max(d.start_s, k * step_s)
            out[k] += rate * max(overlap, 0.0)
    return out


def test_draw_split_across_step_boundaries_in_proportion() -> None:
    steps = draws_to_steps([Draw(start_s=30.0, duration_s=150.0, heat_kwh=1.0)], n_steps=4, step_s=60.0)
    assert steps.heat_j.tolist() == pytest.approx([0.2 * 3.6e6, 0.4 * 3.6e6, 0.4 * 3.6e6, 0.0])
    assert steps.use_temp_c[:3].tolist() == [40.0, 40.0, 40.0]
    assert math.isnan(steps.use_temp_c[3])


def test_draws_to_steps_conserves_heat_and_matches_reference() -> None:
    rng = np.random.default_rng(7)
    draws = [
        Draw(float(s), float(d), float(q), float(t))
        for s, d, q, t in zip(
            rng.uniform(0, 3000, 300), rng.uniform(0.5, 700, 300), rng.uniform(0.01, 5, 300),
            rng.uniform(35, 55, 300), strict=True,
        )
    ]
    steps = draws_to_steps(draws, n_steps=70, step_s=60.0)  # horizon 4200 s > last end
    total_j = math.fsum(d.heat_kwh for d in draws) * 3.6e6
    assert steps.heat_j.sum() == pytest.approx(total_j, rel=1e-12)
    np.testing.assert_allclose(steps.heat_j, _reference_steps(draws, 70, 60.0), rtol=1e-9, atol=1e-6)


def test_step_use_temperature_is_heat_weighted() -> None:
    draws = [Draw(0.0, 10.0, 1.0, 40.0), Draw(20.0, 10.0, 3.0, 55.0)]
    steps = draws_to_steps(draws, n_steps=2, step_s=60.0)
    assert steps.use_temp_c[0] == pytest.approx((40 * 1 + 55 * 3) / 4)
    assert math.isnan(steps.use_temp_c[1])


def test_draws_are_cut_at_both_ends_of_the_horizon() -> None:
    draws = [Draw(-30.0, 60.0, 1.0), Draw(90.0, 60.0, 1.0), Draw(500.0, 10.0, 1.0)]
    steps = draws_to_steps(draws, n_steps=2, step_s=60.0)
    assert steps.heat_j.tolist() == pytest.approx([0.5 * 3.6e6, 0.5 * 3.6e6])


def test_steps_in_counts_a_partial_last_step() -> None:
    assert steps_in(1, 60.0) == 1440
    assert steps_in(2, 7.0) == math.ceil(2 * 86_400 / 7)


# ---------------------------------------------------------------- mains


def test_seasonal_mains_extremes_and_period() -> None:
    mains = SeasonalMains(mean_c=15.0, amplitude_k=6.0, coldest_day=46.0)
    assert mains.temp_c(46.0) == pytest.approx(9.0)
    assert mains.temp_c(46.0 + 365.25 / 2) == pytest.approx(21.0)
    days = np.linspace(1, 366, 36_501)
    temps = mains.temp_c(days)
    assert temps.shape == days.shape
    assert temps.min() == pytest.approx(9.0, abs=1e-6)
    assert temps.max() == pytest.approx(21.0, abs=1e-6)
    assert days[temps.argmin()] == pytest.approx(46.0, abs=0.02)
    assert temps.mean() == pytest.approx(15.0, abs=0.01)
    assert mains.temp_c(10.0) == pytest.approx(mains.temp_c(10.0 + 365.25))


def test_french_mains_cold_february_warm_august() -> None:
    assert FRENCH_MAINS.temp_c(day_of_year(date(2025, 2, 15))) == pytest.approx(9.0, abs=0.05)
    assert FRENCH_MAINS.temp_c(day_of_year(date(2025, 8, 16))) == pytest.approx(21.0, abs=0.05)


def test_constant_mains_vectorised() -> None:
    mains = ConstantMains(12.5)
    assert isinstance(mains.temp_c(3.0), float)
    assert mains.temp_c(np.arange(4.0)).tolist() == [12.5] * 4


# ---------------------------------------------------------------- stochastic profile


def _daily(profile: StochasticProfile, days: int, start: date = YEAR_START) -> tuple[np.ndarray, DrawTable]:
    """Daily volumes (litres at 60 °C) recovered from the heat, with mains at a constant 10 °C."""
    table = profile.table(start, days)
    litres = table.heat_kwh * 3.6e6 / (HEAT_CAPACITY_J_PER_L_K * 50.0)
    return np.bincount((table.start_s // 86_400).astype(int), litres, days), table


@pytest.fixture(scope="module")
def year_seed0() -> tuple[StochasticProfile, np.ndarray, DrawTable]:
    profile = StochasticProfile(RESIDENCE_48, mains=ConstantMains(10.0), seed=0)
    daily, table = _daily(profile, 365)
    return profile, daily, table


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stochastic_yearly_mean_hits_target(seed: int) -> None:
    profile = StochasticProfile(RESIDENCE_48, mains=ConstantMains(10.0), seed=seed)
    target_l = (8 * 0.6 + 12 * 0.7 + 16 * 1.0 + 8 * 1.4 + 4 * 1.8) * 70.0
    assert profile.mean_daily_volume_l == pytest.approx(target_l)
    daily, _ = _daily(profile, 365)
    assert daily.mean() == pytest.approx(target_l, rel=0.01)


def test_stochastic_category_shares(year_seed0: tuple[StochasticProfile, np.ndarray, DrawTable]) -> None:
    _, _, table = year_seed0
    total = table.heat_kwh.sum()
    for cat in DHWCALC_CATEGORIES:
        share = table.heat_kwh[table.category == cat.name].sum() / total
        assert share == pytest.approx(cat.share, abs=0.02), cat.name
        temps = table.use_temp_c[table.category == cat.name]
        assert (temps == cat.use_temp_c).all()


def test_stochastic_weekend_ratio(year_seed0: tuple[StochasticProfile, np.ndarray, DrawTable]) -> None:
    _, daily, _ = year_seed0
    weekend = np.array([(YEAR_START + timedelta(days=i)).weekday() >= 5 for i in range(365)])
    assert daily[weekend].mean() / daily[~weekend].mean() == pytest.approx(1.2, abs=0.03)


def test_stochastic_seasonal_swing_peaks_near_day_45(
    year_seed0: tuple[StochasticProfile, np.ndarray, DrawTable],
) -> None:
    profile, daily, _ = year_seed0
    weekend = np.array([(YEAR_START + timedelta(days=i)).weekday() >= 5 for i in range(365)])
    season = daily / np.where(weekend, profile.weekend_factor, profile.weekday_factor)
    doy = np.arange(1, 366)
    phase = 2 * np.pi * doy / 365.25
    design = np.column_stack([np.ones(365), np.cos(phase), np.sin(phase)])
    (a, b, c), *_ = np.linalg.lstsq(design, season, rcond=None)
    peak_day = (np.arctan2(c, b) % (2 * np.pi)) * 365.25 / (2 * np.pi)
    assert peak_day == pytest.approx(45, abs=7)
    assert math.hypot(b, c) / a == pytest.approx(0.10, abs=0.02)


def test_stochastic_same_seed_same_draws_other_seed_other_draws() -> None:
    make = lambda seed: StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=seed)  # noqa: E731
    first = make(5).draws(YEAR_START, 3)
    assert make(5).draws(YEAR_START, 3) == first
    assert make(6).draws(YEAR_START, 3) != first


def test_stochastic_draws_of_a_date_do_not_depend_on_the_window() -> None:
    profile = StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=3)
    long = profile.table(YEAR_START, 12)
    short = profile.table(YEAR_START + timedelta(days=9), 2)
    in_window = (long.start_s >= 9 * 86_400) & (long.start_s < 11 * 86_400)
    np.testing.assert_allclose(long.start_s[in_window] - 9 * 86_400, short.start_s, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(long.heat_kwh[in_window], short.heat_kwh)


def test_stochastic_heat_follows_mains_and_flows_stay_in_limits() -> None:
    profile = StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=1)
    start = date(2025, 2, 14)
    generated = profile.generate(start, 3)
    t = generated.table
    doy = start.timetuple().tm_yday + t.start_s / 86_400
    expected_kwh = generated.volume_l * HEAT_CAPACITY_J_PER_L_K * (60.0 - FRENCH_MAINS.temp_c(doy)) / 3.6e6
    np.testing.assert_allclose(t.heat_kwh, expected_kwh, rtol=1e-12)
    flow_lpm = generated.volume_l / (t.duration_s / 60)
    assert flow_lpm.min() >= 1 / 60 and flow_lpm.max() <= 20.0
    assert np.all(np.diff(t.start_s) >= 0)


def test_building_shape_busiest_hours_and_household_morning_peak() -> None:
    hourly = BUILDING_SHAPE.weekday.reshape(24, 60).sum(axis=1)
    assert hourly.argmax() == 20 and hourly[:12].argmax() == 7
    assert (hourly[20], hourly[7]) == pytest.approx((0.093, 0.086), abs=1e-9)
    assert HOUSEHOLD_SHAPE.weekday[6 * 60 + 30 : 7 * 60 + 30].sum() == pytest.approx(0.50)
    # DHWcalc's weekend shares add up to 100.1 %; the shape is normalised.
    assert HOUSEHOLD_SHAPE.sunday[7 * 60 : 9 * 60].sum() == pytest.approx(0.475 / 1.001)


def test_generated_draw_times_follow_the_shape(
    year_seed0: tuple[StochasticProfile, np.ndarray, DrawTable],
) -> None:
    _, _, table = year_seed0
    day = (table.start_s // 86_400).astype(int)
    weekday = np.array([(YEAR_START + timedelta(days=int(i))).weekday() < 5 for i in range(365)])[day]
    hour = ((table.start_s % 86_400) // 3600).astype(int)
    heat_by_hour = np.bincount(hour[weekday], table.heat_kwh[weekday], 24)
    share = heat_by_hour / heat_by_hour.sum()
    expected = BUILDING_SHAPE.weekday.reshape(24, 60).sum(axis=1)
    np.testing.assert_allclose(share, expected, atol=0.01)


def test_ten_minute_peak_of_48_flats_reaches_costic_design_value() -> None:
    profile = StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=2)
    litres = profile.volume_steps_l(YEAR_START, 365, 60.0)
    ten_min = np.convolve(litres, np.ones(10), mode="valid")
    daily_peak = np.array([ten_min[d * 1440 : (d + 1) * 1440].max() for d in range(364)])
    costic_v10 = 61 * 48**0.503  # ≈ 428 L at 60 °C
    # The busiest evenings of the year (top 1 % of days) reach the design value.
    assert np.percentile(daily_peak, 99) == pytest.approx(costic_v10, rel=0.2)
    assert np.median(daily_peak) < 0.75 * costic_v10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flats": {"T9": 3}}, "unknown flat types"),
        ({"shape": "office"}, "unknown daily shape"),
        ({"categories": DHWCALC_CATEGORIES[:2]}, "sum to 1"),
        ({"burst_block_s": 700.0}, "burst_block_s"),
    ],
)
def test_stochastic_rejects_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"flats": RESIDENCE_48, "mains": FRENCH_MAINS, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        StochasticProfile(**args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- protocol


def test_every_profile_implements_the_protocol_and_steps_match_draws(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("timestamp,heat_kwh\n2025-01-01T07:00:00,1.0\n2025-01-02T23:59:30,2.0\n")
    profiles = [
        TappingCycleProfile("XL"),
        StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=0),
        CsvProfile(csv_path, ConstantMains(10.0)),
    ]
    for profile in profiles:
        assert isinstance(profile, DrawProfile)
        steps = profile.steps(YEAR_START, 2, 300.0)
        assert steps.heat_j.shape == (2 * 288,)
        reference = draws_to_steps(profile.draws(YEAR_START, 2), 2 * 288, 300.0)
        np.testing.assert_allclose(steps.heat_j, reference.heat_j, rtol=1e-12)


# ---------------------------------------------------------------- CSV


def test_csv_round_trip(tmp_path: Path) -> None:
    draws = StochasticProfile(RESIDENCE_48, mains=FRENCH_MAINS, seed=4).draws(YEAR_START, 2)
    path = tmp_path / "draws.csv"
    write_draws_csv(path, draws, YEAR_START)
    loaded = CsvProfile(path, FRENCH_MAINS).draws(YEAR_START, 2)
    assert len(loaded) == len(draws)
    for a, b in zip(draws, loaded, strict=True):
        assert b.start_s == pytest.approx(a.start_s, abs=1e-6)  # ISO timestamps keep microseconds
        assert (b.duration_s, b.heat_kwh, b.use_temp_c, b.category) == (
            a.duration_s, a.heat_kwh, a.use_temp_c, a.category,
        )


def test_csv_volumes_defaults_time_zones_and_window(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text(
        "timestamp,volume_l,volume_temp_c,duration_s,use_temp_c\n"
        "2025-02-15T07:00:00,40,,300,38\n"
        "# a comment line\n"
        "\n"
        "2025-02-15T06:00:00Z,10,55,,\n"
        "2025-02-17T00:00:00,5,,,\n"
    )
    profile = CsvProfile(path, FRENCH_MAINS, site_tz="Europe/Paris")
    first, second = profile.draws(date(2025, 2, 15), 2)  # the 17th is outside the window
    assert len(profile.draws(date(2025, 2, 15), 3)) == 3
    # 06:00 UTC is 07:00 in Paris in winter; rows are sorted by time (stable for equal times).
    assert first.start_s == second.start_s == 7 * 3600
    mains_c = FRENCH_MAINS.temp_c(day_of_year(date(2025, 2, 15), 7 * 3600))
    assert first.heat_kwh == pytest.approx(40 * HEAT_CAPACITY_J_PER_L_K * (60 - mains_c) / 3.6e6, rel=1e-12)
    assert (first.duration_s, first.use_temp_c) == (300.0, 38.0)
    assert second.heat_kwh == pytest.approx(10 * HEAT_CAPACITY_J_PER_L_K * (55 - mains_c) / 3.6e6, rel=1e-12)
    assert (second.duration_s, second.use_temp_c) == (60.0, 40.0)
    later = profile.draws(date(2025, 2, 16), 2)
    assert [d.start_s for d in later] == [86_400.0]


@pytest.mark.parametrize(
    ("rows", "line", "column"),
    [
        ("2025-13-01T07:00,1,60,40\n", 2, "timestamp"),
        ("2025-01-01T07:00,abc,60,40\n", 2, "heat_kwh"),
        ("2025-01-01T07:00,1,60,40\n2025-01-01T08:00,-1,60,40\n", 3, "heat_kwh"),
        ("2025-01-01T07:00,nan,60,40\n", 2, "heat_kwh"),
        ("2025-01-01T07:00,,60,40\n", 2, "heat_kwh"),
        ("2025-01-01T07:00,1,0,40\n", 2, "duration_s"),
        ("2025-01-01T07:00,1,-5,40\n", 2, "duration_s"),
        ("2025-01-01T07:00,1,60,150\n", 2, "use_temp_c"),
        ("\n# note\n2025-01-01T07:00,1,60,warm\n", 4, "use_temp_c"),
        ("2025-01-01T07:00,1,60,40,extra\n", 2, None),
        ("2025-01-01T07:00,1\n", 2, None),
    ],
)
def test_csv_bad_rows_name_line_and_column(tmp_path: Path, rows: str, line: int, column: str | None) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,heat_kwh,duration_s,use_temp_c\n" + rows)
    with pytest.raises(DrawProfileError, match=rf"line {line}\b") as err:
        CsvProfile(path, ConstantMains(10.0))
    if column:
        assert f"column {column!r}" in str(err.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("timestamp,heat_kwh,volume_l\n2025-01-01T07:00,1,2\n", r"line 1: need exactly one"),
        ("timestamp,duration_s\n2025-01-01T07:00,60\n", r"line 1: need exactly one"),
        ("timestamp,heat_kwh,colour\n2025-01-01T07:00,1,red\n", r"line 1, column 'colour'"),
        ("heat_kwh\n1\n", r"line 1, column 'timestamp'"),
        ("timestamp,volume_l,volume_temp_c\n2025-02-15T07:00,5,8\n", r"line 2, column 'volume_temp_c'"),
        ("# only a comment\n", r"no header"),
    ],
)
def test_csv_bad_headers_and_values(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DrawProfileError, match=match):
        CsvProfile(path, FRENCH_MAINS)
