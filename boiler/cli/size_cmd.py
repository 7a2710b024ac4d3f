"""`boiler size`: which miners and which store for a building, or the best for each site of a portfolio.

Exit codes: 0 ok, 1 a candidate could not be simulated or no candidate is feasible, 2 bad input (the
building's config, the sizing or sites file, the options: each message names the field's path).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

_out = Console()
_err = Console(stderr=True)
log = logging.getLogger("boiler.sizing")


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _split(option: str, text: str | None, kind: type) -> list[Any] | None:
    if text is None:
        return None
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise _fail(f"{option} {text!r}: give at least one value, comma-separated")
    try:
        return [kind(x) for x in items]
    except ValueError as exc:
        raise _fail(f"{option} {text!r}: each value must be a {kind.__name__}, comma-separated") from exc


def size(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The building's plant config YAML.")] = None,
    sizing: Annotated[Path | None, typer.Option("--sizing", help="Sizing file: ranges, period, capital, finance.")]
    = None,
    portfolio: Annotated[Path | None, typer.Option(
        "--portfolio", help="Sites file: many buildings, the best feasible candidate for each.")] = None,
    models: Annotated[str | None, typer.Option("--models", help="Miner models to try, comma-separated.")] = None,
    counts: Annotated[str | None, typer.Option("--counts", help="Numbers of miners to try, e.g. 1,2,3.")] = None,
    volumes: Annotated[str | None, typer.Option("--volumes-l", help="Store volumes to try, litres, e.g. 1500,3000.")]
    = None,
    layouts: Annotated[str | None, typer.Option("--layouts", help="single, preheat (comma-separated).")] = None,
    strategies: Annotated[str | None, typer.Option("--strategies", help="rule, thermostat, mpc (comma-separated).")]
    = None,
    days: Annotated[float | None, typer.Option("--days", help="Simulated days per candidate (default a year).")]
    = None,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD.")] = None,
    weeks: Annotated[str | None, typer.Option(
        "--weeks", help="Representative weeks instead of a period: 'seasons' (4) or first days, comma-separated."
    )] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the draws, the same for every candidate.")]
    = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Local processes (default: the cores).")]
    = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on a Dask cluster instead, e.g. tcp://HOST:8786.")] = None,
    cache: Annotated[Path, typer.Option("--cache", help="Folder of cached results (a re-run resumes).")]
    = Path(".boiler-size-cache"),
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Simulate everything, store nothing.")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write every candidate as JSON here.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write every candidate as CSV here.")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write PNG plots into this folder.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows in the table.")] = 20,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress bar.")] = False,
) -> None:
    """Size miners and store for a building (or each site of a portfolio): simulate every candidate with the
    real controller, rank them by net present value, and say which pay back."""
    # imported here: `boiler --help` stays fast
    from boiler.config import ConfigError, load_config
    from boiler.sizing import SizingError, load_sizing, parse_sizing, plan, reference_of
    from boiler.sizing.portfolio import deep_merge, load_portfolio
    from boiler.sizing.spec import read_yaml

    if (config is None) == (portfolio is None):
        raise _fail("give exactly one of --config BUILDING.yaml or --portfolio SITES.yaml")
    if portfolio is not None and sizing is not None:
        raise _fail("with --portfolio, name the sizing file in the sites file (`sizing:`), not with --sizing")
    for path in (json_path, csv_path):
        if path is not None and not path.parent.exists():
            raise _fail(f"cannot write {path}: folder {path.parent} does not exist")
    cli = _cli_sizing(models, counts, volumes, layouts, strategies, days, start, seed, weeks)
    try:
        if portfolio is not None:
            if cli.get("miners") == "building" or any(m["counts"] == "building" for m in cli.get("miners", [])):
                raise _fail("with --portfolio, give --models and --counts together")
            studies = load_portfolio(portfolio, cli).studies
            title = portfolio.stem
        else:
            assert config is not None
            building = load_config(config)
            if cli.get("miners") == "building":  # --counts alone: the building's model
                cli["miners"] = [{"model": reference_of(building).model, "counts": cli.pop("_counts")}]
            for option in cli.get("miners", []):  # --models alone: the building's count
                if option["counts"] == "building":
                    option["counts"] = [reference_of(building).count]
            cli.pop("_counts", None)
            base = read_yaml(sizing) if sizing is not None else {}
            if sizing is not None and not isinstance(base, dict):
                load_sizing(sizing)  # raises the file's own error
            source = f"{sizing or 'defaults'}" + (" + command line" if cli else "")
            spec = parse_sizing(deep_merge(base or {}, cli), source)
            studies = [plan(building.site.name, building, spec)]
            title = building.site.name
    except (ConfigError, SizingError, ValueError) as exc:
        raise _fail(str(exc)) from exc

    backend = _backend(scheduler, workers)
    tasks = [t for s in studies for t in s.tasks]
    try:
        outcome = _run(tasks, backend, None if no_cache else cache, quiet)
    finally:
        if scheduler is not None:
            backend.close()
    scored = {s.site: s.scores(outcome) for s in studies}
    _warn(studies)
    for rows in scored.values():
        for row in rows:
            if row.warnings:
                _err.print(f"[yellow]warning:[/yellow] {row.site} {row.label}: {row.warnings}", highlight=False)
    if portfolio is not None:
        code = _portfolio_output(studies, scored, outcome, backend, title, json_path, csv_path, plots, top, quiet)
    else:
        code = _building_output(studies[0], scored[studies[0].site], outcome, backend, title, json_path, csv_path,
                                plots, top, quiet)
    if outcome.failed:
        for key, message in outcome.failed.items():
            _err.print(f"[red]candidate {key} failed:[/red] {message}", highlight=False)
        code = 1
    if code:
        raise typer.Exit(code)


def _cli_sizing(models: str | None, counts: str | None, volumes: str | None, layouts: str | None,
                strategies: str | None, days: float | None, start: str | None, seed: int | None,
                weeks: str | None) -> dict[str, Any]:
    """The command line's options as a sizing-file mapping (they override the file's)."""
    from boiler.sizing.weeks import SEASON_WEEKS

    cli: dict[str, Any] = {}
    model_list = _split("--models", models, str)
    count_list = _split("--counts", counts, int)
    if model_list is not None:
        cli["miners"] = [{"model": m, "counts": count_list or "building"} for m in model_list]
    elif count_list is not None:
        cli["miners"] = "building"  # the building's model, resolved once it is loaded
        cli["_counts"] = count_list
    for key, option, text, kind in (("store_volume_l", "--volumes-l", volumes, float),
                                    ("layout", "--layouts", layouts, str),
                                    ("strategy", "--strategies", strategies, str)):
        values = _split(option, text, kind)
        if values is not None:
            cli[key] = values
    period: dict[str, Any] = {}
    if days is not None:
        period["days"] = days
    if start is not None:
        try:
            period["start"] = date.fromisoformat(start)
        except ValueError as exc:
            raise _fail(f"--start {start!r} is not a date in YYYY-MM-DD form") from exc
    if weeks is not None:
        if weeks.strip() == "seasons":
            period["representative_weeks"] = list(SEASON_WEEKS)
        else:
            try:
                period["representative_weeks"] = [date.fromisoformat(d) for d in _split("--weeks", weeks, str) or []]
            except ValueError as exc:
                raise _fail(f"--weeks {weeks!r}: 'seasons' or first days as YYYY-MM-DD, comma-separated") from exc
    if period:
        cli["period"] = period
    if seed is not None:
        cli["seed"] = seed
    return cli


def _backend(scheduler: str | None, workers: int | None) -> Any:
    from boiler.sizing import LocalPool

    if scheduler is None:
        return LocalPool(workers)
    if workers is not None:
        raise _fail("--workers is for the local pool; a Dask cluster has the workers it was started with")
    try:
        from boiler.sizing.dask_backend import DaskCluster
    except ImportError as exc:
        raise _fail(f"--scheduler needs Dask distributed ({exc}); install the extra: "
                    "pip install 'mining-boiler[cluster]'") from exc
    try:
        return DaskCluster.connect(scheduler)
    except (ConnectionError, ValueError) as exc:
        raise _fail(str(exc)) from exc


def _run(tasks: list, backend: Any, cache_dir: Path | None, quiet: bool) -> Any:
    from boiler.sizing import ResultCache, run_tasks

    cache = ResultCache(cache_dir) if cache_dir is not None else None
    columns = (TextColumn("simulating candidates"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=_err, transient=True, disable=quiet) as bar:
        task_id = bar.add_task("candidates", total=None)

        def progress(done: int, todo: int) -> None:
            bar.update(task_id, completed=done, total=todo)

        try:
            outcome = run_tasks(tasks, backend, cache, progress)
        except KeyboardInterrupt:
            _err.print("[yellow]interrupted:[/yellow] finished candidates are in the cache; run again to resume")
            raise typer.Exit(130) from None
    if cache is not None:
        for path in cache.unreadable:
            _err.print(f"[yellow]warning:[/yellow] cached result {path} could not be used; simulated again")
    if not quiet:
        _err.print(f"{len(tasks)} simulation(s): {outcome.cached} from the cache, {outcome.computed} simulated "
                   f"({backend.name}, {backend.workers} worker(s)), {len(outcome.failed)} failed")
    return outcome


def _warn(studies: list) -> None:
    examples = sorted({name for s in studies for name in s.spec.capital.examples_used()})
    if examples:
        _err.print(f"[yellow]warning:[/yellow] capital uses EXAMPLE figures for {', '.join(examples)}: not quotes; "
                   "put real prices in the sizing file's `capital:` (sources in --json, docs/sizing.md)")
    weekly = sorted({len(s.spec.period.representative_weeks) for s in studies if s.spec.period.representative_weeks})
    if weekly:
        _err.print(f"[yellow]warning:[/yellow] figures per year are scaled from {', '.join(map(str, weekly))} "
                   "representative week(s), not a year (their error against full years: docs/sizing.md)")
    short = sorted({s.spec.period.days for s in studies
                    if s.spec.period.days != 365 and not s.spec.period.representative_weeks})
    if short:
        _err.print(f"[yellow]warning:[/yellow] figures per year are scaled from {', '.join(f'{d:g}' for d in short)} "
                   "simulated day(s), not a year")


def _meta(studies: list, outcome: Any, backend: Any) -> dict[str, Any]:
    from boiler.sizing.capital import EXAMPLE_SOURCES

    spec = studies[0].spec
    return {
        "period": {"simulated_days": spec.period.simulated_days,
                   "windows": [{"start": d.isoformat(), "days": n} for d, n in spec.period.windows()]},
        "seed": spec.seed,
        "finance": spec.finance.model_dump(), "capital": spec.capital.model_dump(),
        "capital_examples_used": {k: EXAMPLE_SOURCES[k] for k in spec.capital.examples_used()},
        "backend": {"name": backend.name, "workers": backend.workers},
        "cached": outcome.cached, "computed": outcome.computed, "failed": dict(outcome.failed),
    }


def _building_output(study: Any, rows: list, outcome: Any, backend: Any, title: str, json_path: Path | None,
                     csv_path: Path | None, plots: Path | None, top: int, quiet: bool) -> int:
    from boiler.sizing import ranked
    from boiler.sizing.report import ranked_table, rows_json, write_csv, write_json

    order = ranked(rows)
    if json_path is not None:
        write_json(json_path, {"site": study.site, **_meta([study], outcome, backend), "candidates": rows_json(order)})
    if csv_path is not None:
        write_csv(csv_path, order)
    if plots is not None:
        from boiler.sizing.plots import write_plots

        for path in write_plots(order, plots, title):
            _err.print(f"wrote {path}")
    if not quiet:
        spec = study.spec
        period = spec.period
        span = (f"{len(period.representative_weeks)} representative weeks" if period.representative_weeks
                else f"{period.days:g} days from {period.start}")
        _out.print(ranked_table(order, f"{title}: {len(order)} candidate(s), {span}, seed {spec.seed}; NPV over "
                                       f"{spec.finance.life_years} years at {100 * spec.finance.discount_rate:g} %",
                                top))
    if not any(r.feasible for r in order):
        _err.print("[red]no candidate is feasible[/red] (each one drew water below the setpoint or broke hygiene)")
        return 1
    return 0


def _portfolio_output(studies: list, scored: dict, outcome: Any, backend: Any, title: str, json_path: Path | None,
                      csv_path: Path | None, plots: Path | None, top: int, quiet: bool) -> int:
    from boiler.sizing import ranked
    from boiler.sizing.portfolio import best_per_site, totals
    from boiler.sizing.report import rows_json, write_csv, write_json

    bests = best_per_site(scored)
    sums = totals(bests)
    every = [r for rows in scored.values() for r in ranked(rows)]
    if json_path is not None:
        write_json(json_path, {**_meta(studies, outcome, backend), "totals": sums,
                               "sites": [{"site": b.site, "candidates": b.candidates, "feasible": b.feasible,
                                          "best": rows_json([b.best])[0] if b.best else None} for b in bests],
                               "candidates": rows_json(every)})
    if csv_path is not None:
        write_csv(csv_path, every)
    if plots is not None:
        from boiler.sizing.plots import write_portfolio_plots

        for path in write_portfolio_plots([b.best for b in bests if b.best is not None], plots, title):
            _err.print(f"wrote {path}")
    if not quiet:
        t = Table(title=f"{title}: best feasible candidate per site, soonest payback first", header_style="bold")
        for name in ("#", "site", "best candidate", "feasible", "saved €/yr", "capital €", "payback yr", "NPV €",
                     "CO₂ avoided t/yr"):
            t.add_column(name, justify="left" if name in ("site", "best candidate") else "right")
        for i, b in enumerate(bests[: max(top, 1)], 1):
            r = b.best
            if r is None:
                t.add_row(str(i), b.site, "[red]none feasible[/red]", f"0/{b.candidates}", "–", "–", "–", "–", "–")
                continue
            t.add_row(str(i), b.site, r.label, f"{b.feasible}/{b.candidates}", f"{r.savings_eur_per_year:,.0f}",
                      f"{r.capital_eur:,.0f}", "never" if r.payback_years is None else f"{r.payback_years:.1f}",
                      f"{r.npv_eur:,.0f}", f"{r.co2_avoided_kg_per_year / 1000:,.1f}")
        t.add_section()
        payback = sums["capital_eur"] / sums["savings_eur_per_year"] if sums["savings_eur_per_year"] > 0 else None
        t.add_row("", "[bold]portfolio[/bold]", f"{sums['miners']} miners",
                  f"{sums['sites'] - sums['sites_without_feasible_candidate']}/{sums['sites']} sites",
                  f"{sums['savings_eur_per_year']:,.0f}", f"{sums['capital_eur']:,.0f}",
                  "never" if payback is None else f"{payback:.1f}", f"{sums['npv_eur']:,.0f}",
                  f"{sums['co2_avoided_kg_per_year'] / 1000:,.1f}")
        _out.print(t)
    return 1 if sums["sites_without_feasible_candidate"] else 0


def register(app: typer.Typer) -> None:
    app.command("size")(size)
