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


def test_loading_the_registry_imports_only_the_standard_library():
    """The QGIS plugin builds its Processing algorithms from the registry inside QGIS's own Python,
    where only the standard library, qgis and PyQt are promised: declaring the operations must not
    import numpy, pandas, pyarrow, yaml … (they are imported when an operation runs)."""
    code = ("import sys; base = set(sys.modules); from surveytools import ops; ops.load_all(); "
            "std = set(sys.stdlib_module_names); "
            "new = {m.split('.')[0] for m in set(sys.modules) - base}; "
            "print(','.join(sorted(m for m in new - std if m != 'surveytools' and not m.startswith('_'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the registry imports {out.stdout.strip()}"


def test_lazy_imports_load_when_used():
    from surveytools.lazy import lazy_function, lazy_module

    js = lazy_module("json")
    assert js.dumps([1]) == "[1]"
    dumps = lazy_function("json", "dumps")
    assert dumps({"a": 1}) == '{"a": 1}' and dumps.__name__ == "dumps"
