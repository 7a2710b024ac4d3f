"""What the process-based benchmarks share: the checkout's root, the default emulated model per
firmware family, and another process's CPU time read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = {"whatsminer": "m53s-plus-plus", "whatsminer-v3": "m63s-plus-plus", "braiins": "s21-hyd"}
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK
