"""The survey project database: init, info, CRS choice, atomic writes, clear errors."""
import json
import sqlite3

import pyogrio
import pytest

from surveytools import project
from surveytools.crs import gk3_epsg_for_longitude, resolve_crs
from surveytools.errors import SurveyError
from surveytools.profiles import load_profile


@pytest.mark.parametrize("lon,epsg", [(75.0, 4534), (117.2, 4548), (116.4, 4548), (120.0, 4549),
                                      (121.47, 4549), (113.26, 4547), (135.0, 4554)])
def test_gk3_zone(lon, epsg):
    assert gk3_epsg_for_longitude(lon) == epsg
    assert f"{resolve_crs(epsg).coordinate_operation.params[1].value:g}" == f"{3 * round(lon / 3):g}"


def test_gk3_zone_outside_china():
    with pytest.raises(SurveyError) as e:
        gk3_epsg_for_longitude(10.0)
    assert "3 度带" in e.value.render() and "3-degree" in e.value.render()


@pytest.mark.parametrize("profile_id", ["cjt", "gbt30428", "gbt47678"])
def test_init_creates_profile_layers(tmp_path, profile_id):
    out = tmp_path / "p.gpkg"
    res = project.init(project=str(out), county="360681", profile=profile_id)
    prof = load_profile(profile_id)
    layers = dict(pyogrio.list_layers(out))
    for key, spec in prof.layers.items():
        assert spec.table in layers, key
        info = pyogrio.read_info(out, layer=spec.table)
        assert info["crs"] == "EPSG:4548"
        assert info["features"] == 0
        expected = list(prof.layer_fields(project.field_group(key))["name"])
        assert list(info["fields"]) == expected
    # types follow the profile: dates are dates, areas are reals
    grid = pyogrio.read_info(out, layer=prof.layer("unit_grid").table)
    types = dict(zip(grid["fields"], grid["ogr_types"]))
    assert types[prof.field("unit_grid", "init_date")] == "OFTDate"
    assert types[prof.field("unit_grid", "area")] == "OFTReal"
    con = sqlite3.connect(out)
    meta = dict(con.execute("SELECT key, value FROM surveytools_meta"))
    n_classes = con.execute("SELECT count(*) FROM dict_component_classes").fetchone()[0]
    provenance = {r[0] for r in con.execute("SELECT DISTINCT provenance FROM dict_component_classes")}
    con.close()
    assert meta["profile"] == profile_id and meta["county"] == "360681" and meta["county_name"] == "贵溪市"
    assert meta["crs"] == "EPSG:4548" and meta["project_schema_version"] == "1"
    assert n_classes == len(prof.component_classes)
    assert provenance and provenance <= {"confirmed", "corroborated", "inferred", "recalled"}
    assert res.outputs["PROJECT"] == str(out)
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_info_reports_layers(tmp_path):
    out = tmp_path / "p.gpkg"
    project.init(project=str(out), county="110101", crs="EPSG:4549")
    res = project.info(project=str(out))
    assert res.data["meta"]["crs"] == "EPSG:4549"
    assert res.data["layers"]["unit_grids"]["features"] == 0
    assert "东城区" in res.summary.zh


def test_custom_crs_proj_string(tmp_path):
    out = tmp_path / "local.gpkg"
    local = "+proj=tmerc +lat_0=0 +lon_0=117.25 +k=1 +x_0=50000 +y_0=-3000000 +ellps=GRS80 +units=m +no_defs"
    res = project.init(project=str(out), county="360681", crs=local)
    assert "117.25" in pyogrio.read_info(out, layer="unit_grids")["crs"] or res.data["meta"]["crs"]
    assert project.Project.open(out).crs  # WKT kept for non-EPSG systems


def test_existing_output_is_not_touched(tmp_path):
    out = tmp_path / "p.gpkg"
    out.write_bytes(b"not a geopackage")
    with pytest.raises(SurveyError) as e:
        project.init(project=str(out), county="360681")
    assert e.value.code == "exists" and str(out) in e.value.render()
    assert out.read_bytes() == b"not a geopackage"


def test_failed_write_leaves_no_output(tmp_path, monkeypatch):
    out = tmp_path / "p.gpkg"
    calls = {"n": 0}
    real = project.write_layer

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full (simulated)")
        return real(*a, **k)

    monkeypatch.setattr(project, "write_layer", flaky)
    with pytest.raises(OSError):
        project.init(project=str(out), county="360681")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("county,code", [("36068", "county_format"), ("36068A", "county_format"), ("", "county_format")])
def test_bad_county(tmp_path, county, code):
    with pytest.raises(SurveyError) as e:
        project.init(project=str(tmp_path / "p.gpkg"), county=county)
    assert e.value.code == code and e.value.field == "county"
    assert "6 位" in e.value.render() and "6 digits" in e.value.render()


def test_unknown_county_is_a_warning(tmp_path):
    res = project.init(project=str(tmp_path / "p.gpkg"), county="369999", crs="EPSG:4548")
    assert any("369999" in w.zh and "NBS" in w.en for w in res.warnings)


def test_open_rejects_a_plain_geopackage(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point
    p = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs=4548).to_file(p)
    with pytest.raises(SurveyError) as e:
        project.Project.open(p)
    assert e.value.code == "not_project"


def test_cli_init_and_info_json(tmp_path, cli):
    out = tmp_path / "p.gpkg"
    rc, stdout, _ = cli(["project", "init", out, "--county", "360681", "--json"])
    assert rc == 0, stdout
    data = json.loads(stdout)
    assert data["ok"] and data["meta"]["crs"] == "EPSG:4548"
    rc, stdout, _ = cli(["project", "info", out, "--json"])
    assert rc == 0 and json.loads(stdout)["layers"]["components_point"]["features"] == 0
    rc, stdout, stderr = cli(["project", "init", out, "--county", "360681", "--json"])
    assert rc == 2
    err = json.loads(stdout)["error"]
    assert err["code"] == "exists" and err["file"] == str(out)
    assert "错误" in stderr and "Error" in stderr


def test_cli_missing_project_is_a_clear_error(tmp_path, cli):
    rc, stdout, stderr = cli(["project", "info", tmp_path / "nope.gpkg"])
    assert rc == 2 and "项目库文件不存在" in stderr and "does not exist" in stderr and "Traceback" not in stderr


def _wal_edit(path):
    """Another program (as QGIS does) opens the project in WAL mode and commits an edit."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("UPDATE surveytools_meta SET value = '由 QGIS 编辑' WHERE key = 'title'")
    con.commit()
    return con


def test_transaction_keeps_edits_committed_to_the_wal(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    p = tmp_path / "p.gpkg"
    project.init(project=str(p), county="360681")
    other = _wal_edit(p)  # stays open, like QGIS with the project loaded
    assert (tmp_path / "p.gpkg-wal").stat().st_size > 0
    prj = project.Project.open(p)
    g = gpd.GeoDataFrame({"BGID": ["36068100100101"]}, geometry=[box(0, 0, 100, 100)], crs=4548)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", g)
    other.close()
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    meta = dict(con.execute("SELECT key, value FROM surveytools_meta"))
    assert meta["title"] == "由 QGIS 编辑"  # the WAL edit survived the copy-on-write
    assert con.execute("SELECT count(*) FROM unit_grids").fetchone()[0] == 1
    con.close()


def test_a_reader_does_not_block_a_transaction_and_keeps_its_snapshot(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    p = tmp_path / "p.gpkg"
    project.init(project=str(p), county="360681")
    reader = sqlite3.connect(p)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM unit_grids").fetchone()[0] == 0  # holds a read snapshot
    prj = project.Project.open(p)
    g = gpd.GeoDataFrame({"BGID": ["36068100100101"]}, geometry=[box(0, 0, 100, 100)], crs=4548)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", g)
    assert reader.execute("SELECT count(*) FROM unit_grids").fetchone()[0] == 0  # its snapshot is stable
    reader.rollback()
    assert reader.execute("SELECT count(*) FROM unit_grids").fetchone()[0] == 1
    reader.close()


def test_runner_ignores_a_surveytools_folder_in_the_working_directory(tmp_path, monkeypatch):
    from surveytools.ops import load_all
    from surveytools.runner import run_out_of_process

    fake = tmp_path / "surveytools"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise SystemExit('the wrong surveytools was imported')\n")
    monkeypatch.chdir(tmp_path)
    data = run_out_of_process(load_all()["project_init"], {"project": str(tmp_path / "r.gpkg"), "county": "360681"})
    assert data["ok"] and (tmp_path / "r.gpkg").exists()
