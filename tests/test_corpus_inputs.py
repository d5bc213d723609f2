"""The bad-input corpus: one input per kind of trouble users really hand over, run through the CLI.

Every case asserts the exit code (2 for bad input, never 3) and that the message names what is
wrong (file, field, value), in Chinese and English.  The inputs are small and generated here with
real bytes (GBK and UTF-8), so the corpus runs in seconds as part of ``make test``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

CRS = "EPSG:4548"
ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"
BASE = ROOT / "sample_data" / "guixi" / "base.gpkg"


def _grids(p):
    from surveytools import project

    return project.read_layer(project.Project.open(p), "unit_grid")


def _gpkg(tmp, name, gdf, layer="r"):
    f = tmp / f"{name}.gpkg"
    gdf.to_file(f, layer=layer)
    return f"{f}:{layer}"


# -- builders: (tmp, project) -> argv -------------------------------------------------------------

def merge_negative_tolerance(tmp, p):
    return ["components", "merge", p, SURVEY / "components_a.gpkg", "--tolerance", "-5"]


def merge_nan_tolerance(tmp, p):
    return ["components", "merge", p, SURVEY / "components_a.gpkg", "--tolerance", "nan"]


def reverse_nan(tmp, p):
    return ["geocode", "reverse", p, "nan", "nan"]


def recode_one_square(tmp, p):
    g = _grids(p)
    x, y = g.geometry.iloc[0].representative_point().coords[0]
    return ["grid", "recode", p, "--redrawn",
            _gpkg(tmp, "one_square", gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(x, y, x + 100, y + 100)], crs=CRS))]


def recode_shifted(tmp, p):
    g = _grids(p)
    g.loc[3, "geometry"] = shapely.affinity.translate(g.geometry.iloc[3], 30, 0)
    return ["grid", "recode", p, "--redrawn", _gpkg(tmp, "shifted", g[["geometry"]])]


def recode_empty(tmp, p):
    return ["grid", "recode", p, "--redrawn", _gpkg(tmp, "empty_layer", gpd.GeoDataFrame({"a": []}, geometry=[], crs=CRS))]


def import_self_intersecting(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    bow = shapely.Polygon([(500000, 3100000), (500100, 3100100), (500100, 3100000), (500000, 3100100)])
    return ["grid", "import", e, _gpkg(tmp, "bowtie", gpd.GeoDataFrame({"BGID": ["36068100100101"]}, geometry=[bow], crs=CRS))]


def import_15_digits_in_14(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    return ["grid", "import", e, _gpkg(tmp, "codes15", gpd.GeoDataFrame({"BGID": ["360681001001001"]},
                                                                         geometry=[shapely.box(0, 0, 50, 50)], crs=CRS))]


def import_no_code_field(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    return ["grid", "import", e, _gpkg(tmp, "nocode", gpd.GeoDataFrame({"name": ["x"]},
                                                                        geometry=[shapely.box(0, 0, 50, 50)], crs=CRS))]


def divide_without_communities(tmp, p):
    return ["grid", "divide", p, "--overwrite"]


def divide_empty_communities(tmp, p):
    return ["grid", "divide", p, "--communities", "", "--overwrite"]


def scheme_param_wrong_type(tmp, p):
    f = tmp / "bad_scheme.yaml"
    f.write_text("id: bad\nsteps:\n  - {rule: topology.grid_gaps, params: {min_area_m2: abc}}\n", encoding="utf-8")
    return ["validate", "run", p, "--scheme", f, "--out", tmp / "v"]


#: (case, builder, exit code, texts the message must hold)
CASES = [
    ("merge tolerance -5", merge_negative_tolerance, 2, ["--tolerance", "-5", "范围", "range"]),
    ("merge tolerance nan", merge_nan_tolerance, 2, ["--tolerance", "nan", "NaN"]),
    ("reverse nan nan", reverse_nan, 2, ["X", "nan", "有限", "finite"]),
    ("recode one 100 m square", recode_one_square, 2, ["one_square.gpkg", "缝隙", "gaps", "--force"]),
    ("recode one grid shifted 30 m", recode_shifted, 2, ["shifted.gpkg", "重叠", "overlap"]),
    ("recode empty layer", recode_empty, 2, ["empty_layer.gpkg", "为空", "empty"]),
    ("import self-intersecting grid", import_self_intersecting, 2, ["bowtie.gpkg", "Self-intersection", "36068100100101", "--repair"]),
    ("import 15 digits in a 14-digit profile", import_15_digits_in_14, 2, ["codes15.gpkg", "BGID", "360681001001001", "14"]),
    ("import without a code field", import_no_code_field, 2, ["nocode.gpkg", "14 位", "14 digits"]),
    ("divide without --communities", divide_without_communities, 2, ["--communities"]),
    ("divide with an empty --communities", divide_empty_communities, 2, ["--communities", "COMMUNITIES"]),
    ("scheme parameter of the wrong type", scheme_param_wrong_type, 2, ["bad_scheme.yaml", "min_area_m2", "abc", "数字", "number"]),
]


@pytest.mark.parametrize("name,build,code,needles", CASES, ids=[c[0] for c in CASES])
def test_corpus(name, build, code, needles, cli, components_grid_project, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    argv = build(tmp_path, p)
    inputs = {f: f.read_bytes() for f in tmp_path.iterdir() if f.is_file() and f.suffix != ".gpkg-journal"}
    rc, out, err = cli([str(a) for a in argv])
    assert rc == code, f"{name}: exit {rc}\n{err}"
    assert "Traceback" not in err and "内部错误" not in err and "Internal error" not in err
    if code == 2 and "Usage:" not in err:
        assert "错误" in err and "Error" in err, err
    for n in needles:
        assert n in err, f"{name}: {n!r} missing from\n{err}"
    for f, data in inputs.items():  # no input was changed
        if f.exists() and f != p:
            assert f.read_bytes() == data, f"{name}: {f} changed"
    if code == 2:
        assert p.read_bytes() == inputs[p], f"{name}: the project changed"
