"""The controller: strategy wrapped in safety, then the fleet allocation. Same code everywhere.

`tick(obs)` turns one observation into commands for every device. It keeps only what a decision
needs between ticks (the allocator's view of each miner, the local day for change budgets).
"""

from __future__ import annotations

from boiler.config import PlantConfig
from boiler.control.overrides import OverrideLayer, Overrides
from boiler.control.plant_model import PlantModel
from boiler.control.registry import make_strategy
from boiler.control.safety import SafetyLayer
from boiler.control.strategies import Strategy
from boiler.control.types import Commands, Decision, Observation
from miners.allocation import FleetMember, allocate, commit, start_new_day


class Controller:
    def __init__(self, cfg: PlantConfig, model: PlantModel, strategy: str | Strategy | None = None,
                 overrides: Overrides | None = None) -> None:
        """`strategy`: a name (default: the config's) or a strategy built by the caller."""
        self.cfg = cfg
        self.model = model
        inner: Strategy = (strategy if strategy is not None and not isinstance(strategy, str)
                           else make_strategy(strategy or cfg.control.strategy_name, cfg, model))
        hyst = cfg.gas_boiler.hysteresis_k if cfg.gas_boiler else 2.0
        if overrides is not None:  # operators' commands sit inside the safety layer, never outside it
            inner = OverrideLayer(inner, overrides, cfg.control.setpoint_c, cfg.control.legionella_target_c + hyst)
        self.safety = SafetyLayer(inner, model, cfg.control, hyst)
        self.policy = cfg.control.allocation
        self.fleet = [
            FleetMember(name=name, spec=spec, available=True, limit_w=spec.nominal_power_w)
            for name, spec in model.miner_specs.items()
        ]
        self._day: int | None = None
        self.last_decision: Decision | None = None
        self.limit_changes = 0
        self._last_alloc_key: tuple[object, ...] | None = None
        self.changes_by_miner = {m.name: 0 for m in self.fleet}

    @property
    def strategy_name(self) -> str:
        return self.safety.name

    def budget_state(self) -> dict[str, list[float]]:
        """Each miner's last change time and changes today, to keep the budget across restarts."""
        return {m.name: [m.last_change_s, m.changes_today] for m in self.fleet}

    def restore_budget(self, state: dict[str, list[float]], day_index: int) -> None:
        for m in self.fleet:
            if m.name in state:
                m.last_change_s, changes = state[m.name]
                m.changes_today = int(changes)
        self._day = day_index

    def sync_fleet(self, obs: Observation) -> None:
        """Take the miners' reported state as the allocator's starting point."""
        by_name = {r.name: r for r in obs.miners}
        for member in self.fleet:
            r = by_name.get(member.name)
            member.available = r is not None and r.available
            if r is not None and r.available:
                member.limit_w = r.limit_w

    def tick(self, obs: Observation, day_index: int) -> Commands:
        if day_index != self._day:
            start_new_day(self.fleet)
            self._day = day_index
        self.sync_fleet(obs)
        decision = self.safety.decide(obs.now_s, obs)
        self.last_decision = decision
        # The allocation is a pure function of the target and each miner's state and permissions:
        # when none of them moved since the last call, it cannot change anything, so skip it.
        now = obs.now_s
        key = (decision.miner_power_w, decision.force, tuple(
            (m.available, m.limit_w, m.may_change(now, self.policy), m.may_reduce(now, self.policy))
            for m in self.fleet))
        if key == self._last_alloc_key:
            alloc_changed: tuple[str, ...] = ()
            limits: dict[str, float | None] = {}
        else:
            alloc = allocate(decision.miner_power_w, self.fleet, now, self.policy, force=decision.force)
            commit(alloc, self.fleet, now)
            alloc_changed, limits = alloc.changed, alloc.limits_w
            self._last_alloc_key = key if not alloc_changed else None
        self.limit_changes += len(alloc_changed)
        for name in alloc_changed:
            self.changes_by_miner[name] += 1
        return Commands(
            miner_limits_w={name: limits[name] for name in alloc_changed},
            charge_pump=decision.charge_pump,
            gas_enable=decision.gas_enable,
            gas_setpoint_c=decision.gas_setpoint_c,
            destratify=decision.destratify,
            dry_cooler=decision.dump_heat,
            reason=decision.reason,
            changed_miners=alloc_changed,
            charge_target_c=self._charge_target_c(decision),
        )

    def _charge_target_c(self, decision: Decision) -> float | None:
        """The charging pump's target: the decision's, else the site's; None without a controlled flow."""
        default = self.cfg.charge_target_c
        if default is None:
            return None
        return decision.charge_target_c if decision.charge_target_c is not None else default
