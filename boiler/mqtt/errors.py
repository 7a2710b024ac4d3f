"""Errors of the plant's MQTT link, each with a message that says what to fix."""

from __future__ import annotations


class MqttPlantError(Exception):
    """Base of the errors below; str() is a complete sentence for the operator."""


class MqttSetupError(MqttPlantError):
    """Local setup is wrong (a TLS file missing or unreadable, a password variable unset)."""


class BrokerAuthError(MqttPlantError):
    """The broker refused the username/password (or an anonymous login)."""


class BrokerTlsError(MqttPlantError):
    """The TLS handshake failed: untrusted certificate, host name mismatch, protocol mismatch."""


class BrokerUnreachable(MqttPlantError):
    """No connection: refused, timed out, name not resolved, or lost."""
