"""`boiler demo` as a user runs it, in a subprocess: every built-in scenario, its default addresses
taken by another process, bad addresses, progress lines off a terminal, no temporary state left."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from boiler import scenarios
from boiler.service.addresses import DEFAULT_FIRST_IP, demo_ips, miner_ports, parse_first_ip
from tests import loopback

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180.0  # a hang guard only: nothing here asserts on wall time


def demo(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run `boiler demo` with TMPDIR in `tmp` (to see what it leaves there) and a zone far from the site's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp), "TZ": "America/New_York",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from boiler.cli import main; main()", "demo", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=TIMEOUT_S, check=False)


def first_ip() -> str:
    return loopback.first_ip()


def leftovers(tmp: Path) -> list[str]:
    return [p.name for p in tmp.glob("boiler-demo-*")]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", scenarios.names())
def test_every_built_in_scenario_demos(scenario: str, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    run = demo("--scenario", scenario, "--duration", "3600", "--speed", "7200", "--first-ip", first_ip(),
               "--json", str(summary), tmp=tmp_path)
    assert run.returncode in (0, 1), run.stderr  # 1: the run found hot water below the setpoint
    assert "Traceback" not in run.stderr + run.stdout
    assert summary.exists() and f"{scenario} · strategy" in run.stdout
    assert leftovers(tmp_path) == []


@pytest.fixture
def default_addresses_taken() -> Iterator[list[str]]:
    """Listen on the default demo's addresses and ports, as a second demo would."""
    cfg = scenarios.load("residence-48")
    ips = demo_ips(parse_first_ip(DEFAULT_FIRST_IP, len(cfg.miners)), len(cfg.miners))
    held, taken = [], []
    for ip, ports in zip(ips, miner_ports([m.model for m in cfg.miners]), strict=True):
        for port in ports:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((ip, port))
            except OSError as exc:  # another process holds it already: taken all the same
                sock.close()
                assert exc.errno == errno.EADDRINUSE, exc
            else:
                sock.listen()
                held.append(sock)
            taken.append(f"{ip}:{port}")
    yield taken
    for sock in held:
        sock.close()


@pytest.mark.slow  # the demo end to end, in its own process
def test_busy_default_addresses_move_the_demo_and_say_so(default_addresses_taken: list[str], tmp_path: Path) -> None:
    run = demo("--duration", "600", "--speed", "3600", tmp=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "already in use" in run.stderr and "--first-ip" in run.stderr
    assert "event=addresses_moved from=127.0.1.1" in run.stdout  # the log line
    moved_to = run.stdout.split("event=addresses_moved from=127.0.1.1 to=", 1)[1].split()[0]
    assert moved_to != DEFAULT_FIRST_IP


@pytest.mark.slow  # the demo end to end, in its own process
def test_busy_addresses_given_with_the_flag_exit_1_naming_it(default_addresses_taken: list[str],
                                                             tmp_path: Path) -> None:
    run = demo("--duration", "600", "--first-ip", DEFAULT_FIRST_IP, tmp=tmp_path)
    assert run.returncode == 1
    assert "already in use" in run.stderr and "--first-ip" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # the demo's own process refusing at start
@pytest.mark.parametrize(
    ("address", "message"),
    [("banana", "'banana' is not an IPv4 address"), ("192.168.1.10", "loopback only"), ("10.0.0.1", "127.0.0.0/8")],
)
def test_bad_first_ip_exits_2_with_a_message(address: str, message: str, tmp_path: Path) -> None:
    run = demo("--first-ip", address, tmp=tmp_path)
    assert run.returncode == 2
    assert message in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # the demo end to end, in its own process
def test_off_a_terminal_progress_lines_in_the_sites_zone_and_no_state_left(tmp_path: Path) -> None:
    run = demo("--duration", "7200", "--speed", "3600", "--first-ip", first_ip(), tmp=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("residence-48 · ")]
    # Monday 5 January, local midnight in Paris (the machine says New York); then to the end.
    assert lines[0] == "residence-48 · Mon 05 Jan 00:00 · 0 %"
    assert lines[-1].startswith("residence-48 · Mon 05 Jan 02:00 · 100 % · 0 s left · ")
    assert "2 h from 2026-01-05" in run.stdout  # the summary title
    assert "ledger and state kept" not in run.stdout
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # the demo end to end, in its own process
def test_state_is_kept_when_asked_for(tmp_path: Path) -> None:
    state = tmp_path / "kept.sqlite"
    run = demo("--duration", "600", "--speed", "3600", "--first-ip", first_ip(), "--state", str(state), tmp=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    assert state.exists() and f"ledger and state kept in {state}" in " ".join(run.stdout.split())


def test_an_exit_1_says_why() -> None:
    from boiler.cli.simulate import failure_reasons  # demo and simulate say it the same way

    passed = {"dhw_volume_below_setpoint_l": 0.0, "min_outlet_temp_c": 61.0, "legionella_compliant": True,
              "hygiene_violations": 0, "hygiene_preset": "fr"}
    assert failure_reasons(passed) == ""
    failed = {**passed, "dhw_volume_below_setpoint_l": 1234.4, "min_outlet_temp_c": 51.26,
              "legionella_compliant": False, "hygiene_violations": 2}
    assert failure_reasons(failed) == ("1,234 L of hot water drawn below the setpoint (lowest outlet 51.3 °C); "
                                       "hygiene rules broken (2 violation(s))")


@pytest.mark.slow  # the demo end to end, in its own process
def test_an_unreachable_broker_exits_1_saying_what_to_do(tmp_path: Path) -> None:
    import yaml

    with socket.socket() as sock:  # a port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = yaml.safe_load((ROOT / "boiler/scenarios/residence-48.yaml").read_text(encoding="utf-8"))
    data["mqtt"] = {"broker": {"host": "127.0.0.1", "port": port, "connect_timeout_s": 2}, "site": "nobroker"}
    config = tmp_path / "nobroker.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = demo("-c", str(config), "--duration", "600", "--first-ip", first_ip(), tmp=tmp_path)
    assert run.returncode == 1
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr + run.stdout
    assert leftovers(tmp_path) == []
