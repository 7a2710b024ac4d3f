"""The telemetry schema builders (pure) and docs/telemetry.md: every measurement, tag and field documented."""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from boiler.hygiene import ComplianceEvent
from boiler.ledger import LedgerRow
from boiler.telemetry.schema import (
    LEDGER_FIELDS,
    MINER_STATE_CODES,
    PLANT_FIELDS,
    SCHEMA,
    compliance_point,
    decision_point,
    ledger_point,
    ledger_row_point,
    miner_points,
    plant_points,
    telemetry_point,
)

AT = datetime(2024, 1, 15, 6, 0, tzinfo=UTC)
AT_NS = 1_705_298_400_000_000_000
DOC = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"


def test_plant_observation_gives_one_plant_point_and_one_tank_point_per_sensor() -> None:
    obs = {
        "outlet_c": 60,  # an int sensor value still becomes a float field
        "loop_return_c": 55.5,
        "gas_firing": 1,
        "charge_pump": False,
        "sensors_c": {"main.top": 61.0, "main.bottom": 20.5, "main.mid": None},
        "miners": ("ignored",),
        "coolant_in_c": math.nan,  # a non-finite reading is left out, not written as a number
    }
    plant, *tanks = plant_points("s1", AT, obs)
    assert (plant.measurement, plant.tags, plant.time_ns) == ("plant", {"site": "s1"}, AT_NS)
    assert plant.fields == {"outlet_c": 60.0, "loop_return_c": 55.5, "charge_pump": False, "gas_firing": True}
    assert isinstance(plant.fields["outlet_c"], float)
    assert [(t.tags["sensor"], t.fields) for t in tanks] == [
        ("main.top", {"temp_c": 61.0}),
        ("main.bottom", {"temp_c": 20.5}),
    ]


def test_plant_builder_accepts_dataclasses_and_pydantic_models() -> None:
    @dataclasses.dataclass
    class Obs:
        outlet_c: float
        tank_temps_c: dict[str, float]

    class ObsModel(BaseModel):
        outlet_c: float
        tank_temps_c: dict[str, float]

    for obs in (Obs(58.0, {"top": 58.5}), ObsModel(outlet_c=58.0, tank_temps_c={"top": 58.5})):
        points = plant_points("s", AT_NS, obs)
        assert [(p.measurement, p.fields) for p in points] == [
            ("plant", {"outlet_c": 58.0}),
            ("tank", {"temp_c": 58.5}),
        ]


def test_miner_points_carry_a_numeric_state_code_and_accept_limit_w() -> None:
    class State(enum.StrEnum):
        MINING = "mining"

    miners = [
        {"name": "m1", "state": State.MINING, "power_w": 5000, "limit_w": 5500, "available": True},
        {"name": "m2", "state": "on fire", "hashrate_ths": 0},
    ]
    m1, m2 = miner_points("s", AT, miners)
    assert m1.tags == {"site": "s", "miner": "m1"}
    assert m1.fields == {
        "power_w": 5000.0,
        "power_limit_w": 5500.0,
        "available": True,
        "state": "mining",
        "state_code": MINER_STATE_CODES["mining"],
    }
    assert m2.fields == {"hashrate_ths": 0.0, "state": "on fire", "state_code": -1}
    with pytest.raises(ValueError, match="name"):
        miner_points("s", AT, [{"power_w": 1.0}])


def test_decision_point_needs_strategy_and_reason() -> None:
    p = decision_point(
        "s", AT, {"strategy": "rules", "reason": "tank_full", "miner_power_w": 0, "gas_enable": 0}
    )
    assert (p.tags, p.fields) == (
        {"site": "s", "strategy": "rules"},
        {"reason": "tank_full", "miner_power_w": 0.0, "gas_enable": False},
    )
    with pytest.raises(ValueError, match="strategy"):
        decision_point("s", AT, {"reason": "x"})


def test_ledger_point_derives_interval_and_net_cost_from_a_row_object() -> None:
    @dataclasses.dataclass
    class Row:
        start_s: float
        end_s: float
        electricity_kwh: float
        electricity_cost_eur: float
        mining_revenue_eur: float
        gas_cost_eur: float

        @property
        def net_cost_eur(self) -> float:
            return self.electricity_cost_eur + self.gas_cost_eur - self.mining_revenue_eur

    p = ledger_point("s", AT, Row(0.0, 3600.0, 5.0, 1.0, 0.75, 0.5))
    assert p.fields == {
        "interval_s": 3600.0,
        "electricity_kwh": 5.0,
        "electricity_cost_eur": 1.0,
        "mining_revenue_eur": 0.75,
        "gas_cost_eur": 0.5,
        "net_cost_eur": 0.75,
    }
    with pytest.raises(ValueError, match="none of the ledger fields"):
        ledger_point("s", AT, {"start_s": 0.0})


def test_compliance_point_is_stamped_at_the_event_start_with_fixed_tags() -> None:
    start_s = AT_NS / 1e9
    cycle = ComplianceEvent("cycle_pass", "finishing", start_s, start_s + 300.0, 66.0, False, "≥ 65 °C for 240 s")
    p = compliance_point("s", cycle)
    assert (p.measurement, p.tags, p.time_ns) == (
        "compliance", {"site": "s", "kind": "cycle_pass", "store": "finishing"}, AT_NS)
    assert p.fields == {"duration_s": 300.0, "extreme_c": 66.0, "violation": False, "ongoing": False,
                        "detail": "≥ 65 °C for 240 s"}
    low = ComplianceEvent("outlet_low", None, start_s, start_s + 60.0, None, True, "", ongoing=True)
    q = compliance_point("s", low)
    assert q.tags["store"] == "distribution"  # a tag value cannot be empty
    assert q.fields == {"duration_s": 60.0, "violation": True, "ongoing": True, "detail": ""}


def test_ledger_row_point_carries_the_baseline_and_savings_of_a_ledger_row() -> None:
    row = LedgerRow(start_s=AT_NS / 1e9 - 3600.0, end_s=AT_NS / 1e9, electricity_kwh=10.0,
                    electricity_cost_eur=1.5, mining_revenue_eur=0.5, gas_cost_eur=0.25,
                    baseline_gas_fuel_kwh=20.0, baseline_gas_cost_eur=2.0, baseline_co2_kg=4.5, co2_kg=1.0)
    p = ledger_row_point("s", row, row_id=7)
    assert p.time_ns == AT_NS
    assert p.fields["row_id"] == 7 and p.fields["interval_s"] == 3600.0
    assert (p.fields["net_cost_eur"], p.fields["savings_eur"], p.fields["co2_avoided_kg"]) == (1.25, 0.75, 3.5)
    assert p.fields["baseline_gas_fuel_kwh"] == 20.0


def test_field_types_are_stable_whatever_the_input_type() -> None:
    row = dict.fromkeys(LEDGER_FIELDS, 1)  # all ints in
    fields = ledger_point("s", AT, row).fields
    assert {k: type(v) for k, v in fields.items()} == dict(LEDGER_FIELDS)
    stats = telemetry_point("s", AT, {"queued": 3.0, "written": 5, "oldest_age_s": 2}).fields
    assert stats == {"queued": 3, "written": 5, "oldest_age_s": 2.0}
    assert type(stats["queued"]) is int and type(stats["oldest_age_s"]) is float


def test_no_name_is_both_a_tag_and_a_field_and_plant_fields_carry_units() -> None:
    for tags, fields in SCHEMA.values():
        assert not set(tags) & set(fields)
    unitless = {
        k
        for k, t in PLANT_FIELDS.items()
        if t is float and not re.search(r"_(c|w|lpm|frac|ths|[a-z_]+_per_[a-z_]+)$", k)
    }
    assert unitless == set()


# -- the document ---------------------------------------------------------------------------------


def _doc_sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^### `([a-z_]+)`", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


_DOC_TYPES = {float: "float", int: "integer", bool: "boolean", str: "string"}


def test_the_document_lists_every_measurement_tag_and_field_with_its_type() -> None:
    sections = _doc_sections()
    assert set(sections) == set(SCHEMA)
    for measurement, (tags, fields) in SCHEMA.items():
        body = sections[measurement]
        rows = dict(re.findall(r"^\| `([a-z_0-9]+)` \| ([a-z ]+?) \|", body, flags=re.MULTILINE))
        for tag in tags:
            assert rows.get(tag) == "tag", f"{measurement}: tag {tag} not documented as a tag"
        for name, kind in fields.items():
            assert rows.get(name) == _DOC_TYPES[kind], f"{measurement}: field {name} missing or mistyped"
        assert set(rows) == set(tags) | set(fields), f"{measurement}: documented names not in the schema"
