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
