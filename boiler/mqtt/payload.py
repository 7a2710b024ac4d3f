"""Parsing MQTT payloads into values, with a short machine-readable reason for every rejection."""

from __future__ import annotations

import json
import math
from typing import Any, Final

#: Anything longer is no sensor reading or command; refusing early bounds the work per message.
MAX_PAYLOAD_BYTES: Final = 4096


class PayloadError(ValueError):
    """A payload that cannot be used. `reason` is a stable code for counters; str() is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode_text(payload: bytes) -> str:
    """UTF-8 text of a payload, stripped; rejects oversize, binary and empty payloads."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("not_utf8", f"payload is not UTF-8 text ({exc.reason})") from None
    text = text.strip()
    if not text:
        raise PayloadError("empty", "payload is empty")
    if "\x00" in text:
        raise PayloadError("not_utf8", "payload contains a NUL character")
    return text


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; they are not JSON and not a reading.
    raise PayloadError("not_finite", f"{name} is not a finite number")


def decode_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError):
        raise PayloadError("not_json", "payload is not valid JSON") from None


def to_number(value: Any, what: str = "value") -> float:
    """A finite float from a JSON number or a numeric string; bools and everything else are refused."""
    if isinstance(value, bool) or value is None:
        raise PayloadError("not_a_number", f"{what} is {json.dumps(value)}, not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise PayloadError("not_a_number", f"{what} {_short(value)} is not a number") from None
    else:
        raise PayloadError("not_a_number", f"{what} is a {type(value).__name__}, not a number")
    if not math.isfinite(number):
        raise PayloadError("not_finite", f"{what} {number} is not finite")
    return number


def follow_path(document: Any, path: str) -> Any:
    """The value at a dotted path; numeric parts index lists (`probes.0.t`)."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PayloadError("missing_key", f"no {path!r} in the JSON payload")
    return node


def extract_number(payload: bytes, json_path: str | None) -> float:
    """The number a sensor payload carries: a plain number, or the value at `json_path` in JSON."""
    text = decode_text(payload)
    if json_path is None:
        return to_number(text, "payload")
    return to_number(follow_path(decode_json(text), json_path), json_path)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
