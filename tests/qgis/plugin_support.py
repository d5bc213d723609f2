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
