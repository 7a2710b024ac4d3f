"""Config of the plant's MQTT side: broker, topic tree, sensor inputs, actuator outputs, command limits.

Validated by pydantic with `extra="forbid"` so a typo in the YAML fails with the field's path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from boiler.mqtt.units import PRODUCT_UNIT, Quantity, canonical_unit, unit

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits and '_' (it is used in topics and ids)")
    return value


def _topic(value: str) -> str:
    # A topic we publish to or subscribe to exactly: wildcards and empty levels at the ends are mistakes.
    if not value or "+" in value or "#" in value or "\x00" in value:
        raise ValueError(f"{value!r} is not a plain MQTT topic (no wildcards '+' or '#', not empty)")
    if value.startswith("/") or value.endswith("/"):
        raise ValueError(f"{value!r} must not start or end with '/'")
    if len(value.encode()) > 65535:
        raise ValueError("topic longer than 65535 bytes")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Topic = Annotated[str, AfterValidator(_topic)]


def _range(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError(f"range {value} must be (low, high) with low < high")
    return value


Range = Annotated[tuple[float, float], AfterValidator(_range)]

#: Plausible range of a reading, in the product unit, when a sensor's config gives none.
DEFAULT_PLAUSIBLE: Final[dict[Quantity, tuple[float, float]]] = {
    "temperature": (-30.0, 110.0),
    "flow": (0.0, 2000.0),
    "power": (0.0, 1.0e6),
    "energy": (0.0, 1.0e10),
    "volume": (0.0, 1.0e9),
}


class TlsConfig(BaseModel):
    """TLS towards the broker. Present (even empty) means TLS is on."""

    model_config = ConfigDict(extra="forbid")

    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate; none = system store.",
    )
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM) when the broker wants one.")
    key_file: Path | None = Field(default=None, description="Private key (PEM) of the client certificate.")
    insecure: bool = Field(
        default=False,
        description="Do not check that the certificate names the broker's host (the chain is still checked).",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both `cert_file` and `key_file` for a client certificate, or neither")
        return self


class BrokerConfig(BaseModel):
    """Where the broker is and how to log in."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP address.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Default 1883, or 8883 with TLS.")
    username: str | None = Field(default=None, description="Login name; none = anonymous.")
    password: SecretStr | None = Field(
        default=None, description="Password. Prefer `password_env` so the secret stays out of the file."
    )
    password_env: str | None = Field(default=None, description="Environment variable that holds the password.")
    tls: TlsConfig | None = Field(default=None, description="TLS settings; absent = plain TCP.")
    client_id: str | None = Field(
        default=None, description="MQTT client id; default `boiler-<site>`. Must be unique on the broker."
    )
    protocol: Literal["3.1.1", "5"] = Field(default="5", description="MQTT protocol version.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="Keepalive; a dead link shows in 1.5×.")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Timeout of one connect attempt.")
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600, description="First wait before reconnecting.")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait between attempts.")

    @model_validator(mode="after")
    def _consistent(self) -> BrokerConfig:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give either `password` or `password_env`, not both")
        if (self.password is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a `username`")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("`reconnect_max_s` must be at least `reconnect_min_s`")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883

    def resolved_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password in clear text, for the client only; a named but unset variable is an error."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env is None:
            return None
        env = os.environ if environ is None else environ
        if self.password_env not in env:
            raise ValueError(f"environment variable {self.password_env} (MQTT password) is not set")
        return env[self.password_env]


class SensorConfig(BaseModel):
    """One measured value arriving on an MQTT topic."""

    model_config = ConfigDict(extra="forbid")

    name: Slug = Field(description="Unique name, e.g. `tank_top`; used in the state tree and by the controller.")
    topic: Topic = Field(description="Exact topic the device publishes on.")
    json_path: str | None = Field(
        default=None,
        description="Dotted path into a JSON payload (`temperature`, `data.t`, `probes.0.t`); none = plain.",
    )
    unit: str = Field(description="Unit the device sends: °C, K, °F, L/min, m³/h, W, kW, Wh, kWh, MWh, L, m³.")
    plausible: Range | None = Field(
        default=None, description="(low, high) in the product unit; outside it the sensor is implausible."
    )
    stale_after_s: float = Field(default=120.0, gt=0, le=86_400, description="Older readings than this are stale (s).")
    device_class: str | None = Field(
        default=None,
        description="Home Assistant device class; default by unit (temperature, volume_flow_rate, power, "
        "energy; none for volumes, say `gas` or `water`).",
    )
    accept_retained: bool = Field(
        default=False,
        description="Use a retained value seen at subscribe time. Off by default: a dead sensor's last "
        "retained value would look fresh after every reconnect.",
    )

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        return canonical_unit(value)

    @field_validator("json_path")
    @classmethod
    def _path_form(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(part == "" for part in value.split("."))):
            raise ValueError(f"json_path {value!r} must be dot-separated non-empty keys")
        return value

    @property
    def quantity(self) -> Quantity:
        return unit(self.unit).quantity

    @property
    def product_unit(self) -> str:
        return PRODUCT_UNIT[self.quantity]

    @property
    def plausible_range(self) -> tuple[float, float]:
        return self.plausible if self.plausible is not None else DEFAULT_PLAUSIBLE[self.quantity]


#: `charge_setpoint`: the temperature a variable-speed charging pump's controller holds on the water it
#: sends to the tank (`charging.flow: controlled`).
ActuatorKind = Literal["pump_speed", "on_off", "valve", "gas_enable", "gas_setpoint", "dry_cooler", "charge_setpoint"]
#: Kinds driven with ON/OFF; the others take a number.
BOOL_KINDS: Final[frozenset[str]] = frozenset({"on_off", "gas_enable", "dry_cooler"})
#: Range of the numeric kinds when the config gives none: percent, or °C for the gas setpoint.
DEFAULT_ACTUATOR_RANGE: Final[dict[str, tuple[float, float]]] = {
    "pump_speed": (0.0, 100.0),
    "valve": (0.0, 100.0),
    "gas_setpoint": (20.0, 90.0),
    "charge_setpoint": (20.0, 90.0),
}
ACTUATOR_UNIT: Final[dict[str, str]] = {"pump_speed": "%", "valve": "%", "gas_setpoint": "°C", "charge_setpoint": "°C"}


class ActuatorConfig(BaseModel):
    """One output the controller drives by publishing to a topic."""

    model_config = ConfigDict(extra="forbid")

    name: Slug = Field(description="Unique name, e.g. `charging_pump`.")
    kind: ActuatorKind = Field(description="What it is; decides the value type (ON/OFF, %, °C).")
    topic: Topic = Field(description="Topic the device listens on.")
    format: Literal["plain", "json"] = Field(default="plain", description="Payload: plain text or a JSON object.")
    json_key: str | None = Field(default=None, description="Key of the value in a JSON payload (format json).")
    on_payload: str = Field(default="ON", min_length=1, description="Plain payload for on/true.")
    off_payload: str = Field(default="OFF", min_length=1, description="Plain payload for off/false.")
    range: Range | None = Field(default=None, description="(low, high) of a numeric kind; default by kind.")
    deadband: float = Field(
        default=0.0, ge=0, le=1_000_000, description="Smaller numeric changes are not sent (actuator units)."
    )
    retain: bool = Field(default=False, description="Publish retained (the device gets it after its restart).")
    qos: Literal[0, 1, 2] = Field(default=1, description="MQTT QoS of the command.")
    republish_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="Send the current value again this often (for devices with a watchdog).",
    )
    ack_topic: Topic | None = Field(
        default=None, description="Topic on which the device echoes its state; parsed like the command."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ActuatorConfig:
        if self.format == "json" and not self.json_key:
            raise ValueError("format `json` needs a `json_key`")
        if self.format == "plain" and self.json_key is not None:
            raise ValueError("`json_key` is only for format `json`")
        if self.is_bool and self.range is not None:
            raise ValueError(f"kind `{self.kind}` is ON/OFF and takes no `range`")
        if self.on_payload == self.off_payload:
            raise ValueError("`on_payload` and `off_payload` must differ")
        return self

    @property
    def is_bool(self) -> bool:
        return self.kind in BOOL_KINDS

    @property
    def value_range(self) -> tuple[float, float] | None:
        if self.is_bool:
            return None
        return self.range if self.range is not None else DEFAULT_ACTUATOR_RANGE[self.kind]

    @property
    def value_unit(self) -> str | None:
        return ACTUATOR_UNIT.get(self.kind)


class CommandConfig(BaseModel):
    """Bounds on what may be commanded over MQTT (`…/set` topics)."""

    model_config = ConfigDict(extra="forbid")

    outlet_c: Range = Field(default=(40.0, 80.0), description="Allowed outlet setpoint, °C.")
    tank_c: Range = Field(default=(40.0, 85.0), description="Allowed tank setpoint, °C.")
    miner_power_max_w: float = Field(
        default=100_000.0, gt=0, le=10_000_000, description="Largest miner-power override, W."
    )
    default_override_s: float = Field(
        default=3600.0, gt=0, le=366 * 86_400.0,
        description="Expiry (s) of an override sent as a bare value (no `for_s`/`until`).",
    )
    max_override_s: float = Field(
        default=7 * 86_400.0, gt=0, le=366 * 86_400.0, description="Longest override allowed."
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> CommandConfig:
        if self.default_override_s > self.max_override_s:
            raise ValueError("`default_override_s` must not exceed `max_override_s`")
        return self


class MqttConfig(BaseModel):
    """The whole MQTT side of one site."""

    model_config = ConfigDict(extra="forbid")

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    prefix: Topic = Field(default="boiler", description="First level(s) of the state tree.")
    site: Slug = Field(description="Site name; the state tree is `<prefix>/<site>/…`.")
    discovery: bool = Field(default=True, description="Publish Home Assistant MQTT discovery configs.")
    discovery_prefix: Topic = Field(default="homeassistant", description="Home Assistant's discovery prefix.")
    state_qos: Literal[0, 1, 2] = Field(default=1, description="QoS of state, status and discovery messages.")
    sensors: list[SensorConfig] = Field(default_factory=list)
    actuators: list[ActuatorConfig] = Field(default_factory=list)
    commands: CommandConfig = Field(default_factory=CommandConfig)

    @model_validator(mode="after")
    def _unique_and_separate(self) -> MqttConfig:
        for group, items in (("sensor", self.sensors), ("actuator", self.actuators)):
            names = [item.name for item in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{group} names must be unique; repeated: {', '.join(dupes)}")
        for item in [*self.sensors, *self.actuators]:
            if item.name == "set":
                raise ValueError("`set` cannot be a sensor or actuator name: it ends command topics")
        base = f"{self.prefix}/{self.site}/"
        for item in [*self.sensors, *self.actuators]:
            for topic in (item.topic, getattr(item, "ack_topic", None)):
                if topic is not None and topic.startswith(base) and topic.endswith("/set"):
                    raise ValueError(f"{item.name}: topic {topic!r} collides with the command topics {base}…/set")
        return self

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"boiler-{self.site}"
