"""The latest trustworthy reading of every configured sensor, and why a sensor cannot be trusted.

A garbled message says nothing about the water, so it is rejected and the previous reading stands
until it goes stale. A well-formed value outside the plausible range is different: it usually means
a broken probe (-127 °C, 85 °C power-on values), so the sensor is implausible at once and stays so
until a plausible value arrives.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from boiler.mqtt.config import SensorConfig
from boiler.mqtt.payload import PayloadError, extract_number
from boiler.mqtt.ratelimit import RateLimitedLog
from boiler.mqtt.units import unit

ReadingStatus = Literal["ok", "stale", "implausible", "never_seen"]

_log = logging.getLogger("boiler.mqtt.sensors")


@dataclass(frozen=True)
class Reading:
    """What the board knows about one sensor at `now_s`. `value` is set only when `status` is ok."""

    name: str
    value: float | None
    status: ReadingStatus
    unit: str
    age_s: float | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Rejection:
    """One message (or one sensor's part of it) that was not used."""

    sensor: str
    topic: str
    reason: str
    detail: str


@dataclass
class _Track:
    value: float | None = None
    at_s: float | None = None
    implausible: float | None = None
    implausible_at_s: float | None = None


class SensorBoard:
    """Keeps, per sensor, the latest valid value in the product unit and the time it arrived."""

    def __init__(
        self,
        sensors: Iterable[SensorConfig],
        *,
        log_interval_s: float = 60.0,
        log_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sensors = {s.name: s for s in sensors}
        self._by_topic: dict[str, list[SensorConfig]] = {}
        for sensor in self._sensors.values():
            self._by_topic.setdefault(sensor.topic, []).append(sensor)
        self._tracks = {name: _Track() for name in self._sensors}
        self._log = RateLimitedLog(_log, log_interval_s, log_clock)
        #: Rejected messages by reason code (a message feeding two sensors can count twice).
        self.rejections: Counter[str] = Counter()
        self.rejections_by_sensor: dict[str, Counter[str]] = {name: Counter() for name in self._sensors}
        self.accepted: Counter[str] = Counter()
        self.ignored_retained = 0

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._by_topic)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._sensors)

    def config(self, name: str) -> SensorConfig:
        return self._sensors[name]

    def ingest(self, topic: str, payload: bytes, now_s: float, *, retained: bool = False) -> list[Rejection]:
        """Take one message; returns the rejections (empty when every sensor on the topic used it)."""
        rejections: list[Rejection] = []
        for sensor in self._by_topic.get(topic, ()):
            if retained and not sensor.accept_retained:
                self.ignored_retained += 1
                continue
            try:
                self._take(sensor, payload, now_s)
            except PayloadError as exc:
                rejection = Rejection(sensor.name, topic, exc.reason, str(exc))
                rejections.append(rejection)
                self._count(rejection)
        return rejections

    def _take(self, sensor: SensorConfig, payload: bytes, now_s: float) -> None:
        value = unit(sensor.unit).to_product(extract_number(payload, sensor.json_path))
        track = self._tracks[sensor.name]
        low, high = sensor.plausible_range
        if not low <= value <= high:
            track.implausible, track.implausible_at_s = value, now_s
            raise PayloadError("implausible", f"{value:.6g} {sensor.product_unit} outside plausible {low:g}..{high:g}")
        track.value, track.at_s = value, now_s
        track.implausible = track.implausible_at_s = None
        self.accepted[sensor.name] += 1

    def _count(self, rejection: Rejection) -> None:
        self.rejections[rejection.reason] += 1
        self.rejections_by_sensor[rejection.sensor][rejection.reason] += 1
        self._log.log(
            logging.WARNING,
            f"{rejection.sensor}:{rejection.reason}",
            "mqtt_sensor_rejected sensor=%s topic=%s reason=%s detail=%r",
            rejection.sensor,
            rejection.topic,
            rejection.reason,
            rejection.detail,
        )

    def reading(self, name: str, now_s: float) -> Reading:
        """The sensor's value in the product unit, or None with the reason it cannot be trusted."""
        sensor = self._sensors[name]
        track = self._tracks[name]
        product_unit = sensor.product_unit
        if track.implausible is not None and track.implausible_at_s is not None:
            low, high = sensor.plausible_range
            return Reading(
                name,
                None,
                "implausible",
                product_unit,
                _age(now_s, track.implausible_at_s),
                f"last value {track.implausible:.6g} {product_unit} outside {low:g}..{high:g}",
            )
        if track.value is None or track.at_s is None:
            return Reading(name, None, "never_seen", product_unit, None, f"no valid message on {sensor.topic}")
        age_s = _age(now_s, track.at_s)
        if age_s > sensor.stale_after_s:
            return Reading(
                name,
                None,
                "stale",
                product_unit,
                age_s,
                f"last value {age_s:.0f} s old (limit {sensor.stale_after_s:g} s)",
            )
        return Reading(name, track.value, "ok", product_unit, age_s, "ok")

    def value(self, name: str, now_s: float) -> float | None:
        return self.reading(name, now_s).value

    def readings(self, now_s: float) -> dict[str, Reading]:
        return {name: self.reading(name, now_s) for name in self._sensors}


def _age(now_s: float, at_s: float) -> float:
    return max(0.0, now_s - at_s)
