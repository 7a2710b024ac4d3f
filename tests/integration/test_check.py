"""`boiler check` against a real mosquitto (TLS + password), InfluxDB 1.x behind the v2 shim, and emulated
miners reached through pyasic: some items pass, some fail, each for the reason it reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from boiler.config import PlantConfig
from boiler.service.check import CheckOptions, check_telemetry, run_checks
from miners.emulator import EmulatedMiner, EmulatorFleet
from tests import loopback
from tests.integration.influx_servers import InfluxDB1, quote_literal
from tests.integration.mqtt_server import MosquittoServer, mqtt_client

BOILER = Path(sys.executable).parent / "boiler"


def loopback_base() -> str:
    """A /24 of this test process's own (tests/loopback.py), without its last octet."""
    return loopback.first_ip().rsplit(".", 1)[0]


def broker(server: MosquittoServer, password: str | None = None) -> dict[str, Any]:
    return {"host": server.host, "port": server.tls_port, "username": server.username,
            "password": password or server.password, "tls": {"ca_file": str(server.ca_file)},
            "connect_timeout_s": 5}


def site_config(site: str, mqtt: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "site": {"name": site},
        "tanks": [{"name": "store", "volume_l": 2000, "gas_coil": {},
                   "sensors": [{"name": "top", "height": 0.9}, {"name": "bottom", "height": 0.1}]}],
        "mqtt": {"site": site, **mqtt},
        **extra,
    }


class Devices:
    """Field devices on the broker: sensors that publish every 50 ms, actuators that echo (or not)."""

    def __init__(self, server: MosquittoServer, site: str) -> None:
        self.server = server
        self.site = site
        self.values: dict[str, bytes] = {}
        #: command topic -> echo topic, and what the device echoes (None = the command itself)
        self.echo: dict[str, tuple[str, bytes | None]] = {}
        self.retained_state: dict[str, bytes] = {}
        self.commands: list[tuple[str, bytes]] = []
        self._ready = asyncio.Event()
        # Stop by a flag as well as by cancelling: on Python 3.11 a cancel that lands as a publish
        # completes its wait is swallowed by asyncio.wait_for inside aiomqtt, and a loop that only waits to be
        # cancelled then publishes forever (seen: 1 run in ~8 of this module hung at the context's exit).
        self._stop = asyncio.Event()

    def topic(self, leaf: str) -> str:
        return f"{self.site}/dev/{leaf}"

    async def run(self) -> None:
        async with mqtt_client(self.server, identifier=f"devices-{self.site}") as client:
            for topic, payload in self.retained_state.items():
                await client.publish(topic, payload, qos=1, retain=True)
            for topic in self.echo:
                await client.subscribe(topic, qos=1)
            listener = asyncio.create_task(self._listen(client))
            self._ready.set()
            try:
                while not self._stop.is_set():
                    for topic, payload in self.values.items():
                        await client.publish(topic, payload, qos=0)
                    await asyncio.sleep(0.05)
            finally:
                listener.cancel()
                for topic in self.retained_state:  # leave the shared broker clean
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.publish(topic, b"", qos=1, retain=True)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = bytes(message.payload)  # type: ignore[arg-type]
            self.commands.append((topic, payload))
            echo_topic, fixed = self.echo[topic]
            await client.publish(echo_topic, fixed if fixed is not None else payload, qos=1)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Devices]:
        task = asyncio.create_task(self.run())
        await asyncio.wait_for(self._ready.wait(), 10)
        try:
            yield self
        finally:
            self._stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_check_reports_each_item_for_its_own_reason(mosquitto: MosquittoServer, influx1: InfluxDB1) -> None:
    site = f"chk{secrets.token_hex(3)}"
    devices = Devices(mosquitto, site)
    t = devices.topic
    devices.values = {t("top"): b"61.5", t("bottom"): b'{"t": -127}', t("coolant"): b"abc"}
    devices.retained_state = {t("pump/state"): b"OFF"}  # the pump says it is off: the check re-sends OFF
    devices.echo = {t("gas/set"): (t("gas/state"), None), t("pump/set"): (t("pump/state"), None),
                    t("setpoint/set"): (t("setpoint/state"), b"55")}  # this one ignores its orders
    sensors = [
        {"name": "store_top", "topic": t("top"), "unit": "°C"},
        {"name": "store_bottom", "topic": t("bottom"), "json_path": "t", "unit": "°C", "plausible": [0, 100]},
        {"name": "outlet", "topic": t("outlet"), "unit": "°C"},             # nobody publishes it
        {"name": "coolant_in", "topic": t("coolant"), "unit": "°C"},        # garbage only
    ]
    actuators = [
        {"name": "gas_enable", "kind": "gas_enable", "topic": t("gas/set"), "ack_topic": t("gas/state")},
        {"name": "charging_pump", "kind": "on_off", "topic": t("pump/set"), "ack_topic": t("pump/state")},
        {"name": "gas_setpoint", "kind": "gas_setpoint", "topic": t("setpoint/set"), "ack_topic": t("setpoint/state")},
        {"name": "dry_cooler", "kind": "dry_cooler", "topic": t("dry/set"), "ack_topic": t("dry/state")},  # no device
        {"name": "destratify_pump", "kind": "on_off", "topic": t("destrat/set")},  # no ack topic
    ]
    base = loopback_base()
    emus = [EmulatedMiner("s21-hyd", f"{base}.1"), EmulatedMiner("m53s-plus-plus", f"{base}.2"),
            EmulatedMiner("s21-hyd", f"{base}.3")]
    miners = [
        {"name": "good", "model": "s21-hyd", "host": f"{base}.1", "mac": emus[0].mac, "serial": emus[0].serial},
        {"name": "wrong_mac", "model": "m53s-plus-plus", "host": f"{base}.2", "mac": "02:00:00:00:00:99"},
        {"name": "wrong_model", "model": "s21plus-hyd", "host": f"{base}.3"},
        {"name": "nobody_home", "model": "s21-hyd", "host": f"{base}.9"},
    ]
    telemetry = {"url": influx1.url, "bucket": influx1.bucket, "token": influx1.token, "timeout_s": 5}
    cfg = PlantConfig.model_validate(site_config(
        site, {"broker": broker(mosquitto), "sensors": sensors, "actuators": actuators},
        miners=miners, telemetry=telemetry, service={"miner_timeout_s": 5}, control={"setpoint_c": 58}))

    async with EmulatorFleet(emus), devices.running():
        items = {i.item: i for i in await run_checks(cfg, CheckOptions(sensor_wait_s=1.5, ack_timeout_s=1.0))}

    status = {name: i.status for name, i in items.items()}
    assert status == {
        "mqtt bindings": "ok", "broker": "ok", "telemetry": "ok",
        "miner good": "ok", "miner wrong_mac": "fail", "miner wrong_model": "fail", "miner nobody_home": "fail",
        "sensor store_top": "ok", "sensor store_bottom": "fail", "sensor outlet": "fail", "sensor coolant_in": "fail",
        "actuator gas_enable": "ok", "actuator charging_pump": "ok", "actuator gas_setpoint": "fail",
        "actuator dry_cooler": "fail", "actuator destratify_pump": "skip",
    }, {n: i.detail for n, i in items.items()}
    detail = {name: i.detail for name, i in items.items()}
    # miners: identified through pyasic, MAC and serial as configured; the others say why not
    assert emus[0].mac in detail["miner good"] and "S21 Hydro" in detail["miner good"]
    assert "expected MAC 02:00:00:00:00:99" in detail["miner wrong_mac"]
    assert "not the configured s21plus-hyd" in detail["miner wrong_model"]
    assert "no recognisable miner" in detail["miner nobody_home"]
    # sensors: fresh, implausible, never seen, garbled
    assert detail["sensor store_top"].startswith("61.5 °C")
    assert "implausible" in detail["sensor store_bottom"] and "-127" in detail["sensor store_bottom"]
    assert "no valid message" in detail["sensor outlet"]
    assert "not_a_number" in detail["sensor coolant_in"]
    # actuators: the safe value (gas ON), the device's current value (pump OFF), a wrong echo, silence
    assert (t("gas/set"), b"ON") in devices.commands and "safe-state value" in detail["actuator gas_enable"]
    assert (t("pump/set"), b"OFF") in devices.commands and "its current value" in detail["actuator charging_pump"]
    assert "it echoed 55" in detail["actuator gas_setpoint"]
    assert "no matching echo" in detail["actuator dry_cooler"]
    assert "not verifiable" in detail["actuator destratify_pump"]
    # the safe gas setpoint went out: 58 °C + hysteresis + margin
    sent = [p for topic, p in devices.commands if topic == t("setpoint/set")]
    assert sent == [b"62"]
    # and the database really holds the probe's point
    rows = influx1.rows("telemetry", f"site = {quote_literal(site)}")
    assert len(rows) == 1 and rows[0].fields["queued"] == 0


async def test_wrong_broker_password_fails_and_nothing_behind_it_is_tried(mosquitto: MosquittoServer) -> None:
    site = f"chk{secrets.token_hex(3)}"
    sensors = [{"name": "store_top", "topic": f"{site}/dev/top", "unit": "°C"}]
    cfg = PlantConfig.model_validate(site_config(site, {"broker": broker(mosquitto, "not-the-password"),
                                                        "sensors": sensors}))
    items = {i.item: i for i in await run_checks(cfg)}
    assert items["broker"].status == "fail" and "refused the login" in items["broker"].detail
    assert items["sensor store_top"].status == "skip"
    assert "not-the-password" not in json.dumps([i.to_json() for i in items.values()])


async def test_telemetry_with_a_wrong_token_fails_with_the_servers_answer(influx1: InfluxDB1) -> None:
    cfg = PlantConfig.model_validate(site_config("tok", {"broker": {"host": "127.0.0.1"}}, telemetry={
        "url": influx1.url, "bucket": influx1.bucket, "token": "wrong-token", "timeout_s": 5}))
    assert cfg.telemetry is not None
    item = await check_telemetry(cfg.telemetry, "tok")
    assert item.status == "fail"
    assert "401" in item.detail or "unauthorized" in item.detail.lower()
    assert "wrong-token" not in item.detail


async def test_cli_exits_0_when_every_item_passes(mosquitto: MosquittoServer, influx1: InfluxDB1,
                                                  tmp_path: Path) -> None:
    site = f"chk{secrets.token_hex(3)}"
    devices = Devices(mosquitto, site)
    t = devices.topic
    devices.values = {t("top"): b"60.2", t("bottom"): b"35", t("outlet"): b"60.1", t("coolant"): b"38"}
    devices.echo = {t("gas/set"): (t("gas/state"), None)}
    sensors = [{"name": n, "topic": t(leaf), "unit": "°C"} for n, leaf in
               (("store_top", "top"), ("store_bottom", "bottom"), ("outlet", "outlet"), ("coolant_in", "coolant"))]
    actuators = [{"name": "gas_enable", "kind": "gas_enable", "topic": t("gas/set"), "ack_topic": t("gas/state")},
                 {"name": "charging_pump", "kind": "on_off", "topic": t("pump/set")}]
    base = loopback_base()
    emu = EmulatedMiner("s21-hyd", f"{base}.1")
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site_config(
        site, {"broker": {**broker(mosquitto), "password": None, "password_env": "CHECK_TEST_MQTT_PASSWORD"},
               "sensors": sensors, "actuators": actuators},
        miners=[{"name": "a", "model": "s21-hyd", "host": emu.ip, "mac": emu.mac}],
        telemetry={"url": influx1.url, "bucket": influx1.bucket, "token_env": "CHECK_TEST_TOKEN"}),
        allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "CHECK_TEST_MQTT_PASSWORD": mosquitto.password, "CHECK_TEST_TOKEN": influx1.token}
    async with EmulatorFleet([emu]), devices.running():
        proc = await asyncio.create_subprocess_exec(
            str(BOILER), "check", "-c", str(config), "--json", "--wait", "10", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    report = json.loads(out)
    assert proc.returncode == 0, (report, err.decode()[-2000:])
    assert report["ok"] is True
    assert {i["item"]: i["status"] for i in report["items"]} == {
        "config": "ok", "mqtt bindings": "ok", "broker": "ok", "telemetry": "ok", "miner a": "ok",
        "sensor store_top": "ok", "sensor store_bottom": "ok", "sensor outlet": "ok", "sensor coolant_in": "ok",
        "actuator gas_enable": "ok", "actuator charging_pump": "skip"}
    assert mosquitto.password not in out.decode() and influx1.token not in out.decode()
