"""What the process-based benchmarks share: the checkout's root, the default emulated model per
firmware family, the emulator started as its own process, and another process's CPU time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = {"whatsminer": "m53s-plus-plus", "whatsminer-v3": "m63s-plus-plus", "braiins": "s21-hyd"}
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def start_emulator(count: int, family: str, first_ip: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`boiler emulate` in a process of its own (so its CPU is measured apart); returns it and the IPs
    it serves, once every miner listens."""
    cmd = [sys.executable, "-c", "from boiler.cli import main; main()", "emulate", "--count", str(count),
           "--family", family, "--first-ip", first_ip]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    ips = [proc.stdout.readline().strip() for _ in range(count)]
    if not all(ips):
        proc.kill()
        raise SystemExit("the emulator did not start (see its stderr above)")
    return proc, ips
