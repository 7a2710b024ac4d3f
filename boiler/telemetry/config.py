"""Telemetry configuration: where points go and how the outbox is bounded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class TelemetryConfig(BaseModel):
    """InfluxDB-compatible write target (``POST {url}/api/v2/write``) and the durable outbox.

    - InfluxDB 2.x: ``org`` and ``bucket`` as created, ``token`` an API token with write access.
    - InfluxDB 3.x (Core, Enterprise, Cloud): ``bucket`` is the database name, ``token`` a database
      token; ``org`` is ignored (the default ``"-"`` is the conventional placeholder).
    - InfluxDB 1.8+: ``bucket`` is ``"database/retention-policy"`` (or just ``"database"`` for the
      default policy), ``token`` is ``"user:password"`` (or empty without auth); ``org`` is ignored.
    - VictoriaMetrics: ``bucket`` and ``token`` are ignored (metric name = measurement_field).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Base URL of the database, http:// or https://, without credentials.")
    org: str = Field(default="-", min_length=1, description="Organisation (InfluxDB 2.x; others ignore it).")
    bucket: str = Field(min_length=1, description="Bucket, database, or database/retention-policy (1.x).")
    token: SecretStr = Field(
        default=SecretStr(""),
        description="API token; InfluxDB 1.x: 'user:password'. Prefer `token_env` (keeps it out of files).",
    )
    token_env: str | None = Field(default=None, description="Environment variable that holds the token.")
    batch_size: int = Field(default=1000, ge=1, le=50_000, description="Points per write request.")
    flush_interval_s: float = Field(
        default=2.0, gt=0, le=3600, description="Longest a queued point waits for a batch to fill."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="Whole-request timeout of one write.")
    outbox_path: Path = Field(
        default=Path("telemetry-outbox.sqlite"),
        description="SQLite file of unsent points; a relative path is relative to the working directory.",
    )
    outbox_max_points: int = Field(
        default=500_000, ge=1, le=100_000_000,
        description="Bound of the outbox; beyond it the oldest points are dropped.",
    )
    retry_initial_s: float = Field(default=1.0, gt=0, le=3600, description="First retry delay after a failed write.")
    retry_max_s: float = Field(default=60.0, gt=0, le=86_400, description="Cap of the exponential retry delay.")
    gzip: bool = Field(default=False, description="Compress request bodies (worth it on slow links).")
    verify_tls: bool = Field(default=True, description="Verify the server certificate for https:// URLs.")
    ca_file: Path | None = Field(default=None, description="CA bundle for a private certificate authority.")
    close_timeout_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="On shutdown, how long to keep flushing (s) before leaving the rest queued.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials; put them in 'token'")
        if parts.query or parts.fragment:
            raise ValueError("must not contain a query or fragment")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> TelemetryConfig:
        if self.token.get_secret_value() and self.token_env is not None:
            raise ValueError("give either `token` or `token_env`, not both")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) must be >= retry_initial_s ({self.retry_initial_s})"
            )
        return self

    def resolved_token(self, environ: Mapping[str, str] | None = None) -> str:
        """The token in clear text, for the client only; a named but unset variable is an error."""
        if self.token_env is None:
            return self.token.get_secret_value()
        env = os.environ if environ is None else environ
        if self.token_env not in env:
            raise ValueError(f"environment variable {self.token_env} (telemetry token) is not set")
        return env[self.token_env]
