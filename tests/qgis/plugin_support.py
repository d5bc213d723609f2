"""Helpers for the plugin tests (not a test module).

The sample project (贵溪: grids, communities, streets, 12,000 components, departments, a
validation run) is built once per test process **in a child Python**: the tests run inside QGIS,
whose GDAL/PROJ/GEOS must not meet geopandas/shapely/pyogrio (see surveytools/runner.py).
"""
from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BUILD = r"""
import sys
from pathlib import Path
sys.path[:0] = [sys.argv[2], sys.argv[3]]
import export_fixture
from surveytools.errors import SurveyError
from surveytools.responsibility.ops import assign
from surveytools.validate import ops as V

p = Path(sys.argv[1])
export_fixture.build(p)
assign(str(p), departments=str(export_fixture.DEPARTMENTS))
try:
    V.run(str(p), out=str(p.parent / "qc"), write_project=True)
except SurveyError as e:
    if e.code != "validation_failed":
        raise
print("ok")
"""

_CACHE: dict = {}


def sample_project() -> Path:
    """Path of the built sample project (copy it before changing it)."""
    if "p" not in _CACHE:
        d = Path(tempfile.mkdtemp(prefix="st-plugin-"))
        atexit.register(shutil.rmtree, d, True)
        p = d / "guixi.gpkg"
        res = subprocess.run([sys.executable, "-c", BUILD, str(p), str(ROOT / "tests"), str(ROOT)],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0 and p.is_file(), res.stdout[-2000:] + res.stderr[-4000:]
        _CACHE["p"] = p
    return _CACHE["p"]


def copy_project(dst_dir: Path, name: str = "p.gpkg") -> Path:
    dst = Path(dst_dir) / name
    shutil.copyfile(sample_project(), dst)
    return dst


def sql(path, query, params=()):
    import sqlite3

    con = sqlite3.connect(str(path))
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


CLI_CHILD = r"""
import sys
sys.path[:0] = [sys.argv[1]]
from surveytools.cli import main
sys.exit(main(sys.argv[2:]))
"""


def surveytools(*args) -> dict:
    """Run ``surveytools ARGS --json`` in a child Python (never inside QGIS's process) and return its
    JSON output; a non-zero exit fails the test with the end of its output."""
    import json

    res = subprocess.run([sys.executable, "-c", CLI_CHILD, str(ROOT), *[str(a) for a in args], "--json"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads(res.stdout[res.stdout.index("{"):])


def by_key(qgs, key):
    """The one layer of the QGIS project ``qgs`` loaded for the profile layer ``key``."""
    hits = [lyr for lyr in qgs.mapLayers().values() if lyr.customProperty("surveytools/key") == key]
    assert len(hits) == 1, (key, len(hits))
    return hits[0]


def assert_qfield_forms(qgs) -> None:
    """Every layer of the QGIS project ``qgs`` uses only widgets QField supports and no Python form code."""
    from qgis_plugin.field_project import QFIELD_WIDGETS

    for lyr in qgs.mapLayers().values():
        types = {lyr.editorWidgetSetup(i).type() for i in range(lyr.fields().count())}
        assert types <= QFIELD_WIDGETS, (lyr.name(), types - QFIELD_WIDGETS)
        form = lyr.editFormConfig()
        assert int(form.initCodeSource()) == 0 and not form.initFunction(), lyr.name()


def two_grids():
    """A memory layer of two 10 m unit grids side by side: 36068100100102 (x 0-10), 36068100100101 (x 10-20)."""
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    grids = QgsVectorLayer("Polygon?crs=EPSG:4548&field=BGID:string", "g", "memory")
    feats = []
    for code, x0 in (("36068100100102", 0), ("36068100100101", 10)):
        f = QgsFeature(grids.fields())
        f["BGID"] = code
        f.setGeometry(QgsGeometry.fromWkt(f"POLYGON(({x0} 0,{x0 + 10} 0,{x0 + 10} 10,{x0} 10,{x0} 0))"))
        feats.append(f)
    grids.dataProvider().addFeatures(feats)
    return grids
