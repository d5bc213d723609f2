"""Shared helpers: table names, issue rows, XLSX headers."""
from __future__ import annotations

import pandas as pd

from ..issues import RESPONSIBILITY

DEPARTMENTS_TABLE = "departments"
MATRIX_TABLE = "dispatch_matrix"
ISSUES_TABLE = "responsibility_issues"
ASSIGNMENTS_TABLE = "responsibility_assignments"

#: the component roles, in the order of the profile's dept1/dept2/dept3 fields
ROLES = ("主管", "权属", "养护")
ROLE_FIELDS = {"主管": "dept1", "权属": "dept2", "养护": "dept3"}
HANDLER = "处置"
#: the matrix token meaning "the street office of the case's street" (属地兜底 / 属地管理)
LOCAL_TOKEN = "@属地"
LOCAL_NAME = "属地街道办事处"

ISSUE_COLUMNS = list(RESPONSIBILITY.columns)  # the one issue row, in responsibility's column names


def issue(rule_id, severity, problem, zh, en, *, kind="", class_code="", class_name="", area_type="", area_code="",
          field="", count=1, features="") -> dict:
    return {"rule_id": rule_id, "severity": severity, "problem": problem, "kind": kind, "class_code": class_code,
            "class_name": class_name, "area_type": area_type, "area_code": area_code, "field": field,
            "count": int(count), "features": features, "message_zh": zh, "message_en": en}


def issues_frame(rows) -> pd.DataFrame:
    df = RESPONSIBILITY.frame(list(rows))
    df["count"] = df["count"].astype("int64")
    return df


def blank(s: pd.Series) -> pd.Series:
    """True where a text value is missing or only whitespace."""
    return s.isna() | (s.astype("string").str.strip().fillna("") == "")


def clean_text(s: pd.Series) -> pd.Series:
    """Strip text; missing and empty become <NA>."""
    t = s.astype("string").str.strip()
    return t.mask(t == "", pd.NA)


def header(field_row) -> str:
    """XLSX header cell: Chinese alias and the field name, e.g. ``部门名称 / name``."""
    return f"{field_row['alias_zh']} / {field_row['name']}"


def parse_header(text) -> str:
    text = str(text).strip()
    return text.rsplit(" / ", 1)[-1].strip() if " / " in text else text


def fields_of(profile, layer) -> pd.DataFrame:
    return profile.layer_fields(layer)
