"""Exchange files: Shapefile (GBK/UTF-8, 10-byte field names), GeoJSON (RFC 7946), CSV."""
import csv
import json

import pyogrio
import pytest
from export_fixture import assigned, copy

from surveytools.export.files import shp_field_names


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    src, info, _ = assigned()
    return copy(src, tmp_path_factory.mktemp("files")), info


def test_shp_field_name_mapping_is_short_unique_and_stable():
    names = ["ObjID", "class_codes", "class_code", "DeptName1", "LocationDescription", "LocationDescriptor",
             "所在社区名称", "objid"]
    m = shp_field_names(names, "GBK")
    assert m["ObjID"] == "ObjID" and m["class_code"] == "class_code" and m["class_codes"] == "class_co_1"
    assert all(len(v.encode("gbk")) <= 10 for v in m.values())
    assert len({v.upper() for v in m.values()}) == len(names)
    assert m["LocationDescription"] == "LocationDe" and m["LocationDescriptor"] == "Location_1"
    assert m["所在社区名称"] == "所在社区名"  # 5 characters = 10 bytes in GBK
    assert m["objid"] == "objid_1"  # dBase names ignore case
    assert shp_field_names(names, "GBK") == m


def test_shapefile_gbk_default(project, tmp_path, cli):
    p, info = project
    out = tmp_path / "shp"
    rc, stdout, err = cli(["export", "files", p, "--format", "shp", "--out", out, "--json"])
    assert rc == 0, err
    assert (out / "components_point.cpg").read_text().strip() == "GBK"
    dbf = (out / "communities.dbf").read_bytes()
    assert "白果社区".encode("gbk") in dbf and "白果社区".encode("utf-8") not in dbf
    back = pyogrio.read_dataframe(out / "components_point.shp")
    assert len(back) == info["points"] and "贵溪市" in "".join(back["DeptName1"].dropna().head(50))
    for shp in out.glob("*.shp"):
        for f in pyogrio.read_info(shp)["fields"]:
            assert len(f.encode("gbk")) <= 10, (shp, f)
    rows = list(csv.DictReader(open(out / "field_mapping.csv", encoding="utf-8-sig")))
    ra = {r["field"]: r["shp_field"] for r in rows if r["table"] == "responsibility_areas"}
    assert ra["class_codes"] == "class_code" and ra["area_code"] == "area_code"
    assert pyogrio.read_info(out / "responsibility_areas.shp")["fields"].tolist().count("class_code") == 1
    assert (out / "tables" / "dispatch_matrix.csv").exists()
    assert "立案条件" in (out / "tables" / "dispatch_matrix.csv").read_bytes().decode("gbk") or \
        "filing_condition" in (out / "tables" / "dispatch_matrix.csv").read_bytes().decode("gbk")


def test_shapefile_utf8_on_request(project, tmp_path, cli):
    p, _ = project
    out = tmp_path / "shp8"
    rc, _, err = cli(["export", "files", p, "--format", "shp", "--out", out, "--encoding", "utf-8"])
    assert rc == 0, err
    assert (out / "streets.cpg").read_text().strip() == "UTF-8"
    assert "花园街道".encode("utf-8") in (out / "streets.dbf").read_bytes()


def test_geojson_is_rfc7946_wgs84(project, tmp_path, cli):
    p, info = project
    out = tmp_path / "gj"
    rc, _, err = cli(["export", "files", p, "--format", "geojson", "--out", out])
    assert rc == 0, err
    d = json.loads((out / "events.geojson").read_text(encoding="utf-8"))
    assert len(d["features"]) == info["events"] and "crs" not in d
    lon, lat = d["features"][0]["geometry"]["coordinates"]
    assert 116.9 < lon < 117.4 and 28.1 < lat < 28.5  # 贵溪市
    rc, _, err = cli(["export", "files", p, "--format", "geojson", "--out", tmp_path / "g2", "--encoding", "gbk"])
    assert rc == 2 and "UTF-8" in err


def test_csv_wkt_and_xy(project, tmp_path, cli):
    p, info = project
    out = tmp_path / "csv"
    rc, _, err = cli(["export", "files", p, "--format", "csv", "--out", out])
    assert rc == 0, err
    rows = list(csv.DictReader(open(out / "components_point.csv", encoding="utf-8-sig")))
    assert len(rows) == info["points"]
    r = rows[0]
    assert r["WKT"].startswith("POINT") and 500000 < float(r["X"]) < 560000 and 3.1e6 < float(r["Y"]) < 3.2e6
    rows = list(csv.DictReader(open(out / "unit_grids.csv", encoding="utf-8-sig")))
    assert rows[0]["WKT"].startswith("POLYGON") and "X" not in rows[0]
