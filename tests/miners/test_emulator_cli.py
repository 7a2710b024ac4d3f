"""`boiler emulate`: IPs on stdout one per line, serving until the duration ends or SIGINT, exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boiler.cli import app
from tests.loopback import claim_net

ROOT = Path(__file__).resolve().parents[2]
NET = claim_net()
TIMEOUT_S = 30.0


async def _start(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from boiler.cli import main; main()", "emulate", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )


async def _devdetails(ip: str) -> dict:
    reader, writer = await asyncio.open_connection(ip, 4028)
    writer.write(b'{"command": "devdetails"}')
    await writer.drain()
    reply = await reader.read()
    writer.close()
    return json.loads(reply)


async def test_prints_each_ip_then_serves_until_sigint() -> None:
    proc = await _start("--count", "3", "--family", "braiins", "--first-ip", f"{NET}.1.254")
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT_S)).decode().strip() for _ in range(3)]
        assert lines == [f"{NET}.1.254", f"{NET}.2.1", f"{NET}.2.2"]
        for ip in lines:
            reply = await asyncio.wait_for(_devdetails(ip), TIMEOUT_S)
            assert reply["DEVDETAILS"][0]["Model"] == "Antminer S21 Hyd."
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0
        assert await proc.stdout.read() == b""  # nothing but the IPs on stdout
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_duration_ends_serving() -> None:
    proc = await _start("--count", "2", "--model", "m63s-plus-plus", "--first-ip", f"{NET}.3.1", "--duration", "0.5")
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    assert proc.returncode == 0, err.decode()
    assert out.decode().split() == [f"{NET}.3.1", f"{NET}.3.2"]
    assert "whatsminer-v3" in err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "braiins", "--model", "m53s-plus-plus"], "cannot emulate"),
        (["--family", "antminer"], "not known"),
        (["--model", "no-such-miner"], "unknown miner model"),
        (["--family", "braiins", "--model", "ah3880"], "cannot emulate"),
        (["--first-ip", "192.168.1.10"], "not a loopback address"),
        (["--first-ip", "127.0.1.300"], "--first-ip"),
        (["--count", "0"], "--count"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["emulate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_port_in_use_exits_1() -> None:
    ip = f"{NET}.4.1"
    blocker = socket.socket()
    blocker.bind((ip, 4028))
    blocker.listen()
    try:
        result = CliRunner().invoke(app, ["emulate", "--first-ip", ip, "--duration", "0"])
    finally:
        blocker.close()
    assert result.exit_code == 1
    assert "Address already in use" in result.output
