"""Field survey with QField: package, edits as QField makes them, return, conflicts, photos."""
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import field_support as fs
import pyogrio
import pytest
import shapely

from surveytools.issues import FIELD_CONFLICTS

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"
C_MAP = str(ROOT / "sample_data" / "guixi" / "mappings" / "components_c.yaml")
AREA = "360681003001"


@pytest.fixture(scope="module")
def surveyed(components_grid_project, tmp_path_factory):
    from surveytools.components.intake import intake

    p = tmp_path_factory.mktemp("field") / "base.gpkg"
    shutil.copy(components_grid_project, p)
    intake(str(p), str(SURVEY / "components_c.csv"), mapping=C_MAP)
    return p


@pytest.fixture
def project(surveyed, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copy(surveyed, p)
    return p


def layer(path, name, **kw):
    return pyogrio.read_dataframe(str(path), layer=name, **kw)


def table(path, name):
    con = sqlite3.connect(str(path))
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone():
            return []
        cur = con.execute(f'SELECT * FROM "{name}"')
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def make(project, tmp_path, cli, *extra):
    out = tmp_path / "pkgs"
    out.mkdir(exist_ok=True)
    code, so, err = cli(["field", "package", project, "--by", "community", "--areas", AREA, "--out", out,
                         "--surveyor", "张三", "--json", "--no-qgz", *extra])
    assert code == 0, err
    return out / AREA, json.loads(so)


def test_package_holds_the_area_and_opens_with_sqlite(project, tmp_path, cli):
    folder, res = make(project, tmp_path, cli)
    assert (folder / "survey.gpkg").is_file() and (folder / "DCIM").is_dir()
    assert (folder.parent / f"{AREA}.zip").is_file()
    with zipfile.ZipFile(folder.parent / f"{AREA}.zip") as z:
        assert f"{AREA}/manifest.json" in z.namelist() and f"{AREA}/survey.gpkg" in z.namelist()
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for k in ("package_id", "project_id", "profile", "created", "area", "layers"):
        assert m[k], k
    assert m["area"] == {"by": "community", "code": AREA, "name": m["area"]["name"], "grids": m["area"]["grids"]}
    # the area's components, every one with a UUID, ID and hash
    comps = layer(project, "components_point")
    inside = comps[comps["BGID"].str.startswith(AREA)]
    feats = m["layers"]["component_point"]["features"]
    assert len(feats) == len(inside) > 0
    assert {v["id"] for v in feats.values()} == set(inside["ObjID"])
    assert all(len(v["hash"]) == 64 for v in feats.values())
    # plain sqlite3 reads the GeoPackage
    con = sqlite3.connect(str(folder / "survey.gpkg"))
    names = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert {"unit_grids", "communities", "streets", "components_point", "photos", "dict_component_classes",
            "dict_domains", "field_package"} <= names
    n, nu = con.execute("SELECT count(*), count(DISTINCT uuid) FROM components_point").fetchone()
    assert n == nu == len(inside)
    grids = [r[0] for r in con.execute("SELECT BGID FROM unit_grids")]
    assert grids and all(g.startswith(AREA) for g in grids)
    assert dict(con.execute("SELECT key, value FROM field_package"))["package_id"] == m["package_id"]
    con.close()
    # the project knows the package and keeps the UUIDs: a second package reuses them
    reg = table(project, "field_features")
    assert len(reg) == len(inside)
    folder2, _ = make(project, tmp_path / "again" if (tmp_path / "again").mkdir() is None else tmp_path, cli)
    m2 = json.loads((folder2 / "manifest.json").read_text(encoding="utf-8"))
    assert set(m2["layers"]["component_point"]["features"]) == set(feats)
    assert m2["project_id"] == m["project_id"] and m2["package_id"] != m["package_id"]
    assert len(table(project, "field_features")) == len(inside)


def test_package_refuses_unknown_area_and_existing_output(project, tmp_path, cli):
    out = tmp_path / "o"
    out.mkdir()
    code, so, err = cli(["field", "package", project, "--by", "street", "--areas", "999999999", "--out", out])
    assert code == 2 and "999999999" in err and "Traceback" not in err
    make(project, tmp_path, cli)
    code, so, err = cli(["field", "package", project, "--by", "community", "--areas", AREA, "--out", tmp_path / "pkgs"])
    assert code == 2 and "overwrite" in err


def qfield_edits(folder, project):
    """What a surveyor does in QField: two new components (one with a photo), an attribute edit,
    a move, a delete, a photo of an existing component."""
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    feats = m["layers"]["component_point"]["features"]
    con = fs.connect(folder / "survey.gpkg")
    # the components to edit, chosen deterministically: intact ones with an ID no other component has
    # (UUIDs are random: a component picked by UUID order could be one already marked missing, whose
    # deletion in the field changes nothing, or a planted duplicate ID)
    packaged = [r for r in fs.rows(con, "components_point") if r["uuid"] in feats]
    counts = {}
    for r in packaged:
        counts[r["ObjID"]] = counts.get(r["ObjID"], 0) + 1
    uu = [r["uuid"] for r in sorted(packaged, key=lambda r: r["ObjID"] or "")
          if r["ObjState"] == "完好" and r["ObjID"] and counts[r["ObjID"]] == 1]
    assert len(uu) >= 4
    grid = fs.rows(con, "unit_grids")[3]
    gshape = fs.from_blob(grid["geom"])
    p_new = shapely.Point(*shapely.point_on_surface(gshape).coords[0])
    new1 = fs.insert_feature(con, "components_point", {"ClassCode": "0103", "ObjState": "完好", "surveyor": "李四",
                                                       "gnss_hacc": 0.03, "gnss_quality": "RTK fixed"}, p_new)
    p2 = shapely.Point(p_new.x + 1.5, p_new.y + 0.5)
    new2 = fs.insert_feature(con, "components_point", {"ClassCode": "0402", "surveyor": "李四", "gnss_hacc": 2.5}, p2)
    fs.update(con, "components_point", uu[0], ObjState="破损", Note="盖板裂开", surveyor="李四")
    fs.move(con, "components_point", uu[1], 2.0, -1.0)
    fs.delete(con, "components_point", uu[2])
    fs.add_photo(con, folder, new1, "component_point", "IMG_0001.jpg", bearing=135.5)
    fs.add_photo(con, folder, uu[0], "component_point", "IMG_0002.jpg", color=(10, 200, 10))
    con.close()
    return {"m": m, "new": (new1, new2), "edited": uu[0], "moved": uu[1], "deleted": uu[2], "other": uu[3],
            "grid": grid["BGID"], "feats": feats}


def project_state(p):
    return {n: len(table(p, n)) for n in ("components_point", "change_log", "edit_log", "field_conflicts", "photos",
                                         "field_changes", "intake_batches")}


def test_return_applies_field_work_and_twice_changes_nothing(project, tmp_path, cli):
    folder, _ = make(project, tmp_path, cli)
    e = qfield_edits(folder, project)
    feats = e["feats"]
    # a planted conflict: the office changes the same component meanwhile
    conflict_id = feats[e["other"]]["id"]
    con = fs.connect(folder / "survey.gpkg")
    fs.update(con, "components_point", e["other"], Note="外业备注")
    con.close()
    pcon = fs.connect(project)  # an edit in QGIS at the office
    pcon.execute("UPDATE components_point SET Note = '内业备注' WHERE ObjID = ?", (conflict_id,))
    pcon.close()
    before = layer(project, "components_point")
    zipped = shutil.make_archive(str(tmp_path / "returned"), "zip", folder.parent, AREA)  # as sent back
    code, so, err = cli(["field", "return", project, zipped, "--json"])
    assert code == 0, err
    res = json.loads(so)
    t = res["totals"]
    assert (t["new"], t["updated"], t["deleted"], t["conflicts"], t["photos"]) == (2, 2, 1, 1, 2), res
    after = layer(project, "components_point")
    assert len(after) == len(before) + 2  # nothing deleted
    a = after.set_index("ObjID")
    # IDs issued, class names, grids right
    new = after[~after["ObjID"].isin(before["ObjID"])]
    assert sorted(new["ClassCode"]) == ["0103", "0402"]
    for _, r in new.iterrows():
        assert r["ObjID"].startswith("360681" + r["ClassCode"])
        old_max = before[before["ClassCode"] == r["ClassCode"]]["ObjID"].str[-6:].astype(int).max()
        assert int(r["ObjID"][-6:]) > old_max
        assert r["BGID"] == e["grid"] and r["CommCode"] == AREA and r["StreetCode"] == AREA[:9]
        assert r["ObjName"] and r["ObjState"] and r["BatchID"].startswith("F")
    # attribute edit, move (location follows), deletion as a state change
    ed = a.loc[feats[e["edited"]]["id"]]
    assert ed["ObjState"] == "破损" and ed["Note"] == "盖板裂开" and str(ed["CHDate"])[:4] >= "2026"
    mv_id = feats[e["moved"]]["id"]
    b = before.set_index("ObjID")
    d = shapely.distance(a.loc[mv_id, "geometry"], b.loc[mv_id, "geometry"])
    assert abs(d - 5 ** 0.5) < 1e-3
    gone = a.loc[feats[e["deleted"]]["id"]]
    assert gone["ObjState"] == "丢失"
    log = layer(project, "change_log", read_geometry=False)
    assert ((log["component_id"] == feats[e["deleted"]]["id"]) & (log["new"] == "丢失")).any()
    assert (log["field"] == "geometry").sum() >= 1 and (log["field"] == "*").sum() == 2
    fc = table(project, "field_changes")
    assert {r["surveyor"] for r in fc if r["action"] == "insert"} == {"李四"}
    assert all(r["package_id"] == e["m"]["package_id"] and r["time"] for r in fc)
    # the conflict: nothing applied, recorded with both versions
    assert a.loc[conflict_id, "Note"] == "内业备注"
    conf = table(project, "field_conflicts")
    assert len(conf) == 1 and conf[0]["component_id"] == conflict_id and conf[0]["status"] == "open"
    assert [c for c in conf[0] if c not in ("fid", "geom")] == list(FIELD_CONFLICTS.columns) and conf[0]["conflict_id"] == 1
    assert json.loads(conf[0]["field_values"])["Note"] == "外业备注"
    # photos linked, copied, named by ID, EXIF kept
    ph = table(project, "photos")
    by_uuid = {r["feature_uuid"]: r for r in ph}
    p1 = by_uuid[e["new"][0]]
    assert p1["component_id"] in set(new["ObjID"]) and p1["path"].startswith("p_photos/" + p1["component_id"])
    assert abs(float(p1["bearing"]) - 135.5) < 1e-6 and p1["taken"].startswith("2026-11-20T10:11:12")
    assert (project.parent / p1["path"]).is_file() and len(p1["sha256"]) == 64
    assert by_uuid[e["edited"]]["component_id"] == feats[e["edited"]]["id"]
    # accuracy kept
    acc = table(project, "component_accuracy")
    assert {round(float(r["h_accuracy"]), 2) for r in acc} == {0.03, 2.5}
    # ... and checked against the class's grade: 0402 (grade B, 1 m) at 2.5 m is flagged, 0103 at 0.03 m is not
    import yaml

    from surveytools.validate.ops import run

    sch = tmp_path / "gnss.yaml"
    sch.write_text(yaml.safe_dump({"id": "gnss", "title": {"zh": "外业精度", "en": "field accuracy"},
                                   "steps": [{"rule": "accuracy.field_gnss"}]}), encoding="utf-8")
    vr = run(str(project), str(tmp_path / "qc"), scheme=str(sch), write_project=False)
    assert vr.data["verdict"] == "FAIL"
    errs = layer(tmp_path / "qc" / "errors.gpkg", "errors_point")
    flagged = set(errs[errs["rule_id"] == "accuracy.field_gnss"]["feature_id"])
    assert flagged == set(new[new["ClassCode"] == "0402"]["ObjID"])
    # a second return (folder this time) changes nothing
    state = project_state(project)
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0, err
    res2 = json.loads(so)
    assert res2["packages"][0]["batch"] is None
    assert res2["totals"] == {"updated": 0, "new": 0, "deleted": 0, "conflicts": 0, "photos": 0, "rejected": 0,
                              "reclassified": 0}
    assert project_state(project) == state
    # resolving the conflict with the field's version applies it; a later return is still a no-op
    code, so, err = cli(["field", "resolve", project, "--conflict", conf[0]["conflict_id"], "--keep", "field"])
    assert code == 0, err
    assert layer(project, "components_point").set_index("ObjID").loc[conflict_id, "Note"] == "外业备注"
    assert table(project, "field_conflicts")[0]["status"] == "resolved"
    state = project_state(project)
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0 and json.loads(so)["packages"][0]["batch"] is None
    assert project_state(project) == state


def test_damaged_or_foreign_package_is_refused_with_nothing_applied(project, tmp_path, cli):
    folder, _ = make(project, tmp_path, cli)
    qfield_edits(folder, project)
    good = folder.parent / f"{AREA}.zip"
    shutil.make_archive(str(tmp_path / "edited"), "zip", folder.parent, AREA)
    state = project_state(project)
    # a truncated ZIP
    bad = tmp_path / "truncated.zip"
    bad.write_bytes((tmp_path / "edited.zip").read_bytes()[:5000])
    code, so, err = cli(["field", "return", project, tmp_path / "edited.zip", bad])
    assert code == 2 and "nothing was applied" in err and "Traceback" not in err
    # a broken manifest
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    code, so, err = cli(["field", "return", project, broken])
    assert code == 2 and "manifest.json" in err
    # a damaged GeoPackage
    corrupt = tmp_path / "corrupt"
    shutil.copytree(folder, corrupt)
    data = bytearray((corrupt / "survey.gpkg").read_bytes())
    data[0:16] = b"not a database!!"
    (corrupt / "survey.gpkg").write_bytes(bytes(data))
    code, so, err = cli(["field", "return", project, corrupt])
    assert code == 2 and "survey.gpkg" in err
    # another project's package
    other = tmp_path / "other.gpkg"
    shutil.copy(project, other)
    sqlite3.connect(str(other)).execute("DELETE FROM surveytools_meta WHERE key = 'project_id'").connection.commit()
    code, so, err = cli(["field", "return", other, folder])
    assert code == 2 and "another project" in err
    assert project_state(project) == state
    assert good.is_file()


def test_packages_return_in_any_order(project, tmp_path, cli):
    """Two packages of the same area made one after the other, returned newest first."""
    out1, out2 = tmp_path / "a", tmp_path / "b"
    out1.mkdir(), out2.mkdir()
    for out in (out1, out2):
        code, so, err = cli(["field", "package", project, "--by", "community", "--areas", AREA, "--out", out, "--no-qgz"])
        assert code == 0, err
    m1 = json.loads((out1 / AREA / "manifest.json").read_text(encoding="utf-8"))
    uu = sorted(m1["layers"]["component_point"]["features"])
    con = fs.connect(out1 / AREA / "survey.gpkg")
    fs.update(con, "components_point", uu[5], Material="外业铸铁A")
    con.close()
    con = fs.connect(out2 / AREA / "survey.gpkg")
    fs.update(con, "components_point", uu[6], Material="外业复合B", ClassCode="0999")  # a class change: reported
    fs.insert_feature(con, "components_point", {"ClassCode": "0103"},
                      shapely.Point(*fs.from_blob(fs.rows(con, "components_point")[0]["geom"]).coords[0]))
    con.close()
    code, so, err = cli(["field", "return", project, out2 / AREA, out1 / AREA, "--json"])
    assert code == 0, err
    doc = json.loads(so)
    t = doc["totals"]
    assert (t["updated"], t["new"], t["conflicts"]) == (2, 1, 0)
    assert any("0999" in w["en"] and "not applied" in w["en"] for w in doc["warnings"])
    ids = m1["layers"]["component_point"]["features"]
    a = layer(project, "components_point").set_index("ObjID")
    assert a.loc[ids[uu[5]]["id"], "Material"] == "外业铸铁A" and a.loc[ids[uu[6]]["id"], "Material"] == "外业复合B"


def test_class_changed_in_the_field_cancels_the_old_component_and_codes_a_new_one(project, tmp_path, cli):
    """The class is part of the ID: the old component is cancelled (移除), a new one of the new class gets a new
    ID at the field geometry, photos follow the UUID, both are logged, a second return changes nothing."""
    from PIL import Image

    folder, _ = make(project, tmp_path, cli)
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    feats = m["layers"]["component_point"]["features"]
    con = fs.connect(folder / "survey.gpkg")
    rows = {r["uuid"]: r for r in fs.rows(con, "components_point")}
    u = next(x for x in sorted(feats) if rows[x]["ClassCode"] != "0105")
    old_id, old_cls = feats[u]["id"], rows[u]["ClassCode"]
    fs.update(con, "components_point", u, ClassCode="0105", Material="外业改类", surveyor="王五")
    fs.move(con, "components_point", u, 1.0, 1.0)
    fs.add_photo(con, folder, u, "component_point", "IMG_0100.jpg", color=(1, 100, 200))
    con.close()
    src = tmp_path / "office"  # a photo the office took in earlier under the old ID
    src.mkdir()
    Image.new("RGB", (8, 8), (7, 7, 7)).save(src / f"{old_id}.jpg")
    code, so, err = cli(["field", "photos", project, src])
    assert code == 0, err
    before = layer(project, "components_point")
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0, err
    t = json.loads(so)["totals"]
    assert (t["reclassified"], t["new"], t["updated"], t["photos"]) == (1, 0, 0, 1), t
    after = layer(project, "components_point")
    assert len(after) == len(before) + 1  # the old one stays, cancelled
    a = after.set_index("ObjID")
    new = after[~after["ObjID"].isin(before["ObjID"])].iloc[0]
    new_id = new["ObjID"]
    assert new_id.startswith("3606810105") and new["ClassCode"] == "0105" and new["ObjName"] == "电力井盖"
    assert int(new_id[-6:]) > before[before["ClassCode"] == "0105"]["ObjID"].str[-6:].astype(int).max()
    assert new["Material"] == "外业改类" and new["BatchID"].startswith("F") and old_id in new["Note"]
    assert new["CommCode"] == AREA and new["StreetCode"] == AREA[:9] and new["BGID"].startswith(AREA)
    old_geom = before.set_index("ObjID").loc[old_id, "geometry"]
    assert abs(shapely.distance(new["geometry"], old_geom) - 2 ** 0.5) < 1e-3  # at the field geometry
    old = a.loc[old_id]
    assert old["ClassCode"] == old_cls and old["ObjState"] == "移除" and new_id in old["Note"]
    assert old["geometry"].equals_exact(old_geom, 1e-6)
    fc = [r for r in table(project, "field_changes") if r["action"].startswith("reclassify")]
    assert {(r["action"], r["component_id"]) for r in fc} == {("reclassify_insert", new_id), ("reclassify_cancel", old_id)}
    assert all(r["surveyor"] == "王五" and r["package_id"] == m["package_id"] and r["time"] for r in fc)
    assert all(old_id in (r["old"] or "") + (r["new"] or "") and new_id in r["new"] for r in fc)
    log = layer(project, "change_log", read_geometry=False)
    assert ((log["component_id"] == old_id) & (log["new"] == "移除")).any()
    assert ((log["component_id"] == new_id) & (log["old"] == old_id)).any()
    # photos follow the UUID: the field's and the office's
    ph = table(project, "photos")
    assert len(ph) == 2 and {r["component_id"] for r in ph} == {new_id}
    assert {r["uuid"]: r["feature_id"] for r in table(project, "field_features")}[u] == new_id
    # a second return changes nothing
    state = project_state(project)
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0 and json.loads(so)["packages"][0]["batch"] is None, so
    assert project_state(project) == state
    # packaged again: the new component keeps the UUID, the cancelled one gets its own
    out2 = tmp_path / "again"
    out2.mkdir()
    code, so, err = cli(["field", "package", project, "--by", "community", "--areas", AREA, "--out", out2, "--no-qgz"])
    assert code == 0, err
    f2 = json.loads((out2 / AREA / "manifest.json").read_text(encoding="utf-8"))["layers"]["component_point"]["features"]
    assert f2[u]["id"] == new_id and sum(1 for v in f2.values() if v["id"] == old_id) == 1


def test_conflict_with_a_class_change_resolved_by_the_field_reclassifies(project, tmp_path, cli):
    folder, _ = make(project, tmp_path, cli)
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    feats = m["layers"]["component_point"]["features"]
    con = fs.connect(folder / "survey.gpkg")
    rows = {r["uuid"]: r for r in fs.rows(con, "components_point")}
    u = next(x for x in sorted(feats) if rows[x]["ClassCode"] != "0105")
    old_id = feats[u]["id"]
    fs.update(con, "components_point", u, ClassCode="0105", Note="外业：是电力井盖")
    con.close()
    pcon = fs.connect(project)
    pcon.execute("UPDATE components_point SET Note = '内业备注' WHERE ObjID = ?", (old_id,))
    pcon.close()
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0 and json.loads(so)["totals"]["conflicts"] == 1, so + err
    conf = table(project, "field_conflicts")[0]
    assert "ClassCode" in conf["fields"].split(",") and json.loads(conf["field_values"])["ClassCode"] == "0105"
    before = layer(project, "components_point", read_geometry=False)
    code, so, err = cli(["field", "resolve", project, "--conflict", conf["conflict_id"], "--keep", "field", "--json"])
    assert code == 0, err
    after = layer(project, "components_point", read_geometry=False)
    assert len(after) == len(before) + 1
    new = after[~after["ObjID"].isin(before["ObjID"])].iloc[0]
    a = after.set_index("ObjID")
    assert new["ObjID"].startswith("3606810105") and new["ClassCode"] == "0105" and new["ObjName"] == "电力井盖"
    assert new["Note"].startswith("外业：是电力井盖") and old_id in new["Note"] and new["CommCode"] == AREA
    assert a.loc[old_id, "ObjState"] == "移除" and new["ObjID"] in a.loc[old_id, "Note"]
    assert a.loc[old_id, "ClassCode"] == before.set_index("ObjID").loc[old_id, "ClassCode"]
    assert {r["uuid"]: r["feature_id"] for r in table(project, "field_features")}[u] == new["ObjID"]
    state = project_state(project)
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0 and json.loads(so)["packages"][0]["batch"] is None, so
    assert project_state(project) == state


def test_photos_from_a_folder_named_by_id(project, tmp_path, cli):
    from PIL import Image

    ids = layer(project, "components_point", columns=["ObjID"], read_geometry=False)["ObjID"].tolist()[:2]
    src = tmp_path / "photos"
    src.mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(src / f"{ids[0]}.jpg")
    Image.new("RGB", (8, 8), (9, 2, 3)).save(src / f"{ids[0]}_2.jpg")
    shutil.copy(src / f"{ids[0]}.jpg", src / f"{ids[1]}-copy.jpg")  # same content: a duplicate
    (src / f"{ids[1]}.jpg").write_bytes(b"not an image")
    (src / "random.jpg").write_bytes((src / f"{ids[0]}_2.jpg").read_bytes())
    code, so, err = cli(["field", "photos", project, src, "--json"])
    assert code == 0, err
    res = json.loads(so)
    assert res["photos"] == 2
    text = json.dumps(res["warnings"], ensure_ascii=False)
    assert "duplicate" in text and "unreadable" in text and "random.jpg" in text
    ph = table(project, "photos")
    assert sorted(r["path"] for r in ph) == [f"p_photos/{ids[0]}_1.jpg", f"p_photos/{ids[0]}_2.jpg"]
    assert all((project.parent / r["path"]).is_file() for r in ph)


def test_duplicate_ids_get_their_own_uuid_and_field_edits_to_them_are_conflicts(project, tmp_path, cli):
    pts = layer(project, "components_point", read_geometry=False)
    inside = pts[pts["BGID"].str.startswith(AREA)]["ObjID"].tolist()
    dup, victim = inside[0], inside[1]
    con = fs.connect(project)  # a duplicate ID, as validation (codes.duplicate) would report
    con.execute("UPDATE components_point SET ObjID = ? WHERE ObjID = ?", (dup, victim))
    con.close()
    folder, _ = make(project, tmp_path, cli)
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    feats = m["layers"]["component_point"]["features"]
    dups = [u for u, v in feats.items() if v["id"] == dup]
    assert len(dups) == 2  # two features, two UUIDs
    con = fs.connect(folder / "survey.gpkg")
    fs.update(con, "components_point", dups[1], Note="改了第二个")
    con.close()
    before = layer(project, "components_point", read_geometry=False)
    code, so, err = cli(["field", "return", project, folder, "--json"])
    assert code == 0, err
    assert json.loads(so)["totals"]["conflicts"] == 1
    assert table(project, "field_conflicts")[0]["kind"] == "duplicate_id"
    after = layer(project, "components_point", read_geometry=False)
    assert (after[after["ObjID"] == dup]["Note"].fillna("") == before[before["ObjID"] == dup]["Note"].fillna("")).all()
    code, so, err = cli(["field", "resolve", project, "--conflict", "1", "--keep", "field"])
    assert code == 2 and "codes.duplicate" in err


def test_declared_modes_are_the_packaged_ones():
    from surveytools.field import common, ops

    # the check mode is made by `acceptance plan` from its sampling plan, not chosen in `field package`
    assert tuple(m for m in common.MODES if m != "check") == ops.MODES


@pytest.mark.skipif(__import__("surveytools.qgisproject", fromlist=["x"]).find_qgis_process() is None,
                    reason="QGIS (qgis_process) is not installed")
def test_package_writes_the_qfield_project_through_qgis_process(project, tmp_path, cli):
    out = tmp_path / "q"
    out.mkdir()
    code, so, err = cli(["field", "package", project, "--by", "community", "--areas", AREA, "--out", out])
    assert code == 0, err
    m = json.loads((out / AREA / "manifest.json").read_text(encoding="utf-8"))
    assert m["qgz"] == "survey.qgz" and (out / AREA / "survey.qgz").is_file()
    with zipfile.ZipFile(out / f"{AREA}.zip") as z:
        assert f"{AREA}/survey.qgz" in z.namelist()
        with zipfile.ZipFile(z.open(f"{AREA}/survey.qgz")) as q:
            xml = q.read(next(n for n in q.namelist() if n.endswith(".qgs"))).decode("utf-8")
    assert "./survey.gpkg|layername=components_point" in xml and "UuidGenerator" in xml
    assert "@position_horizontal_accuracy" in xml and str(tmp_path) not in xml  # relative paths only
