"""Debian's mosquitto for tests: free 127.0.0.1 ports, password auth, TLS from a throw-away CA.

Four listeners share one password file: plain TCP, TLS, TLS that also demands a client
certificate, and TLS with a certificate for another host name. `mosquitto` is one broker for the
session; `mosquitto_private` is a broker of the test's own (for restarts and kills that must not
disturb other tests). Both can be stopped and started again on the same ports. Missing binaries
skip the tests, or fail them when CI=true.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from boiler.mqtt.config import MqttConfig

__all__ = ["MosquittoServer", "MqttCerts", "mosquitto", "mosquitto_certs", "mosquitto_private"]

_APT_HINT = "apt-get install mosquitto openssl"
_READY_TIMEOUT_S = 15.0


def _require(binary: str) -> str:
    """Absolute path of `binary` (also looked up in the sbin folders, where Debian puts mosquitto)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
    found = shutil.which(binary, path=search)
    if found:
        return found
    message = f"{binary} not found; the MQTT integration tests need Debian's packages: {_APT_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class MqttCerts:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a stranger CA."""

    directory: Path
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: Signed by the CA but naming only elsewhere.invalid: the host name check must refuse it.
    wrong_name_cert: Path
    wrong_name_key: Path
    #: A CA that signed nothing here: trusting only it must fail the handshake.
    other_ca_file: Path

    @classmethod
    def create(cls, directory: Path) -> MqttCerts:
        openssl = _require("openssl")
        # EC keys: about 10× faster to make than RSA-2048 (reference/data-stack.md §1.1).
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

        for ca in ("ca", "other-ca"):
            run("req", "-x509", *ec, "-days", "2", "-subj", f"/CN=boiler-test-{ca}", "-keyout", f"{ca}.key",
                "-out", f"{ca}.crt")  # fmt: skip
        (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
        (directory / "wrong-name.ext").write_text("subjectAltName=DNS:elsewhere.invalid\n")
        for who, cn in (("server", "localhost"), ("client", "boiler-client"), ("wrong-name", "elsewhere.invalid")):
            run("req", *ec, "-subj", f"/CN={cn}", "-keyout", f"{who}.key", "-out", f"{who}.csr")
            run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", f"{who}.ext", "-out", f"{who}.crt")  # fmt: skip
        return cls(
            directory,
            directory / "ca.crt",
            directory / "server.crt",
            directory / "server.key",
            directory / "client.crt",
            directory / "client.key",
            directory / "wrong-name.crt",
            directory / "wrong-name.key",
            directory / "other-ca.crt",
        )


class MosquittoServer:
    """One mosquitto process on fixed ports; `stop()`/`start()` keep the ports, so clients can come back."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, certs: MqttCerts, username: str = "boiler") -> None:
        self.directory = directory
        self.certs = certs
        self.ca_file = certs.ca_file
        self.username = username
        self.password = secrets.token_urlsafe(12)
        #: Plain TCP with password auth.
        self.port = _free_port()
        #: TLS with password auth.
        self.tls_port = _free_port()
        #: TLS with password auth and a required client certificate.
        self.mtls_port = _free_port()
        #: TLS with password auth, with a certificate that does not name 127.0.0.1.
        self.wrong_name_port = _free_port()
        self._binary = _require("mosquitto")
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        passwd = self.directory / "passwd"
        subprocess.run(
            [_require("mosquitto_passwd"), "-c", "-b", str(passwd), self.username, self.password],
            check=True,
            capture_output=True,
        )
        certs = self.certs
        tls = f"cafile {certs.ca_file}\ncertfile {certs.server_cert}\nkeyfile {certs.server_key}\n"
        # As root mosquitto drops to the `mosquitto` user, which cannot read a private temp folder.
        user = "user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        (self.directory / "mosquitto.conf").write_text(
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            "persistence false\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n"
            "set_tcp_nodelay true\n"
            f"{user}"
            f"listener {self.port} {self.host}\n"
            f"listener {self.tls_port} {self.host}\n{tls}"
            f"listener {self.mtls_port} {self.host}\n{tls}require_certificate true\n"
            f"listener {self.wrong_name_port} {self.host}\n"
            f"cafile {certs.ca_file}\ncertfile {certs.wrong_name_cert}\nkeyfile {certs.wrong_name_key}\n"
        )

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        if self.running:
            return
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.directory / "mosquitto.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for port in (self.port, self.tls_port, self.mtls_port, self.wrong_name_port):
            while True:
                if self._process.poll() is not None:
                    code = self._process.returncode
                    raise RuntimeError(f"mosquitto exited with {code}; see {self.log_file}")
                try:
                    socket.create_connection((self.host, port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        message = f"mosquitto not listening on {port}; see {self.log_file}"
                        raise TimeoutError(message) from None
                    time.sleep(0.005)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM: clean; SIGKILL: as if it crashed) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


@pytest.fixture(scope="session")
def mosquitto_certs(tmp_path_factory: pytest.TempPathFactory) -> MqttCerts:
    _require("mosquitto")
    return MqttCerts.create(tmp_path_factory.mktemp("mqtt-certs"))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory, mosquitto_certs: MqttCerts) -> Iterator[MosquittoServer]:
    """The session's broker. A test that stops it must start it again before it ends."""
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"), mosquitto_certs)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto_private(tmp_path: Path, mosquitto_certs: MqttCerts) -> Iterator[MosquittoServer]:
    """A broker for this test alone; free to stop, kill and restart."""
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    server = MosquittoServer(directory, mosquitto_certs)
    server.start()
    yield server
    server.stop()


# ---- helpers for MQTT tests (import them explicitly; they are not fixtures) ----------------------------


def mqtt_client(server: MosquittoServer, *, tls: bool = False, **kwargs: Any) -> aiomqtt.Client:
    """A test client logged in on the plain (or the TLS) listener."""
    tls_context = None
    if tls:
        tls_context = ssl.create_default_context(cafile=str(server.ca_file))
    return aiomqtt.Client(
        server.host,
        server.tls_port if tls else server.port,
        username=server.username,
        password=server.password,
        tls_context=tls_context,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        **kwargs,
    )


def plant_config(server: MosquittoServer, site: str, *, tls: bool = True, **extra: Any) -> MqttConfig:
    """Config of a plant on `server`, TLS and password by default, with quick reconnects."""
    broker: dict[str, Any] = {
        "host": server.host,
        "port": server.tls_port if tls else server.port,
        "username": server.username,
        "password": server.password,
        "tls": {"ca_file": str(server.ca_file)} if tls else None,
        "keepalive_s": 5,
        "connect_timeout_s": 5,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.5,
    }
    broker.update(extra.pop("broker", {}))
    return MqttConfig.model_validate({"site": site, "broker": broker, **extra})


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `predicate` until it holds; fail the test with `what` if it does not within `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
