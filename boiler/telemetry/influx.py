"""Sink that writes line protocol with influxdb-client's async API (``POST /api/v2/write``).

The one place that knows HTTP: it turns the client's outcomes into ``WriteFailed`` (retry) or
``WriteRejected`` (drop the data). The token is handed to the client and never logged.
"""

from __future__ import annotations

import aiohttp
from influxdb_client import WritePrecision
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write_api_async import WriteApiAsync
from influxdb_client.rest import ApiException

from boiler.telemetry.config import TelemetryConfig
from boiler.telemetry.writer import WriteFailed, WriteRejected

#: Statuses that mean "this data is refused": bad line, type conflict, too large, outside retention.
REJECTED_STATUSES = frozenset({400, 413, 422})
_MESSAGE_CHARS = 300


def _message(exc: ApiException) -> str:
    text = getattr(exc, "message", None) or exc.reason or ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:_MESSAGE_CHARS]


def _retry_after_s(exc: ApiException) -> float | None:
    value = getattr(exc, "retry_after", None)
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date; the backoff applies instead
        return None


class InfluxSink:
    """Writes bodies to ``{url}/api/v2/write?bucket=…&org=…&precision=ns``."""

    def __init__(self, config: TelemetryConfig) -> None:
        self._config = config
        self._client: InfluxDBClientAsync | None = None
        self._api: WriteApiAsync | None = None

    def _open(self) -> WriteApiAsync:
        # Created lazily: aiohttp wants a running event loop.
        if self._api is None:
            cfg = self._config
            options: dict[str, object] = {"verify_ssl": cfg.verify_tls}
            if cfg.ca_file is not None:
                options["ssl_ca_cert"] = str(cfg.ca_file)
            self._client = InfluxDBClientAsync(
                url=cfg.url,
                token=cfg.resolved_token() or None,
                org=cfg.org,
                timeout=int(cfg.timeout_s * 1000),
                enable_gzip=cfg.gzip,
                **options,
            )
            self._api = self._client.write_api()
        return self._api

    async def write(self, body: str) -> None:
        api = self._open()
        try:
            await api.write(
                bucket=self._config.bucket,
                org=self._config.org,
                record=body,
                write_precision=WritePrecision.NS,
            )
        except ApiException as exc:
            status = exc.status or None
            if status in REJECTED_STATUSES:
                raise WriteRejected(_message(exc), status=status) from None
            raise WriteFailed(_message(exc), status=status, retry_after_s=_retry_after_s(exc)) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WriteFailed(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._api = None
