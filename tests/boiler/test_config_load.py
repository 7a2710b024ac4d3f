"""The loader refuses what it cannot run (issue 12): each case the issue found, by name.

Every refusal is exit 2 from `config validate` and from `simulate --config`, with a message naming
the field (or the line of the file) and the value; no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.config import ConfigError, load_config
from boiler.config_check import MAX_STEPS, check_budget, check_buildable, run_size
from boiler.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES, YamlInputError, parse_yaml

runner = CliRunner()
SCENARIOS = Path(scenarios.__file__).parent


def flagship() -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS / "residence-48.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, content: bytes | str | dict[str, Any], name: str = "plant.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        content = yaml.safe_dump(content, allow_unicode=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def refused(path: Path, *fragments: str) -> str:
    """Both commands exit 2 without a traceback; the message holds every fragment."""
    for args in (["config", "validate", str(path)], ["simulate", "--config", str(path), "--days", "1", "-q"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        flat = " ".join(result.output.split())
        for fragment in fragments:
            assert fragment in flat, (fragment, result.output)
    return flat


FLAGSHIP_TEXT = (SCENARIOS / "residence-48.yaml").read_text(encoding="utf-8")


# -- the file itself ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(FLAGSHIP_TEXT.encode("latin-1", "replace"), ["not UTF-8 text", "byte 0x"], id="latin-1"),
        pytest.param(FLAGSHIP_TEXT.encode("utf-16"), ["not UTF-8 text", "byte 0xff", "line 1, column 1"], id="utf-16"),
        pytest.param(b"site:\n  name: caf\xc3", ["not UTF-8 text", "line 2"], id="cut-in-a-character"),
        pytest.param(bytes(range(256)), ["not UTF-8 text"], id="binary"),
        pytest.param(b"site: {name: a\x00b}\n", ["not valid YAML", "special characters are not allowed"], id="nul"),
        pytest.param("a: " + "[" * 5000 + "]" * 5000, [f"nested deeper than {MAX_DEPTH} levels"], id="deep-flow"),
        pytest.param("".join(f"{' ' * i}k{i}:\n" for i in range(300)), ["nested deeper"], id="deep-block"),
        pytest.param(
            'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
            + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
            [f"expands to more than {MAX_NODES:,} values"], id="alias-bomb"),
        pytest.param("a: &a [*a]\n", ["an alias refers to a node that contains it"], id="recursive-alias"),
        pytest.param(FLAGSHIP_TEXT + "control: {strategy: thermostat}\n", ["duplicate key 'control'", "first at line"],
                     id="duplicate-section"),
        pytest.param("site: {name: a, name: b}\ntanks: []\n", ["duplicate key 'name'", "line 1"], id="duplicate-key"),
        pytest.param("site: {name: a}\nstart: 2025-02-30\n", ["not valid YAML", "day is out of range"], id="bad-date"),
        pytest.param("site: {name: " + "9" * 5000 + "}\n", ["not valid YAML"], id="huge-integer"),
        pytest.param("- a\n- b\n", ["top level must be a mapping"], id="a-list"),
        pytest.param("a: 1\n---\nb: 2\n", ["not valid YAML", "expected a single document"], id="two-documents"),
        pytest.param("a: !!python/object:os.system {}\n", ["not valid YAML", "could not determine a constructor"],
                     id="python-tag"),
    ],
)
def test_a_file_that_is_no_plain_yaml_document_is_refused(tmp_path: Path, content: bytes | str,
                                                          fragments: list[str]) -> None:
    refused(write(tmp_path, content), *fragments)


def test_size_is_bounded_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, b"#" * (MAX_BYTES + 1))
    refused(path, f"larger than {MAX_BYTES:,} bytes")


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + FLAGSHIP_TEXT.encode("utf-8"))
    assert runner.invoke(app, ["config", "validate", str(path)]).exit_code == 0


def test_anchors_and_merge_keys_still_work() -> None:
    # Only a key given twice in one mapping is refused; a merged key that the mapping overrides is not.
    data = parse_yaml("miners:\n  - &m {name: a, model: s21-hyd}\n  - <<: *m\n    name: b\n", "t")
    assert data == {"miners": [{"name": "a", "model": "s21-hyd"}, {"name": "b", "model": "s21-hyd"}]}


def test_numbers_read_as_yaml_1_2() -> None:
    data = parse_yaml("a: [1e5, 010, '22:00', 22:00, 0x1f, 0o17, .inf, 1_000]", "t")
    assert data == {"a": [100000.0, 10, "22:00", "22:00", 31, 15, float("inf"), 1000]}
    with pytest.raises(YamlInputError, match="not valid YAML at line 2"):
        parse_yaml("a: 1\nb: [", "t")


# -- the schema -----------------------------------------------------------------------------------------
def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for p in parents:
        node = node[p]
    node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "fragments"),
    [
        ("tanks.0.initial_c", float("nan"), ["tanks.0.initial_c", "finite"]),
        ("tanks.0.ua_w_per_k", float("inf"), ["tanks.0.ua_w_per_k", "finite", "Infinity"]),
        ("site.plant_room_c", float("-inf"), ["site.plant_room_c", "-Infinity"]),
        ("mining.hashprice.btc_price_eur", float("nan"), ["mining.hashprice.btc_price_eur", "NaN"]),
        ("tanks.0.nodes", True, ["tanks.0.nodes", "valid integer", "got true"]),
        ("tanks.0.nodes", 10.5, ["tanks.0.nodes", "valid integer"]),
        ("tanks.0.volume_l", "3000", ["tanks.0.volume_l", "valid number", '"3000"']),
        ("miners.0.model", "s99-hyd", ["miners.0.model", "unknown model", "s21-hyd", '"s99-hyd"']),
        ("miners.1.name", "s21-a", ["miners.1.name", "unique", '"s21-a"']),
        ("control.strategy", "magic",
         ["control.strategy", "Input should be 'rule', 'thermostat', 'mpc'", "got 'magic'"]),
        ("draws.flats", {"T9": 3}, ["draws.flats.T9", "unknown flat type", "T1"]),
        ("draws.flats", {"T1": -8}, ["draws.flats.T1", "greater than or equal to 0", "-8"]),
        ("draws.flats", {"T1": 0}, ["draws.flats", "between 1 and"]),
        ("draws.litres_per_standard_flat_day", 7e12, ["draws.litres_per_standard_flat_day", "less than or equal"]),
        ("loop.design_supply_c", 0, ["loop.design_supply_c", "greater than or equal to 20"]),
        ("loop.design_supply_c", 20, ["loop.drop_k", "design_supply_c − ambient (20 − 17.5 = 2.5 K)", "got 4"]),
        ("simulation.step_s", 0.001, ["simulation.step_s", "greater than or equal to 1"]),
        ("loop.return_height", "top", ["loop.return_height", "valid number", "'stratified'", '"top"']),
        ("tanks.0.initial_c", [60, "banana"], ["tanks.0.initial_c.1", '"banana"']),
        ("prices.electricity.eur_per_kwh", -1, ["prices.electricity.eur_per_kwh", "-1"]),
        ("gas_boiler.tank", "nope", ["gas_boiler.tank", "not a tank", '"nope"']),
    ],
)
def test_a_bad_field_is_named_with_its_value(tmp_path: Path, path: str, value: Any, fragments: list[str]) -> None:
    data = flagship()
    _set(data, path, value)
    text = refused(write(tmp_path, data), *fragments)
    assert "(top level)" not in text
    # The allowed values of an enum are listed once.
    assert text.count("'thermostat'") <= 1


def test_every_physical_quantity_in_the_schema_has_a_range_and_a_unit() -> None:
    from boiler.config import config_json_schema

    schema = config_json_schema()
    unbounded = []
    for model, body in schema["$defs"].items():
        for name, field in body.get("properties", {}).items():
            if not re.search(r"_(c|k|kw|w|kwh|l|s|m|lpm|w_per_k)$", name):
                continue
            options = field.get("anyOf", [field])
            numeric = [o for o in options if o.get("type") in ("number", "integer")]
            if numeric and not all(("maximum" in o or "exclusiveMaximum" in o) for o in numeric):
                unbounded.append(f"{model}.{name}")
    # Fields owned elsewhere (MQTT, telemetry, hygiene, allocation) keep their own bounds; the plant's are checked.
    ours = [u for u in unbounded if u.split(".")[0] in {
        "SiteConfig", "TankConfig", "CoolantConfig", "ExchangerConfig", "GasBoilerConfig", "DryCoolerConfig",
        "LoopConfig", "SeasonalMainsConfig", "ConstantMainsConfig", "StochasticDrawsConfig", "SimulationConfig",
        "ControlConfig", "RuleStrategyConfig", "ThermostatConfig", "MpcConfig", "OptimumConfig"}]
    assert ours == []


# -- what the builders need -----------------------------------------------------------------------------
def _csv_config(tmp_path: Path, draws_path: str) -> Path:
    data = flagship()
    data["draws"] = {"type": "csv", "path": draws_path}
    return write(tmp_path, data)


@pytest.mark.parametrize(
    ("csv", "fragments"),
    [
        (None, ["draws.path", "cannot read the draw file", "No such file"]),
        (b"\xff\xfe\x00garbage", ["draws.path", "not UTF-8 text"]),
        (b"timestamp,heat_kwh\n2026-01-05T07:00:00,abc\n", ["draws.path", "line 2", "not a number: 'abc'"]),
        (b"when,heat_kwh\n", ["draws.path"]),
    ],
)
def test_a_draw_csv_that_cannot_be_read_is_refused_by_validate(tmp_path: Path, csv: bytes | None,
                                                               fragments: list[str]) -> None:
    if csv is not None:
        (tmp_path / "draws.csv").write_bytes(csv)
    refused(_csv_config(tmp_path, "draws.csv"), *fragments)


def test_a_folder_as_draw_file_is_refused(tmp_path: Path) -> None:
    refused(_csv_config(tmp_path, str(tmp_path)), "draws.path", "not a file")


def test_the_step_budget_names_the_figure_to_change(tmp_path: Path) -> None:
    data = flagship()
    data["simulation"]["step_s"] = 1
    path = write(tmp_path, data)
    assert runner.invoke(app, ["config", "validate", str(path)]).exit_code == 0  # one day fits
    result = runner.invoke(app, ["simulate", "--config", str(path), "--days", "100", "-q"])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "simulation.step_s = 1 s over 100 day(s) needs 8,640,000 physics steps" in flat
    assert f"the budget is {MAX_STEPS:,}" in flat and "raise simulation.step_s to at least 3 s" in flat


def test_the_memory_budget_names_the_draws_when_they_are_the_cost() -> None:
    cfg = scenarios.load("residence-48")
    cfg.draws.flats = {"T5": 2000}  # type: ignore[union-attr]
    cfg.draws.litres_per_standard_flat_day = 1000  # type: ignore[union-attr]
    size = run_size(cfg, 365)
    assert size.draws > 10 * size.steps
    with pytest.raises(ConfigError, match=r"MB.*the budget is 1,000 MB.*draws\.flats"):
        check_budget(cfg, 365, "t")
    check_budget(cfg, 1, "t")  # one day fits: validate builds it
    check_buildable(cfg, "t")


def test_every_builtin_scenario_passes_the_loader_for_ten_years() -> None:
    for name in scenarios.names():
        check_budget(scenarios.load(name), 3660, name)
        check_buildable(scenarios.load(name), name)


def test_validate_still_takes_the_shipped_files() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert load_config(path) is not None
        result = runner.invoke(app, ["config", "validate", str(path)])
        assert result.exit_code == 0, result.output


# -- the commands around it -----------------------------------------------------------------------------
def test_plot_with_an_unknown_suffix_is_refused_before_running(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "-s", "residence-48", "--days", "1", "--plot", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "unsupported file type '.txt'" in " ".join(result.output.split())
    assert not (tmp_path / "x.txt").exists()


def test_a_quiet_run_that_fails_says_why_in_one_line(tmp_path: Path) -> None:
    data = flagship()
    data["tanks"][0]["initial_c"] = 20
    data["gas_boiler"]["output_kw"] = 1
    result = runner.invoke(app, ["simulate", "--config", str(write(tmp_path, data)), "--days", "1", "-q"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(" ".join(lines).split("failed: ")) == 2
    assert re.search(r"failed: [\d,]+ L of hot water drawn below the setpoint \(lowest outlet [\d.]+ °C\)",
                     " ".join(lines))
    assert result.stdout == ""


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"boiler \d+\.\d+\.\d+\S*\n", result.stdout)


def test_knobs_outside_the_plant_models_are_bounded_and_finite_too(tmp_path: Path) -> None:
    data = flagship()
    data["control"]["allocation"] = {"deadband_w": float("nan")}
    refused(write(tmp_path, data), "control.allocation.deadband_w", "finite", "NaN")
    data["control"]["allocation"] = {"max_changes_per_day": 10**6}
    refused(write(tmp_path, data), "control.allocation", "max_changes_per_day must be within 0..1440")
    data = flagship()
    data["hygiene"] = {"preset": "default", "outlet_dip_tolerance_s": 1e9}
    refused(write(tmp_path, data), "hygiene.outlet_dip_tolerance_s", "less than or equal to 86400")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "-s", "house-xl", "--days", "1", "-q", "--json", "{tmp}"], "is a folder"),
        (["simulate", "-s", "house-xl", "--days", "1", "-q", "--ledger", "{tmp}/no/such/l.csv"], "does not exist"),
        (["simulate", "-s", "house-xl", "--days", "1", "-q", "--seed", "-1"], "--seed"),
        (["config", "schema", "-o", "{tmp}/no/such/schema.json"], "does not exist"),
        (["config", "validate", "{tmp}"], "cannot read the file"),
        (["config", "validate", "{tmp}/missing.yaml"], "No such file"),
    ],
)
def test_bad_flags_exit_2_before_any_work(tmp_path: Path, args: list[str], words: str) -> None:
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert words in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["config", "validate"], ["simulate", "--days", "1", "-q", "--config"],
                                     ["demo", "--duration", "600", "--config"]])
def test_every_command_that_builds_a_plant_refuses_a_missing_draw_file_alike(tmp_path: Path,
                                                                            command: list[str]) -> None:
    """`validate`, `simulate` and `demo` build the same things, so they refuse the same files, before any
    run or socket: exit 2 naming the field."""
    path = _csv_config(tmp_path, "nowhere.csv")
    result = runner.invoke(app, [*command, str(path)])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "draws.path" in flat and "cannot read the draw file" in flat
