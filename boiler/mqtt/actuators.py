"""Actuator outputs: value checks, payload encoding, send-on-change and periodic resend, acknowledgements.

Pure bookkeeping; the MQTT client decides when the bytes actually go out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from boiler.mqtt.config import ActuatorConfig
from boiler.mqtt.payload import PayloadError, decode_json, decode_text, follow_path, to_number

ActuatorValue = bool | float

_TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
_FALSE_WORDS = frozenset({"off", "false", "0", "no"})


@dataclass(frozen=True)
class ActuatorStatus:
    """What was last sent to an actuator and what it last echoed."""

    name: str
    value: ActuatorValue | None
    sent_at_s: float | None
    acked_value: ActuatorValue | None
    acked_at_s: float | None
    acked: bool


@dataclass
class _Out:
    value: ActuatorValue | None = None
    sent_at_s: float | None = None
    acked_value: ActuatorValue | None = None
    acked_at_s: float | None = None


def check_value(config: ActuatorConfig, value: object) -> ActuatorValue:
    """The value in canonical form (bool or float); ValueError if it does not fit the actuator's kind."""
    if config.is_bool:
        if not isinstance(value, bool):
            raise ValueError(f"actuator {config.name} ({config.kind}) takes True/False, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"actuator {config.name} ({config.kind}) takes a finite number, not {value!r}")
    low, high = config.value_range or (-math.inf, math.inf)
    if not low <= value <= high:
        raise ValueError(f"actuator {config.name}: {value} outside {low:g}..{high:g} {config.value_unit or ''}")
    return float(value)


def format_number(value: float) -> str:
    """Short, exact-enough text for a number: 60 → "60", 37.25 → "37.25", 1/3 → "0.333"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def encode(config: ActuatorConfig, value: ActuatorValue) -> bytes:
    if config.format == "json":
        assert config.json_key is not None
        return json.dumps({config.json_key: value}, separators=(",", ":")).encode()
    if isinstance(value, bool):
        return (config.on_payload if value else config.off_payload).encode()
    return format_number(value).encode()


def decode(config: ActuatorConfig, payload: bytes) -> ActuatorValue:
    """Parse a device's echo the same way its command is written; PayloadError if it cannot be read."""
    text = decode_text(payload)
    raw: object = text
    if config.format == "json":
        assert config.json_key is not None
        raw = follow_path(decode_json(text), config.json_key)
    if not config.is_bool:
        return to_number(raw, config.name)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        if raw == config.on_payload or raw.lower() in _TRUE_WORDS:
            return True
        if raw == config.off_payload or raw.lower() in _FALSE_WORDS:
            return False
    raise PayloadError("not_a_state", f"{config.name}: cannot read {raw!r} as on/off")


class ActuatorBank:
    """Per actuator: the last value sent, when, and what the device echoed."""

    def __init__(self, actuators: Iterable[ActuatorConfig]) -> None:
        self._configs = {a.name: a for a in actuators}
        self._out = {name: _Out() for name in self._configs}
        self._by_ack_topic: dict[str, list[ActuatorConfig]] = {}
        for config in self._configs.values():
            if config.ack_topic is not None:
                self._by_ack_topic.setdefault(config.ack_topic, []).append(config)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._configs)

    @property
    def ack_topics(self) -> frozenset[str]:
        return frozenset(self._by_ack_topic)

    def config(self, name: str) -> ActuatorConfig:
        if name not in self._configs:
            raise KeyError(f"no actuator named {name!r}; configured: {', '.join(self._configs) or 'none'}")
        return self._configs[name]

    def command(self, name: str, value: object) -> ActuatorValue | None:
        """Record a wanted value; returns it (canonical) if it must be sent, None if unchanged."""
        config = self.config(name)
        wanted = check_value(config, value)
        last = self._out[name].value
        if last is not None and _same(config, last, wanted):
            return None
        self._out[name].value = wanted
        return wanted

    def mark_sent(self, name: str, now_s: float) -> None:
        self._out[name].sent_at_s = now_s

    def current(self) -> dict[str, ActuatorValue]:
        """Every actuator that has been given a value, with that value."""
        return {name: out.value for name, out in self._out.items() if out.value is not None}

    def due(self, now_s: float) -> list[str]:
        """Actuators whose `republish_s` has passed since their last send."""
        names = []
        for name, out in self._out.items():
            period = self._configs[name].republish_s
            if period is None or out.value is None:
                continue
            if out.sent_at_s is None or now_s - out.sent_at_s >= period:
                names.append(name)
        return names

    def acknowledge(self, topic: str, payload: bytes, now_s: float) -> list[PayloadError]:
        """Take a device's echo; returns the parse errors (one per actuator on that topic that failed)."""
        errors = []
        for config in self._by_ack_topic.get(topic, ()):
            try:
                value = decode(config, payload)
            except PayloadError as exc:
                errors.append(exc)
                continue
            out = self._out[config.name]
            out.acked_value, out.acked_at_s = value, now_s
        return errors

    def status(self, name: str) -> ActuatorStatus:
        config = self.config(name)
        out = self._out[name]
        acked = (
            out.value is not None
            and out.acked_value is not None
            and out.acked_at_s is not None
            and out.sent_at_s is not None
            and out.acked_at_s >= out.sent_at_s
            and _same(config, out.acked_value, out.value, ack=True)
        )
        return ActuatorStatus(name, out.value, out.sent_at_s, out.acked_value, out.acked_at_s, acked)


def _same(config: ActuatorConfig, a: ActuatorValue, b: ActuatorValue, *, ack: bool = False) -> bool:
    if config.is_bool:
        return a == b
    if ack:
        # A device may round what it echoes; within the deadband (or float noise) is a match.
        return abs(a - b) <= max(config.deadband, 1e-9)
    # A change smaller than the deadband is not worth a message.
    return a == b or abs(a - b) < config.deadband
