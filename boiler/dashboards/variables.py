"""Template variables both dashboards share: the buildings (``$site``) and their time zone (``$tz``)."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import VariableOption, VariableRefresh, VariableSort

from boiler.dashboards.influxql import DATASOURCE
from boiler.dashboards.queries import SITE_VALUES

#: Zones offered for the daily buckets; the first is the default (the reference sites are French).
TIME_ZONES: Final = ("Europe/Paris", "Europe/Berlin", "Europe/Brussels", "Europe/Zurich", "Europe/London", "UTC")


def site() -> dashboard.QueryVariable:
    """Multi-value: several buildings are shown side by side (per-site panels) or summed (totals)."""
    return (dashboard.QueryVariable("site").label("Building").description(
        "The buildings to show. With several selected, totals add them up and the table lists each.")
        .datasource(DATASOURCE).query(SITE_VALUES).refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC).multi(True).include_all(True)
        .current(VariableOption(selected=True, text=["All"], value=["$__all"])))


def time_zone() -> dashboard.CustomVariable:
    """The time zone that cuts days for the daily bars (InfluxQL ``tz()``)."""
    default = TIME_ZONES[0]
    return (dashboard.CustomVariable("tz").label("Time zone").description(
        "Where a day starts and ends for the daily bars: the buildings' time zone.")
        .values(",".join(TIME_ZONES))
        .current(VariableOption(selected=True, text=default, value=default)))
