"""The QGIS plugin imports the operation registry inside QGIS, whose own GDAL, PROJ and GEOS
clash with the wheels' copies: loading the registry must not import any of those wheels."""
import subprocess
import sys

FORBIDDEN = ["pyogrio", "pyproj", "shapely", "geopandas", "fiona", "osgeo"]


def test_loading_the_registry_imports_no_gdal_proj_or_geos_wheel():
    code = ("import sys; from surveytools import ops; ops.load_all(); "
            f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the registry imports {out.stdout.strip()}"
