"""InfluxQL query targets for Grafana panels, and the time ranges the dashboards use.

The foundation SDK has no InfluxDB query builder; an InfluxQL target is a small dataquery with a
raw query. It registers itself as the ``influxdb`` dataquery variant so that
``Dashboard.from_json`` reads our targets back into this class (unknown keys fail there).
"""

from __future__ import annotations

from typing import Any, Final, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

#: The uid of the provisioned datasource; every panel and variable refers to it.
DATASOURCE_UID: Final = "boiler-influxdb"
DATASOURCE_TYPE: Final = "influxdb"
DATASOURCE: Final = DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

#: Points stamped at the END of their interval (ledger rows): a range is (from, to], half-open,
#: and Grafana's ``to`` of "this month" is the last millisecond of the month, so the row of the
#: month's last hour (stamped at midnight of the next month) is at ``to + 1 ms``. ``$timeFilter``
#: (``time >= from AND time <= to``) would take the previous month's last hour instead of it.
INTERVAL_END_RANGE: Final = "time > ${__from}ms AND time <= ${__to}ms + 1ms"
#: Points stamped at the moment they were measured (plant, tank, miner, decision).
INSTANT_RANGE: Final = "$timeFilter"
#: Site filter for the multi-value ``$site`` variable (Grafana writes ``(a|b)``, regex-escaped).
SITE_FILTER: Final = '"site" =~ /^$site$/'
#: Daily buckets in the site's time zone, each holding the hours that END in it: the 1 ms offset
#: moves the bucket edge past midnight, so the 23:00–24:00 row (stamped 00:00) stays in its day.
DAILY: Final = "time(1d, 1ms) fill(none) tz('$tz')"

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL target of a panel."""

    _KEYS: Final = frozenset({"refId", "datasource", "rawQuery", "query", "resultFormat", "alias", "hide"})

    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: ResultFormat = "time_series",
                 hide: bool = False) -> None:
        self.ref_id = ref_id
        self.query = query
        self.alias = alias
        self.result_format = result_format
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": DATASOURCE.to_json(),
            "rawQuery": True,
            "query": self.query,
            "resultFormat": self.result_format,
        }
        if self.alias:
            data["alias"] = self.alias
        if self.hide:
            data["hide"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        unknown = set(data) - cls._KEYS
        if unknown:
            raise ValueError(f"unknown keys in an InfluxQL target: {sorted(unknown)}")
        ds = data.get("datasource") or {}
        if ds.get("type") != DATASOURCE_TYPE or ds.get("uid") != DATASOURCE_UID or data.get("rawQuery") is not True:
            raise ValueError(f"not a raw InfluxQL target on {DATASOURCE_UID}: {data!r}")
        fmt = data.get("resultFormat", "time_series")
        if fmt not in ("time_series", "table"):
            raise ValueError(f"resultFormat {fmt!r}")
        return cls(str(data["refId"]), str(data["query"]), str(data.get("alias", "")), fmt,
                   bool(data.get("hide", False)))


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder of an InfluxQL target, for ``panel.with_target(...)``."""

    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: ResultFormat = "time_series",
                 hide: bool = False) -> None:
        self._query = InfluxQLQuery(ref_id, query, alias, result_format, hide)

    def build(self) -> InfluxQLQuery:
        return self._query


def register() -> None:
    """Make ``Dashboard.from_json`` read ``influxdb`` targets into :class:`InfluxQLQuery`."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=InfluxQLQuery.from_json)
    )
