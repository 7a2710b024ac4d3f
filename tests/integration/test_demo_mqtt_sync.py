"""The MQTT demo keeps its simulated field devices in step with the service without waiting out a
time-out: an order is compared as it travels (payloads are rounded), not as the service holds it."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from boiler import scenarios
from boiler.mqtt.actuators import decode, encode
from boiler.mqtt.config import MqttConfig
from boiler.service.demo import DemoOptions, run_demo
from boiler.simulation import build_plant
from boiler.simulation.devices import SimulatedDevices, device_mqtt_config
from tests.integration.mqtt_server import MosquittoServer
from tests.integration.service_rig import TICK_S, Recorder, new_site, random_first_ip, site_config

TIMEOUT_EVENTS = ("devices_sync_timeout", "devices_orders_timeout")


def _devices() -> SimulatedDevices:
    cfg = scenarios.load("residence-48")
    mqtt = device_mqtt_config(cfg, MqttConfig.model_validate({"site": "sync"}))
    return SimulatedDevices(build_plant(cfg, date(2026, 1, 5), 1.0), mqtt, cfg)


def test_an_order_counts_as_arrived_when_its_rounded_payload_has() -> None:
    devices = _devices()
    sent = {"gas_setpoint": 57.123456, "gas_enable": True}  # more decimals than a payload carries
    assert devices.orders_pending(sent) == ["gas_setpoint", "gas_enable"]
    config = next(a for a in devices.mqtt.actuators if a.name == "gas_setpoint")
    devices.received["gas_setpoint"] = decode(config, encode(config, 57.123456))  # what the device reads
    assert devices.received["gas_setpoint"] != sent["gas_setpoint"]
    assert devices.orders_pending(sent) == ["gas_enable"]
    devices.received["gas_enable"] = True
    assert devices.orders_pending(sent) == []
    devices.received["gas_setpoint"] = 57.0  # an older order is still pending
    assert devices.orders_pending(sent) == ["gas_setpoint"]


async def test_mqtt_demo_never_waits_out_its_sync_timeout(
    mosquitto: MosquittoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = site_config(new_site("sync"), mosquitto=mosquitto)
    opts = DemoOptions(speed=1e6, duration_s=6 * 3600.0, tick_s=TICK_S, first_ip=random_first_ip(),
                       state_path=tmp_path / "state.sqlite")  # fmt: skip
    rec = Recorder()
    with caplog.at_level(logging.WARNING, logger="boiler.service.mqtt_io"):
        summary = await run_demo(cfg, opts, "sync", on_status=rec)
    assert summary["ticks"] == len(rec.ticks) > 0
    # The orders the devices waited for include setpoints that a 3-decimal payload rounds.
    setpoints = {t.gas_setpoint_c for t in rec.ticks}
    assert any(round(c, 3) != c for c in setpoints), setpoints
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(TIMEOUT_EVENTS)] == []
