"""Real time-series servers for integration tests, on free 127.0.0.1 ports.

- ``influx1``: Debian's InfluxDB 1.x (``influxd``) behind a small v2-write shim, so the v2 client's
  ``POST /api/v2/write`` reaches the strict 1.x engine (real types, real InfluxQL readback).
- ``victoria``: Debian's VictoriaMetrics, native ``/api/v2/write``.

Session-scoped servers are shared: tests keep apart by their own ``site`` tag or database. The
``*_private`` fixtures start a server for one test, for tests that stop and restart it.
A missing binary fails the test when ``CI=true`` and skips it otherwise
(``apt-get install influxdb victoria-metrics``).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

__all__ = ["influx1", "influx1_private", "victoria", "victoria_private"]

LOOPBACK = "127.0.0.1"
INFLUX_TOKEN = "test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def require_binary(name: str, package: str) -> str:
    """Path of a server binary; fail (CI) or skip (elsewhere) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed: apt-get install {package}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class ServerProcess:
    """A server run as a child process in its own session; stop it by its PID only."""

    def __init__(self, argv: list[str], log_path: Path, ready: Callable[[], object]) -> None:
        self.argv = argv
        self.log_path = log_path
        self._ready = ready
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited rc={self._proc.returncode}; log: {self.log_path}")
            try:
                self._ready()
                return
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"{self.argv[0]} not ready after {timeout_s} s; log: {self.log_path}"
                    ) from None
                time.sleep(0.01)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _http_ok(url: str) -> Callable[[], object]:
    return lambda: urllib.request.urlopen(url, timeout=0.5).read()


# -- the v2-write shim -----------------------------------------------------------------------------

_V1_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}
_V2_ERROR_CODES = {400: "invalid", 401: "unauthorized", 404: "not found", 413: "request too large"}


@dataclass(frozen=True)
class ShimWrite:
    """One write the shim forwarded and InfluxDB accepted."""

    bucket: str
    precision: str
    body: str


class _ShimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    server: _ShimServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, json.dumps({"code": code, "message": message}).encode())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def _upstream(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=30)
        try:
            headers = {"Content-Type": "text/plain; charset=utf-8"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("X-Influxdb-Version", "")
        finally:
            conn.close()

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        if url.path != "/api/v2/write":
            self._error(404, "not found", f"path not found: {url.path}")
            return
        if self.headers.get("Authorization") != f"Token {self.server.token}":
            self._error(401, "unauthorized", "unauthorized access")
            return
        query = urllib.parse.parse_qs(url.query)
        bucket = query.get("bucket", [""])[0]
        precision = query.get("precision", ["ns"])[0]
        if not bucket:
            self._error(400, "invalid", "bucket is required")
            return
        if precision not in _V1_PRECISION:
            self._error(400, "invalid", f"invalid precision {precision!r}")
            return
        db, _, rp = bucket.partition("/")
        params = {"db": db, "precision": _V1_PRECISION[precision]}  # 1.x reads "us" as ns: map it
        if rp:
            params["rp"] = rp
        try:
            status, text, _ = self._upstream("POST", "/write?" + urllib.parse.urlencode(params), body)
        except OSError as exc:
            self._error(503, "unavailable", f"InfluxDB unreachable: {exc}")
            return
        if status == 204:
            self.server.record(ShimWrite(bucket, precision, body.decode()))
            self._reply(204)
            return
        self._error(status, _V2_ERROR_CODES.get(status, "internal error"), text.decode(errors="replace"))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/ping":
                status, _, version = self._upstream("GET", "/ping")
                self._reply(status, headers={"X-Influxdb-Version": version})
            elif path == "/health":
                status, _, _ = self._upstream("GET", "/ping")
                ok = status == 204
                body = {
                    "name": "influxdb",
                    "status": "pass" if ok else "fail",
                    "message": "shim",
                    "checks": [],
                }
                self._reply(200 if ok else 503, json.dumps(body).encode())
            else:
                self._error(404, "not found", f"path not found: {path}")
        except OSError as exc:
            self._error(503, "unavailable", f"InfluxDB unreachable: {exc}")

    do_HEAD = do_GET


class _ShimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, upstream_port: int, token: str) -> None:
        super().__init__((LOOPBACK, port), _ShimHandler)
        self.upstream_host = LOOPBACK
        self.upstream_port = upstream_port
        self.token = token
        self.connections: set[socket.socket] = set()
        self.writes: list[ShimWrite] = []
        self._lock = threading.Lock()

    def record(self, write: ShimWrite) -> None:
        with self._lock:
            self.writes.append(write)


class V2WriteShim:
    """``POST /api/v2/write?bucket=DB[/RP]&precision=…`` → InfluxDB 1.x ``POST /write?db=DB&rp=RP``.

    Checks ``Authorization: Token <token>``, answers v2-style JSON errors with the upstream status
    (503 when InfluxDB is down), un-gzips bodies, serves ``/ping`` and ``/health``, and records
    every accepted write in order (``writes``) so tests can check the order of arrival.
    """

    def __init__(self, upstream_port: int, token: str) -> None:
        self.port = free_port()
        self._upstream_port = upstream_port
        self._token = token
        self._server: _ShimServer | None = None
        self._thread: threading.Thread | None = None
        self.writes: list[ShimWrite] = []

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self._server = _ShimServer(self.port, self._upstream_port, self._token)
        self._server.writes = self.writes
        self._thread = threading.Thread(target=self._server.serve_forever, name="v2-shim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in list(server.connections):  # end keep-alive connections too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


# -- InfluxDB 1.x ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfluxRow:
    measurement: str
    time_ns: int
    tags: dict[str, str]
    fields: dict[str, object]


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxDB1:
    """``influxd`` with its data in ``root``, plus the v2-write shim in front of it."""

    def __init__(self, root: Path, database: str = "telemetry", token: str = INFLUX_TOKEN) -> None:
        self.binary = require_binary("influxd", "influxdb")
        self.root = root
        self.database = database
        self.token = token
        self.http_port = free_port()
        rpc_port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        config = root / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "{LOOPBACK}:{rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "{LOOPBACK}:{self.http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""
        )
        self._process = ServerProcess(
            [self.binary, "run", "-config", str(config)],
            root / "influxd.log",
            _http_ok(f"{self.v1_url}/ping"),
        )
        self.shim = V2WriteShim(self.http_port, token)

    @property
    def v1_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def url(self) -> str:
        """Where the v2 client writes (the shim)."""
        return self.shim.url

    @property
    def bucket(self) -> str:
        return self.database

    def start(self) -> InfluxDB1:
        self.start_database()
        self.create_database(self.database)
        self.shim.start()
        return self

    def close(self) -> None:
        self.shim.stop()
        self.stop_database()

    def start_database(self) -> None:
        self._process.start()

    def stop_database(self) -> None:
        self._process.stop()

    def _get(self, params: dict[str, str], method: str = "GET") -> dict:
        url = f"{self.v1_url}/query"
        if method == "POST":
            req = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST")
        else:
            req = urllib.request.Request(url + "?" + urllib.parse.urlencode(params))
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def create_database(self, name: str) -> None:
        self._get({"q": f"CREATE DATABASE {quote_ident(name)}"}, method="POST")

    def query(self, influxql: str, database: str | None = None) -> list[dict]:
        """The series of one InfluxQL statement (timestamps in ns); raises on an InfluxQL error."""
        answer = self._get({"db": database or self.database, "q": influxql, "epoch": "ns"})
        result = answer["results"][0]
        if "error" in result:
            raise RuntimeError(f"InfluxQL error: {result['error']} in {influxql}")
        return result.get("series", [])

    def rows(self, measurement: str, where: str = "", database: str | None = None) -> list[InfluxRow]:
        """Every point of a measurement, split into tags and (non-null) fields, in time order."""
        clause = f" WHERE {where}" if where else ""
        series = self.query(f"SELECT * FROM {quote_ident(measurement)}{clause} GROUP BY *", database)
        rows = []
        for s in series:
            columns = s["columns"]
            for values in s["values"]:
                record = dict(zip(columns, values, strict=True))
                time_ns = record.pop("time")
                fields = {k: v for k, v in record.items() if v is not None}
                rows.append(InfluxRow(s["name"], time_ns, dict(s.get("tags") or {}), fields))
        rows.sort(key=lambda r: (r.time_ns, sorted(r.tags.items())))
        return rows

    def field_types(self, measurement: str, database: str | None = None) -> dict[str, str]:
        series = self.query(f"SHOW FIELD KEYS FROM {quote_ident(measurement)}", database)
        return {key: kind for s in series for key, kind in s["values"]}


# -- VictoriaMetrics -------------------------------------------------------------------------------


@dataclass
class VmSeries:
    metric: dict[str, str]
    timestamps_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.metric["__name__"]


class VictoriaMetrics:
    """``victoria-metrics`` with its data in ``root``; reads back with ``/api/v1/export``."""

    def __init__(self, root: Path) -> None:
        self.binary = require_binary("victoria-metrics", "victoria-metrics")
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self._process = ServerProcess(
            [
                self.binary,
                f"-storageDataPath={root}/data",
                f"-httpListenAddr={LOOPBACK}:{self.port}",
                "-retentionPeriod=100y",  # fixed historical timestamps in tests
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-dedup.minScrapeInterval=1ms",  # a re-sent point (same series and time) counts once
                "-loggerLevel=WARN",
            ],
            root / "vm.log",
            _http_ok(f"http://{LOOPBACK}:{self.port}/health"),
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> VictoriaMetrics:
        self._process.start()
        return self

    def stop(self) -> None:
        self._process.stop()

    close = stop

    def export(self, match: str) -> list[VmSeries]:
        """Raw samples of every series matching a series selector such as ``{site="x"}``."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as resp:
            lines = resp.read().decode().splitlines()
        series = []
        for line in lines:
            item = json.loads(line)
            pairs = sorted(zip(item["timestamps"], item["values"], strict=True))
            series.append(VmSeries(item["metric"], [t for t, _ in pairs], [v for _, v in pairs]))
        return sorted(series, key=lambda s: sorted(s.metric.items()))

    def wait_for_samples(self, match: str, expected: int, timeout_s: float = 15.0) -> list[VmSeries]:
        """Export once the sample count reaches ``expected`` (VictoriaMetrics indexes asynchronously);
        after ``timeout_s`` return what is there, for the test to report."""
        deadline = time.monotonic() + timeout_s
        while True:
            series = self.export(match)
            if sum(len(s.values) for s in series) >= expected or time.monotonic() > deadline:
                return series
            time.sleep(0.02)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def influx1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    server = InfluxDB1(tmp_path_factory.mktemp("influx1")).start()
    yield server
    server.close()


@pytest.fixture
def influx1_private(tmp_path: Path) -> Iterator[InfluxDB1]:
    server = InfluxDB1(tmp_path / "influx1").start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path_factory.mktemp("victoria")).start()
    yield server
    server.close()


@pytest.fixture
def victoria_private(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "victoria").start()
    yield server
    server.close()
