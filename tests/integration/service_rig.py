"""What the service tests share: a site config on the test servers, a tick recorder, an MQTT observer,
and handles on the objects `run_demo` builds inside (its MQTT link, its simulated devices, its telemetry).

Not a test module; import from it explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

import boiler.service.demo
import boiler.service.links
from boiler import scenarios
from boiler.config import PlantConfig
from boiler.service.service import ServiceStatus
from boiler.telemetry import TelemetryConfig
from tests import loopback
from tests.integration.mqtt_server import MosquittoServer, mqtt_client, plant_config

TICK_S = 300.0


def new_site(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def random_first_ip() -> str:
    """A loopback /24 of this test's own for its emulated miners."""
    return loopback.first_ip()


def site_config(
    site: str,
    *,
    mosquitto: MosquittoServer | None = None,
    telemetry: TelemetryConfig | None = None,
    scenario: str = "residence-48",
) -> PlantConfig:
    """The scenario as site `site`: MQTT with password and TLS on `mosquitto`, telemetry as given."""
    cfg = scenarios.load(scenario)
    cfg.site.name = site  # the `site` tag of every telemetry point
    if mosquitto is not None:
        cfg.mqtt = plant_config(mosquitto, site, tls=True)
    cfg.telemetry = telemetry
    return cfg


def telemetry_config(tmp_path: Path, url: str, bucket: str, token: str = "") -> TelemetryConfig:
    return TelemetryConfig.model_validate({
        "url": url, "bucket": bucket, "token": token, "outbox_path": tmp_path / "outbox.sqlite",
        "batch_size": 500, "flush_interval_s": 0.05, "retry_initial_s": 0.05, "retry_max_s": 0.3,
        "timeout_s": 5, "close_timeout_s": 10,
    })  # fmt: skip


# -- what the service did, tick by tick --------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """One finished service tick, as `ServiceStatus` showed it."""

    n: int
    now_s: float
    reason: str
    safe_state: bool
    miner_power_w: float  # what the decision asked of the fleet
    gas_enable: bool
    gas_setpoint_c: float
    charge_pump: bool
    miner_states: dict[str, str]  # as polled through pyasic at the start of the tick
    miner_limits_w: dict[str, float | None]
    outlet_c: float | None
    decided_by: str = ""


class Recorder:
    """`on_status` for `run_demo`: keeps every tick and runs actions scheduled at tick numbers.

    Actions run inside the callback, between two ticks, so their effect starts exactly at the next one.
    """

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.actions: dict[int, list[Callable[[], None]]] = {}
        self._changed: asyncio.Event | None = None

    def at(self, n: int, action: Callable[[], None]) -> None:
        self.actions.setdefault(n, []).append(action)

    def __call__(self, s: ServiceStatus) -> None:
        c, d = s.commands, s.decision
        assert c is not None and d is not None
        self.ticks.append(Tick(
            n=s.ticks, now_s=s.now_s, reason=c.reason, safe_state=s.safe_state, miner_power_w=d.miner_power_w,
            gas_enable=c.gas_enable, gas_setpoint_c=c.gas_setpoint_c, charge_pump=c.charge_pump,
            miner_states={m.name: m.state if m.available else "unreachable" for m in s.miners},
            miner_limits_w={m.name: m.limit_w for m in s.miners},
            outlet_c=s.reading.outlet_c if s.reading is not None else None, decided_by=s.decided_by,
        ))  # fmt: skip
        for action in self.actions.pop(s.ticks, []):
            action()
        if self._changed is not None:
            self._changed.set()

    @property
    def n(self) -> int:
        return self.ticks[-1].n if self.ticks else 0

    def tick(self, n: int) -> Tick:
        return self.ticks[n - 1]

    async def wait_tick(self, n: int, timeout_s: float = 600.0) -> Tick:
        """Wait until tick `n` has finished. The timeout only guards against a hang: a loaded CI machine
        may be many times slower than a quiet one, and no test asserts on wall-clock time."""
        if self._changed is None:
            self._changed = asyncio.Event()
        async with asyncio.timeout(timeout_s):
            while self.n < n:
                self._changed.clear()
                await self._changed.wait()
        return self.tick(n)


# -- a separate MQTT client that sees what Home Assistant would see ----------------------------------


@dataclass
class Observer:
    """Every message on the site's tree and its discovery topics, in order of arrival."""

    client: aiomqtt.Client
    messages: list[aiomqtt.Message] = field(default_factory=list)
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    def latest(self, topic: str) -> bytes | None:
        for m in reversed(self.messages):
            if str(m.topic) == topic:
                return bytes(m.payload)  # type: ignore[arg-type]
        return None

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if str(m.topic) == topic]

    async def wait_for(self, predicate: Callable[[aiomqtt.Message], bool], *, after: int = 0,
                       timeout_s: float = 300.0, what: str = "a message") -> aiomqtt.Message:
        """The first message (from index `after` on) that satisfies `predicate`."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    for m in self.messages[after:]:
                        if predicate(m):
                            return m
                    after = len(self.messages)
                    self._new.clear()
                    await self._new.wait()
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}")

    async def result_for(self, topic: str, *, after: int) -> dict[str, Any]:
        """The command result about `topic`, published after message index `after`."""
        base = topic.split("/")[0] + "/" + topic.split("/")[1]
        message = await self.wait_for(
            lambda m: str(m.topic) == f"{base}/command/result" and json.loads(m.payload)["topic"] == topic,
            after=after, what=f"the result of a command on {topic}")  # fmt: skip
        return json.loads(message.payload)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def observe(server: MosquittoServer, site: str, prefix: str = "homeassistant") -> AsyncIterator[Observer]:
    async with mqtt_client(server, tls=True, identifier=f"observer-{site}") as client:
        observer = Observer(client)
        await client.subscribe([(f"boiler/{site}/#", 1), (f"{prefix}/+/boiler_{site}/+/config", 1)])

        async def collect() -> None:
            async for message in client.messages:
                observer.messages.append(message)
                observer._new.set()

        task = asyncio.create_task(collect())
        try:
            yield observer
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def retained(server: MosquittoServer, filters: list[str], quiet_s: float = 1.0) -> dict[str, bytes]:
    """What the broker holds retained under `filters`, read by a fresh client."""
    out: dict[str, bytes] = {}
    async with mqtt_client(server, tls=True) as client:
        await client.subscribe([(f, 1) for f in filters])
        with contextlib.suppress(TimeoutError):
            while True:
                async with asyncio.timeout(quiet_s):
                    message = await anext(aiter(client.messages))
                if message.retain:
                    out[str(message.topic)] = bytes(message.payload)  # type: ignore[arg-type]
    return out


# -- handles on what run_demo builds inside ----------------------------------------------------------


@dataclass
class Inside:
    """The demo's MQTT link, simulated devices and telemetry, and every point it submitted."""

    links: list[Any] = field(default_factory=list)
    devices: list[Any] = field(default_factory=list)
    telemetry: list[Any] = field(default_factory=list)
    submitted: list[Any] = field(default_factory=list)

    @property
    def link(self) -> Any:
        return self.links[-1]

    @property
    def device(self) -> Any:
        return self.devices[-1]


@contextlib.contextmanager
def inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inside]:
    """Record the objects `run_demo` creates (it resolves these names when it runs)."""
    seen = Inside()
    link_cls = boiler.service.links.PlantMqtt
    devices_cls = boiler.service.demo.SimulatedDevices
    telemetry_cls = boiler.service.links.Telemetry

    class Link(link_cls):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.links.append(self)

    class Devices(devices_cls):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.devices.append(self)

    class Recording(telemetry_cls):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.telemetry.append(self)

        async def submit(self, points: Any) -> Any:
            points = list(points)
            seen.submitted.extend(points)
            return await super().submit(points)

    monkeypatch.setattr(boiler.service.links, "PlantMqtt", Link)
    monkeypatch.setattr(boiler.service.demo, "SimulatedDevices", Devices)
    monkeypatch.setattr(boiler.service.links, "Telemetry", Recording)
    yield seen
