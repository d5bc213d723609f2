"""Forms generated from the profile: drop-downs, constraints, and the automatic ID, grid, street
and community of a feature added through the form or moved."""
import pytest
from plugin_support import copy_project, sql, two_grids


@pytest.fixture
def loaded(qgis_app, editors, tmp_path):
    from qgis.core import QgsProject

    from qgis_plugin.layers import open_project

    p = copy_project(tmp_path)
    lp = open_project(str(p))
    yield p, lp
    for lyr in lp.layers():
        if lyr.isEditable():
            lyr.rollBack()
    QgsProject.instance().clear()


def _inside_point(lp, grid_code):
    """A point well inside a unit grid, with that grid's community and street."""
    ug = lp.layer("unit_grid")
    f = next(ug.getFeatures(f"\"BGID\" = '{grid_code}'"))
    return f.geometry().pointOnSurface().asPoint()


def _next_serial(p, prefix):
    """The serial the next ID of ``prefix`` (county + class) gets: after the layers' IDs and the
    project's id_registry."""
    serials = [int(r[0][-6:]) for t in ("components_point", "components_line", "components_polygon")
               for r in sql(p, f"SELECT ObjID FROM {t} WHERE ObjID LIKE ? AND length(ObjID) = 16", (prefix + "%",))]
    reg = sql(p, "SELECT max_serial FROM id_registry WHERE county = ? AND class_code = ?", (prefix[:6], prefix[6:]))
    return max(serials + [r[0] for r in reg] + [0]) + 1


def test_component_form_is_generated_from_the_profile(loaded):
    _, lp = loaded
    prof = lp.sp.profile
    pts = lp.layer("component_point")
    f = lambda role: pts.fields().indexOf(prof.field("component", role))  # noqa: E731
    cls = pts.editorWidgetSetup(f("class_code"))
    # native cascading: a relation reference on the class table, filtered by the major class
    assert cls.type() == "RelationReference" and cls.config()["FilterFields"] == ["major_name"]
    rel = lp.qgs.relationManager().relation(cls.config()["Relation"])
    assert rel.isValid() and rel.referencedLayer() is lp.layer("dict_component_classes")
    state = pts.editorWidgetSetup(f("state"))
    assert state.type() == "ValueMap"
    values = [list(d.values())[0] for d in state.config()["map"]]
    assert values == prof.domain("component_state")
    dept = pts.editorWidgetSetup(f("dept1_code"))
    assert dept.type() == "ValueRelation"
    assert dept.config()["Layer"] == lp.layer("departments").id() and "主管" in dept.config()["FilterExpression"]
    assert pts.editorWidgetSetup(f("dept3_code")).config()["Key"] == "dept_id"
    # the name follows the picked code (a default applied on update)
    name_default = pts.defaultValueDefinition(f("dept1_name"))
    assert name_default.applyOnUpdate() and lp.layer("departments").id() in name_default.expression()
    assert pts.editorWidgetSetup(f("init_date")).type() == "DateTime"
    from qgis_plugin.compat import constraint, constraint_strength

    nn = constraint("NotNull")
    for role in ("class_code", "dept1_name", "state"):
        c = pts.fields().at(f(role)).constraints()
        assert c.constraints() & nn and c.constraintStrength(nn) == constraint_strength("Hard"), role
    c = pts.fields().at(f("component_id")).constraints()
    assert c.constraintStrength(nn) == constraint_strength("Soft")  # filled by the plugin
    form = pts.editFormConfig()
    assert form.readOnly(f("component_id")) and form.readOnly(f("grid_code"))
    assert pts.attributeAlias(f("component_id")) in ("部件标识码", "Component ID")


def test_feature_added_through_the_form_gets_id_grid_street_community(loaded):
    from qgis.core import QgsGeometry, QgsVectorLayerUtils
    from qgis.gui import QgsAttributeEditorContext, QgsAttributeForm

    p, lp = loaded
    pts = lp.layer("component_point")
    grid = sql(p, "SELECT BGID FROM unit_grids ORDER BY fid LIMIT 1 OFFSET 200")[0][0]
    pt = _inside_point(lp, grid)
    comm, cname, street, sname = sql(p, "SELECT CommCode, CommName, StreetCode, StreetName FROM communities "
                                        "WHERE CommCode = ?", (grid[:12],))[0]
    prefix = "3606810102"
    expected_id = prefix + str(_next_serial(p, prefix)).zfill(6)
    pts.startEditing()
    cc = pts.fields().indexOf("ClassCode")
    feat = QgsVectorLayerUtils.createFeature(pts, QgsGeometry.fromPointXY(pt), {cc: "0102"}, pts.createExpressionContext())
    assert feat["ObjState"] == "完好" and feat["DataSource"] == "实测"  # profile defaults
    # the ID shows as soon as the class is chosen: the default (applied on update) the form re-evaluates
    assert pts.defaultValue(pts.fields().indexOf("ObjID"), feat, pts.createExpressionContext()) == expected_id
    form = QgsAttributeForm(pts, feat, QgsAttributeEditorContext())
    form.setMode(QgsAttributeEditorContext.Mode.AddFeatureMode)
    form.changeAttribute("DeptCode1", "GX010")  # one pick fills code and name
    assert form.currentFormFeature()["DeptName1"] == "贵溪市城市管理局"
    n = pts.featureCount()
    assert form.save()
    assert pts.featureCount() == n + 1
    fid = list(pts.editBuffer().addedFeatures())[0]
    got = pts.getFeature(fid)
    assert got["ClassCode"] == "0102" and got["ObjID"] == expected_id
    assert got["BGID"] == grid
    assert (got["CommCode"], got["CommName"], got["StreetCode"], got["StreetName"]) == (comm, cname, street, sname)
    assert got["ObjName"] == "污水井盖"
    # a second feature of the same class gets the next serial
    f2 = QgsVectorLayerUtils.createFeature(pts, QgsGeometry.fromPointXY(pt), {pts.fields().indexOf("ClassCode"): "0102"},
                                           pts.createExpressionContext())
    assert pts.addFeature(f2)
    got2 = pts.getFeature(f2.id())
    assert got2["ObjID"] == prefix + str(int(expected_id[-6:]) + 1).zfill(6)
    assert pts.commitChanges(), pts.commitErrors()
    assert sql(p, "SELECT BGID, CommCode FROM components_point WHERE ObjID = ?", (expected_id,)) == [(grid, comm)]


def test_save_with_a_missing_mandatory_field_is_refused(loaded):
    from qgis.core import QgsGeometry, QgsVectorLayerUtils
    from qgis.gui import QgsAttributeDialog, QgsAttributeEditorContext
    from qgis.PyQt.QtWidgets import QDialogButtonBox

    from qgis_plugin.forms import missing_mandatory

    p, lp = loaded
    pts = lp.layer("component_point")
    pt = _inside_point(lp, sql(p, "SELECT BGID FROM unit_grids LIMIT 1")[0][0])
    pts.startEditing()
    feat = QgsVectorLayerUtils.createFeature(pts, QgsGeometry.fromPointXY(pt), {pts.fields().indexOf("ClassCode"): "0102"},
                                             pts.createExpressionContext())
    dlg = QgsAttributeDialog(pts, feat, False, None, True)
    dlg.setMode(QgsAttributeEditorContext.Mode.AddFeatureMode)
    ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # DeptName1 (主管部门名称, M) is empty
    n = pts.featureCount()
    ok.click()  # what the user can do: nothing happens
    assert pts.featureCount() == n  # nothing added
    feat.setAttribute("ClassCode", "0102")
    assert missing_mandatory(pts, feat) == ["DeptName1"]
    dlg.attributeForm().changeAttribute("DeptName1", "贵溪市城市管理局")
    assert ok.isEnabled()


def test_moving_a_feature_updates_grid_street_and_community(loaded):
    from qgis.core import QgsGeometry

    p, lp = loaded
    pts = lp.layer("component_point")
    fid, objid, old_grid = sql(p, "SELECT fid, ObjID, BGID FROM components_point WHERE BGID IS NOT NULL LIMIT 1")[0]
    other = sql(p, "SELECT BGID FROM unit_grids WHERE substr(BGID, 1, 12) <> ? LIMIT 1", (old_grid[:12],))[0][0]
    pts.startEditing()
    assert pts.changeGeometry(fid, QgsGeometry.fromPointXY(_inside_point(lp, other)))
    got = pts.getFeature(fid)
    assert got["BGID"] == other and got["CommCode"] == other[:12] and got["StreetCode"] == other[:9]
    assert got["ObjID"] == objid  # the ID does not depend on the position
    # a changed class gets a new ID with the new class
    assert pts.changeAttributeValue(fid, pts.fields().indexOf("ClassCode"), "0103")
    assert pts.getFeature(fid)["ObjID"][6:10] == "0103"


def test_grid_lookup_applies_the_locate_rules(qgis_app):
    from qgis.core import QgsGeometry, QgsPointXY

    from qgis_plugin.autofill import GridLookup

    grids = two_grids()
    look = GridLookup(grids, "BGID")
    assert look.locate(QgsGeometry.fromPointXY(QgsPointXY(5, 5))) == "36068100100102"
    assert look.locate(QgsGeometry.fromPointXY(QgsPointXY(10, 5))) == "36068100100101"  # on the edge: smallest
    assert look.locate(QgsGeometry.fromPointXY(QgsPointXY(50, 5))) is None
    assert look.locate(QgsGeometry.fromWkt("LINESTRING(8 5, 20 5)")) == "36068100100101"  # longest part
    assert look.locate(QgsGeometry.fromWkt("LINESTRING(5 5, 15 5)")) == "36068100100101"  # tie: smallest
    assert look.locate(QgsGeometry.fromWkt("POLYGON((1 1,12 1,12 3,1 3,1 1))")) == "36068100100102"  # largest area
