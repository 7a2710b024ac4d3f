"""The service's optional links, opened as async context managers: MQTT and telemetry.

A section absent from the config gives `None` inside the `async with` (nothing to open).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime

from boiler.config import PlantConfig
from boiler.mqtt.client import PlantMqtt, utc_now
from boiler.telemetry import Telemetry


def optional_telemetry(cfg: PlantConfig) -> AbstractAsyncContextManager[Telemetry | None]:
    return nullcontext() if cfg.telemetry is None else Telemetry(cfg.telemetry)


def optional_mqtt(cfg: PlantConfig, clock_s: Callable[[], float],
                  wall_clock: Callable[[], datetime] = utc_now) -> AbstractAsyncContextManager[PlantMqtt | None]:
    """`clock_s`: the service's clock (sensor ages); `wall_clock`: override expiries (plant time in a demo)."""
    if cfg.mqtt is None:
        return nullcontext()
    return PlantMqtt(cfg.mqtt, clock=clock_s, wall_clock=wall_clock)
