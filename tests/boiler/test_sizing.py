"""`boiler size`: the reference candidate is `boiler simulate`'s run, candidates are built as said, the cache
resumes an interrupted run, bad sizing files exit 2 naming the field, the portfolio picks a best per site."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Sequence
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from boiler import scenarios
from boiler.cli import app
from boiler.scenarios import _files as scenario_files
from boiler.sizing import (
    Candidate,
    LocalPool,
    ResultCache,
    SimTask,
    SizingError,
    candidate_config,
    expand,
    load_sizing,
    parse_sizing,
    plan,
    reference_of,
    run_tasks,
)
from boiler.sizing.finance import npv_eur, simple_payback_years
from boiler.sizing.plots import pareto_front, write_plots
from boiler.sizing.portfolio import best_per_site, load_portfolio, totals
from boiler.sizing.task import run_task

RESIDENCE = scenario_files()["residence-48"]
START = "2026-01-05"
#: Figures that depend on the machine, not on the simulation.
NOT_FIGURES = {"wall_seconds", "scenario"}


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in NOT_FIGURES}


def _size(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, Any] | None]:
    out = tmp_path / "size.json"
    result = CliRunner().invoke(app, ["size", *args, "--json", str(out), "--cache", str(tmp_path / "cache"), "-q"])
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, result.output, payload


def test_reference_candidate_reproduces_boiler_simulate_exactly(tmp_path: Path) -> None:
    code, output, sized = _size(tmp_path, "-c", str(RESIDENCE), "--counts", "1,2,3", "--volumes-l", "2000,3000",
                                "--days", "2", "--start", START, "--seed", "7", "--workers", "2")
    assert code == 0, output
    assert sized is not None and len(sized["candidates"]) == 6
    reference = [c for c in sized["candidates"] if c["reference"]]
    assert len(reference) == 1 and (reference[0]["count"], reference[0]["store_volume_l"]) == (2, 3000.0)

    sim_json = tmp_path / "simulate.json"
    result = CliRunner().invoke(app, ["simulate", "--config", str(RESIDENCE), "--days", "2", "--start", START,
                                      "--seed", "7", "--json", str(sim_json), "-q"])
    assert result.exit_code == 0, result.output
    simulated = json.loads(sim_json.read_text())
    cached = json.loads((tmp_path / "cache" / f"{reference[0]['key']}.json").read_text())["summary"]
    assert _figures(cached) == _figures(simulated)  # the same numbers, not "close"
    # ... and the scores are those numbers, scaled to a year
    ref = reference[0]
    assert ref["net_cost_eur_per_year"] == pytest.approx(simulated["net_cost_eur"] * 365 / 2, rel=1e-12)
    assert ref["savings_eur_per_year"] == pytest.approx(simulated["savings_eur"] * 365 / 2, rel=1e-12)
    assert ref["co2_avoided_kg_per_year"] == pytest.approx(simulated["co2_avoided_kg"] * 365 / 2, rel=1e-12)
    assert ref["gas_fuel_kwh_per_year"] == pytest.approx(simulated["gas_fuel_kwh"] * 365 / 2, rel=1e-12)
    assert ref["miner_heat_share"] == simulated["miner_heat_share"]
    assert ref["feasible"] is (simulated["dhw_volume_below_setpoint_l"] == 0 and simulated["legionella_compliant"])
    # other candidates really are other plants: each fleet size runs differently
    by_count = {c["count"]: c for c in sized["candidates"] if c["store_volume_l"] == 3000.0}
    assert len({by_count[n]["electricity_kwh_per_year"] for n in (1, 2, 3)}) == 3


def test_candidate_configs_change_only_what_they_vary() -> None:
    cfg = scenarios.load("residence-48")
    ref = reference_of(cfg)
    assert ref == Candidate("s21-hyd", 2, 3000.0, "single", "rule")
    assert candidate_config(cfg, ref) is cfg

    bigger = candidate_config(cfg, Candidate("s21-hyd", 2, 6000.0, "single", "rule"))
    store, base = bigger.tanks[0], cfg.tanks[0]
    assert store.volume_l == 6000.0
    assert store.height_m == pytest.approx(base.height_m * 2 ** (1 / 3))
    assert store.ua_w_per_k == pytest.approx(base.ua_w_per_k * 2 ** (2 / 3))
    assert store.gas_coil == base.gas_coil and bigger.miners == cfg.miners

    pre = candidate_config(cfg, Candidate("ah3880", 3, 2000.0, "preheat", "mpc"))
    assert [(t.role, t.volume_l) for t in pre.tanks] == [("preheat", 2000.0), ("finishing", 500.0)]
    assert pre.charge_tank.name == pre.tanks[0].name and pre.gas_tank.name == "finishing"
    assert pre.tanks[0].gas_coil is None and pre.tanks[1].gas_coil is not None
    assert [m.model for m in pre.miners] == ["ah3880"] * 3
    assert pre.control.strategy_name == "mpc"

    # and back: the pre-heat scenario sized as a single tank
    pcfg = scenarios.load("residence-48-preheat")
    single = candidate_config(pcfg, Candidate("s21-hyd", 2, 3000.0, "single", "rule"))
    assert len(single.tanks) == 1 and single.tanks[0].gas_coil is not None
    assert single.charge_tank.name == single.gas_tank.name

    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2]}, {"model": "ah3880", "counts": [1]}],
                         "store_volume_l": [1000, 3000], "layout": ["single", "preheat"]}, "test")
    assert len(expand(spec, cfg)) == 3 * 2 * 2


def test_finance() -> None:
    assert simple_payback_years(10_000, 2_000) == 5.0
    assert simple_payback_years(10_000, 0.0) is None
    # no discounting: the sum of savings less the capital and the miners bought again in years 5 and 10
    assert npv_eur(10_000, 2_000, life_years=15, discount_rate=0.0, miners_eur=3_000, miner_life_years=5) \
        == pytest.approx(15 * 2_000 - 10_000 - 2 * 3_000)
    assert npv_eur(1_000, 1_000, life_years=1, discount_rate=0.1) == pytest.approx(1_000 / 1.1 - 1_000)


class _Interrupting:
    """The real local pool, interrupted (as by Ctrl-C) once `after` candidates have finished."""

    name = "local"

    def __init__(self, after: int) -> None:
        self.pool = LocalPool(1)
        self.workers = 1
        self.after = after
        self.ran: list[str] = []

    def run(self, tasks: Sequence[SimTask], on_result, on_error) -> None:  # type: ignore[no-untyped-def]
        def stop_after(task: SimTask, record: dict[str, Any]) -> None:
            on_result(task, record)
            self.ran.append(task.key)
            if len(self.ran) >= self.after:
                raise KeyboardInterrupt

        self.pool.run(tasks, stop_after, on_error)


class _Counting:
    name = "counting"
    workers = 1

    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(self, tasks: Sequence[SimTask], on_result, on_error) -> None:  # type: ignore[no-untyped-def]
        for task in tasks:
            self.ran.append(task.key)
            on_result(task, run_task(task))


def test_an_interrupted_run_resumes_from_the_cache(tmp_path: Path) -> None:
    cfg = scenarios.load("residence-48")
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2, 3]}], "store_volume_l": [2000, 3000],
                         "period": {"days": 1}}, "test")
    study = plan("residence-48", cfg, spec)
    cache = ResultCache(tmp_path / "cache")
    first = _Interrupting(after=2)
    with pytest.raises(KeyboardInterrupt):
        run_tasks(study.tasks, first, cache)
    stored = sorted(p.stem for p in cache.folder.glob("*.json"))
    assert sorted(first.ran) == stored and len(stored) == 2  # each result was stored as it came
    stamps = {p: p.stat().st_mtime_ns for p in cache.folder.glob("*.json")}

    second = _Counting()
    calls: list[tuple[int, int]] = []
    outcome = run_tasks(study.tasks, second, cache, progress=lambda done, todo: calls.append((done, todo)))
    assert outcome.cached == 2 and outcome.computed == 4 and not outcome.failed
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]  # the bar counts what needs simulating
    assert set(second.ran).isdisjoint(stored)  # nothing finished was simulated again
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(outcome.records) == 6

    fresh = _Counting()
    again = run_tasks(study.tasks, fresh, ResultCache(tmp_path / "other"))
    assert {k: _figures(r["summary"]) for k, r in again.records.items()} == \
        {k: _figures(r["summary"]) for k, r in outcome.records.items()}


def test_a_rerun_through_the_cli_simulates_nothing(tmp_path: Path) -> None:
    args = ["-c", str(RESIDENCE), "--counts", "1,2", "--days", "1", "--workers", "1"]
    code, output, first = _size(tmp_path, *args)
    assert code == 0, output
    assert first is not None and (first["computed"], first["cached"]) == (2, 0)
    code, output, second = _size(tmp_path, *args)
    assert code == 0, output
    assert second is not None and (second["computed"], second["cached"]) == (0, 2)
    assert second["candidates"] == first["candidates"]


def test_an_unreadable_cache_record_is_simulated_again_and_said(tmp_path: Path) -> None:
    cfg = scenarios.load("residence-48")
    study = plan("r", cfg, parse_sizing({"period": {"days": 1}}, "test"))
    cache = ResultCache(tmp_path)
    cache.path(study.tasks[0].key).write_text("{half a record")
    outcome = run_tasks(study.tasks, _Counting(), cache)
    assert outcome.computed == 1 and cache.unreadable == [str(cache.path(study.tasks[0].key))]
    assert json.loads(cache.path(study.tasks[0].key).read_text())["key"] == study.tasks[0].key


@pytest.mark.parametrize(("sizing", "path", "shown"), [
    ({"miners": [{"model": "s21-hyd", "counts": []}]}, "miners.0.counts", "a list of 0 item(s)"),
    ({"miners": [{"model": "s99-imaginary", "counts": [1]}]}, "miners.0.model", "s99-imaginary"),
    ({"store_volume_l": []}, "store_volume_l", "a list of 0 item(s)"),
    ({"layout": ["single", "attic"]}, "layout.1", "attic"),
    ({"strategy": ["psychic"]}, "strategy", "psychic"),
    ({"capital": {"store_eur_per_l": -2}}, "capital.store_eur_per_l", "-2"),
    ({"capital": {"miner_eur": {"s21-hyd": -5000}}}, "capital.miner_eur", "-5000"),
    ({"finance": {"discount_rate": -0.1}}, "finance.discount_rate", "-0.1"),
    ({"period": {"days": 0}}, "period.days", "0"),
    ({"colour": "blue"}, "colour", "blue"),
])
def test_bad_sizing_files_exit_2_naming_the_field(tmp_path: Path, sizing: dict, path: str, shown: str) -> None:
    file = tmp_path / "sizing.yaml"
    file.write_text(yaml.safe_dump(sizing))
    code, output, payload = _size(tmp_path, "-c", str(RESIDENCE), "--sizing", str(file))
    assert code == 2, output
    assert path in output and shown in output, output
    assert payload is None and not (tmp_path / "cache").exists()  # nothing ran


def test_bad_command_line_values_exit_2(tmp_path: Path) -> None:
    code, output, _ = _size(tmp_path, "-c", str(RESIDENCE), "--counts", "1,two")
    assert code == 2 and "--counts" in output
    code, output, _ = _size(tmp_path, "-c", str(RESIDENCE), "--models", "nope", "--counts", "1")
    assert code == 2 and "miners.0.model" in output and "nope" in output


def test_bad_sites_file_exits_2_naming_the_site(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"template": str(RESIDENCE), "sites": [
        {"name": "ok"}, {"name": "bad", "overrides": {"gas_boiler": {"output_kw": -3}}}]}))
    code, output, _ = _size(tmp_path, "--portfolio", str(sites))
    assert code == 2 and "sites.1" in output and "gas_boiler.output_kw" in output and "-3" in output, output
    sites.write_text(yaml.safe_dump({"sites": []}))
    code, output, _ = _size(tmp_path, "--portfolio", str(sites))
    assert code == 2 and "sites" in output, output


def test_portfolio_best_feasible_per_site_ranked_by_payback(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({
        "template": str(RESIDENCE),
        "sizing": {"miners": [{"model": "s21-hyd", "counts": [1, 2]}], "period": {"days": 1}},
        "sites": [
            {"name": "big", "overrides": {}},
            {"name": "small", "overrides": {"draws": {"flats": {"T2": 6, "T3": 8}}, "gas_boiler": {"output_kw": 60}}},
            {"name": "dear-gas", "overrides": {"prices": {"gas": {"eur_per_kwh_pcs": 0.14}}}},
        ]}))
    portfolio = load_portfolio(sites)
    assert [s.site for s in portfolio.studies] == ["big", "small", "dear-gas"]
    # overrides merge key by key: the template's other flat types stay
    assert portfolio.studies[1].configs[0].draws.flats == {  # type: ignore[union-attr]
        "T1": 8, "T2": 6, "T3": 8, "T4": 8, "T5": 4}
    assert portfolio.studies[1].configs[0].gas_boiler.output_kw == 60  # type: ignore[union-attr]
    tasks = [t for s in portfolio.studies for t in s.tasks]
    outcome = run_tasks(tasks, _Counting())
    scored = {s.site: s.scores(outcome) for s in portfolio.studies}
    bests = best_per_site(scored)
    for b in bests:
        feasible = [r for r in scored[b.site] if r.feasible]
        assert b.best is not None and b.best.npv_eur == max(r.npv_eur for r in feasible)
    paybacks = [b.best.payback_years for b in bests if b.best is not None]
    assert paybacks == sorted(paybacks)
    sums = totals(bests)
    assert sums["capital_eur"] == pytest.approx(sum(b.best.capital_eur for b in bests if b.best))
    assert sums["savings_eur_per_year"] == pytest.approx(sum(b.best.savings_eur_per_year for b in bests if b.best))
    # dearer gas, more saved by the same candidate
    big = {r.count: r for r in scored["big"]}
    dear = {r.count: r for r in scored["dear-gas"]}
    assert dear[1].savings_eur_per_year > big[1].savings_eur_per_year


def test_portfolio_cli_writes_sites_and_totals(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"template": str(RESIDENCE), "sites": [
        {"name": "a"}, {"name": "b", "overrides": {"mains": {"mean_c": 12}}}]}))
    code, output, payload = _size(tmp_path, "--portfolio", str(sites), "--models", "s21-hyd", "--counts", "1,2",
                                  "--days", "1", "--workers", "2")
    assert code == 0, output
    assert payload is not None
    assert {s["site"] for s in payload["sites"]} == {"a", "b"} and len(payload["candidates"]) == 4
    assert payload["totals"]["sites"] == 2
    assert payload["capital_examples_used"]  # example prices are said to be examples


def test_plots_are_written(tmp_path: Path) -> None:
    cfg = scenarios.load("residence-48")
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2]}], "store_volume_l": [2000, 3000],
                         "period": {"days": 1}}, "test")
    study = plan("residence-48", cfg, spec)
    outcome = run_tasks(study.tasks, _Counting())
    rows = study.scores(outcome)
    paths = write_plots(rows, tmp_path / "plots", "test")
    assert all(p.stat().st_size > 10_000 for p in paths)
    front = pareto_front(rows)
    assert front and all(a.capital_eur <= b.capital_eur and a.savings_eur_per_year < b.savings_eur_per_year
                         for a, b in pairwise(front))


def test_task_keys_follow_the_config(tmp_path: Path) -> None:
    cfg = scenarios.load("residence-48")
    a = plan("x", cfg, parse_sizing({"period": {"days": 1}}, "t")).tasks[0]
    b = plan("x", cfg, parse_sizing({"period": {"days": 1}, "seed": 2}, "t")).tasks[0]
    c = plan("x", cfg, parse_sizing({"period": {"days": 1, "start": date(2026, 2, 1)}}, "t")).tasks[0]
    d = plan("x", cfg, parse_sizing({"period": {"days": 1}, "store_volume_l": [2999]}, "t")).tasks[0]
    assert len({a.key, b.key, c.key, d.key}) == 4
    assert plan("y", cfg, parse_sizing({"period": {"days": 1}}, "t")).tasks[0].key == a.key


def test_the_documented_example_files_load() -> None:
    docs = Path(__file__).parents[2] / "docs" / "examples"
    spec = load_sizing(docs / "sizing.yaml")
    assert len(expand(spec, scenarios.load("residence-48"))) == 5 * 3 * 2
    studies = load_portfolio(docs / "sites.yaml").studies
    assert [s.site for s in studies] == ["montlucon-48", "vichy-30", "moulins-86", "preheat-site"]
    assert {c.count for c in studies[2].candidates} == {2, 3, 4}


class _KillAPoolWorker:
    """The real local pool, one of its worker processes killed (SIGKILL) when the first result is in."""

    name = "local"
    workers = 2

    def __init__(self) -> None:
        self.pool = LocalPool(2)
        self.killed: int | None = None

    def run(self, tasks: Sequence[SimTask], on_result, on_error) -> None:  # type: ignore[no-untyped-def]
        def kill_then_store(task: SimTask, record: dict[str, Any]) -> None:
            if self.killed is None:
                victim = next(p for p in multiprocessing.active_children() if p.pid != record["pid"])
                self.killed = victim.pid
                os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
            on_result(task, record)

        self.pool.run(tasks, kill_then_store, on_error)


@pytest.mark.slow  # ≈ 11 s on the shared 2-core machine
def test_a_killed_local_worker_loses_no_candidate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = scenarios.load("residence-48")
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2, 3, 4]}], "store_volume_l": [2000, 3000],
                         "period": {"days": 2}}, "test")
    tasks = plan("residence-48", cfg, spec).tasks
    backend = _KillAPoolWorker()
    with caplog.at_level("WARNING", logger="boiler.sizing"):
        outcome = run_tasks(tasks, backend, ResultCache(tmp_path))
    assert backend.killed is not None
    assert "pool_broken" in caplog.text  # the kill really broke the pool with candidates pending
    assert not outcome.failed and sorted(outcome.records) == sorted(t.key for t in tasks)
    calm = run_tasks(tasks, _Counting())
    assert {k: _figures(r["summary"]) for k, r in outcome.records.items()} == \
        {k: _figures(r["summary"]) for k, r in calm.records.items()}


def test_representative_weeks_add_up_as_one_run(tmp_path: Path) -> None:
    cfg = scenarios.load("residence-48")
    weeks = [date(2026, 1, 5), date(2026, 7, 6)]
    spec = parse_sizing({"miners": [{"model": "s21-hyd", "counts": [1, 2]}],
                         "period": {"representative_weeks": weeks}}, "test")
    study = plan("r", cfg, spec)
    assert [len(t) for t in study.candidate_tasks] == [2, 2] and len({t.key for t in study.tasks}) == 4
    assert [(t.start, t.days) for t in study.candidate_tasks[0]] == [("2026-01-05", 7.0), ("2026-07-06", 7.0)]
    outcome = run_tasks(study.tasks, _Counting())
    rows = {r.count: r for r in study.scores(outcome)}
    for cand, tasks in zip(study.candidates, study.candidate_tasks, strict=True):
        parts = [outcome.records[t.key]["summary"] for t in tasks]
        row = rows[cand.count]
        assert row.annualised_from_days == 14.0
        assert row.net_cost_eur_per_year == pytest.approx(sum(p["net_cost_eur"] for p in parts) * 365 / 14)
        assert row.savings_eur_per_year == pytest.approx(sum(p["savings_eur"] for p in parts) * 365 / 14)
        heat = [(p["heat_from_miners_kwh"], p["heat_from_gas_kwh"]) for p in parts]
        assert row.miner_heat_share == pytest.approx(sum(m for m, _ in heat) / sum(m + g for m, g in heat))
        assert row.min_outlet_temp_c == min(p["min_outlet_temp_c"] for p in parts)
        assert row.feasible is all(p["dhw_volume_below_setpoint_l"] == 0 and p["legionella_compliant"] for p in parts)
    # a summer week and a winter week are not the same week: the weeks really differ
    first = [outcome.records[t.key]["summary"]["dhw_heat_kwh"] for t in study.candidate_tasks[0]]
    assert first[0] > first[1]
    with pytest.raises(SizingError, match=r"period\.representative_weeks"):
        parse_sizing({"period": {"representative_weeks": []}}, "test")


def test_models_alone_try_the_buildings_count(tmp_path: Path) -> None:
    code, output, sized = _size(tmp_path, "-c", str(RESIDENCE), "--models", "s21plus-hyd", "--days", "1",
                                "--workers", "1", "--csv", str(tmp_path / "size.csv"))
    assert code == 0, output
    assert sized is not None and [(c["model"], c["count"]) for c in sized["candidates"]] == [("s21plus-hyd", 2)]
    lines = (tmp_path / "size.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("site,key,label,model,count")


def test_a_result_from_other_code_is_refused(tmp_path: Path) -> None:
    class OtherCode(_Counting):
        def run(self, tasks, on_result, on_error) -> None:  # type: ignore[no-untyped-def]
            for task in tasks:
                on_result(task, {**run_task(task), "code": "0123456789abcdef", "host": "w1", "pid": 42})

    study = plan("r", scenarios.load("residence-48"), parse_sizing({"period": {"days": 1}}, "test"))
    cache = ResultCache(tmp_path)
    outcome = run_tasks(study.tasks, OtherCode(), cache)
    assert not outcome.records and "w1:42 runs other code" in outcome.failed[study.tasks[0].key]
    assert not list(tmp_path.glob("*.json"))  # nothing from other code enters the cache
