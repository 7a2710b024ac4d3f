"""`boiler emulate`: serve emulated miners on loopback for pyasic, the driver and demos.

stdout carries only the bound IPs, one per line, so scripts can read them; everything else
goes to stderr. Exit codes: 0 ok (duration over, or Ctrl-C), 1 the ports could not be
opened, 2 bad input. The emulator (and pyasic, which it reuses for the BOS+ messages) is
imported only inside the command, so `boiler --help` stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from miners.emulator import EmulatorFleet

_err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def emulate(
    count: Annotated[int, typer.Option("--count", "-n", help="How many miners.", min=1, max=60_000)] = 1,
    family: Annotated[
        str | None, typer.Option("--family", help="whatsminer, whatsminer-v3 or braiins; default: the model's.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Catalogue key (e.g. s21-hyd) or model string; default: the family's.")
    ] = None,
    first_ip: Annotated[
        str, typer.Option("--first-ip", help="First loopback address; the next ones follow (.0 and .255 skipped).")
    ] = "127.0.1.1",
    duration: Annotated[
        float | None, typer.Option("--duration", help="Seconds to serve; default until Ctrl-C.", min=0)
    ] = None,
    coolant_inlet: Annotated[
        float, typer.Option("--coolant-inlet", help="Coolant inlet °C of every miner.")
    ] = 35.0,
) -> None:
    """Serve COUNT emulated miners on their real ports (4028, 4433, 50051), one loopback IP each."""
    from miners.emulator import FAMILIES, EmulatorFleet, loopback_ips
    from miners.emulator.identity import DEFAULT_MODEL, check_family, default_family, find_spec

    if family is not None and family not in FAMILIES:
        raise _fail(f"--family {family!r} is not known; choose one of {', '.join(FAMILIES)}")
    try:
        spec = find_spec(model if model is not None else DEFAULT_MODEL[family or "whatsminer"])  # type: ignore[index]
        fam = check_family(spec, family) if family is not None else default_family(spec)
    except (KeyError, ValueError) as exc:
        raise _fail(f"--model: {exc.args[0]}") from exc
    try:
        ipaddress.IPv4Address(first_ip)
        list(loopback_ips(first_ip, count))
    except ValueError as exc:
        raise _fail(f"--first-ip {first_ip!r}: {exc}") from exc

    fleet = EmulatorFleet.build(count, family=fam, model=spec, first_ip=first_ip, coolant_inlet_c=coolant_inlet)
    try:
        asyncio.run(_serve(fleet, duration))
    except OSError as exc:
        raise _fail(f"{exc.strerror or exc} (is another emulator running on these addresses?)", code=1) from exc


async def _serve(fleet: EmulatorFleet, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with fleet:
        for ip in fleet.ips:
            sys.stdout.write(ip + "\n")
        sys.stdout.flush()
        first = fleet.miners[0]
        _err.print(
            f"serving {len(fleet.miners)} × {first.spec.model} ({first.family}) on ports "
            f"{', '.join(map(str, fleet.host(first).ports))}; started in {fleet.start_s:.2f} s"
            + ("" if duration is None else f"; stopping after {duration:g} s"),
            highlight=False,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("emulate")(emulate)
