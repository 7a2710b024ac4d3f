"""`tsc` type-checks the committed dashboard JSON against `@grafana/schema` (grafana/tscheck).

Each dashboard becomes ``export const dashboard = <json> satisfies BoilerDashboard;``: the
schema's ``Dashboard`` with its string enums read as the unions of their values (JSON has no
enums) and one documented extension, annotations whose target is an InfluxQL query (the schema
types only Grafana's built-in annotation store there). A deliberately broken
copy must fail, so the check is known to bite. ``scripts/setup.sh --test`` installs the pinned
packages with ``npm ci``; without them the test fails in CI and skips elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from boiler.dashboards.export import DASHBOARDS

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
TSCHECK = GRAFANA / "tscheck"
TSC = TSCHECK / "node_modules" / ".bin" / "tsc"

PRELUDE = """import type { AnnotationQuery, Dashboard } from '@grafana/schema';

// JSON has no enums: each string enum of the schema is checked as the union of its values.
type AsJson<T> = T extends string
  ? `${T}`
  : T extends readonly (infer U)[]
    ? AsJson<U>[]
    : T extends object
      ? { [K in keyof T]: AsJson<T[K]> }
      : T;

type InfluxQLAnnotationTarget = {
  refId: string;
  query: string;
  rawQuery: true;
  resultFormat: 'table';
  textColumn: string;
  tagsColumn?: string;
};
type InfluxQLAnnotation = Omit<AnnotationQuery, 'target'> & { target: InfluxQLAnnotationTarget };
type BoilerDashboard = AsJson<Omit<Dashboard, 'annotations'>> & {
  annotations?: { list?: AsJson<InfluxQLAnnotation>[] };
};

"""
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "target": "es2022",
        "skipLibCheck": True,
    },
    "include": ["*.check.ts"],
}


def tsc() -> Path:
    if not TSC.exists():
        message = f"{TSC} missing: run scripts/setup.sh --test (npm ci --prefix grafana/tscheck)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return TSC


def check(tmp_path: Path, models: dict[str, dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "node_modules").symlink_to(TSCHECK / "node_modules", target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module", "private": true}\n')
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    for stem, model in models.items():
        body = json.dumps(model, indent=2, ensure_ascii=False)
        source = f"{PRELUDE}export const dashboard = {body} satisfies BoilerDashboard;\n"
        (tmp_path / f"{stem}.check.ts").write_text(source)
    return subprocess.run([str(tsc()), "-p", str(tmp_path)], capture_output=True, text=True, timeout=300)


def committed() -> dict[str, dict[str, Any]]:
    return {name.removesuffix(".json"): json.loads((GRAFANA / "dashboards" / name).read_text()) for name in DASHBOARDS}


def test_committed_dashboards_type_check(tmp_path: Path) -> None:
    result = check(tmp_path, committed())
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_dashboard_fails_the_type_check(tmp_path: Path) -> None:
    model = committed()["boiler-landlord"]
    model["graphTooltip"] = 7
    model["panels"][1]["gridPos"]["h"] = "eight"
    model["panels"][1]["fieldConfig"]["defaults"]["untis"] = "kwatth"
    model["panels"][2]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut"
    result = check(tmp_path, {"broken": model})
    assert result.returncode != 0
    out = result.stdout
    assert "DashboardCursorSync" in out
    assert "'string' is not assignable to type 'number'" in out
    assert "untis" in out
    assert '"absolut"' in out
