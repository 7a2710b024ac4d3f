"""Small panel factories shared by the dashboards: one look for stats, bars, lines and tables.

Each factory takes the panel's stable id (ids keep diffs of the generated JSON readable) and its
InfluxQL targets; the dashboard modules only say what to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from grafana_foundation_sdk.builders import common, dashboard, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    GraphDrawStyle,
    GraphThresholdsStyleMode,
    StackingMode,
    TableBarGaugeCellOptions,
)
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
    Panel,
    Threshold,
    ThresholdsMode,
    ValueMapping,
)

from boiler.dashboards.influxql import DATASOURCE, InfluxQL

#: Hot-water temperature lines: 60 °C target at the outlet, 55 °C (France, outlet of large stores;
#: Germany, loop return), 50 °C (France, anywhere in the distribution).
HOT_WATER_STEPS: Final = (
    Threshold(value=None, color="red"),
    Threshold(value=50.0, color="orange"),
    Threshold(value=55.0, color="yellow"),
    Threshold(value=60.0, color="green"),
)
NEUTRAL_STEPS: Final = (Threshold(value=None, color="blue"),)

PanelBuilder = cogbuilder.Builder[Panel]


def thresholds(steps: Sequence[Threshold]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(list(steps))


def stat_panel(panel_id: int, title: str, description: str, unit: str, targets: Sequence[InfluxQL], *,
               decimals: int | None = None, steps: Sequence[Threshold] = NEUTRAL_STEPS, width: int = 6,
               height: int = 4, calc: str = "lastNotNull") -> stat.Panel:
    """One big number (or one per series), no sparkline."""
    panel = (stat.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE).unit(unit)
             .span(width).height(height).graph_mode(BigValueGraphMode.NONE).color_mode(BigValueColorMode.VALUE)
             .thresholds(thresholds(steps))
             .reduce_options(common.ReduceDataOptions().calcs([calc]).values(False))
             .no_value("no data"))
    if decimals is not None:
        panel = panel.decimals(decimals)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def bars_panel(panel_id: int, title: str, description: str, unit: str, targets: Sequence[InfluxQL], *,
               stacked: bool, width: int = 12, height: int = 8) -> timeseries.Panel:
    """Bars per time bucket (the targets group by day), stacked when the parts add up."""
    panel = (timeseries.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE)
             .unit(unit).span(width).height(height).draw_style(GraphDrawStyle.BARS).fill_opacity(80)
             .line_width(1).stacking(common.StackingConfig().mode(StackingMode.NORMAL if stacked
                                                                  else StackingMode.NONE))
             .thresholds(thresholds(NEUTRAL_STEPS)))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def lines_panel(panel_id: int, title: str, description: str, unit: str, targets: Sequence[InfluxQL], *,
                steps: Sequence[Threshold] = NEUTRAL_STEPS, show_thresholds: bool = False, width: int = 12,
                height: int = 8, soft_min: float | None = None) -> timeseries.Panel:
    """Lines over time; with `show_thresholds` the threshold steps are drawn as dashed lines."""
    panel = (timeseries.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE)
             .unit(unit).span(width).height(height).draw_style(GraphDrawStyle.LINE).line_width(1)
             .span_nulls(False).thresholds(thresholds(steps))
             .thresholds_style(common.GraphThresholdsStyleConfig().mode(
                 GraphThresholdsStyleMode.DASHED if show_thresholds else GraphThresholdsStyleMode.OFF)))
    if soft_min is not None:
        panel = panel.axis_soft_min(soft_min)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def states_panel(panel_id: int, title: str, description: str, targets: Sequence[InfluxQL],
                 mappings: Sequence[ValueMapping] = (), *, width: int = 24, height: int = 6) -> statetimeline.Panel:
    """A state timeline: one band per series, coloured by state."""
    panel = (statetimeline.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE)
             .span(width).height(height).thresholds(thresholds(NEUTRAL_STEPS)).line_width(0).fill_opacity(80))
    if mappings:
        panel = panel.mappings(list(mappings))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def per_site_table(panel_id: int, title: str, description: str, targets: Sequence[InfluxQL], *,
                   width: int = 24, height: int = 6) -> table.Panel:
    """One row per building (targets GROUP BY "site", table format)."""
    panel = (table.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE)
             .span(width).height(height).thresholds(thresholds(NEUTRAL_STEPS)).align("auto").inspect(False))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def ratio_table(panel_id: int, title: str, description: str, targets: Sequence[InfluxQL],
                transformations: Sequence[DataTransformerConfig], ratios: Sequence[str], *, width: int = 12,
                height: int = 6) -> table.Panel:
    """One row per series (e.g. per miner); the columns `ratios` (fractions 0…1 computed by Grafana
    transformations) drawn as bars in their cells."""
    gauge = DynamicConfigValue(id_val="custom.cellOptions",
                               value=TableBarGaugeCellOptions(mode=BarGaugeDisplayMode.BASIC))
    panel = (table.Panel().id(panel_id).title(title).description(description).datasource(DATASOURCE)
             .unit("percentunit").min(0).max(1).span(width).height(height).align("auto").inspect(False)
             .thresholds(thresholds((Threshold(value=None, color="red"), Threshold(value=0.9, color="green")))))
    for name in ratios:
        panel = panel.override_by_name(name, [gauge])
    for target in targets:
        panel = panel.with_target(target)
    for transformation in transformations:
        panel = panel.with_transformation(transformation)
    return panel
