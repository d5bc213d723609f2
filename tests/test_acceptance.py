"""Acceptance (验收): a reproducible stratified plan, validated check records, hand-counted rates, the report."""
import json
import math
import shutil

import numpy as np
import pyogrio
import pytest

RESULTS = ["正确", "属性错误", "位置错误", "多余"]


@pytest.fixture
def planned(built_project, tmp_path):
    """A copy of the project with a plan (rate 5 %, at least 3 grids per street, seed 7)."""
    from surveytools.acceptance.ops import plan

    p = tmp_path / "p.gpkg"
    shutil.copyfile(built_project, p)
    res = plan(str(p), rate=0.05, min_per_street=3, seed=7, out=str(tmp_path / "plan"), qgz=False)
    return p, tmp_path / "plan" / "checklist.xlsx", res


def _sheet_rows(path, sheet):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb[sheet]
    head = [c.value for c in ws[1]]
    return wb, ws, head


def test_plan_is_reproducible_and_stratified(built_project, tmp_path):
    from openpyxl import load_workbook

    from surveytools.acceptance.ops import plan
    from surveytools.acceptance.sample import components
    from surveytools.project import Project, read_layer

    runs = []
    for i, seed in enumerate((11, 11, 12)):
        p = tmp_path / f"p{i}.gpkg"
        shutil.copyfile(built_project, p)
        res = plan(str(p), rate=0.05, min_per_street=4, seed=seed, out=str(tmp_path / f"o{i}"), package=False)
        wb = load_workbook(tmp_path / f"o{i}" / "checklist.xlsx")
        ids = [r[0] for r in wb["检查记录"].iter_rows(min_row=2, values_only=True)]
        runs.append((p, res, ids))
    (p, a, ids_a), (_, b, ids_b), (_, c, _) = runs
    assert a.data["grids"] == b.data["grids"] and ids_a == ids_b and a.data["plan_id"] == b.data["plan_id"]
    assert a.data["grids"] != c.data["grids"]

    proj = Project.open(p)
    grids = read_layer(proj, "unit_grid")
    codes = grids["BGID"].astype(str)
    sample = read_layer(proj, "acceptance_sample")
    assert sorted(sample["BGID"]) == a.data["grids"] and len(sample) == a.data["grids_sampled"]
    # every street is sampled with at least min(4, its grids), and at least ceil(5 %) of its grids
    per_street = codes.str[:9].value_counts()
    got = sample["BGID"].str[:9].value_counts()
    for street, n in per_street.items():
        assert got.get(street, 0) >= min(n, max(4, math.ceil(0.05 * n))), street
    assert len(per_street) >= 3 and a.data["streets"] == len(per_street)
    # every class present in the delivery is on the checklist, rare classes included
    comps = components(proj)
    present = set(comps["class_code"]) - {""}
    wb = load_workbook(tmp_path / "o0" / "checklist.xlsx")
    listed = {r[4] for r in wb["检查记录"].iter_rows(min_row=2, values_only=True)}
    assert present <= listed
    rare = comps["class_code"].value_counts()
    assert rare.min() <= 5 and set(rare[rare <= 5].index) <= listed
    assert a.data["grids_for_classes"] >= 1
    # every component in the sampled grids is listed, and only those
    items = pyogrio.read_dataframe(p, layer="acceptance_items", read_geometry=False)
    assert len(items) == len(ids_a) == a.data["components_sampled"]
    assert set(items["BGID"]) <= set(sample["BGID"])
    from surveytools.locate import locate

    gi = locate(comps["geometry"].to_numpy(dtype=object), grids.geometry.values, codes.to_numpy())
    inside = np.isin(codes.to_numpy()[np.maximum(gi, 0)], sample["BGID"].to_numpy()) & (gi >= 0)
    assert int(inside.sum()) == len(items)


def test_checklist_layout(planned):
    from openpyxl import load_workbook

    _, xlsx, res = planned
    wb = load_workbook(xlsx)
    assert {"检查记录", "遗漏部件"} <= set(wb.sheetnames)
    head = [c.value for c in wb["检查记录"][1]]
    assert head[:4] == ["ObjID", "检查结果", "偏差米", "备注"]
    assert {"类别代码", "类别名称", "单元网格", "街道", "X", "Y"} <= set(head)
    assert [c.value for c in wb["遗漏部件"][1]] == ["类别代码", "X", "Y", "备注"]
    dv = [d for d in wb["检查记录"].data_validations.dataValidation if d.type == "list"]
    assert dv and dv[0].formula1 == '"正确,属性错误,位置错误,多余"' and "B2" in str(dv[0].sqref)
    ws = wb["检查记录"]
    assert ws.cell(row=2, column=1).data_type == "s" and len(ws.cell(row=2, column=1).value) == 16
    assert wb["说明"]["B2"].value == res.data["plan_id"]


def _plant(xlsx, out, rows, missing=(), drop=None):
    """Fill the checklist: ``rows`` maps row number -> (result, offset, note)."""
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    ws = wb["检查记录"]
    for r, (res, off, note) in rows.items():
        ws.cell(row=r, column=2, value=res)
        ws.cell(row=r, column=3, value=off)
        ws.cell(row=r, column=4, value=note).data_type = "s"  # text, even when it starts with "="
    ms = wb["遗漏部件"]
    for m in missing:
        ms.append(list(m))
    if drop:
        drop(wb)
    wb.save(out)
    return out


def _items(xlsx):
    from openpyxl import load_workbook

    ws = load_workbook(xlsx)["检查记录"]
    head = [c.value for c in ws[1]]
    return [dict(zip(head, r), row=i) for i, r in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2)]


def test_rates_agree_with_a_hand_count(planned, tmp_path, cli):
    from surveytools.project import Project

    p, xlsx, _ = planned
    prof = Project.open(p).profile
    grade_of = dict(zip(prof.component_classes["code"], prof.component_classes["accuracy"]))
    tol = {c: prof.accuracy_grades[g]["max_error_m"] for c, g in grade_of.items() if g in prof.accuracy_grades}
    items = [it for it in _items(xlsx) if it["类别代码"] in tol]
    # the plan: 40 checked rows in the first street with results, 8 in another street, 2 missing points
    from collections import Counter

    streets = [s for s, _ in Counter(it["街道"] for it in items).most_common(2)]
    s1 = [it for it in items if it["街道"] == streets[0]][:40]
    s2 = [it for it in items if it["街道"] == streets[1]][:8]
    plan_rows, offsets = {}, []
    # street 1: 26 correct (5 beyond tolerance), 4 attribute errors, 3 位置错误, 3 superfluous, 4 correct without offset
    kinds = ["正确"] * 26 + ["属性错误"] * 4 + ["位置错误"] * 3 + ["多余"] * 3 + ["正确"] * 4
    for k, (it, res) in enumerate(zip(s1, kinds)):
        t = tol[it["类别代码"]]
        if res == "多余" or k >= 36:
            off = None
        elif k < 5:
            off = round(t + 0.25, 3)  # beyond the tolerance: a position error though marked correct
        else:
            off = round(t * 0.4, 3)
        plan_rows[it["row"]] = (res, off, "")
        if off is not None:
            offsets.append(off)
    # street 2: 7 correct within tolerance, 1 attribute error
    for k, it in enumerate(s2):
        off = round(tol[it["类别代码"]] * 0.5, 3)
        plan_rows[it["row"]] = ("属性错误" if k == 0 else "正确", off, "=HYPERLINK(\"http://x\")" if k == 1 else "")
        offsets.append(off)
    missing = [(s1[0]["类别代码"], s1[0]["X"] + 0.4, s1[0]["Y"] + 0.4, "漏采"),
               (s2[0]["类别代码"], s2[0]["X"] - 0.4, s2[0]["Y"], "")]
    filled = _plant(xlsx, tmp_path / "filled.xlsx", plan_rows, missing)
    rc, out, err = cli(["acceptance", "record", p, filled, "--json"])
    assert rc == 0, err
    rec = json.loads(out)
    assert rec["checked"] == 48 and rec["missing"] == 2 and rec["results"] == {"正确": 37, "属性错误": 5, "位置错误": 3, "多余": 3}

    rc, out, err = cli(["acceptance", "report", p, "--out", tmp_path / "rep", "--json"])
    assert rc == 0, err
    rep = json.loads(out)
    checked = 48
    assert rep["checked"] == checked
    assert rep["error_rate"] == pytest.approx((5 + 3) / checked, abs=1e-6)           # 属性错误 + 多余
    assert rep["omission_rate"] == pytest.approx(2 / (checked + 2), abs=1e-6)
    assert rep["position_error_rate"] == pytest.approx((3 + 5) / checked, abs=1e-6)  # 位置错误 + beyond tolerance
    assert rep["rms_m"] == pytest.approx(math.sqrt(sum(o * o for o in offsets) / len(offsets)), abs=1e-6)
    assert rep["grade"] == "不合格"
    by_street = {r["street_code"]: r for r in rep["by_street"]}
    assert len(s1) == 40 and len(s2) == 8
    c1, c2 = streets[0].split()[-1], streets[1].split()[-1]
    assert by_street[c1]["checked"] == 40 and by_street[c1]["missing"] == 1 and by_street[c1]["errors"] == 7
    assert by_street[c1]["position_errors"] == 8
    assert by_street[c2]["checked"] == 8 and by_street[c2]["error_rate"] == pytest.approx(1 / 8)
    assert sum(r["checked"] for r in rep["by_class"]) == checked and sum(r["missing"] for r in rep["by_class"]) == 2
    # the report files; user text stays text in the XLSX
    from openpyxl import load_workbook

    d = tmp_path / "rep"
    html = (d / "report.html").read_text(encoding="utf-8")
    assert 'id="grade">不合格<' in html and "data:image/png;base64," in html and "reconstructed" in html
    assert (d / "report.pdf").read_bytes()[:5] == b"%PDF-" and rep["pdf_pages"] >= 2
    wb = load_workbook(d / "report.xlsx")
    assert {"总体", "评级阈值", "阈值来源", "按类别", "按街道", "检查记录", "遗漏部件", "地图"} <= set(wb.sheetnames)
    cells = [c for row in wb["检查记录"].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=HYPER")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_grades_follow_the_thresholds(planned, tmp_path):
    from surveytools.acceptance.ops import record, report

    p, xlsx, _ = planned
    items = _items(xlsx)[:60]
    good = _plant(xlsx, tmp_path / "good.xlsx", {it["row"]: ("正确", None, "") for it in items})
    record(str(p), str(good))
    assert report(str(p), out=str(tmp_path / "r1")).data["grade"] == "优"
    one = _plant(xlsx, tmp_path / "one.xlsx", {it["row"]: ("属性错误" if i == 0 else "正确", None, "") for i, it in enumerate(items)})
    record(str(p), str(one))
    res = report(str(p), out=str(tmp_path / "r2"))
    assert res.data["error_rate"] == pytest.approx(1 / 60, abs=1e-6) and res.data["grade"] == "良"
    # a city's own thresholds (only what it changes)
    th = tmp_path / "city.yaml"
    th.write_text("grades:\n  - {grade: 优, error_rate: 0.02}\n", encoding="utf-8")
    res = report(str(p), out=str(tmp_path / "r3"), thresholds=str(th))
    assert res.data["grade"] == "优" and str(th) in res.data["thresholds"]
    few = _plant(xlsx, tmp_path / "few.xlsx", {it["row"]: ("正确", None, "") for it in items[:5]})
    record(str(p), str(few))
    assert report(str(p), out=str(tmp_path / "r4")).data["grade"] == "未评定"


def _checks_count(p):
    return pyogrio.read_info(str(p), layer="acceptance_checks")["features"]


def _bad_cases(p, xlsx, tmp_path):
    from surveytools.acceptance.sample import components
    from surveytools.project import Project

    its = _items(xlsx)
    comps = components(Project.open(p))
    outside = next(i for i in comps["ObjID"] if i and i not in {it["ObjID"] for it in its}
                   and (comps["ObjID"] == i).sum() == 1)
    first = its[0]
    ok = {first["row"]: ("正确", 0.1, "")}

    def append_check(values):
        return lambda wb: wb["检查记录"].append(values)

    def drop_sheet(wb):
        del wb["遗漏部件"]

    return [
        ("unknown", dict(drop=append_check(["3606810199999999", "正确", None, None])), "检查记录", "ObjID", "3606810199999999"),
        ("outside", dict(drop=append_check([outside, "正确", None, None])), "检查记录", "ObjID", outside),
        ("result", dict(rows={its[1]["row"]: ("好", None, "")}), "检查记录", "检查结果", "好"),
        ("number", dict(rows={its[1]["row"]: ("正确", "abc", "")}), "检查记录", "偏差米", "abc"),
        ("negative", dict(rows={its[1]["row"]: ("位置错误", -1, "")}), "检查记录", "偏差米", "-1"),
        # a decimal comma is not a thousands separator: "0,3" is not 3 m
        ("decimal_comma", dict(rows={its[1]["row"]: ("正确", "0,3", "")}), "检查记录", "偏差米", "0,3"),
        ("no_point", dict(missing=[("0101", first["X"], None, "")]), "遗漏部件", "Y", None),
        ("bad_class", dict(missing=[("9999", first["X"], first["Y"], "")]), "遗漏部件", "类别代码", "9999"),
        ("far_point", dict(missing=[("0101", 1.0, 2.0, "")]), "遗漏部件", "X,Y", "1.0, 2.0"),
        ("no_sheet", dict(drop=drop_sheet), "遗漏部件", None, None),
        ("item_edited", dict(drop=lambda wb: wb["检查记录"].cell(row=first["row"] + 1, column=1, value=outside)),
         "检查记录", "ObjID", outside),
    ], ok


def test_bad_check_files_are_clear_errors_and_nothing_is_read(planned, tmp_path, cli):
    p, xlsx, _ = planned
    cases, ok = _bad_cases(p, xlsx, tmp_path)
    for name, kw, sheet, column, value in cases:
        rows = {**ok, **kw.get("rows", {})}
        if name == "item_edited":
            rows[_items(xlsx)[1]["row"]] = ("正确", None, "")
        f = _plant(xlsx, tmp_path / f"{name}.xlsx", rows, kw.get("missing", ()), kw.get("drop"))
        rc, out, err = cli(["acceptance", "record", p, f, "--json"])
        assert rc == 2, (name, out, err)
        e = json.loads(out)["error"]
        assert e["layer"] == sheet, (name, e)
        if column:
            assert e["field"] == column and e["feature"].startswith("row "), (name, e)
        if value is not None:
            assert e["value"] == value, (name, e)
        assert "错误" in err and "Error" in err and "Traceback" not in err
        assert "row 0" not in err and "column :" not in err, (name, err)  # a missing sheet has no row or column
        assert _checks_count(p) == 0, name  # all or nothing: the good row was not recorded either
    # a non-workbook file
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook")
    rc, out, err = cli(["acceptance", "record", p, junk])
    assert rc == 2 and "junk.xlsx" in err
    rc, out, err = cli(["acceptance", "record", p, tmp_path / "x.csv"])
    assert rc == 2


def test_a_filled_workbook_of_another_plan_is_refused_as_such(planned, tmp_path, cli):
    """The old plan's filled workbook after a new plan: one clear plan_id error, not a row error per line."""
    from surveytools.acceptance.ops import plan

    p, xlsx, _ = planned
    its = _items(xlsx)
    old = _plant(xlsx, tmp_path / "old.xlsx", {it["row"]: ("正确", 0.1, "") for it in its[:20]})
    plan(str(p), rate=0.05, min_per_street=3, seed=8, out=str(tmp_path / "new"), qgz=False, package=False, overwrite=True)
    rc, out, err = cli(["acceptance", "record", p, old, "--json"])
    assert rc == 2, (out, err)
    e = json.loads(out)["error"]
    assert (e["code"], e["field"], e["layer"]) == ("plan_mismatch", "plan_id", "说明"), e
    assert "另一个抽样方案" in err and "another sampling plan" in err and _checks_count(p) == 0


def test_report_json_is_standard_json(planned, tmp_path, cli):
    """A street with nothing checked has no rate: --json prints null there, never NaN (not JSON)."""
    from surveytools.acceptance.ops import record

    p, xlsx, _ = planned
    record(str(p), str(_plant(xlsx, tmp_path / "f.xlsx", {_items(xlsx)[0]["row"]: ("正确", None, "")})))
    rc, out, err = cli(["acceptance", "report", p, "--out", tmp_path / "r", "--json"])
    assert rc == 0, err

    def refuse(name):
        raise AssertionError(f"{name} in --json output")

    data = json.loads(out, parse_constant=refuse)
    assert data["checked"] == 1 and data["rms_m"] is None
    assert any(s["error_rate"] is None for s in data["by_street"])


def test_plan_guards_recorded_checks_and_bad_arguments(planned, tmp_path, cli):
    from surveytools.acceptance.ops import record

    p, xlsx, _ = planned
    record(str(p), str(_plant(xlsx, tmp_path / "f.xlsx", {_items(xlsx)[0]["row"]: ("正确", None, "")})))
    rc, out, err = cli(["acceptance", "plan", p, "--rate", "0.1", "--out", tmp_path / "o2", "--no-qgz"])
    assert rc == 2 and "--overwrite" in err and _checks_count(p) == 1
    rc, out, err = cli(["acceptance", "plan", p, "--rate", "0.1", "--out", tmp_path / "o2", "--overwrite", "--json", "--no-package"])
    assert rc == 0 and json.loads(out)["seed"] >= 0 and _checks_count(p) == 0
    rc, out, err = cli(["acceptance", "plan", p, "--rate", "1.5", "--out", tmp_path / "o3", "--overwrite", "--no-package"])
    assert rc == 2 and "rate" in err
    fresh = tmp_path / "fresh.gpkg"
    from surveytools.project import init

    init(str(fresh), county="360681")
    rc, out, err = cli(["acceptance", "report", fresh, "--out", tmp_path / "r"])
    assert rc == 2 and "acceptance plan" in err


def test_mistyped_thresholds_are_clear_errors(planned, tmp_path, cli):
    """A misspelt grade name or limit in a city's thresholds would silently grade by no limit: refused (exit 2)."""
    from surveytools.acceptance.ops import record

    p, xlsx, _ = planned
    record(str(p), str(_plant(xlsx, tmp_path / "f.xlsx", {it["row"]: ("属性错误", None, "") for it in _items(xlsx)[:40]})))
    cases = {
        "name": ("grades:\n  - {grade: 合格格, error_rate: 0.9}\n", "grade", "合格格"),
        "key": ("grades:\n  - {grade: 合格, eror_rate: 0.9}\n", "eror_rate", "0.9"),
        "min_checked": ("min_checked: abc\n", "min_checked", "abc"),
    }
    for name, (text, field, value) in cases.items():
        th = tmp_path / f"{name}.yaml"
        th.write_text(text, encoding="utf-8")
        rc, out, err = cli(["acceptance", "report", p, "--out", tmp_path / name, "--thresholds", th, "--json"])
        assert rc == 2, (name, out, err)
        e = json.loads(out)["error"]
        assert (e["code"], e["field"], e["value"], e["file"]) == ("bad_thresholds", field, value, str(th)), (name, e)
        assert not (tmp_path / name).exists(), name
    # a new grade with all three limits is a city's own grade, checked after the others
    th = tmp_path / "extra.yaml"
    th.write_text("grades:\n  - {grade: 整改后合格, error_rate: 1, omission_rate: 1, position_error_rate: 1}\n", encoding="utf-8")
    rc, out, err = cli(["acceptance", "report", p, "--out", tmp_path / "extra", "--thresholds", th, "--json"])
    assert rc == 0 and json.loads(out)["grade"] == "整改后合格", (out, err)


def test_a_city_profile_overrides_the_thresholds(tmp_path):
    from surveytools.acceptance.rates import grade, load_thresholds
    from surveytools.profiles import load_profile

    city = tmp_path / "testcity"
    city.mkdir()
    (city / "profile.yaml").write_text("id: testcity\nextends: cjt\nstatus: local\n", encoding="utf-8")
    (city / "acceptance.yaml").write_text("min_checked: 10\ngrades:\n  - {grade: 合格, error_rate: 0.08, source: contract 2026}\n",
                                          encoding="utf-8")
    th = load_thresholds(load_profile(str(city)))
    assert th["min_checked"] == 10 and th["sources"][-1] == str(city / "acceptance.yaml")
    ok = next(g for g in th["grades"] if g["grade"] == "合格")
    assert ok["error_rate"] == 0.08 and ok["omission_rate"] == 0.05 and ok["source"] == "contract 2026"
    base = load_thresholds(load_profile("cjt"))
    assert all(g["provenance"] == "reconstructed" and g["source"] for g in base["grades"])
    rates = {"checked": 100, "error_rate": 0.07, "omission_rate": 0.0, "position_error_rate": 0.0}
    assert grade(rates, th)["grade"] == "合格" and grade(rates, base)["grade"] == "不合格"
    assert grade(dict(rates, checked=9), th)["grade"] == "未评定"
