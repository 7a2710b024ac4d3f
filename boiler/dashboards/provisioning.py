"""Grafana provisioning files: the InfluxDB datasource (InfluxQL, fixed uid) and the dashboard provider.

Grafana replaces ``${NAME}`` in provisioning files with environment variables at start, so no
address or secret is written into them (docs/grafana.md lists the variables).
"""

from __future__ import annotations

from typing import Final

from boiler.dashboards.influxql import DATASOURCE_TYPE, DATASOURCE_UID

DATASOURCE_FILE: Final = "provisioning/datasources/boiler-influxdb.yaml"
PROVIDER_FILE: Final = "provisioning/dashboards/boiler.yaml"
DASHBOARDS_DIR: Final = "dashboards"
#: Where the committed provider file (grafana/provisioning) expects the dashboards on a Grafana host.
DEFAULT_DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/boiler"

#: Environment variables the datasource reads.
ENV_URL: Final = "BOILER_INFLUX_URL"
ENV_DATABASE: Final = "BOILER_INFLUX_DATABASE"
ENV_TOKEN: Final = "BOILER_INFLUX_TOKEN"


def datasource_yaml() -> str:
    return f"""# Written by `boiler dashboards export`; see docs/grafana.md.
# InfluxQL works on InfluxDB 1.x, on 2.x through a DBRP mapping and on 3.x.
apiVersion: 1
datasources:
  - name: Boiler InfluxDB
    uid: {DATASOURCE_UID}              # every dashboard panel refers to this uid
    type: {DATASOURCE_TYPE}
    access: proxy
    url: ${{{ENV_URL}}}           # e.g. http://127.0.0.1:8086
    isDefault: false
    editable: false
    jsonData:
      version: InfluxQL
      dbName: ${{{ENV_DATABASE}}}  # 1.x: database; 2.x: the DBRP-mapped database; 3.x: database
      httpMode: POST
      timeInterval: 10s
      httpHeaderName1: Authorization
    secureJsonData:
      httpHeaderValue1: Token ${{{ENV_TOKEN}}}  # 2.x/3.x token; 1.8+ with auth: user:password
"""


def provider_yaml(dashboards_path: str) -> str:
    if "\n" in dashboards_path or '"' in dashboards_path:
        raise ValueError(f"unusable dashboards path: {dashboards_path!r}")
    return f"""# Written by `boiler dashboards export`; see docs/grafana.md.
apiVersion: 1
providers:
  - name: boiler
    orgId: 1
    folder: Mining boilers
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: "{dashboards_path}"
      foldersFromFilesStructure: false
"""
