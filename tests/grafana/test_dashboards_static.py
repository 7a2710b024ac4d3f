"""The committed Grafana tree is current, consistent with its provisioning, and readable by the SDK."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from typer.testing import CliRunner

from boiler.cli import app
from boiler.dashboards import influxql, installer, landlord
from boiler.dashboards.annotations import InfluxQLAnnotationTarget
from boiler.dashboards.export import DASHBOARDS, normalise, tree
from boiler.dashboards.influxql import InfluxQLQuery
from boiler.dashboards.provisioning import DATASOURCE_FILE, DEFAULT_DASHBOARDS_PATH, PROVIDER_FILE

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"


def committed(name: str) -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / name).read_text(encoding="utf-8"))


def all_panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in model["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_regenerating_gives_the_committed_files_byte_for_byte() -> None:
    expected = tree(DEFAULT_DASHBOARDS_PATH)
    on_disk = {
        str(p.relative_to(GRAFANA)): p.read_text(encoding="utf-8")
        for sub in ("dashboards", "provisioning")
        for p in sorted((GRAFANA / sub).rglob("*"))
        if p.is_file()
    }
    assert sorted(on_disk) == sorted(expected), "files added or missing: run grafana/build.py"
    for rel, text in expected.items():
        assert on_disk[rel] == text, f"{rel} is stale: run .venv/bin/python grafana/build.py"


def test_every_datasource_reference_is_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((GRAFANA / DATASOURCE_FILE).read_text())["datasources"]
    assert len(provisioned) == 1
    source = provisioned[0]
    assert (source["type"], source["jsonData"]["version"]) == ("influxdb", "InfluxQL")
    ref = {"type": source["type"], "uid": source["uid"]}
    for name in DASHBOARDS:
        model = committed(name)
        refs = []
        for panel in all_panels(model):
            if panel["type"] == "row":
                continue
            refs.append((panel["title"], panel["datasource"]))
            assert panel["targets"], panel["title"]
            refs += [(f"{panel['title']}/{t['refId']}", t["datasource"]) for t in panel["targets"]]
        refs += [(f"${v['name']}", v["datasource"]) for v in model["templating"]["list"] if "datasource" in v]
        refs += [(f"annotation {a['name']}", a["datasource"]) for a in model.get("annotations", {}).get("list", [])]
        assert len(refs) > 10
        wrong = [(where, r) for where, r in refs if r != ref]
        assert not wrong, f"{name}: {wrong}"


def test_provider_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / PROVIDER_FILE).read_text())["providers"]
    assert provider[0]["type"] == "file"
    assert provider[0]["options"]["path"] == DEFAULT_DASHBOARDS_PATH


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_json_round_trips_through_the_sdk_models(name: str) -> None:
    register_default_plugins()
    influxql.register()
    model = committed(name)
    annotations = model.get("annotations", {}).get("list", [])
    # The SDK's AnnotationTarget models only Grafana's own store: check ours with their own model.
    for annotation in annotations:
        assert InfluxQLAnnotationTarget.from_json(annotation["target"]).to_json() == annotation["target"]
    bare = copy.deepcopy(model)
    for annotation in bare.get("annotations", {}).get("list", []):
        del annotation["target"]
    parsed = Dashboard.from_json(bare)
    targets = [t for p in parsed.panels or [] for t in (getattr(p, "targets", None) or [])]
    assert targets and all(isinstance(t, InfluxQLQuery) for t in targets)
    again = normalise(json.loads(json.dumps(parsed, cls=JSONEncoder)))
    assert again == bare


def test_a_target_with_a_misspelled_key_is_refused() -> None:
    good = committed(f"{landlord.UID}.json")["panels"][1]["targets"][0]
    assert InfluxQLQuery.from_json(good).to_json() == good
    with pytest.raises(ValueError, match="unknown keys"):
        InfluxQLQuery.from_json({**good, "qeury": good["query"]})
    with pytest.raises(ValueError, match="not a raw InfluxQL target"):
        InfluxQLQuery.from_json({**good, "datasource": {"type": "influxdb", "uid": "other"}})


def _stat_units(model: dict[str, Any]) -> dict[str, str]:
    return {p["title"]: p["fieldConfig"]["defaults"].get("unit", "") for p in all_panels(model) if p["type"] != "row"}


def test_landlord_dashboard_shows_this_month_per_building_in_plain_units() -> None:
    model = committed(f"{landlord.UID}.json")
    assert model["time"] == {"from": "now/M", "to": "now/M"}
    site = next(v for v in model["templating"]["list"] if v["name"] == "site")
    assert site["multi"] is True and site["includeAll"] is True
    units = set(_stat_units(model).values())
    assert {"kwatth", "currencyEUR", "celsius", "masskg", "m3", "percent"} <= units
    # Temperatures carry the 50 / 55 / 60 °C lines.
    for panel in all_panels(model):
        if panel.get("fieldConfig", {}).get("defaults", {}).get("unit") == "celsius":
            steps = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
            assert steps == [None, 50.0, 55.0, 60.0], panel["title"]
    # No jargon a landlord would not know in what they read first.
    words = " ".join(p["title"] for p in all_panels(model)).lower()
    for jargon in ("hashrate", "ths", "ledger", "dhw", "influx"):
        assert jargon not in words


def test_ledger_sums_use_the_half_open_range_and_measurements_the_instant_range() -> None:
    for name in DASHBOARDS:
        for panel in all_panels(committed(name)):
            for target in panel.get("targets", []):
                query = target["query"]
                if 'FROM "ledger"' in query:
                    assert influxql.INTERVAL_END_RANGE in query and "$timeFilter" not in query, query
                else:
                    assert "$timeFilter" in query and "${__from}" not in query, query


def test_installer_dashboard_annotates_overrides_and_hygiene_events() -> None:
    model = committed(f"{installer.UID}.json")
    names = {a["name"]: a for a in model["annotations"]["list"]}
    assert names["Safety overrides"]["enable"] is True
    assert '"safety_override" = true' in names["Safety overrides"]["target"]["query"]
    assert 'FROM "compliance"' in names["Hygiene events"]["target"]["query"]
    titles = {p["title"] for p in all_panels(model)}
    assert {"Tank temperatures by layer", "Miner power and power limit", "Miner hashrate", "Coolant in and out",
            "Miner state", "Gas burner firing"} <= titles


def test_export_command_writes_the_tree_pointing_at_its_own_dashboards(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboards", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    root = (tmp_path / "out").resolve()
    expected = tree(str(root / "dashboards"))
    written = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    assert written == expected
    assert sorted(result.output.split()) == sorted(expected)


def test_export_refuses_a_path_grafana_could_not_read(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboards", "export", str(tmp_path), "--dashboards-path", 'a"b'])
    assert result.exit_code == 2
    assert "unusable dashboards path" in result.output


def test_export_without_the_dashboards_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "boiler.dashboards.export", None)  # import fails as if not installed
    result = CliRunner().invoke(app, ["dashboards", "export", str(tmp_path)])
    assert result.exit_code == 2
    assert "mining-boiler[dashboards]" in result.output
    assert not any(tmp_path.iterdir())
