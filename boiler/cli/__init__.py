"""The `boiler` command: one typer app, each command group in its own module."""

from __future__ import annotations

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


def main() -> None:
    app()
