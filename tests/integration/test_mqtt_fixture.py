"""The mosquitto fixture itself: a missing binary skips locally and fails in CI; restarts keep the ports."""

from __future__ import annotations

import pytest

from tests.integration.mqtt_server import MosquittoServer, _require, mqtt_client


def test_missing_binary_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no-such-mqtt-broker not found.*apt-get install mosquitto"):
        _require("no-such-mqtt-broker")


def test_missing_binary_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-mqtt-broker not found"):
        _require("no-such-mqtt-broker")


async def test_private_broker_restarts_on_the_same_ports(mosquitto_private: MosquittoServer) -> None:
    server = mosquitto_private
    ports = (server.port, server.tls_port, server.mtls_port, server.wrong_name_port)
    first_pid = server.pid
    server.restart()
    assert server.running and server.pid != first_pid
    assert (server.port, server.tls_port, server.mtls_port, server.wrong_name_port) == ports
    async with mqtt_client(server, tls=True) as client:
        await client.publish("fixture/check", b"1", qos=1)
    server.stop()
    assert not server.running
