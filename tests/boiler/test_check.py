"""`boiler check` without servers: config and bindings, model identification, safe values, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from boiler.cli import app
from boiler.config import PlantConfig
from boiler.mqtt.config import ActuatorConfig
from boiler.service.check import (
    CheckItem,
    _fit,
    check_bindings,
    check_config,
    check_miners,
    exit_code,
    model_key,
    run_checks,
    safe_values,
)
from miners.config import Credentials
from miners.driver_link import Identity, Sample

runner = CliRunner()


def plant(**extra: Any) -> dict[str, Any]:
    """A one-tank site whose tank has two sensors (`store_top`, `store_bottom` over MQTT)."""
    data: dict[str, Any] = {
        "site": {"name": "unit"},
        "tanks": [{"name": "store", "volume_l": 2000, "gas_coil": {},
                   "sensors": [{"name": "top", "height": 0.9}, {"name": "bottom", "height": 0.1}]}],
        "control": {"setpoint_c": 58},
    }
    data.update(extra)
    return data


def sensors(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "topic": f"dev/{n}", "unit": "°C"} for n in names]


def mqtt(sensor_names: tuple[str, ...], actuators: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"site": "unit", "broker": {"host": "127.0.0.1", "port": 1, "connect_timeout_s": 1},
            "sensors": sensors(*sensor_names), "actuators": actuators or []}


ALL_SENSORS = ("store_top", "store_bottom", "outlet", "coolant_in")


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- model identification ------------------------------------------------------------------------------
@pytest.mark.parametrize(("catalogue", "reported", "same"), [
    ("Antminer S21 Hyd.", "S21 Hydro", True),       # what pyasic 0.79 reports for BOS+ on an S21 Hyd.
    ("Antminer S21+ Hyd.", "S21+ Hydro", True),
    ("M53S++ VK10", "M53S++ VK10", True),
    ("Antminer S21 Hyd.", "S21+ Hydro", False),
    ("Antminer S21 Hyd.", "S21", False),             # the air-cooled S21 is another machine
    ("M53S++ VK10", "M63S++ VL20", False),
])
def test_model_strings_match_only_the_same_machine(catalogue: str, reported: str, same: bool) -> None:
    assert (model_key(catalogue) == model_key(reported)) is same


# -- config and bindings ------------------------------------------------------------------------------
def test_a_bad_config_is_a_failed_config_item_naming_the_field(tmp_path: Path) -> None:
    data = plant()
    data["tanks"][0]["volume_l"] = -3
    cfg, item = check_config(write(tmp_path, data))
    assert cfg is None
    assert item.status == "fail" and "tanks.0.volume_l" in item.detail and "-3" in item.detail


def test_bindings_fail_when_a_sensor_the_safety_layer_reads_is_missing() -> None:
    cfg = PlantConfig.model_validate(plant(miners=[{"name": "a", "model": "s21-hyd"}],
                                           mqtt=mqtt(("store_top", "outlet"))))
    item = check_bindings(cfg)
    assert item.status == "fail"
    assert "store_bottom" in item.detail and "coolant_in" in item.detail and "store_top," not in item.detail


def test_bindings_without_miners_do_not_need_the_coolant_sensor_and_warn_about_undriven_outputs() -> None:
    cfg = PlantConfig.model_validate(plant(mqtt=mqtt(("store_top", "store_bottom", "outlet", "tank_extra"))))
    item = check_bindings(cfg)
    assert item.status == "warn"
    assert "charging_pump" in item.detail and "gas_enable" in item.detail and "tank_extra" in item.detail


def test_bindings_fail_for_an_actuator_kind_the_service_cannot_drive() -> None:
    pump = {"name": "charging_pump", "kind": "pump_speed", "topic": "dev/pump/set"}
    gas = {"name": "gas_enable", "kind": "gas_enable", "topic": "dev/gas/set"}
    cfg = PlantConfig.model_validate(plant(mqtt=mqtt(ALL_SENSORS[:3], [pump, gas])))
    item = check_bindings(cfg)
    assert item.status == "fail" and "charging_pump is kind pump_speed" in item.detail


def test_bindings_ok_when_everything_binds() -> None:
    outs = [{"name": "charging_pump", "kind": "on_off", "topic": "dev/pump/set"},
            {"name": "gas_enable", "kind": "gas_enable", "topic": "dev/gas/set"}]
    cfg = PlantConfig.model_validate(plant(miners=[{"name": "a", "model": "s21-hyd"}], mqtt=mqtt(ALL_SENSORS, outs)))
    assert check_bindings(cfg).status == "ok"


def test_bindings_with_a_controlled_charging_flow_want_the_pump_setpoint_as_a_temperature() -> None:
    """With `charging.flow: controlled` the service drives `charging_setpoint` with a temperature: an ON/OFF
    kind fails, a missing one is noted as not driven, a `charge_setpoint` binds."""
    outs = [{"name": "charging_pump", "kind": "on_off", "topic": "dev/pump/set"},
            {"name": "gas_enable", "kind": "gas_enable", "topic": "dev/gas/set"}]
    controlled = {"flow": "controlled", "target_c": 63}
    miners = [{"name": "a", "model": "s21-hyd"}]
    cfg = PlantConfig.model_validate(plant(miners=miners, charging=controlled, mqtt=mqtt(ALL_SENSORS, outs)))
    item = check_bindings(cfg)
    assert "charging_setpoint" in item.detail  # not driven: noted
    wrong = [*outs, {"name": "charging_setpoint", "kind": "on_off", "topic": "dev/pump/target"}]
    cfg = PlantConfig.model_validate(plant(miners=miners, charging=controlled, mqtt=mqtt(ALL_SENSORS, wrong)))
    item = check_bindings(cfg)
    assert item.status == "fail" and "charging_setpoint is kind on_off" in item.detail
    right = [*outs, {"name": "charging_setpoint", "kind": "charge_setpoint", "topic": "dev/pump/target"}]
    cfg = PlantConfig.model_validate(plant(miners=miners, charging=controlled, mqtt=mqtt(ALL_SENSORS, right)))
    assert check_bindings(cfg).status == "ok"
    assert safe_values(cfg)["charging_setpoint"] == 63.0
    assert "charging_setpoint" not in safe_values(PlantConfig.model_validate(plant(miners=miners)))


# -- safe values --------------------------------------------------------------------------------------
def test_safe_values_come_from_the_safety_layer() -> None:
    cfg = PlantConfig.model_validate(plant(miners=[{"name": "a", "model": "s21-hyd"}]))
    safe = safe_values(cfg)
    assert safe["gas_enable"] is True  # gas on: its own aquastat keeps the water hot without our sensors
    assert safe["charging_pump"] is False and safe["dry_cooler"] is False and safe["destratify_pump"] is False
    # setpoint + the boiler's hysteresis + the rule's gas margin, as the safety layer sends it
    assert safe["gas_setpoint"] == pytest.approx(58 + cfg.gas_boiler.hysteresis_k + cfg.control.rule.gas_margin_k)


def test_safe_values_keep_the_pump_running_when_the_safe_miner_power_needs_it() -> None:
    cfg = PlantConfig.model_validate(plant(miners=[{"name": "a", "model": "s21-hyd"}],
                                           control={"safe_miner_power_w": 2500}))
    assert safe_values(cfg)["charging_pump"] is True


def test_fit_maps_onto_the_actuators_own_terms() -> None:
    speed = ActuatorConfig(name="charging_pump", kind="pump_speed", topic="p/set", range=(10, 90))
    setpoint = ActuatorConfig(name="gas_setpoint", kind="gas_setpoint", topic="g/set", range=(30, 70))
    relay = ActuatorConfig(name="gas_enable", kind="gas_enable", topic="e/set")
    assert _fit(speed, True) == 90 and _fit(speed, False) == 10
    assert _fit(setpoint, 75.5) == 70 and _fit(setpoint, 61.0) == 61.0
    assert _fit(relay, True) is True


# -- miners through the fleet driver, with scripted links ---------------------------------------------
class ScriptedLink:
    def __init__(self, identity: Identity) -> None:
        self._identity = identity

    @property
    def family(self) -> str:
        return "braiins"

    def describe(self) -> Identity:
        return self._identity

    async def identity(self) -> Identity:
        return self._identity

    async def read(self) -> Sample:
        return Sample(power_w=5000.0, hashrate_ths=310.0, power_limit_w=5000.0, coolant_in_c=40.0,
                      coolant_out_c=45.0, mining=True, errors=(), uptime_s=1000.0)

    async def set_power_limit(self, watts: int) -> None:
        raise AssertionError("a check never commands a miner")

    async def stop_mining(self) -> None:
        raise AssertionError("a check never commands a miner")

    async def resume_mining(self) -> None:
        raise AssertionError("a check never commands a miner")


class ScriptedConnector:
    def __init__(self, by_host: dict[str, Identity]) -> None:
        self.by_host = by_host

    async def connect(self, host: str, credentials: Credentials) -> ScriptedLink | None:
        identity = self.by_host.get(host)
        return ScriptedLink(identity) if identity is not None else None


def s21(ip: str, model: str | None = "S21 Hydro", mac: str | None = "02:03:00:00:00:01") -> Identity:
    return Identity(ip=ip, make="AntMiner", model=model, firmware="BOS+", fw_version="25.03", mac=mac,
                    serial="SN1", supports_power_limit=True)


async def test_each_miner_is_identified_as_configured() -> None:
    cfg = PlantConfig.model_validate(plant(miners=[
        {"name": "good", "model": "s21-hyd", "host": "10.0.0.1", "mac": "02:03:00:00:00:01"},
        {"name": "wrong_mac", "model": "s21-hyd", "host": "10.0.0.2", "mac": "02:03:00:00:00:99"},
        {"name": "wrong_model", "model": "s21plus-hyd", "host": "10.0.0.3"},
        {"name": "unknown_model", "model": "s21-hyd", "host": "10.0.0.4"},
        {"name": "no_mac_reported", "model": "s21-hyd", "host": "10.0.0.5", "mac": "02:03:00:00:00:05"},
        {"name": "silent", "model": "s21-hyd", "host": "10.0.0.6"},
        {"name": "no_host", "model": "s21-hyd"},
        {"name": "no_password", "model": "s21-hyd", "host": "10.0.0.7", "password_env": "UNSET_FOR_THE_TEST"},
    ]))
    connector = ScriptedConnector({
        "10.0.0.1": s21("10.0.0.1"), "10.0.0.2": s21("10.0.0.2"), "10.0.0.3": s21("10.0.0.3"),
        "10.0.0.4": s21("10.0.0.4", model=None), "10.0.0.5": s21("10.0.0.5", mac=None),
        "10.0.0.7": s21("10.0.0.7"),
    })
    items = {i.item: i for i in await check_miners(cfg, environ={}, connector=connector)}
    assert list(items) == [f"miner {m.name}" for m in cfg.miners]
    assert items["miner good"].status == "ok" and "MAC 02:03:00:00:00:01 as configured" in items["miner good"].detail
    assert items["miner wrong_mac"].status == "fail" and "expected MAC 02:03:00:00:00:99" in items[
        "miner wrong_mac"].detail
    assert items["miner wrong_model"].status == "fail" and "not the configured s21plus-hyd" in items[
        "miner wrong_model"].detail
    assert items["miner unknown_model"].status == "warn"
    assert items["miner no_mac_reported"].status == "warn" and "MAC not reported" in items[
        "miner no_mac_reported"].detail
    assert items["miner silent"].status == "fail" and "no recognisable miner" in items["miner silent"].detail
    assert items["miner no_host"].status == "fail" and "host" in items["miner no_host"].detail
    assert items["miner no_password"].status == "fail" and "UNSET_FOR_THE_TEST" in items["miner no_password"].detail


# -- the report and its exit codes ---------------------------------------------------------------------
def test_exit_code_is_one_only_for_a_failure() -> None:
    assert exit_code([CheckItem("a", "ok", ""), CheckItem("b", "warn", ""), CheckItem("c", "skip", "")]) == 0
    assert exit_code([CheckItem("a", "ok", ""), CheckItem("b", "fail", "")]) == 1


async def test_without_mqtt_telemetry_or_miners_everything_else_is_skipped() -> None:
    items = await run_checks(PlantConfig.model_validate(plant()))
    assert [(i.item, i.status) for i in items] == [
        ("mqtt bindings", "skip"), ("broker", "skip"), ("telemetry", "skip"), ("miners", "skip")]


def test_cli_exits_2_for_a_bad_config_and_prints_the_reason(tmp_path: Path) -> None:
    data = plant()
    data["control"]["setpoint_c"] = "hot"
    result = runner.invoke(app, ["check", "-c", str(write(tmp_path, data)), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["items"][0]["status"] == "fail"
    assert "control.setpoint_c" in report["items"][0]["detail"]


def test_cli_exits_1_when_the_broker_is_unreachable_and_skips_what_depends_on_it(tmp_path: Path) -> None:
    outs = [{"name": "charging_pump", "kind": "on_off", "topic": "dev/pump/set", "ack_topic": "dev/pump"}]
    path = write(tmp_path, plant(mqtt=mqtt(("store_top", "store_bottom", "outlet"), outs)))
    result = runner.invoke(app, ["check", "-c", str(path), "--json"])
    assert result.exit_code == 1
    items = {i["item"]: i for i in json.loads(result.stdout)["items"]}
    assert items["config"]["status"] == "ok"
    assert items["broker"]["status"] == "fail" and "127.0.0.1:1" in items["broker"]["detail"]
    assert items["sensor store_top"]["status"] == "skip"
    assert items["actuator charging_pump"]["status"] == "skip"


def test_cli_table_lists_every_item_and_fails_the_config_run_would_refuse(tmp_path: Path) -> None:
    # Valid, and simulate runs it, but `boiler run` refuses it (no `mqtt`): check fails it, exit 2,
    # and still lists what it could check.
    result = runner.invoke(app, ["check", "-c", str(write(tmp_path, plant()))])
    assert result.exit_code == 2
    for item in ("config", "mqtt bindings", "broker", "telemetry", "miners"):
        assert item in result.stdout
    assert "would refuse" in result.stdout and "mqtt: required" in result.stdout
    data = plant(miners=[{"name": "m1", "model": "s21-hyd"}])
    cfg, item = check_config(write(tmp_path, data))
    assert cfg is not None and item.status == "fail" and "miners.0.host" in item.detail
    run = runner.invoke(app, ["run", "-c", str(write(tmp_path, data))])
    assert run.exit_code == 2 and "mqtt: required" in run.output and "miners.0.host" in run.output


def test_cli_fails_a_config_whose_plant_cannot_be_built(tmp_path: Path) -> None:
    # Valid to the schema, but its draw file is missing: validate and simulate refuse it, so does check.
    data = plant(draws={"type": "csv", "path": "no-such-draws.csv"})
    result = runner.invoke(app, ["check", "-c", str(write(tmp_path, data)), "--json"])
    assert result.exit_code == 2
    item = json.loads(result.stdout)["items"][0]
    assert item["item"] == "config" and item["status"] == "fail"
    assert "draws.path" in item["detail"] and "No such file" in item["detail"]
