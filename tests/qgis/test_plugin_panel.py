"""The project panel: create / open a project, layers grouped per theme and styled, step buttons
open the algorithm dialog and the layers are re-opened afterwards."""
import yaml
from plugin_support import copy_project, sql


def _project_group(source_id):
    from qgis.core import QgsProject

    from qgis_plugin.projectdata import PROP_PROJECT

    for g in QgsProject.instance().layerTreeRoot().findGroups():
        if g.customProperty(PROP_PROJECT) == source_id:
            return g
    return None


def test_open_project_loads_layers_grouped_and_styled(qgis_iface, editors, clean_qgs, tmp_path):
    from qgis_plugin.panel import ProjectDock
    from qgis_plugin.projectdata import PROP_THEME
    from qgis_plugin.styles import GRID_LABEL_MAX_SCALE, MINOR_LABEL_MAX_SCALE, majors

    p = copy_project(tmp_path)
    dock = ProjectDock(qgis_iface)
    lp = dock.open_gpkg(str(p))
    assert lp is not None
    group = _project_group(str(p.resolve()))
    assert group is not None and group.name() == lp.sp.title
    themes = [g.customProperty(PROP_THEME) for g in group.findGroups()]
    assert themes == ["errors", "components", "geocoding", "grids", "dictionaries"]
    by_theme = {g.customProperty(PROP_THEME): [n.layer() for n in g.findLayers()] for g in group.findGroups()}
    prov_tables = lambda lyrs: [lyr.source().split("layername=")[1] for lyr in lyrs]  # noqa: E731
    assert prov_tables(by_theme["grids"])[:1] == ["unit_grids"]
    assert {"unit_grids", "communities", "streets", "work_grids", "responsibility_grids"} <= set(prov_tables(by_theme["grids"]))
    assert prov_tables(by_theme["components"]) == ["components_point", "components_line", "components_polygon", "events"]
    assert set(prov_tables(by_theme["errors"])) == {"validation_errors_point", "validation_errors_line",
                                                    "validation_errors_polygon"}
    assert "geo_doorplates" in prov_tables(by_theme["geocoding"])
    assert set(prov_tables(by_theme["dictionaries"])) == {"dict_component_classes", "departments", "id_registry"}
    # every feature of the file is visible through the layer
    assert lp.layer("component_point").featureCount() == sql(p, "SELECT count(*) FROM components_point")[0][0]
    # components: categorised by major class, one shape per major for points, minor code labels
    prof = lp.sp.profile
    pts = lp.layer("component_point")
    r = pts.renderer()
    assert r.type() == "categorizedSymbol" and "ClassCode" in r.classAttribute()
    cats = r.categories()
    assert [c.value() for c in cats[:-1]] == [m for m, _ in majors(prof)]
    shapes = [c.symbol().symbolLayer(0).shape() for c in cats[:-1]]
    colours = [c.symbol().color().name() for c in cats[:-1]]
    assert len(set(zip(shapes, colours))) == len(cats) - 1
    assert len(set(shapes)) == min(len(cats) - 1, 14)
    lab = pts.labeling().settings()
    assert pts.labelsEnabled() and lab.scaleVisibility and lab.minimumScale == MINOR_LABEL_MAX_SCALE
    assert lp.layer("component_polygon").renderer().type() == "categorizedSymbol"
    # grid codes labelled at 1:1 – 1:10,000
    ug = lp.layer("unit_grid")
    s = ug.labeling().settings()
    assert ug.labelsEnabled() and s.fieldName == prof.field("unit_grid", "grid_code")
    assert s.scaleVisibility and s.minimumScale == GRID_LABEL_MAX_SCALE and s.maximumScale <= 1
    # errors rule-based, the dictionaries hidden
    assert lp.layer("validation_errors_point").renderer().type() == "RuleRenderer"
    assert not group.findGroups()[-1].itemVisibilityChecked()
    # the panel shows the project and enables the steps
    assert "360681" in dock.title_label.text()
    assert dock.county_edit.text() == "360681" and dock.profile_combo.currentData() == "cjt"
    assert all(b.isEnabled() for b in dock.step_buttons.values())
    # opening again does not duplicate layers
    n = len(clean_qgs.mapLayers())
    lp.load()
    assert len(clean_qgs.mapLayers()) == n


def test_new_project_runs_project_init_and_opens_it(provider, qgis_iface, editors, clean_qgs, tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem

    from qgis_plugin.panel import ProjectDock

    dock = ProjectDock(qgis_iface)
    dock.profile_combo.setCurrentIndex(dock.profile_combo.findData("gbt30428"))
    dock.county_edit.setText("360681")
    dock.crs_widget.setCrs(QgsCoordinateReferenceSystem("EPSG:4548"))
    target = tmp_path / "新项目.gpkg"
    lp = dock.new_project(str(target))
    assert lp is not None and target.is_file()
    assert lp.sp.profile.id == "gbt30428" and lp.sp.crs == "EPSG:4548"
    pts = lp.layer("component_point")
    assert pts is not None and pts.crs().authid() == "EPSG:4548"
    assert pts.fields().indexOf(lp.sp.profile.field("component", "component_id")) >= 0
    assert lp.layer("validation_errors_point") is None  # not validated yet
    # the dialog path: the panel passes profile, county and CRS to the algorithm dialog
    seen = {}
    dock.exec_dialog = lambda alg, params: seen.update(alg=alg, params=params) or {}
    assert dock.new_project() is None
    assert seen["alg"] == "surveytools:project_init"
    assert seen["params"]["PROFILE"] == "gbt30428" and seen["params"]["COUNTY"] == "360681"
    assert seen["params"]["CRS"].authid() == "EPSG:4548"


def test_step_button_saves_edits_runs_the_algorithm_and_reloads(provider, qgis_iface, editors, clean_qgs, tmp_path):
    import processing
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingFeedback

    from qgis_plugin.panel import STEPS, ProjectDock

    p = copy_project(tmp_path)
    dock = ProjectDock(qgis_iface)
    lp = dock.open_gpkg(str(p))
    dock.confirm = lambda *a: True
    scheme = tmp_path / "one.yaml"
    scheme.write_text(yaml.safe_dump({"id": "t", "steps": [{"rule": "codes.format"}]}), encoding="utf-8")
    calls = []

    def dialog(alg_id, params):  # what the dialog does when the user presses Run
        calls.append((alg_id, dict(params)))
        params = dict(params, SCHEME=str(scheme), OUT=str(tmp_path / "qc"))
        try:
            return processing.run(alg_id, params, feedback=QgsProcessingFeedback())
        except Exception:  # FAIL verdict: outputs written all the same
            return {}

    dock.exec_dialog = dialog
    before = sql(p, "SELECT count(*) FROM validation_errors_polygon")[0][0]
    assert before > 0 and lp.layer("validation_errors_polygon").featureCount() == before
    # an unsaved edit is saved before the step
    pts = lp.layer("component_point")
    pts.startEditing()
    f = QgsFeature(pts.fields())
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(519989.0, 3130131.5)))
    f["ClassCode"] = "0102"
    assert pts.addFeature(f)
    n_pts = sql(p, "SELECT count(*) FROM components_point")[0][0]
    dock.step_buttons["validate"].click()
    assert calls and calls[0][0] == STEPS["validate"][0] == "surveytools:validate_run"
    assert calls[0][1]["PROJECT"] == lp.sp.path and calls[0][1]["OUT"].endswith("_qc")
    assert sql(p, "SELECT count(*) FROM components_point")[0][0] == n_pts + 1
    # the file was replaced (one rule only: no polygon errors any more) and the layers re-opened
    assert sql(p, "SELECT count(*) FROM validation_errors_polygon")[0][0] == 0
    assert lp.layer("validation_errors_polygon").featureCount() == 0
    assert lp.layer("validation_errors_point").featureCount() == sql(p, "SELECT count(*) FROM validation_errors_point")[0][0]
    assert lp.layer("component_point").featureCount() == n_pts + 1
    assert not lp.layer("component_point").isEditable()
    assert sql(p, "PRAGMA integrity_check")[0][0] == "ok"  # no stale WAL replayed onto the new file
    # every step names an algorithm of the provider
    ids = {a.id() for a in provider.algorithms()}
    assert {alg for alg, _ in STEPS.values()} <= ids
