"""The systemd unit (rendered, parsed, verified by systemd-analyze when present), `boiler install-service`,
and the sd_notify datagrams the service sends over a unix socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.config import PlantConfig
from boiler.service import systemd
from boiler.service.clock import PacedClock
from boiler.service.notify import notify
from boiler.service.service import PlantService
from boiler.simulation import build_plant, local_midnight_s
from boiler.simulation.plant_io import SimulatedPlantIO
from boiler.store import PlantStore

runner = CliRunner()
BOILER = Path(sys.executable).parent / "boiler"


def site(**service: object) -> PlantConfig:
    cfg = scenarios.load("residence-48")
    return cfg.model_copy(update={"service": cfg.service.model_copy(update=service)})


def runnable(data: dict) -> dict:
    """A scenario made into a config `boiler run` accepts: an `mqtt` section and each miner's address."""
    for i, miner in enumerate(data["miners"], 1):
        miner["host"] = f"10.0.0.{i}"
    data["mqtt"] = {"site": "unit", "broker": {"host": "127.0.0.1"}}
    return data


def write_config(tmp_path: Path, **service: object) -> Path:
    data = runnable(yaml.safe_load((Path(scenarios.__file__).parent / "residence-48.yaml").read_text()))
    data["service"] = {k: str(v) if isinstance(v, Path) else v for k, v in service.items()}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- the unit -----------------------------------------------------------------------------------------
def test_the_unit_has_the_restart_policy_watchdog_user_and_state_directory() -> None:
    text = systemd.render_unit(site(tick_s=10, miner_timeout_s=5), Path("/etc/boiler/site.yaml"),
                               user="heater", executable=BOILER)
    unit = systemd.parse_unit(text)
    service = {k: v[-1] for k, v in unit["Service"].items()}
    assert service["Type"] == "notify"
    assert service["ExecStart"] == f"{BOILER} run -c /etc/boiler/site.yaml"
    assert service["User"] == service["Group"] == "heater"
    assert service["StateDirectory"] == "boiler" and service["WorkingDirectory"] == "/var/lib/boiler"
    assert service["Restart"] == "on-failure" and int(service["RestartSec"]) >= 5
    # one tick period plus the worst tick (poll + verified command with retries: 4 timeouts + 5 s), twice
    assert int(service["WatchdogSec"]) == 2 * (10 + 4 * 5 + 5)
    assert int(unit["Unit"]["StartLimitBurst"][0]) > 1 and int(unit["Unit"]["StartLimitIntervalSec"][0]) > 0
    # hardening that keeps pyasic's, MQTT's and InfluxDB's sockets and the notify socket working
    families = set(service["RestrictAddressFamilies"].split())
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= families
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert "PrivateNetwork" not in service and "IPAddressDeny" not in service
    assert "ReadWritePaths" not in service  # the default state path lives in the state directory
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_watchdog_grows_with_a_slow_tick() -> None:
    fast = systemd.watchdog_s(site(tick_s=10).service)
    slow = systemd.watchdog_s(site(tick_s=600, miner_timeout_s=30).service)
    assert slow == 2 * (600 + 4 * 30 + 5) and slow > fast


def test_state_outside_the_state_directory_is_made_writable() -> None:
    cfg = site(state_path=Path("/srv/plant/state.sqlite"))
    service = systemd.parse_unit(systemd.render_unit(cfg, Path("/etc/b.yaml"), executable=BOILER))["Service"]
    assert service["ReadWritePaths"] == ["/srv/plant"]


def test_exec_start_arguments_are_quoted_and_escaped() -> None:
    assert systemd.quote_arg("/etc/boiler/site.yaml") == "/etc/boiler/site.yaml"
    assert systemd.quote_arg("/etc/my plant/100%.yaml") == '"/etc/my plant/100%%.yaml"'
    assert systemd.quote_arg("/opt/$HOME/b") == "/opt/$$HOME/b"


def test_bad_user_names_and_relative_paths_are_refused() -> None:
    with pytest.raises(systemd.UnitError, match="not a valid system user"):
        systemd.render_unit(site(), Path("/etc/b.yaml"), user="Root; rm", executable=BOILER)
    with pytest.raises(systemd.UnitError, match="absolute"):
        systemd.render_unit(site(), Path("b.yaml"), executable=BOILER)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_rendered_unit(tmp_path: Path) -> None:
    unit = tmp_path / systemd.UNIT_NAME
    unit.write_text(systemd.render_unit(site(), tmp_path / "site.yaml", executable=BOILER))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if str(unit) in line]
    assert result.returncode == 0 and ours == [], result.stdout + result.stderr


# -- install-service ----------------------------------------------------------------------------------
def test_install_service_dry_run_prints_the_unit(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = runner.invoke(app, ["install-service", "-c", str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    unit = systemd.parse_unit(result.stdout)
    assert unit["Service"]["ExecStart"][0].endswith(f"run -c {config}")
    assert not list(tmp_path.glob("*.service"))


def test_install_service_writes_the_unit_and_says_what_to_run(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    units = tmp_path / "units"
    result = runner.invoke(app, ["install-service", "-c", str(config), "--user", "heater", "--unit-dir", str(units)])
    assert result.exit_code == 0, result.output
    written = units / systemd.UNIT_NAME
    assert systemd.parse_unit(written.read_text())["Service"]["User"] == ["heater"]
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    for step in ("useradd --system", "systemctl daemon-reload", "systemctl enable --now boiler.service",
                 f"boiler check -c {config}", "journalctl -u boiler"):
        assert step in result.stdout


def test_install_service_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert runner.invoke(app, ["install-service", "-c", str(config), "--user", "9lives", "--dry-run"]).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("tanks: []\n")
    assert runner.invoke(app, ["install-service", "-c", str(bad), "--dry-run"]).exit_code == 2


def test_install_service_refuses_a_config_that_run_would_refuse(tmp_path: Path) -> None:
    data = yaml.safe_load((Path(scenarios.__file__).parent / "residence-48.yaml").read_text())
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["install-service", "-c", str(config), "--dry-run"])
    assert result.exit_code == 2
    assert "mqtt: required" in result.output and "miners.0.host" in result.output
    assert "[Service]" not in result.stdout


def test_install_service_warns_about_paths_the_private_tmp_hides(tmp_path: Path) -> None:
    # tmp_path lives under /tmp: the unit's PrivateTmp=yes would give the service an empty one.
    assert any(tmp_path.is_relative_to(d) for d in systemd.PRIVATE_TMP_DIRS), tmp_path
    config = write_config(tmp_path, state_path=tmp_path / "state.sqlite")
    result = runner.invoke(app, ["install-service", "-c", str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"warning: the config file {config} is under a folder the unit hides" in result.stderr
    assert f"warning: service.state_path {tmp_path / 'state.sqlite'}" in result.stderr
    cfg = site()
    hidden = systemd.hidden_paths(cfg, Path("/etc/boiler/site.yaml"), executable=Path("/var/tmp/venv/bin/boiler"))
    assert ("the boiler command", Path("/var/tmp/venv/bin/boiler")) in hidden
    assert all(what != "the config file" for what, _ in hidden)


def test_paths_the_service_user_cannot_reach_are_named() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as where:  # pytest's own tmp_path sits in a 0700 folder
        tmp_path = Path(where)
        tmp_path.chmod(0o755)
        _check_reach(tmp_path)


def _check_reach(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    (locked / "venv" / "bin").mkdir(parents=True)
    locked.chmod(0o700)  # like /root: only its owner may enter
    command = locked / "venv" / "bin" / "boiler"
    assert systemd.closed_folder(command, "nobody") == locked
    assert systemd.closed_folder(command, "root") is None
    assert systemd.closed_folder(tmp_path / "open.yaml", "nobody") is None
    found = systemd.unreachable_paths(tmp_path / "open.yaml", "nobody", executable=command)
    assert ("the boiler command", command, locked) in found
    assert all(what != "the config file" for what, _, _ in found)
    locked.chmod(0o701)  # others may pass through
    assert systemd.closed_folder(command, "nobody") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_install_service_exits_1_when_the_folder_is_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = runner.invoke(app, ["install-service", "-c", str(write_config(tmp_path)), "--unit-dir", str(locked)])
    assert result.exit_code == 1 and "--dry-run" in result.output


@pytest.fixture
def fake_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `systemctl` on PATH that records its arguments (and fails on request)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    script = bin_dir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ -z "$FAKE_SYSTEMCTL_FAIL" ] || '
                      '{ echo "Unit boiler.service failed" >&2; exit 1; }\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield log


def test_install_service_enable_runs_systemctl_only_when_asked(tmp_path: Path, fake_systemctl: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    units = tmp_path / "units"
    assert runner.invoke(app, ["install-service", "-c", str(config), "--unit-dir", str(units)]).exit_code == 0
    assert not fake_systemctl.exists()  # never run unless asked
    result = runner.invoke(app, ["install-service", "-c", str(config), "--user", "root", "--unit-dir", str(units),
                                 "--enable"])
    assert result.exit_code == 0, result.output
    assert fake_systemctl.read_text().splitlines() == ["daemon-reload", "enable --now boiler.service"]
    monkeypatch.setenv("FAKE_SYSTEMCTL_FAIL", "1")
    failed = runner.invoke(app, ["install-service", "-c", str(config), "--user", "root", "--unit-dir", str(units),
                                 "--enable"])
    assert failed.exit_code == 1 and "failed" in failed.output


def test_install_service_enable_needs_the_user_to_exist(tmp_path: Path, fake_systemctl: Path) -> None:
    result = runner.invoke(app, ["install-service", "-c", str(write_config(tmp_path)), "--user", "no_such_user_k",
                                 "--unit-dir", str(tmp_path / "units"), "--enable"])
    assert result.exit_code == 1 and "useradd" in result.output
    assert not fake_systemctl.exists()


# -- sd_notify ------------------------------------------------------------------------------------------
@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def datagrams(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_notify_does_nothing_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"boiler-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("WATCHDOG=1") is True
        assert sock.recv(4096) == b"WATCHDOG=1"


class NoMiners:
    async def poll(self) -> list:
        return []

    async def apply(self, limits_w: object) -> list:
        return []


async def test_the_service_says_ready_pings_the_watchdog_each_tick_and_says_stopping(
        notify_socket: socket.socket, tmp_path: Path) -> None:
    cfg = site(tick_s=300)
    cfg.miners = []
    day = date(2026, 1, 5)
    clock = PacedClock(local_midnight_s(cfg, day), speed=1e6)
    plant = build_plant(cfg, day, 1.0)
    with PlantStore(tmp_path / "state.sqlite") as store:
        service = PlantService(cfg, SimulatedPlantIO(plant), NoMiners(), store, clock, exchanger_ua_w_per_k=5000.0)
        await service.run(asyncio.Event(), duration_s=5 * 300)
    sent = datagrams(notify_socket)
    assert sent[0].split("\n")[0] == "READY=1" and "STATUS=" in sent[0]
    assert sent[-1] == "STOPPING=1"
    assert sent[1:-1] == ["WATCHDOG=1"] * service.status.ticks and service.status.ticks >= 5
