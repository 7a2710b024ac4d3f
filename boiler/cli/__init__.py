"""The `boiler` command: one typer app, each command group in its own module."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from boiler.cli import check_cmd, dashboards_cmd, emulate, miners_cmd, report_cmd, service_cmd, simulate, size_cmd

app = typer.Typer(
    name="boiler",
    help="Controller for mining hot-water boilers: hydro miners heat sanitary hot water, gas is the backup.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (simulate, service_cmd, check_cmd, emulate, miners_cmd, report_cmd, dashboards_cmd, size_cmd):
    module.register(app)

DISTRIBUTION = "mining-boiler"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        print(f"boiler {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", callback=_print_version, is_eager=True)] = False,
) -> None:
    """Controller for mining hot-water boilers: hydro miners heat sanitary hot water, gas is the backup."""


def main() -> None:
    app()
