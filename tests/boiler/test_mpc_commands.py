"""From the plan to commands: the fleet target takes whole miners, the aquastat's margin follows the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from boiler import scenarios
from boiler.control.mpc import MpcStrategy
from boiler.control.types import Observation
from boiler.simulation import Simulation, run_simulation


def _mpc(scenario: str, **knobs: float) -> tuple[MpcStrategy, Observation]:
    cfg = scenarios.load(scenario)
    cfg.control.mpc = cfg.control.mpc.model_copy(update=knobs)
    sim = Simulation(cfg, 1, date(2026, 1, 5), strategy="mpc")
    obs = sim.tick().observation
    strategy = sim.controller.safety.strategy
    assert isinstance(strategy, MpcStrategy)
    return strategy, obs


@pytest.mark.parametrize(("power_w", "snapped_w"), [
    (4_750.0, 5_000.0),  # both S21 Hyd at their 2.5 kW minimum, not one near full power
    (4_000.0, 5_000.0),  # 80 % of the way
    (3_900.0, 3_900.0),  # below it: one miner
    (2_100.0, 2_500.0),  # one miner's minimum
    (1_900.0, 1_900.0),
    (7_000.0, 7_000.0),  # both already run
])
def test_a_power_just_short_of_one_more_miner_takes_that_miner(power_w: float, snapped_w: float) -> None:
    mpc, _ = _mpc("residence-48", snap_share=0.8)
    assert mpc._snap_to_more_miners(power_w) == snapped_w
    never, _ = _mpc("residence-48", snap_share=1.0)
    assert never._snap_to_more_miners(power_w) == power_w


@pytest.mark.parametrize(("power_w", "snapped_w"), [(2_600.0, 5_000.0), (2_400.0, 2_500.0), (1_200.0, 1_200.0)])
def test_the_default_share_takes_one_more_miner_from_half_its_need(power_w: float, snapped_w: float) -> None:
    """At the default (0.5) a fleet power half-way to two miners' minimums runs both at their minimum."""
    mpc, _ = _mpc("residence-48")
    assert mpc.c.snap_share == 0.5
    assert mpc._snap_to_more_miners(power_w) == snapped_w


def test_a_lower_aquastat_holds_only_while_the_pre_heat_water_is_warm(monkeypatch: pytest.MonkeyPatch) -> None:
    """gas_margin_k −1 and a −2 K outlet trim apply in full over a warm pre-heat volume while the miners
    charge, fade as it cools, and leave only the cold boost over a store at the mains."""
    mpc, obs = _mpc("residence-48", gas_margin_k=-1.0, cold_boost_k=8.0)
    mpc.trim.trim_k = -2.0
    margins = {}
    for share in (0.0, 0.5, 1.0):
        monkeypatch.setattr(mpc, "_cold_share", lambda _obs, s=share: s)
        margins[share] = mpc._gas_margin_k(obs)
    assert margins == {0.0: pytest.approx(-3.0), 0.5: pytest.approx(-1.5 + 4.0), 1.0: pytest.approx(8.0)}
    # Miners idle: the loop's return may keep the store warm, but nothing refills it during a peak.
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 0.0)
    assert mpc._gas_margin_k(obs, mining=False) == 0.0
    # A positive margin is kept whatever the store.
    mpc, obs = _mpc("residence-48", gas_margin_k=1.5, cold_boost_k=0.0)
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 1.0)
    assert mpc._gas_margin_k(obs) == pytest.approx(1.5)


def test_the_cold_share_reads_the_store() -> None:
    mpc, obs = _mpc("residence-48")
    keys = [k for k in obs.sensors_c]
    cold = {k: obs.cold_water_c for k in keys}
    warm = {k: mpc.theta_c for k in keys}

    assert mpc._cold_share(replace(obs, sensors_c=cold)) == pytest.approx(1.0)
    assert mpc._cold_share(replace(obs, sensors_c=warm)) == 0.0
    assert mpc._cold_share(replace(obs, sensors_c={k: None for k in keys})) == 1.0  # no estimate: assume cold


def test_miners_that_finish_the_water_keep_a_lower_backup_and_no_cold_boost(monkeypatch: pytest.MonkeyPatch) -> None:
    """residence-48-hot charges with a controlled flow from the top down: a cold base is its normal state, so
    no cold boost, and the backup aquastat sits `finish_gas_margin_k` lower while the miners charge."""
    mpc, obs = _mpc("residence-48-hot", finish_gas_margin_k=-1.0, cold_boost_k=8.0)
    assert mpc.finishing
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 0.0)
    assert mpc._gas_margin_k(obs) == pytest.approx(-1.0)
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 1.0)
    assert mpc._gas_margin_k(obs) == 0.0  # neither the lower margin nor a boost over a cold base
    plain, _ = _mpc("residence-48")
    assert not plain.finishing


def test_the_cold_boost_is_kept_whole_only_for_peaks_and_a_short_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off-peak flows the burner lifts as they come: over a store at the mains only `cold_offpeak_share` of the
    cold boost stays; before a forecast peak or with a short hot reserve the whole boost (and the peak boost)."""
    mpc, obs = _mpc("residence-48", cold_boost_k=8.0, cold_offpeak_share=0.25, peak_boost_k=1.0)
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 1.0)
    assert mpc._gas_margin_k(obs, mining=False, peak=True) == pytest.approx(8.0)
    assert mpc._gas_margin_k(obs, mining=False, peak=False) == pytest.approx(2.0)
    # Through decide: the aquastat the plan's tick commands with a peak ahead, a short reserve, neither.
    monkeypatch.setattr(mpc, "forecast_ready", lambda: True)
    monkeypatch.setattr(mpc, "_planned", lambda _now: (0.0, False))
    mpc._next_replan_s = float("inf")
    base_c = mpc.c_setpoint + mpc.gas_hysteresis_k
    seen = {}
    for peak, short in ((True, False), (False, True), (False, False)):
        monkeypatch.setattr(mpc, "_peak_ahead", lambda _now, _obs, p=peak: p)
        # A cover below 1 is a short reserve; 1.5 is neither short nor ample.
        monkeypatch.setattr(mpc, "_reserve_cover", lambda _now, _obs, s=short: 0.5 if s else 1.5)
        seen[(peak, short)] = mpc.decide(obs.now_s, obs).gas_setpoint_c - base_c
    assert seen == {(True, False): pytest.approx(9.0), (False, True): pytest.approx(9.0),
                    (False, False): pytest.approx(2.0)}


@pytest.mark.parametrize(("scenario", "fed"), [("residence-48-preheat", True), ("residence-48", False),
                                              ("residence-48-hot", False)])
def test_a_finishing_tank_fed_by_a_pre_heat_tank_takes_no_flat_peak_boost(
        monkeypatch: pytest.MonkeyPatch, scenario: str, fed: bool) -> None:
    """Where the gas zone is a tank of its own fed from a pre-heat tank (coil from its base), a forecast peak
    raises the aquastat only through the cold boost; a short reserve still adds the peak boost. A zone atop
    its own pre-heat volume takes the peak boost before a peak."""
    mpc, obs = _mpc(scenario, peak_boost_k=1.5, reserve_trim_k=0.0)
    assert mpc.zone_fed_by_preheat is fed
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 0.0)
    monkeypatch.setattr(mpc, "forecast_ready", lambda: True)
    monkeypatch.setattr(mpc, "_planned", lambda _now: (0.0, False))
    mpc._next_replan_s = float("inf")
    seen = {}
    for peak, short in ((True, False), (False, True), (False, False)):
        monkeypatch.setattr(mpc, "_peak_ahead", lambda _now, _obs, p=peak: p)
        monkeypatch.setattr(mpc, "_reserve_cover", lambda _now, _obs, s=short: 0.5 if s else 1.5)
        d = mpc.decide(obs.now_s, obs)
        seen[(peak, short)] = d.gas_setpoint_c
        assert ("peak" in d.reason.split(":")) is peak  # the forecast's peak is named either way
    assert seen[(False, True)] - seen[(False, False)] == pytest.approx(1.5)
    assert seen[(True, False)] - seen[(False, False)] == pytest.approx(0.0 if fed else 1.5)


def test_an_ample_hot_reserve_lowers_the_aquastat_over_a_warm_pre_heat_volume(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With `reserve_ample_cover` times the next hour's draw hot, the aquastat sits `reserve_trim_k`
    lower (a burner fired from the foot of a hot zone only stacks heat at the outlet); the cut fades as the
    pre-heat volume cools, like the other lower aquastats, and holds whether or not the miners charge."""
    mpc, obs = _mpc("house-xl", reserve_trim_k=4.0, gas_margin_k=0.0, cold_boost_k=8.0, cold_offpeak_share=0.25)
    mpc.trim.trim_k = 0.0
    seen = {}
    for share in (0.0, 0.5, 1.0):
        monkeypatch.setattr(mpc, "_cold_share", lambda _obs, s=share: s)
        seen[share] = (mpc._gas_margin_k(obs, peak=False, ample=True), mpc._gas_margin_k(obs, peak=False))
    assert seen == {0.0: (pytest.approx(-4.0), 0.0), 0.5: (pytest.approx(-2.0 + 1.0), pytest.approx(1.0)),
                    1.0: (pytest.approx(2.0), pytest.approx(2.0))}
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 0.0)
    assert mpc._gas_margin_k(obs, mining=False, peak=False, ample=True) == pytest.approx(-4.0)


def test_the_reserve_is_ample_only_with_the_outlet_clear_and_hours_of_draw_hot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    mpc, obs = _mpc("house-xl", reserve_ample_cover=3.0, outlet_trim_guard_k=2.0)
    hot = replace(obs, sensors_c={k: 70.0 for k in obs.sensors_c}, outlet_c=70.0)
    monkeypatch.setattr(mpc, "expected_draw_kwh", lambda _now, _obs, _ahead, _span: 1.0)
    cover = mpc._reserve_cover(obs.now_s, hot)
    assert cover > 3.0  # 300 L at 70 °C against one hour's 1 kWh
    assert mpc._reserve_ample(hot, cover)
    assert not mpc._reserve_ample(replace(hot, outlet_c=61.9), cover)  # within the trim's guard
    assert not mpc._reserve_ample(hot, 2.9)
    off, _ = _mpc("house-xl", reserve_trim_k=0.0, reserve_ample_cover=3.0)
    assert not off._reserve_ample(hot, cover)  # the cut switched off
    # Twice the draw halves the cover; enough draw makes the reserve short.
    monkeypatch.setattr(mpc, "expected_draw_kwh", lambda _now, _obs, _ahead, _span: 2.0)
    assert mpc._reserve_cover(obs.now_s, hot) == pytest.approx(cover / 2.0)
    big_kwh = 1.1 * cover
    monkeypatch.setattr(mpc, "expected_draw_kwh", lambda _now, _obs, _ahead, _span: big_kwh)
    assert mpc._reserve_cover(obs.now_s, hot) < 1.0
    # No draw expected: ample; no readable sensor: short.
    monkeypatch.setattr(mpc, "expected_draw_kwh", lambda _now, _obs, _ahead, _span: 0.0)
    assert mpc._reserve_ample(hot, mpc._reserve_cover(obs.now_s, hot))
    blind = replace(hot, sensors_c={k: None for k in obs.sensors_c})
    assert mpc._reserve_cover(obs.now_s, blind) == 0.0


def test_decide_lowers_the_aquastat_for_an_ample_reserve_but_never_before_a_peak(
        monkeypatch: pytest.MonkeyPatch) -> None:
    mpc, obs = _mpc("house-xl", reserve_trim_k=4.0, reserve_ample_cover=3.0, gas_margin_k=0.0, peak_boost_k=1.0)
    mpc.trim.trim_k = 0.0
    monkeypatch.setattr(mpc, "_cold_share", lambda _obs: 0.0)
    monkeypatch.setattr(mpc, "forecast_ready", lambda: True)
    monkeypatch.setattr(mpc, "_planned", lambda _now: (1_500.0, False))
    mpc._next_replan_s = float("inf")
    hot = replace(obs, outlet_c=70.0)
    base_c = mpc.c_setpoint + mpc.gas_hysteresis_k
    seen = {}
    for peak, cover in ((False, 5.0), (False, 2.0), (True, 5.0)):
        monkeypatch.setattr(mpc, "_peak_ahead", lambda _now, _obs, p=peak: p)
        monkeypatch.setattr(mpc, "_reserve_cover", lambda _now, _obs, c=cover: c)
        d = mpc.decide(obs.now_s, hot)
        seen[(peak, cover)] = (d.gas_setpoint_c - base_c, "reserve_ample" in d.reason)
    assert seen == {(False, 5.0): (pytest.approx(-4.0), True), (False, 2.0): (0.0, False),
                    (True, 5.0): (pytest.approx(1.0), False)}


def test_on_a_one_miner_house_the_reserve_trim_cools_the_outlet_and_holds_60_c() -> None:
    """house-xl: a 24 kW burner fired from the foot of a 300 L tank's hot zone stacks each firing's heat at
    the outlet. Over two weeks the reserve trim keeps every litre at 60 °C or more and lowers the mean
    outlet by at least 0.5 K against the same controller without it."""
    def run(trim_k: float) -> dict:
        cfg = scenarios.load("house-xl")
        cfg.control.mpc = cfg.control.mpc.model_copy(update={"reserve_trim_k": trim_k})
        return run_simulation(cfg, 14, date(2026, 1, 5), strategy="mpc").summary

    with_trim, without = run(4.0), run(0.0)
    assert with_trim["dhw_volume_below_setpoint_l"] == 0.0
    assert without["dhw_volume_below_setpoint_l"] == 0.0
    assert with_trim["mean_outlet_temp_c"] <= without["mean_outlet_temp_c"] - 0.5
