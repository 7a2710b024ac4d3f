"""Benchmark: `boiler demo` over MQTT (simulated field devices on a real mosquitto): achieved speed
against the speed asked for, and sync time-outs logged.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_demo_mqtt.py [--scenario residence-48]
        [--duration 21600] [--speed 720] [--json out.json]

It starts a throw-away anonymous mosquitto on a free 127.0.0.1 port, writes the scenario with an
`mqtt:` section pointing at it, and runs `boiler demo --config … -q` as a user would (emulated
miners through pyasic, the service, the simulated plant publishing its sensors and obeying its
actuators over the broker). Achieved speed = plant seconds run / wall seconds of the run (the
summary's `wall_seconds`, startup included). The machine's load is reported with the figure: on a
shared machine the demo gets only part of a core. Not a test: the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _processes import ROOT

from boiler.scenarios import _files as scenario_files

TIMEOUT_EVENTS = ("devices_sync_timeout", "devices_orders_timeout")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if binary is None:
        raise SystemExit("mosquitto not found: apt-get install mosquitto")
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n", encoding="utf-8")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start listening within 10 s")


def write_config(work: Path, scenario: str, port: int) -> Path:
    data = yaml.safe_load(scenario_files()[scenario].read_text(encoding="utf-8"))
    data["mqtt"] = {"broker": {"host": "127.0.0.1", "port": port}, "site": "bench"}
    path = work / f"{scenario}-mqtt.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run(scenario: str, duration_s: float, speed: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-demo-mqtt-"))
    broker, port = start_mosquitto(work)
    try:
        config = write_config(work, scenario, port)
        summary_path = work / "summary.json"
        first_ip = f"127.{random.randint(20, 250)}.{random.randint(0, 250)}.1"
        cmd = [sys.executable, "-c", "from boiler.cli import main; main()", "demo", "--config", str(config),
               "--duration", f"{duration_s:g}", "--speed", f"{speed:g}", "--first-ip", first_ip,
               "--json", str(summary_path), "-q"]
        load_before = os.getloadavg()
        wall0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, check=False)
        process_wall_s = time.perf_counter() - wall0
        load_after = os.getloadavg()
        if not summary_path.exists():
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit(f"the demo failed (exit {done.returncode})")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    finally:
        broker.terminate()
        broker.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    plant_s = float(summary["days"]) * 86_400.0
    achieved = plant_s / float(summary["wall_seconds"])
    return {
        "scenario": scenario, "duration_s": duration_s, "speed_requested": speed,
        "speed_achieved": achieved, "achieved_over_requested": achieved / speed,
        "demo_wall_s": summary["wall_seconds"], "process_wall_s": process_wall_s, "ticks": summary["ticks"],
        "sync_timeouts_logged": sum(done.stdout.count(e) for e in TIMEOUT_EVENTS), "exit_code": done.returncode,
        "loadavg_1m_before": load_before[0], "loadavg_1m_after": load_after[0], "cpus": os.cpu_count(),
        "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="residence-48")
    parser.add_argument("--duration", type=float, default=21_600.0, help="plant seconds")
    parser.add_argument("--speed", type=float, default=720.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.scenario, args.duration, args.speed)
    for key, value in result.items():
        print(f"{key:>24}  {value:.3g}" if isinstance(value, float) else f"{key:>24}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
