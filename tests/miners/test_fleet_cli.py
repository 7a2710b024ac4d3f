"""`boiler discover` and `boiler miners …` against emulated miners served from a background thread
(the commands run their own event loop, as they do for an installer)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import warnings
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from boiler.cli import app
from miners.emulator import EmulatedMiner, EmulatorFleet, Unreachable, WrongPassword
from tests.loopback import claim_net

warnings.filterwarnings("ignore", category=UserWarning)

NET = claim_net()
runner = CliRunner()


class Background:
    """An EmulatorFleet running on its own event loop in a daemon thread."""

    def __init__(self, emus: list[EmulatedMiner]) -> None:
        self.emus = emus
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def do(self, fn: Any, *args: Any) -> Any:
        async def call() -> Any:
            return fn(*args)

        return self.run(call())

    def __enter__(self) -> Background:
        self.thread.start()

        async def start() -> EmulatorFleet:
            fleet = EmulatorFleet(self.emus)  # grpclib's server wants the loop it will serve on
            await fleet.start()
            return fleet

        self.fleet = self.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    # The commands configure logging for a terminal; give the next test the state it had.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    miners_level = logging.getLogger("miners").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("miners").setLevel(miners_level)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Background, Path]]:
    emus = [
        EmulatedMiner("m53s-plus-plus", f"{NET}.1.3", family="whatsminer"),
        EmulatedMiner("s21-hyd", f"{NET}.1.4", family="braiins", password="Pw-9x"),
    ]
    config = {
        "site": {"name": "test"},
        "miners": [
            {"name": "wm", "model": "m53s-plus-plus", "host": emus[0].ip, "mac": emus[0].mac},
            {"name": "bos", "model": "s21-hyd", "host": emus[1].ip, "password_env": "BOS_PW"},
        ],
    }
    path = tmp_path_factory.mktemp("cli") / "plant.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with Background(emus) as background:
        yield background, path


@pytest.fixture(autouse=True)
def bos_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOS_PW", "Pw-9x")


def test_discover_json_lists_each_miner_with_its_figures(site: tuple[Background, Path]) -> None:
    background, _ = site
    result = runner.invoke(app, ["discover", f"{NET}.1.0/29", "--json", "--timeout", "5"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["ip"] for r in rows] == [e.ip for e in background.emus]
    wm, bos = rows
    assert (wm["model"], wm["firmware"], wm["mac"]) == ("M53S++ VK10", "Stock", background.emus[0].mac)
    assert wm["power_limit_w"] == pytest.approx(background.emus[0].readings().power_limit_w, abs=0.5)
    assert wm["coolant_in_c"] == pytest.approx(35.0) and wm["hashrate_ths"] > 0 and wm["error"] is None
    # BOS+ needs a login even to give its MAC; its password is not the factory one.
    assert bos["model"] == "S21 Hydro" and bos["supports_power_limit"] is True
    assert bos["mac"] is None and "login refused" in bos["error"]


def test_discover_with_a_password_reads_the_miners_that_need_one(site: tuple[Background, Path]) -> None:
    background, _ = site
    result = runner.invoke(app, ["discover", f"{NET}.1.4/32", "--json", "--password-env", "BOS_PW"])
    assert result.exit_code == 0, result.output
    (bos,) = json.loads(result.stdout)
    assert bos["mac"] == background.emus[1].mac and bos["error"] is None
    assert bos["coolant_out_c"] == pytest.approx(background.emus[1].readings().coolant_out_c, abs=0.01)


def test_discover_table_for_people(site: tuple[Background, Path]) -> None:
    result = runner.invoke(app, ["discover", f"{NET}.1.0/29", "--timeout", "5"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "M53S++ VK10" in result.stdout and "2 miner(s)" in result.stdout


def test_discover_refuses_a_bad_range() -> None:
    result = runner.invoke(app, ["discover", "300.1.2.0/24"])
    assert result.exit_code == 2 and "bad CIDR" in result.output


def test_status_json_then_exit_1_when_a_miner_is_down(site: tuple[Background, Path]) -> None:
    background, config = site
    result = runner.invoke(app, ["miners", "status", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["wm"]["available"] and rows["wm"]["state"] == "mining"
    assert rows["bos"]["host"] == background.emus[1].ip
    background.do(background.emus[0].set_fault, Unreachable())
    try:
        result = runner.invoke(app, ["miners", "status", "-c", str(config), "--json", "--timeout", "1"])
    finally:
        background.do(background.emus[0].clear_fault)
    assert result.exit_code == 1
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert not rows["wm"]["available"] and rows["bos"]["available"]


def test_set_power_sleep_and_wake_act_on_the_miner(site: tuple[Background, Path]) -> None:
    background, config = site
    bos = background.emus[1]
    result = runner.invoke(app, ["miners", "set-power", "bos", "3500", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["ok"] and outcome["kind"] == "set_limit" and outcome["restarts"]
    assert bos.readings().power_limit_w == 3500.0

    result = runner.invoke(app, ["miners", "sleep", "bos", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert bos.sleeping
    result = runner.invoke(app, ["miners", "wake", "bos", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert not bos.sleeping and bos.readings().power_limit_w == 3500.0


def test_set_power_outside_the_range_is_bad_input(site: tuple[Background, Path]) -> None:
    background, config = site
    before = background.emus[0].readings().power_limit_w
    result = runner.invoke(app, ["miners", "set-power", "wm", "100", "-c", str(config)])
    assert result.exit_code == 2 and "outside m53s-plus-plus's range" in result.output
    assert background.emus[0].readings().power_limit_w == before


def test_unknown_miner_name_is_bad_input(site: tuple[Background, Path]) -> None:
    _, config = site
    result = runner.invoke(app, ["miners", "sleep", "nope", "-c", str(config)])
    assert result.exit_code == 2 and "no miner named 'nope'" in result.output


def test_a_refused_command_exits_1_naming_the_miner(site: tuple[Background, Path]) -> None:
    background, config = site
    background.do(background.emus[0].set_fault, WrongPassword())
    try:
        result = runner.invoke(app, ["miners", "set-power", "wm", "5000", "-c", str(config)])
    finally:
        background.do(background.emus[0].clear_fault)
    assert result.exit_code == 1
    assert "miner wm" in result.output and "wrong password" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("site: {}\n", "expected a top-level `miners:` list"),
        ("miners:\n  - {name: a, model: s21-hyd, host: 127.0.0.1}\n  - {name: b, model: s21-hyd, host: nope}\n",
         "miners[1].host"),
        ("miners: [{name: a, model: s21-hyd}, {name: a, model: s21-hyd}]\n", "repeated: a"),
        ("miners: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_config_is_exit_2_with_where(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["miners", "status", "-c", str(path)])
    assert result.exit_code == 2 and expected in result.output


def test_a_miner_without_host_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "nohost.yaml"
    path.write_text("miners: [{name: a, model: s21-hyd}]\n", encoding="utf-8")
    result = runner.invoke(app, ["miners", "status", "-c", str(path)])
    assert result.exit_code == 2 and "miner a: no `host` configured" in result.output
