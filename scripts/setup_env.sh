#!/usr/bin/env bash
# One-command, idempotent set-up for a fresh Debian 12 machine (run as root or with sudo).
# Installs Debian's QGIS 3.22 LTR, PostGIS, CJK fonts and Xvfb, then a venv on Debian's
# python3 with --system-site-packages (so PyQGIS is importable) and the pip stack (numpy<2).
# A second run only checks and returns in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
APT_PKGS="python3-venv python3-qgis qgis-providers qgis gdal-bin postgresql-15-postgis-3 \
libsqlite3-mod-spatialite xvfb xauth fonts-noto-cjk qttools5-dev-tools zip \
libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils"
missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "[setup] apt: installing$missing"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating venv $VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo /usr/share/qgis/python/plugins > "$SITE/qgis_plugins.pth"
# Re-run pip only when the requirements or pyproject changed since the last successful run.
STAMP="$VENV/.surveytools-setup.sha"
want=$(cat requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "[setup] pip: installing requirements"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v 'is ignored' || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v 'is ignored' || true
  "$VENV/bin/python" -c "import qgis.core, geopandas, shapely, pyogrio, pyproj, rtree, openpyxl, jinja2, click, yaml, surveytools" \
    || { echo "[setup] environment check failed" >&2; exit 1; }
  echo "$want" > "$STAMP"
fi
# zh_CN translation of the plugin (.ts in the repo, .qm built here).
if ls qgis_plugin/i18n/*.ts >/dev/null 2>&1; then
  for ts in qgis_plugin/i18n/*.ts; do
    qm="${ts%.ts}.qm"
    [ "$qm" -nt "$ts" ] || /usr/lib/qt5/bin/lrelease -silent "$ts" -qm "$qm"
  done
fi
echo "[setup] environment ready ($VENV)"
