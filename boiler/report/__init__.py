"""The landlord's monthly report: a month of ledger rows and hygiene log, as HTML, PNG, PDF or JSON.

`sources` reads the ledger and the hygiene log (the service's SQLite state file, or the CSV files
of `boiler simulate --ledger/--hygiene-log`); `month` adds a month up; `charts`, `html`, `png`
and `pdf` draw it; `boiler report` (boiler/cli/report_cmd.py) puts them together.
"""
