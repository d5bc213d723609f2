"""One table reader and one vector reader behind every operation: the same bad input gives the
same clear error (exit 2, same code, file named, Chinese and English) whichever command reads it.

Issue 12 point 6: a CSV that is neither UTF-8 nor GB18030 used to give an ``UnboundLocalError``
in one command, an ``ArrowInvalid`` internal error (exit 3) in ``grid import`` and other messages
elsewhere."""
import json
import shutil

import pytest
from conftest import ROOT

SURVEY = ROOT / "sample_data" / "guixi" / "survey"


@pytest.fixture(scope="module")
def project(components_grid_project, tmp_path_factory):
    """The grid project with the sample department registry (so that every command gets as far as
    reading its input file)."""
    from surveytools.responsibility.ops import departments

    p = tmp_path_factory.mktemp("readers") / "p.gpkg"
    shutil.copy(components_grid_project, p)
    departments(str(p), **{"import": str(SURVEY / "departments.xlsx")})
    return p


def _commands(project, bad, out):
    p = str(project)
    return {
        "components intake": ["components", "intake", p, bad],
        "events intake": ["events", "intake", p, bad],
        "components merge": ["components", "merge", p, bad],
        "components mapping": ["components", "mapping", p, bad, "--out", out / "m.yaml"],
        "grid divide": ["grid", "divide", p, "--communities", bad, "--overwrite"],
        "grid import": ["grid", "import", p, bad, "--overwrite"],
        "grid recode": ["grid", "recode", p, "--redrawn", bad],
        "grid aggregate": ["grid", "aggregate", p, "--kind", "work", "--members", bad],
        "geocode build": ["geocode", "build", p, "--from", bad],
        "geocode batch": ["geocode", "batch", p, bad, "--column", "名称", "--out", out / "o.csv"],
        "profile import-classes": ["profile", "import-classes", "--source", bad, "--out", out / "prof", "--id", "x1"],
        "responsibility departments": ["responsibility", "departments", p, "--import", bad],
        "responsibility matrix": ["responsibility", "matrix", p, "--import", bad],
        "responsibility assign": ["responsibility", "assign", p, "--departments", bad],
        "validate run": ["validate", "run", p, "--out", out / "v", "--checkpoints", bad],
    }


def _run_all(cli, project, bad, out):
    before = project.read_bytes()
    found = {}
    for name, args in _commands(project, str(bad), out).items():
        code, stdout, _ = cli(args + ["--json"])
        err = json.loads(stdout)["error"] if stdout.strip().startswith("{") else {}
        found[name] = (code, err.get("code"), err.get("file"))
    assert project.read_bytes() == before  # nothing written on a bad input
    return found


def test_a_csv_neither_utf8_nor_gb18030_gives_one_error_everywhere(cli, project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("名称,值,lon,lat\n".encode("utf-8") + b"\xff\xfe\xfa\x00\x81,1,117.2,28.2\n")
    found = _run_all(cli, project, bad, tmp_path)
    assert found == {name: (2, "encoding", str(bad)) for name in found}, found


def test_an_empty_file_gives_one_error_everywhere(cli, project, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    found = _run_all(cli, project, empty, tmp_path)
    assert found == {name: (2, "empty_file", str(empty)) for name in found}, found


def test_the_encoding_error_names_line_and_bytes_in_both_languages(tmp_path):
    from surveytools.errors import SurveyError
    from surveytools.io import read_vector
    from surveytools.io.tables import read_table

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n\x80\xff,3\n")
    for read in (lambda: read_table(bad), lambda: read_vector(str(bad))):
        with pytest.raises(SurveyError) as e:
            read()
        zh, en = e.value.render("zh"), e.value.render("en")
        assert e.value.code == "encoding" and "第 3 行" in zh and "line 3" in en and "80 ff" in en


def test_a_table_where_a_vector_layer_is_needed(tmp_path):
    from surveytools.errors import SurveyError
    from surveytools.io import read_vector

    good = tmp_path / "t.csv"
    good.write_text("名称,值\n甲,1\n", encoding="utf-8")
    with pytest.raises(SurveyError) as e:
        read_vector(str(good))
    assert e.value.code == "no_geometry" and e.value.file == str(good)
    df, src = read_vector(str(good), need_geometry=False)
    assert df["名称"].tolist() == ["甲"] and src.encoding == "UTF-8"


def test_a_layer_without_geometries_where_one_is_needed(tmp_path):
    import pandas as pd
    import pyogrio

    from surveytools.errors import SurveyError
    from surveytools.io import read_vector

    f = tmp_path / "attrs.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1, 2]}), f, layer="attrs")
    with pytest.raises(SurveyError) as e:
        read_vector(str(f))
    assert e.value.code == "no_geometry" and e.value.layer == "attrs"


def test_both_vector_readers_choose_layers_and_name_a_missing_one_alike(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    from surveytools.components.sources import read_sources
    from surveytools.errors import SurveyError
    from surveytools.io import read_vector

    f = tmp_path / "two.gpkg"
    for name in ("a", "b"):
        gpd.GeoDataFrame({"n": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326").to_file(f, layer=name)
    errors = []
    for read in (read_vector, read_sources):
        with pytest.raises(SurveyError) as e:
            read(f"{f}:c")
        errors.append((e.value.code, e.value.file, e.value.layer, e.value.render("en")))
    assert errors[0] == errors[1] and errors[0][0] == "no_layer" and "a, b" in errors[0][3]
    with pytest.raises(SurveyError) as e:
        read_vector(str(f))  # one layer wanted: which?
    assert e.value.code == "layer_required"
    assert [s.info.layer for s in read_sources(str(f))] == ["a", "b"]  # intake takes every layer
