"""Department registry, dispatch matrix and assignment (issue 6)."""
import json
import math

import numpy as np
import pandas as pd
import pyogrio
import pytest
from export_fixture import DEPARTMENTS, assigned, copy

from surveytools.errors import SurveyError
from surveytools.profiles import load_profile
from surveytools.responsibility import matrix as mx
from surveytools.responsibility import registry as rg
from surveytools.uscc import is_valid_uscc

STREETS = pd.DataFrame({"street_code": ["360681001", "360681002", "360681003", "360681004"],
                        "street_name": ["花园街道", "雄石街道", "东门街道", "江北街道"]})


def test_sample_departments_import_and_xlsx_round_trip(tmp_path):
    prof = load_profile("cjt")
    raw = rg.read_table_file(DEPARTMENTS)
    depts, issues, _ = rg.normalise(raw, prof, source=str(DEPARTMENTS), streets=STREETS)
    assert len(depts) == 23
    assert not [i for i in issues if i["rule_id"] == "RESP-D01"]  # every generated credit code is valid
    assert all(is_valid_uscc(c) for c in depts["code"])
    assert rg.street_offices(depts) == {"360681001": "GX101", "360681002": "GX102", "360681003": "GX103", "360681004": "GX104"}
    assert depts.set_index("dept_id").loc["GX010", "role"] == "主管/处置"
    out = tmp_path / "d.xlsx"
    rg.export_xlsx(depts, prof, out)
    back, _, _ = rg.normalise(rg.read_table_file(out), prof, source=str(out))
    pd.testing.assert_frame_equal(back.reset_index(drop=True), depts.reset_index(drop=True))


def test_department_errors_name_row_and_field(tmp_path):
    prof = load_profile("cjt")
    raw = rg.read_table_file(DEPARTMENTS)
    bad = raw.copy()
    bad.loc[3, "Roles"] = "主管/巡查"
    with pytest.raises(SurveyError) as e:
        rg.normalise(bad, prof, source="x.xlsx")
    assert e.value.field == "role" and e.value.feature == 5 and "主管" in e.value.message.zh
    dup = raw.copy()
    dup.loc[4, "DeptCode"] = dup.loc[3, "DeptCode"]
    with pytest.raises(SurveyError) as e:
        rg.normalise(dup, prof, source="x.xlsx")
    assert e.value.code == "dept_id_duplicate"
    wrong = raw.copy()
    code = wrong.loc[2, "USCC"]
    wrong.loc[2, "USCC"] = code[:17] + ("0" if code[17] != "0" else "1")
    _, issues, _ = rg.normalise(wrong, prof, source="x.xlsx")
    assert [i["rule_id"] for i in issues] == ["RESP-D01"] and issues[0]["features"] == "GX011"


@pytest.mark.parametrize("profile_id", ["cjt", "gbt30428", "gbt47678"])
def test_dispatch_defaults_are_complete_data(profile_id):
    prof = load_profile(profile_id)
    d = mx.load_defaults(prof)
    classes = {"component": set(prof.component_classes["code"]) | set(prof.component_classes["major_code"]),
               "event": set(prof.event_classes["code"]) | set(prof.event_classes["major_code"])}
    for r in d.to_dict("records"):
        assert r["class_code"] in classes[r["kind"]], r
        assert r["deadline_unit"] in ("工作时", "工作日")
        assert 0 < float(r["deadline_urgent"]) <= float(r["deadline_normal"])
        assert r["filing_condition"] and r["closing_condition"] and r["lead_unit"]
        assert r["provenance"] in ("inferred", "local") and r["source"]
    # every major class of both kinds has a default row
    for kind, tab in (("component", prof.component_classes), ("event", prof.event_classes)):
        majors = set(tab["major_code"])
        assert majors <= set(d.loc[d["kind"] == kind, "class_code"]), (kind, majors)


def test_matrix_xlsx_round_trip_is_lossless(tmp_path):
    prof = load_profile("cjt")
    depts, _, _ = rg.normalise(rg.read_table_file(DEPARTMENTS), prof, source="d", streets=STREETS)
    m, issues = mx.from_defaults(prof, depts, "360681")
    assert not [i for i in issues if i["severity"] == "error"]
    names = mx.area_name_map(STREETS, None, None, "360681", "贵溪市")
    extra = m.iloc[[0]].copy()  # a street override with a blank deadline and a float deadline
    extra[["area_type", "area_code", "deadline_urgent", "deadline_normal", "note"]] = ["street", "360681002", 0.5, np.nan, "测试 <备注> & \"引号\""]
    m = mx.derive(pd.concat([m, extra], ignore_index=True), prof, depts, names)
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    mx.to_xlsx(m, prof, a)
    back = mx.from_xlsx(a, prof, depts, names)
    pd.testing.assert_frame_equal(back, m)
    assert math.isnan(back["deadline_normal"].iloc[-1]) and back["deadline_urgent"].iloc[-1] == 0.5
    mx.to_xlsx(back, prof, b)
    from openpyxl import load_workbook
    va = [list(r) for r in load_workbook(a).worksheets[0].iter_rows(values_only=True)]
    vb = [list(r) for r in load_workbook(b).worksheets[0].iter_rows(values_only=True)]
    assert va == vb


def test_lookup_prefers_area_then_class():
    m = mx.normalise(pd.DataFrame([
        {"class_code": "01", "kind": "event", "area_type": "county", "area_code": "360681", "lead_unit": "A"},
        {"class_code": "0102", "kind": "event", "area_type": "county", "area_code": "360681", "lead_unit": "B"},
        {"class_code": "01", "kind": "event", "area_type": "street", "area_code": "360681002", "lead_unit": "C"},
        {"class_code": "0102", "kind": "event", "area_type": "community", "area_code": "360681002001", "lead_unit": "D"},
        {"class_code": "01", "kind": "event", "area_type": "responsibility_area", "area_code": "Z1", "lead_unit": "E"},
        {"class_code": "0102", "kind": "component", "area_type": "county", "area_code": "360681", "lead_unit": "F"},
    ]))
    cls = np.array(["0102", "0105", "0102", "0102", "0102", "0102", "0305"], dtype=object)
    street = np.array(["360681001", "360681001", "360681002", "360681002", "360681002", "360681003", "360681001"], dtype=object)
    comm = np.array(["360681001001", None, "360681002002", "360681002001", "360681002001", None, None], dtype=object)
    pairs = pd.DataFrame({"t": [4], "area_code": ["Z1"], "rank": [0]})
    pos = mx.lookup(m, "event", cls, street, comm, "360681", pairs)
    assert [m["lead_unit"][p] if p >= 0 else None for p in pos] == ["B", "A", "C", "D", "E", "B", None]


def test_assign_components_and_events(tmp_path):
    src, info, res = assigned()
    p = copy(src, tmp_path)
    a = pyogrio.read_dataframe(p, layer="responsibility_assignments")
    comp = a[a["kind"] == "component"].set_index("feature_id")
    # a blank 养护 unit inside the park comes from the responsibility area; the survey's others stay
    r = comp.loc[info["FIX_BLANK_AREA"]]
    assert (r["dept3_id"], r["dept3_source"]) == ("GX022", "area")
    assert r["dept1_source"] == "attribute"
    # every unit blank, outside any area: the class default of 0118 路灯 (路灯管理所)
    r = comp.loc[info["FIX_BLANK_MATRIX"]]
    assert (r["dept1_id"], r["dept1_source"]) == ("GX012", "matrix")
    assert (r["lead_unit"], r["deadline_urgent"], r["deadline_unit"]) == ("GX012", 4.0, "工作时")
    pts = pyogrio.read_dataframe(p, layer="components_point").set_index("ObjID")
    assert pts.loc[info["FIX_BLANK_AREA"], "DeptName3"] == "贵溪市园林绿化管理所"
    assert pts.loc[info["FIX_BLANK_AREA"], "DeptCode3"] == "GX022"  # the survey uses local codes
    assert pts.loc[info["FIX_BLANK_MATRIX"], "DeptName1"] == "贵溪市路灯管理所"
    assert pts.loc[info["FIX_UNKNOWN"], "DeptCode1"] == "XX999"  # survey values are never changed
    issues = pyogrio.read_dataframe(p, layer="responsibility_issues")
    unk = issues[issues["rule_id"] == "RESP-C01"]
    assert len(unk) == 1 and info["FIX_UNKNOWN"] in unk["features"].iloc[0] and unk["class_code"].iloc[0] == "0103"
    # events: class rows, the 属地 token and the co-units
    ev = a[a["kind"] == "event"]
    assert len(ev) == info["events"]
    e102 = ev[ev["class_code"] == "0102"]
    assert (e102["lead_unit"] == "GX011").all() and (e102["deadline_normal"] == 4.0).all()
    offices = {"360681001": "GX101", "360681002": "GX102", "360681003": "GX103", "360681004": "GX104"}
    e110 = ev[ev["class_code"] == "0110"]  # 道路破损: major 01, lead @属地
    assert len(e110) and (e110["lead_unit"] == e110["street_code"].map(offices)).all()
    assert all(offices[s] in c for s, c in zip(e102["street_code"], e102["co_units"]))
    # matrix and registry are stored in the project
    m = mx.read_matrix(type("P", (), {"path": p})())
    assert len(m) == res.data["matrix_rows"] and (m["lead_unit_name"] != "").all()


def test_assign_with_partial_matrix_falls_back_to_street_office(tmp_path, cli):
    src, info, _ = assigned()
    p = copy(src, tmp_path)
    prof = load_profile("cjt")
    m = mx.read_matrix(type("P", (), {"path": p})())
    m = m[~((m["kind"] == "event") & (m["class_code"].str[:2] == "05"))]  # no row for 街面秩序
    x = tmp_path / "m.xlsx"
    mx.to_xlsx(m, prof, x)
    rc, out, err = cli(["responsibility", "assign", p, "--matrix", x, "--json"])
    assert rc == 0, err
    data = json.loads(out)
    e01 = [i for i in data["issues"] if i["rule_id"] == "RESP-E01"]
    assert e01 and all(i["class_code"].startswith("05") for i in e01)
    a = pyogrio.read_dataframe(p, layer="responsibility_assignments")
    ev = a[(a["kind"] == "event") & a["class_code"].str.startswith("05")]
    assert (ev["lead_source"] == "fallback").all() and ev["lead_unit"].str.startswith("GX10").all()


def test_assign_without_registry_is_a_bilingual_error(tmp_path, cli):
    p = tmp_path / "n.gpkg"
    from surveytools import project as P
    P.init(str(p), county="360681", profile="cjt")
    rc, out, err = cli(["responsibility", "assign", p])
    assert rc == 2 and "部门名录" in err and "department registry" in err
