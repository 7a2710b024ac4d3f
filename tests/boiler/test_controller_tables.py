"""Strategies and the safety layer against scenario tables, on a fake clock (no plant, no I/O)."""

import itertools
from dataclasses import replace

import pytest

from boiler import scenarios
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel
from boiler.control.types import MinerReading, Observation
from tank.exchanger import PlateExchanger

CFG = scenarios.load("residence-48")
UA = PlateExchanger.sized_for_approach(2 * 5360 * 0.97, 3.0).ua_w_per_k
MODEL = PlantModel.from_config(CFG, UA)
T0 = 1_767_600_000.0  # a fixed epoch second: the fake clock starts here


def obs(t_s: float = 0.0, *, bottom: float | None = 30.0, top: float | None = 63.0, coolant: float | None = 35.0,
        minute: int = 3 * 60, running: bool = True, due: bool = False, price: float = 0.15,
        hashprice: float = 44.1) -> Observation:
    limit = 5360.0 if running else None
    miners = tuple(
        MinerReading(name=n, available=True, state="hashing" if running else "sleeping",
                     power_w=5360.0 if running else 15.0, hashrate_ths=335.0 if running else 0.0, limit_w=limit)
        for n in ("s21-a", "s21-b")
    )
    sensors = {"store.top": top, "store.upper": top, "store.middle": 45.0, "store.bottom": bottom}
    return Observation(now_s=T0 + t_s, local_minute=minute, local_weekday=0, sensors_c=sensors, outlet_c=top,
                       loop_return_c=59.0, coolant_in_c=coolant, coolant_out_c=None if coolant is None else coolant + 8,
                       miners=miners, gas_firing=False, electricity_eur_per_kwh=price,
                       hashprice_eur_per_ph_day=hashprice, cold_water_c=9.0, legionella_due=due)


def controller(strategy: str = "rule") -> Controller:
    return Controller(CFG, MODEL, strategy)


# Each row: observation, then what the decision must show.
TABLE = [
    ("cold tank, cheap miner heat: full power, gas finishes", obs(bottom=20.0),
     {"power_min": 10_000, "gas": True, "reason_has": "heat:absorb"}),
    ("warm base: miners modulate down", obs(bottom=44.0, coolant=45.0),
     {"power_max": 7_000, "power_min": 2_500, "reason_has": "absorb"}),
    ("base at the miners' limit: tank full, miners off", obs(bottom=45.5, coolant=45.8),
     {"power_max": 0, "reason_has": "tank_full"}),
    ("bear hashprice: miner heat dearer than gas, idle", obs(bottom=20.0, hashprice=10.0),
     {"power_max": 0, "reason_has": "idle", "gas": True}),
    ("bull hashprice without dry cooler: mine what the tank absorbs", obs(bottom=20.0, hashprice=80.0),
     {"power_min": 10_000, "reason_has": "mine"}),
    ("tank over-temperature: stop charging", obs(top=85.0),
     {"power_max": 0, "pump": False, "reason_has": "tank_hot"}),
    ("coolant over-temperature: curtail at once", obs(bottom=30.0, coolant=49.5),
     {"power_max": 5_360, "reason_has": "coolant_hot", "force": True}),
    ("legionella due in the window: cycle with gas and destratification", obs(due=True, minute=2 * 60 + 30),
     {"power_max": 0, "gas": True, "destratify": True, "reason_has": "legionella_cycle", "setpoint_min": 66}),
    ("legionella due outside the window: wait", obs(due=True, minute=12 * 60),
     {"destratify": False}),
    ("evening peak: gas setpoint boosted", obs(minute=19 * 60), {"reason_has": "peak"}),
]


@pytest.mark.parametrize(("label", "observation", "expect"), TABLE, ids=[row[0] for row in TABLE])
def test_rule_strategy_table(label: str, observation: Observation, expect: dict) -> None:
    c = controller()
    c.tick(observation, day_index=0)
    d = c.last_decision
    assert d is not None
    if "power_min" in expect:
        assert d.miner_power_w >= expect["power_min"], label
    if "power_max" in expect:
        assert d.miner_power_w <= expect["power_max"], label
    if "gas" in expect:
        assert d.gas_enable is expect["gas"]
    if "pump" in expect:
        assert d.charge_pump is expect["pump"]
    if "destratify" in expect:
        assert d.destratify is expect["destratify"]
    if "force" in expect:
        assert d.force is expect["force"]
    if "setpoint_min" in expect:
        assert d.gas_setpoint_c >= expect["setpoint_min"]
    if "reason_has" in expect:
        assert expect["reason_has"] in d.reason


def test_gas_finishes_above_setpoint_when_miners_cannot_reach_it() -> None:
    c = controller()
    c.tick(obs(), 0)
    assert c.last_decision is not None
    # The S21 coolant tops out below 60 °C: gas holds the outlet zone above the setpoint.
    assert MODEL.miner_reach_c < 60.0
    assert c.last_decision.gas_setpoint_c - CFG.gas_boiler.hysteresis_k > CFG.control.setpoint_c
    assert "gas_finish" in c.last_decision.reason


@pytest.mark.parametrize("missing", ["store.bottom", "store.top", "outlet", "coolant_in", "miners"])
def test_sensor_fault_reaches_safe_state_within_the_configured_ticks(missing: str) -> None:
    c = controller()
    period = CFG.control.period_s
    ticks = CFG.control.sensor_fault_ticks
    reasons = []
    for k in range(ticks + 2):
        o = obs(k * period)
        if missing == "outlet":
            o = replace(o, outlet_c=None)
        elif missing == "coolant_in":
            o = replace(o, coolant_in_c=None)
        elif missing == "miners":
            o = replace(o, miners=tuple(replace(r, available=False) for r in o.miners))
        else:
            o = replace(o, sensors_c={**o.sensors_c, missing: None})
        cmds = c.tick(o, 0)
        reasons.append(cmds.reason)
    safe_at = next(i for i, r in enumerate(reasons) if r.startswith("safe:sensor_fault"))
    assert safe_at == ticks - 1  # the n-th consecutive bad reading trips it
    assert missing in reasons[safe_at]
    d = c.last_decision
    assert d is not None and d.gas_enable and d.miner_power_w == CFG.control.safe_miner_power_w and d.force
    # Safe state sends the miners to sleep at once, whatever the anti-chatter rules say.
    assert all(limit is None for limit in c.tick(replace(o, now_s=o.now_s + 1), 0).miner_limits_w.values()) or all(
        m.limit_w is None for m in c.fleet)
    # Recovery: good readings again → normal operation.
    cmds = c.tick(obs((ticks + 3) * period), 0)
    assert not cmds.reason.startswith("safe")


def test_anti_chatter_limits_changes_on_a_noisy_tank() -> None:
    """A base temperature that jumps around every tick must not make the miners chatter."""
    import random

    rng = random.Random(7)
    c = controller()
    policy = CFG.control.allocation
    changes: dict[str, list[float]] = {"s21-a": [], "s21-b": []}
    for k in range(24 * 60):
        t = k * 60.0
        o = obs(t, bottom=rng.uniform(25.0, 46.0), coolant=None)
        o = replace(o, coolant_in_c=40.0)
        cmds = c.tick(o, 0)
        for name in cmds.changed_miners:
            changes[name].append(t)
    for name, times in changes.items():
        assert len(times) <= policy.max_changes_per_day, name
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= policy.min_change_interval_s for g in gaps), name


def test_thermostat_latches_between_thresholds() -> None:
    c = controller("thermostat")
    t = CFG.control.thermostat
    c.tick(replace(obs(), sensors_c={**obs().sensors_c, "store.middle": t.miners_on_below_c - 1}), 0)
    assert c.last_decision is not None and c.last_decision.miner_power_w == MODEL.fleet_max_w
    mid = (t.miners_on_below_c + t.miners_off_above_c) / 2
    c.tick(replace(obs(60), sensors_c={**obs().sensors_c, "store.middle": mid}), 0)
    assert c.last_decision.miner_power_w == MODEL.fleet_max_w  # still on inside the band
    c.tick(replace(obs(120), sensors_c={**obs().sensors_c, "store.middle": t.miners_off_above_c + 1}), 0)
    assert c.last_decision.miner_power_w == 0
