"""InfluxQL annotation queries (events drawn on every time panel of a dashboard).

The SDK's annotation model, like ``@grafana/schema``'s ``AnnotationTarget``, only describes
Grafana's built-in annotation store; an InfluxDB annotation carries an InfluxQL target with the
columns that become the annotation's text and tags. ``InfluxQLAnnotationTarget`` writes that, and
the checks (tests/grafana) type it as exactly that extension of the schema.
"""

from __future__ import annotations

from typing import Any, Final, Self

from grafana_foundation_sdk.builders import dashboard

from boiler.dashboards.influxql import DATASOURCE

_KEYS: Final = frozenset({"refId", "query", "rawQuery", "resultFormat", "textColumn", "tagsColumn"})


class InfluxQLAnnotationTarget:
    """The InfluxQL target of one annotation: each row of `query` is an event at its time."""

    def __init__(self, query: str, text_column: str, tags_column: str = "") -> None:
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "refId": "Anno",
            "query": self.query,
            "rawQuery": True,
            "resultFormat": "table",
            "textColumn": self.text_column,
        }
        if self.tags_column:
            data["tagsColumn"] = self.tags_column
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        unknown = set(data) - _KEYS
        if unknown or data.get("rawQuery") is not True or data.get("resultFormat") != "table":
            raise ValueError(f"not an InfluxQL annotation target: {data!r}")
        return cls(str(data["query"]), str(data["textColumn"]), str(data.get("tagsColumn", "")))


def influxql_annotation(name: str, query: str, *, text_column: str, tags_column: str = "", color: str,
                        enabled: bool = True) -> dashboard.AnnotationQuery:
    builder = (dashboard.AnnotationQuery().name(name).datasource(DATASOURCE).enable(enabled).hide(False)
               .icon_color(color))
    builder._internal.target = InfluxQLAnnotationTarget(query, text_column, tags_column)  # type: ignore[assignment]
    return builder
