"""Hygiene (Legionella) rules and the compliance log, the controller's "carnet sanitaire".

`HygieneRules` is the rule set as it appears in the product's YAML config; `HygieneChecker` is
fed every control tick (simulation or real plant) and keeps the log that proves compliance.

Rules (reference/domain.md §3):
- "default", the product's own: outlet ≥ 60 °C and loop return ≥ 55 °C at all times; daily
  cycles are logged when they happen (the French daily-raise record) but not required.
- "fr", arrêté du 30 novembre 2005: outlet permanently ≥ 55 °C **or** the whole store raised
  once per rolling 24 h (≥ 70 °C 2 min, ≥ 65 °C 4 min, ≥ 60 °C 60 min); distribution ≥ 50 °C
  always; pre-heat stores exempt.
- "de", DVGW W 551 (Großanlage): outlet ≥ 60 °C with short dips tolerated, return ≥ 55 °C, and the
  whole pre-heat volume ≥ 60 °C once a day. W 551 names no hold for the pre-heat rule; we require
  the coldest node to stay ≥ 60 °C for 5 min (`preheat_cycle_criteria`), so that one noisy sample
  or a momentary crossing does not count as "the whole content was heated". Override per site.

Sampling convention: each `update` sample stands for the `dt_s` seconds ending at `now_s`, so
holds and episode lengths are sums of whole samples; verdicts are identical at any step size
that resolves the trace. Windows are rolling 24 h (no calendar days): a cycle that crosses
midnight counts once.

The checker has no history before its first sample. Unless the last pass of each store is
given, it assumes the plant was compliant when observation began (as though every store had
passed a cycle then), so a required cycle falls due 24 h after the first sample.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tank.water import S_PER_DAY

Preset = Literal["default", "fr", "de"]
DailyCycle = Literal["never", "always", "unless_outlet_permanent"]
StoreRole = Literal["finishing", "preheat"]
EventKind = Literal["cycle_pass", "cycle_fail", "outlet_low", "outlet_dip", "loop_return_low", "cycle_missed"]

#: An attempt ends only when the coldest node falls this far below the lowest criterion
#: temperature, so sensor noise around 60 °C does not split one attempt into many log lines.
ATTEMPT_END_HYSTERESIS_K: Final = 0.5
# Float sums of dt (e.g. 0.1 s steps) must not miss a hold by rounding.
_EPS_S: Final = 1e-6
_NAN: Final = math.nan
_INF: Final = math.inf


class CycleCriterion(NamedTuple):
    """The coldest node of a store held at ≥ `temp_c` for `hold_s` contiguous seconds."""

    temp_c: float
    hold_s: float


FRENCH_CYCLE_CRITERIA: Final = (
    CycleCriterion(70.0, 120.0),
    CycleCriterion(65.0, 240.0),
    CycleCriterion(60.0, 3600.0),
)
DVGW_PREHEAT_CRITERIA: Final = (CycleCriterion(60.0, 300.0),)

_PRESETS: Final[dict[str, dict[str, Any]]] = {
    "default": {
        "outlet_min_c": 60.0,
        "loop_return_min_c": 55.0,
        "daily_cycle": "never",
        "preheat_daily_cycle": False,
        "outlet_dip_tolerance_s": 0.0,
    },
    "fr": {
        "outlet_min_c": 55.0,
        "loop_return_min_c": 50.0,
        "daily_cycle": "unless_outlet_permanent",
        "preheat_daily_cycle": False,
        "outlet_dip_tolerance_s": 0.0,
    },
    # "dips of a few minutes inside the control loop are tolerated" (domain.md §3.2): 5 min.
    "de": {
        "outlet_min_c": 60.0,
        "loop_return_min_c": 55.0,
        "daily_cycle": "never",
        "preheat_daily_cycle": True,
        "outlet_dip_tolerance_s": 300.0,
    },
}


class HygieneRules(BaseModel):
    """Hygiene rule set. Fields not given are taken from `preset`; explicit fields override it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Preset = "default"
    outlet_min_c: float = Field(60.0, ge=0.0, le=100.0, description="Finishing-store outlet, at all times")
    loop_return_min_c: float = Field(55.0, ge=0.0, le=100.0, description="Recirculation return, at all times")
    daily_cycle: DailyCycle = Field(
        "never", description="When finishing stores need a passing cycle in every rolling 24 h"
    )
    cycle_criteria: list[CycleCriterion] = Field(
        default_factory=lambda: list(FRENCH_CYCLE_CRITERIA),
        description="Finishing stores: any one (temp_c, hold_s) passes a cycle",
    )
    preheat_daily_cycle: bool = Field(False, description="Pre-heat stores need a passing cycle daily")
    preheat_cycle_criteria: list[CycleCriterion] = Field(
        default_factory=lambda: list(DVGW_PREHEAT_CRITERIA),
        description="Pre-heat stores: any one (temp_c, hold_s) passes a cycle",
    )
    outlet_dip_tolerance_s: float = Field(
        0.0, ge=0.0, le=86_400.0,
        description="Outlet dips shorter than this (s) are logged as outlet_dip, not violations",
    )
    cycle_due_margin_s: float = Field(
        3 * 3600.0,
        ge=0.0,
        lt=S_PER_DAY,
        description="cycle_due turns True this long before a required cycle's 24 h run out",
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            preset = data.get("preset", "default")
            if isinstance(preset, str) and preset in _PRESETS:
                return {**_PRESETS[preset], **data}
        return data

    @field_validator("cycle_criteria", "preheat_cycle_criteria")
    @classmethod
    def _check_criteria(cls, criteria: list[CycleCriterion]) -> list[CycleCriterion]:
        if not criteria:
            raise ValueError("at least one (temp_c, hold_s) criterion is needed")
        for temp_c, hold_s in criteria:
            if not 40.0 <= temp_c <= 100.0:
                raise ValueError(f"temp_c {temp_c} outside 40..100 °C")
            if not 0.0 < hold_s < S_PER_DAY:
                raise ValueError(f"hold_s {hold_s} outside (0, 86400) s")
        return criteria

    @classmethod
    def for_preset(cls, name: Preset, **overrides: Any) -> HygieneRules:
        """The rules of preset `name`, with `overrides` replacing individual fields."""
        return cls.model_validate({"preset": name, **overrides})


@dataclass(frozen=True, slots=True)
class ComplianceEvent:
    """One line of the compliance log: a cycle attempt or one episode of a rule not met."""

    kind: EventKind
    store: str | None  # None for outlet and loop-return episodes
    start_s: float
    end_s: float
    extreme_c: float | None  # peak coldest node for cycles, minimum for low episodes
    violation: bool
    detail: str = ""
    ongoing: bool = False  # still running at the last update; end_s is provisional

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class ComplianceSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    preset: Preset
    compliant: bool
    observed_s: float
    violations: int
    counts: dict[str, int]
    outlet_minutes_below: float
    loop_return_minutes_below: float
    cycle_missed_minutes: float
    cycles_passed: int
    cycles_failed: int
    last_cycle_s: dict[str, float | None]  # latest moment each store met a criterion


class _LowWatch:
    """An open-or-closed episode of a reading below its minimum."""

    __slots__ = ("extreme_c", "is_open", "last_s", "min_c", "missing_s", "start_s")

    def __init__(self, min_c: float) -> None:
        self.min_c = min_c
        self.is_open = False
        self.start_s = 0.0
        self.last_s = 0.0  # end of the latest sample in the episode
        self.extreme_c = _INF
        self.missing_s = 0.0  # NaN samples count as low: a gap cannot prove compliance


class _Store:
    __slots__ = (
        "base_s",
        "best_s",
        "criteria",
        "first_pass_s",
        "floor_c",
        "held_s",
        "in_attempt",
        "last_at_floor_s",
        "last_pass_s",
        "met",
        "missed_open",
        "missed_start_s",
        "name",
        "need_always",
        "peak_c",
        "required",
        "role",
        "start_s",
    )

    def __init__(self, name: str, role: StoreRole, rules: HygieneRules) -> None:
        self.name = name
        self.role = role
        crit = rules.preheat_cycle_criteria if role == "preheat" else rules.cycle_criteria
        self.criteria: tuple[CycleCriterion, ...] = tuple(crit)
        self.floor_c = min(c.temp_c for c in self.criteria)
        if role == "preheat":
            self.required = rules.preheat_daily_cycle
            self.need_always = True
        else:
            self.required = rules.daily_cycle != "never"
            self.need_always = rules.daily_cycle == "always"
        self.in_attempt = False
        self.start_s = 0.0
        self.last_at_floor_s = 0.0
        self.peak_c = -_INF
        self.held_s = [0.0] * len(self.criteria)
        self.best_s = [0.0] * len(self.criteria)
        self.first_pass_s: float | None = None  # in the current attempt
        self.met: CycleCriterion | None = None
        self.last_pass_s: float | None = None  # latest moment a criterion was met
        self.base_s = _NAN  # 24 h clock: latest pass, or start of observation
        self.missed_open = False
        self.missed_start_s = 0.0


def _iso(t_s: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(t_s, tz or UTC).isoformat(timespec="seconds")


CSV_COLUMNS: Final = (
    "kind",
    "store",
    "start",
    "end",
    "start_s",
    "end_s",
    "duration_s",
    "extreme_c",
    "violation",
    "ongoing",
    "detail",
)


class HygieneChecker:
    """Online hygiene checker and compliance log.

    `stores` maps each watched store's name to its role. Call `update` once per tick with the
    finishing store's outlet, the loop return and the coldest node of every store.
    """

    def __init__(
        self,
        rules: HygieneRules,
        stores: Mapping[str, StoreRole],
        *,
        last_cycle_pass_s: Mapping[str, float] | None = None,
    ) -> None:
        if not stores:
            raise ValueError("watch at least one store")
        bad = {name: role for name, role in stores.items() if role not in ("finishing", "preheat")}
        if bad:
            raise ValueError(f"store roles must be 'finishing' or 'preheat', got {bad}")
        self.rules = rules
        self.events: list[ComplianceEvent] = []
        self._stores = [_Store(name, role, rules) for name, role in stores.items()]
        self._by_name = {st.name: st for st in self._stores}
        self._required = [st for st in self._stores if st.required]
        self._outlet = _LowWatch(rules.outlet_min_c)
        self._loop = _LowWatch(rules.loop_return_min_c)
        self._outlet_alternative = rules.daily_cycle == "unless_outlet_permanent"
        self._tolerance_s = rules.outlet_dip_tolerance_s
        self._last_low_s = -_INF  # end of the latest outlet sample that breaks "permanently ≥ min"
        self._low_start_s = -_INF  # start of the outlet episode that set _last_low_s
        self._first_s: float | None = None
        self._ready = False  # False before the first update and after finish()
        self._last_s = _NAN
        self._recheck_at_s = -_INF
        self._finished = False
        for name, t_s in (last_cycle_pass_s or {}).items():
            if name not in self._by_name:
                raise ValueError(f"last_cycle_pass_s names unknown store {name!r}")
            st = self._by_name[name]
            st.last_pass_s = st.base_s = t_s

    # ---- the per-tick hot path -------------------------------------------------------------

    def update(
        self,
        now_s: float,
        dt_s: float,
        outlet_c: float,
        loop_return_c: float,
        store_min_c: Mapping[str, float],
    ) -> None:
        """Feed one sample covering (now_s − dt_s, now_s].

        A NaN outlet or return counts as low (a gap cannot prove compliance); a NaN or missing
        store reading never starts a cycle attempt and ends one in progress.
        """
        if not self._ready:
            self._begin(now_s - dt_s)
        # Fast path: plain comparisons; anything unusual goes to a slower helper.
        w = self._outlet
        if w.is_open or not outlet_c >= w.min_c:
            self._step_outlet(now_s, dt_s, outlet_c)
        w = self._loop
        if w.is_open or not loop_return_c >= w.min_c:
            self._step_low(w, "loop_return_low", now_s, dt_s, loop_return_c)
        for st in self._stores:
            t_c = store_min_c.get(st.name, _NAN)
            if st.in_attempt or t_c >= st.floor_c:
                self._step_store(st, now_s, dt_s, t_c)
        if now_s >= self._recheck_at_s:
            self._check_requirements(now_s)
        self._last_s = now_s

    # ---- queries for the controller ----------------------------------------------------------

    def cycle_due(self, now_s: float, store: str | None = None, horizon_s: float = 0.0) -> bool:
        """True when a required cycle has not passed within the last 24 h minus the margin.

        Under "unless_outlet_permanent" a cycle is required only while an outlet low lies in
        the rolling 24 h. Looks at `store` only, or at every store when None. With `horizon_s`,
        True already when the cycle will fall due within that time (a controller with a daily
        window asks whether it must cycle in this window or be late before the next one).
        """
        margin_s = self.rules.cycle_due_margin_s
        need_low = self._last_low_s > now_s - S_PER_DAY
        for st in self._required:
            if store is not None and st.name != store:
                continue
            base_s = st.base_s if not math.isnan(st.base_s) else now_s
            if (st.need_always or need_low) and now_s + horizon_s >= base_s + S_PER_DAY - margin_s:
                return True
        return False

    def last_required_pass_s(self) -> float | None:
        """Latest moment every store that needs cycles had met a criterion (None if one never did)."""
        times = [st.last_pass_s for st in self._required]
        if not times or any(t is None for t in times):
            return None
        return min(t for t in times if t is not None)

    @property
    def cycle_in_progress(self) -> bool:
        """True while any store's coldest node is at or above its lowest criterion temperature."""
        return any(st.in_attempt for st in self._stores)

    def cycle_met(self, store: str) -> bool:
        """True when the attempt in progress in `store` has already met a criterion."""
        st = self._by_name[store]
        return st.in_attempt and st.first_pass_s is not None

    def last_cycle_pass_s(self, store: str) -> float | None:
        """Latest moment `store` met a cycle criterion (None if never seen)."""
        return self._by_name[store].last_pass_s

    # ---- end of run, summary, export ---------------------------------------------------------

    def finish(self, now_s: float | None = None) -> None:
        """Close every open episode (at `now_s`, default the last update) and stop."""
        if self._finished:
            return
        if self._first_s is not None:
            end_s = self._last_s if now_s is None else now_s
            self._check_requirements(end_s)
            self.events.extend(self._open_events(end_s, provisional=False))
        self._finished = True
        self._ready = False
        for st in self._stores:
            st.in_attempt = st.missed_open = False
        self._outlet.is_open = self._loop.is_open = False

    def summary(self) -> ComplianceSummary:
        """Verdict over everything seen so far; open episodes count up to the last update."""
        events = self.all_events()
        counts: dict[str, int] = {}
        for ev in events:
            counts[ev.kind] = counts.get(ev.kind, 0) + 1
        violations = sum(ev.violation for ev in events)

        def minutes(*kinds: str) -> float:
            return sum(ev.duration_s for ev in events if ev.kind in kinds) / 60.0

        observed_s = 0.0 if self._first_s is None else self._last_s - self._first_s
        return ComplianceSummary(
            preset=self.rules.preset,
            compliant=violations == 0,
            observed_s=observed_s,
            violations=violations,
            counts=counts,
            outlet_minutes_below=minutes("outlet_low", "outlet_dip"),
            loop_return_minutes_below=minutes("loop_return_low"),
            cycle_missed_minutes=minutes("cycle_missed"),
            cycles_passed=counts.get("cycle_pass", 0),
            cycles_failed=counts.get("cycle_fail", 0),
            last_cycle_s={st.name: st.last_pass_s for st in self._stores},
        )

    def all_events(self) -> list[ComplianceEvent]:
        """The log plus provisional events for episodes still open, sorted by start."""
        extra = [] if self._finished or self._first_s is None else self._open_events(self._last_s, True)
        return sorted([*self.events, *extra], key=lambda ev: (ev.start_s, ev.end_s, ev.kind))

    def rows(self, tz: tzinfo | None = None) -> Iterator[dict[str, Any]]:
        """CSV-ready rows of `all_events()`; times as ISO 8601 in `tz` (default UTC) and epoch s."""
        for ev in self.all_events():
            yield {
                "kind": ev.kind,
                "store": ev.store or "",
                "start": _iso(ev.start_s, tz),
                "end": _iso(ev.end_s, tz),
                "start_s": ev.start_s,
                "end_s": ev.end_s,
                "duration_s": ev.duration_s,
                "extreme_c": "" if ev.extreme_c is None else round(ev.extreme_c, 2),
                "violation": ev.violation,
                "ongoing": ev.ongoing,
                "detail": ev.detail,
            }

    def to_csv(self, path: str | Path, tz: tzinfo | None = None) -> int:
        """Write the log as CSV for the carnet sanitaire; returns the number of rows."""
        n = 0
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in self.rows(tz):
                writer.writerow(row)
                n += 1
        return n

    # ---- slow paths ------------------------------------------------------------------------

    def _begin(self, start_s: float) -> None:
        if self._finished:
            raise RuntimeError("update() after finish()")
        self._ready = True
        self._first_s = start_s
        for st in self._stores:
            if math.isnan(st.base_s):
                st.base_s = start_s

    def _step_outlet(self, now_s: float, dt_s: float, outlet_c: float) -> None:
        w = self._outlet
        self._step_low(w, "outlet", now_s, dt_s, outlet_c)
        # Dips within tolerance never break "permanently ≥ min"; longer ones do from their start.
        if w.is_open and now_s - w.start_s >= self._tolerance_s:
            self._low_start_s = w.start_s
            self._last_low_s = now_s
            self._recheck_at_s = -_INF

    def _step_low(self, w: _LowWatch, what: str, now_s: float, dt_s: float, value_c: float) -> None:
        if value_c >= w.min_c:
            self.events.append(self._low_event(w, what, w.last_s, provisional=False))
            w.is_open = False
            return
        if not w.is_open:
            w.is_open = True
            w.start_s = now_s - dt_s
            w.extreme_c = _INF
            w.missing_s = 0.0
        if value_c < w.extreme_c:
            w.extreme_c = value_c
        elif math.isnan(value_c):
            w.missing_s += dt_s
        w.last_s = now_s

    def _low_event(self, w: _LowWatch, what: str, end_s: float, provisional: bool) -> ComplianceEvent:
        kind: EventKind = "loop_return_low"
        violation = True
        if what == "outlet":
            if end_s - w.start_s < self._tolerance_s:
                kind, violation = "outlet_dip", False
            else:
                # Under the French alternative a low outlet only calls for a cycle (cycle_missed).
                kind, violation = "outlet_low", not self._outlet_alternative
        extreme = None if math.isinf(w.extreme_c) else w.extreme_c
        detail = f"below {w.min_c:g} °C"
        if w.missing_s:
            detail += f"; no reading for {w.missing_s:g} s"
        return ComplianceEvent(kind, None, w.start_s, end_s, extreme, violation, detail, provisional)

    def _step_store(self, st: _Store, now_s: float, dt_s: float, t_c: float) -> None:
        if not st.in_attempt:  # t_c >= floor here
            st.in_attempt = True
            st.start_s = now_s - dt_s
            st.peak_c = t_c
            st.first_pass_s = None
            st.met = None
            for i in range(len(st.criteria)):
                st.held_s[i] = st.best_s[i] = 0.0
        elif not t_c >= st.floor_c - ATTEMPT_END_HYSTERESIS_K:  # also ends on NaN
            self.events.append(self._cycle_event(st, provisional=False))
            st.in_attempt = False
            return
        if t_c > st.peak_c:
            st.peak_c = t_c
        if t_c >= st.floor_c:
            st.last_at_floor_s = now_s
        met: CycleCriterion | None = None
        for i, crit in enumerate(st.criteria):
            if t_c >= crit.temp_c:
                held_s = st.held_s[i] + dt_s
                st.held_s[i] = held_s
                if held_s > st.best_s[i]:
                    st.best_s[i] = held_s
                if met is None and held_s >= crit.hold_s - _EPS_S:
                    met = crit
            else:
                st.held_s[i] = 0.0
        if met is not None:
            if st.first_pass_s is None:
                st.first_pass_s = now_s
                st.met = met
            # Held on: every sample refreshes the 24 h clock (a week at 60 °C stays compliant).
            st.last_pass_s = st.base_s = now_s
            if st.missed_open:
                self.events.append(self._missed_event(st, now_s, provisional=False))
                st.missed_open = False

    def _cycle_event(self, st: _Store, provisional: bool) -> ComplianceEvent:
        kind: EventKind
        if st.met is not None and st.first_pass_s is not None:
            detail = f"≥ {st.met.temp_c:g} °C for {st.met.hold_s:g} s met at {_iso(st.first_pass_s, None)}"
            kind = "cycle_pass"
        else:
            i = max(range(len(st.criteria)), key=lambda j: st.best_s[j] / st.criteria[j].hold_s)
            crit = st.criteria[i]
            detail = f"best: ≥ {crit.temp_c:g} °C for {st.best_s[i]:g} s of {crit.hold_s:g} s"
            kind = "cycle_fail"
        return ComplianceEvent(
            kind, st.name, st.start_s, st.last_at_floor_s, st.peak_c, False, detail, provisional
        )

    def _missed_event(self, st: _Store, end_s: float, provisional: bool) -> ComplianceEvent:
        what = "pre-heat store" if st.role == "preheat" else "store"
        detail = f"{what} without a passing cycle in the rolling 24 h"
        if not st.need_always:
            detail += " while the outlet was not permanently ≥ min"
        end_s = max(end_s, st.missed_start_s)
        return ComplianceEvent(
            "cycle_missed", st.name, st.missed_start_s, end_s, None, True, detail, provisional
        )

    def _check_requirements(self, now_s: float) -> None:
        """Open or close cycle_missed episodes; schedule the next time one can change."""
        next_s = _INF
        need_low = self._last_low_s > now_s - S_PER_DAY
        lapse_s = self._last_low_s + S_PER_DAY  # when the latest outlet low leaves the window
        for st in self._required:
            need = st.need_always or need_low
            due_s = st.base_s + S_PER_DAY
            if need and now_s >= due_s:
                if not st.missed_open:
                    st.missed_open = True
                    # Opened by the clock (due_s) or, under the outlet alternative, by a low
                    # outlet after the clock ran out: then from the start of that low.
                    st.missed_start_s = due_s if st.need_always else max(due_s, self._low_start_s)
                if not st.need_always:
                    next_s = min(next_s, lapse_s)
            else:
                if st.missed_open:  # a pass closes it at once, so here the low left the window
                    self.events.append(self._missed_event(st, min(lapse_s, now_s), provisional=False))
                    st.missed_open = False
                if need:
                    next_s = min(next_s, due_s)
        self._recheck_at_s = next_s

    def _open_events(self, end_s: float, provisional: bool) -> list[ComplianceEvent]:
        out: list[ComplianceEvent] = []
        if self._outlet.is_open:
            out.append(self._low_event(self._outlet, "outlet", self._outlet.last_s, provisional))
        if self._loop.is_open:
            out.append(self._low_event(self._loop, "loop_return_low", self._loop.last_s, provisional))
        for st in self._stores:
            if st.in_attempt:
                out.append(self._cycle_event(st, provisional))
            if st.missed_open:
                out.append(self._missed_event(st, end_s, provisional))
        return out


__all__ = [
    "ATTEMPT_END_HYSTERESIS_K",
    "CSV_COLUMNS",
    "DVGW_PREHEAT_CRITERIA",
    "FRENCH_CYCLE_CRITERIA",
    "ComplianceEvent",
    "ComplianceSummary",
    "CycleCriterion",
    "DailyCycle",
    "EventKind",
    "HygieneChecker",
    "HygieneRules",
    "Preset",
    "StoreRole",
]
