"""Regenerate the committed Grafana tree: ``.venv/bin/python grafana/build.py``.

Writes grafana/dashboards/*.json and grafana/provisioning/ from boiler/dashboards (the same tree
``boiler dashboards export DIR`` writes, with the provider pointing at the usual Grafana path).
tests/grafana/test_dashboards_static.py fails when the committed files are not current.
"""

from __future__ import annotations

from pathlib import Path

from boiler.dashboards.export import write_tree
from boiler.dashboards.provisioning import DEFAULT_DASHBOARDS_PATH

if __name__ == "__main__":
    root = Path(__file__).resolve().parent
    for path in write_tree(root, DEFAULT_DASHBOARDS_PATH):
        print(path.relative_to(root))
