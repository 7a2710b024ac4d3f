"""`boiler discover CIDR` and `boiler miners status|set-power|sleep|wake`: the installer's view of the fleet.

Exit codes: 0 ok, 1 a miner failed (unreachable, command refused), 2 bad input (config, range).
pyasic is imported only inside the commands, so `boiler --help` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from boiler.safe_yaml import YamlInputError, load_yaml_file
from miners.config import MinerConfig


def _out() -> Console:
    return Console()  # made per use, so the terminal width (COLUMNS) is read when printing


def _err() -> Console:
    return Console(stderr=True)


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Plant config file (YAML) with a `miners:` list.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


class _BadInput(Exception):
    """Exit 2 with this message."""


def load_miner_configs(path: Path) -> list[MinerConfig]:
    """The `miners:` list of a config file, validated (the rest of the file is not checked here)."""
    try:
        data = load_yaml_file(path)  # bounded: size, UTF-8, depth, aliases, duplicate keys
    except YamlInputError as error:
        raise _BadInput(str(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("miners"), list):
        raise _BadInput(f"{path}: expected a top-level `miners:` list")
    configs: list[MinerConfig] = []
    for index, entry in enumerate(data["miners"]):
        try:
            configs.append(MinerConfig.model_validate(entry))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in (f"miners[{index}]", *first["loc"]))
            raise _BadInput(f"{path}: {where}: {first['msg']} (got {first.get('input')!r})") from error
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _BadInput(f"{path}: miner names must be unique, repeated: {', '.join(duplicates)}")
    return configs


def _quiet_logs() -> None:
    # Importing pyasic configures the root logger; set ours after it, and keep pyasic's
    # per-socket warnings (logged on the root logger) out of an installer's terminal.
    import pyasic  # noqa: F401

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s %(message)s", force=True)
    logging.getLogger("miners").setLevel(logging.WARNING)


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def _pick(configs: list[MinerConfig], name: str) -> MinerConfig:
    for config in configs:
        if config.name == name:
            return config
    raise _BadInput(f"no miner named {name!r}; configured: {', '.join(c.name for c in configs) or 'none'}")


def _fleet(configs: list[MinerConfig], timeout_s: float) -> Any:
    from miners.fleet import PyasicFleet

    try:
        return PyasicFleet(configs, timeout_s=timeout_s)
    except (KeyError, ValueError) as error:
        raise _BadInput(str(error).strip("'\"")) from error


def _run_or_exit(work: Any) -> Any:
    try:
        return work()
    except _BadInput as error:
        _err().print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error


# ---------------------------------------------------------------------------------------- discover


def discover(
    cidr: Annotated[str, typer.Argument(help="Network range to scan, e.g. 192.168.1.0/24.")],
    json_out: JsonOption = False,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Hosts probed at once.")] = 64,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per host and step.")] = 10.0,
    user: Annotated[str | None, typer.Option(help="API user to try (default: the firmware's).")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the API password to try.")
    ] = None,
) -> None:
    """Find the miners in CIDR: model, firmware, MAC, hashrate, power, limit, coolant temperature."""
    from miners.discovery import addresses, scan

    _run_or_exit(lambda: _check_cidr(cidr, addresses))
    probe = MinerConfig(name="discover", model="-", username=user, password_env=password_env)
    credentials = _run_or_exit(lambda: _credentials(probe))
    _quiet_logs()
    if json_out:
        found = asyncio.run(scan(cidr, concurrency=concurrency, timeout_s=timeout_s, credentials=credentials))
    else:
        with Progress(console=_err(), transient=True) as progress:
            task = progress.add_task(f"scanning {cidr}", total=None)
            found = asyncio.run(scan(cidr, concurrency=concurrency, timeout_s=timeout_s, credentials=credentials,
                                     on_progress=lambda done, total: progress.update(task, completed=done,
                                                                                     total=total)))
    rows = [_found_row(f) for f in found]
    if json_out:
        _out().print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} miner(s) in {cidr}")
    columns = ["IP", "Make / model", "Firmware", "MAC", "TH/s", "Power W", "Limit W", "Coolant/env °C",
               "Power limit"]
    notes = any(row["error"] for row in rows)
    for column in columns + (["Note"] if notes else []):
        table.add_column(column, justify="right" if column.endswith(("W", "s", "°C")) else "left")
    for row in rows:
        cells = [
            row["ip"], f"{row['make'] or '?'} {row['model'] or '?'}",
            f"{row['firmware'] or '?'} {row['fw_version'] or ''}".strip(), row["mac"] or "-",
            _fmt(row["hashrate_ths"], digits=1), _fmt(row["power_w"]), _fmt(row["power_limit_w"]),
            _fmt(row["coolant_in_c"], digits=1), "y" if row["supports_power_limit"] else "n",
        ]
        table.add_row(*cells, *([row["error"] or ""] if notes else []))
    _out().print(table)


def _credentials(config: MinerConfig) -> Any:
    try:
        return config.credentials()
    except KeyError as error:
        raise _BadInput(str(error).strip("'\"")) from error


def _check_cidr(cidr: str, addresses: Any) -> None:
    try:
        addresses(cidr)
    except ValueError as error:
        raise _BadInput(f"bad CIDR {cidr!r}: {error}") from error


def _found_row(found: Any) -> dict[str, Any]:
    identity, sample = found.identity, found.sample
    return {
        "ip": identity.ip,
        "make": identity.make,
        "model": identity.model,
        "firmware": identity.firmware,
        "fw_version": identity.fw_version,
        "mac": identity.mac,
        "serial": identity.serial,
        "supports_power_limit": identity.supports_power_limit,
        "hashrate_ths": None if sample is None else sample.hashrate_ths,
        "power_w": None if sample is None else sample.power_w,
        "power_limit_w": None if sample is None else sample.power_limit_w,
        "coolant_in_c": None if sample is None else sample.coolant_in_c,
        "coolant_out_c": None if sample is None else sample.coolant_out_c,
        "mining": None if sample is None else sample.mining,
        "error": found.error,
    }


# ------------------------------------------------------------------------------------------ miners

miners_app = typer.Typer(help="See and command the configured miners.", no_args_is_help=True)


@miners_app.command("status")
def status(
    config: ConfigOption,
    json_out: JsonOption = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per miner.")] = 5.0,
) -> None:
    """Poll every configured miner once. Exit 1 when any is unavailable."""
    configs = _run_or_exit(lambda: load_miner_configs(config))
    fleet = _run_or_exit(lambda: _fleet(configs, timeout_s))
    _quiet_logs()
    readings = asyncio.run(fleet.poll())
    rows = [{**asdict(r), "host": fleet.host_of(r.name), "state": str(r.state)} for r in readings]
    if json_out:
        _out().print_json(json.dumps(rows))
    else:
        table = Table(title=f"{len(rows)} miner(s)")
        for column in ("Name", "Host", "State", "Power W", "TH/s", "Limit W", "In °C", "Out °C", "Errors"):
            table.add_column(column, justify="right" if column.endswith(("W", "s", "°C")) else "left")
        for row in rows:
            state = row["state"] if row["available"] else f"[red]{row['state']} (unavailable)[/red]"
            table.add_row(
                row["name"], row["host"], state, _fmt(row["power_w"]), _fmt(row["hashrate_ths"], digits=1),
                _fmt(row["power_limit_w"]), _fmt(row["coolant_in_c"], digits=1),
                _fmt(row["coolant_out_c"], digits=1), "; ".join(row["errors"]) or "-",
            )
        _out().print(table)
    if not all(r.available for r in readings):
        raise typer.Exit(1)


def _command(config_path: Path, name: str, target: Any, json_out: bool, timeout_s: float) -> None:
    """Poll the one miner (so the driver knows its state), send the command, print the outcome."""
    configs = _run_or_exit(lambda: load_miner_configs(config_path))
    chosen = _run_or_exit(lambda: _pick(configs, name))
    fleet = _run_or_exit(lambda: _fleet([chosen], timeout_s))
    _quiet_logs()

    async def work() -> Any:
        (reading,) = await fleet.poll()
        watts = target(reading) if callable(target) else target
        (result,) = await fleet.apply({name: watts}, force=True)
        return result

    result = _run_or_exit(lambda: asyncio.run(work()))
    if json_out:
        _out().print_json(json.dumps({**asdict(result), "kind": str(result.kind)}))
    elif result.ok:
        what = result.reason or f"{result.kind} done after {result.attempts} attempt(s)"
        note = " (this firmware restarts hashing on the change)" if result.restarts else ""
        _out().print(f"{name}: {what}{note}", highlight=False)
    else:
        _err().print(f"[red]{name}: failed:[/red] {result.error}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@miners_app.command("set-power")
def set_power(
    name: Annotated[str, typer.Argument(help="Miner name from the config.")],
    watts: Annotated[float, typer.Argument(help="New power limit in watts.")],
    config: ConfigOption,
    json_out: JsonOption = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per call.")] = 5.0,
) -> None:
    """Set a miner's power limit (verified by reading back). Exit 2 when outside the model's range."""
    from miners.catalogue import get_spec

    configs = _run_or_exit(lambda: load_miner_configs(config))
    chosen = _run_or_exit(lambda: _pick(configs, name))
    try:
        spec = get_spec(chosen.model)
    except KeyError:
        spec = None
    if spec is not None and not spec.min_power_w <= watts <= spec.max_power_w:
        _err().print(f"[red]error:[/red] {watts:g} W is outside {spec.key}'s range "
                   f"{spec.min_power_w:g}-{spec.max_power_w:g} W", highlight=False)
        raise typer.Exit(2)
    _command(config, name, watts, json_out, timeout_s)


@miners_app.command("sleep")
def sleep(
    name: Annotated[str, typer.Argument(help="Miner name from the config.")],
    config: ConfigOption,
    json_out: JsonOption = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per call.")] = 5.0,
) -> None:
    """Stop hashing (the miner stays powered and reachable)."""
    _command(config, name, None, json_out, timeout_s)


@miners_app.command("wake")
def wake(
    name: Annotated[str, typer.Argument(help="Miner name from the config.")],
    config: ConfigOption,
    json_out: JsonOption = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per call.")] = 5.0,
) -> None:
    """Resume hashing at the miner's current power limit."""
    from miners.catalogue import get_spec

    def current_limit(reading: Any) -> float:
        if reading.power_limit_w is not None:
            return float(reading.power_limit_w)
        model = _pick(load_miner_configs(config), name).model
        try:
            return get_spec(model).max_power_w
        except KeyError as error:
            raise _BadInput(f"{name}: limit unknown and model {model!r} not in the catalogue") from error

    _command(config, name, current_limit, json_out, timeout_s)


def register(app: typer.Typer) -> None:
    """Add `discover` and the `miners` group to the main app."""
    app.command("discover")(discover)
    app.add_typer(miners_app, name="miners")
