"""`boiler check` (commissioning report) and `boiler install-service` (systemd unit).

Exit codes: 0 ok, 1 a check failed (or the unit could not be written), 2 bad input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

_out = Console()
_err = Console(stderr=True)

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _quiet_logs(verbose: bool) -> None:
    """Log lines to stderr (stdout carries the report); pyasic sets up the root logger on import."""
    import pyasic  # noqa: F401

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("level=%(levelname)s logger=%(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, handlers=[handler], force=True)


def check(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    wait: Annotated[float | None, typer.Option(
        "--wait", help="Listen to the sensors this long (s); default: their longest stale_after_s, at most 120.",
        min=0)] = None,
    ack_timeout: Annotated[float, typer.Option("--ack-timeout", help="Wait for each actuator's echo (s).",
                                               min=0.1)] = 5.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens (stderr).")] = False,
) -> None:
    """Commissioning report: config, broker, database, each miner, sensor and actuator. Exit 1 if any fails."""
    from boiler.config_check import check_buildable
    from boiler.service.check import CheckItem, CheckOptions, check_config, exit_code, run_checks

    cfg, config_item = check_config(config, build=check_buildable)
    items: list[CheckItem] = [config_item]
    if cfg is not None:
        _quiet_logs(verbose)
        opts = CheckOptions(sensor_wait_s=wait, ack_timeout_s=ack_timeout)
        if json_out or not _err.is_terminal:
            items += asyncio.run(run_checks(cfg, opts))
        else:
            with _err.status("checking: broker, database, miners; listening to the sensors…"):
                items += asyncio.run(run_checks(cfg, opts))
    code = 2 if cfg is None or config_item.status == "fail" else exit_code(items)
    if json_out:
        print(json.dumps({"ok": code == 0, "exit_code": code, "items": [i.to_json() for i in items]}, indent=2))
    else:
        table = Table(title=f"boiler check {config}", show_lines=False)
        table.add_column("item", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for i in items:
            table.add_row(i.item, f"[{_STYLE[i.status]}]{i.status}[/]", i.detail)
        _out.print(table)
        counts = {s: sum(1 for i in items if i.status == s) for s in _STYLE}
        _out.print(", ".join(f"{n} {s}" for s, n in counts.items() if n), highlight=False)
    raise typer.Exit(code)


def install_service(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML file the service runs.")],
    user: Annotated[str, typer.Option("--user", help="System user the service runs as.")] = "boiler",
    unit_dir: Annotated[Path | None, typer.Option("--unit-dir", help="Where to write boiler.service.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the unit instead of writing it.")] = False,
    enable: Annotated[bool, typer.Option("--enable", help="Also run systemctl daemon-reload and enable --now.")]
    = False,
) -> None:
    """Write the systemd unit for this config and say which commands enable it."""
    from boiler.config import ConfigError, load_config, service_problems
    from boiler.config_check import check_buildable
    from boiler.service import systemd

    config = config.absolute()
    try:
        cfg = load_config(config)
        check_buildable(cfg, str(config))
        problems = service_problems(cfg)
        if problems:
            raise ConfigError(f"{config}: `boiler run` would refuse this config:\n  " + "\n  ".join(problems))
        text = systemd.render_unit(cfg, config, user=user)
    except (ConfigError, systemd.UnitError) as exc:
        raise _fail(str(exc)) from exc
    for what, path in systemd.hidden_paths(cfg, config):
        _err.print(f"warning: {what} {path} is under a folder the unit hides (PrivateTmp=yes gives the service "
                   "an empty private /tmp and /var/tmp): the service will not see it, and what it writes there "
                   "vanishes at each stop; move it, e.g. to /etc/boiler, /opt/boiler or /var/lib/boiler",
                   highlight=False, soft_wrap=True)
    for what, path, closed in systemd.unreachable_paths(config, user):
        _err.print(f"warning: {what} {path} is out of reach of user {user}: it may not enter {closed}; move it, "
                   "or open that folder to the user", highlight=False, soft_wrap=True)
    for path in systemd.writable_paths(cfg):
        _err.print(f"note: {path} is outside {systemd.STATE_DIR}; the unit makes it writable (ReadWritePaths)",
                   highlight=False)
    if dry_run:
        print(text, end="")
        return
    target_dir = unit_dir or systemd.DEFAULT_UNIT_DIR
    try:
        path = systemd.install_unit(text, target_dir)
    except OSError as exc:
        hint = " (run it as root, or use --unit-dir or --dry-run)" if isinstance(exc, PermissionError) else ""
        raise _fail(f"cannot write {target_dir / systemd.UNIT_NAME}: {exc.strerror or exc}{hint}", code=1) from exc
    _out.print(f"wrote {path}", highlight=False)
    if enable:
        import pwd

        try:
            pwd.getpwnam(user)
        except KeyError:
            first = systemd.next_steps(user, config, target_dir)[0]
            raise _fail(f"user {user} does not exist; create it first: {first}", code=1) from None
        for result in systemd.run_enable():
            shown = " ".join(result.args)
            if result.returncode != 0:
                raise _fail(f"{shown} failed ({result.returncode}): {result.stderr.strip()}", code=1)
            _out.print(f"ran: {shown}", highlight=False)
        return
    _out.print("next, as root:", highlight=False)
    for step in systemd.next_steps(user, config, target_dir):
        _out.print(f"  {step}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("check")(check)
    app.command("install-service")(install_service)
