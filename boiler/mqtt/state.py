"""The documented state items of the tree `<prefix>/<site>/…`, and how their values are written.

One catalogue feeds three things: the check of what the service publishes, the Home Assistant
discovery configs, and docs/mqtt.md. Sensors and actuators add their own items from the config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from boiler.mqtt.actuators import format_number
from boiler.mqtt.commands import MODES

Component = Literal["sensor", "binary_sensor", "number", "select"]
ValueType = Literal["number", "bool", "text", "option"]
StateValue = bool | int | float | str | None

#: Written for "no value" (an inactive override, an unknown figure); Home Assistant reads it as unknown.
NONE_PAYLOAD: Final = "None"
#: Longest text state; Home Assistant refuses longer states.
MAX_TEXT: Final = 255
OVERRIDE_OPTIONS: Final = ("auto", "on", "off")


@dataclass(frozen=True)
class StateItem:
    """One retained topic `<prefix>/<site>/<key>`. Settable items also listen on `<key>/set`."""

    key: str
    component: Component
    name: str
    value_type: ValueType
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    options: tuple[str, ...] = ()
    settable: bool = False
    icon: str | None = None

    @property
    def object_id(self) -> str:
        return self.key.replace("/", "_")


STATE_ITEMS: Final[tuple[StateItem, ...]] = (
    StateItem("mode", "select", "Mode", "option", options=MODES, settable=True, icon="mdi:cog"),
    StateItem("reason", "sensor", "Last decision", "text", icon="mdi:comment-text-outline"),
    StateItem("decided_by", "sensor", "Decided by", "text", icon="mdi:account-check-outline"),
    StateItem("safe_state", "binary_sensor", "Safe state", "bool", device_class="problem"),
    StateItem("setpoint/outlet_c", "number", "Outlet setpoint", "number", "°C", "temperature", settable=True),
    StateItem("setpoint/tank_c", "number", "Tank setpoint", "number", "°C", "temperature", settable=True),
    StateItem("override/miner_power_w", "number", "Miner power override", "number", "W", "power", settable=True),
    StateItem(
        "override/gas_enable",
        "select",
        "Gas override",
        "option",
        options=OVERRIDE_OPTIONS,
        settable=True,
        icon="mdi:fire",
    ),
    StateItem(
        "override/charging_pump",
        "select",
        "Charging pump override",
        "option",
        options=OVERRIDE_OPTIONS,
        settable=True,
        icon="mdi:pump",
    ),
    StateItem("miners/power_w", "sensor", "Miner power", "number", "W", "power", "measurement"),
    StateItem("miners/hashrate_ths", "sensor", "Hashrate", "number", "TH/s", None, "measurement", icon="mdi:pickaxe"),
    StateItem("miners/online", "sensor", "Miners online", "number", None, None, "measurement", icon="mdi:server"),
    StateItem("heat/miners_kwh", "sensor", "Heat from miners", "number", "kWh", "energy", "total_increasing"),
    StateItem("heat/gas_kwh", "sensor", "Heat from gas", "number", "kWh", "energy", "total_increasing"),
    StateItem("money/revenue_eur", "sensor", "Mining revenue", "number", "EUR", "monetary", "total"),
    StateItem("money/net_eur", "sensor", "Net result", "number", "EUR", "monetary", "total"),
)
STATE_BY_KEY: Final[dict[str, StateItem]] = {item.key: item for item in STATE_ITEMS}


def format_state(item: StateItem, value: StateValue) -> bytes:
    """The payload for `value` of `item`; ValueError if the value does not fit the item."""
    if value is None:
        if item.value_type in ("number", "text"):
            return NONE_PAYLOAD.encode()
        raise ValueError(f"state {item.key} needs a value")
    if item.value_type == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"state {item.key} takes True/False, not {value!r}")
        return b"ON" if value else b"OFF"
    if item.value_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"state {item.key} takes a finite number, not {value!r}")
        return format_number(float(value)).encode()
    if not isinstance(value, str):
        raise ValueError(f"state {item.key} takes text, not {value!r}")
    if item.value_type == "option" and value not in item.options:
        raise ValueError(f"state {item.key} must be one of {', '.join(item.options)}, not {value!r}")
    return value[:MAX_TEXT].encode()


@dataclass(frozen=True, slots=True)
class PlantState:
    """The retained state tree of one tick, typed; `as_items()` gives the `STATE_ITEMS` values."""

    mode: str
    reason: str
    decided_by: str
    safe_state: bool
    outlet_setpoint_c: float
    tank_setpoint_c: float | None
    #: Active overrides: a power (W) or None; "on"/"off"/"auto" for the switches.
    override_miner_power_w: float | None
    override_gas_enable: str
    override_charging_pump: str
    miners_power_w: float
    miners_hashrate_ths: float
    miners_online: int
    heat_miners_kwh: float
    heat_gas_kwh: float
    revenue_eur: float
    net_eur: float

    def as_items(self) -> dict[str, StateValue]:
        return {
            "mode": self.mode, "reason": self.reason, "decided_by": self.decided_by, "safe_state": self.safe_state,
            "setpoint/outlet_c": self.outlet_setpoint_c, "setpoint/tank_c": self.tank_setpoint_c,
            # Every override item, also when none is active: an expired or cleared override must not
            # linger in the retained tree (None and "auto" are the documented "no override").
            "override/miner_power_w": self.override_miner_power_w,
            "override/gas_enable": self.override_gas_enable,
            "override/charging_pump": self.override_charging_pump,
            "miners/power_w": self.miners_power_w, "miners/hashrate_ths": self.miners_hashrate_ths,
            "miners/online": self.miners_online, "heat/miners_kwh": self.heat_miners_kwh,
            "heat/gas_kwh": self.heat_gas_kwh, "money/revenue_eur": self.revenue_eur, "money/net_eur": self.net_eur,
        }
