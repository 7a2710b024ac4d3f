"""Commands arriving on `<prefix>/<site>/…/set`: parsed, validated, and turned into typed objects.

Every payload ends as either a command or a `CommandRejected` with a stable reason code; nothing a
client sends can raise anything else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from boiler.mqtt.config import CommandConfig
from boiler.mqtt.payload import PayloadError, decode_json, decode_text, to_number

Mode = Literal["auto", "manual", "off", "legionella"]
MODES: Final[tuple[str, ...]] = ("auto", "manual", "off", "legionella")
SetpointTarget = Literal["outlet_c", "tank_c"]
OverrideItem = Literal["miner_power_w", "gas_enable", "charging_pump"]
OVERRIDE_ITEMS: Final[tuple[str, ...]] = ("miner_power_w", "gas_enable", "charging_pump")
#: Shortest override: a shorter one would expire before anyone saw it (and rounds to nothing).
MIN_OVERRIDE_S: Final = 1.0
#: Plain words that end an override ("auto" is what Home Assistant's select sends).
CLEAR_WORDS: Final = frozenset({"auto", "clear", "none", "null", ""})


class CommandRejected(PayloadError):
    """A command that was not accepted; `reason` is a stable code, str() says why in words."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModeCommand(_Frozen):
    kind: Literal["mode"] = "mode"
    mode: Mode


class SetpointCommand(_Frozen):
    kind: Literal["setpoint"] = "setpoint"
    target: SetpointTarget
    value_c: float


class OverrideCommand(_Frozen):
    """A manual override; `value` None ends the override of `item` (then `expires_at` is None too)."""

    kind: Literal["override"] = "override"
    item: OverrideItem
    value: float | bool | None
    expires_at: datetime | None


Command = Annotated[ModeCommand | SetpointCommand | OverrideCommand, Field(discriminator="kind")]


@dataclass(frozen=True)
class CommandResult:
    """The answer to one message on a `…/set` topic, published on `<prefix>/<site>/command/result`."""

    topic: str
    accepted: bool
    reason: str
    detail: str
    at: datetime
    command: ModeCommand | SetpointCommand | OverrideCommand | None = None

    def to_payload(self) -> bytes:
        body: dict[str, Any] = {
            "topic": self.topic,
            "accepted": self.accepted,
            "reason": self.reason,
            "detail": self.detail,
            "at": self.at.isoformat(),
        }
        if self.command is not None:
            body["command"] = self.command.model_dump(mode="json")
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class _ModeBody(_Frozen):
    mode: str


class _ValueBody(_Frozen):
    value: Any


class _OverrideBody(_Frozen):
    value: Any
    for_s: float | None = None
    until: datetime | None = None


#: Command paths below `<prefix>/<site>/`, each followed by `/set` on the wire.
COMMAND_PATHS: Final[tuple[str, ...]] = (
    "mode",
    "setpoint/outlet_c",
    "setpoint/tank_c",
    *(f"override/{item}" for item in OVERRIDE_ITEMS),
)


def parse_command(path: str, payload: bytes, now: datetime, limits: CommandConfig) -> Command:
    """The command for `payload` sent to `<base>/<path>/set`; CommandRejected if it is not acceptable."""
    try:
        text = decode_text(payload)
    except PayloadError as exc:
        raise CommandRejected(exc.reason, str(exc)) from None
    body = _body(text)
    if "" in path.split("/"):
        raise CommandRejected(
            "unknown_command", f"the command topic has an empty level ({path!r}); known: {', '.join(COMMAND_PATHS)}"
        )
    if path == "mode":
        return _mode(body)
    if path.startswith("setpoint/") and path in COMMAND_PATHS:
        return _setpoint(path.removeprefix("setpoint/"), body, limits)  # type: ignore[arg-type]
    if path.startswith("override/") and path in COMMAND_PATHS:
        return _override(path.removeprefix("override/"), body, now, limits)  # type: ignore[arg-type]
    raise CommandRejected("unknown_command", f"no command {path!r}; known: {', '.join(COMMAND_PATHS)}")


def _body(text: str) -> Any:
    # JSON when it parses; otherwise the plain text itself (`auto`, `on`), unless it clearly meant JSON.
    try:
        return decode_json(text)
    except PayloadError as exc:
        if exc.reason == "not_finite" or text[0] in "{[":
            raise CommandRejected(exc.reason, str(exc)) from None
        return text


def _validate(model: type[_Frozen], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise CommandRejected("invalid", f"{where}: {first['msg']}") from None


def _mode(body: Any) -> ModeCommand:
    if isinstance(body, dict):
        body = _validate(_ModeBody, body).mode
    if not isinstance(body, str) or body.strip().lower() not in MODES:
        raise CommandRejected("invalid", f"mode must be one of {', '.join(MODES)}, not {_show(body)}")
    return ModeCommand(mode=body.strip().lower())  # type: ignore[arg-type]


def _setpoint(target: SetpointTarget, body: Any, limits: CommandConfig) -> SetpointCommand:
    if isinstance(body, dict):
        body = _validate(_ValueBody, body).value
    value_c = _number(body, f"setpoint {target}")
    low, high = limits.outlet_c if target == "outlet_c" else limits.tank_c
    if not low <= value_c <= high:
        raise CommandRejected("out_of_range", f"setpoint {target} {value_c:g} outside {low:g}..{high:g} °C")
    return SetpointCommand(target=target, value_c=value_c)


def _override(item: OverrideItem, body: Any, now: datetime, limits: CommandConfig) -> OverrideCommand:
    for_s: float | None = None
    until: datetime | None = None
    if isinstance(body, dict):
        parsed = _validate(_OverrideBody, body)
        body, for_s, until = parsed.value, parsed.for_s, parsed.until
    value = _override_value(item, body, limits)
    if value is None:
        return OverrideCommand(item=item, value=None, expires_at=None)
    return OverrideCommand(item=item, value=value, expires_at=_expiry(for_s, until, now, limits))


def _override_value(item: OverrideItem, body: Any, limits: CommandConfig) -> float | bool | None:
    if body is None or (isinstance(body, str) and body.strip().lower() in CLEAR_WORDS):
        return None
    if item == "miner_power_w":
        power_w = _number(body, "miner power")
        if not 0.0 <= power_w <= limits.miner_power_max_w:
            raise CommandRejected(
                "out_of_range", f"miner power {power_w:g} W outside 0..{limits.miner_power_max_w:g} W"
            )
        return power_w
    if isinstance(body, bool):
        return body
    if isinstance(body, str) and body.strip().lower() in ("on", "off", "true", "false"):
        return body.strip().lower() in ("on", "true")
    raise CommandRejected("invalid", f"{item} takes on, off or auto, not {_show(body)}")


def _expiry(for_s: float | None, until: datetime | None, now: datetime, limits: CommandConfig) -> datetime:
    if for_s is not None and until is not None:
        raise CommandRejected("invalid", "give `for_s` or `until`, not both")
    if until is not None:
        if until.tzinfo is None or until.utcoffset() is None:
            raise CommandRejected("naive_time", "`until` needs a time zone, e.g. 2025-01-31T18:00:00Z")
        try:
            until = until.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is past the last UTC datetime
            raise CommandRejected(
                "out_of_range", f"`until` {until.isoformat()} is outside the dates this service handles"
            ) from None
        if until <= now:
            raise CommandRejected("expired", f"`until` {until.isoformat()} is already past")
        duration_s = (until - now).total_seconds()
    else:
        duration_s = limits.default_override_s if for_s is None else for_s
        if not math.isfinite(duration_s) or duration_s < MIN_OVERRIDE_S:
            raise CommandRejected(
                "invalid",
                f"`for_s` must be a positive number of seconds (at least {MIN_OVERRIDE_S:g}), not {duration_s}",
            )
    if duration_s > limits.max_override_s:
        raise CommandRejected(
            "too_long", f"override of {duration_s:.0f} s exceeds the limit of {limits.max_override_s:.0f} s"
        )
    if until is not None:
        return until
    try:
        return now + timedelta(seconds=duration_s)
    except OverflowError:
        raise CommandRejected("too_long", f"an override of {duration_s:.0f} s ends past the year 9999") from None


def _number(body: Any, what: str) -> float:
    try:
        return to_number(body, what)
    except PayloadError as exc:
        raise CommandRejected("invalid", str(exc)) from None


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
