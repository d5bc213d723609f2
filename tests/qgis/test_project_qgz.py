"""The survey project as a QGIS project file: ``surveytools:project_qgis`` writes a ``.qgz`` whose
forms are native QGIS configuration (no Python), with relative paths and the plugin's link; the
panel opens, restores and resets through it; IDs follow the project's id_registry."""
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from plugin_support import copy_project, sql, two_grids

NATIVE_WIDGETS = {"TextEdit", "ValueMap", "ValueRelation", "RelationReference", "DateTime", "CheckBox", "Range",
                  "Hidden", "UniqueValues", "Classification", "KeyValue", "List", "Color", "ExternalResource",
                  "Binary", "JsonEdit", ""}


def _by_key(qgs, key):
    from qgis_plugin.projectdata import PROP_KEY

    hits = [lyr for lyr in qgs.mapLayers().values() if lyr.customProperty(PROP_KEY) == key]
    assert len(hits) <= 1, f"{key} loaded {len(hits)} times"
    return hits[0] if hits else None


def _inside(grids, code):
    f = next(grids.getFeatures(f"\"BGID\" = '{code}'"))
    return f.geometry().pointOnSurface()


def test_project_qgis_writes_a_qgz_that_works_without_the_plugin(provider, editors, clean_qgs, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback, QgsVectorLayerUtils

    p = copy_project(tmp_path)
    out = tmp_path / "调查.qgz"
    res = processing.run("surveytools:project_qgis", {"PROJECT": str(p), "OUT": str(out)},
                         feedback=QgsProcessingFeedback())
    assert res["OUT"] == str(out) and out.is_file()
    # relative layer paths in the project XML
    with zipfile.ZipFile(out) as z:
        qgs_xml = z.read(next(n for n in z.namelist() if n.endswith(".qgs"))).decode("utf-8")
    import re

    sources = [s for s in re.findall(r"<datasource>([^<]*)</datasource>", qgs_xml) if s]
    assert "./p.gpkg|layername=components_point" in sources
    assert all(s.startswith("./p.gpkg|") for s in sources), sources
    # move both files elsewhere: the .qgz still finds its data
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(p), moved / "p.gpkg")
    shutil.move(str(out), moved / "调查.qgz")
    qgs = clean_qgs
    assert qgs.read(str(moved / "调查.qgz"))
    assert all(lyr.isValid() for lyr in qgs.mapLayers().values())
    # the plugin's link, with the project path resolved against the .qgz
    from qgis_plugin.project_file import survey_link

    link = survey_link(qgs)
    assert link["kind"] == "gpkg" and link["county"] == "360681" and link["profile"] == "cjt"
    assert os.path.samefile(link["project"], moved / "p.gpkg")
    # every form widget is a native QGIS widget and no Python init code is set
    pts = _by_key(qgs, "component_point")
    for key in ("component_point", "component_line", "component_polygon", "unit_grid", "event"):
        lyr = _by_key(qgs, key)
        types = {lyr.editorWidgetSetup(i).type() for i in range(lyr.fields().count())}
        assert types <= NATIVE_WIDGETS, (key, types - NATIVE_WIDGETS)
        form = lyr.editFormConfig()
        assert not form.initFunction() and not form.initCode() and not form.initFilePath(), key
        assert int(form.initCodeSource()) == 0, key  # no Python init code of any kind
    # class: native cascading major -> minor on the dictionary table
    cls = pts.editorWidgetSetup(pts.fields().indexOf("ClassCode"))
    assert cls.type() == "RelationReference" and cls.config()["FilterFields"] == ["major_name"]
    assert qgs.relationManager().relation(cls.config()["Relation"]).isValid()
    classes = qgs.relationManager().relation(cls.config()["Relation"]).referencedLayer()
    # the filter combo's first entry is the field's display name: a Chinese word, not 'major_name'
    assert classes.attributeDisplayName(classes.fields().indexOf("major_name")) in ("大类", "Major class")
    assert pts.editorWidgetSetup(pts.fields().indexOf("ObjState")).type() == "ValueMap"
    assert pts.editorWidgetSetup(pts.fields().indexOf("ORDate")).type() == "DateTime"
    # Chinese constraint messages
    c = pts.fields().field("ObjID").constraints()
    assert "部件标识码" in c.constraintDescription() or "Component ID" in c.constraintDescription()
    # a feature created at a point inside a grid gets that grid's code, street and community
    grids = _by_key(qgs, "unit_grid")
    grid = sql(moved / "p.gpkg", "SELECT BGID FROM unit_grids ORDER BY fid LIMIT 1 OFFSET 120")[0][0]
    comm, cname, street, sname = sql(moved / "p.gpkg", "SELECT CommCode, CommName, StreetCode, StreetName FROM "
                                                       "communities WHERE CommCode = ?", (grid[:12],))[0]
    feat = QgsVectorLayerUtils.createFeature(pts, _inside(grids, grid), {}, pts.createExpressionContext())
    assert feat["BGID"] == grid
    assert (feat["CommCode"], feat["CommName"], feat["StreetCode"], feat["StreetName"]) == (comm, cname, street, sname)
    assert feat["ObjState"] == "完好"
    # ... and follows a move (defaults applied on update), in the edit buffer, without the plugin
    from qgis_plugin.autofill import attached

    assert attached(pts) is None  # no plugin Python attached to this layer
    other = sql(moved / "p.gpkg", "SELECT BGID FROM unit_grids WHERE substr(BGID, 1, 12) <> ? LIMIT 1", (grid[:12],))[0][0]
    pts.startEditing()
    feat.setAttribute("ClassCode", "0102")
    assert pts.addFeature(feat)
    assert pts.changeGeometry(feat.id(), _inside(grids, other))
    got = pts.getFeature(feat.id())
    assert got["BGID"] == other and got["CommCode"] == other[:12] and got["StreetCode"] == other[:9]
    # a class change: new ID with county + class, and the class name
    assert pts.changeAttributeValue(feat.id(), pts.fields().indexOf("ClassCode"), "0103")
    got = pts.getFeature(feat.id())
    assert got["ObjID"].startswith("3606810103") and len(got["ObjID"]) == 16
    assert got["ObjName"] == "雨水井盖"
    pts.rollBack()
    # the default view shows the unit grids, not the full extent
    view = qgs.viewSettings().defaultViewExtent()
    ge = grids.extent()
    assert view.contains(ge) and view.width() < ge.width() * 1.2


@pytest.mark.parametrize("wkt, expected", [
    ("POINT(5 5)", "36068100100102"), ("POINT(10 5)", "36068100100101"), ("POINT(50 5)", None),
    ("LINESTRING(8 5, 20 5)", "36068100100101"), ("LINESTRING(5 5, 15 5)", "36068100100101"),
    ("POLYGON((1 1,12 1,12 3,1 3,1 1))", "36068100100102")])
def test_native_locate_expression_follows_the_locate_rules(qgis_app, clean_qgs, wkt, expected):
    """The .qgz's expression and the plugin's GridLookup give the same grid (surveytools.locate rules)."""
    from qgis.core import (
        QgsExpression,
        QgsExpressionContext,
        QgsExpressionContextUtils,
        QgsFeature,
        QgsGeometry,
    )

    from qgis_plugin.autofill import GridLookup
    from qgis_plugin.project_file import locate_expression

    grids = two_grids()
    clean_qgs.addMapLayer(grids)
    geom = QgsGeometry.fromWkt(wkt)
    kind = {"POINT": "point", "LINESTRING": "line", "POLYGON": "polygon"}[wkt.split("(")[0]]
    target = QgsFeature()
    target.setGeometry(geom)
    ctx = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(grids))
    ctx.setFeature(target)
    value = QgsExpression(locate_expression(grids, "BGID", kind)).evaluate(ctx)
    value = None if value is None or (hasattr(value, "isNull") and value.isNull()) else value
    assert value == expected == GridLookup(grids, "BGID").locate(geom)


def test_panel_opens_through_the_qgz_restores_and_resets(qgis_iface, editors, clean_qgs, tmp_path):
    from qgis.core import QgsProject

    from qgis_plugin.autofill import attached
    from qgis_plugin.panel import ProjectDock

    p = copy_project(tmp_path)
    dock = ProjectDock(qgis_iface)
    dock.watch()
    try:
        lp = dock.open_gpkg(str(p))
        qgz = tmp_path / "p.qgz"
        assert lp is not None and qgz.is_file()
        qgs = QgsProject.instance()
        n = len(qgs.mapLayers())
        assert n >= 20 and os.path.samefile(qgs.fileName(), qgz)
        assert attached(lp.layer("component_point")) is not None
        assert all(b.isEnabled() for b in dock.step_buttons.values())
        # the map shows the unit grids
        canvas = qgis_iface.mapCanvas()
        assert canvas.extent().intersects(lp.layer("unit_grid").extent())
        # opening the same project again never duplicates layers
        assert dock.open_gpkg(str(p)) is not None
        assert len(qgs.mapLayers()) == n
        keys = [lyr.customProperty("surveytools/key") for lyr in qgs.mapLayers().values()]
        assert len(keys) == len(set(keys))
        # Project -> New resets the panel
        qgis_iface.newProject()
        qgs.clear()
        assert dock.project is None and not any(b.isEnabled() for b in dock.step_buttons.values())
        # reopening the .qgz (File -> Open) restores panel, autofill and step buttons
        assert qgs.read(str(qgz))
        assert dock.project is not None and os.path.samefile(dock.project.sp.path, p)
        assert all(b.isEnabled() for b in dock.step_buttons.values())
        assert len(qgs.mapLayers()) == n
        pts = dock.project.layer("component_point")
        assert attached(pts) is not None
        # and a component added through the edit buffer gets ID, grid, street and community
        from qgis.core import QgsVectorLayerUtils

        grids = dock.project.layer("unit_grid")
        grid = sql(p, "SELECT BGID FROM unit_grids ORDER BY fid LIMIT 1 OFFSET 40")[0][0]
        pts.startEditing()
        feat = QgsVectorLayerUtils.createFeature(pts, _inside(grids, grid), {pts.fields().indexOf("ClassCode"): "0102"},
                                                 pts.createExpressionContext())
        assert pts.addFeature(feat)
        got = pts.getFeature(feat.id())
        assert got["BGID"] == grid and got["CommCode"] == grid[:12] and got["StreetCode"] == grid[:9]
        assert got["ObjID"] and got["ObjID"].startswith("3606810102")
        pts.rollBack()
    finally:
        dock.unwatch()


def test_ids_follow_the_registry_and_are_never_reissued(qgis_app, editors, clean_qgs, tmp_path):
    from qgis.core import QgsVectorLayerUtils

    from qgis_plugin.idregistry import IdRegistry
    from qgis_plugin.layers import open_project

    p = copy_project(tmp_path)
    lp = open_project(str(p))
    pts, grids = lp.layer("component_point"), lp.layer("unit_grid")
    grid = sql(p, "SELECT BGID FROM unit_grids LIMIT 1")[0][0]
    layer_max = max([int(r[0][-6:]) for t in ("components_point", "components_line", "components_polygon")
                     for r in sql(p, f"SELECT ObjID FROM {t} WHERE ObjID LIKE '3606810102%' AND length(ObjID) = 16")]
                    + [0])
    reg = IdRegistry(lp.sp)
    # a retired serial recorded in the registry, above every ID in the layers
    assert reg.raise_to({("360681", "0102"): layer_max + 50})
    assert sql(p, "SELECT max_serial FROM id_registry WHERE county='360681' AND class_code='0102'") == [(layer_max + 50,)]

    def add():
        feat = QgsVectorLayerUtils.createFeature(pts, _inside(grids, grid), {pts.fields().indexOf("ClassCode"): "0102"},
                                                 pts.createExpressionContext())
        assert pts.addFeature(feat)
        return feat.id(), pts.getFeature(feat.id())["ObjID"]

    pts.startEditing()
    _, first = add()
    assert first == "3606810102" + str(layer_max + 51).zfill(6)
    assert pts.commitChanges(), pts.commitErrors()
    # the commit raised the registry
    assert sql(p, "SELECT max_serial FROM id_registry WHERE county='360681' AND class_code='0102'") == [(layer_max + 51,)]
    # delete it: its serial is never issued again
    fid = sql(p, "SELECT fid FROM components_point WHERE ObjID = ?", (first,))[0][0]
    pts.startEditing()
    assert pts.deleteFeature(fid)
    assert pts.commitChanges(), pts.commitErrors()
    pts.startEditing()
    _, second = add()
    assert second == "3606810102" + str(layer_max + 52).zfill(6)
    pts.rollBack()
    # the library reads what the plugin wrote
    assert reg.max_serial("360681", "0102") == layer_max + 51


def test_class_change_renames_only_a_class_named_feature(qgis_app, editors, clean_qgs, tmp_path):
    from qgis_plugin.layers import open_project

    p = copy_project(tmp_path)
    lp = open_project(str(p))
    pts = lp.layer("component_point")
    rows = sql(p, "SELECT fid, ObjName FROM components_point WHERE ClassCode = '0102' LIMIT 2")
    (a, name_a), (b, _) = rows
    assert name_a == "污水井盖"
    pts.startEditing()
    pts.changeAttributeValue(b, pts.fields().indexOf("ObjName"), "东门口井盖")
    cc = pts.fields().indexOf("ClassCode")
    assert pts.changeAttributeValue(a, cc, "0103") and pts.changeAttributeValue(b, cc, "0103")
    assert pts.getFeature(a)["ObjName"] == "雨水井盖"  # was the old class's name: renamed
    assert pts.getFeature(b)["ObjName"] == "东门口井盖"  # a name of its own: kept
    assert pts.getFeature(a)["ObjID"][6:10] == "0103"
    pts.rollBack()


QGIS_PROCESS = Path("/usr/bin/qgis_process.bin")


@pytest.mark.skipif(not QGIS_PROCESS.exists(), reason="qgis_process.bin not installed")
def test_cli_runs_project_qgis_through_qgis_process(tmp_path):
    """``surveytools project qgis`` (the library, no qgis import) runs the algorithm in qgis_process."""
    import json
    import subprocess
    import sys

    p = copy_project(tmp_path)
    out = tmp_path / "out.qgz"
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), SURVEYTOOLS_QGIS_PROCESS=str(QGIS_PROCESS))
    res = subprocess.run([sys.executable, "-m", "surveytools.cli", "project", "qgis", str(p), "--out", str(out), "--json"],
                         env=env, capture_output=True, text=True, timeout=600, cwd=str(root))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    data = json.loads(res.stdout)
    assert data["ok"] and data["outputs"]["OUT"] == str(out) and out.is_file()
    assert data["layers"] >= 20
