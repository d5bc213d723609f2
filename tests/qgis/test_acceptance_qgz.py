"""The acceptance check package as QField sees it: the .qgz of the package `acceptance plan` writes
opens in headless QGIS with only widgets QField supports, no Python, relative paths; the delivery is
locked (geometry, addition, deletion; delivered fields read-only, without defaults or constraints);
the check fields, the measured check points (children of the components) and the missing components
(class as a value relation) are editable.  Then the package is filled through QGIS's own editing
(what QField runs) and recorded by `acceptance record`."""
import re
import zipfile

import pytest
from plugin_support import assert_qfield_forms, by_key, copy_project, sql, surveytools


def test_check_package_qgz_is_a_qfield_check_project_and_is_recorded(editors, clean_qgs, tmp_path):
    from qgis.core import QgsExpressionContextUtils, QgsGeometry, QgsPointXY, QgsVectorLayerUtils

    from qgis_plugin.project_file import write_qgz

    p = copy_project(tmp_path)
    out = tmp_path / "acc"
    plan = surveytools("acceptance", "plan", p, "--rate", "0.03", "--seed", "5", "--out", out, "--no-qgz",
                       "--checker", "王五")
    folder = out / "check"
    assert plan["package"]["folder"] == str(folder)
    res = write_qgz(str(folder / "survey.gpkg"), str(folder / "survey.qgz"))  # what qgis_process runs
    summary = res["field"]
    assert summary["mode"] == "check" and summary["locked"] == ["component_point", "component_line", "component_polygon"]
    with zipfile.ZipFile(folder / "survey.qgz") as z:
        xml = z.read(next(n for n in z.namelist() if n.endswith(".qgs"))).decode("utf-8")
    sources = [s for s in re.findall(r"<datasource>([^<]*)</datasource>", xml) if s]
    assert sources and all(s.startswith("./survey.gpkg|") for s in sources), sources
    assert str(tmp_path) not in xml
    qgs = clean_qgs
    assert qgs.read(str(folder / "survey.qgz"))
    assert all(lyr.isValid() for lyr in qgs.mapLayers().values())
    scope = QgsExpressionContextUtils.projectScope(qgs)
    assert scope.variable("surveyor") == "王五" and scope.variable("acceptance_plan") == plan["plan_id"]
    assert_qfield_forms(qgs)
    pts = by_key(qgs, "component_point")
    f = pts.fields().indexOf
    vm = pts.editorWidgetSetup(f("check_result"))
    assert vm.type() == "ValueMap" and [list(d.values())[0] for d in vm.config()["map"]] == ["正确", "属性错误", "位置错误", "多余"]
    rng = pts.editorWidgetSetup(f("offset_m"))
    assert rng.type() == "Range" and rng.config()["Min"] == 0
    for prop in ("QFieldSync/is_geometry_locked", "QFieldSync/is_geometry_editing_locked",
                 "QFieldSync/is_feature_addition_locked", "QFieldSync/is_feature_deletion_locked"):
        assert pts.customProperty(prop) in (True, "true"), prop
    form = pts.editFormConfig()
    for name in ("ObjID", "ClassCode", "BGID", "ObjState", "uuid", "item_no"):
        assert form.readOnly(f(name)), name
    for name in ("check_result", "offset_m", "check_note"):
        assert not form.readOnly(f(name)), name
    assert not pts.defaultValueDefinition(f("BGID")).expression()
    assert pts.defaultValueDefinition(f("checker")).expression() == "@surveyor"
    assert not pts.readOnly() and by_key(qgs, "unit_grid").readOnly()
    cp, miss = by_key(qgs, "check_points"), by_key(qgs, "check_missing")
    rels = qgs.relationManager().referencedRelations(pts)
    assert [r.referencingLayer().id() for r in rels] == [cp.id()]
    vr = miss.editorWidgetSetup(miss.fields().indexOf("class_code"))
    assert vr.type() == "ValueRelation" and vr.config()["Key"] == "code" and vr.config()["LayerSource"].startswith("./survey.gpkg")
    assert miss.fields().at(miss.fields().indexOf("class_code")).constraints().constraints()

    # the checker's work, through QGIS's editing: results, a typed offset, a measured point moved onto
    # the true position, a component found in the field
    feats = sorted(pts.getFeatures(), key=lambda ft: ft["item_no"])[:4]
    assert pts.startEditing()
    for ft, (result, off) in zip(feats, [("正确", 0.3), ("属性错误", None), ("多余", None), ("位置错误", 1.5)]):
        assert pts.changeAttributeValue(ft.id(), f("check_result"), result)
        if off is not None:
            assert pts.changeAttributeValue(ft.id(), f("offset_m"), off)
    assert pts.commitChanges(), pts.commitErrors()
    g = feats[0].geometry().asPoint()
    pt = QgsVectorLayerUtils.createFeature(cp, QgsGeometry.fromPointXY(QgsPointXY(g.x() + 30, g.y() + 40)),
                                           {cp.fields().indexOf("feature_uuid"): feats[0]["uuid"]}, cp.createExpressionContext())
    assert re.fullmatch(r"\{[0-9a-f-]{36}\}", str(pt["uuid"])) and pt["checker"] == "王五"
    assert cp.startEditing() and cp.addFeature(pt) and cp.commitChanges(), cp.commitErrors()
    fid = next(cp.getFeatures()).id()
    assert cp.startEditing()
    assert cp.changeGeometry(fid, QgsGeometry.fromPointXY(QgsPointXY(g.x() + 0.3, g.y() + 0.4)))
    assert cp.commitChanges(), cp.commitErrors()
    grid = next(by_key(qgs, "unit_grid").getFeatures())
    m = QgsVectorLayerUtils.createFeature(miss, grid.geometry().pointOnSurface(),
                                          {miss.fields().indexOf("class_code"): "0101"}, miss.createExpressionContext())
    assert miss.startEditing() and miss.addFeature(m) and miss.commitChanges(), miss.commitErrors()
    qgs.clear()

    rec = surveytools("acceptance", "record", p, folder)
    assert rec["checked"] == 4 and rec["missing"] == 1
    assert rec["results"] == {"正确": 1, "属性错误": 1, "位置错误": 1, "多余": 1}
    offsets = dict(sql(p, "SELECT result, offset_m FROM acceptance_checks"))
    assert offsets["正确"] == pytest.approx(0.5) and offsets["位置错误"] == pytest.approx(1.5)
    assert offsets["多余"] is None
    assert sql(p, "SELECT class_code, BGID FROM acceptance_missing") == [("0101", grid["BGID"])]
