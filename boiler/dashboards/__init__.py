"""Grafana dashboards as code (grafana-foundation-sdk, Grafana 11 line) and their provisioning files.

Needs the ``dashboards`` extra: ``pip install 'mining-boiler[dashboards]'``. The generated JSON is
committed under ``grafana/``; ``boiler dashboards export DIR`` writes the same tree elsewhere.
"""
