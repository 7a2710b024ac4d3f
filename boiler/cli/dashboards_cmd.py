"""`boiler dashboards export DIR`: the Grafana provisioning tree (datasource, provider, dashboards).

Exit codes: 0 written, 1 the tree could not be written, 2 bad input (or the `dashboards` extra
is not installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

_out = Console()
_err = Console(stderr=True)

dashboards_app = typer.Typer(help="Grafana dashboards for landlords and installers.", no_args_is_help=True)


@dashboards_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Where to write provisioning/ and dashboards/.",
                                              file_okay=False)],
    dashboards_path: Annotated[str | None, typer.Option(
        "--dashboards-path",
        help="Where Grafana will read the dashboards JSON (the provider's path); default: DIR/dashboards.")] = None,
) -> None:
    """Write the provisioning tree for an existing Grafana (docs/grafana.md says how to point it at it)."""
    try:
        from boiler.dashboards.export import write_tree
    except ImportError as exc:
        _err.print("[red]error:[/red] " + escape(f"the dashboards need the extra: pip install "
                                                 f"'mining-boiler[dashboards]' ({exc})"), highlight=False)
        raise typer.Exit(2) from exc
    try:
        written = write_tree(directory, dashboards_path)
    except ValueError as exc:
        _err.print("[red]error:[/red] " + escape(str(exc)), highlight=False)
        raise typer.Exit(2) from exc
    except OSError as exc:
        _err.print("[red]error:[/red] " + escape(f"cannot write {directory}: {exc}"), highlight=False)
        raise typer.Exit(1) from exc
    root = directory.resolve()
    for path in written:
        _out.print(escape(str(path.relative_to(root))), highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(dashboards_app, name="dashboards")
