"""Field survey in the plugin: panel buttons open the field package / field return dialogs with the project
filled in; the results panel lists the conflicts of a field return, zooms to one, and resolves them by
"keep project" and "take field" through the child runner."""
import json

from plugin_support import copy_project, sql, surveytools


def test_panel_buttons_open_the_field_dialogs_with_the_project(clean_qgs, qgis_iface, tmp_path):
    from qgis_plugin.panel import STEPS, ProjectDock

    p = copy_project(tmp_path)
    dock = ProjectDock(qgis_iface)
    lp = dock.open_gpkg(str(p))
    calls = []
    dock.exec_dialog = lambda alg, params: calls.append((alg, dict(params))) or {}
    assert dock.step_buttons["field_package"].isEnabled() and dock.step_buttons["field_return"].isEnabled()
    dock.step_buttons["field_package"].click()
    dock.step_buttons["field_return"].click()
    assert [c[0] for c in calls] == [STEPS["field_package"][0], STEPS["field_return"][0]] == \
        ["surveytools:field_package", "surveytools:field_return"]
    assert calls[0][1] == {"PROJECT": lp.sp.path, "OUT": str(p)[:-5] + "_field"}
    assert calls[1][1] == {"PROJECT": lp.sp.path}
    assert dock.conflicts_button.isVisibleTo(dock)
    dock.deleteLater()


def test_results_panel_lists_zooms_and_resolves_field_conflicts(clean_qgs, qgis_iface, tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem, QgsVectorLayer

    from qgis_plugin.layers import open_project
    from qgis_plugin.results import ValidationDock

    p = copy_project(tmp_path)
    area = sql(p, "SELECT substr(BGID, 1, 12) AS c FROM components_point WHERE BGID IS NOT NULL "
                  "GROUP BY c ORDER BY count(*) DESC LIMIT 1")[0][0]
    out = tmp_path / "pkgs"
    out.mkdir()
    surveytools("field", "package", p, "--by", "community", "--areas", area, "--out", out, "--no-qgz")
    folder = out / area
    feats = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["layers"]["component_point"]["features"]
    uu = sorted(u for u, v in feats.items() if sql(p, "SELECT count(*) FROM components_point WHERE ObjID = ?",
                                                  (v["id"],))[0][0] == 1)[:2]
    phone = QgsVectorLayer(f"{folder / 'survey.gpkg'}|layername=components_point", "phone", "ogr")
    assert phone.startEditing()  # the field edits the Note of two components ...
    for k, u in enumerate(uu):
        fid = next(phone.getFeatures(f"\"uuid\" = '{u}'")).id()
        assert phone.changeAttributeValue(fid, phone.fields().indexOf("Note"), f"外业{k}")
    assert phone.commitChanges()
    del phone
    office = QgsVectorLayer(f"{p}|layername=components_point", "office", "ogr")  # ... and so does the office
    assert office.startEditing()
    for k, u in enumerate(uu):
        fid = next(office.getFeatures(f"\"ObjID\" = '{feats[u]['id']}'")).id()
        assert office.changeAttributeValue(fid, office.fields().indexOf("Note"), f"内业{k}")
    assert office.commitChanges()
    del office
    assert surveytools("field", "return", p, folder)["totals"]["conflicts"] == 2

    lp = open_project(str(p))
    dock = ValidationDock(qgis_iface)
    dock.set_project(lp)
    assert dock.conflicts is None  # made on first use (the project panel's "Field conflicts" button)
    panel = dock.show_conflicts()
    assert dock.tabs.count() == 2 and dock.tabs.currentWidget() is panel is dock.conflicts
    field_note = {feats[u]["id"]: f"外业{k}" for k, u in enumerate(uu)}
    office_note = {feats[u]["id"]: f"内业{k}" for k, u in enumerate(uu)}
    first, second = [r["component_id"] for r in panel.visible_rows]
    assert {first, second} == set(field_note)
    assert panel.table.rowCount() == 2 and all(r["status"] == "open" for r in panel.visible_rows)
    tip = panel.table.item(0, 0).toolTip()
    assert "Note" in panel.table.item(0, 4).text() and field_note[first] in tip and office_note[first] in tip
    # zoom to the field's version
    qgis_iface.mapCanvas().setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4548"))
    row = panel.visible_rows[0]
    box = panel.zoom_to(0)
    assert box is not None and box.contains(row["_geom"].boundingBox())
    # take the field's version of the first, keep the project's of the second (the child runner resolves)
    panel.resolve(0, keep="field", wait=True)
    panel.status_combo.setCurrentIndex(panel.status_combo.findData(None))
    assert [r["status"] for r in panel.all_rows] == ["resolved", "open"]
    panel.resolve(panel.visible_rows[1], keep="project", wait=True)
    notes = dict(sql(p, "SELECT ObjID, Note FROM components_point WHERE ObjID IN (?, ?)", (first, second)))
    assert notes == {first: field_note[first], second: office_note[second]}
    assert sql(p, "SELECT resolution, status FROM field_conflicts ORDER BY conflict_id") == \
        [("field", "resolved"), ("project", "resolved")]
    assert [r["status"] for r in panel.all_rows] == ["resolved", "resolved"]
    panel.status_combo.setCurrentIndex(panel.status_combo.findData("open"))
    assert panel.table.rowCount() == 0
    assert panel.resolve(panel.all_rows[0], keep="field") is None  # already resolved: nothing run
    dock.clear()
    dock.project = None
    dock.deleteLater()
