"""Validation (质检) on the 贵溪 sample: the deliberate mistakes are found, outputs, verdict and
exit code, accepted false positives, on_fail halt, schemes, progress and cancel."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from surveytools.errors import Cancelled, SurveyError
from surveytools.feedback import Feedback

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "sample_data" / "guixi" / "base.gpkg"
COMP_A = ROOT / "sample_data" / "guixi" / "survey" / "components_a.gpkg"


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """init + grid divide on the sample base, components of batch A written directly (grid code
    located, class code from the ObjID), and the sample's department registry as a table."""
    from surveytools import project as P
    from surveytools.grid import ops as G
    from surveytools.locate import locate
    from surveytools.sample.departments import departments

    path = tmp_path_factory.mktemp("validate") / "guixi.gpkg"
    P.init(str(path), county="360681", profile="cjt")
    G.divide(str(path), communities=f"{BASE}:communities",
             lines=[f"{BASE}:roads", f"{BASE}:rivers", f"{BASE}:railways", f"{BASE}:water"], date="2024-06-01")
    proj = P.Project.open(path)
    prof = proj.profile
    grids = P.read_layer(proj, "unit_grid")
    codes = grids[prof.field("unit_grid", "grid_code")].to_numpy(dtype=object)
    idf, gf, cf = (prof.field("component", r) for r in ("component_id", "grid_code", "class_code"))
    dep = departments()
    with proj.transaction() as work:
        for layer, key in (("points", "component_point"), ("lines", "component_line"), ("polygons", "component_polygon")):
            g = pyogrio.read_dataframe(COMP_A, layer=layer, use_arrow=True)
            idx = locate(g.geometry.values, grids.geometry.values, codes)
            g[gf] = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
            oid = g[idf].astype(str)
            g[cf] = oid.str[6:10].where(oid.str.len() == 16, None)
            P.write_project_layer(work, key, g)
        P.write_table(work, "departments", pd.DataFrame({"name": dep["DeptName"], "code": dep["DeptCode"],
                                                         "role": dep["Roles"], "parent": dep["ParentCode"],
                                                         "contact": dep["Phone"]}))
    return path


@pytest.fixture
def work_copy(project, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copyfile(project, p)
    return p


def _run(path, out, **kw):
    """validate run; returns (Result or None, SurveyError or None): the error is the raised one or,
    for a FAIL verdict (a result, not an exception), ``Result.failure``."""
    from surveytools.validate.ops import run

    try:
        res = run(str(path), str(out), **kw)
    except SurveyError as e:
        return None, e
    return res, res.failure


@pytest.fixture(scope="session")
def default_run(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("validate_out")
    before = Path(project).stat().st_size
    res, err = _run(project, out, write_project=False)
    assert Path(project).stat().st_size == before
    errors = pd.concat([pyogrio.read_dataframe(out / "errors.gpkg", layer=f"errors_{k}") for k in ("point", "line", "polygon")],
                       ignore_index=True)
    table = pyogrio.read_dataframe(out / "errors.gpkg", layer="errors_table", read_geometry=False)
    return out, res, err, errors, table


def test_default_scheme_fails_the_sample_with_counts(default_run):
    out, res, err, errors, table = default_run
    # a FAIL is a result (outputs returned), not an exception; the failure is attached for the CLI
    assert res.data["verdict"] == "FAIL" and res.exit_code == 2 and err is res.failure
    assert res.outputs["VERDICT"] == "FAIL" and res.outputs["ERROR_COUNT"] == res.data["counts"]["errors"]
    assert res.outputs["ERRORS_POINT"] == f"{out / 'errors.gpkg'}|layername=errors_point"
    assert err.code == "validation_failed"
    counts = json.loads(err.value)
    assert counts["verdict"] == "FAIL" and counts["errors"] > 0
    assert counts["errors"] == int(((errors["status"] == "open") & (errors["severity"] == "error")).sum()
                                   + ((table["status"] == "open") & (table["severity"] == "error")).sum())
    assert "FAIL" in err.message.en and "不通过" in err.message.zh


def test_every_deliberate_mistake_for_validation_in_batch_a_is_found(default_run):
    _, _, _, errors, _ = default_run
    key = pd.read_csv(ROOT / "sample_data" / "guixi" / "mistakes.csv", dtype=str)
    key = key[key["file"].eq("guixi/survey/components_a.gpkg")]
    rule_for = {"重复部件": "geometry.duplicate", "重复标识码": "codes.duplicate", "标识码区划错误": "codes.county_prefix",
                "必填项缺失": "attributes.mandatory", "位置越界": "geometry.extent", "无效面": "geometry.valid",
                "小类代码不存在": "codes.class_unknown", "新版标准代码": "codes.format"}
    checked = 0
    for _, m in key.iterrows():
        rule = next((r for k, r in rule_for.items() if m["mistake"].startswith(k)), None)
        if rule is None:  # class name one or two characters off: components classify
            assert "classify" in m["found_by"], m["mistake"]
            continue
        hit = errors[(errors["rule_id"] == rule) & (errors["feature_id"] == m["feature"])]
        assert len(hit), f"{rule} did not report {m['feature']} ({m['mistake']})"
        if rule == "attributes.mandatory":
            field = "DeptName1" if "DeptName1" in m["mistake"] else "ObjState"
            assert field in set(hit["field"]), (m["feature"], set(hit["field"]))
        checked += 1
    assert checked == 30  # 36 rows for batch A, 6 of them (class names) for components classify


def test_error_geometries_are_the_real_ones(default_run, project):
    _, _, _, errors, _ = default_run
    comps = pyogrio.read_dataframe(project, layer="components_polygon")
    bowtie = comps[comps["ObjID"] == "3606810405000001"].geometry.iloc[0]
    v = errors[errors["rule_id"] == "geometry.valid"]
    assert len(v) == 1 and v.geometry.iloc[0].geom_type == "Point"
    assert shapely.distance(v.geometry.iloc[0], bowtie.boundary) < 1e-6  # the self-intersection, not a centroid
    out = errors[errors["rule_id"] == "geometry.extent"]
    pts = pyogrio.read_dataframe(project, layer="components_point")
    far = pts[pts["ObjID"] == "3606810402001087"].geometry.iloc[0]
    assert out.geometry.iloc[0].equals(far)  # the misplaced point itself
    dup = errors[(errors["rule_id"] == "geometry.duplicate") & (errors["feature_id"] == "3606810104004231")]
    assert dup["value"].iloc[0] == "3606810104001062"


def test_outputs_layers_reports_and_project_tables(project, work_copy, tmp_path, cli):
    out = tmp_path / "out"
    code, stdout, stderr = cli(["validate", "run", work_copy, "--out", out, "--json"])
    assert code == 2
    doc = json.loads(stdout)
    assert doc["ok"] is False and doc["error"]["code"] == "validation_failed"
    assert doc["completed"] is True and doc["verdict"] == "FAIL" and doc["outputs"]["VERDICT"] == "FAIL"
    counts = json.loads(doc["error"]["value"])
    assert counts["verdict"] == "FAIL" and counts["errors"] > 0 and "warnings" in counts
    layers = dict(pyogrio.list_layers(out / "errors.gpkg"))
    assert layers["errors_point"] == "Point" and layers["errors_polygon"] in ("Polygon", "MultiPolygon")
    assert layers["errors_line"] in ("LineString", "MultiLineString") and layers["errors_table"] is None
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "FAIL" in html and "合格率" in html and "Pass rate" in html and "geometry.duplicate" in html
    assert "<script" not in html
    from openpyxl import load_workbook

    wb = load_workbook(out / "report.xlsx", read_only=True)
    assert {"结论 Summary", "步骤 Steps", "图层 Layers", "按规则 Per rule", "按图层 Per layer", "错误 Errors"} <= set(wb.sheetnames)
    rows = list(wb["图层 Layers"].iter_rows(values_only=True))
    rates = {r[0]: r[6] for r in rows[1:]}
    assert 0.99 < rates["components_point"] < 1.0 and rates["communities"] == 1.0
    names = {str(n) for n, _ in pyogrio.list_layers(work_copy)}
    assert {"validation_errors_point", "validation_errors_line", "validation_errors_polygon", "validation_errors_table",
            "validation_steps", "validation_layers", "validation_summary"} <= names
    steps = pyogrio.read_dataframe(work_copy, layer="validation_steps")
    assert steps.set_index("id").loc["attributes.department_registry", "outcome"] == "passed"
    assert steps.set_index("id").loc["accuracy.rms", "outcome"] == "skipped"


def test_accepted_false_positive_is_reported_but_not_counted(work_copy, tmp_path):
    from surveytools.validate.ops import accept

    _, err = _run(work_copy, tmp_path / "a", write_project=False)
    before = json.loads(err.value)
    accept(str(work_copy), rule="geometry.duplicate", layer="components_point", feature_id="3606810113000747",
           note="两个消防栓确实相距 0.2 m / two hydrants really stand 0.2 m apart")
    _, err = _run(work_copy, tmp_path / "b", write_project=False)
    after = json.loads(err.value)
    assert after["accepted"] == 1 and after["errors"] == before["errors"] - 1
    e = pyogrio.read_dataframe(tmp_path / "b" / "errors.gpkg", layer="errors_point")
    row = e[(e["rule_id"] == "geometry.duplicate") & (e["feature_id"] == "3606810113000747")]
    assert list(row["status"]) == ["accepted"]
    stored = pyogrio.read_dataframe(work_copy, layer="validation_accepted", read_geometry=False)
    assert list(stored["note"]) == ["两个消防栓确实相距 0.2 m / two hydrants really stand 0.2 m apart"]


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_false_positive_without_a_reason_is_refused(work_copy, note):
    from surveytools.validate.ops import accept

    before = Path(work_copy).read_bytes()
    with pytest.raises(SurveyError) as exc:
        accept(str(work_copy), rule="geometry.duplicate", layer="components_point", feature_id="1", note=note)
    assert exc.value.code == "reason_missing" and exc.value.field == "note"
    assert "理由" in exc.value.render() and "reason" in exc.value.render()
    assert Path(work_copy).read_bytes() == before


def test_error_layers_carry_qgis_styles_by_severity_with_report_only_rows_hidden(default_run, work_copy, tmp_path):
    import sqlite3
    import xml.etree.ElementTree as ET

    out = default_run[0]
    con = sqlite3.connect(out / "errors.gpkg")
    rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
    assert ("layer_styles",) in con.execute("SELECT table_name FROM gpkg_contents").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == ["errors_line", "errors_point", "errors_polygon"]
    for table, geom_col, default, qml in rows:
        assert geom_col == "geom" and default == 1
        root = ET.fromstring(qml)
        rules = {r.get("filter"): r for r in root.iter("rule")}
        assert len(rules) == 5
        ignored = rules["\"status\" = 'ignored'"]
        assert ignored.get("checkstate") == "0" and "仅报告" in ignored.get("label")  # hidden by default
        error = rules["\"status\" = 'open' AND \"severity\" = 'error'"]
        assert error.get("checkstate", "1") == "1"
        sym = [s for s in root.iter("symbol") if s.get("name") == error.get("symbol")][0]
        assert "220,0,0" in ET.tostring(sym, encoding="unicode")
    # the project's validation layers too; a second run replaces the rows instead of adding more,
    # and a style someone saved for another layer stays
    from surveytools.export.styles import error_style_rows, write_gpkg_styles

    mine = dict(error_style_rows({"components_point": "point"})[0], styleName="my own", styleQML="<qgis/>")
    write_gpkg_styles(work_copy, [mine])
    for sub in ("p1", "p2"):
        _run(work_copy, tmp_path / sub, write_project=True)
    con = sqlite3.connect(work_copy)
    names = sorted(r[0] for r in con.execute("SELECT f_table_name FROM layer_styles"))
    con.close()
    assert [n for n in names if n.startswith("validation_errors_")] == [
        "validation_errors_line", "validation_errors_point", "validation_errors_polygon"]
    con = sqlite3.connect(work_copy)
    assert con.execute("SELECT styleName, styleQML FROM layer_styles WHERE f_table_name = 'components_point'"
                       ).fetchall() == [("my own", "<qgis/>")]
    con.close()


def _scheme(tmp_path, steps, name="s.yaml"):
    import yaml

    p = tmp_path / name
    p.write_text(yaml.safe_dump({"id": "test", "title": {"zh": "测试", "en": "test"}, "steps": steps}, allow_unicode=True),
                 encoding="utf-8")
    return p


def test_halt_stops_the_scheme_and_ignore_does_not_count(project, tmp_path):
    sch = _scheme(tmp_path, [{"rule": "topology.grid_area", "on_fail": "ignore", "severity": "error"},
                             {"rule": "geometry.valid", "on_fail": "halt"},
                             {"rule": "codes.duplicate", "on_fail": "warn"}])
    _, err = _run(project, tmp_path / "o", scheme=str(sch), write_project=False)
    steps = pd.read_excel(tmp_path / "o" / "report.xlsx", sheet_name="步骤 Steps").set_index("步骤 step")
    assert steps.loc["topology.grid_area", "结果 outcome"] == "ignored"
    assert steps.loc["geometry.valid", "结果 outcome"] == "failed"
    assert steps.loc["codes.duplicate", "结果 outcome"] == "not_run"
    counts = json.loads(err.value)
    assert counts["errors"] == 1 and counts["ignored"] > 0  # only the bowtie counts


def test_passing_scheme_returns_pass(project, tmp_path, cli):
    sch = _scheme(tmp_path, [{"rule": "topology.grid_overlaps"}, {"rule": "codes.grid_community_prefix"},
                             {"rule": "attributes.uscc"}, {"rule": "codes.county_prefix", "params": {"kinds": ["unit_grid"]}}])
    code, stdout, _ = cli(["validate", "run", project, "--out", tmp_path / "o", "--scheme", sch, "--no-write-project", "--json"])
    doc = json.loads(stdout)
    assert code == 0 and doc["verdict"] == "PASS" and doc["counts"]["errors"] == 0
    assert [s["outcome"] for s in doc["steps"]] == ["passed"] * 4


def test_check_points_rms_per_grade(project, tmp_path):
    import geopandas as gpd

    pts = pyogrio.read_dataframe(project, layer="components_point")
    a = pts[pts["ObjID"].str[6:10].isin(["0101", "0102"])].head(20)   # grade A (0.5 m)
    c = pts[pts["ObjID"].str[6:10].eq("0402")].head(10)               # 行道树, another grade
    sel = pd.concat([a, c])
    moved = shapely.transform(np.asarray(sel.geometry.values, dtype=object), lambda xy: xy + [0.3, 0.4])  # 0.5 m off
    cp = gpd.GeoDataFrame({"ObjID": sel["ObjID"].to_numpy()}, geometry=moved, crs="EPSG:4548")
    cp_path = tmp_path / "cp.gpkg"
    cp.to_file(cp_path, layer="cp")
    sch = _scheme(tmp_path, [{"rule": "accuracy.rms"}])
    res, err = _run(project, tmp_path / "o", scheme=str(sch), checkpoints=f"{cp_path}:cp", write_project=False)
    assert err is None and res.data["verdict"] == "PASS"  # 0.5 m is within A's 0.5 m limit
    acc = pd.read_excel(tmp_path / "o" / "report.xlsx", sheet_name="精度 Accuracy").set_index("grade")
    assert acc.loc["A", "n"] == 20 and abs(acc.loc["A", "rms"] - 0.5) < 1e-6
    cp2 = cp.assign(geometry=shapely.transform(moved, lambda xy: xy + [0.3, 0.4]))  # 1.0 m off
    cp2.to_file(tmp_path / "cp2.gpkg", layer="cp")
    _, err = _run(project, tmp_path / "o2", scheme=str(sch), checkpoints=f"{tmp_path / 'cp2.gpkg'}:cp", write_project=False)
    assert err is not None and json.loads(err.value)["errors"] == 1  # grade A fails; C (10 m) passes


def test_city_scheme_extends_its_base():
    from surveytools.profiles import load_profile
    from surveytools.validate.scheme import load_scheme

    base = load_scheme("default", load_profile("cjt"))
    city = load_scheme("default", load_profile("guixi"))
    assert "cities/guixi" in city.path.replace("\\", "/")
    ids = [s.id for s in city.steps]
    assert ids.index("codes.missing_serial") == ids.index("codes.duplicate") + 1
    assert len(city.steps) == len(base.steps) + 1
    dup = next(s for s in city.steps if s.id == "geometry.duplicate")
    assert dup.params == {"tolerance_m": 0.3}
    for prof in ("gbt30428", "gbt47678"):
        assert load_scheme("default", load_profile(prof)).path.endswith(f"{prof}/schemes/default.yaml")


def test_bad_schemes_name_the_problem(tmp_path, project):
    from surveytools.profiles import load_profile
    from surveytools.validate.scheme import load_scheme

    prof = load_profile("cjt")
    with pytest.raises(SurveyError) as e:
        load_scheme(str(_scheme(tmp_path, [{"rule": "no.such_rule"}])), prof)
    assert e.value.code == "bad_scheme" and e.value.value == "no.such_rule"
    with pytest.raises(SurveyError) as e:
        load_scheme(str(_scheme(tmp_path, [{"rule": "geometry.duplicate", "params": {"tolerance": 1}}], "b.yaml")), prof)
    assert "tolerance" in e.value.message.en
    with pytest.raises(SurveyError) as e:
        load_scheme(str(_scheme(tmp_path, [{"rule": "geometry.valid", "on_fail": "stop"}], "c.yaml")), prof)
    assert "on_fail" in e.value.message.en
    with pytest.raises(SurveyError) as e:
        load_scheme("nightly", prof)
    assert e.value.code == "unknown_scheme"


def test_missing_department_registry_is_skipped(project, tmp_path):
    from surveytools import project as P

    p = tmp_path / "nodept.gpkg"
    P.init(str(p), county="360681", profile="cjt")
    sch = _scheme(tmp_path, [{"rule": "attributes.department_registry"}, {"rule": "completeness.layers"}])
    _, err = _run(p, tmp_path / "o", scheme=str(sch))
    steps = pyogrio.read_dataframe(p, layer="validation_steps").set_index("id")
    assert steps.loc["attributes.department_registry", "outcome"] == "skipped"
    assert "departments" in steps.loc["attributes.department_registry", "reason_en"]
    assert steps.loc["completeness.layers", "errors"] == 3  # empty project: three required layers empty


class _CancelAt(Feedback):
    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, []

    def _set_progress(self, pct):
        self.seen.append(pct)

    def is_canceled(self):
        return bool(self.seen) and self.seen[-1] >= self.at


def test_progress_and_cancel_leave_nothing_behind(work_copy, tmp_path):
    from surveytools.validate.ops import run

    before = work_copy.read_bytes()
    fb = _CancelAt(40)
    with pytest.raises(Cancelled):
        run(str(work_copy), str(tmp_path / "o"), feedback=fb)
    assert 40 <= fb.seen[-1] < 85 and len(fb.seen) > 10
    assert not (tmp_path / "o" / "errors.gpkg").exists()
    assert work_copy.read_bytes() == before


def test_vectorised_uscc_agrees_with_the_scalar_check():
    from surveytools.sample.departments import make_uscc
    from surveytools.uscc import is_valid_uscc, uscc_valid

    rng = np.random.default_rng(5)
    good = [make_uscc(k, "360681", f"单位{i}") for i, k in enumerate(["11", "12", "91"] * 30)]
    alphabet = list("0123456789ABCDEFGHJKLMNPQRTUWXYZIOSV")
    bad = ["".join(rng.choice(alphabet, 18)) for _ in range(300)] + [g[:17] + ("0" if g[17] != "0" else "1") for g in good]
    codes = good + bad + ["", None, "91110108551385082q", "X" * 17]
    assert list(uscc_valid(codes)) == [is_valid_uscc(c) if isinstance(c, str) else False for c in codes]
    assert uscc_valid(good).all()


@pytest.mark.parametrize("params,needle", [
    ('{min_area_m2: "abc"}', "must be a number"),
    ('{min_area_m2: -3}', "must not be negative"),
    ('{min_area_m2: .nan}', "finite"),
])
def test_scheme_parameters_of_the_wrong_type_are_clear_errors(tmp_path, params, needle):
    from surveytools.profiles import load_profile
    from surveytools.validate.scheme import load_scheme

    f = tmp_path / "s.yaml"
    f.write_text(f"id: s\nsteps:\n  - {{rule: topology.grid_gaps, params: {params}}}\n", encoding="utf-8")
    with pytest.raises(SurveyError) as e:
        load_scheme(str(f), load_profile("cjt"))
    assert needle in e.value.render("en") and "min_area_m2" in e.value.render("en")
