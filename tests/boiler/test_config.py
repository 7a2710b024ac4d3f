"""Config loading: every problem names the field path, the bad value and what is allowed; exit 2."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.config import ConfigError, config_json_schema, load_config

runner = CliRunner()


def _flagship() -> dict:
    path = Path(scenarios.__file__).parent / "residence-48.yaml"
    return yaml.safe_load(path.read_text())


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["tanks"][0].update(volume_l=-5), ["tanks.0.volume_l", "greater than or equal to 10", "-5"]),
        (lambda d: d["miners"].append({"name": "x", "model": "s99-hyd"}), ["miners.2.model", "unknown model", "s21-hyd",
                                                                            '"s99-hyd"']),
        (lambda d: d["control"].update(strategy="magic"), ["control.strategy", "'rule'", "'thermostat'", "magic"]),
        (lambda d: d["site"].update(timezone="Mars/Olympus"), ["site.timezone", "unknown time zone"]),
        (lambda d: d["draws"].update(type="weekly"), ["draws", "weekly"]),
        (lambda d: d["gas_boiler"].update(efficiency_pci="high"), ["gas_boiler.efficiency_pci", "high"]),
        (lambda d: d["tanks"][0].update(colour="blue"), ["tanks.0.colour", "Extra inputs are not permitted"]),
        (lambda d: d["tanks"][0].update(initial_c=[60, 50]), ["initial_c has 2 values", "10 nodes"]),
        (lambda d: d["prices"]["electricity"].update(type="spot"), ["prices.electricity", "spot"]),
        (lambda d: d["hygiene"].update(preset="uk"), ["hygiene", "uk"]),
    ],
)
def test_bad_config_names_path_and_value_and_exits_2(tmp_path: Path, mutate, expected: list[str]) -> None:
    data = _flagship()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for fragment in expected:
        assert fragment in str(err.value)
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["simulate", "--config", str(path), "--days", "1", "--quiet"])
    assert result.exit_code == 2


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "site:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- just\n- a list\n"))


def test_every_builtin_scenario_loads_and_the_valid_file_validates(tmp_path: Path) -> None:
    assert {"residence-48", "residence-48-hot", "residence-48-preheat", "house-xl"} <= set(scenarios.names())
    for name in scenarios.names():
        scenarios.load(name)
    result = runner.invoke(app, ["config", "validate", str(_write(tmp_path, _flagship()))])
    assert result.exit_code == 0, result.output


def test_unknown_scenario_exits_2() -> None:
    result = runner.invoke(app, ["simulate", "--scenario", "castle-99", "--days", "1"])
    assert result.exit_code == 2
    assert "residence-48" in result.output


def test_schema_export_describes_sections(tmp_path: Path) -> None:
    schema = config_json_schema()
    assert {"tanks", "miners", "hygiene", "control"} <= set(schema["properties"])
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["config", "schema", "--output", str(out)]).exit_code == 0
    assert '"PlantConfig"' in out.read_text() or '"title": "PlantConfig"' in out.read_text()


def test_the_strategy_union_and_the_registry_name_the_same_strategies() -> None:
    """Config picks a strategy by `type`; the one registry builds it: the two lists are one."""
    from boiler.config import STRATEGY_TYPES, ControlConfig
    from boiler.control.registry import REGISTRY

    assert set(STRATEGY_TYPES) == set(REGISTRY)
    for name in STRATEGY_TYPES:
        assert ControlConfig.model_validate({"strategy": name}).strategy_name == name
        assert ControlConfig.model_validate({"strategy": {"type": name}}).strategy_name == name
