"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) and no import
hidden inside a function outside the CLI's lazy command imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

#: Imports that may stay inside functions, and why: the CLI loads each command's modules when the
#: command runs (`boiler --help` stays fast); the rest defer a heavy or noisy library (pyasic configures
#: logging on import) to where it is used. None of them dodges an import cycle.
LAZY_OK = {
    "pyasic", "pyasic.miners.factory", "miners.driver_pyasic", "boiler.telemetry.influx", "boiler.mqtt",
    "zoneinfo", "pwd", "weasyprint",  # weasyprint: the optional `pdf` extra
}


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def _function_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and sub.module:
                    found.append((sub.lineno, sub.module))
                elif isinstance(sub, ast.Import):
                    found += [(sub.lineno, alias.name) for alias in sub.names]
    return found


def test_no_import_hides_inside_a_function() -> None:
    hidden = [f"{path.relative_to(ROOT)}:{line} {module}"
              for package in ("boiler", "miners", "tank")
              for path in sorted((ROOT / package).rglob("*.py")) if "cli" not in path.relative_to(ROOT).parts
              for line, module in _function_imports(path) if module not in LAZY_OK]
    assert not hidden, "imports inside functions (move them to the top; a cycle means a layer is wrong):\n" + \
        "\n".join(hidden)
