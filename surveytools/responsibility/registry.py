"""The department registry (部门/责任单位名录): project table ``departments``.

Columns (profile field table ``fields_responsibility.csv``, layer ``department``): ``dept_id``, ``name``,
``code`` (统一社会信用代码 or a local code), ``role`` (one or more of 主管/权属/养护/处置 — the profile's
``dept_role`` domain — joined by ``/``), ``parent`` (dept_id), ``contact``, ``phone``, ``street_code``
(street offices only), ``address``.

Import reads XLSX/CSV with the registry's own headers (``部门名称 / name``) or the usual survey
headers (DeptCode, DeptName, USCC, Roles, ParentCode …, or Chinese ones).  A street office without a
``street_code`` gets it from the project's streets when its name contains the street's name
(贵溪市花园街道办事处 → 花园街道 360681001).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .. import store as _store
from ..errors import SurveyError
from ..i18n import Text
from .common import DEPARTMENTS_TABLE, HANDLER, header, issue, parse_header

COLUMNS = ["dept_id", "name", "code", "role", "parent", "contact", "phone", "street_code", "address"]

ALIASES = {
    "dept_id": ["dept_id", "deptcode", "dept_code", "部门标识", "部门编号", "部门代码", "单位编号", "编号", "id"],
    "name": ["name", "deptname", "dept_name", "部门名称", "单位名称", "名称", "部门"],
    "code": ["code", "uscc", "统一社会信用代码", "信用代码", "统一社会信用代码或本地代码", "组织机构代码"],
    "role": ["role", "roles", "角色", "部门角色", "职责"],
    "parent": ["parent", "parentcode", "parent_code", "上级部门", "上级部门代码", "上级单位", "上级"],
    "contact": ["contact", "联系人"],
    "phone": ["phone", "tel", "电话", "联系电话"],
    "street_code": ["street_code", "streetcode", "所辖街道代码", "街道代码"],
    "address": ["address", "地址"],
}


def _norm(s: str) -> str:
    return re.sub(r"[\s_]+", "", str(s)).lower()


def map_columns(df: pd.DataFrame) -> dict:
    """Source column -> registry column, by field name or alias (case and ``_`` insensitive)."""
    out = {}
    taken = set()
    cols = {c: _norm(parse_header(c)) for c in df.columns}
    for target, names in ALIASES.items():
        wanted = [_norm(n) for n in names]
        for w in wanted:
            hit = [c for c, n in cols.items() if n == w and c not in taken]
            if hit:
                out[hit[0]] = target
                taken.add(hit[0])
                break
    return out


def read_table_file(path) -> pd.DataFrame:
    """An XLSX (first sheet) or CSV (UTF-8 or GB18030) as text columns."""
    from ..io.tables import cells_to_text, read_table

    df, src = read_table(Path(path))
    return cells_to_text(df).fillna("") if src.driver == "XLSX" else df


def normalise(raw: pd.DataFrame, profile, *, source: str, streets: pd.DataFrame | None = None):
    """Registry frame + issue rows from a raw table.  Structural errors raise :class:`SurveyError`
    naming the file, row and field; doubtful values (check digits, parents) become issue rows."""
    from ..uscc import is_valid_uscc

    mapping = map_columns(raw)
    missing = [c for c in ("dept_id", "name", "role") if c not in mapping.values()]
    if "dept_id" in missing and "name" not in missing:
        missing.remove("dept_id")  # dept_id can be generated from the row order
    if missing:
        raise SurveyError(Text(f"部门表缺少列 {missing}（可用列名见 docs/export.md）",
                               f"the department table lacks the columns {missing} (accepted headers: docs/export.md)"),
                          code="dept_columns", file=source, field=missing[0])
    df = pd.DataFrame({target: raw[src].astype(str).str.strip() for src, target in mapping.items()})
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df = df[COLUMNS].fillna("")
    df = df.replace({"nan": "", "None": ""})
    if (df["dept_id"] == "").all():
        df["dept_id"] = [f"D{i + 1:03d}" for i in range(len(df))]
    roles_ok = set(profile.domain("dept_role")) or {"主管", "权属", "养护", HANDLER}
    issues, warnings = [], []
    for i, row in df.iterrows():
        line = i + 2
        if not row["dept_id"]:
            raise SurveyError(Text(f"第 {line} 行缺少部门标识", f"row {line} has no department ID"),
                              code="dept_id_missing", file=source, feature=line, field="dept_id")
        if not row["name"]:
            raise SurveyError(Text(f"第 {line} 行缺少部门名称", f"row {line} has no department name"),
                              code="dept_name_missing", file=source, feature=line, field="name")
        parts = [p.strip() for p in re.split(r"[/、,，;；|]", row["role"]) if p.strip()]
        bad = [p for p in parts if p not in roles_ok]
        if not parts or bad:
            raise SurveyError(Text(f"第 {line} 行部门角色应为 {'/'.join(sorted(roles_ok))} 中的一个或多个",
                                   f"row {line}: the role must be one or more of {'/'.join(sorted(roles_ok))}"),
                              code="dept_role", file=source, feature=line, field="role", value=row["role"])
        df.at[i, "role"] = "/".join(r for r in ("主管", "权属", "养护", HANDLER) if r in parts)
        code = row["code"].upper()
        df.at[i, "code"] = code
        if len(code) == 18 and not is_valid_uscc(code):
            issues.append(issue("RESP-D01", "error", "conflict",
                                f"部门 {row['dept_id']} {row['name']} 的统一社会信用代码 {code} 校验码错误（GB 32100-2015）",
                                f"department {row['dept_id']} {row['name']}: the check character of credit code {code} is wrong (GB 32100-2015)",
                                kind="department", field="code", features=row["dept_id"]))
        sc = row["street_code"]
        if sc and (len(sc) != 9 or not sc.isdigit()):
            raise SurveyError(Text(f"第 {line} 行街道代码应为 9 位数字", f"row {line}: the street code must be 9 digits"),
                              code="dept_street", file=source, feature=line, field="street_code", value=sc)
    dup = df["dept_id"][df["dept_id"].duplicated()]
    if len(dup):
        raise SurveyError(Text(f"部门标识重复：{sorted(set(dup))}", f"duplicate department IDs: {sorted(set(dup))}"),
                          code="dept_id_duplicate", file=source, field="dept_id", value=dup.iloc[0])
    ids = set(df["dept_id"])
    for _, row in df[(df["parent"] != "") & ~df["parent"].isin(ids)].iterrows():
        issues.append(issue("RESP-D02", "warning", "gap",
                            f"部门 {row['dept_id']} 的上级部门 {row['parent']} 不在部门表中",
                            f"department {row['dept_id']}: its parent {row['parent']} is not in the registry",
                            kind="department", field="parent", features=row["dept_id"]))
    if streets is not None and len(streets):
        df, inferred = infer_street_offices(df, streets)
        if inferred:
            warnings.append(Text(f"已按名称为 {inferred} 个街道办事处补充所辖街道代码",
                                 f"filled the street code of {inferred} street offices from their names"))
    return df, issues, warnings


def infer_street_offices(df: pd.DataFrame, streets: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Give handlers (处置) without a street code the street whose name their name contains (longest
    street name first, so 东门街道 never matches 东门外街道's office)."""
    df = df.copy()
    n = 0
    names = sorted(zip(streets["street_name"].astype(str), streets["street_code"].astype(str)), key=lambda t: -len(t[0]))
    for i, row in df.iterrows():
        if row["street_code"] or HANDLER not in row["role"].split("/"):
            continue
        for sname, scode in names:
            core = sname.removesuffix("街道").removesuffix("镇").removesuffix("乡")
            if sname and (sname in row["name"] or (core and f"{core}街道办" in row["name"]) or
                          (core and f"{core}镇人民政府" in row["name"])):
                df.at[i, "street_code"] = scode
                n += 1
                break
    return df, n


def street_offices(depts: pd.DataFrame) -> dict:
    """street code -> dept_id of its street office (the handler with that street code; first by dept_id)."""
    d = depts[(depts["street_code"].fillna("") != "") & depts["role"].fillna("").str.contains(HANDLER)]
    d = d.sort_values("dept_id", kind="stable")
    return dict(d.drop_duplicates("street_code")[["street_code", "dept_id"]].itertuples(index=False, name=None))


def street_issues(depts: pd.DataFrame, streets: pd.DataFrame) -> list:
    offices = street_offices(depts)
    out = []
    for code, name in zip(streets["street_code"], streets["street_name"]):
        if code not in offices:
            out.append(issue("RESP-D03", "error", "gap",
                             f"街道 {code} {name} 没有街道办事处（角色含“处置”且填写了所辖街道代码的部门），属地兜底无法落实",
                             f"street {code} {name} has no street office (a 处置 department with that street code): "
                             "nobody takes what matches nothing (属地兜底)",
                             kind="department", area_type="street", area_code=code, field="street_code"))
    return out


# ----------------------------------------------------------------------------------------------
# project I/O

def read_departments(proj) -> pd.DataFrame:
    """The project's registry (empty frame when it has none yet)."""

    from ..gpkg import list_layers

    if DEPARTMENTS_TABLE not in list_layers(proj.path):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS})
    df = _store.read_dataframe(proj.path, DEPARTMENTS_TABLE, read_geometry=False, use_arrow=True)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df[COLUMNS].astype(object).where(df[COLUMNS].notna(), "").astype(str)


def write_departments(work, df: pd.DataFrame) -> int:
    import pyarrow as pa

    from ..gpkg import write_layer

    table = pa.table({c: pa.array(df[c].astype(str).tolist(), pa.string()) for c in COLUMNS})
    write_layer(work.path, DEPARTMENTS_TABLE, table, description="部门名录 / Department registry")
    return len(df)


def export_xlsx(df: pd.DataFrame, profile, path) -> None:
    from .xlsx import new_workbook, save_atomic, write_sheet

    fields = profile.layer_fields("department").set_index("name")
    cols = [header(fields.loc[c].to_dict() | {"name": c}) if c in fields.index else c for c in COLUMNS]
    wb = new_workbook()
    write_sheet(wb, "部门 Departments", cols, df[COLUMNS].astype(str).values.tolist())
    notes = [[c, fields.loc[c, "alias_zh"], fields.loc[c, "alias_en"], fields.loc[c, "notes"]] for c in COLUMNS if c in fields.index]
    write_sheet(wb, "说明 Fields", ["字段 Field", "中文名", "English", "说明 Notes"], notes)
    save_atomic(wb, path)
