"""Home Assistant MQTT discovery: one retained config per entity, so HA builds the device by itself.

Topic: `<discovery_prefix>/<component>/boiler_<site>/<object_id>/config`. Every entity is unavailable
when the site's status is `offline`; a sensor entity also when its own reading is not trustworthy.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final

from boiler.mqtt.config import ActuatorConfig, MqttConfig, SensorConfig
from boiler.mqtt.state import NONE_PAYLOAD, STATE_ITEMS, StateItem
from boiler.mqtt.topics import Topics

#: Home Assistant device class per sensor quantity (volumes: set `device_class` in the sensor's config).
SENSOR_DEVICE_CLASS: Final[dict[str, str | None]] = {
    "temperature": "temperature",
    "flow": "volume_flow_rate",
    "power": "power",
    "energy": "energy",
    "volume": None,
}
SENSOR_STATE_CLASS: Final[dict[str, str]] = {
    "temperature": "measurement",
    "flow": "measurement",
    "power": "measurement",
    "energy": "total_increasing",
    "volume": "total_increasing",
}
ACTUATOR_DEVICE_CLASS: Final[dict[str, str | None]] = {
    "pump_speed": None,
    "on_off": "running",
    "valve": None,
    "gas_enable": None,
    "gas_setpoint": "temperature",
    "dry_cooler": "running",
    "charge_setpoint": "temperature",
}


def software_version() -> str:
    try:
        return metadata.version("mining-boiler")
    except metadata.PackageNotFoundError:
        return "dev"


def discovery_configs(config: MqttConfig, version: str | None = None) -> dict[str, dict[str, Any]]:
    """Discovery topic → config, for the catalogue items and every configured sensor and actuator."""
    topics = Topics(config)
    version = version or software_version()
    device = {
        "identifiers": [topics.node_id],
        "name": f"Mining boiler {config.site}",
        "manufacturer": "mining-boiler",
        "model": "Mining hot-water boiler controller",
        "sw_version": version,
    }
    common = {
        "device": device,
        "origin": {"name": "mining-boiler", "sw_version": version},
        "qos": config.state_qos,
    }
    site_available = {
        "topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    out: dict[str, dict[str, Any]] = {}

    def add(component: str, object_id: str, body: dict[str, Any], extra_availability: tuple[str, ...] = ()) -> None:
        availability = [
            site_available,
            *(
                {"topic": t, "payload_available": "online", "payload_not_available": "offline"}
                for t in extra_availability
            ),
        ]
        entity = {
            "unique_id": f"{topics.node_id}_{object_id}",
            "availability": availability,
            "availability_mode": "all",
            **{k: v for k, v in body.items() if v is not None},
            **common,
        }
        out[topics.discovery(component, object_id)] = entity

    for item in STATE_ITEMS:
        add(item.component, item.object_id, _item_body(item, topics, config))
    for sensor in config.sensors:
        add(
            "sensor",
            f"sensor_{sensor.name}",
            _sensor_body(sensor, topics),
            (topics.sensor_available(sensor.name),),
        )
    for actuator in config.actuators:
        component = "binary_sensor" if actuator.is_bool else "sensor"
        add(component, f"actuator_{actuator.name}", _actuator_body(actuator, topics))
    return out


def _item_body(item: StateItem, topics: Topics, config: MqttConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": item.name,
        "state_topic": topics.state(item.key),
        "unit_of_measurement": item.unit,
        "device_class": item.device_class,
        "state_class": item.state_class,
        "icon": item.icon,
    }
    if item.settable:
        body["command_topic"] = topics.command(item.key)
    if item.component == "select":
        body["options"] = list(item.options)
    if item.component == "number":
        low, high = _number_range(item.key, config)
        body.update({"min": low, "max": high, "step": 0.5 if item.unit == "°C" else 1, "mode": "box"})
        body["payload_reset"] = NONE_PAYLOAD
    if item.component == "binary_sensor":
        body.update({"payload_on": "ON", "payload_off": "OFF"})
    return body


def _number_range(key: str, config: MqttConfig) -> tuple[float, float]:
    limits = config.commands
    if key == "setpoint/outlet_c":
        return limits.outlet_c
    if key == "setpoint/tank_c":
        return limits.tank_c
    return (0.0, limits.miner_power_max_w)


def _sensor_body(sensor: SensorConfig, topics: Topics) -> dict[str, Any]:
    return {
        "name": sensor.name.replace("_", " ").capitalize(),
        "state_topic": topics.sensor(sensor.name),
        "unit_of_measurement": sensor.product_unit,
        "device_class": sensor.device_class or SENSOR_DEVICE_CLASS[sensor.quantity],
        "state_class": SENSOR_STATE_CLASS[sensor.quantity],
    }


def _actuator_body(actuator: ActuatorConfig, topics: Topics) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": actuator.name.replace("_", " ").capitalize() + " command",
        "state_topic": topics.actuator(actuator.name),
        "device_class": ACTUATOR_DEVICE_CLASS[actuator.kind],
    }
    if actuator.is_bool:
        body.update({"payload_on": "ON", "payload_off": "OFF"})
    else:
        body.update({"unit_of_measurement": actuator.value_unit, "state_class": "measurement"})
    return body
