"""Hygiene checker: rule presets, cycle criteria, rolling-24 h requirements and the log.

Oracles: domain.md §6 item 11 (synthetic coldest-node traces), exact episode boundaries derived
from the rolling-window definition, and a brute-force window check on random traces.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from datetime import timedelta, timezone

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from boiler.hygiene import (
    CSV_COLUMNS,
    ComplianceEvent,
    HygieneChecker,
    HygieneRules,
    StoreRole,
)

DAY = 86_400.0
H = 3600.0
MIN = 60.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC

# One piece of a piecewise-constant trace: (duration_s, outlet_c, loop_return_c, {store: coldest_c}).
Segment = tuple[float, float, float, Mapping[str, float]]

TANK: dict[str, StoreRole] = {"tank": "finishing"}


def run(
    rules: HygieneRules,
    segments: Sequence[Segment],
    dt_s: float,
    stores: Mapping[str, StoreRole] = TANK,
    t0: float = T0,
    finish: bool = True,
    due_log: list[tuple[float, bool]] | None = None,
    checker: HygieneChecker | None = None,
) -> HygieneChecker:
    c = checker or HygieneChecker(rules, stores)
    t = t0
    for duration_s, outlet_c, loop_c, mins in segments:
        n = round(duration_s / dt_s)
        assert math.isclose(n * dt_s, duration_s), "segment must be a whole number of steps"
        for _ in range(n):
            t += dt_s
            c.update(t, dt_s, outlet_c, loop_c, mins)
            if due_log is not None:
                due_log.append((t, c.cycle_due(t)))
    if finish:
        c.finish()
    return c


def hot(duration_s: float, tank_c: float) -> Segment:
    """Outlet and loop fine; only the finishing store's coldest node varies."""
    return (duration_s, 62.0, 57.0, {"tank": tank_c})


def of_kind(c: HygieneChecker, kind: str) -> list[ComplianceEvent]:
    return [ev for ev in c.events if ev.kind == kind]


def cycles(c: HygieneChecker) -> list[ComplianceEvent]:
    return [ev for ev in c.events if ev.kind in ("cycle_pass", "cycle_fail")]


# ---- domain.md §6 item 11: cycle criteria --------------------------------------------------


@pytest.mark.parametrize(
    ("temp_c", "hold_s", "dt_s", "expected"),
    [
        (60.0, 59 * MIN, 60.0, "cycle_fail"),
        (60.0, 59 * MIN, 10.0, "cycle_fail"),
        (60.0, 60 * MIN, 60.0, "cycle_pass"),
        (60.0, 60 * MIN, 10.0, "cycle_pass"),
        (65.0, 4 * MIN, 60.0, "cycle_pass"),
        (65.0, 4 * MIN, 10.0, "cycle_pass"),
        (65.0, 3.9 * MIN, 6.0, "cycle_fail"),
        (70.0, 2 * MIN, 60.0, "cycle_pass"),
        (70.0, 2 * MIN, 10.0, "cycle_pass"),
        (70.0, 1.9 * MIN, 6.0, "cycle_fail"),
        (70.0, 1.9 * MIN, 1.0, "cycle_fail"),
        (64.9, 59 * MIN, 60.0, "cycle_fail"),  # 64.9 only meets the 60 °C criterion
        (69.9, 3.9 * MIN, 6.0, "cycle_fail"),
    ],
)
def test_cycle_criteria_on_synthetic_coldest_node(temp_c: float, hold_s: float, dt_s: float, expected: str):
    c = run(HygieneRules(), [hot(30 * MIN, 50.0), hot(hold_s, temp_c), hot(30 * MIN, 50.0)], dt_s)
    [ev] = cycles(c)
    assert ev.kind == expected
    assert ev.store == "tank"
    assert ev.start_s == pytest.approx(T0 + 30 * MIN)
    assert ev.end_s == pytest.approx(T0 + 30 * MIN + hold_s)
    assert ev.extreme_c == temp_c
    assert not ev.violation
    assert c.summary().cycles_passed == (expected == "cycle_pass")


def test_hold_must_be_contiguous_per_criterion():
    # 30 + 30 min at 60 °C around a 59.8 °C sample: one attempt (hysteresis) but no 60-min hold.
    c = run(
        HygieneRules(), [hot(H, 50), hot(30 * MIN, 60), hot(MIN, 59.8), hot(30 * MIN, 60), hot(H, 50)], 60
    )
    [ev] = cycles(c)
    assert ev.kind == "cycle_fail"
    assert "1800 s of 3600 s" in ev.detail
    assert ev.end_s - ev.start_s == 61 * MIN


def test_hotter_samples_count_toward_cooler_criteria():
    # 3 min at 65 then 1 min at 70: ≥ 65 °C held 4 min although neither step alone passes.
    c = run(HygieneRules(), [hot(H, 50), hot(3 * MIN, 65), hot(MIN, 70), hot(H, 50)], 60)
    [ev] = cycles(c)
    assert ev.kind == "cycle_pass"
    assert "65 °C" in ev.detail


def test_drop_below_hysteresis_band_splits_attempts():
    c = run(
        HygieneRules(), [hot(H, 50), hot(40 * MIN, 60), hot(MIN, 59.4), hot(40 * MIN, 60), hot(H, 50)], 60
    )
    assert [ev.kind for ev in cycles(c)] == ["cycle_fail", "cycle_fail"]


def test_attempt_ends_at_the_last_sample_at_temperature():
    # Lingering inside the hysteresis band keeps the attempt open but is not time at temperature.
    c = run(HygieneRules(), [hot(H, 50), hot(30 * MIN, 61), hot(20 * MIN, 59.7), hot(H, 50)], 60)
    [ev] = cycles(c)
    assert (ev.start_s, ev.end_s, ev.extreme_c) == (T0 + H, T0 + 90 * MIN, 61)


def test_cycle_across_midnight_counts_once():
    # The run starts at noon; the only cycle runs 23:30-00:30, 30 min on each calendar day.
    rules = HygieneRules(daily_cycle="always")
    start = T0 - 12 * H
    trace = [hot(11.5 * H, 50), hot(H, 60.5), hot(20 * H, 50)]
    c = run(rules, trace, 60, t0=start)
    [ev] = cycles(c)
    assert ev.kind == "cycle_pass"
    assert (ev.start_s, ev.end_s) == (T0 - 30 * MIN, T0 + 30 * MIN)
    # Grace ends at noon of day 1 (24 h after the start); the 00:30 pass holds until 00:30 of day 2.
    assert of_kind(c, "cycle_missed") == []
    s = c.summary()
    assert s.compliant and s.cycles_passed == 1
    assert s.last_cycle_s == {"tank": T0 + 30 * MIN}


def test_store_held_hot_for_days_stays_compliant():
    c = run(HygieneRules(daily_cycle="always"), [hot(3 * DAY, 61.0)], 60)
    assert [ev.kind for ev in c.events] == ["cycle_pass"]
    assert c.summary().compliant
    assert c.last_cycle_pass_s("tank") == T0 + 3 * DAY


# ---- continuous temperatures ----------------------------------------------------------------


@pytest.mark.parametrize("dt_s", [10.0, 60.0])
def test_loop_return_49_9_for_one_sample_is_logged(dt_s: float):
    fr = HygieneRules.for_preset("fr")
    c = run(fr, [(H, 56, 52, {"tank": 45}), (dt_s, 56, 49.9, {"tank": 45}), (H, 56, 52, {"tank": 45})], dt_s)
    [ev] = c.events
    assert ev.kind == "loop_return_low" and ev.violation
    assert (ev.start_s, ev.end_s) == (T0 + H, T0 + H + dt_s)
    assert ev.extreme_c == 49.9
    s = c.summary()
    assert not s.compliant
    assert s.loop_return_minutes_below == pytest.approx(dt_s / 60)


def test_loop_return_exactly_at_minimum_is_fine():
    c = run(HygieneRules.for_preset("fr"), [(2 * H, 56, 50.0, {"tank": 45})], 60)
    assert c.events == [] and c.summary().compliant


def test_outlet_episode_is_logged_once_with_extreme():
    trace = [hot(H, 50), (10 * MIN, 59.5, 57, {"tank": 50}), (5 * MIN, 58.0, 57, {"tank": 50}), hot(H, 50)]
    c = run(HygieneRules(), trace, 60)
    [ev] = c.events
    assert ev.kind == "outlet_low" and ev.violation
    assert (ev.start_s, ev.end_s, ev.extreme_c) == (T0 + H, T0 + H + 15 * MIN, 58.0)
    assert c.summary().outlet_minutes_below == 15


@pytest.mark.parametrize(
    ("dip_min", "kind", "violation"), [(4, "outlet_dip", False), (5, "outlet_low", True)]
)
def test_de_tolerates_short_outlet_dips(dip_min: int, kind: str, violation: bool):
    de = HygieneRules.for_preset("de")
    c = run(de, [hot(H, 50), (dip_min * MIN, 58.0, 57, {"tank": 50}), hot(H, 50)], 60)
    [ev] = c.events
    assert (ev.kind, ev.violation) == (kind, violation)
    assert c.summary().compliant is not violation


@pytest.mark.parametrize(("dip_min", "missed"), [(4, False), (5, True)])
def test_fr_with_dip_tolerance_only_longer_dips_call_for_a_cycle(dip_min: int, missed: bool):
    rules = HygieneRules.for_preset("fr", outlet_dip_tolerance_s=300)
    c = run(rules, fr_trace([(30 * H, dip_min * MIN)], []), 60)
    assert [ev.kind for ev in c.events] == ["outlet_low" if missed else "outlet_dip"] + [
        "cycle_missed"
    ] * missed
    assert c.summary().compliant is not missed


def test_missing_readings_count_as_low():
    trace = [hot(H, 50), (2 * MIN, math.nan, 57, {"tank": 50}), hot(H, 50)]
    c = run(HygieneRules(), trace, 60)
    [ev] = c.events
    assert ev.kind == "outlet_low" and ev.violation and ev.extreme_c is None
    assert "no reading for 120 s" in ev.detail


def test_missing_store_reading_ends_an_attempt():
    trace = [hot(H, 50), hot(30 * MIN, 60), (MIN, 62, 57, {}), hot(40 * MIN, 60), hot(H, 50)]
    c = run(HygieneRules(), trace, 60)
    assert [ev.kind for ev in cycles(c)] == ["cycle_fail", "cycle_fail"]


# ---- "fr": outlet permanently ≥ 55 °C, or a passing cycle in every rolling 24 h ------------


def fr_trace(
    dips: Sequence[tuple[float, float]], cycles_at: Sequence[float], days: float = 3
) -> list[Segment]:
    """Outlet 56 °C with dips to 54 °C at (start, length); 60-min cycles at 61 °C ending at given times."""
    marks = sorted(
        [(t, d, "dip") for t, d in dips] + [(end - H, H, "cycle") for end in cycles_at], key=lambda m: m[0]
    )
    out: list[Segment] = []
    t = 0.0
    for start, length, what in marks:
        out.append((start - t, 56.0, 52.0, {"tank": 45.0}))
        out.append(
            (length, 54.0, 52.0, {"tank": 45.0}) if what == "dip" else (length, 56.0, 52.0, {"tank": 61.0})
        )
        t = start + length
    out.append((days * DAY - t, 56.0, 52.0, {"tank": 45.0}))
    return out


def test_fr_outlet_permanently_at_55_needs_no_cycle():
    due: list[tuple[float, bool]] = []
    c = run(HygieneRules.for_preset("fr"), [(3 * DAY, 55.0, 50.0, {"tank": 45})], 60, due_log=due)
    assert c.events == []
    assert c.summary().compliant
    assert not any(flag for _, flag in due)


@pytest.mark.parametrize(
    ("cycles_at", "missed"),
    [
        # No cycle at all: the dip at 32:00 (after the 24 h grace) is uncovered until it leaves the window.
        ((), [(32 * H, 32 * H + 10 * MIN + DAY)]),
        # Cycle passed at 26:00 covers the dip until 50:00; then the dip is still in the window.
        ((26 * H,), [(50 * H, 32 * H + 10 * MIN + DAY)]),
        # A second cycle at 45:00 keeps every 24 h window holding a pass.
        ((26 * H, 45 * H), []),
        # A cycle after the dip ends the episode at its pass moment.
        ((40 * H,), [(32 * H, 40 * H)]),
    ],
)
def test_fr_outlet_dip_rests_on_cycles(cycles_at: tuple[float, ...], missed: list[tuple[float, float]]):
    c = run(HygieneRules.for_preset("fr"), fr_trace([(32 * H, 10 * MIN)], cycles_at), 60)
    [low] = of_kind(c, "outlet_low")
    assert not low.violation and low.extreme_c == 54.0
    got = [(ev.start_s - T0, ev.end_s - T0) for ev in of_kind(c, "cycle_missed")]
    assert got == missed
    assert all(ev.violation and ev.store == "tank" for ev in of_kind(c, "cycle_missed"))
    assert c.summary().compliant is (not missed)
    assert c.summary().cycles_passed == len(cycles_at)


def test_fr_cycle_due_after_a_dip():
    rules = HygieneRules.for_preset("fr")
    due: list[tuple[float, bool]] = []
    run(rules, fr_trace([(32 * H, 10 * MIN)], [26 * H]), 60, due_log=due)
    flips = [t - T0 for (t, flag), (_, prev) in zip(due[1:], due[:-1], strict=True) if flag != prev]
    # Due from 26 h + 24 h - 3 h margin, while the dip is in the window (until 32:10 + 24 h).
    assert flips == [26 * H + DAY - rules.cycle_due_margin_s, 32 * H + 10 * MIN + DAY]


def test_fr_preheat_store_is_exempt():
    stores: dict[str, StoreRole] = {"tank": "finishing", "pre": "preheat"}
    trace = [(3 * DAY, 56.0, 52.0, {"tank": 45.0, "pre": 40.0})]
    c = run(HygieneRules.for_preset("fr"), trace, 60, stores=stores)
    assert c.events == [] and not c.cycle_due(T0 + 3 * DAY)


def test_every_finishing_store_needs_its_own_cycle():
    stores: dict[str, StoreRole] = {"a": "finishing", "b": "finishing"}
    rules = HygieneRules(daily_cycle="always")
    trace = [
        (2 * H, 62, 57, {"a": 50, "b": 50}),
        (H, 62, 57, {"a": 61, "b": 50}),
        (23 * H, 62, 57, {"a": 50}),
    ]
    c = run(rules, trace, 60, stores=stores)
    assert [(ev.store, ev.start_s - T0, ev.end_s - T0) for ev in of_kind(c, "cycle_missed")] == [
        ("b", DAY, 26 * H)
    ]
    assert c.cycle_due(T0 + 22 * H, "b") and not c.cycle_due(T0 + 22 * H, "a")


# ---- cycle_due and cycle_missed when a cycle is always required ----------------------------


@pytest.mark.parametrize("dt_s", [10.0, 60.0])
def test_cycle_due_flips_when_24h_pass_without_a_cycle(dt_s: float):
    rules = HygieneRules(daily_cycle="always", cycle_due_margin_s=2 * H)
    due: list[tuple[float, bool]] = []
    trace = [hot(2 * H, 50), hot(H, 60), hot(24 * H, 50), hot(H, 60), hot(4 * H, 50)]
    c = run(rules, trace, dt_s, due_log=due)
    flips = [t - T0 for (t, flag), (_, prev) in zip(due[1:], due[:-1], strict=True) if flag != prev]
    # Grace: due 22 h after the start, but the 3:00 pass comes first; due again from 3:00 + 22 h
    # until the second attempt passes at 28:00, one hour after the 24 h ran out.
    assert due[0][1] is False
    assert flips == [3 * H + DAY - 2 * H, 28 * H]
    [missed] = of_kind(c, "cycle_missed")
    assert (missed.start_s - T0, missed.end_s - T0) == (27 * H, 28 * H)


def test_cycle_missed_opens_at_the_deadline_and_closes_at_the_pass():
    rules = HygieneRules(daily_cycle="always")
    c = run(rules, [hot(2 * H, 60), hot(30 * H, 50), hot(H, 60), hot(H, 50)], 60)
    [missed] = of_kind(c, "cycle_missed")
    # Passed continuously from 1:00 to 2:00, so the window runs out at 26:00; the next pass is at 33:00.
    assert (missed.start_s - T0, missed.end_s - T0) == (26 * H, 33 * H)
    assert missed.violation


def test_last_pass_can_be_restored_after_a_restart():
    rules = HygieneRules(daily_cycle="always")
    c = HygieneChecker(rules, TANK, last_cycle_pass_s={"tank": T0 - 23 * H})
    run(rules, [hot(2 * H, 50)], 60, checker=c)
    [missed] = of_kind(c, "cycle_missed")
    assert (missed.start_s, missed.end_s) == (T0 + H, T0 + 2 * H)


# ---- "de": pre-heat stores heated to 60 °C daily ------------------------------------------


def test_de_preheat_store_needs_a_daily_60c():
    stores: dict[str, StoreRole] = {"tank": "finishing", "pre": "preheat"}
    de = HygieneRules.for_preset("de")

    def seg(duration_s: float, pre_c: float) -> Segment:
        return (duration_s, 61.0, 56.0, {"tank": 50.0, "pre": pre_c})

    c = run(de, [seg(21 * H, 50), seg(4 * MIN, 60), seg(9 * H, 50), seg(5 * MIN, 60), seg(H, 50)], 60, stores)
    assert [(ev.kind, ev.store) for ev in cycles(c)] == [("cycle_fail", "pre"), ("cycle_pass", "pre")]
    [missed] = of_kind(c, "cycle_missed")
    assert missed.store == "pre" and "pre-heat" in missed.detail
    assert (missed.start_s - T0, missed.end_s - T0) == (DAY, 30 * H + 9 * MIN)
    assert not c.cycle_due(T0, "tank")


# ---- end of run, live view, export -------------------------------------------------------


def test_open_episodes_show_live_and_close_at_finish():
    rules = HygieneRules()
    c = run(rules, [hot(H, 50), (30 * MIN, 58.0, 57.0, {"tank": 61.0})], 60, finish=False)
    assert c.cycle_in_progress and not c.cycle_met("tank")
    live = c.all_events()
    assert {ev.kind for ev in live} == {"outlet_low", "cycle_fail"} and all(ev.ongoing for ev in live)
    assert c.events == []
    assert not c.summary().compliant  # open violations count
    c.finish()
    assert sorted(ev.kind for ev in c.events) == ["cycle_fail", "outlet_low"]
    assert all(ev.end_s == T0 + 90 * MIN and not ev.ongoing for ev in c.events)
    with pytest.raises(RuntimeError):
        c.update(T0 + 91 * MIN, 60, 62, 57, {"tank": 50})


def test_csv_export_round_trip(tmp_path):
    c = run(HygieneRules(), [hot(H, 50), (10 * MIN, 58.0, 54.0, {"tank": 61}), hot(H, 61), hot(H, 50)], 60)
    path = tmp_path / "carnet.csv"
    assert c.to_csv(path) == len(c.events) == 3
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["kind"] for r in rows] == ["loop_return_low", "outlet_low", "cycle_pass"]
    assert rows[0]["start"] == "2026-01-01T01:00:00+00:00"
    assert float(rows[0]["duration_s"]) == 600 and rows[0]["violation"] == "True"
    assert rows[2]["end"] == "2026-01-01T02:10:00+00:00" and rows[2]["violation"] == "False"
    paris_winter = timezone(timedelta(hours=1))
    assert next(iter(c.rows(paris_winter)))["start"] == "2026-01-01T02:00:00+01:00"


# ---- rule presets and config ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "outlet", "loop", "daily", "preheat"),
    [
        ("default", 60.0, 55.0, "never", False),
        ("fr", 55.0, 50.0, "unless_outlet_permanent", False),
        ("de", 60.0, 55.0, "never", True),
    ],
)
def test_presets(preset: str, outlet: float, loop: float, daily: str, preheat: bool):
    r = HygieneRules.for_preset(preset)  # type: ignore[arg-type]
    assert (r.preset, r.outlet_min_c, r.loop_return_min_c, r.daily_cycle) == (preset, outlet, loop, daily)
    assert r.preheat_daily_cycle is preheat
    assert r.cycle_criteria == [(70, 120), (65, 240), (60, 3600)]


def test_explicit_fields_override_the_preset():
    r = HygieneRules.for_preset("fr", outlet_min_c=57.0, cycle_criteria=[(70, 300)])
    assert (r.outlet_min_c, r.loop_return_min_c, r.daily_cycle) == (57.0, 50.0, "unless_outlet_permanent")
    assert r.cycle_criteria == [(70.0, 300.0)]
    from_yaml = HygieneRules.model_validate(yaml.safe_load("preset: de\noutlet_dip_tolerance_s: 0\n"))
    assert from_yaml.preheat_daily_cycle and from_yaml.outlet_dip_tolerance_s == 0
    assert HygieneRules.model_validate(r.model_dump()) == r
    assert HygieneRules() == HygieneRules.for_preset("default")


@pytest.mark.parametrize(
    "bad",
    [
        {"preset": "uk"},
        {"outlet_min_c": 600},
        {"daily_cycle": "weekly"},
        {"cycle_criteria": []},
        {"cycle_criteria": [[60, 0]]},
        {"cycle_criteria": [[20, 60]]},
        {"outlet_dip_tolerance_s": -1},
        {"unknown_field": 1},
    ],
)
def test_invalid_rules_are_rejected(bad: dict):
    with pytest.raises(ValidationError):
        HygieneRules.model_validate(bad)


@pytest.mark.parametrize(
    ("stores", "seed"),
    [({}, None), ({"tank": "boiler"}, None), ({"tank": "finishing"}, {"other": 0.0})],
)
def test_checker_rejects_bad_store_setup(stores: dict, seed: dict | None):
    with pytest.raises(ValueError):
        HygieneChecker(HygieneRules(), stores, last_cycle_pass_s=seed)


def test_json_schema_exports():
    schema = HygieneRules.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "cycle_criteria" in schema["properties"]


# ---- step sizes and a brute-force oracle ------------------------------------------------------

OUTLETS = [54.0, 55.0, 59.5, 60.0, 62.0]
LOOPS = [49.9, 50.0, 54.9, 56.0]
TANK_TEMPS = [50.0, 59.7, 60.0, 64.0, 65.0, 70.0]

segments_st = st.lists(
    st.tuples(
        st.integers(1, 150).map(lambda m: m * MIN),
        st.sampled_from(OUTLETS),
        st.sampled_from(LOOPS),
        st.sampled_from(TANK_TEMPS).map(lambda t: {"tank": t}),
    ),
    min_size=1,
    max_size=14,
)


def signature(c: HygieneChecker) -> list[tuple]:
    return [(e.kind, e.store, e.start_s, e.end_s, e.extreme_c, e.violation) for e in c.events]


@settings(max_examples=40, deadline=None)
@given(
    segments=segments_st,
    preset=st.sampled_from(["default", "fr", "de"]),
    daily=st.sampled_from(["never", "always", "unless_outlet_permanent"]),
)
def test_10s_and_60s_steps_give_the_same_log(segments: list[Segment], preset: str, daily: str):
    rules = HygieneRules.for_preset(preset, daily_cycle=daily)  # type: ignore[arg-type]
    # A day of grace first, so the rolling requirement is exercised too.
    trace = [hot(DAY - 2 * H, 50.0), *segments]
    assert signature(run(rules, trace, 10.0)) == signature(run(rules, trace, 60.0))


def brute_force_violated(
    rules: HygieneRules, ends: np.ndarray, dt_s: float, outlet: np.ndarray, tank: np.ndarray
) -> np.ndarray:
    """Rolling-window verdict at points inside every sample, straight from the definition."""
    passes = [ends[0] - dt_s]  # observation starts as if a cycle had just passed
    held = [0.0] * len(rules.cycle_criteria)
    for i, t_c in enumerate(tank):
        met = False
        for k, (temp_c, hold_s) in enumerate(rules.cycle_criteria):
            held[k] = held[k] + dt_s if t_c >= temp_c else 0.0
            met |= held[k] >= hold_s
        if met:
            passes.append(ends[i])
    # Several points inside each sample: boundaries off the sample grid must be exact too.
    mids = (ends[:, None] - dt_s * np.array([0.875, 0.625, 0.375, 0.125])[None, :]).ravel()
    p = np.asarray(passes)
    pass_in_window = ((p[None, :] > mids[:, None] - DAY) & (p[None, :] <= mids[:, None])).any(axis=1)
    if rules.daily_cycle == "always":
        need = np.ones_like(mids, dtype=bool)
    else:
        low = outlet < rules.outlet_min_c
        lo_start, lo_end = ends[low] - dt_s, ends[low]
        need = ((lo_end[None, :] > mids[:, None] - DAY) & (lo_start[None, :] < mids[:, None])).any(axis=1)
    return need & ~pass_in_window


@settings(max_examples=30, deadline=None)
@given(
    # 420 s does not divide 24 h: episode ends fall between samples and must still be exact.
    dt_s=st.sampled_from([600.0, 420.0]),
    daily=st.sampled_from(["unless_outlet_permanent", "always"]),
    blocks=st.lists(
        st.tuples(st.integers(1, 30), st.sampled_from([54.0, 56.0]), st.sampled_from([50.0, 61.0, 66.0])),
        min_size=1,
        max_size=12,
    ),
)
def test_cycle_missed_matches_brute_force_window_check(
    dt_s: float, daily: str, blocks: list[tuple[int, float, float]]
):
    # Coarse steps keep four days short.
    rules = HygieneRules.for_preset("fr", daily_cycle=daily)  # type: ignore[arg-type]
    trace: list[Segment] = [(n * dt_s, out, 52.0, {"tank": tank}) for n, out, tank in blocks]
    trace.append((round(4 * DAY / dt_s) * dt_s, 56.0, 52.0, {"tank": 50.0}))
    c = run(rules, trace, dt_s)
    outlet = np.concatenate([np.full(round(d / dt_s), o) for d, o, _, _ in trace])
    tank = np.concatenate([np.full(round(d / dt_s), m["tank"]) for d, _, _, m in trace])
    ends = T0 + dt_s * np.arange(1, len(outlet) + 1)
    expected = brute_force_violated(rules, ends, dt_s, outlet, tank)
    mids = (ends[:, None] - dt_s * np.array([0.875, 0.625, 0.375, 0.125])[None, :]).ravel()
    got = np.zeros_like(expected)
    for ev in of_kind(c, "cycle_missed"):
        got |= (mids >= ev.start_s) & (mids < ev.end_s)
    np.testing.assert_array_equal(got, expected)
