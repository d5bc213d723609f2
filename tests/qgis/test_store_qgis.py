"""QGIS edits a project GeoPackage with the edit-log triggers: it still saves, and every edit is
logged as a 'qgis edit' with the old values (the triggers use plain SQLite only)."""
import json

from plugin_support import copy_project, sql


def test_qgis_edits_are_saved_and_logged(qgis_app, tmp_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    p = copy_project(tmp_path)
    before = sql(p, "SELECT count(*) FROM edit_log")[0][0]
    fid, objid, name = sql(p, "SELECT fid, ObjID, ObjName FROM components_point ORDER BY fid LIMIT 1")[0]
    gone = sql(p, "SELECT fid, ObjID FROM components_point ORDER BY fid DESC LIMIT 1")[0]
    lyr = QgsVectorLayer(f"{p}|layername=components_point", "pts", "ogr")
    assert lyr.isValid()
    assert lyr.startEditing()
    assert lyr.changeAttributeValue(fid, lyr.fields().indexOf("ObjName"), "QGIS 改名")
    assert lyr.changeGeometry(fid, QgsGeometry.fromPointXY(QgsPointXY(500000, 3100000)))
    assert lyr.deleteFeature(gone[0])
    f = QgsFeature(lyr.fields())
    f["ObjID"] = "3606810101999999"
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(500010, 3100010)))
    assert lyr.addFeature(f)
    assert lyr.commitChanges(), lyr.commitErrors()
    del lyr
    rows = sql(p, "SELECT action, source, feature_id, old_values, old_geom IS NOT NULL FROM edit_log "
                  "WHERE fid > ? ORDER BY fid", (before,))
    assert {r[1] for r in rows} == {"qgis edit"}
    actions = [r[0] for r in rows]
    assert "delete" in actions and "insert" in actions and "update" in actions
    upd = [r for r in rows if r[0] == "update" and r[2] == objid]
    assert upd and json.loads(upd[0][3])["ObjName"] == name and upd[0][4] == 1
    dele = [r for r in rows if r[0] == "delete"][0]
    assert dele[2] == gone[1]
    ins = [r for r in rows if r[0] == "insert"][0]
    assert ins[2] == "3606810101999999"
    # the R-tree followed the moved point (GDAL's own triggers still run)
    assert sql(p, "SELECT count(*) FROM rtree_components_point_geom WHERE id = ? AND minx = 500000", (fid,))[0][0] == 1
