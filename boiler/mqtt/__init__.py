"""Plant I/O over MQTT: sensor inputs, actuator outputs, the site's state tree, commands, HA discovery.

Only `client` imports aiomqtt, and it is loaded on first use of its names, so the plain-logic modules
(config, sensors, commands, state) import no I/O library. See docs/mqtt.md for topics and payloads.
"""

from typing import TYPE_CHECKING, Any

from boiler.mqtt.actuators import ActuatorBank, ActuatorStatus, ActuatorValue
from boiler.mqtt.commands import (
    COMMAND_PATHS,
    Command,
    CommandRejected,
    CommandResult,
    ModeCommand,
    OverrideCommand,
    SetpointCommand,
    parse_command,
)
from boiler.mqtt.config import (
    ActuatorConfig,
    BrokerConfig,
    CommandConfig,
    MqttConfig,
    SensorConfig,
    TlsConfig,
)
from boiler.mqtt.discovery import discovery_configs
from boiler.mqtt.errors import (
    BrokerAuthError,
    BrokerTlsError,
    BrokerUnreachable,
    MqttPlantError,
    MqttSetupError,
)
from boiler.mqtt.payload import PayloadError
from boiler.mqtt.sensors import Reading, Rejection, SensorBoard
from boiler.mqtt.state import STATE_ITEMS, StateItem, StateValue
from boiler.mqtt.topics import Topics

if TYPE_CHECKING:
    from boiler.mqtt.client import (
        MqttStats,
        PlantMqtt,
        check_broker,
        describe_connect_error,
        make_tls_context,
    )

_CLIENT_NAMES = frozenset({"MqttStats", "PlantMqtt", "check_broker", "describe_connect_error", "make_tls_context"})


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from boiler.mqtt import client

        return getattr(client, name)
    raise AttributeError(f"module 'boiler.mqtt' has no attribute {name!r}")


__all__ = [
    "COMMAND_PATHS",
    "STATE_ITEMS",
    "ActuatorBank",
    "ActuatorConfig",
    "ActuatorStatus",
    "ActuatorValue",
    "BrokerAuthError",
    "BrokerConfig",
    "BrokerTlsError",
    "BrokerUnreachable",
    "Command",
    "CommandConfig",
    "CommandRejected",
    "CommandResult",
    "ModeCommand",
    "MqttConfig",
    "MqttPlantError",
    "MqttSetupError",
    "MqttStats",
    "OverrideCommand",
    "PayloadError",
    "PlantMqtt",
    "Reading",
    "Rejection",
    "SensorBoard",
    "SensorConfig",
    "SetpointCommand",
    "StateItem",
    "StateValue",
    "TlsConfig",
    "Topics",
    "check_broker",
    "describe_connect_error",
    "discovery_configs",
    "make_tls_context",
    "parse_command",
]
