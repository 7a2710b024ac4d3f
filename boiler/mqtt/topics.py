"""Every topic of one site's tree, in one place, so code, docs and Home Assistant configs agree."""

from __future__ import annotations

from boiler.mqtt.config import MqttConfig

ONLINE = b"online"
OFFLINE = b"offline"


class Topics:
    """`<prefix>/<site>/…` topics and the Home Assistant discovery topics of one site."""

    def __init__(self, config: MqttConfig) -> None:
        self.base = f"{config.prefix}/{config.site}"
        self.node_id = f"boiler_{config.site}"
        self._discovery_prefix = config.discovery_prefix
        self.status = f"{self.base}/status"
        self.command_result = f"{self.base}/command/result"
        #: Subscriptions that catch every `…/set` one or two levels below the base.
        self.command_filters = (f"{self.base}/+/set", f"{self.base}/+/+/set")

    def state(self, key: str) -> str:
        return f"{self.base}/{key}"

    def command(self, path: str) -> str:
        return f"{self.base}/{path}/set"

    def command_path(self, topic: str) -> str | None:
        """`mode` for `<base>/mode/set`; None if `topic` is not a command topic of this site.

        Every topic the command filters match has a path, empty levels included (`<base>//set` gives
        ""), so that each one gets an answer."""
        head = self.base + "/"
        if not topic.startswith(head):
            return None
        levels = topic[len(head) :].split("/")
        if levels[-1] != "set" or not 2 <= len(levels) <= 3:
            return None
        return "/".join(levels[:-1])

    def sensor(self, name: str) -> str:
        return f"{self.base}/sensor/{name}"

    def sensor_available(self, name: str) -> str:
        return f"{self.base}/sensor/{name}/available"

    def actuator(self, name: str) -> str:
        return f"{self.base}/actuator/{name}"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self._discovery_prefix}/{component}/{self.node_id}/{object_id}/config"
