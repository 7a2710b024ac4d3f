"""Real servers for integration tests, started once per session on free loopback ports."""

from tests.integration.influx_servers import *  # noqa: F403
from tests.integration.mqtt_server import *  # noqa: F403
