"""The landlord's dashboard: what the hot water cost this month, what it saved against gas alone,
and the proof that it stayed hot enough to be safe. Words for someone who has never heard of
hashrate; default range: this month."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataTransformerConfig, Threshold

from boiler.dashboards import queries as q
from boiler.dashboards.influxql import InfluxQL
from boiler.dashboards.panels import (
    HOT_WATER_STEPS,
    PanelBuilder,
    bars_panel,
    lines_panel,
    per_site_table,
    ratio_table,
    stat_panel,
)
from boiler.dashboards.variables import site, time_zone

UID: Final = "boiler-landlord"
TITLE: Final = "Hot water: cost, savings and safety"

_GOOD_IF_POSITIVE: Final = (Threshold(value=None, color="orange"), Threshold(value=0.0, color="green"))
_NO_LITRES: Final = (Threshold(value=None, color="green"), Threshold(value=1.0, color="red"))
_NO_EVENTS: Final = (Threshold(value=None, color="green"), Threshold(value=1.0, color="red"))


def _sum(field: str) -> str:
    return f'sum("{field}")'


def _totals() -> list[PanelBuilder]:
    return [
        stat_panel(2, "Hot water delivered", "Hot water drawn at the taps of the selected buildings.", "m3",
                   [InfluxQL("A", q.ledger(f"{_sum('dhw_volume_l')} / 1000"))], decimals=1),
        stat_panel(3, "Heat from the miners", "Heat the computers put into the hot water.", "kwatth",
                   [InfluxQL("A", q.ledger(_sum("heat_from_miners_kwh")))], decimals=0),
        stat_panel(4, "Heat from the gas boiler", "Heat the gas boiler added to reach the set temperature.",
                   "kwatth", [InfluxQL("A", q.ledger(_sum("heat_from_gas_kwh")))], decimals=0),
        stat_panel(5, "Miners' share of the heat", "Part of the hot water's heat that came from the miners.",
                   "percent", [InfluxQL("A", q.ledger(
                       f"{_sum('heat_from_miners_kwh')} / ({_sum('heat_from_miners_kwh')} + "
                       f"{_sum('heat_from_gas_kwh')}) * 100"))], decimals=0),
    ]


def _savings() -> list[PanelBuilder]:
    return [
        stat_panel(7, "Money saved against gas alone",
                   "What heating the same hot water with the gas boiler alone would have cost, minus what it "
                   "cost (electricity + gas − mining revenue).", "currencyEUR",
                   [InfluxQL("A", q.ledger(_sum("savings_eur")))], decimals=2, steps=_GOOD_IF_POSITIVE),
        stat_panel(8, "Gas saved", "Gas the boiler alone would have burnt, minus the gas burnt.", "kwatth",
                   [InfluxQL("A", q.ledger(f"{_sum('baseline_gas_fuel_kwh')} - {_sum('gas_fuel_kwh')}"))],
                   decimals=0, steps=_GOOD_IF_POSITIVE),
        stat_panel(9, "Gas bill saved", "The gas bill with the boiler alone, minus the gas bill.", "currencyEUR",
                   [InfluxQL("A", q.ledger(f"{_sum('baseline_gas_cost_eur')} - {_sum('gas_cost_eur')}"))],
                   decimals=2, steps=_GOOD_IF_POSITIVE),
        stat_panel(10, "CO₂ avoided", "CO₂ the gas boiler alone would have emitted, minus what was emitted "
                   "(gas and the miners' electricity).", "masskg",
                   [InfluxQL("A", q.ledger(_sum("co2_avoided_kg")))], decimals=0, steps=_GOOD_IF_POSITIVE),
    ]


def _money() -> list[PanelBuilder]:
    return [
        stat_panel(12, "Mining revenue", "What the miners earned.", "currencyEUR",
                   [InfluxQL("A", q.ledger(_sum("mining_revenue_eur")))], decimals=2, width=5),
        stat_panel(13, "Electricity cost", "The miners' electricity bill.", "currencyEUR",
                   [InfluxQL("A", q.ledger(_sum("electricity_cost_eur")))], decimals=2, width=5),
        stat_panel(14, "Gas cost", "The gas bill for hot water.", "currencyEUR",
                   [InfluxQL("A", q.ledger(_sum("gas_cost_eur")))], decimals=2, width=5),
        stat_panel(15, "Net cost of the hot water", "Electricity + gas − mining revenue.", "currencyEUR",
                   [InfluxQL("A", q.ledger(_sum("net_cost_eur")))], decimals=2, width=5),
        stat_panel(16, "Net cost per m³", "Net cost of the hot water divided by the cubic metres drawn.",
                   "currencyEUR", [InfluxQL("A", q.ledger(f"{_sum('net_cost_eur')} / ({_sum('dhw_volume_l')} "
                                                          "/ 1000)"))], decimals=2, width=4),
        bars_panel(17, "Mining revenue and electricity cost, per day",
                   "Each day's mining revenue next to the miners' electricity bill.", "currencyEUR",
                   [InfluxQL("A", q.ledger_daily(f'{_sum("mining_revenue_eur")} AS "Mining revenue", '
                                                 f'{_sum("electricity_cost_eur")} AS "Electricity cost"'))],
                   stacked=False),
        bars_panel(18, "Heat by source, per day", "Each day's heat from the miners and from the gas boiler.",
                   "kwatth", [InfluxQL("A", q.ledger_daily(f'{_sum("heat_from_miners_kwh")} AS "Miners", '
                                                           f'{_sum("heat_from_gas_kwh")} AS "Gas boiler"'))],
                   stacked=True),
    ]


def _buildings() -> list[PanelBuilder]:
    select = ", ".join((
        f'{_sum("dhw_volume_l")} / 1000 AS "Hot water (m³)"',
        f'{_sum("heat_from_miners_kwh")} AS "Heat from the miners (kWh)"',
        f'{_sum("heat_from_gas_kwh")} AS "Heat from gas (kWh)"',
        f'{_sum("net_cost_eur")} AS "Net cost (EUR)"',
        f'{_sum("savings_eur")} AS "Saved against gas alone (EUR)"',
    ))
    return [per_site_table(20, "Buildings side by side", "This period's figures for each selected building.",
                           [InfluxQL("A", q.ledger(select, group_by='"site"'), result_format="table")])]


def _safety() -> list[PanelBuilder]:
    return [
        lines_panel(22, "Lowest hot-water temperatures",
                    "Lowest temperature of the hot water leaving the tank and of the water coming back from the "
                    "building's loop. Lines: 60 °C target, 55 °C and 50 °C legal floors.", "celsius",
                    [InfluxQL("A", q.plant('min("outlet_c") AS "Leaving the tank", min("loop_return_c") AS '
                                           '"Back from the loop"',
                                           group_by='time($__interval), "site" fill(null)'),
                              alias="$tag_site: $col")],
                    steps=HOT_WATER_STEPS, show_thresholds=True, soft_min=40.0, width=12),
        stat_panel(23, "Lowest temperature leaving the tank", "Coldest hot water sent to the building "
                   "(every moment counted, not only the samples drawn on the left).", "celsius",
                   [InfluxQL("A", q.ledger('min("outlet_min_c")'))], decimals=1, steps=HOT_WATER_STEPS,
                   width=4, height=8),
        stat_panel(24, "Lowest loop return", "Coldest water back from the building's loop.", "celsius",
                   [InfluxQL("A", q.ledger('min("loop_return_min_c")'))], decimals=1, steps=HOT_WATER_STEPS,
                   width=4, height=8),
        stat_panel(25, "Hot water drawn below the set temperature", "Litres drawn while the water leaving the "
                   "tank was below its set temperature.", "litre",
                   [InfluxQL("A", q.ledger(_sum("dhw_volume_below_setpoint_l")))], decimals=0, steps=_NO_LITRES,
                   width=4, height=8),
    ]


def _legionella() -> list[PanelBuilder]:
    return [
        stat_panel(27, "Days with a disinfection cycle passed", "Days on which a tank was held hot long enough "
                   "to kill legionella, per building. Buildings whose water is kept hot enough all the time "
                   "need no cycle: for them, no breaches is the proof.", "none",
                   [InfluxQL("A", q.days_with('count("duration_s")', where="\"kind\" = 'cycle_pass'"),
                             alias="$tag_site")], width=8),
        stat_panel(28, "Failed or missed disinfection cycles", "Cycles that started but did not hold hot long "
                   "enough, or were due and did not happen.", "none",
                   [InfluxQL("A", q.compliance('count("duration_s")', where="\"kind\" =~ /^cycle_(fail|missed)$/"))],
                   steps=_NO_EVENTS, width=8),
        stat_panel(29, "Breaches of the hygiene rules", "Episodes the rules count as a breach (e.g. hot water "
                   "below 55 °C or loop return below 50 °C for too long).", "none",
                   [InfluxQL("A", q.compliance('count("duration_s")', where='"violation" = true'))],
                   steps=_NO_EVENTS, width=8),
    ]


def _miners() -> list[PanelBuilder]:
    group = '"site", "miner"'
    targets = [
        InfluxQL("A", q.miner('count("available") AS "polls"', group_by=group), result_format="table"),
        InfluxQL("B", q.miner('count("available") AS "mining"', where='"state_code" = 1', group_by=group),
                 result_format="table"),
        InfluxQL("C", q.miner('count("available") AS "answered"', where='"available" = true', group_by=group),
                 result_format="table"),
    ]
    transformations = [
        DataTransformerConfig(id_val="merge", options={}),
        DataTransformerConfig(id_val="calculateField", options={
            "mode": "binary", "alias": "Time mining", "replaceFields": False,
            "binary": {"left": "mining", "operator": "/", "right": "polls"}}),
        DataTransformerConfig(id_val="calculateField", options={
            "mode": "binary", "alias": "Answering", "replaceFields": False,
            "binary": {"left": "answered", "operator": "/", "right": "polls"}}),
        DataTransformerConfig(id_val="organize", options={
            "excludeByName": {"Time": True, "polls": True, "mining": True, "answered": True}}),
    ]
    return [
        ratio_table(31, "Miners: time mining and answering",
                   "Share of the time each miner was mining, and share of the checks it answered.",
                   targets, transformations, ("Time mining", "Answering")),
        stat_panel(32, "Electricity used by the miners", "The miners' electricity, all turned into heat.",
                   "kwatth", [InfluxQL("A", q.ledger(_sum("electricity_kwh")))], decimals=0, width=12, height=6),
    ]


def build() -> dashboard.Dashboard:
    d = (dashboard.Dashboard(TITLE).uid(UID).tags(["boiler", "landlord"])
         .description("Mining hot-water boiler: this month's hot water, what it cost and saved, and the 60 °C proof.")
         .time("now/M", "now/M").timezone("browser").tooltip(DashboardCursorSync.CROSSHAIR).refresh("15m")
         .with_variable(site()).with_variable(time_zone()))
    sections: list[tuple[int, str, list[PanelBuilder]]] = [
        (1, "This period", _totals()),
        (6, "Against a gas boiler alone", _savings()),
        (11, "Money", _money()),
        (19, "Buildings", _buildings()),
        (21, "Hot water at 60 °C", _safety()),
        (26, "Legionella", _legionella()),
        (30, "Miners", _miners()),
    ]
    for row_id, title, panels in sections:
        d = d.with_row(dashboard.Row(title).id(row_id))
        for panel in panels:
            d = d.with_panel(panel)
    return d
