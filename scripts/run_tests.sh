#!/usr/bin/env bash
# Runs every test: starts a throwaway PostGIS, runs pytest (headless QGIS included), stops
# PostGIS.  Fails when no test ran.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg_start.sh
trap pg_stop EXIT
export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/tmp/runtime-$(id -u) SURVEYTOOLS_LANG=both
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
set +e
.venv/bin/python -m pytest -p no:cacheprovider --qgis_disable_gui "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then echo "no tests were collected: failing" >&2; rc=1; fi
exit $rc
