"""Units a sensor may report in, and their conversion to the product's unit for that quantity.

The controller works in one unit per quantity (°C, L/min, W, kWh, m³); a sensor's config names what
the device sends and the board converts on the way in. Every conversion is affine:
product = (raw − zero)·scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Quantity = Literal["temperature", "flow", "power", "energy", "volume"]

#: The unit the rest of the product uses for each quantity.
PRODUCT_UNIT: Final[dict[Quantity, str]] = {
    "temperature": "°C",
    "flow": "L/min",
    "power": "W",
    "energy": "kWh",
    "volume": "m³",
}


@dataclass(frozen=True)
class Unit:
    symbol: str
    quantity: Quantity
    scale: float
    #: The raw value that is zero in the product unit (32 for °F); subtracting first keeps 140 °F = 60.0 °C.
    zero: float = 0.0

    def to_product(self, raw: float) -> float:
        return (raw - self.zero) * self.scale


UNITS: Final[dict[str, Unit]] = {
    u.symbol: u
    for u in (
        Unit("°C", "temperature", 1.0),
        # "K" here is an absolute temperature (a sensor reading), not a difference.
        Unit("K", "temperature", 1.0, 273.15),
        Unit("°F", "temperature", 5.0 / 9.0, 32.0),
        Unit("L/min", "flow", 1.0),
        Unit("m³/h", "flow", 1000.0 / 60.0),
        Unit("W", "power", 1.0),
        Unit("kW", "power", 1000.0),
        Unit("kWh", "energy", 1.0),
        Unit("Wh", "energy", 0.001),
        Unit("MWh", "energy", 1000.0),
        Unit("m³", "volume", 1.0),
        Unit("L", "volume", 0.001),
    )
}

#: ASCII spellings accepted in config files, mapped to the canonical symbol.
ALIASES: Final[dict[str, str]] = {
    "degC": "°C",
    "C": "°C",
    "degF": "°F",
    "F": "°F",
    "l/min": "L/min",
    "lpm": "L/min",
    "m3/h": "m³/h",
    "m3": "m³",
    "l": "L",
}


def canonical_unit(symbol: str) -> str:
    """The canonical symbol for `symbol` (an alias or a canonical symbol); ValueError if unknown."""
    name = ALIASES.get(symbol.strip(), symbol.strip())
    if name not in UNITS:
        allowed = ", ".join(list(UNITS) + list(ALIASES))
        raise ValueError(f"unknown unit {symbol!r}; allowed: {allowed}")
    return name


def unit(symbol: str) -> Unit:
    return UNITS[canonical_unit(symbol)]
