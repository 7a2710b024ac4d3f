"""Split a total power target across a heterogeneous fleet without chattering.

Each miner either sleeps or runs within its model's [min, max] power. The most efficient
models (lowest nominal J/TH) are woken first and filled first; miners of one model share their
part evenly. A change costs hashing time
(some firmware restarts on every limit change), so a miner's limit moves only when the move
exceeds the deadband, its previous change is older than the minimum interval, and it has
changes left for the day; the day's last two changes are kept, one for a reduction and one for
a sleep. Emergency reductions (a target at or below zero, or `force=True` for a safety cut) lift
those limits, for reductions only; with the reserve, an emergency sleep stays within the day's
budget (only a safety cut to a non-zero power followed by a sleep can exceed it).

What holds for the result (checked by the tests), with `locked_w` the summed current limits of
the available miners that may not even be reduced now (none when forced):

* every running miner that changed is within its [min, max]; a miner that may not change keeps
  its limit; unavailable miners get `None` and are not counted;
* `total_w <= max(target_w, locked_w) + deadband_w`, and `total_w == 0` when `target_w <= 0`;
  so when every miner is free to change, `total_w <= target_w + deadband_w`. The allocator never
  rounds a miner up to its minimum: a remainder below a miner's minimum leaves it asleep;
* without deadband holds (all miners free and asleep beforehand) the total is
  `min(target_w, sum of max)` whenever the target covers the sum of all minimums.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from miners.catalogue import MinerSpec


@dataclass(frozen=True)
class AllocationPolicy:
    deadband_w: float = 200.0
    min_change_interval_s: float = 900.0
    max_changes_per_day: int = 24

    def __post_init__(self) -> None:
        bounds = {"deadband_w": 1e6, "min_change_interval_s": 86_400.0, "max_changes_per_day": 1440}
        for name, high in bounds.items():
            value = getattr(self, name)
            if not 0 <= value <= high:  # NaN fails too
                raise ValueError(f"allocation policy {name} must be within 0..{high:g}, got {value}")


@dataclass
class FleetMember:
    """A miner as the allocator sees it. `limit_w is None` means asleep.

    `changes_today` counts changes in the caller's current day (reset it with `start_new_day`);
    `commit` updates it, `last_change_s` and `limit_w` after an allocation has been applied.
    """

    name: str
    spec: MinerSpec
    available: bool
    limit_w: float | None
    last_change_s: float = -math.inf
    changes_today: int = 0

    def may_change(self, now_s: float, policy: AllocationPolicy) -> bool:
        """Any change is allowed now (the day's last two changes are kept for a reduction and a sleep)."""
        return self._interval_passed(now_s, policy) and self.changes_today < _increase_budget(policy)

    def may_reduce(self, now_s: float, policy: AllocationPolicy) -> bool:
        """A reduction or sleep is allowed now without force (the day's last change is kept for a sleep)."""
        return self._interval_passed(now_s, policy) and self.changes_today < _reduce_budget(policy)

    def _interval_passed(self, now_s: float, policy: AllocationPolicy) -> bool:
        return now_s - self.last_change_s >= policy.min_change_interval_s


def _reduce_budget(policy: AllocationPolicy) -> int:
    # Keep the day's last change for putting the miner to sleep: an emergency (target 0) passes the
    # budget, and without this reserve it would be the day's 25th change.
    return policy.max_changes_per_day - (1 if policy.max_changes_per_day >= 2 else 0)


def _increase_budget(policy: AllocationPolicy) -> int:
    # And the one before it for a reduction, so a miner never ends up stuck at high power with heat
    # nobody needs until midnight (when the policy leaves room for it).
    reduce = _reduce_budget(policy)
    return reduce - (1 if reduce >= 2 else 0)


@dataclass(frozen=True)
class Allocation:
    limits_w: dict[str, float | None]  # every member of the fleet; None = sleep
    changed: tuple[str, ...]  # members whose limit or sleep state must be changed, in fleet order
    total_w: float  # sum of the limits of available, running miners


@dataclass
class _Flexible:
    """A miner the allocator may move this tick, between sleep and [min, cap]."""

    member: FleetMember
    cap_w: float  # max power, or the current limit when only a forced reduction is allowed
    efficiency_key: tuple[tuple[float, str], str]  # ((nominal J/TH, model), name)


def wake_order_key(name: str, spec: MinerSpec) -> tuple[tuple[float, str], str]:
    """The order the allocator wakes and fills miners in: most efficient model first, then by name."""
    return (spec.nominal_j_per_th, spec.key), name


def allocate(
    target_w: float,
    fleet: Sequence[FleetMember],
    now_s: float,
    policy: AllocationPolicy | None = None,
    force: bool = False,
) -> Allocation:
    """Power limits for `fleet` that approach `target_w`, efficient miners first."""
    if math.isnan(target_w):
        raise ValueError("target_w is NaN")
    names = [m.name for m in fleet]
    if len(set(names)) != len(names):
        raise ValueError(f"fleet member names must be unique: {names}")
    policy = policy or AllocationPolicy()
    emergency = target_w <= 0.0
    force = force or emergency
    budget_w = max(target_w, 0.0)

    new_limits: dict[str, float | None] = {}
    flexible: list[_Flexible] = []
    locked_w = 0.0
    for member in fleet:
        if not member.available:
            continue
        current = member.limit_w
        if member.may_change(now_s, policy):
            cap_w = member.spec.max_power_w
        elif (force or member.may_reduce(now_s, policy)) and current is not None:
            cap_w = current  # only a reduction may pass
        else:
            new_limits[member.name] = current
            locked_w += current or 0.0
            continue
        key = wake_order_key(member.name, member.spec)
        flexible.append(_Flexible(member, cap_w, key))

    ideal = _fill_efficient_first(budget_w - locked_w, flexible)
    if not emergency:
        ideal = _hold_within_deadband(ideal, flexible, policy.deadband_w)
    new_limits.update(ideal)

    limits_w: dict[str, float | None] = {}
    changed: list[str] = []
    for member in fleet:
        if not member.available:
            limits_w[member.name] = None
            continue
        limit = new_limits[member.name]
        limits_w[member.name] = limit
        if limit != member.limit_w:
            changed.append(member.name)
    total_w = sum(new_limits[m.name] or 0.0 for m in fleet if m.available)
    return Allocation(limits_w, tuple(changed), total_w)


def _fill_efficient_first(budget_w: float, flexible: list[_Flexible]) -> dict[str, float | None]:
    """Wake miners in efficiency order while their minimums fit, then fill them in that order.

    Miners of one model fill together, evenly (water-filling up to each one's cap): their J/TH rises
    with power, so for the same heat an even split hashes more than one miner high and one low.
    """
    ordered = sorted(flexible, key=lambda f: f.efficiency_key)
    running: list[_Flexible] = []
    reserved_w = 0.0
    for f in ordered:
        min_w = f.member.spec.min_power_w
        if f.cap_w >= min_w and reserved_w + min_w <= budget_w:
            running.append(f)
            reserved_w += min_w
    limits: dict[str, float | None] = {f.member.name: None for f in flexible}
    rest_w = budget_w
    for _, group_iter in itertools.groupby(running, key=lambda f: f.efficiency_key[0]):
        group = list(group_iter)
        group_min_w = sum(f.member.spec.min_power_w for f in group)
        reserved_w -= group_min_w
        # rest_w - reserved_w >= the group's minimums, by the choice of `running`.
        share_w = min(sum(f.cap_w for f in group), rest_w - reserved_w)
        rest_w -= share_w
        for f, give_w in _even_split(share_w, group).items():
            limits[f] = give_w
    return limits


def _even_split(total_w: float, group: list[_Flexible]) -> dict[str, float]:
    """`total_w` over the group as evenly as their caps allow (each gets at least its minimum when the
    total covers the minimums: the caps are ≥ the minimums, so a capped miner is above its minimum)."""
    out: dict[str, float] = {}
    left_w = total_w
    by_cap = sorted(group, key=lambda f: (f.cap_w, f.member.name))
    for i, f in enumerate(by_cap):
        give_w = min(f.cap_w, left_w / (len(by_cap) - i))
        out[f.member.name] = give_w
        left_w -= give_w
    return out


def _hold_within_deadband(
    ideal: dict[str, float | None], flexible: list[_Flexible], deadband_w: float
) -> dict[str, float | None]:
    """Keep current limits that are within the deadband of the ideal ones.

    Smallest moves are held first, as long as the summed deviation from the ideal total stays
    within one deadband, so holds never add up to more than one deadband of error.
    """
    candidates: list[tuple[float, str, float | None]] = []
    for f in flexible:
        member = f.member
        current, wanted = member.limit_w, ideal[member.name]
        if current == wanted:
            continue
        runnable = current is None or member.spec.min_power_w <= current <= f.cap_w
        deviation_w = (current or 0.0) - (wanted or 0.0)
        if runnable and abs(deviation_w) <= deadband_w:
            candidates.append((deviation_w, member.name, current))
    held = dict(ideal)
    drift_w = 0.0
    for deviation_w, name, current in sorted(candidates, key=lambda c: (abs(c[0]), c[1])):
        if abs(drift_w + deviation_w) <= deadband_w:
            held[name] = current
            drift_w += deviation_w
    return held


def commit(allocation: Allocation, fleet: Sequence[FleetMember], now_s: float) -> None:
    """Record that `allocation` was applied at `now_s`: new limits, change times and counts."""
    changed = set(allocation.changed)
    for member in fleet:
        if member.name in changed:
            member.limit_w = allocation.limits_w[member.name]
            member.last_change_s = now_s
            member.changes_today += 1


def start_new_day(fleet: Sequence[FleetMember]) -> None:
    """Reset the daily change counts (call at the site's local midnight)."""
    for member in fleet:
        member.changes_today = 0
