"""Operator commands (mode, setpoint, manual overrides with an expiry) as a layer over a strategy.

The safety and hygiene layer wraps this one, so no command can take the plant out of its safe
envelope: an override of the miners' power still yields to a coolant or tank over-temperature,
and "off" stops the miners but never the gas backup (hot water must stay hot).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from boiler.control.strategies import Strategy
from boiler.control.types import Decision, Observation

Mode = Literal["auto", "manual", "off", "legionella"]
#: The reason of an operator-commanded disinfection cycle (the loop leaves these ticks out of the mean outlet).
LEGIONELLA_MODE_REASON = "mode_legionella"


@dataclass
class Overrides:
    """What operators asked for, with expiries in epoch seconds (None = until cleared)."""

    mode: Mode = "auto"
    outlet_setpoint_c: float | None = None
    #: Lowest temperature the gas keeps its zone of the tank at (a floor on the gas setpoint).
    tank_setpoint_c: float | None = None
    items: dict[str, tuple[float | bool, float | None]] = field(default_factory=dict)

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode

    def set_item(self, item: str, value: float | bool | None, expires_at_s: float | None) -> None:
        if value is None:
            self.items.pop(item, None)
        else:
            self.items[item] = (value, expires_at_s)

    def active(self, now_s: float) -> dict[str, float | bool]:
        """Items still in force; expired ones are dropped."""
        for item, (_, until) in list(self.items.items()):
            if until is not None and now_s >= until:
                del self.items[item]
        return {item: value for item, (value, _) in self.items.items()}

    def to_state(self) -> dict[str, Any]:
        return {"mode": self.mode, "outlet_setpoint_c": self.outlet_setpoint_c,
                "tank_setpoint_c": self.tank_setpoint_c,
                "items": {k: list(v) for k, v in self.items.items()}}

    @staticmethod
    def from_state(data: dict[str, Any]) -> Overrides:
        return Overrides(mode=data.get("mode", "auto"), outlet_setpoint_c=data.get("outlet_setpoint_c"),
                         tank_setpoint_c=data.get("tank_setpoint_c"),
                         items={k: (v[0], v[1]) for k, v in data.get("items", {}).items()})


class OverrideLayer:
    """Applies `Overrides` to the inner strategy's decision."""

    def __init__(self, strategy: Strategy, overrides: Overrides, configured_setpoint_c: float,
                 legionella_setpoint_c: float) -> None:
        self.strategy = strategy
        self.overrides = overrides
        self.configured_setpoint_c = configured_setpoint_c
        self.legionella_setpoint_c = legionella_setpoint_c

    @property
    def name(self) -> str:
        return self.strategy.name

    def decide(self, now_s: float, obs: Observation) -> Decision:
        o = self.overrides
        if o.mode == "legionella":
            return Decision(miner_power_w=0.0, charge_pump=False, gas_enable=True,
                            gas_setpoint_c=self.legionella_setpoint_c, destratify=True,
                            reason=LEGIONELLA_MODE_REASON, decided_by="override")
        d = self.strategy.decide(now_s, obs)
        tags = []
        if o.outlet_setpoint_c is not None:
            d = replace(d, gas_setpoint_c=d.gas_setpoint_c + o.outlet_setpoint_c - self.configured_setpoint_c)
            tags.append("setpoint")
        if o.tank_setpoint_c is not None and d.gas_enable and d.gas_setpoint_c < o.tank_setpoint_c:
            d = replace(d, gas_setpoint_c=o.tank_setpoint_c)
            tags.append("tank_setpoint")
        if o.mode == "off":
            d = replace(d, miner_power_w=0.0, charge_pump=False, dump_heat=False)
            tags.append("mode_off")
        for item, value in o.active(now_s).items():
            if item == "miner_power_w":
                d = replace(d, miner_power_w=max(0.0, float(value)), charge_pump=float(value) > 0 or d.charge_pump)
            elif item == "gas_enable":
                d = replace(d, gas_enable=bool(value))
            elif item == "charging_pump":
                d = replace(d, charge_pump=bool(value))
            tags.append(f"override_{item}")
        if tags:
            d = replace(d, reason=f"{d.reason}:{':'.join(tags)}", decided_by="override")
        return d
