"""`boiler demo`, `boiler run`: the plant service from the command line.

Exit codes: 0 ok, 1 the run found a failure (demo: hot water below the setpoint or hygiene
broken; run: a fatal error), 2 bad input.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from boiler import scenarios
from boiler.config import ConfigError, PlantConfig, load_config, service_problems
from boiler.config_check import check_buildable
from boiler.service.progress import Progress, ProgressLines, ProgressMeter, log_progress
from boiler.service.service import ServiceStatus
from boiler.timefmt import plant_time

if TYPE_CHECKING:
    from boiler.service.demo import DemoOptions

_out = Console()
_err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def setup_logging(level: str = "INFO") -> None:
    """key=value lines on stdout: journald keeps them as they are (no timestamps of our own)."""
    import pyasic  # noqa: F401 - pyasic configures the root logger on import; configure after it

    handler = logging.StreamHandler(sys.stdout)
    fmt = "level=%(levelname)s logger=%(name)s %(message)s"
    if os.environ.get("JOURNAL_STREAM"):  # under systemd: a syslog priority prefix gives journald real levels
        fmt = "<%(syslog_priority)s>" + fmt
        handler.addFilter(_syslog_priority)
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _syslog_priority(record: logging.LogRecord) -> bool:
    record.syslog_priority = 3 if record.levelno >= logging.ERROR else 4 if record.levelno >= logging.WARNING \
        else 6 if record.levelno >= logging.INFO else 7
    return True


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def status_view(s: ServiceStatus, scenario: str, timezone: str = "UTC", progress: Progress | None = None) -> Group:
    """The live view; plant times in the site's `timezone`."""
    when = plant_time(s.now_s, timezone) if s.ticks else "—"
    head = Table.grid(padding=(0, 2))
    head.add_row(f"[bold]{scenario}[/bold]", f"plant time {when}", f"tick {s.ticks}",
                 f"decided by {s.decided_by or '—'}" + ("" if s.decided_by in ("", s.strategy)
                                                        else f" (strategy {s.strategy})"),
                 "[red]SAFE STATE[/red]" if s.safe_state else "[green]normal[/green]",
                 "hygiene ok" if s.compliant else "[red]hygiene rule broken[/red]")
    temps = Table(title="Tank", show_header=True, header_style="bold")
    temps.add_column("sensor")
    temps.add_column("°C", justify="right")
    r = s.reading
    if r is not None:
        for key, value in r.sensors_c.items():
            temps.add_row(key, "—" if value is None else f"{value:.1f}")
        temps.add_row("[bold]outlet[/bold]", "—" if r.outlet_c is None else f"{r.outlet_c:.1f}")
        temps.add_row("loop return", "—" if r.loop_return_c is None else f"{r.loop_return_c:.1f}")
        temps.add_row("coolant in", "—" if r.coolant_in_c is None else f"{r.coolant_in_c:.1f}")
    miners = Table(title="Miners (through pyasic)", show_header=True, header_style="bold")
    for col in ("miner", "state", "W", "limit W", "TH/s"):
        miners.add_column(col, justify="right" if col != "miner" else "left")
    for m in s.miners:
        miners.add_row(m.name, m.state if m.available else "[red]unreachable[/red]", f"{m.power_w:.0f}",
                       "asleep" if m.limit_w is None else f"{m.limit_w:.0f}", f"{m.hashrate_ths:.0f}")
    gas = "—"
    if s.commands is not None:
        firing = r is not None and r.gas_firing
        gas = f"{'enabled' if s.commands.gas_enable else 'off'}, setpoint {s.commands.gas_setpoint_c:.1f} °C" + (
            ", [bold]firing[/bold]" if firing else "")
    t = s.totals
    money = Table(title="Ledger (closed hours)", show_header=False)
    money.add_column("")
    money.add_column("", justify="right")
    money.add_row("heat from miners", f"{t.heat_from_miners_kwh:,.1f} kWh")
    money.add_row("heat from gas", f"{t.heat_from_gas_kwh:,.1f} kWh")
    money.add_row("hot water drawn", f"{t.dhw_volume_l:,.0f} L")
    money.add_row("mining revenue", f"{t.mining_revenue_eur:,.2f} EUR")
    money.add_row("electricity", f"{t.electricity_cost_eur:,.2f} EUR")
    money.add_row("gas", f"{t.gas_cost_eur:,.2f} EUR")
    grid = Table.grid(padding=(0, 2))
    grid.add_row(temps, miners, money)
    reasons = Table(title="Last decisions", show_header=False)
    reasons.add_column("time")
    reasons.add_column("reason")
    for at, why in list(s.reasons)[-6:]:
        reasons.add_row(plant_time(at, timezone).split(" ", 1)[1], why)
    done = "" if progress is None else progress.done()
    return Group(head, *([f"progress: {done}"] if done else []), grid, f"gas boiler: {gas}", reasons)


def demo(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Built-in scenario.")] = "residence-48",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Plant config instead of a scenario.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Plant time runs this many times faster.", min=0.1)] = 60.0,
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after this much plant time (s).",
                                                   min=1)] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary (simulate's keys).")] = None,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "2026-01-05",
    tick: Annotated[float, typer.Option("--tick", help="Service tick in plant seconds.", min=1)] = 60.0,
    first_ip: Annotated[str | None, typer.Option(
        "--first-ip", help="First loopback address of the miners (default 127.0.1.1, or the next free block "
        "when another process holds it).")] = None,
    state: Annotated[Path | None, typer.Option("--state", help="SQLite file (default: a new temporary one).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view; log lines instead.")] = False,
) -> None:
    """Run the real service against emulated miners (through pyasic) and the simulated plant."""
    from aiomqtt import MqttError

    from boiler.service.addresses import AddressError, AddressesBusy, choose_addresses
    from boiler.service.demo import DemoOptions

    name, cfg = scenario, None
    try:
        if config is not None:
            name, cfg = config.stem, load_config(config)
        else:
            cfg = scenarios.load(scenario)
        first_day = date.fromisoformat(start)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    except ValueError as exc:
        raise _fail(f"--start {start!r} is not a date in YYYY-MM-DD form") from exc
    try:  # what `simulate` and `config validate` refuse, the demo refuses before opening a socket
        horizon_days = DemoOptions.horizon_days if duration is None else duration / 86_400 + 1.0
        check_buildable(cfg, str(config) if config is not None else f"scenario {scenario}", days=horizon_days,
                        start=first_day)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    try:
        addresses = choose_addresses([m.model for m in cfg.miners], first_ip)
    except AddressError as exc:
        raise _fail(str(exc)) from exc
    except AddressesBusy as exc:
        raise _fail(str(exc), code=1) from exc
    scratch = None if state is not None else Path(tempfile.mkdtemp(prefix="boiler-demo-"))
    state_path = state if scratch is None else scratch / "state.sqlite"
    opts = DemoOptions(speed=speed, duration_s=duration, start=first_day, first_ip=addresses.first_ip,
                       state_path=state_path, tick_s=tick)
    setup_logging("INFO" if quiet else "WARNING")
    if addresses.notice() is not None:
        _err.print(f"[yellow]note:[/yellow] {addresses.notice()}", highlight=False)
        logging.getLogger("boiler.demo").warning("event=addresses_moved from=%s to=%s busy=%s", addresses.moved_from,
                                                 addresses.first_ip, ",".join(map(str, addresses.busy)))
    try:
        summary = asyncio.run(_demo_main(cfg, opts, name, quiet=quiet))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # Another process took an address between the check and the start.
        raise _fail(f"{exc}; another demo, emulator or test run holds it: pass a free --first-ip", code=1) from exc
    except MqttError as exc:
        if cfg.mqtt is None:
            raise
        broker = cfg.mqtt.broker
        raise _fail(f"cannot reach the MQTT broker at {broker.host}:{broker.effective_port} ({exc}): start it, or "
                    f"fix `mqtt.broker` in the config", code=1) from exc
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    from boiler.cli.simulate import failure_reasons, print_warnings, summary_table

    _out.print(summary_table({**summary, "start": start}))
    print_warnings(summary)
    if scratch is None:
        _out.print(f"ledger and state kept in {state_path}")
    why = failure_reasons(summary)
    if why:
        raise _fail(why, code=1)


async def _demo_main(cfg: PlantConfig, opts: DemoOptions, name: str, quiet: bool) -> dict:
    from boiler.service.demo import run_demo

    stop = asyncio.Event()
    _stop_on_signals(stop)
    timezone = cfg.site.timezone
    meter = ProgressMeter(opts.duration_s)
    if quiet or not _out.is_terminal:
        # No live view: log lines (-q), or plain progress lines when the output is a file or a pipe.
        emit: Callable[[Progress], None] = log_progress(timezone) if quiet else \
            (lambda p: _out.print(f"{name} · {p.summary(timezone)}", highlight=False, soft_wrap=True))
        lines = ProgressLines(meter, timezone, emit)
        return await run_demo(cfg, opts, name, stop=stop, on_status=lambda s: lines.update(s.now_s))
    with Live(console=_out, refresh_per_second=4, transient=False) as view:
        return await run_demo(cfg, opts, name, stop=stop,
                              on_status=lambda s: view.update(status_view(s, name, timezone, meter.update(s.now_s))))


def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML file.")],
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    """Run the plant service: miners through pyasic, plant I/O over MQTT, ledger in SQLite."""
    try:
        cfg = load_config(config)
        check_buildable(cfg, str(config))
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    problems = service_problems(cfg)
    if problems:
        raise _fail(f"{config}: cannot run this plant:\n  " + "\n  ".join(problems))
    setup_logging(log_level.upper())
    try:
        asyncio.run(_run_main(cfg))
    except Exception as exc:
        logging.getLogger("boiler.service").exception("service_failed error=%s", exc)
        raise typer.Exit(1) from exc


async def _run_main(cfg: PlantConfig) -> None:
    # Imported here so that `boiler --help` stays fast (pyasic, aiomqtt and influxdb are heavy).
    from boiler.control.plant_model import exchanger_ua_w_per_k
    from boiler.service.clock import WallClock
    from boiler.service.links import optional_mqtt, optional_telemetry
    from boiler.service.mqtt_io import MqttPlantIO
    from boiler.service.service import PlantService
    from boiler.store import PlantStore
    from miners.fleet import PyasicFleet

    stop = asyncio.Event()
    _stop_on_signals(stop)
    clock = WallClock()
    driver = PyasicFleet(cfg.miners, timeout_s=cfg.service.miner_timeout_s, clock=clock.now_s)
    ua = exchanger_ua_w_per_k(cfg)
    async with optional_mqtt(cfg, clock.now_s) as link, optional_telemetry(cfg) as telemetry:
        if link is None:
            raise RuntimeError("`mqtt` is required to run a real plant")  # checked by `run` before
        with PlantStore(cfg.service.state_path) as store:
            service = PlantService(cfg, MqttPlantIO(cfg, link), driver, store, clock, exchanger_ua_w_per_k=ua,
                                   telemetry=telemetry, mqtt=link)
            try:
                await service.run(stop)
            finally:
                driver.close()  # the kept BOS+ connections


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("run")(run)
