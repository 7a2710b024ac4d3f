"""The link itself against a real mosquitto: last will, clean close, broker restart, login and TLS errors."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path

import aiomqtt
import pytest

from boiler.mqtt import (
    BrokerAuthError,
    BrokerTlsError,
    BrokerUnreachable,
    MqttSetupError,
    PlantMqtt,
    check_broker,
)
from tests.integration.mqtt_server import MosquittoServer, mqtt_client, plant_config, wait_until

ROOT = Path(__file__).resolve().parents[2]


def new_site() -> str:
    return f"t{secrets.token_hex(4)}"


async def next_payload(client: aiomqtt.Client, topic: str, timeout_s: float = 10.0) -> bytes:
    async with asyncio.timeout(timeout_s):
        async for message in client.messages:
            if str(message.topic) == topic:
                return bytes(message.payload)  # type: ignore[arg-type]
    raise AssertionError("message stream ended")


# A plant link in a child process that dies without a word once it is online.
CHILD = """
import asyncio, os, signal, sys
from boiler.mqtt import MqttConfig, PlantMqtt
async def main():
    config = MqttConfig.model_validate_json(sys.argv[1])
    async with PlantMqtt(config) as plant:
        await plant.wait_connected(10)
        assert await plant.flush(10)
        os.kill(os.getpid(), signal.SIGKILL)
asyncio.run(main())
"""


async def test_last_will_says_offline_when_the_process_dies(mosquitto: MosquittoServer) -> None:
    site = new_site()
    status = f"boiler/{site}/status"
    # The password travels by environment: a dumped config shows it as '**********'.
    config = plant_config(mosquitto, site, discovery=False, broker={"password": None, "password_env": "TEST_MQTT_PW"})
    async with mqtt_client(mosquitto) as watcher:
        await watcher.subscribe(status, qos=1)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TEST_MQTT_PW": mosquitto.password}
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, config.model_dump_json(), env=env)
        assert await next_payload(watcher, status) == b"online"
        assert await child.wait() == -signal.SIGKILL
        assert await next_payload(watcher, status) == b"offline"
    async with mqtt_client(mosquitto) as late:  # the will is retained
        await late.subscribe(status, qos=1)
        assert await next_payload(late, status) == b"offline"


async def test_clean_close_publishes_offline(mosquitto: MosquittoServer) -> None:
    site = new_site()
    status = f"boiler/{site}/status"
    async with mqtt_client(mosquitto) as watcher:
        await watcher.subscribe(status, qos=1)
        async with PlantMqtt(plant_config(mosquitto, site)) as plant:
            await plant.wait_connected(10)
            assert await next_payload(watcher, status) == b"online"
        assert await next_payload(watcher, status) == b"offline"
        assert not plant.connected


async def test_reconnects_after_broker_restart_and_republishes_state(mosquitto_private: MosquittoServer) -> None:
    server, site = mosquitto_private, new_site()
    base = f"boiler/{site}"
    sensors = [{"name": "tank_top", "topic": f"{site}/tank", "unit": "°C"}]
    actuators = [{"name": "pump", "kind": "on_off", "topic": f"{site}/pump/set"}]
    config = plant_config(server, site, sensors=sensors, actuators=actuators)
    async with PlantMqtt(config, clock=lambda: 0.0) as plant:
        await plant.wait_connected(10)
        plant.publish_state({"mode": "auto", "setpoint/outlet_c": 60})
        plant.set_actuator("pump", True)
        assert await plant.flush(10)

        # A clean restart loses every retained message (persistence is off): the link must put them back.
        await asyncio.to_thread(server.restart)
        await wait_until(lambda: plant.stats.connects == 2, what="the second connection")
        assert plant.stats.connect_failures["BrokerUnreachable"] >= 1
        async with mqtt_client(server) as late:
            await late.subscribe(f"{base}/#", qos=1)
            seen: dict[str, bytes] = {}
            async with asyncio.timeout(10):
                async for message in late.messages:
                    seen[str(message.topic)] = bytes(message.payload)  # type: ignore[arg-type]
                    if {f"{base}/status", f"{base}/mode", f"{base}/setpoint/outlet_c", f"{base}/actuator/pump"} <= set(
                        seen
                    ):
                        break
        assert seen[f"{base}/status"] == b"online"
        assert (seen[f"{base}/mode"], seen[f"{base}/setpoint/outlet_c"]) == (b"auto", b"60")
        assert seen[f"{base}/actuator/pump"] == b"ON"

        # Subscriptions are back: a sensor value and a command after the restart both arrive.
        async with mqtt_client(server) as device:
            await device.publish(f"{site}/tank", b"58.5", qos=1)
            await device.publish(f"{base}/mode/set", b"off", qos=1)
        await wait_until(lambda: plant.board.accepted["tank_top"] == 1 and plant.stats.commands_accepted == 1)
        assert plant.board.value("tank_top", 0.0) == 58.5

        # State set while the broker is down goes out when it is back; the pump gets its value again.
        await asyncio.to_thread(server.stop)
        await wait_until(lambda: not plant.connected, what="the link to notice the broker is gone")
        plant.publish_state({"mode": "off"})
        with pytest.raises(BrokerUnreachable):
            await plant.wait_connected(0.2)
        await asyncio.to_thread(server.start)
        async with mqtt_client(server) as late:
            await late.subscribe(f"{base}/mode", qos=1)
            await late.subscribe(f"{site}/pump/set", qos=1)
            got: dict[str, bytes] = {}
            async with asyncio.timeout(10):
                async for message in late.messages:
                    got[str(message.topic)] = bytes(message.payload)  # type: ignore[arg-type]
                    if got.get(f"{base}/mode") == b"off" and f"{site}/pump/set" in got:
                        break
        assert got[f"{site}/pump/set"] == b"ON"
        assert plant.stats.connects == 3


async def test_broker_killed_hard_is_survived(mosquitto_private: MosquittoServer) -> None:
    server, site = mosquitto_private, new_site()
    async with PlantMqtt(plant_config(server, site, discovery=False)) as plant:
        await plant.wait_connected(10)
        await asyncio.to_thread(server.stop, signal.SIGKILL)
        await wait_until(lambda: not plant.connected, what="the link to notice the dead broker")
        await asyncio.to_thread(server.start)
        await plant.wait_connected(10)
        assert plant.stats.connects == 2
        assert plant.last_error is None


async def test_wrong_password_is_a_clear_error(mosquitto: MosquittoServer) -> None:
    config = plant_config(mosquitto, new_site(), broker={"password": "not-the-password"})
    with pytest.raises(BrokerAuthError) as info:
        await check_broker(config)
    text = str(info.value)
    assert f"refused the login of user '{mosquitto.username}'" in text
    assert "check broker.username and broker.password" in text
    assert "not-the-password" not in text
    async with PlantMqtt(config) as plant:
        with pytest.raises(BrokerAuthError, match="refused the login"):
            await plant.wait_connected(10)
        assert not plant.connected
        assert plant.stats.connect_failures["BrokerAuthError"] >= 1


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_anonymous_login_is_refused_on_both_protocols(mosquitto: MosquittoServer, protocol: str) -> None:
    config = plant_config(mosquitto, new_site(), broker={"username": None, "password": None, "protocol": protocol})
    with pytest.raises(BrokerAuthError, match="refused the login of an anonymous client"):
        await check_broker(config)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_tls_and_password_work_on_both_protocols(mosquitto: MosquittoServer, protocol: str) -> None:
    site = new_site()
    async with PlantMqtt(plant_config(mosquitto, site, broker={"protocol": protocol})) as plant:
        await plant.wait_connected(10)
        async with mqtt_client(mosquitto, tls=True) as device:
            await device.publish(f"boiler/{site}/mode/set", b"auto", qos=1)
        await wait_until(lambda: plant.stats.commands_accepted == 1)


async def test_untrusted_ca_is_a_tls_error(mosquitto: MosquittoServer) -> None:
    config = plant_config(mosquitto, new_site(), broker={"tls": {"ca_file": str(mosquitto.certs.other_ca_file)}})
    with pytest.raises(BrokerTlsError, match=r"check broker\.tls\.ca_file") as info:
        await check_broker(config)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


async def test_host_name_must_match_the_certificate_unless_insecure(mosquitto: MosquittoServer) -> None:
    # This listener's certificate is signed by the trusted CA but names only elsewhere.invalid.
    broker = {"port": mosquitto.wrong_name_port, "tls": {"ca_file": str(mosquitto.ca_file)}}
    with pytest.raises(BrokerTlsError, match="matches the name or IP in that certificate") as info:
        await check_broker(plant_config(mosquitto, new_site(), broker=broker))
    assert "mismatch" in str(info.value)
    broker["tls"] = {"ca_file": str(mosquitto.ca_file), "insecure": True}
    await check_broker(plant_config(mosquitto, new_site(), broker=broker))
    # insecure skips only the name: an untrusted chain still fails.
    broker["tls"] = {"ca_file": str(mosquitto.certs.other_ca_file), "insecure": True}
    with pytest.raises(BrokerTlsError):
        await check_broker(plant_config(mosquitto, new_site(), broker=broker))


async def test_client_certificate_listener(mosquitto: MosquittoServer) -> None:
    certs = mosquitto.certs
    with_cert = plant_config(
        mosquitto,
        new_site(),
        broker={
            "port": mosquitto.mtls_port,
            "tls": {
                "ca_file": str(certs.ca_file),
                "cert_file": str(certs.client_cert),
                "key_file": str(certs.client_key),
            },
        },
    )
    await check_broker(with_cert)
    # Refused after the TLS 1.3 handshake: aiomqtt sees a timeout, paho's log has the cause.
    without_cert = plant_config(mosquitto, new_site(), broker={"port": mosquitto.mtls_port, "connect_timeout_s": 1})
    with pytest.raises(BrokerTlsError, match="CERTIFICATE_REQUIRED") as info:
        await check_broker(without_cert)
    assert "broker.tls.cert_file" in str(info.value)


async def test_missing_tls_file_fails_before_connecting(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    config = plant_config(mosquitto, new_site(), broker={"tls": {"ca_file": str(missing)}})
    with pytest.raises(MqttSetupError) as info:
        PlantMqtt(config)
    assert str(info.value) == f"TLS ca_file {missing} does not exist or is not a file"


async def test_closed_port_is_unreachable(mosquitto_private: MosquittoServer) -> None:
    server = mosquitto_private
    config = plant_config(server, new_site())
    server.stop()
    with pytest.raises(BrokerUnreachable, match=f"cannot talk to broker 127.0.0.1:{server.tls_port}"):
        await check_broker(config)
    async with PlantMqtt(config) as plant:
        with pytest.raises(BrokerUnreachable, match="Connection refused"):
            await plant.wait_connected(0.5)
