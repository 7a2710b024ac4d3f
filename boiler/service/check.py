"""`boiler check`: the commissioning report, one line per item, before the service is trusted.

Items, in order: the config file; how its MQTT sensors and actuators bind to what the service reads
and drives (by name, see `boiler.service.mqtt_io`); the broker with the configured login and TLS;
the database (one `telemetry` point written through the real outbox and writer); each miner, reached
through the fleet driver and identified as configured (model; MAC and serial when configured); each
sensor, fresh and plausible while we listen; each actuator with an `ack_topic`, commanded with its
current value (the device's retained echo) or else the safe-state value, and its echo awaited.

Nothing here runs the controller. The check connects with its own MQTT client id (`<client_id>-check`)
and never publishes the service's status or state, so it can run next to a running service.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from pydantic import SecretStr

from boiler.config import ConfigError, PlantConfig, load_config, service_problems
from boiler.control.controller import Controller
from boiler.control.plant_model import PlantModel, exchanger_ua_w_per_k
from boiler.mqtt.actuators import ActuatorBank, ActuatorValue, check_value, decode, encode, format_number
from boiler.mqtt.client import check_broker, describe_connect_error, make_tls_context
from boiler.mqtt.config import ActuatorConfig, MqttConfig
from boiler.mqtt.errors import MqttPlantError
from boiler.mqtt.payload import PayloadError
from boiler.mqtt.sensors import SensorBoard
from boiler.service.mqtt_io import ACTUATORS, METERS, POINT_SENSORS, TEMPERATURE_ACTUATORS, tank_sensor_name
from boiler.telemetry import Telemetry, telemetry_point
from boiler.telemetry.config import TelemetryConfig
from miners.catalogue import get_spec
from miners.config import Credentials, MinerConfig
from miners.driver import MinerReading
from miners.driver_link import Connector, Identity
from miners.fleet import PyasicFleet

Status = Literal["ok", "warn", "fail", "skip"]

#: Longest default time to listen for sensors (each sensor's `stale_after_s` otherwise bounds it).
DEFAULT_MAX_WAIT_S = 120.0
#: Actuators the service drives with ON/OFF (the others it drives with a number).
_BOOL_ACTUATORS = frozenset(ACTUATORS) - TEMPERATURE_ACTUATORS


@dataclass(frozen=True)
class CheckItem:
    """One line of the report. `fail` makes the check exit 1; `warn` and `skip` do not."""

    item: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"item": self.item, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class CheckOptions:
    #: How long to listen for sensors; None = the longest `stale_after_s`, at most DEFAULT_MAX_WAIT_S.
    sensor_wait_s: float | None = None
    #: How long each actuator has to echo a command on its `ack_topic`.
    ack_timeout_s: float = 5.0
    #: Where `password_env` and `token_env` are looked up (default: the process environment).
    environ: Mapping[str, str] | None = None


def exit_code(items: list[CheckItem]) -> int:
    return 1 if any(i.status == "fail" for i in items) else 0


# -- config and bindings ------------------------------------------------------------------------------
def check_config(path: Path, build: Callable[[PlantConfig, str], None] | None = None
                 ) -> tuple[PlantConfig | None, CheckItem]:
    """Load the file and build its plant as `validate` does; the item carries the loader's message (field path,
    bad value, what is allowed); `build` (the CLI passes `boiler.config_check.check_buildable`) raises
    ConfigError when the plant cannot be built. A valid file that `boiler run` would refuse (no `mqtt`, a miner without
    `host`) is a failed item with the config still returned, so the other checks can run."""
    try:
        cfg = load_config(path)
        if build is not None:
            build(cfg, str(path))
    except ConfigError as exc:
        return None, CheckItem("config", "fail", str(exc))
    problems = service_problems(cfg)
    if problems:
        # The file is valid, but `boiler run` refuses it: the config fails; the other items still say
        # what they can.
        return cfg, CheckItem("config", "fail", f"{path}: `boiler run` would refuse it: " + "; ".join(problems))
    mqtt = cfg.mqtt
    parts = [f"site {cfg.site.name}", f"{len(cfg.tanks)} tank(s)", f"{len(cfg.miners)} miner(s)"]
    if mqtt is not None:
        parts += [f"{len(mqtt.sensors)} sensor(s)", f"{len(mqtt.actuators)} actuator(s)"]
    parts.append("telemetry on" if cfg.telemetry is not None else "no telemetry")
    return cfg, CheckItem("config", "ok", f"{path}: " + ", ".join(parts))


def check_bindings(cfg: PlantConfig) -> CheckItem:
    """Do the MQTT sensor and actuator names give the service what it reads and drives?

    A tank sensor, the outlet or (with miners) the coolant inlet that is not configured reads as
    missing forever, and the safety layer then holds the plant in its safe state.
    """
    mqtt = cfg.mqtt
    if mqtt is None:
        return CheckItem("mqtt bindings", "skip", "no `mqtt` section: `boiler run` needs one (the plant's I/O)")
    sensors = {s.name for s in mqtt.sensors}
    actuators = {a.name: a for a in mqtt.actuators}
    needed = [tank_sensor_name(t.name, s.name) for t in cfg.tanks for s in t.sensors] + ["outlet"]
    if cfg.miners:
        needed.append("coolant_in")
    problems = [f"sensor(s) {', '.join(n for n in needed if n not in sensors)} not configured: the safety layer "
                "would hold the safe state"] if any(n not in sensors for n in needed) else []
    for name, a in actuators.items():
        if name in _BOOL_ACTUATORS and not a.is_bool:
            problems.append(f"actuator {name} is kind {a.kind} but the service drives it ON/OFF")
        if name in TEMPERATURE_ACTUATORS and a.is_bool:
            problems.append(f"actuator {name} is kind {a.kind} but the service drives it with a temperature")
    if problems:
        return CheckItem("mqtt bindings", "fail", "; ".join(problems))
    notes = []
    wanted = (["charging_pump"] + (["gas_enable"] if cfg.gas_boiler is not None else [])
              + (["charging_setpoint"] if cfg.charge_target_c is not None else []))
    undriven = [n for n in wanted if n not in actuators]
    if undriven:
        notes.append(f"not driven (no actuator named so): {', '.join(undriven)}")
    known = set(needed) | set(POINT_SENSORS) | set(METERS) | {"gas_firing"}
    extra = sorted((sensors - known) | (set(actuators) - set(ACTUATORS)))
    bound = f"{len(needed)} required sensor(s) bound"
    if extra:
        bound += f"; state tree only (no binding): {', '.join(extra)}"
    if notes:
        return CheckItem("mqtt bindings", "warn", "; ".join([*notes, bound]))
    return CheckItem("mqtt bindings", "ok", bound)


# -- broker -------------------------------------------------------------------------------------------
async def check_broker_item(mqtt: MqttConfig, environ: Mapping[str, str] | None = None) -> CheckItem:
    b = mqtt.broker
    where = f"{b.host}:{b.effective_port}"
    try:
        await asyncio.wait_for(check_broker(mqtt, environ), b.connect_timeout_s + 5.0)
    except MqttPlantError as exc:
        return CheckItem("broker", "fail", str(exc))
    except TimeoutError:
        return CheckItem("broker", "fail", f"no answer from broker {where} within {b.connect_timeout_s:g} s")
    who = f"user {b.username}" if b.username else "anonymous"
    return CheckItem("broker", "ok", f"{where} as {who}, TLS {'on' if b.tls is not None else 'off'}, "
                                     f"MQTT {b.protocol}")


# -- telemetry ----------------------------------------------------------------------------------------
async def check_telemetry(cfg: TelemetryConfig, site: str, environ: Mapping[str, str] | None = None) -> CheckItem:
    """Write one `telemetry` point (this probe's own pipeline counters) through the outbox and writer."""
    try:
        token = cfg.resolved_token(environ)
    except ValueError as exc:
        return CheckItem("telemetry", "fail", str(exc))
    where = f"{cfg.url} bucket {cfg.bucket}"
    limit_s = cfg.timeout_s + 2.0
    with tempfile.TemporaryDirectory(prefix="boiler-check-") as tmp:
        # A private outbox: the service's own outbox may be in use, and its queue is not ours to send.
        probe_cfg = cfg.model_copy(update={
            "token": SecretStr(token), "token_env": None, "outbox_path": Path(tmp) / "outbox.sqlite",
            "flush_interval_s": 0.01, "close_timeout_s": 0.0})
        t0 = time.perf_counter()
        async with Telemetry(probe_cfg) as telemetry:
            await telemetry.submit([telemetry_point(site, datetime.now(UTC), telemetry.stats())])
            deadline = t0 + limit_s
            # One attempt is enough to know: the writer would retry a failure forever.
            while time.perf_counter() < deadline:
                s = telemetry.stats()
                if s.written or s.rejected or s.failed_attempts or s.append_failures:
                    break
                await asyncio.sleep(0.02)
            s = telemetry.stats()
        elapsed_ms = (time.perf_counter() - t0) * 1000
    if s.written == 1:
        return CheckItem("telemetry", "ok", f"wrote one `telemetry` point to {where} in {elapsed_ms:.0f} ms")
    if s.rejected:
        return CheckItem("telemetry", "fail", f"{where} refused the point as invalid (HTTP 400/413/422; see the log)")
    if s.last_error:
        return CheckItem("telemetry", "fail", f"cannot write to {where}: {s.last_error}")
    return CheckItem("telemetry", "fail", f"no answer from {where} within {limit_s:g} s")


# -- miners -------------------------------------------------------------------------------------------
def model_key(model: str) -> str:
    """A model string reduced to what identifies it: pyasic says "S21 Hydro" for "Antminer S21 Hyd."."""
    text = re.sub(r"\b(antminer|whatsminer)\b", "", model.lower()).replace("hydro", "hyd")
    return re.sub(r"[^a-z0-9+]", "", text)


def _miner_item(config: MinerConfig, reading: MinerReading | None, identity: Identity | None) -> CheckItem:
    name = f"miner {config.name}"
    if identity is None or reading is None:
        why = "; ".join(reading.errors) if reading is not None and reading.errors else "no answer"
        return CheckItem(name, "fail", why)
    spec = get_spec(config.model)
    seen = f"{identity.make or '?'} {identity.model or '?'} ({identity.firmware or '?'} {identity.fw_version or ''})"
    where = f"{config.host}: {seen.replace(' )', ')')}"
    if identity.model is None:
        status: Status = "warn"
        notes = [f"pyasic does not name the model, so {spec.model!r} cannot be confirmed"]
    elif model_key(identity.model) != model_key(spec.model):
        return CheckItem(name, "fail", f"{where} is not the configured {config.model} ({spec.model!r})")
    else:
        status, notes = "ok", []
    for what, wanted, got in (("MAC", config.mac, identity.mac), ("serial", config.serial, identity.serial)):
        if wanted is not None and got is None:
            status = "warn"
            notes.append(f"{what} not reported, so {wanted} cannot be confirmed")
        elif wanted is not None:
            notes.append(f"{what} {got} as configured")  # a different one fails in the driver
    if not reading.available:
        return CheckItem(name, "fail", f"{where} identified but not usable: {'; '.join(reading.errors)}")
    limit = "asleep" if reading.power_limit_w is None else f"limit {reading.power_limit_w:.0f} W"
    now = f"{reading.state}, {reading.power_w or 0:.0f} W, {limit}"
    return CheckItem(name, status, "; ".join([where, *notes, now]))


async def check_miners(cfg: PlantConfig, environ: Mapping[str, str] | None = None,
                       connector: Connector | None = None) -> list[CheckItem]:
    """Each miner through `PyasicFleet`: one poll identifies it (MAC/serial checked) and reads it."""
    items: dict[str, CheckItem] = {}
    usable: list[MinerConfig] = []
    credentials: dict[str, Credentials] = {}
    for m in cfg.miners:
        if m.host is None:
            items[m.name] = CheckItem(f"miner {m.name}", "fail", "no `host` configured")
            continue
        try:
            credentials[m.name] = m.credentials(environ)
        except KeyError as exc:
            items[m.name] = CheckItem(f"miner {m.name}", "fail", str(exc.args[0]))
            continue
        usable.append(m)
    if usable:
        fleet = PyasicFleet(usable, timeout_s=cfg.service.miner_timeout_s, credentials=credentials,
                            connector=connector)
        try:
            for reading in await fleet.poll():
                config = next(m for m in usable if m.name == reading.name)
                items[reading.name] = _miner_item(config, reading, fleet.identity_of(reading.name))
        finally:
            fleet.close()
    return [items[m.name] for m in cfg.miners]


# -- sensors and actuators over MQTT ------------------------------------------------------------------
def safe_values(cfg: PlantConfig) -> dict[str, ActuatorValue]:
    """What the safe state sends to each actuator the service drives (from the real safety layer)."""
    model = PlantModel.from_config(cfg, exchanger_ua_w_per_k(cfg) if cfg.miners else 1.0)
    safe = Controller(cfg, model, strategy="rule").safety.safe_state("check")
    values: dict[str, ActuatorValue] = {
        "charging_pump": safe.charge_pump, "gas_enable": safe.gas_enable, "gas_setpoint": safe.gas_setpoint_c,
        "dry_cooler": safe.dump_heat, "destratify_pump": safe.destratify}
    if cfg.charge_target_c is not None:
        values["charging_setpoint"] = cfg.charge_target_c
    return values


def _fit(config: ActuatorConfig, value: ActuatorValue) -> ActuatorValue:
    """`value` in the actuator's own terms: a bool on a numeric kind is its range's end, a number is clamped."""
    low, high = config.value_range or (0.0, 1.0)
    if config.is_bool:
        return bool(value)
    if isinstance(value, bool):
        return high if value else low
    return min(max(float(value), low), high)


def _show(value: ActuatorValue) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return format_number(value)


@dataclass
class _Echo:
    payload: bytes
    retained: bool
    at_s: float


class _IoSession:
    """One MQTT connection that feeds a SensorBoard and collects the actuators' echoes."""

    def __init__(self, mqtt: MqttConfig, client: Any) -> None:
        self.mqtt = mqtt
        self.client = client
        self.board = SensorBoard(mqtt.sensors, log_interval_s=3600.0)
        self.ack_topics = {a.ack_topic for a in mqtt.actuators if a.ack_topic is not None}
        self.echoes: dict[str, list[_Echo]] = {t: [] for t in self.ack_topics}
        self.retained_ignored: set[str] = set()
        self.probe = f"{mqtt.prefix}/{mqtt.site}/check/{secrets.token_hex(6)}"
        self._probe_seen = asyncio.Event()
        self._news = asyncio.Event()

    async def reader(self) -> None:
        async for message in self.client.messages:
            topic = str(message.topic)
            raw = message.payload
            payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
            now = time.monotonic()
            if topic in self.board.topics:
                if message.retain and not all(self.board.config(n).accept_retained for n in self._names(topic)):
                    self.retained_ignored.add(topic)
                self.board.ingest(topic, payload, now, retained=message.retain)
            if topic in self.echoes:
                self.echoes[topic].append(_Echo(payload, message.retain, now))
            if topic == self.probe:
                self._probe_seen.set()
            self._news.set()

    def _names(self, topic: str) -> list[str]:
        return [n for n in self.board.names if self.board.config(n).topic == topic]

    async def subscribe(self) -> None:
        topics = sorted(self.board.topics | self.ack_topics | {self.probe})
        await self.client.subscribe([(t, 1) for t in topics])
        # The broker sends the retained messages of a subscription before later traffic: once our own
        # probe message is back, every retained echo (a device's current state) has been seen.
        await self.client.publish(self.probe, b"check", qos=1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._probe_seen.wait(), 5.0)

    async def listen(self, wait_s: float) -> float:
        """Until every sensor has spoken (valid or implausible) or `wait_s` passed; returns the time taken."""
        t0 = time.monotonic()
        deadline = t0 + wait_s
        while True:
            now = time.monotonic()
            if all(r.status in ("ok", "implausible") for r in self.board.readings(now).values()) or now >= deadline:
                return now - t0
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), deadline - now)

    def sensor_items(self, waited_s: float) -> list[CheckItem]:
        items = []
        now = time.monotonic()
        for name, r in self.board.readings(now).items():
            cfg = self.board.config(name)
            rejected = self.board.rejections_by_sensor[name]
            extra = ("; rejected: " + ", ".join(f"{k}×{n}" for k, n in sorted(rejected.items()))) if rejected else ""
            if r.ok:
                assert r.value is not None and r.age_s is not None
                detail = (f"{r.value:.4g} {r.unit} on {cfg.topic}, {r.age_s:.1f} s old "
                          f"(stale after {cfg.stale_after_s:g} s){extra}")
                items.append(CheckItem(f"sensor {name}", "ok", detail))
            elif r.status == "never_seen":
                why = f"no valid message on {cfg.topic} within {waited_s:.0f} s{extra}"
                if cfg.topic in self.retained_ignored:
                    why += "; only a retained value, ignored (accept_retained is off)"
                items.append(CheckItem(f"sensor {name}", "fail", why))
            else:
                items.append(CheckItem(f"sensor {name}", "fail", f"{r.status}: {r.detail} on {cfg.topic}{extra}"))
        return items

    async def check_actuator(self, a: ActuatorConfig, safe: Mapping[str, ActuatorValue],
                             timeout_s: float) -> CheckItem:
        name = f"actuator {a.name}"
        if a.ack_topic is None:
            return CheckItem(name, "skip", f"not verifiable: no ack_topic configured (commands go to {a.topic})")
        echoes = self.echoes[a.ack_topic]
        current: ActuatorValue | None = None
        for echo in echoes:  # the device's own last word on its state, if it said one
            with contextlib.suppress(PayloadError):
                current = decode(a, echo.payload)
        if current is not None:
            value, origin = current, "its current value"
        elif a.name in safe:
            value, origin = _fit(a, safe[a.name]), "the safe-state value"
        else:
            return CheckItem(name, "skip", "not verifiable: its current value is unknown (no retained echo) and "
                                           "the service does not drive it")
        try:
            value = check_value(a, value)
        except ValueError as exc:
            return CheckItem(name, "fail", f"cannot command {_show(value)} ({origin}): {exc}")
        bank = ActuatorBank([a])
        bank.command(a.name, value)
        echoes.clear()
        t0 = time.monotonic()
        bank.mark_sent(a.name, t0)
        await self.client.publish(a.topic, encode(a, value), qos=a.qos, retain=a.retain)
        deadline = t0 + timeout_s
        seen: list[str] = []
        while True:
            while echoes:
                echo = echoes.pop(0)
                errors = bank.acknowledge(a.ack_topic, echo.payload, echo.at_s)
                seen.append(f"unreadable ({errors[0].reason})" if errors else _show(decode(a, echo.payload)))
                if bank.status(a.name).acked:
                    return CheckItem(name, "ok", f"sent {_show(value)} ({origin}) to {a.topic}; echoed on "
                                                 f"{a.ack_topic} in {(echo.at_s - t0) * 1000:.0f} ms")
            now = time.monotonic()
            if now >= deadline:
                break
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), deadline - now)
        got = f"; it echoed {', '.join(seen)}" if seen else ""
        return CheckItem(name, "fail", f"sent {_show(value)} ({origin}) to {a.topic}; no matching echo on "
                                       f"{a.ack_topic} within {timeout_s:g} s{got}")


def default_wait_s(mqtt: MqttConfig) -> float:
    return min(max((s.stale_after_s for s in mqtt.sensors), default=0.0), DEFAULT_MAX_WAIT_S)


async def check_plant_io(cfg: PlantConfig, opts: CheckOptions) -> list[CheckItem]:
    """Sensors (listened to for a while) and actuators (commanded one at a time), on one connection."""
    mqtt = cfg.mqtt
    assert mqtt is not None
    if not mqtt.sensors and not mqtt.actuators:
        return []
    b = mqtt.broker
    client = aiomqtt.Client(
        b.host, b.effective_port, username=b.username, password=b.resolved_password(opts.environ),
        identifier=f"{mqtt.client_id}-check",
        protocol=aiomqtt.ProtocolVersion.V5 if b.protocol == "5" else aiomqtt.ProtocolVersion.V311,
        tls_context=make_tls_context(b.tls) if b.tls is not None else None, timeout=b.connect_timeout_s)
    wait_s = opts.sensor_wait_s if opts.sensor_wait_s is not None else default_wait_s(mqtt)
    safe = safe_values(cfg)
    try:
        async with client:
            session = _IoSession(mqtt, client)
            reader = asyncio.create_task(session.reader())
            try:
                await session.subscribe()
                listening = asyncio.create_task(session.listen(wait_s))
                actuators = [await session.check_actuator(a, safe, opts.ack_timeout_s) for a in mqtt.actuators]
                waited = await listening
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    except aiomqtt.MqttError as exc:
        error = str(describe_connect_error(exc, b))
        return [CheckItem(f"sensor {s.name}", "fail", f"not checked: {error}") for s in mqtt.sensors] + [
            CheckItem(f"actuator {a.name}", "fail", f"not checked: {error}") for a in mqtt.actuators]
    return session.sensor_items(waited) + actuators


# -- the whole report ---------------------------------------------------------------------------------
async def run_checks(cfg: PlantConfig, opts: CheckOptions | None = None, *,
                     connector: Connector | None = None) -> list[CheckItem]:
    """Every item after `config` (the caller loaded the file), in report order."""
    opts = opts or CheckOptions()
    items = [check_bindings(cfg)]
    mqtt = cfg.mqtt
    broker_ok = False
    if mqtt is not None:
        broker = await check_broker_item(mqtt, opts.environ)
        broker_ok = broker.status == "ok"
        items.append(broker)
    else:
        items.append(CheckItem("broker", "skip", "no `mqtt` section"))

    async def nothing() -> list[CheckItem]:
        return []

    async def telemetry() -> list[CheckItem]:
        if cfg.telemetry is None:
            return [CheckItem("telemetry", "skip", "no `telemetry` section")]
        return [await check_telemetry(cfg.telemetry, cfg.site.name, opts.environ)]

    def not_checked(why: str) -> list[CheckItem]:
        assert mqtt is not None
        return [CheckItem(f"sensor {s.name}", "skip", why) for s in mqtt.sensors] + [
            CheckItem(f"actuator {a.name}", "skip", why) for a in mqtt.actuators]

    if mqtt is None:
        io = nothing()
    elif broker_ok:
        io = check_plant_io(cfg, opts)
    else:
        io = nothing()
    results = await asyncio.gather(telemetry(), check_miners(cfg, opts.environ, connector), io)
    items += results[0]
    items += results[1] if cfg.miners else [CheckItem("miners", "skip", "no miners configured")]
    if mqtt is not None and not broker_ok:
        items += not_checked("not checked: the broker is not reachable")
    else:
        items += results[2]
    return items
