"""A field package as QField sees it: the .qgz of a package opens in headless QGIS, uses only
widgets QField supports and no Python, relative paths only; a feature created inside a grid
gets the grid, street and community; then the package is edited through QGIS's own editing
(what QField runs) and returned: IDs issued, grids right, photos linked, deletion as a state
change, a planted conflict reported, a second return a no-op."""
import json
import re
import zipfile

from plugin_support import assert_qfield_forms, by_key, copy_project, sql, surveytools


def write_qgz(folder):
    from qgis_plugin.project_file import write_qgz as w

    return w(str(folder / "survey.gpkg"), str(folder / "survey.qgz"))


def test_package_qgz_is_a_qfield_project_and_its_edits_come_back(editors, clean_qgs, tmp_path):
    from qgis.core import QgsGeometry, QgsPointXY, QgsVectorLayerUtils

    p = copy_project(tmp_path)
    AREA = sql(p, "SELECT substr(BGID, 1, 12) AS c FROM components_point WHERE BGID IS NOT NULL "
                  "GROUP BY c ORDER BY count(*) DESC LIMIT 1")[0][0]
    out = tmp_path / "pkgs"
    out.mkdir()
    surveytools("field", "package", p, "--by", "community", "--areas", AREA, "--out", out, "--surveyor", "张三",
                "--no-qgz")
    folder = out / AREA
    res = write_qgz(folder)  # what `surveytools project qgis` runs inside QGIS
    assert res["field"]["editable"] == ["component_point", "component_line", "component_polygon"]
    qgz = folder / "survey.qgz"
    with zipfile.ZipFile(qgz) as z:
        xml = z.read(next(n for n in z.namelist() if n.endswith(".qgs"))).decode("utf-8")
    sources = [s for s in re.findall(r"<datasource>([^<]*)</datasource>", xml) if s]
    assert sources and all(s.startswith("./survey.gpkg|") for s in sources), sources
    assert str(tmp_path) not in xml  # no absolute path anywhere: the folder moves to the phone
    qgs = clean_qgs
    assert qgs.read(str(qgz))
    assert all(lyr.isValid() for lyr in qgs.mapLayers().values())
    from qgis.core import QgsExpressionContextUtils

    assert QgsExpressionContextUtils.projectScope(qgs).variable("surveyor") == "张三"
    # only widgets QField supports, no Python
    assert_qfield_forms(qgs)
    pts = by_key(qgs, "component_point")
    photos = by_key(qgs, "photos")
    assert pts.editorWidgetSetup(pts.fields().indexOf("uuid")).type() == "UuidGenerator"
    ext = photos.editorWidgetSetup(photos.fields().indexOf("path"))
    assert ext.type() == "ExternalResource" and ext.config()["RelativeStorage"] == 1
    rels = qgs.relationManager().referencedRelations(pts)
    assert [r.referencingLayer().id() for r in rels] == [photos.id()]
    assert "position_horizontal_accuracy" in pts.defaultValueDefinition(pts.fields().indexOf("gnss_hacc")).expression()
    assert not by_key(qgs, "unit_grid").isEditable() and by_key(qgs, "unit_grid").readOnly()
    # a feature created inside a grid: grid, street, community, UUID, surveyor, no ID yet
    grids = by_key(qgs, "unit_grid")
    grid = next(grids.getFeatures("\"BGID\" = '%s'" % sql(p, "SELECT BGID FROM components_point WHERE BGID LIKE ? "
                                                            "LIMIT 1", (AREA + "%",))[0][0]))
    code = grid["BGID"]
    inside = grid.geometry().pointOnSurface()
    feat = QgsVectorLayerUtils.createFeature(pts, inside, {pts.fields().indexOf("ClassCode"): "0103"},
                                             pts.createExpressionContext())
    assert feat["BGID"] == code and feat["CommCode"] == code[:12] and feat["StreetCode"] == code[:9]
    assert feat["CommName"] and feat["StreetName"]
    assert re.fullmatch(r"\{[0-9a-f-]{36}\}", str(feat["uuid"])) and feat["surveyor"] == "张三"
    assert feat["ObjID"] is None or (hasattr(feat["ObjID"], "isNull") and feat["ObjID"].isNull()) or not feat["ObjID"]
    # edit as QField does: insert (+ photo under DCIM/), update, move, delete
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    feats = manifest["layers"]["component_point"]["features"]
    olds = {f["uuid"]: f.id() for f in pts.getFeatures()}
    # components whose ObjID is unique in the project (the sample has planted duplicate IDs, whose
    # field edits are duplicate_id conflicts by design); UUIDs are random, so pick deterministically
    dup = {r[0] for r in sql(p, "SELECT ObjID FROM (SELECT ObjID FROM components_point UNION ALL "
                                 "SELECT ObjID FROM components_line UNION ALL SELECT ObjID FROM components_polygon) "
                                 "GROUP BY ObjID HAVING count(*) > 1")}
    uu = sorted((u for u in feats if feats[u]["id"] not in dup), key=lambda u: feats[u]["id"])
    assert len(uu) >= 4
    assert pts.startEditing()
    assert pts.addFeature(feat)
    assert pts.changeAttributeValue(olds[uu[0]], pts.fields().indexOf("ObjState"), "破损")
    assert pts.changeAttributeValue(olds[uu[0]], pts.fields().indexOf("Note"), "井盖破损")
    g = pts.getFeature(olds[uu[1]]).geometry().asPoint()
    assert pts.changeGeometry(olds[uu[1]], QgsGeometry.fromPointXY(QgsPointXY(g.x() + 3, g.y())))
    assert pts.deleteFeature(olds[uu[2]])
    assert pts.commitChanges(), pts.commitErrors()
    (folder / "DCIM").mkdir(exist_ok=True)
    from qgis.PyQt.QtGui import QColor, QImage

    img = QImage(32, 24, QImage.Format_RGB32)
    img.fill(QColor(200, 20, 20))
    assert img.save(str(folder / "DCIM" / "IMG_1.jpg"), "JPG")
    ph = QgsVectorLayerUtils.createFeature(photos, QgsGeometry(), {photos.fields().indexOf("feature_uuid"): feat["uuid"],
                                                                   photos.fields().indexOf("path"): "DCIM/IMG_1.jpg"},
                                           photos.createExpressionContext())
    assert ph["photo_id"]
    assert photos.startEditing() and photos.addFeature(ph) and photos.commitChanges(), photos.commitErrors()
    # a planted conflict: the office edits uu[3] too
    assert pts.startEditing()
    assert pts.changeAttributeValue(olds[uu[3]], pts.fields().indexOf("Note"), "外业")
    assert pts.commitChanges()
    qgs.clear()
    # ... while the office edits the same component in the project (QGIS on the project file)
    from qgis.core import QgsVectorLayer

    office = QgsVectorLayer(f"{p}|layername=components_point", "office", "ogr")
    fid = next(office.getFeatures(f"\"ObjID\" = '{feats[uu[3]]['id']}'")).id()
    assert office.startEditing()
    assert office.changeAttributeValue(fid, office.fields().indexOf("Note"), "内业")
    assert office.commitChanges()
    del office
    n_before = sql(p, "SELECT count(*) FROM components_point")[0][0]
    res = surveytools("field", "return", p, folder)
    t = res["totals"]
    assert (t["new"], t["updated"], t["deleted"], t["photos"], t["conflicts"]) == (1, 2, 1, 1, 1), res
    assert sql(p, "SELECT component_id, status FROM field_conflicts") == [(feats[uu[3]]["id"], "open")]
    assert sql(p, "SELECT Note FROM components_point WHERE ObjID = ?", (feats[uu[3]]["id"],))[0][0] == "内业"
    known = {v["id"] for v in feats.values()}
    rows = [r for r in sql(p, "SELECT ObjID, BGID, CommCode, StreetCode, ObjName FROM components_point "
                              "WHERE BatchID LIKE 'F%'") if r[0] not in known]
    assert len(rows) == 1
    oid, bgid, comm, street, name = rows[0]
    assert oid.startswith("3606810103") and bgid == code and comm == code[:12] and street == code[:9] and name
    assert sql(p, "SELECT count(*) FROM components_point")[0][0] == n_before + 1
    assert sql(p, "SELECT ObjState FROM components_point WHERE ObjID = ?", (feats[uu[2]]["id"],))[0][0] == "丢失"
    assert sql(p, "SELECT ObjState FROM components_point WHERE ObjID = ?", (feats[uu[0]]["id"],))[0][0] == "破损"
    photo = sql(p, "SELECT component_id, path FROM photos")
    assert photo == [(oid, f"p_photos/{oid}_1.jpg")] and (p.parent / photo[0][1]).is_file()
    again = surveytools("field", "return", p, folder)
    assert again["packages"][0]["batch"] is None
