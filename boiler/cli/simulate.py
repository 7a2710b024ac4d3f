"""`boiler simulate`, `boiler scenarios`, `boiler config schema|validate`.

Exit codes: 0 ok, 1 the run found a failure (hot water below the setpoint or hygiene rules
broken), 2 bad input (config, scenario, flags).
"""

from __future__ import annotations

import json
import math
import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from boiler import scenarios
from boiler.config import ConfigError, PlantConfig, config_json_schema, load_config
from boiler.config_check import check_buildable
from boiler.site_time import DEFAULT_START
from boiler.timefmt import human_duration
from tank.water import S_PER_DAY

_out = Console()
_err = Console(stderr=True)

#: What `--plot` writes (matplotlib's Agg backend picks the format from the suffix).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(scenario: str | None, config: Path | None) -> tuple[str, PlantConfig]:
    if (scenario is None) == (config is None):
        raise _fail("give exactly one of --scenario NAME or --config FILE")
    try:
        if scenario is not None:
            return scenario, scenarios.load(scenario)
        assert config is not None
        return config.stem, load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


def simulate(
    scenario: Annotated[str | None, typer.Option("--scenario", "-s", help="Built-in scenario name.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Plant config YAML file.")] = None,
    days: Annotated[float, typer.Option("--days", "-d", help="Simulated days.", min=0.01, max=3660)] = 7.0,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD (local midnight).")] = None,
    strategy: Annotated[str | None, typer.Option(
        "--strategy", help="rule, thermostat, mpc; optimum, mpc_oracle: yardsticks; default from config."
    )] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the stochastic draw profile.", min=0)] = 1,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary as JSON here.")] = None,
    plot_path: Annotated[Path | None, typer.Option("--plot", help="Write a PNG plot here.")] = None,
    ledger_path: Annotated[Path | None, typer.Option("--ledger", help="Write hourly ledger rows (CSV).")] = None,
    hygiene_path: Annotated[Path | None, typer.Option("--hygiene-log", help="Write the compliance log (CSV).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress bar.")] = False,
) -> None:
    """Run the controller against the simulated plant and report hot water, energy and money."""
    from boiler.simulation import STRATEGIES, run_simulation  # imported here: `boiler --help` stays fast

    name, cfg = _load(scenario, config)
    if strategy is not None and strategy not in STRATEGIES:
        raise _fail(f"--strategy {strategy!r} is not known; choose one of {', '.join(STRATEGIES)}")
    try:
        first_day = date.fromisoformat(start) if start else DEFAULT_START
    except ValueError as exc:
        raise _fail(f"--start {start!r} is not a date in YYYY-MM-DD form") from exc
    for flag, path in (("--json", json_path), ("--plot", plot_path), ("--ledger", ledger_path),
                       ("--hygiene-log", hygiene_path)):
        if path is not None:
            _check_writable(flag, path)
    if plot_path is not None and plot_path.suffix.lower() not in PLOT_SUFFIXES:
        raise _fail(f"--plot {plot_path}: unsupported file type {plot_path.suffix or '(none)'!r}; "
                    f"use one of {', '.join(PLOT_SUFFIXES)}")
    try:
        check_buildable(cfg, f"scenario {name}" if scenario is not None else str(config), days=days,
                        start=first_day, seed=seed, strategy=strategy if strategy != "optimum" else None)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc

    show_progress = not quiet and days >= 3
    with Progress(TextColumn("simulating {task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=_err, transient=True, disable=not show_progress) as bar:
        task = bar.add_task(f"{name}, {days:g} days", total=1.0)
        result = run_simulation(cfg, days, first_day, scenario=name, strategy=strategy, seed=seed,
                                progress=lambda f: bar.update(task, completed=f))
    s = result.summary
    try:
        if json_path is not None:
            json_path.write_text(json.dumps(s, indent=2, default=_json_default) + "\n", encoding="utf-8")
        if plot_path is not None:
            from boiler.plot import plot_trace

            plot_trace(result.trace, plot_path, f"{name} — {s['strategy']} — {days:g} days from {first_day}")
        if ledger_path is not None:
            _write_ledger(result.ledger, ledger_path, cfg.site.name)
        if hygiene_path is not None:
            result.hygiene.to_csv(hygiene_path)
    except OSError as exc:  # checked before the run; a disk can still fill up or a folder vanish
        raise _fail(f"cannot write {exc.filename or 'an output file'}: {exc.strerror or exc}", code=1) from exc
    if not quiet:
        _out.print(summary_table(s))
    print_warnings(s)
    why = failure_reasons(s)
    if why:
        _err.print(f"failed: {why}", highlight=False)
        raise typer.Exit(1)


def failure_reasons(s: dict[str, object]) -> str:
    """Why a run exits 1, in one line; empty when it passed."""
    reasons = []
    below_l = float(s["dhw_volume_below_setpoint_l"])  # type: ignore[arg-type]
    if below_l > 0:
        low = s.get("min_outlet_temp_c")
        reasons.append(f"{below_l:,.0f} L of hot water drawn below the setpoint"
                       + (f" (lowest outlet {float(low):.1f} °C)" if isinstance(low, int | float) else ""))
    if not s["legionella_compliant"]:
        reasons.append(f"hygiene rules broken ({s.get('hygiene_violations', '?')} violation(s))")
    return "; ".join(reasons)


def _check_writable(flag: str, path: Path) -> None:
    """Exit 2 before a long run if an output file cannot be written where asked."""
    if path.is_dir():
        raise _fail(f"{flag} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise _fail(f"{flag} {path}: cannot write it, folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _fail(f"{flag} {path}: cannot write it (permission denied)")


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"cannot encode {type(value).__name__}")


def _write_ledger(rows: list, path: Path, site: str) -> None:
    import csv
    from datetime import UTC, datetime

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = None
        for row in rows:
            d = row.as_dict()
            d = {"site": site, "start": datetime.fromtimestamp(d.pop("start_s"), UTC).isoformat(),
                 "end": datetime.fromtimestamp(d.pop("end_s"), UTC).isoformat(), **d}
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(d))
                writer.writeheader()
            writer.writerow(d)


def print_warnings(s: dict[str, object]) -> None:
    """What degraded during the run, on stderr, also under --quiet (see the summary's `warnings`)."""
    for warning in s.get("warnings") or []:  # type: ignore[union-attr]
        _err.print(f"[yellow]warning:[/yellow] {warning}")


def summary_table(s: dict[str, object]) -> Table:
    span = human_duration(float(s["days"]) * S_PER_DAY)  # type: ignore[arg-type]
    t = Table(title=f"{s['scenario']} · strategy {s['strategy']} · {span} from {s['start']}",
              show_header=True, header_style="bold")
    t.add_column("", style="bold")
    t.add_column("value", justify="right")
    t.add_column("", style="dim")

    def row(label: str, key: str, fmt: str, unit: str) -> None:
        value = s.get(key)
        t.add_row(label, "–" if value is None else format(value, fmt), unit)

    t.add_section()
    row("Hot water drawn", "dhw_volume_l", ",.0f", "L")
    row("  drawn below the setpoint", "dhw_volume_below_setpoint_l", ",.0f", "L")
    row("  lowest outlet temperature", "min_outlet_temp_c", ".1f", "°C")
    row("  mean outlet, outside legionella cycles", "mean_outlet_temp_c", ".1f", "°C")
    row("  lowest loop return", "min_loop_return_c", ".1f", "°C")
    t.add_row("  hygiene rules", "met" if s["legionella_compliant"] else "[red]BROKEN[/red]",
              f"{s['hygiene_preset']}, {s['hygiene_violations']} violation(s), "
              f"{s['legionella_cycles_passed']} cycle(s)")
    t.add_section()
    row("Heat to taps", "dhw_heat_kwh", ",.1f", "kWh")
    row("Heat from miners", "heat_from_miners_kwh", ",.1f", "kWh")
    row("Heat from gas", "heat_from_gas_kwh", ",.1f", "kWh")
    t.add_row("  miners' share", f"{100 * float(s['miner_heat_share']):.0f} %", "")  # type: ignore[arg-type]
    row("Heat dumped", "heat_dumped_kwh", ",.1f", "kWh")
    row("Tank losses", "tank_losses_kwh", ",.1f", "kWh")
    row("Loop losses", "loop_losses_kwh", ",.1f", "kWh")
    row("Energy balance error", "energy_balance_error_kwh", ".2e", "kWh")
    t.add_section()
    row("Electricity to miners", "electricity_kwh", ",.1f", "kWh")
    row("Gas burnt (PCI)", "gas_fuel_kwh", ",.1f", "kWh")
    row("Mining revenue", "mining_revenue_eur", ",.2f", "EUR")
    row("Electricity cost", "electricity_cost_eur", ",.2f", "EUR")
    row("Gas cost", "gas_cost_eur", ",.2f", "EUR")
    row("Net cost", "net_cost_eur", ",.2f", "EUR")
    row("Bitcoin mined", "btc_mined", ".6f", "BTC")
    row("CO₂", "co2_kg", ",.0f", "kg")
    t.add_section()
    row("Gas boiler alone: gas burnt", "baseline_gas_fuel_kwh", ",.1f", "kWh")
    row("  its gas cost", "baseline_gas_cost_eur", ",.2f", "EUR")
    row("  its CO₂", "baseline_co2_kg", ",.0f", "kg")
    row("Saved against gas alone", "savings_eur", ",.2f", "EUR")
    row("CO₂ avoided", "co2_avoided_kg", ",.0f", "kg")
    t.add_section()
    decided = s.get("decided_by") or {}
    if decided:
        total = sum(decided.values())  # type: ignore[union-attr]
        t.add_row("Ticks decided by", ", ".join(f"{who} {100 * n / total:.1f} %"  # type: ignore[union-attr]
                                                 for who, n in sorted(decided.items(), key=lambda kv: -kv[1])), "")
    row("Power-limit changes", "power_limit_changes", "d", "")
    row("Gas burner starts", "gas_starts", "d", "")
    row("Wall time", "wall_seconds", ".2f", "s")
    return t


def list_scenarios(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the built-in scenarios."""
    described = scenarios.describe()
    if json_out:
        _out.print_json(json.dumps(described))
        return
    t = Table(show_header=True, header_style="bold")
    t.add_column("scenario")
    t.add_column("description")
    for name, text in described.items():
        t.add_row(name, text)
    _out.print(t)


config_app = typer.Typer(help="Plant configuration: JSON Schema and validation.", no_args_is_help=True)


@config_app.command("schema")
def config_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Export the JSON Schema of the config file (for editors)."""
    text = json.dumps(config_json_schema(), indent=2)
    if output is None:
        print(text)
        return
    _check_writable("--output", output)
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", code=1) from exc


@config_app.command("validate")
def config_validate(path: Annotated[Path, typer.Argument(help="Config YAML file.")]) -> None:
    """Check a config file and build one day of its simulation; exit 2 with the field path if it is not valid."""
    try:
        cfg = load_config(path)
        check_buildable(cfg, str(path))
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    _out.print(f"[green]ok[/green] {path}: site {cfg.site.name}, {len(cfg.tanks)} tank(s), "
               f"{len(cfg.miners)} miner(s), strategy {cfg.control.strategy_name}; one simulated day built")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("scenarios")(list_scenarios)
    app.add_typer(config_app, name="config")
