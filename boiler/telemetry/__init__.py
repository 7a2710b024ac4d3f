"""Durable telemetry to InfluxDB-compatible databases (1.8+, 2.x, 3.x, VictoriaMetrics).

Points are committed to an on-disk outbox first, then written in order by a background task
that retries while the database is down. Schema: docs/telemetry.md.
"""

from boiler.telemetry.config import TelemetryConfig
from boiler.telemetry.outbox import AppendResult, Outbox, OutboxLockedError, QueuedLine
from boiler.telemetry.point import Point, datetime_from_ns, encode_lines, ns_from_datetime
from boiler.telemetry.schema import (
    SCHEMA,
    compliance_point,
    decision_point,
    ledger_point,
    ledger_row_point,
    miner_points,
    plant_points,
    telemetry_point,
)
from boiler.telemetry.service import Telemetry, TelemetryStats
from boiler.telemetry.writer import Backoff, TelemetryWriter, WriteFailed, WriteRejected

__all__ = [
    "SCHEMA",
    "AppendResult",
    "Backoff",
    "Outbox",
    "OutboxLockedError",
    "Point",
    "QueuedLine",
    "Telemetry",
    "TelemetryConfig",
    "TelemetryStats",
    "TelemetryWriter",
    "WriteFailed",
    "WriteRejected",
    "compliance_point",
    "datetime_from_ns",
    "decision_point",
    "encode_lines",
    "ledger_point",
    "ledger_row_point",
    "miner_points",
    "ns_from_datetime",
    "plant_points",
    "telemetry_point",
]
