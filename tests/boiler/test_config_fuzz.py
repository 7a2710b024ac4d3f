"""Config fuzzer (issue 12): mutated built-in scenarios through `config validate`, then `simulate`.

Each example takes a built-in scenario (boiler/scenarios/*.yaml) and breaks it: values of the wrong
type, deleted keys, non-finite and extreme numbers, unknown keys, deep nesting; then maybe the file
itself: another encoding, a cut multi-byte character, a NUL byte, an alias bomb, a recursive alias,
a repeated section. Whatever comes out:

- `config validate` never shows a traceback and never hangs: it exits 0, or 2 with a message that
  names a field path (or the line of the file, or the budget figure to change);
- every config it accepts runs `simulate --days 1` to exit 0 or 1 (never 2: both use one loader),
  with every figure of the JSON summary finite (or null where it does not apply).

Runs in-process through typer's CliRunner; each example is bounded by an alarm.
"""

from __future__ import annotations

import json
import math
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from boiler.cli import app

runner = CliRunner()
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "boiler" / "scenarios"
SCENARIOS = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SCENARIO_DIR.glob("*.yaml"))}
#: Longest one example may take (validate plus, if accepted, one simulated day).
EXAMPLE_LIMIT_S = 20

WRONG_TYPES = st.sampled_from(["text", "", True, False, None, [], {}, [1, 2], {"k": 1}, 7, -3.5, "1e3", "yes"])
EXTREME_NUMBERS = st.sampled_from([
    math.nan, math.inf, -math.inf, 1e308, -1e308, 10**30, -(10**30), 2**63, 0, -1, 1e-300, 0.5, 10**400,
])  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in the parsed YAML (dict keys and list indices)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str]]:
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    data = json.loads(json.dumps(SCENARIOS[name]))  # a deep copy
    done: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(data, path), path[-1]
        op = draw(st.sampled_from(["type", "number", "number", "delete", "unknown_key", "nest"]))
        if op == "type":
            parent[last] = draw(WRONG_TYPES)
        elif op == "number":
            parent[last] = draw(EXTREME_NUMBERS)
        elif op == "delete":
            del parent[last]
        elif op == "unknown_key":
            target = parent[last] if isinstance(parent[last], dict) else parent
            if isinstance(target, dict):
                target["zz_unknown"] = 1
        else:
            value = parent[last]
            for _ in range(draw(st.sampled_from([3, 80]))):
                value = [value]
            parent[last] = value
        done.append(f"{op} {'.'.join(map(str, path))}")
    return name, data, done


BOMB = 'zz_a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"zz_{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
)


def _encode(text: str, how: str) -> bytes:
    """The file as written: UTF-8, or one of the ways an installer's editor can get it wrong."""
    raw = text.encode("utf-8")
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return text.encode("latin-1", "replace") + "\n# é\n".encode("latin-1")
    if how == "cut-character":
        return raw + "# °".encode()[:-1]
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "nul":
        return raw[: len(raw) // 2] + b"\x00" + raw[len(raw) // 2 :]
    if how == "alias-bomb":
        return raw + BOMB.encode()
    if how == "recursive-alias":
        return raw + b"zz_r: &r [*r]\n"
    if how == "duplicate-section":
        return raw + b"site: {name: again}\n"
    if how == "deep":
        return raw + ("zz_deep: " + "[" * 200 + "]" * 200 + "\n").encode()
    return raw


FILE_LEVEL = ("utf-16", "latin-1", "cut-character", "nul", "alias-bomb", "recursive-alias", "duplicate-section",
              "deep")
#: What a refusal must say: a field path (`section.field…: …`), or where the file itself is wrong.
_FIELD_LINE = re.compile(r"^\s+[A-Za-z_][\w-]*(\.[^\s:]+)*: \S", re.MULTILINE)
_FILE_PROBLEM = re.compile(r"not valid YAML at line \d+|not valid YAML: |not UTF-8 text: byte 0x[0-9a-f]{2} at line"
                           r"|the top level must be a mapping|larger than [\d,]+ bytes")


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"an example ran for more than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _no_traceback(result: Any) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _finite_summary(path: Path) -> None:
    def refuse(token: str) -> float:
        raise AssertionError(f"non-finite figure {token} in the summary")

    summary = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    for key, value in summary.items():
        assert value is None or not isinstance(value, float) or math.isfinite(value), (key, value)


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(config=mutated_configs(), encoding=st.sampled_from(["utf-8"] * 8 + ["bom", *FILE_LEVEL]))
def test_mutated_scenarios_are_refused_with_a_path_or_run(tmp_path: Path, config: tuple[str, dict[str, Any],
                                                          list[str]], encoding: str) -> None:
    name, data, mutations = config
    path = tmp_path / "plant.yaml"
    path.write_bytes(_encode(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding))
    with _alarm(EXAMPLE_LIMIT_S):
        result = runner.invoke(app, ["config", "validate", str(path)])
        _no_traceback(result)
        assert result.exit_code in (0, 2), (name, mutations, encoding, result.output)
        if encoding in FILE_LEVEL:
            assert result.exit_code == 2, (name, mutations, encoding, result.output)
        event(f"validate exit {result.exit_code}")
        if result.exit_code == 2:
            text = result.output
            flat = " ".join(text.split())
            assert _FIELD_LINE.search(text) or _FILE_PROBLEM.search(flat), (name, mutations, encoding, text)
            assert "(top level)" not in text or "top level must be a mapping" in text, text
            return
        summary = tmp_path / "summary.json"
        run = runner.invoke(app, ["simulate", "--config", str(path), "--days", "1", "-q", "--json", str(summary)])
        _no_traceback(run)
        assert run.exit_code in (0, 1), (name, mutations, run.output)
        event(f"simulate exit {run.exit_code}")
        _finite_summary(summary)
