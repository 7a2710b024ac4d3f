"""The plant's MQTT link: one aiomqtt connection kept alive, feeding sensors and commands in, state out.

The service never waits on the network: `publish_state` and `set_actuator` only record what should be
on the broker, and a writer task sends it (latest value per topic wins). After every (re)connect the
link subscribes again, announces `online` and sends all retained state, discovery and actuator values
again, so a restarted broker or a wiped retained store heals by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, cast

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from boiler.mqtt.actuators import ActuatorBank, ActuatorStatus, encode, format_number
from boiler.mqtt.commands import Command, CommandRejected, CommandResult, parse_command
from boiler.mqtt.config import BrokerConfig, MqttConfig, TlsConfig
from boiler.mqtt.discovery import discovery_configs
from boiler.mqtt.errors import (
    BrokerAuthError,
    BrokerTlsError,
    BrokerUnreachable,
    MqttPlantError,
    MqttSetupError,
)
from boiler.mqtt.ratelimit import RateLimitedLog
from boiler.mqtt.sensors import SensorBoard
from boiler.mqtt.state import STATE_BY_KEY, StateValue, format_state
from boiler.mqtt.topics import OFFLINE, ONLINE, Topics

_log = logging.getLogger("boiler.mqtt")
#: MQTT 3.1.1 CONNACK 4/5 and MQTT 5 reason codes 134/135 mean the login was refused.
_AUTH_CODES = frozenset({4, 5, 134, 135})
_COMMAND_QUEUE_MAX = 1000
_INCOMING_QUEUE_MAX = 10_000
#: Publishes in flight at once; a reconnect sends dozens of retained items.
_PUBLISH_BATCH = 50
#: Events (command answers) waiting for the writer. Past the high-water mark the reader waits for
#: the writer before reading on, so a burst of commands never pushes an answer out of the queue.
_EVENTS_MAX = 200
_EVENTS_HIGH_WATER = _EVENTS_MAX // 2


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MqttStats:
    """Counters of the link since start; sensor rejections are on `PlantMqtt.board`."""

    connects: int = 0
    connect_failures: Counter[str] = field(default_factory=Counter)
    received: int = 0
    unexpected: int = 0
    published: int = 0
    commands_accepted: int = 0
    commands_rejected: Counter[str] = field(default_factory=Counter)
    ack_errors: Counter[str] = field(default_factory=Counter)
    handler_errors: int = 0


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    actuator: str | None = None


def make_tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """An SSL context for the broker; MqttSetupError with the file's name if a file is missing or bad."""
    for what, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if path is not None and not path.is_file():
            raise MqttSetupError(f"TLS {what} {path} does not exist or is not a file")
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise MqttSetupError(f"cannot load the TLS files: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = not tls.insecure
    return context


class _PahoLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """paho's log for one connection, remembering its last error.

    A broker that refuses the TLS client (no client certificate) just closes the socket; aiomqtt then
    reports only "Operation timed out", and the real cause is in paho's log.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("boiler.mqtt.paho"), {})
        self.last_error: str | None = None

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level >= logging.ERROR:
            self.last_error = str(msg) % args if args else str(msg)
        super().log(level, msg, *args, **kwargs)


def describe_connect_error(
    exc: aiomqtt.MqttError, broker: BrokerConfig, socket_error: str | None = None
) -> MqttPlantError:
    """Turn aiomqtt's error into one that says what is wrong and where to fix it.

    `socket_error` is paho's last logged error, added when aiomqtt saw only a timeout.
    """
    where = f"{broker.host}:{broker.effective_port}"
    if isinstance(exc, aiomqtt.MqttCodeError):
        rc = exc.rc.value if isinstance(exc.rc, ReasonCode) else exc.rc
        if isinstance(exc, MqttConnectError) and rc in _AUTH_CODES:
            who = f"user {broker.username!r}" if broker.username else "an anonymous client"
            return BrokerAuthError(
                f"broker {where} refused the login of {who} ({exc}); check broker.username and "
                "broker.password / broker.password_env, and the broker's password file"
            )
    text = str(exc)
    if socket_error and "timed out" in text:
        text = f"{text}; last socket error: {socket_error}"
    if "SSL" in text or "certificate" in text.lower() or "TLS" in text:
        return BrokerTlsError(
            f"TLS with broker {where} failed ({text}); check broker.tls.ca_file is the CA that signed the "
            "broker's certificate, that broker.host matches the name or IP in that certificate, and, if the "
            "broker demands a client certificate, broker.tls.cert_file and key_file"
        )
    return BrokerUnreachable(f"cannot talk to broker {where}: {text}")


def _client_for(
    config: MqttConfig,
    password: str | None,
    tls: ssl.SSLContext | None,
    *,
    identifier: str,
    will: bool,
) -> tuple[aiomqtt.Client, _PahoLog]:
    broker = config.broker
    protocol = aiomqtt.ProtocolVersion.V5 if broker.protocol == "5" else aiomqtt.ProtocolVersion.V311
    status = Topics(config).status
    paho_log = _PahoLog()
    client = aiomqtt.Client(
        broker.host,
        broker.effective_port,
        username=broker.username,
        password=password,
        identifier=identifier,
        protocol=protocol,
        will=aiomqtt.Will(status, OFFLINE, qos=1, retain=True) if will else None,
        keepalive=broker.keepalive_s,
        timeout=broker.connect_timeout_s,
        tls_context=tls,
        logger=cast(logging.Logger, paho_log),
        max_queued_incoming_messages=_INCOMING_QUEUE_MAX,
        # Small control messages: without this, Nagle and delayed ACKs add ~40 ms per exchange.
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    # aiomqtt warns above 10 unacknowledged publishes; the writer sends batches of up to _PUBLISH_BATCH.
    client.pending_calls_threshold = 2 * _PUBLISH_BATCH
    return client, paho_log


async def check_broker(config: MqttConfig, environ: Mapping[str, str] | None = None) -> None:
    """Connect once with the configured login and TLS (for `boiler check`); raises MqttPlantError."""
    try:
        password = config.broker.resolved_password(environ)
    except ValueError as exc:
        raise MqttSetupError(str(exc)) from None
    tls = make_tls_context(config.broker.tls) if config.broker.tls is not None else None
    client, paho_log = _client_for(config, password, tls, identifier=f"{config.client_id}-check", will=False)
    try:
        async with client:
            pass
    except aiomqtt.MqttError as exc:
        raise describe_connect_error(exc, config.broker, paho_log.last_error) from None


class PlantMqtt:
    """`async with PlantMqtt(config) as plant:` keeps the link up until the block ends.

    `clock` is the controller's clock in seconds (a virtual one in `demo`); sensor ages use it.
    `wall_clock` gives timezone-aware UTC time; override expiries use it.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        environ: Mapping[str, str] | None = None,
        housekeeping_s: float = 1.0,
        log_interval_s: float = 60.0,
    ) -> None:
        self.config = config
        self.topics = Topics(config)
        self.board = SensorBoard(config.sensors, log_interval_s=log_interval_s)
        self.actuators = ActuatorBank(config.actuators)
        self.stats = MqttStats()
        self.commands: asyncio.Queue[Command] = asyncio.Queue(maxsize=_COMMAND_QUEUE_MAX)
        #: The latest answers to commands, newest last.
        self.results: deque[CommandResult] = deque(maxlen=100)
        #: Why the link is down (None while connected or before the first attempt).
        self.last_error: MqttPlantError | None = None
        self._clock = clock
        self._wall_clock = wall_clock
        self._housekeeping_s = housekeeping_s
        self._log = RateLimitedLog(_log, log_interval_s)
        try:
            self._password = config.broker.resolved_password(environ)
        except ValueError as exc:
            raise MqttSetupError(str(exc)) from None
        self._tls = make_tls_context(config.broker.tls) if config.broker.tls is not None else None
        # Everything retained we want on the broker (sent again after each connect) ...
        self._retained: dict[str, _Message] = {}
        # ... and what still has to go out, keyed by topic (or actuator) so the newest value wins.
        self._pending: dict[str, _Message] = {}
        self._events: deque[_Message] = deque(maxlen=_EVENTS_MAX)
        self._events_room = asyncio.Event()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._connected = asyncio.Event()
        self._attempted = asyncio.Event()
        self._ack_seen = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if config.discovery:
            for topic, body in discovery_configs(config).items():
                self._remember(_json_message(topic, body, config.state_qos))

    # ---- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.config.site}")

    async def close(self, timeout_s: float = 2.0) -> None:
        """Say `offline` (retained), send what is pending, and disconnect cleanly."""
        if self._task is None:
            return
        if self._connected.is_set():
            self._enqueue(_Message(self.topics.status, OFFLINE, 1, True))
            await self.flush(timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float) -> None:
        """Return once connected; raise the last error on timeout, and at once for a refused login or TLS."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self._connected.is_set():
            if isinstance(self.last_error, BrokerAuthError | BrokerTlsError):
                raise self.last_error
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self.last_error or BrokerUnreachable(f"no connection to the broker within {timeout_s:g} s")
            self._attempted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attempted.wait(), remaining)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything recorded so far is on the broker; False if that took too long."""
        try:
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # ---- what the service calls ------------------------------------------------------------------

    def publish_state(self, values: Mapping[str, StateValue]) -> None:
        """Set retained state items (keys of `STATE_ITEMS`); only changed values go out.

        All values are checked first, so a wrong one (KeyError, ValueError) changes nothing.
        """
        payloads = {}
        for key, value in values.items():
            if key not in STATE_BY_KEY:
                raise KeyError(f"unknown state item {key!r}; known: {', '.join(STATE_BY_KEY)}")
            payloads[key] = format_state(STATE_BY_KEY[key], value)
        for key, payload in payloads.items():
            self._publish_retained(self.topics.state(key), payload)

    def set_actuator(self, name: str, value: bool | float) -> bool:
        """Command an actuator; True if a message will go out (the value changed beyond the deadband)."""
        wanted = self.actuators.command(name, value)
        if wanted is None:
            return False
        self._send_actuator(name)
        return True

    def actuator_status(self, name: str) -> ActuatorStatus:
        return self.actuators.status(name)

    async def wait_ack(self, name: str, timeout_s: float) -> bool:
        """True once the device echoed the value last sent to `name` on its `ack_topic`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.actuators.status(name).acked:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._ack_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack_seen.wait(), remaining)
        return True

    def drain_commands(self) -> list[Command]:
        """Every accepted command not yet taken, oldest first."""
        out = []
        while not self.commands.empty():
            out.append(self.commands.get_nowait())
        return out

    # ---- outgoing --------------------------------------------------------------------------------

    def _remember(self, message: _Message) -> None:
        self._retained[message.topic] = message

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        known = self._retained.get(topic)
        if known is not None and known.payload == payload:
            return
        message = _Message(topic, payload, self.config.state_qos, True)
        self._remember(message)
        self._enqueue(message)

    def _send_actuator(self, name: str) -> None:
        config = self.actuators.config(name)
        value = self.actuators.current()[name]
        self._enqueue(_Message(config.topic, encode(config, value), config.qos, config.retain, actuator=name))
        self._publish_retained(self.topics.actuator(name), _state_text(value))

    def _enqueue(self, message: _Message, *, event: bool = False) -> None:
        if event:
            self._events.append(message)
        else:
            key = f"actuator:{message.actuator}" if message.actuator else message.topic
            self._pending[key] = message
        self._drained.clear()
        self._wake.set()

    def _on_connect(self) -> None:
        # Status first, then every retained item and the actuators' current values, then what was pending.
        fresh: dict[str, _Message] = {self.topics.status: _Message(self.topics.status, ONLINE, 1, True)}
        fresh.update(self._retained)
        for name, value in self.actuators.current().items():
            config = self.actuators.config(name)
            fresh[f"actuator:{name}"] = _Message(
                config.topic, encode(config, value), config.qos, config.retain, actuator=name
            )
        fresh.update(self._pending)
        self._pending = fresh
        self._drained.clear()
        self._wake.set()

    async def _writer(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending or self._events:
                events = [self._events.popleft() for _ in range(min(len(self._events), _PUBLISH_BATCH))]
                self._events_room.set()
                batch = list(self._pending.items())[: _PUBLISH_BATCH - len(events)]
                # Calls start in order, so QoS 1 messages leave in order; acks are awaited together.
                sends = [self._publish(client, m) for m in [*events, *(m for _, m in batch)]]
                results = await asyncio.gather(*sends, return_exceptions=True)
                for (key, message), result in zip(batch, results[len(events) :], strict=True):
                    if result is None and self._pending.get(key) is message:
                        del self._pending[key]
                failures = [r for r in results if isinstance(r, BaseException)]
                if failures:
                    # Unsent events are dropped (they are answers for the moment); state stays pending.
                    raise failures[0]
            self._drained.set()

    async def _publish(self, client: aiomqtt.Client, message: _Message) -> None:
        if message.actuator is not None:
            # Stamped when it leaves, not when the broker's ack is processed: the device's echo may be
            # handled first, and it must still count as the echo of this command.
            self.actuators.mark_sent(message.actuator, time.monotonic())
        await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        self.stats.published += 1

    # ---- incoming --------------------------------------------------------------------------------

    async def _reader(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload).encode()
            try:
                self.handle_message(str(message.topic), data, retained=message.retain)
            except Exception:  # a bug must not cut the plant off the broker
                self.stats.handler_errors += 1
                _log.exception("mqtt_handler_error topic=%s", message.topic)
            while len(self._events) >= _EVENTS_HIGH_WATER:
                # Let the writer send answers before reading more commands (backpressure to the broker).
                self._events_room.clear()
                await self._events_room.wait()

    def handle_message(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        """Route one incoming message (public so the routing can be tested without a broker)."""
        self.stats.received += 1
        matched = False
        if topic in self.board.topics:
            matched = True
            self.board.ingest(topic, payload, self._clock(), retained=retained)
        if topic in self.actuators.ack_topics:
            matched = True
            for error in self.actuators.acknowledge(topic, payload, time.monotonic()):
                self.stats.ack_errors[error.reason] += 1
                self._log.log(
                    logging.WARNING,
                    f"ack:{topic}",
                    "mqtt_ack_rejected topic=%s reason=%s",
                    topic,
                    error.reason,
                )
            self._ack_seen.set()
        path = self.topics.command_path(topic)
        if path is not None:
            matched = True
            self._command(topic, path, payload, retained)
        if not matched:
            self.stats.unexpected += 1

    def _command(self, topic: str, path: str, payload: bytes, retained: bool) -> None:
        now = self._wall_clock()
        command: Command | None = None
        if retained:
            reason, detail = (
                "retained",
                "commands must not be retained; clear it with an empty retained message",
            )
        else:
            try:
                command = parse_command(path, payload, now, self.config.commands)
                self.commands.put_nowait(command)
                reason, detail = "ok", "accepted"
            except CommandRejected as exc:
                command, reason, detail = None, exc.reason, str(exc)
            except asyncio.QueueFull:
                command, reason, detail = None, "busy", "too many commands waiting for the controller"
            except Exception as exc:  # a bug in parsing: the sender still gets its one answer
                _log.exception("mqtt_command_error topic=%s", topic)
                command, reason, detail = None, "internal_error", f"the command could not be handled: {exc!r}"[:200]
        result = CommandResult(topic, command is not None, reason, detail, now, command)
        self.results.append(result)
        if result.accepted:
            self.stats.commands_accepted += 1
            _log.info("mqtt_command_accepted topic=%s command=%s", topic, command)
        else:
            self.stats.commands_rejected[reason] += 1
            self._log.log(
                logging.WARNING,
                f"cmd:{path}:{reason}",
                "mqtt_command_rejected topic=%s reason=%s detail=%r",
                topic,
                reason,
                detail,
            )
        self._enqueue(_Message(self.topics.command_result, result.to_payload(), 1, False), event=True)

    # ---- housekeeping ----------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            self.refresh_sensor_state()
            for name in self.actuators.due(time.monotonic()):
                self._send_actuator(name)
            await asyncio.sleep(self._housekeeping_s)

    def refresh_sensor_state(self) -> None:
        """Mirror each sensor's trusted value and availability into the state tree."""
        for name, reading in self.board.readings(self._clock()).items():
            if reading.value is not None:
                self._publish_retained(self.topics.sensor(name), _state_text(reading.value))
            self._publish_retained(self.topics.sensor_available(name), ONLINE if reading.ok else OFFLINE)

    # ---- the connection loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        broker = self.config.broker
        delay_s = broker.reconnect_min_s
        while True:
            client, paho_log = _client_for(
                self.config, self._password, self._tls, identifier=self.config.client_id, will=True
            )
            try:
                async with client:
                    await self._subscribe(client)
                    self.last_error = None
                    self.stats.connects += 1
                    self._connected.set()
                    self._attempted.set()
                    delay_s = broker.reconnect_min_s
                    _log.info(
                        "mqtt_connected broker=%s:%d client_id=%s tls=%s",
                        broker.host,
                        broker.effective_port,
                        self.config.client_id,
                        "yes" if self._tls else "no",
                    )
                    self._on_connect()
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                self._lost(describe_connect_error(exc, broker, paho_log.last_error))
            except Exception as exc:  # a bug in a session task: log it, reconnect, keep the plant reachable
                _log.exception("mqtt_session_error")
                self.stats.handler_errors += 1
                self._lost(BrokerUnreachable(f"internal error in the MQTT session: {exc!r}"))
            finally:
                self._connected.clear()
            await asyncio.sleep(delay_s * random.uniform(0.8, 1.2))
            delay_s = min(delay_s * 2, broker.reconnect_max_s)

    def _lost(self, error: MqttPlantError) -> None:
        was_connected = self._connected.is_set()
        self.last_error = error
        kind = type(error).__name__
        self.stats.connect_failures[kind] += 1
        self._attempted.set()
        level = logging.ERROR if isinstance(error, BrokerAuthError | BrokerTlsError) else logging.WARNING
        event = "mqtt_disconnected" if was_connected else "mqtt_connect_failed"
        if was_connected:
            _log.log(level, "%s kind=%s detail=%r", event, kind, str(error))
        else:
            self._log.log(level, f"connect:{kind}", "%s kind=%s detail=%r", event, kind, str(error))

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        filters = sorted(self.board.topics | self.actuators.ack_topics) + list(self.topics.command_filters)
        granted = await client.subscribe([(topic, 1) for topic in filters])
        for topic, code in zip(filters, granted, strict=False):
            refused = code.is_failure if isinstance(code, ReasonCode) else code >= 0x80
            if refused:
                # Usually the broker's ACL: the link works but this input will never arrive.
                _log.error("mqtt_subscribe_refused topic=%s code=%s", topic, code)

    async def _session(self, client: aiomqtt.Client) -> None:
        tasks = [
            asyncio.create_task(self._reader(client)),
            asyncio.create_task(self._writer(client)),
            asyncio.create_task(self._housekeeping()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()
        raise aiomqtt.MqttError("the connection's tasks stopped")


def _state_text(value: bool | float) -> bytes:
    if isinstance(value, bool):
        return b"ON" if value else b"OFF"
    return format_number(value).encode()


def _json_message(topic: str, body: Mapping[str, object], qos: int) -> _Message:
    return _Message(topic, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), qos, True)
