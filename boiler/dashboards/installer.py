"""The installer's dashboard: the tank's layers, each miner, the gas boiler, and what the
controller decided and why (annotations). Default range: the last 24 hours."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, ValueMap, ValueMappingResult

from boiler.dashboards import queries as q
from boiler.dashboards.annotations import influxql_annotation
from boiler.dashboards.influxql import InfluxQL
from boiler.dashboards.panels import HOT_WATER_STEPS, PanelBuilder, bars_panel, lines_panel, states_panel
from boiler.dashboards.variables import site
from boiler.telemetry.schema import MINER_STATE_CODES

UID: Final = "boiler-installer"
TITLE: Final = "Mining boiler: plant room"

_STATE_COLOURS: Final = {0: "blue", 1: "green", 2: "yellow", 3: "orange", 4: "red", 5: "dark-red", -1: "purple"}
_BY_TIME_SITE: Final = 'time($__interval), "site" fill(null)'
_BY_TIME_MINER: Final = 'time($__interval), "site", "miner" fill(null)'


def _state_names() -> dict[int, str]:
    """One label per state code (the schema maps several driver/model names to one code)."""
    names: dict[int, list[str]] = {}
    for name, code in MINER_STATE_CODES.items():
        names.setdefault(code, []).append(name)
    names[-1] = ["other"]
    return {code: " / ".join(labels) for code, labels in sorted(names.items())}


def _tank() -> list[PanelBuilder]:
    return [
        lines_panel(2, "Tank temperatures by layer", "Each tank sensor: a stratified tank is hot at the top and "
                    "cool at the bottom; the miners heat from the bottom, gas tops up the top.", "celsius",
                    [InfluxQL("A", q.tank('mean("temp_c")', group_by='time($__interval), "site", "sensor" fill(null)'),
                              alias="$tag_site $tag_sensor")], width=16, height=9),
        lines_panel(3, "Outlet, loop return and cold water", "Water leaving for the building, coming back from "
                    "its loop, and the mains supply.", "celsius",
                    [InfluxQL("A", q.plant('mean("outlet_c") AS "outlet", mean("loop_return_c") AS "loop return", '
                                           'mean("cold_water_c") AS "cold water"', group_by=_BY_TIME_SITE),
                              alias="$tag_site $col")], steps=HOT_WATER_STEPS, show_thresholds=True,
                    width=8, height=9),
    ]


def _miners() -> list[PanelBuilder]:
    state_map = ValueMap(options={
        str(code): ValueMappingResult(text=label, color=_STATE_COLOURS[code], index=i)
        for i, (code, label) in enumerate(_state_names().items())
    })
    return [
        lines_panel(5, "Miner power and power limit", "Electrical power of each miner and the limit the "
                    "controller set.", "watt",
                    [InfluxQL("A", q.miner('mean("power_w") AS "power", mean("power_limit_w") AS "limit"',
                                           group_by=_BY_TIME_MINER), alias="$tag_miner $col")], width=12),
        lines_panel(6, "Miner hashrate", "Hashrate of each miner.", "THs",
                    [InfluxQL("A", q.miner('mean("hashrate_ths")', group_by=_BY_TIME_MINER),
                              alias="$tag_miner")], width=12),
        lines_panel(7, "Coolant in and out", "Coolant into the miners (after the plate exchanger) and out of "
                    "them, for the fleet.", "celsius",
                    [InfluxQL("A", q.plant('mean("coolant_in_c") AS "coolant in", mean("coolant_out_c") AS '
                                           '"coolant out"', group_by=_BY_TIME_SITE), alias="$tag_site $col")],
                    width=12),
        states_panel(8, "Miner state", "What each miner reported: mining, sleeping, restarting, unreachable…",
                     [InfluxQL("A", q.miner('last("state_code")', group_by=_BY_TIME_MINER),
                               alias="$tag_site $tag_miner")], [state_map], width=12, height=8),
    ]


def _gas() -> list[PanelBuilder]:
    firing_map = ValueMap(options={
        "true": ValueMappingResult(text="firing", color="orange", index=0),
        "false": ValueMappingResult(text="off", color="transparent", index=1),
    })
    return [
        states_panel(10, "Gas burner firing", "When the gas boiler was burning.",
                     [InfluxQL("A", q.plant('last("gas_firing")', group_by=_BY_TIME_SITE), alias="$tag_site")],
                     [firing_map], width=12, height=6),
        bars_panel(11, "Heat per hour by source", "Heat into the hot water each hour, from the miners and from "
                   "gas (the hourly ledger).", "kwatth",
                   [InfluxQL("A", q.ledger('"heat_from_miners_kwh" AS "miners", "heat_from_gas_kwh" AS "gas"',
                                           group_by='"site"'), alias="$tag_site $col")],
                   stacked=True, width=12, height=6),
    ]


def _annotations() -> list[dashboard.AnnotationQuery]:
    return [
        influxql_annotation("Safety overrides", q.decision('"reason", "strategy"', where='"safety_override" = true'),
                            text_column="reason", tags_column="strategy", color="red"),
        influxql_annotation("Forced commands (safety cut)", q.decision('"reason", "strategy"', where='"force" = true'),
                            text_column="reason", tags_column="strategy", color="orange"),
        influxql_annotation("Hygiene events", q.compliance('"detail", "kind"'), text_column="detail",
                            tags_column="kind", color="purple"),
        # One decision point per tick today: off by default until decisions are written on change only.
        influxql_annotation("Controller decisions", q.decision('"reason", "strategy"'), text_column="reason",
                            tags_column="strategy", color="blue", enabled=False),
    ]


def build() -> dashboard.Dashboard:
    d = (dashboard.Dashboard(TITLE).uid(UID).tags(["boiler", "installer"])
         .description("Mining hot-water boiler: tank layers, miners, gas boiler and the controller's decisions.")
         .time("now-24h", "now").timezone("browser").tooltip(DashboardCursorSync.CROSSHAIR).refresh("1m")
         .with_variable(site()))
    for annotation in _annotations():
        d = d.annotation(annotation)
    for row_id, title, panels in ((1, "Tank", _tank()), (4, "Miners", _miners()), (9, "Gas boiler", _gas())):
        d = d.with_row(dashboard.Row(title).id(row_id))
        for panel in panels:
            d = d.with_panel(panel)
    return d
