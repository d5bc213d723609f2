"""The one issue row (surveytools.issues) behind validation, intake and responsibility reports:
one meaning and one type per core field, each writer's column names kept."""
import pandas as pd
import pyarrow as pa
from conftest import ROOT

from surveytools.i18n import Text
from surveytools.issues import (
    CODES,
    GRID_AGGREGATE,
    GRID_IMPORT,
    INTAKE,
    ISSUE_FIELDS,
    RESPONSIBILITY,
    VALIDATE,
    Issue,
)


def rows():
    return [Issue.of("codes.objid_length", "error", Text("长度不对", "wrong length"), layer="components_point",
                     fid=7, feature_id="360681010101000001", field="ObjID", value=123),
            Issue("geometry.empty", "warning", "空几何", "empty geometry")]


def test_every_writer_types_the_core_fields_alike():
    for cols in (VALIDATE, INTAKE, RESPONSIBILITY, CODES, GRID_IMPORT, GRID_AGGREGATE):
        for core, typ in ISSUE_FIELDS.items():
            out = cols.names.get(core, core)
            if out in cols.columns:
                assert cols.type_of(out) == typ, (cols, core)


def test_validation_keeps_its_documented_columns():
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    assert all(c in doc for c in ("rule_id", "feature_fid", "message_zh", "message_en"))
    t = VALIDATE.table(rows())
    assert t.column_names == list(VALIDATE.columns)
    assert t.schema.field("feature_fid").type == pa.int64()
    d = t.to_pydict()
    assert d["rule_id"] == ["codes.objid_length", "geometry.empty"] and d["feature_fid"] == [7, None]
    assert d["value"] == ["123", None] and d["message_en"] == ["wrong length", "empty geometry"]


def test_intake_and_responsibility_name_the_same_fields_their_way():
    f = INTAKE.frame(rows())
    assert list(f.columns) == list(INTAKE.columns)
    assert f["reason"].tolist() == ["codes.objid_length", "geometry.empty"]
    assert f["component_id"].iloc[0] == "360681010101000001"
    r = RESPONSIBILITY.table([{**rows()[0].as_dict(), "count": 3}])
    assert r.column("rule_id")[0].as_py() == "codes.objid_length" and r.column("count")[0].as_py() == 3
    assert RESPONSIBILITY.frame([]).columns.tolist() == list(RESPONSIBILITY.columns)


def test_rows_already_in_a_writers_names_pass_unchanged():
    df = pd.DataFrame({"rule_id": ["r"], "fid": [3], "severity": ["error"], "status": ["open"]})
    t = VALIDATE.table(df)  # validation's checks name the fid column "fid": it becomes feature_fid
    assert t.column("feature_fid")[0].as_py() == 3 and t.column("rule_id")[0].as_py() == "r"


def test_code_checks_write_the_declared_columns():
    from surveytools.codes import check_codes
    from surveytools.profiles import load_profile

    prof = load_profile("cjt")
    out = check_codes("unit_grid", pd.Series(["123", None]), prof, county="360681")
    assert list(out.columns) == list(CODES.columns) and len(out)
    empty = check_codes("unit_grid", pd.Series([], dtype=object), prof, county="360681")
    assert list(empty.columns) == list(CODES.columns)


# ----------------------------------------------------------------------------------------------
# every producer of issue rows goes through one writer declared in surveytools.issues

#: writer -> the modules whose issue rows it writes (each must import it from surveytools.issues)
PRODUCERS = {
    "VALIDATE": ["validate/report.py"],
    "INTAKE": ["components/store.py"],
    "CODES": ["codes.py"],
    "GRID_IMPORT": ["grid/importing.py"],
    "GRID_AGGREGATE": ["grid/aggregate.py"],
    "RESPONSIBILITY": ["responsibility/common.py"],
    "ACCEPTANCE_RECORDS": ["acceptance/checklist.py"],
    "FIELD_CONFLICTS": ["field/returns.py"],
    "GEO_CONFLICTS": ["geocode/base.py"],
}


def test_every_issue_writer_is_enumerated_and_used_by_its_producers():
    import re

    import surveytools.issues as issues
    from surveytools.issues import IssueColumns

    declared = {n for n, v in vars(issues).items() if isinstance(v, IssueColumns)}
    assert declared == set(PRODUCERS), "a new issue writer must be listed here with its producers"
    src = ROOT / "surveytools"
    for name, modules in PRODUCERS.items():
        for m in modules:
            text = (src / m).read_text(encoding="utf-8")
            assert re.search(rf"from \.+issues import [^\n]*\b{name}\b", text), (name, m)
    # no second schema: nobody else declares issue columns, nor writes a conflicts/issues table of its own shape
    for f in src.rglob("*.py"):
        if f.name == "issues.py":
            continue
        text = f.read_text(encoding="utf-8")
        assert "IssueColumns(" not in text, f
        assert not re.search(r"""columns=\[["'](kind|conflict_id|sheet)["']""", text), f


def test_acceptance_problems_are_issue_rows_and_the_message_lists_them():
    from surveytools.acceptance.checklist import PROBLEM_RULE, _error, problem
    from surveytools.issues import ACCEPTANCE_RECORDS

    probs = [problem("检查记录", 5, "ObjID", "x1", Text("缺少部件标识码", "the component ID is missing")),
             problem("遗漏部件", 0, "", None, Text("工作表不存在", "no such sheet"))]
    err = _error("c.xlsx", probs)
    assert (err.code, err.layer, err.feature, err.field, err.value) == ("bad_checks", "检查记录", "row 5", "ObjID", "x1")
    assert "  工作表 检查记录 第 5 行 列 ObjID 值 'x1': 缺少部件标识码" in err.message.zh
    assert "  sheet 遗漏部件: no such sheet" in err.message.en
    assert [list(r) for r in err.problems] == [list(ACCEPTANCE_RECORDS.columns)] * 2
    assert err.problems[0] == {"rule": PROBLEM_RULE, "severity": "error", "sheet": "检查记录", "row": 5, "column": "ObjID",
                               "value": "x1", "message_zh": "缺少部件标识码", "message_en": "the component ID is missing"}
    pkg = _error("c.zip", [problem("check_points", 3, "offset_m", -1, Text("偏差应为不小于 0 的数", "negative"))], unit="layer")
    assert pkg.feature == "fid 3" and "  layer check_points feature 3 field offset_m value -1: negative" in pkg.message.en


def test_conflict_writers_keep_their_columns_and_type_them():
    from surveytools.issues import FIELD_CONFLICTS, GEO_CONFLICTS, Issue

    row = {**Issue.of("duplicate_plate", "warning", Text("重复门牌", "duplicate"), layer="geocode_doorplate",
                      feature_id="雄石路12号").as_dict(), "detail": "重复门牌 / duplicate", "x": 1, "y": 2.5}
    t = GEO_CONFLICTS.table([row])
    assert t.column_names == ["kind", "layer", "name", "detail", "x", "y"]
    assert t.to_pylist() == [{"kind": "duplicate_plate", "layer": "geocode_doorplate", "name": "雄石路12号",
                              "detail": "重复门牌 / duplicate", "x": 1.0, "y": 2.5}]
    empty = GEO_CONFLICTS.table([])  # no conflicts: still x, y as numbers
    assert empty.num_rows == 0 and empty.schema.field("x").type == pa.float64()
    f = FIELD_CONFLICTS.table([{"conflict_id": 4, "kind": "both_changed", "component_id": "3606810101", "fields": "Note",
                                "project_hash": None, "geom": object()}])
    assert f.column_names == list(FIELD_CONFLICTS.columns) and f.schema.field("conflict_id").type == pa.int64()
    assert f.column("project_hash")[0].as_py() is None and f.column("kind")[0].as_py() == "both_changed"
