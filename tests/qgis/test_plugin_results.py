"""The validation results panel: list, filter, zoom, open the form, mark fixed, accept a false
positive (row in validation_accepted, skipped by the next run), re-run one rule on one layer."""
from plugin_support import sql


def _count(p, where="1=1", params=()):
    return sum(sql(p, f"SELECT count(*) FROM {t} WHERE {where}", params)[0][0]
               for t in ("validation_errors_point", "validation_errors_line", "validation_errors_polygon"))


def test_lists_and_filters_the_errors_of_the_last_validation(results_dock):
    p, _, d = results_dock
    assert len(d.all_rows) == _count(p) > 0
    assert d.table.rowCount() == len(d.all_rows)
    d.set_filter(rule="codes.format")
    assert len(d.visible_rows) == _count(p, "rule_id = 'codes.format'") > 0
    assert {r["rule_id"] for r in d.visible_rows} == {"codes.format"}
    d.set_filter(severity="warning", layer="unit_grids")
    assert len(d.visible_rows) == _count(p, "severity = 'warning' AND layer = 'unit_grids'") > 0
    d.set_filter(status="open")
    assert len(d.visible_rows) == _count(p, "status = 'open'")
    assert d.table.rowCount() == len(d.visible_rows)


def test_zoom_and_open_form(results_dock, qgis_iface):
    from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry

    p, lp, d = results_dock
    qgis_iface.mapCanvas().setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4548"))
    d.set_filter(rule="codes.format", layer="components_point")
    row = d.visible_rows[0]
    box = d.zoom_to(0)
    assert box is not None and box.contains(row["_geom"].boundingBox())
    assert qgis_iface.mapCanvas().extent().contains(row["_geom"].boundingBox().center())
    feature = d.open_form(0)
    assert feature is not None and feature["ObjID"] == row["feature_id"]
    assert feature.id() == int(row["feature_fid"])
    assert d.target(0)[0] is lp.layer("component_point")
    assert isinstance(row["_geom"], QgsGeometry)


def test_mark_fixed_and_accept_a_false_positive(results_dock, tmp_path):
    p, lp, d = results_dock
    d.set_filter(rule="codes.format", layer="components_point")
    first, second = d.visible_rows[0], d.visible_rows[1]
    assert d.mark_fixed(first)
    assert sql(p, "SELECT status FROM validation_errors_point WHERE fid = ?", (first["_fid"],)) == [("fixed",)]
    key = (second["rule_id"], second["layer"], second["feature_id"], second["field"])
    d.accept(second, note="现场核实无误")
    rows = sql(p, "SELECT rule_id, layer, feature_id, field, note FROM validation_accepted")
    assert rows == [(*key, "现场核实无误")]
    # the panel re-read the project (the file was replaced by the operation)
    assert any(r["feature_id"] == second["feature_id"] and r["status"] == "accepted" for r in d.all_rows)
    assert sql(p, "PRAGMA integrity_check")[0][0] == "ok"
    # a later run skips it: listed as accepted, not counted
    from qgis_plugin.tasks import run_operation
    from surveytools.errors import SurveyError

    try:
        run_operation("validate_run", {"project": str(p), "out": str(tmp_path / "qc2"), "write_project": True})
    except SurveyError as e:
        assert e.code == "validation_failed"
    assert sql(p, "SELECT status FROM validation_errors_point WHERE rule_id = ? AND feature_id = ? AND "
                  "coalesce(field, '') = ?", (key[0], key[2], key[3] or "")) == [("accepted",)]


def test_rerun_one_rule_on_the_current_layer(results_dock, qgis_iface):
    p, lp, d = results_dock
    qgis_iface.setActiveLayer(lp.layer("component_point"))
    assert d.current_layer_table() == "components_point"
    before = _count(p, "rule_id = 'codes.format' AND layer = 'components_point'")
    n_other = len([r for r in d.all_rows if r["rule_id"] != "codes.format"])
    fresh = d.rerun_rule("codes.format")
    assert fresh is not None and len(fresh) == before > 0
    assert {(r["rule_id"], r["layer"]) for r in fresh} == {("codes.format", "components_point")}
    # the other rules' rows are still listed; the project was not touched
    assert len([r for r in d.all_rows if r["rule_id"] != "codes.format"]) == n_other
    assert _count(p, "rule_id = 'codes.format' AND layer = 'components_point'") == before


def test_one_step_scheme_restricts_the_rule_to_the_layer_group(tmp_path):
    import yaml

    from qgis_plugin.results import write_one_step_scheme

    s = write_one_step_scheme(str(tmp_path / "s.yaml"), "attributes.mandatory", "component")
    assert s["steps"] == [{"rule": "attributes.mandatory", "on_fail": "warn", "params": {"layers": ["component"]}}]
    assert yaml.safe_load((tmp_path / "s.yaml").read_text(encoding="utf-8")) == s
    s = write_one_step_scheme(str(tmp_path / "t.yaml"), "codes.format", "component")
    assert "params" not in s["steps"][0]
