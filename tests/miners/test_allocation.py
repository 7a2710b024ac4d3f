"""Fleet power allocation: invariants (hypothesis), efficiency order, deadband, chatter and force."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miners.allocation import (
    Allocation,
    AllocationPolicy,
    FleetMember,
    allocate,
    commit,
    start_new_day,
)
from miners.catalogue import CATALOGUE, MinerSpec, get_spec

POLICY = AllocationPolicy()
NOW_S = 100_000.0
S21 = get_spec("s21-hyd")
M53 = get_spec("m53s-plus-plus")


def _member(name: str, spec: MinerSpec, limit_w: float | None = None, **kw: object) -> FleetMember:
    return FleetMember(name, spec, kw.pop("available", True), limit_w, **kw)  # type: ignore[arg-type]


@st.composite
def fleets(draw: st.DrawFn, fresh: bool = False) -> list[FleetMember]:
    """1-5 miners of any catalogue model, in any state (or all asleep and free when `fresh`)."""
    specs = draw(st.lists(st.sampled_from(sorted(CATALOGUE)), min_size=1, max_size=5))
    members = []
    for i, key in enumerate(specs):
        spec = CATALOGUE[key]
        if fresh:
            members.append(FleetMember(f"m{i}", spec, True, None))
            continue
        running = draw(st.booleans())
        limit = draw(st.floats(spec.min_power_w, spec.max_power_w)) if running else None
        since_s = draw(st.one_of(st.just(math.inf), st.floats(0.0, 2 * POLICY.min_change_interval_s)))
        members.append(
            FleetMember(
                f"m{i}", spec, draw(st.booleans()), limit,
                last_change_s=NOW_S - since_s,
                changes_today=draw(st.integers(0, POLICY.max_changes_per_day + 2)),
            )
        )
    return members


def _interval_passed(m: FleetMember) -> bool:
    return NOW_S - m.last_change_s >= POLICY.min_change_interval_s


def _free(m: FleetMember) -> bool:
    """May change either way: interval passed and more than the reserved last two changes left."""
    return _interval_passed(m) and m.changes_today < POLICY.max_changes_per_day - 2


def _reducible(m: FleetMember) -> bool:
    return _interval_passed(m) and m.changes_today < POLICY.max_changes_per_day - 1


def _check_basic(alloc: Allocation, fleet: list[FleetMember]) -> None:
    assert set(alloc.limits_w) == {m.name for m in fleet}
    for m in fleet:
        new = alloc.limits_w[m.name]
        if not m.available:
            assert new is None and m.name not in alloc.changed
            continue
        assert (m.name in alloc.changed) == (new != m.limit_w)
        if m.name in alloc.changed and new is not None:
            assert m.spec.min_power_w <= new <= m.spec.max_power_w
    assert alloc.total_w == pytest.approx(sum(alloc.limits_w[m.name] or 0.0 for m in fleet if m.available))


# --- invariants -------------------------------------------------------------------------------


@given(fleet=fleets(), target_w=st.floats(-2000.0, 45_000.0), force=st.booleans())
def test_invariants_any_state(fleet: list[FleetMember], target_w: float, force: bool) -> None:
    alloc = allocate(target_w, fleet, NOW_S, POLICY, force=force)
    _check_basic(alloc, fleet)
    forced = force or target_w <= 0
    locked_w = 0.0
    for m in fleet:
        if not m.available or _free(m):
            continue
        new = alloc.limits_w[m.name]
        if forced or _reducible(m):  # only reductions may pass
            assert m.limit_w is not None or new is None
            assert new is None or m.limit_w is None or new <= m.limit_w
        else:
            assert new == m.limit_w
            locked_w += m.limit_w or 0.0
    assert alloc.total_w <= max(target_w, locked_w) + POLICY.deadband_w + 1e-6
    if target_w <= 0:
        assert alloc.total_w == 0.0
        assert all(v is None for v in alloc.limits_w.values())


@given(fleet=fleets(fresh=True), target_w=st.floats(0.0, 45_000.0))
def test_fresh_fleet_tracks_target_efficient_first(fleet: list[FleetMember], target_w: float) -> None:
    alloc = allocate(target_w, fleet, NOW_S, POLICY)
    _check_basic(alloc, fleet)
    assert alloc.total_w <= target_w + 1e-6  # nothing to hold: never above the target
    if target_w >= sum(m.spec.min_power_w for m in fleet):
        assert alloc.total_w == pytest.approx(min(target_w, sum(m.spec.max_power_w for m in fleet)))
    by_eff = sorted(fleet, key=lambda m: (m.spec.nominal_j_per_th, m.name))
    for i, better in enumerate(by_eff):
        for worse in by_eff[i + 1:]:
            b, w = alloc.limits_w[better.name], alloc.limits_w[worse.name]
            if b is None and w is not None:
                # The better miner was skipped only because its minimum did not fit.
                assert better.spec.min_power_w > worse.spec.min_power_w
            if better.spec.key == worse.spec.key:
                continue  # one model shares evenly (test_identical_miners_get_equal_limits_...)
            if b is not None and w is not None and b < better.spec.max_power_w - 1e-9:
                # A better miner is below its max only if the worse ones sit at their minimum.
                assert w == pytest.approx(worse.spec.min_power_w)


# --- examples ---------------------------------------------------------------------------------


def test_two_s21_share_a_target_above_one_max() -> None:
    fleet = [_member("a", S21), _member("b", S21)]
    alloc = allocate(6000.0, fleet, NOW_S, POLICY)
    assert alloc.limits_w == {"a": 3000.0, "b": 3000.0}
    assert alloc.changed == ("a", "b") and alloc.total_w == 6000.0


@pytest.mark.parametrize("others", [(), ("m53s-plus-plus",), ("m53s-plus-plus", "s19-xp-hyd")])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_identical_miners_get_equal_limits_at_every_fleet_power(count: int, others: tuple[str, ...]) -> None:
    """J/TH rises with power, so one model's running miners share evenly: from a fresh fleet exactly, and
    along a sweep of targets (each allocation applied) within the allocator's step, the deadband."""
    def fleet() -> list[FleetMember]:
        return [_member(f"s{i}", S21) for i in range(count)] + [
            _member(f"o{i}", get_spec(key)) for i, key in enumerate(others)]

    top_w = sum(m.spec.max_power_w for m in fleet()) + 1000.0
    targets = [float(t) for t in range(0, int(top_w), 50)]
    for target_w in targets:
        limits = allocate(target_w, fleet(), NOW_S, POLICY).limits_w
        running = [limits[f"s{i}"] for i in range(count) if limits[f"s{i}"] is not None]
        assert not running or max(running) - min(running) < 1e-6, (target_w, limits)
    free = AllocationPolicy(deadband_w=POLICY.deadband_w, min_change_interval_s=0.0, max_changes_per_day=1440)
    members = fleet()
    rng = random.Random(count)
    sweep = targets + targets[::-1] + [rng.uniform(0.0, top_w) for _ in range(200)]
    for k, target_w in enumerate(sweep):
        alloc = allocate(target_w, members, NOW_S + k, free)
        commit(alloc, members, NOW_S + k)
        running = [m.limit_w for m in members if m.spec is S21 and m.limit_w is not None]
        assert not running or max(running) - min(running) <= free.deadband_w + 1e-6, (target_w, alloc)


def test_efficient_miner_first_and_sleep_below_minimum() -> None:
    fleet = [_member("whatsminer", M53), _member("antminer", S21)]  # 22 vs 16 J/TH
    alloc = allocate(5000.0, fleet, NOW_S, POLICY)
    assert alloc.limits_w == {"whatsminer": None, "antminer": 5000.0}
    alloc = allocate(2000.0, fleet, NOW_S, POLICY)  # below every minimum: all asleep
    assert alloc.limits_w == {"whatsminer": None, "antminer": None} and alloc.total_w == 0.0


def test_unavailable_miner_gets_nothing_and_is_not_counted() -> None:
    fleet = [_member("a", S21, 5000.0, available=False), _member("b", S21)]
    alloc = allocate(5000.0, fleet, NOW_S, POLICY)
    assert alloc.limits_w == {"a": None, "b": 5000.0}
    assert alloc.total_w == 5000.0 and alloc.changed == ("b",)


def test_deadband_holds_small_moves_of_a_single_miner() -> None:
    fleet = [_member("a", S21, 4000.0)]
    assert allocate(4000.0 + POLICY.deadband_w, fleet, NOW_S, POLICY).changed == ()
    assert allocate(4000.0 - POLICY.deadband_w, fleet, NOW_S, POLICY).changed == ()
    moved = allocate(4000.0 + POLICY.deadband_w + 1.0, fleet, NOW_S, POLICY)
    assert moved.limits_w == {"a": 4201.0}


def test_holds_never_add_up_to_more_than_one_deadband() -> None:
    # Ideal split of 5,210 W + M53's minimum is a 5,210 / b its minimum: each miner sits 150 W above it.
    # Holding both would drift 300 W, so only the first (by name on a tie) is held.
    fleet = [_member("a", S21, 5360.0), _member("b", M53, M53.min_power_w + 150.0)]
    alloc = allocate(5210.0 + M53.min_power_w, fleet, NOW_S, POLICY)
    assert alloc.limits_w == {"a": 5360.0, "b": M53.min_power_w} and alloc.changed == ("b",)
    assert alloc.total_w == pytest.approx(5210.0 + M53.min_power_w + 150.0)


def test_min_interval_blocks_and_force_passes_at_once() -> None:
    fleet = [_member("a", S21, 5360.0, last_change_s=NOW_S - 60.0)]
    held = allocate(3000.0, fleet, NOW_S, POLICY)
    assert held.changed == () and held.limits_w == {"a": 5360.0}
    forced = allocate(3000.0, fleet, NOW_S, POLICY, force=True)
    assert forced.limits_w == {"a": 3000.0} and forced.changed == ("a",)
    # Force reduces only: it does not raise a miner inside its interval.
    assert allocate(9000.0, [_member("b", S21, 3000.0, last_change_s=NOW_S)], NOW_S, POLICY,
                    force=True).changed == ()
    # A target at or below zero is an emergency by itself.
    zero = allocate(0.0, fleet, NOW_S, POLICY)
    assert zero.limits_w == {"a": None} and zero.changed == ("a",)


def test_daily_budget_blocks_and_resets() -> None:
    fleet = [_member("a", S21, 5360.0, changes_today=POLICY.max_changes_per_day)]
    assert allocate(3000.0, fleet, NOW_S, POLICY).changed == ()
    start_new_day(fleet)
    assert allocate(3000.0, fleet, NOW_S, POLICY).changed == ("a",)


def test_last_two_changes_of_the_day_are_kept_for_a_reduction_then_a_sleep() -> None:
    """So that even an emergency sleep (target 0, which passes the budget) is within the day's budget."""
    cap = POLICY.max_changes_per_day
    up = [_member("a", S21, 3000.0, changes_today=cap - 2), _member("b", S21, changes_today=cap - 2)]
    assert allocate(5360.0, up, NOW_S, POLICY).changed == ()  # no raise, no wake
    down = allocate(2500.0, [_member("a", S21, 3000.0, changes_today=cap - 2)], NOW_S, POLICY)
    assert down.limits_w == {"a": 2500.0}
    last = [_member("a", S21, 2500.0, changes_today=cap - 1)]
    assert allocate(2400.0, last, NOW_S, POLICY).changed == ()  # the last one is not a reduction's
    assert allocate(0.0, last, NOW_S, POLICY).limits_w == {"a": None}  # but a sleep's: the day's 24th


def test_commit_records_changes() -> None:
    fleet = [_member("a", S21), _member("b", S21, 2500.0), _member("c", S21, 3000.0)]
    alloc = allocate(7500.0, fleet, NOW_S, POLICY)  # three minimums, evenly: 2500 each
    assert alloc.limits_w == {"a": 2500.0, "b": 2500.0, "c": 2500.0}
    commit(alloc, fleet, NOW_S)
    assert [(m.limit_w, m.last_change_s, m.changes_today) for m in fleet] == [
        (2500.0, NOW_S, 1), (2500.0, -math.inf, 0), (2500.0, NOW_S, 1)
    ]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="NaN"):
        allocate(float("nan"), [_member("a", S21)], NOW_S, POLICY)
    with pytest.raises(ValueError, match="unique"):
        allocate(1000.0, [_member("a", S21), _member("a", M53)], NOW_S, POLICY)
    with pytest.raises(ValueError):
        AllocationPolicy(deadband_w=-1.0)


# --- chatter over a simulated day --------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    noise_w=st.floats(50.0, 3000.0),
    # The default policy (interval binds), and one where only the daily budget limits changes.
    policy=st.sampled_from([POLICY, AllocationPolicy(min_change_interval_s=0.0, max_changes_per_day=24)]),
)
def test_noisy_target_over_a_day_respects_interval_and_daily_budget(
    seed: int, noise_w: float, policy: AllocationPolicy
) -> None:
    rng = random.Random(seed)
    fleet = [_member("s21-a", S21), _member("s21-b", S21), _member("m53", M53),
             _member("small", get_spec("generic-hydro-2kw"))]
    change_times: dict[str, list[float]] = {m.name: [] for m in fleet}
    base_w = 10_000.0
    for minute in range(24 * 60):
        now_s = minute * 60.0
        base_w = min(max(base_w + rng.gauss(0.0, 300.0), 0.0), 22_000.0)
        target_w = max(base_w + rng.gauss(0.0, noise_w), 1.0)
        alloc = allocate(target_w, fleet, now_s, policy)
        for name in alloc.changed:
            change_times[name].append(now_s)
        commit(alloc, fleet, now_s)
    for name, times in change_times.items():
        assert len(times) <= policy.max_changes_per_day, name
        assert all(b - a >= policy.min_change_interval_s for a, b in itertools.pairwise(times))
    assert sum(len(t) for t in change_times.values()) > 0  # the fleet did follow the target
