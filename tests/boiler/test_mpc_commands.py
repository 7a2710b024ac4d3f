"""From the plan to commands: the fleet target takes whole miners, the aquastat's margin follows the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from boiler import scenarios
from boiler.control.mpc import MpcStrategy
from boiler.control.types import Observation
from boiler.simulation import Simulation


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
        monkeypatch.setattr(mpc, "_reserve_short", lambda _now, _obs, s=short: s)
        seen[(peak, short)] = mpc.decide(obs.now_s, obs).gas_setpoint_c - base_c
    assert seen == {(True, False): pytest.approx(9.0), (False, True): pytest.approx(9.0),
                    (False, False): pytest.approx(2.0)}
