"""The telemetry schema (docs/telemetry.md) and pure functions that build its points.

Each function takes plain data — a mapping, a dataclass or a pydantic model whose keys are
the field names below — and returns points. Missing or ``None`` values and non-finite floats
are left out (an absent sensor writes nothing rather than a fake zero); unknown keys are
ignored, so the controller can pass its richer observation as is. Every value is cast to the
field's declared type, because InfluxDB refuses a field whose type changes.

Every measurement has a fixed tag set (InfluxDB 3.x fixes a table's tags on first write), and
no name is both a tag and a field.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Final

from boiler.telemetry.point import FieldValue, Point, ns_from_datetime

if TYPE_CHECKING:  # types only: boiler.ledger imports the config, which imports this package
    from boiler.hygiene import ComplianceEvent
    from boiler.ledger import LedgerRow

Timestamp = datetime | int  # timezone-aware datetime, or ns since the epoch (UTC)
FieldType = type[float] | type[int] | type[bool] | type[str]

# -- measurements and their fields (name -> type); units are in the names --------------------------

PLANT: Final = "plant"
PLANT_FIELDS: Final[Mapping[str, FieldType]] = {
    "outlet_c": float,
    "loop_return_c": float,
    "cold_water_c": float,
    "coolant_in_c": float,
    "coolant_out_c": float,
    "charge_pump": bool,
    "charging_power_w": float,
    "draw_lpm": float,
    "gas_enable": bool,
    "gas_firing": bool,
    "gas_setpoint_c": float,
    "gas_power_w": float,
    "dry_cooler": bool,
    "dry_cooler_power_w": float,
    "destratify": bool,
    "miners_power_w": float,
    "hashrate_ths": float,
    "electricity_eur_per_kwh": float,
    "hashprice_eur_per_ph_day": float,
    "legionella_due": bool,
    "legionella_in_progress": bool,
    "safe_state": bool,
}

TANK: Final = "tank"
#: Keys of the observation that may hold tank temperatures, sensor name -> °C (first found wins).
TANK_TEMPS_KEYS: Final = ("sensors_c", "tank_temps_c")
TANK_FIELDS: Final[Mapping[str, FieldType]] = {"temp_c": float}

MINER: Final = "miner"
MINER_FIELDS: Final[Mapping[str, FieldType]] = {
    "power_w": float,
    "hashrate_ths": float,
    "power_limit_w": float,
    "coolant_in_c": float,
    "coolant_out_c": float,
    "available": bool,
    "state": str,
    "state_code": int,
}
#: Other input names accepted for a field.
MINER_ALIASES: Final[Mapping[str, str]] = {"limit_w": "power_limit_w"}
#: Numeric twin of ``state`` for backends that drop strings (VictoriaMetrics); -1 = any other state.
MINER_STATE_CODES: Final[Mapping[str, int]] = {
    "sleeping": 0,
    "mining": 1,
    "hashing": 1,
    "starting": 2,
    "restarting": 2,
    "throttled": 3,
    "stopped_hot": 4,
    "unreachable": 5,
}

DECISION: Final = "decision"
DECISION_FIELDS: Final[Mapping[str, FieldType]] = {
    "reason": str,
    "decided_by": str,
    "miner_power_w": float,
    "charge_pump": bool,
    "gas_enable": bool,
    "gas_setpoint_c": float,
    "destratify": bool,
    "dump_heat": bool,
    "force": bool,
    "safety_override": bool,
}

LEDGER: Final = "ledger"
LEDGER_FIELDS: Final[Mapping[str, FieldType]] = {
    "row_id": int,
    "interval_s": float,
    "electricity_kwh": float,
    "electricity_cost_eur": float,
    "hashrate_ths_mean": float,
    "mining_revenue_eur": float,
    "btc_mined": float,
    "heat_from_miners_kwh": float,
    "heat_from_gas_kwh": float,
    "heat_dumped_kwh": float,
    "gas_fuel_kwh": float,
    "gas_cost_eur": float,
    "net_cost_eur": float,
    "dhw_heat_kwh": float,
    "dhw_demand_kwh": float,
    "dhw_volume_l": float,
    "dhw_volume_below_setpoint_l": float,
    "tank_losses_kwh": float,
    "loop_losses_kwh": float,
    "co2_kg": float,
    "baseline_gas_fuel_kwh": float,
    "baseline_gas_cost_eur": float,
    "baseline_co2_kg": float,
    "savings_eur": float,
    "co2_avoided_kg": float,
    "outlet_min_c": float,
    "loop_return_min_c": float,
}
#: Ledger fields a row computes (properties of ``LedgerRow``), not stores.
LEDGER_DERIVED: Final = ("net_cost_eur", "savings_eur", "co2_avoided_kg")

COMPLIANCE: Final = "compliance"
COMPLIANCE_FIELDS: Final[Mapping[str, FieldType]] = {
    "duration_s": float,
    "extreme_c": float,
    "violation": bool,
    "ongoing": bool,
    "detail": str,
}
#: The ``store`` tag of events that concern no store (outlet and loop-return episodes): a tag
#: value cannot be empty, and every compliance point has the same tag keys.
DISTRIBUTION_STORE: Final = "distribution"

TELEMETRY: Final = "telemetry"
TELEMETRY_FIELDS: Final[Mapping[str, FieldType]] = {
    "queued": int,
    "written": int,
    "failed_attempts": int,
    "dropped": int,
    "rejected": int,
    "append_failures": int,
    "oldest_age_s": float,
}

#: measurement -> (tag keys, fields). docs/telemetry.md documents exactly this.
SCHEMA: Final[Mapping[str, tuple[tuple[str, ...], Mapping[str, FieldType]]]] = {
    PLANT: (("site",), PLANT_FIELDS),
    TANK: (("site", "sensor"), TANK_FIELDS),
    MINER: (("site", "miner"), MINER_FIELDS),
    DECISION: (("site", "strategy"), DECISION_FIELDS),
    LEDGER: (("site",), LEDGER_FIELDS),
    COMPLIANCE: (("site", "kind", "store"), COMPLIANCE_FIELDS),
    TELEMETRY: (("site",), TELEMETRY_FIELDS),
}


# -- builders --------------------------------------------------------------------------------------


def plant_points(site: str, at: Timestamp, observation: object) -> list[Point]:
    """One ``plant`` point and one ``tank`` point per temperature sensor."""
    data = _as_mapping(observation)
    time_ns = _time_ns(at)
    points = _points_if_any(PLANT, {"site": site}, _typed_fields(data, PLANT_FIELDS), time_ns)
    temps = next((data[k] for k in TANK_TEMPS_KEYS if data.get(k) is not None), {})
    for sensor, temp_c in _as_mapping(temps).items():
        fields = _typed_fields({"temp_c": temp_c}, TANK_FIELDS)
        points += _points_if_any(TANK, {"site": site, "sensor": str(sensor)}, fields, time_ns)
    return points


def miner_points(site: str, at: Timestamp, miners: Iterable[object]) -> list[Point]:
    """One ``miner`` point per miner; each needs a ``name`` (the ``miner`` tag)."""
    time_ns = _time_ns(at)
    points: list[Point] = []
    for miner in miners:
        data = dict(_as_mapping(miner))
        for alias, key in MINER_ALIASES.items():
            if data.get(key) is None and data.get(alias) is not None:
                data[key] = data[alias]
        name = data.get("name")
        if name is None or name == "":
            raise ValueError(f"miner record without a name: {data!r}")
        state = _plain(data.get("state"))
        if state is not None and data.get("state_code") is None:
            data["state_code"] = MINER_STATE_CODES.get(str(state), -1)
        tags = {"site": site, "miner": str(name)}
        points += _points_if_any(MINER, tags, _typed_fields(data, MINER_FIELDS), time_ns)
    return points


def decision_point(site: str, at: Timestamp, decision: object) -> Point:
    """The ``decision`` point of one controller tick; needs ``strategy`` and ``reason``."""
    data = _as_mapping(decision)
    strategy = data.get("strategy")
    if not strategy or data.get("reason") is None:
        raise ValueError(f"decision needs a strategy and a reason: {data!r}")
    return Point(
        DECISION,
        {"site": site, "strategy": str(strategy)},
        _typed_fields(data, DECISION_FIELDS),
        _time_ns(at),
    )


def ledger_point(site: str, at: Timestamp, row: object) -> Point:
    """The ``ledger`` point of one accounting interval, stamped at the interval's end.

    ``interval_s`` comes from the row, or from its ``end_s - start_s``; ``net_cost_eur`` from the
    row's key or property of that name, and so ``savings_eur`` and ``co2_avoided_kg``."""
    data = dict(_as_mapping(row))
    if data.get("interval_s") is None and data.get("start_s") is not None and data.get("end_s") is not None:
        data["interval_s"] = float(data["end_s"]) - float(data["start_s"])  # type: ignore[arg-type]
    for key in LEDGER_DERIVED:
        if data.get(key) is None and getattr(row, key, None) is not None:
            data[key] = getattr(row, key)
    fields = _typed_fields(data, LEDGER_FIELDS)
    if not fields:
        raise ValueError(f"ledger row has none of the ledger fields: {row!r}")
    return Point(LEDGER, {"site": site}, fields, _time_ns(at))


def ledger_row_point(site: str, row: LedgerRow, row_id: int | None = None) -> Point:
    """The ``ledger`` point of a closed ``LedgerRow``, stamped at the end of its interval.

    A baseline the row does not know (NaN, a row stored before it existed) is left out."""
    data = dict(_as_mapping(row))
    data.update({key: getattr(row, key) for key in LEDGER_DERIVED})
    if row_id is not None:
        data["row_id"] = row_id
    return ledger_point(site, _ns_from_epoch_s(row.end_s), data)


def compliance_point(site: str, event: ComplianceEvent) -> Point:
    """The ``compliance`` point of one hygiene log event, stamped at its start.

    (site, kind, store, start) identifies an event, as in the service's SQLite log: an episode
    written while still open (``ongoing``) is overwritten by its final version."""
    tags = {"site": site, "kind": str(event.kind), "store": event.store or DISTRIBUTION_STORE}
    fields = _typed_fields(
        {
            "duration_s": event.duration_s,
            "extreme_c": event.extreme_c,
            "violation": event.violation,
            "ongoing": event.ongoing,
            "detail": event.detail,
        },
        COMPLIANCE_FIELDS,
    )
    return Point(COMPLIANCE, tags, fields, _ns_from_epoch_s(event.start_s))


def telemetry_point(site: str, at: Timestamp, stats: object) -> Point:
    """Telemetry's own counters (``Telemetry.stats()``), to watch the pipeline from the database."""
    return Point(TELEMETRY, {"site": site}, _typed_fields(_as_mapping(stats), TELEMETRY_FIELDS), _time_ns(at))


# -- helpers ---------------------------------------------------------------------------------------


def _ns_from_epoch_s(t_s: float) -> int:
    """Nanoseconds of epoch seconds, rounded to the microsecond (what a float second holds)."""
    if not math.isfinite(t_s):
        raise ValueError(f"timestamp {t_s} is not finite")
    return round(t_s * 1e6) * 1000


def _time_ns(at: Timestamp) -> int:
    if isinstance(at, datetime):
        return ns_from_datetime(at)
    if isinstance(at, bool) or not isinstance(at, int):
        raise TypeError(f"timestamp must be an aware datetime or int ns, got {type(at).__name__}")
    return at


def _as_mapping(obj: object) -> Mapping[str, object]:
    if isinstance(obj, Mapping):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()
    raise TypeError(f"expected a mapping, dataclass or pydantic model, got {type(obj).__name__}")


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _typed_fields(data: Mapping[str, object], spec: Mapping[str, FieldType]) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {}
    for key, kind in spec.items():
        value = _plain(data.get(key))
        if value is None:
            continue
        if kind is float:
            as_float = float(value)  # type: ignore[arg-type]
            if math.isfinite(as_float):
                fields[key] = as_float
        elif kind is int:
            fields[key] = int(value)  # type: ignore[call-overload]
        elif kind is bool:
            fields[key] = bool(value)
        else:
            fields[key] = str(value)
    return fields


def _points_if_any(
    measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int
) -> list[Point]:
    return [Point(measurement, tags, fields, time_ns)] if fields else []
