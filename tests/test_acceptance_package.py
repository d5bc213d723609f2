"""The acceptance check package: `acceptance plan` writes the field package of the sampled grids in
the check mode; a package filled the way QField writes it (SQLite edits of its GeoPackage: results,
offsets, a check point moved after it was taken, two omission points) is recorded, and the rates
agree with a hand count; bad packages are clear errors and nothing is read."""
import json
import math
import shutil
import sqlite3
import struct

import numpy as np
import pytest
import shapely

RESULTS = ["正确", "属性错误", "位置错误", "多余"]


@pytest.fixture
def planned(built_project, tmp_path):
    from surveytools.acceptance.ops import plan

    p = tmp_path / "p.gpkg"
    shutil.copyfile(built_project, p)
    res = plan(str(p), rate=0.05, min_per_street=3, seed=7, out=str(tmp_path / "plan"), qgz=False, checker="李四")
    return p, tmp_path / "plan" / "check", res


# --- writing a GeoPackage as QField does (through OGR: GeoPackage geometry blobs, R-tree triggers) ---

def _blob(geom, srs_id) -> bytes:
    """A GeoPackage geometry blob (no envelope, little endian)."""
    return b"GP" + bytes([0, 1]) + struct.pack("<i", srs_id) + shapely.to_wkb(geom, byte_order=1)


def _geom(blob):
    if blob is None:
        return None
    flags = blob[3]
    env = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return shapely.from_wkb(bytes(blob[8 + env:]))


def connect(gpkg):
    """SQLite on a package GeoPackage with the ST_ functions its R-tree triggers call (GDAL
    registers them when QField writes)."""
    con = sqlite3.connect(gpkg)
    for name, fn in (("ST_IsEmpty", lambda b: 1 if b is None or shapely.is_empty(_geom(b)) else 0),
                     ("ST_MinX", lambda b: shapely.bounds(_geom(b))[0]), ("ST_MinY", lambda b: shapely.bounds(_geom(b))[1]),
                     ("ST_MaxX", lambda b: shapely.bounds(_geom(b))[2]), ("ST_MaxY", lambda b: shapely.bounds(_geom(b))[3])):
        con.create_function(name, 1, fn)
    return con


def srs_of(con, table):
    return con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?", (table,)).fetchone()[0]


def features(con, table, where=""):
    rows = con.execute(f'SELECT fid, uuid, item_no, geom FROM "{table}" {where} ORDER BY item_no').fetchall()
    return [{"fid": f, "uuid": u, "item_no": i, "geom": _geom(g)} for f, u, i, g in rows]


def add_point(con, table, x, y, **values):
    cols = ["geom"] + list(values)
    con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})',
                [_blob(shapely.Point(x, y), srs_of(con, table))] + list(values.values()))
    return con.execute("SELECT last_insert_rowid()").fetchone()[0]


def test_plan_writes_the_check_package_of_exactly_the_sampled_grids(planned):
    import pyogrio

    p, folder, res = planned
    pkg = res.data["package"]
    assert pkg["folder"] == str(folder) and (folder.parent / "check.zip").is_file()
    assert res.outputs["CHECK_PACKAGE"] == str(folder)
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["mode"] == "check" and man["check"]["plan_id"] == res.data["plan_id"] and man["surveyor"] == "李四"
    items = pyogrio.read_dataframe(p, layer="acceptance_items", read_geometry=False)
    packed = {f["item_no"] for lay in man["layers"].values() for f in lay["features"].values()}
    assert packed == set(items["item_no"].astype(int)) and len(packed) == res.data["components_sampled"]
    gpkg = folder / "survey.gpkg"
    grids = pyogrio.read_dataframe(gpkg, layer="unit_grids", read_geometry=False)
    assert sorted(grids["BGID"]) == res.data["grids"]
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"check_points", "check_missing", "dict_component_classes", "field_package"} <= layers
    assert "photos" not in layers
    pts = pyogrio.read_dataframe(gpkg, layer="components_point")
    assert {"uuid", "item_no", "check_result", "offset_m", "check_note", "checker", "check_time"} <= set(pts.columns)
    assert pts["check_result"].isna().all() and not {"surveyor", "gnss_hacc"} & set(pts.columns)
    # item numbers and IDs agree with the plan
    plan_ids = dict(zip(items["item_no"].astype(int), items["ObjID"]))
    assert all(plan_ids[int(n)] == o for n, o in zip(pts["item_no"], pts["ObjID"]))
    assert len(pyogrio.read_dataframe(gpkg, layer="events", read_geometry=False)) == 0
    meta = dict(pyogrio.read_dataframe(gpkg, layer="field_package", read_geometry=False)[["key", "value"]].values)
    assert meta["mode"] == "check" and meta["plan_id"] == res.data["plan_id"]


def _fill(folder):
    """Fill a check package as a checker with QField would; returns the hand count."""
    con = connect(folder / "survey.gpkg")
    pts = features(con, "components_point")
    lines = features(con, "components_line")
    assert len(pts) >= 40 and lines
    kinds = ["正确"] * 20 + ["属性错误"] * 4 + ["位置错误"] * 3 + ["多余"] * 3
    offsets = {}
    for k, (f, res) in enumerate(zip(pts, kinds)):
        off = 0.2 if res != "多余" and k % 2 == 0 else None  # typed offsets, well within every grade's tolerance
        con.execute("UPDATE components_point SET check_result = ?, offset_m = ?, check_note = ?, checker = ?, "
                    "check_time = ? WHERE fid = ?", (res, off, "井盖" if k == 1 else None, "李四", "2026-11-28T09:00:00", f["fid"]))
        if off is not None:
            offsets[f["uuid"]] = off
    # a measured position 25 m off (beyond every tolerance) replaces the typed 0.2 of a "correct" component
    far = pts[0]
    x, y = far["geom"].x, far["geom"].y
    add_point(con, "check_points", x + 15, y + 20, uuid="{c1}", feature_uuid=far["uuid"], checker="李四",
              check_time="2026-11-28T09:05:00")
    offsets[far["uuid"]] = 25.0
    # a check point taken 50 m off, then moved onto the measured spot 0.2 m away
    moved = pts[1]
    x, y = moved["geom"].x, moved["geom"].y
    fid = add_point(con, "check_points", x + 30, y + 40, uuid="{c2}", feature_uuid=moved["uuid"], checker="李四",
                    check_time="2026-11-28T09:06:00")
    con.execute("UPDATE check_points SET geom = ? WHERE fid = ?", (_blob(shapely.Point(x + 0.12, y + 0.16),
                                                                        srs_of(con, "check_points")), fid))
    offsets[moved["uuid"]] = 0.2
    # a line component checked with a point 3 m beside the line
    ln = lines[0]
    con.execute("UPDATE components_line SET check_result = '位置错误' WHERE fid = ?", (ln["fid"],))
    mid = shapely.line_interpolate_point(ln["geom"], 0.5, normalized=True)
    c = shapely.get_coordinates(ln["geom"])
    seg = c[1] - c[0]
    normal = np.array([-seg[1], seg[0]]) / np.hypot(*seg)
    add_point(con, "check_points", mid.x + 3 * normal[0], mid.y + 3 * normal[1], uuid="{c3}", feature_uuid=ln["uuid"])
    d_line = float(shapely.distance(shapely.Point(mid.x + 3 * normal[0], mid.y + 3 * normal[1]), ln["geom"]))
    offsets[ln["uuid"]] = round(d_line, 3)
    # two components found in the field, missing from the delivery
    grid = con.execute("SELECT geom FROM unit_grids ORDER BY BGID LIMIT 2").fetchall()
    for i, (g,) in enumerate(grid):
        inside = shapely.point_on_surface(_geom(g))
        add_point(con, "check_missing", inside.x, inside.y, uuid=f"{{m{i}}}", class_code="0101",
                  note="漏采" if i == 0 else None, checker="李四")
    con.commit()
    con.close()
    checked = len(kinds) + 1
    results = {r: kinds.count(r) for r in RESULTS}
    results["位置错误"] += 1
    return {"checked": checked, "results": results, "offsets": offsets, "missing": 2,
            "errors": 4 + 3, "position_errors": 3 + 1 + 1}  # 位置错误 (3 points + the line) + the 25 m offset


def test_a_check_package_filled_as_qfield_would_is_recorded(planned, tmp_path, cli):
    from surveytools.field.package import write_zip

    p, folder, res = planned
    hand = _fill(folder)
    zipped = tmp_path / "returned.zip"
    write_zip(folder, zipped)
    rc, out, err = cli(["acceptance", "record", p, zipped, "--json"])
    assert rc == 0, err
    rec = json.loads(out)
    assert rec["checked"] == hand["checked"] and rec["missing"] == 2 and rec["results"] == hand["results"]
    assert rec["checked"] + rec["unchecked"] + rec["not_listed"] == res.data["components_sampled"]
    con = sqlite3.connect(p)
    got = dict(con.execute("SELECT ObjID || '#' || item_no, offset_m FROM acceptance_checks WHERE offset_m IS NOT NULL"))
    miss = con.execute("SELECT class_code, note, BGID, source FROM acceptance_missing ORDER BY row").fetchall()
    note = con.execute("SELECT note FROM acceptance_checks WHERE note != ''").fetchall()
    con.close()
    assert sorted(got.values()) == pytest.approx(sorted(hand["offsets"].values()), abs=1e-3)
    assert 25.0 in got.values() and 0.2 in got.values()
    assert [m[:2] for m in miss] == [("0101", "漏采"), ("0101", "")] and all(m[2] in res.data["grids"] for m in miss)
    assert miss[0][3] == "returned.zip" and note == [("井盖",)]
    # the folder reads the same
    rc, out2, err = cli(["acceptance", "record", p, folder, "--json"])
    assert rc == 0, err and json.loads(out2)["results"] == rec["results"]

    rc, out, err = cli(["acceptance", "report", p, "--out", tmp_path / "rep", "--json"])
    assert rc == 0, err
    rep = json.loads(out)
    n = hand["checked"]
    assert rep["checked"] == n
    assert rep["error_rate"] == pytest.approx(hand["errors"] / n, abs=1e-6)
    assert rep["omission_rate"] == pytest.approx(2 / (n + 2), abs=1e-6)
    assert rep["position_error_rate"] == pytest.approx(hand["position_errors"] / n, abs=1e-6)
    offs = list(hand["offsets"].values())
    assert rep["rms_m"] == pytest.approx(math.sqrt(sum(o * o for o in offs) / len(offs)), abs=1e-3)


def _records(p):
    import pyogrio

    return pyogrio.read_info(str(p), layer="acceptance_checks")["features"]


def test_bad_check_packages_are_clear_errors_and_nothing_is_read(planned, built_project, tmp_path, cli):
    from surveytools.acceptance.ops import plan

    p, folder, res = planned

    def case(name, edit):
        f = tmp_path / name
        shutil.copytree(folder, f)
        con = connect(f / "survey.gpkg")
        first = features(con, "components_point")[0]
        con.execute("UPDATE components_point SET check_result = '正确' WHERE fid = ?", (first["fid"],))  # a good row
        edit(con, first)
        con.commit()
        con.close()
        rc, out, err = cli(["acceptance", "record", p, f, "--json"])
        assert rc == 2, (name, out, err)
        assert "Traceback" not in err and _records(p) == 0, name  # nothing read, not even the good row
        return json.loads(out)["error"]

    second = lambda con: features(con, "components_point")[1]  # noqa: E731
    e = case("result", lambda con, f: con.execute("UPDATE components_point SET check_result = '好' WHERE fid = ?",
                                                  (second(con)["fid"],)))
    assert (e["layer"], e["field"], e["value"]) == ("components_point", "check_result", "好")
    assert e["feature"] == f"fid {features(connect(folder / 'survey.gpkg'), 'components_point')[1]['fid']}"
    e = case("negative", lambda con, f: con.execute("UPDATE components_point SET check_result = '正确', offset_m = -2 "
                                                    "WHERE fid = ?", (second(con)["fid"],)))
    assert (e["field"], e["value"]) == ("offset_m", "-2.0")
    e = case("no_point", lambda con, f: con.execute("INSERT INTO check_missing (uuid, class_code) VALUES ('{x}', '0101')"))
    assert (e["layer"], e["field"]) == ("check_missing", "geom")
    e = case("bad_class", lambda con, f: add_point(con, "check_missing", f["geom"].x, f["geom"].y, uuid="{y}",
                                                   class_code="9999"))
    assert (e["layer"], e["field"], e["value"]) == ("check_missing", "class_code", "9999")
    e = case("far", lambda con, f: add_point(con, "check_missing", 1.0, 2.0, uuid="{z}", class_code="0101"))
    assert (e["layer"], e["field"]) == ("check_missing", "X,Y")
    e = case("added", lambda con, f: add_point(con, "components_point", f["geom"].x, f["geom"].y, uuid="{new}"))
    assert (e["layer"], e["field"], e["value"]) == ("components_point", "uuid", "{new}")
    e = case("moved", lambda con, f: con.execute("UPDATE components_point SET geom = ? WHERE fid = ?", (
        _blob(shapely.Point(f["geom"].x + 2, f["geom"].y), srs_of(con, "components_point")), f["fid"])))
    assert e["layer"] == "components_point" and "check point" in e["message"]["en"]
    e = case("orphan", lambda con, f: add_point(con, "check_points", f["geom"].x, f["geom"].y, uuid="{o}",
                                                feature_uuid="{nobody}"))
    assert (e["layer"], e["field"], e["value"]) == ("check_points", "feature_uuid", "{nobody}")
    e = case("point_without_result", lambda con, f: add_point(con, "check_points", f["geom"].x, f["geom"].y, uuid="{q}",
                                                              feature_uuid=second(con)["uuid"]))
    assert (e["layer"], e["field"]) == ("check_points", "feature_uuid")
    e = case("item", lambda con, f: con.execute("UPDATE components_point SET item_no = item_no + 1 WHERE fid = ?",
                                                (f["fid"],)))
    assert e["field"] == "item_no"
    # a package of another plan, of another project, a survey package
    from surveytools.acceptance.ops import record

    q = tmp_path / "q.gpkg"
    shutil.copyfile(built_project, q)
    plan(str(q), rate=0.05, min_per_street=3, seed=7, out=str(tmp_path / "qplan"), qgz=False)
    rc, out, err = cli(["acceptance", "record", q, folder, "--json"])
    assert rc == 2 and json.loads(out)["error"]["field"] == "project_id", out
    rc, out, err = cli(["acceptance", "plan", p, "--rate", "0.06", "--seed", "8", "--out", tmp_path / "new",
                        "--overwrite", "--no-qgz"])
    assert rc == 0, err
    rc, out, err = cli(["acceptance", "record", p, folder, "--json"])
    assert rc == 2 and json.loads(out)["error"]["field"] == "plan_id" and "另一个抽样方案" in err, out
    rc, out, err = cli(["field", "return", p, folder])
    assert rc == 2 and "acceptance record" in err
    rc, out, err = cli(["field", "package", p, "--by", "street", "--out", tmp_path, "--no-qgz", "--json"])
    assert rc == 0, err
    street = json.loads(out)["packages"][0]["folder"]
    from surveytools.errors import SurveyError

    with pytest.raises(SurveyError) as exc:
        record(str(p), street)
    assert exc.value.code == "not_check_package" and "field return" in exc.value.message.en


def test_without_qgis_the_package_has_its_geopackage_and_manifest(built_project, tmp_path, monkeypatch):
    from surveytools.acceptance.ops import plan

    monkeypatch.setenv("SURVEYTOOLS_QGIS_PROCESS", str(tmp_path / "no-qgis_process"))
    p = tmp_path / "p.gpkg"
    shutil.copyfile(built_project, p)
    res = plan(str(p), rate=0.05, min_per_street=1, seed=3, out=str(tmp_path / "o"))
    folder = tmp_path / "o" / "check"
    assert (folder / "survey.gpkg").is_file() and (folder / "manifest.json").is_file()
    assert not (folder / "survey.qgz").exists() and res.data["package"]["qgz"] is False
    assert any("qgis_process" in w.en for w in res.warnings)
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["qgz"] is None
    # --no-package: no package at all
    res = plan(str(p), rate=0.05, seed=3, out=str(tmp_path / "n"), overwrite=True, package=False)
    assert res.data["package"] is None and not (tmp_path / "n" / "check").exists()


@pytest.mark.skipif(__import__("surveytools.qgisproject", fromlist=["x"]).find_qgis_process() is None,
                    reason="QGIS (qgis_process) is not installed")
def test_plan_writes_the_check_project_through_qgis_process(built_project, tmp_path, cli):
    import re
    import zipfile

    p = tmp_path / "p.gpkg"
    shutil.copyfile(built_project, p)
    rc, out, err = cli(["acceptance", "plan", p, "--rate", "0.05", "--seed", "4", "--out", tmp_path / "o", "--json"])
    assert rc == 0, err
    res = json.loads(out)
    folder = tmp_path / "o" / "check"
    assert res["package"]["qgz"] is True and (folder / "survey.qgz").is_file()
    with zipfile.ZipFile(folder / "survey.qgz") as z:
        xml = z.read(next(n for n in z.namelist() if n.endswith(".qgs"))).decode("utf-8")
    assert str(tmp_path) not in xml
    assert "layername=check_points" in xml and "layername=check_missing" in xml
    assert re.search(r'QFieldSync/is_geometry_locked', xml) and 'name="check_result"' in xml
    with zipfile.ZipFile(tmp_path / "o" / "check.zip") as z:
        assert "check/survey.qgz" in z.namelist()
