#!/bin/sh
# Set up the project on a fresh Debian/Ubuntu machine with Python 3.11+.
#   scripts/setup.sh          virtualenv .venv with the product installed (editable)
#   scripts/setup.sh --test   also the test tools and the servers the integration tests start
#                             (mosquitto, InfluxDB 1.x, VictoriaMetrics: Debian packages), and
#                             the npm packages of the dashboard type check (grafana/tscheck)
set -eu
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "setup: need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_install() {
    missing=""
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
    [ -z "$missing" ] && return 0
    echo "setup: installing Debian packages:$missing" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "setup: Python 3.11 or newer is needed (found $(python3 --version 2>&1))" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv 2>/dev/null || { apt_install python3-venv && rm -rf .venv && python3 -m venv .venv; }
fi
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
if [ "$with_tests" = 1 ]; then
    # Servers stay stopped: the tests start their own on free loopback ports.
    # chromium and poppler-utils: the monthly report is printed to PDF in a real browser and read back;
    # Pango for WeasyPrint, the report's optional PDF extra (tested too).
    apt_install mosquitto influxdb victoria-metrics openssl chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0
    for svc in mosquitto influxdb victoria-metrics; do
        as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
    done
    .venv/bin/python -m pip install -q -e '.[test,pdf]'
    # The dashboard type check (tests/grafana) runs tsc against @grafana/schema, pinned in
    # grafana/tscheck/package-lock.json.
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    npm ci --silent --no-audit --no-fund --prefix grafana/tscheck
else
    .venv/bin/python -m pip install -q -e .
fi
