"""The dispatch matrix (派遣矩阵 / 责任单位及处置时限一览): project table ``dispatch_matrix``.

One row per (kind, class, area): ``class_code`` is a whole major class (2 digits) or a full class
code; ``area_type`` is ``county``, ``street``, ``community`` or ``responsibility_area`` with
``area_code`` the county (6), street (9) or community (12) code or a responsibility-area code.  A row
gives the lead unit (主责, a dept_id), co-units (协办, dept_ids joined by ``|``), urgent and normal
deadlines in 工作时 (working hours) or 工作日 (working days), 立案条件 and 结案条件.

``lead_unit`` / ``co_units`` may hold the token ``@属地``: the street office of the street the case lies
in (属地管理).  It stays a token in the table (one county row serves every street) and is resolved at
lookup time, by the library and by the release query alike.

Which row applies (:func:`lookup`): the most specific **area** first, then the most specific **class**:

    1 responsibility area × full class   2 responsibility area × major
    3 community × full class             4 community × major
    5 street × full class                6 street × major
    7 county × full class                8 county × major

A blank field in the chosen row (deadline, condition, co-units) is taken from the county row of the
same class, else of its major (:func:`effective`), so the release stores complete rows.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store as _store
from ..errors import SurveyError
from ..i18n import Text
from .common import LOCAL_NAME, LOCAL_TOKEN, MATRIX_TABLE, header, issue, parse_header

COLUMNS = ["class_code", "class_name", "kind", "area_type", "area_code", "area_name", "lead_role", "lead_unit",
           "lead_unit_name", "co_units", "co_unit_names", "deadline_urgent", "deadline_normal", "deadline_unit",
           "filing_condition", "closing_condition", "provenance", "note"]
NUMERIC = ["deadline_urgent", "deadline_normal"]
TEXT = [c for c in COLUMNS if c not in NUMERIC]
#: derived from the registry and the class tables; re-derived on import
DERIVED = ["class_name", "area_name", "lead_unit_name", "co_unit_names"]
KEY = ["kind", "class_code", "area_type", "area_code"]
AREA_TYPES = ("county", "street", "community", "responsibility_area")
KINDS = ("component", "event")
UNITS = ("工作时", "工作日")
FILLABLE = ["lead_role", "co_units", "deadline_urgent", "deadline_normal", "deadline_unit", "filing_condition",
            "closing_condition"]
DEFAULTS_FILE = "dispatch_defaults.csv"


def empty() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in TEXT})
    for c in NUMERIC:
        df[c] = pd.Series([], dtype="float64")
    return df[COLUMNS]


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Column order and types: text as str ('' when missing), deadlines as float."""
    out = df.copy()
    for c in COLUMNS:
        if c not in out.columns:
            out[c] = np.nan if c in NUMERIC else ""
    for c in TEXT:
        out[c] = [("" if v is None or (isinstance(v, float) and math.isnan(v)) else
                   (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).strip()) for v in out[c]]
    for c in NUMERIC:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out[COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# defaults

def defaults_paths(profile) -> list:
    """dispatch_defaults.csv of the profile and of the profiles it extends (base first)."""
    from ..profiles import load_profile

    paths = []
    for pid in reversed(profile.chain):
        try:
            d = profile.path if pid == profile.id else load_profile(pid).path
        except SurveyError:
            continue
        p = Path(d) / DEFAULTS_FILE
        if p.exists():
            paths.append(p)
    return paths


def load_defaults(profile) -> pd.DataFrame:
    """The profile's default rows (a city profile's rows replace its base's rows of the same class)."""
    frames = []
    for p in defaults_paths(profile):
        frames.append(pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8").assign(_file=str(p)))
    if not frames:
        raise SurveyError(Text(f"标准配置 {profile.id} 没有派遣矩阵默认值（{DEFAULTS_FILE}）",
                               f"profile {profile.id} ships no dispatch defaults ({DEFAULTS_FILE})"),
                          code="no_dispatch_defaults", file=str(profile.path))
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["kind", "class_code"], keep="last")
    return df.reset_index(drop=True)


def resolve_unit(pattern: str, depts: pd.DataFrame) -> str | None:
    """A department for a default's unit pattern: the token, an exact dept_id or name, else the
    shortest name containing the pattern (ties: smallest dept_id); None when nothing matches."""
    pattern = str(pattern or "").strip()
    if not pattern:
        return None
    if pattern == LOCAL_TOKEN:
        return LOCAL_TOKEN
    ids = depts["dept_id"].astype(str)
    names = depts["name"].astype(str)
    if (ids == pattern).any():
        return pattern
    exact = depts[names == pattern]
    if len(exact):
        return str(exact["dept_id"].iloc[0])
    hit = depts[names.str.contains(pattern, regex=False)]
    if len(hit):
        hit = hit.assign(_n=hit["name"].str.len()).sort_values(["_n", "dept_id"], kind="stable")
        return str(hit["dept_id"].iloc[0])
    return None


def class_names(profile) -> dict:
    """(kind, code) -> name, majors included."""
    out = {}
    for kind, tab in (("component", profile.component_classes), ("event", profile.event_classes)):
        for code, name, mc, mn in zip(tab["code"], tab["name"], tab["major_code"], tab["major_name"]):
            out[(kind, str(code))] = str(name)
            out.setdefault((kind, str(mc)), str(mn))
    return out


def from_defaults(profile, depts: pd.DataFrame, county: str) -> tuple[pd.DataFrame, list]:
    """The project matrix built from the profile's defaults: county rows, units resolved against the
    registry (unresolved patterns are kept as text and reported)."""
    dfl = load_defaults(profile)
    rows, issues = [], []
    for r in dfl.to_dict("records"):
        lead = resolve_unit(r["lead_unit"], depts)
        if lead is None:
            issues.append(issue("RESP-M01", "error", "gap",
                                f"默认主责单位“{r['lead_unit']}”在部门表中找不到（类别 {r['class_code']}）",
                                f"default lead unit '{r['lead_unit']}' is not in the registry (class {r['class_code']})",
                                kind=r["kind"], class_code=r["class_code"], area_type="county", area_code=county,
                                field="lead_unit"))
        cos = []
        for pat in [p for p in str(r["co_units"]).split("|") if p.strip()]:
            u = resolve_unit(pat, depts)
            if u is None:
                issues.append(issue("RESP-M02", "warning", "gap",
                                    f"默认协办单位“{pat}”在部门表中找不到（类别 {r['class_code']}），已略去",
                                    f"default co-unit '{pat}' is not in the registry (class {r['class_code']}); left out",
                                    kind=r["kind"], class_code=r["class_code"], area_type="county", area_code=county,
                                    field="co_units"))
            elif u not in cos and u != lead:
                cos.append(u)
        rows.append({"class_code": r["class_code"], "kind": r["kind"], "area_type": "county", "area_code": county,
                     "lead_role": r["lead_role"], "lead_unit": lead if lead is not None else r["lead_unit"],
                     "co_units": "|".join(cos), "deadline_urgent": r["deadline_urgent"],
                     "deadline_normal": r["deadline_normal"], "deadline_unit": r["deadline_unit"],
                     "filing_condition": r["filing_condition"], "closing_condition": r["closing_condition"],
                     "provenance": r["provenance"], "note": r["note"]})
    df = normalise(pd.DataFrame(rows))
    return df.sort_values(["kind", "class_code"], kind="stable").reset_index(drop=True), issues


def derive(df: pd.DataFrame, profile, depts: pd.DataFrame, area_names: dict | None = None) -> pd.DataFrame:
    """Fill the derived columns (class, area and unit names) from the class tables and the registry."""
    out = normalise(df)
    cn = class_names(profile)
    names = dict(zip(depts["dept_id"].astype(str), depts["name"].astype(str)))
    names[LOCAL_TOKEN] = LOCAL_NAME
    area_names = area_names or {}
    out["class_name"] = [cn.get((k, c), "") for k, c in zip(out["kind"], out["class_code"])]
    out["area_name"] = [area_names.get(a, "") for a in out["area_code"]]
    out["lead_unit_name"] = [names.get(u, "") for u in out["lead_unit"]]
    out["co_unit_names"] = ["|".join(names.get(u, "?") for u in s.split("|")) if s else "" for s in out["co_units"]]
    return out


def area_name_map(streets=None, communities=None, areas=None, county: str = "", county_name: str = "") -> dict:
    out = {county: county_name} if county else {}
    for df, c, n in ((streets, "street_code", "street_name"), (communities, "community_code", "community_name"),
                     (areas, "area_code", "name")):
        if df is not None and len(df):
            out.update(zip(df[c].astype(str), df[n].astype(str)))
    return out


# ----------------------------------------------------------------------------------------------
# checks

def check(df: pd.DataFrame, profile, depts: pd.DataFrame, county: str, area_codes: dict) -> list:
    """Issue rows for a matrix: unknown classes, areas and units, incomplete rows, duplicate keys.

    ``area_codes``: area_type -> set of known codes (street, community, responsibility_area)."""
    cn = class_names(profile)
    ids = set(depts["dept_id"].astype(str)) | {LOCAL_TOKEN}
    out = []
    dup = df[df.duplicated(KEY, keep=False)]
    for key, grp in dup.groupby(KEY, sort=True):
        k, c, at, ac = key
        out.append(issue("RESP-M03", "error", "conflict", f"派遣矩阵中 {k} {c} 在 {at} {ac} 有 {len(grp)} 行，只能有一行",
                         f"the matrix has {len(grp)} rows for {k} {c} in {at} {ac}; only one is allowed",
                         kind=k, class_code=c, area_type=at, area_code=ac, count=len(grp)))
    for r in df.to_dict("records"):
        where = dict(kind=r["kind"], class_code=r["class_code"], class_name=r.get("class_name", ""),
                     area_type=r["area_type"], area_code=r["area_code"])
        if r["kind"] not in KINDS:
            out.append(issue("RESP-M04", "error", "gap", f"类型“{r['kind']}”应为 component 或 event",
                             f"kind '{r['kind']}' must be component or event", field="kind", **where))
            continue
        if (r["kind"], r["class_code"]) not in cn:
            out.append(issue("RESP-M05", "error", "gap", f"类别代码 {r['class_code']} 不在标准配置的分类表中",
                             f"class code {r['class_code']} is not in the profile's class table", field="class_code", **where))
        if r["area_type"] not in AREA_TYPES:
            out.append(issue("RESP-M06", "error", "gap", f"区域类型“{r['area_type']}”无效",
                             f"area type '{r['area_type']}' is not valid", field="area_type", **where))
        elif r["area_type"] == "county" and r["area_code"] != county:
            out.append(issue("RESP-M06", "error", "gap", f"县级区域代码 {r['area_code']} 不是项目的 {county}",
                             f"county area code {r['area_code']} is not the project's {county}", field="area_code", **where))
        elif r["area_type"] != "county" and r["area_code"] not in area_codes.get(r["area_type"], set()):
            out.append(issue("RESP-M06", "error", "gap", f"区域 {r['area_type']} {r['area_code']} 在项目中不存在",
                             f"area {r['area_type']} {r['area_code']} does not exist in the project", field="area_code", **where))
        if r["lead_unit"] not in ids:
            out.append(issue("RESP-M01", "error", "gap", f"主责单位“{r['lead_unit']}”不在部门表中",
                             f"lead unit '{r['lead_unit']}' is not in the registry", field="lead_unit", **where))
        for u in [u for u in r["co_units"].split("|") if u]:
            if u not in ids:
                out.append(issue("RESP-M02", "error", "gap", f"协办单位“{u}”不在部门表中",
                                 f"co-unit '{u}' is not in the registry", field="co_units", **where))
        if r["deadline_unit"] and r["deadline_unit"] not in UNITS:
            out.append(issue("RESP-M07", "error", "gap", f"时限单位“{r['deadline_unit']}”应为 工作时 或 工作日",
                             f"deadline unit '{r['deadline_unit']}' must be 工作时 or 工作日", field="deadline_unit", **where))
        du, dn = r["deadline_urgent"], r["deadline_normal"]
        if not (isinstance(du, float) and math.isnan(du)) and not (isinstance(dn, float) and math.isnan(dn)) and du > dn:
            out.append(issue("RESP-M08", "warning", "conflict", f"紧急时限 {du:g} 大于一般时限 {dn:g}",
                             f"the urgent deadline {du:g} exceeds the normal one {dn:g}", field="deadline_urgent", **where))
    eff = effective(df)
    for r in eff.to_dict("records"):
        lacking = [c for c in ("deadline_urgent", "deadline_normal", "deadline_unit", "filing_condition", "closing_condition")
                   if (isinstance(r[c], float) and math.isnan(r[c])) or r[c] == ""]
        if lacking:
            out.append(issue("RESP-M09", "warning", "gap", f"派遣矩阵行缺少 {', '.join(lacking)}（县级默认行也没有）",
                             f"the matrix row lacks {', '.join(lacking)} (and so does the county default)",
                             kind=r["kind"], class_code=r["class_code"], area_type=r["area_type"], area_code=r["area_code"],
                             field=lacking[0]))
    return out


# ----------------------------------------------------------------------------------------------
# effective rows and lookup

def effective(df: pd.DataFrame) -> pd.DataFrame:
    """Blank fields of every row filled from the county row of the same class, else of its major."""
    out = normalise(df)
    county = out[out["area_type"] == "county"].drop_duplicates(["kind", "class_code"])
    by_key = {(k, c): r for k, c, r in zip(county["kind"], county["class_code"], county.to_dict("records"))}
    for i, r in enumerate(out.to_dict("records")):
        for key in ((r["kind"], r["class_code"]), (r["kind"], r["class_code"][:2])):
            src = by_key.get(key)
            if src is None:
                continue
            for c in FILLABLE:
                v = out.at[i, c]
                if (isinstance(v, float) and math.isnan(v)) or v == "":
                    out.at[i, c] = src[c]
    return out


def lookup(matrix: pd.DataFrame, kind: str, class_code, street, community, county: str,
           area_pairs: pd.DataFrame | None = None) -> np.ndarray:
    """Row position in ``matrix`` for each target (-1 where no row applies).

    ``area_pairs``: responsibility areas holding each target, columns ``t`` (target index),
    ``area_code`` and ``rank`` (smaller wins: the smaller area)."""
    n = len(class_code)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(matrix) == 0:
        return out
    m = matrix.reset_index(drop=True)
    m = m[m["kind"] == kind]
    m = m.assign(pos=m.index.to_numpy()).drop_duplicates(KEY[1:], keep="first")
    cls = pd.Series(np.asarray(class_code, dtype=object)).astype("string").fillna("")
    major = cls.str[:2]
    t = np.arange(n)
    if area_pairs is not None and len(area_pairs):
        ra = m[m["area_type"] == "responsibility_area"][["class_code", "area_code", "pos"]]
        if len(ra):
            p = area_pairs[["t", "area_code", "rank"]].copy()
            best = []
            for level, codes in ((0, cls), (1, major)):
                q = p.assign(class_code=codes.to_numpy()[p["t"].to_numpy()], level=level)
                best.append(q.merge(ra, on=["class_code", "area_code"], how="inner"))
            hit = pd.concat(best, ignore_index=True).sort_values(["t", "level", "rank", "area_code"], kind="stable")
            hit = hit.drop_duplicates("t", keep="first")
            out[hit["t"].to_numpy()] = hit["pos"].to_numpy()
    for area_type, codes in (("community", community), ("street", street), ("county", None)):
        sub = m[m["area_type"] == area_type]
        if not len(sub):
            continue
        for level_codes in (cls, major):
            todo = out < 0
            if not todo.any():
                return out
            ac = np.full(n, county, dtype=object) if codes is None else np.asarray(codes, dtype=object)
            q = pd.DataFrame({"t": t[todo], "class_code": level_codes.to_numpy()[todo], "area_code": ac[todo]})
            hit = q.merge(sub[["class_code", "area_code", "pos"]], on=["class_code", "area_code"], how="inner")
            out[hit["t"].to_numpy()] = hit["pos"].to_numpy()
    return out


# ----------------------------------------------------------------------------------------------
# XLSX round trip

def to_xlsx(df: pd.DataFrame, profile, path) -> None:
    """One sheet ``派遣矩阵``: header ``中文名 / field``, one row per matrix row; a second sheet explains
    the fields.  :func:`from_xlsx` reads it back value for value."""
    from .xlsx import new_workbook, save_atomic, write_sheet

    df = normalise(df)
    fields = profile.layer_fields("dispatch_matrix").set_index("name")
    cols = [header(fields.loc[c].to_dict() | {"name": c}) for c in COLUMNS]
    rows = []
    for r in df.itertuples(index=False):
        rows.append([None if (isinstance(v, float) and math.isnan(v)) else (v if v != "" else None) for v in r])
    wb = new_workbook()
    write_sheet(wb, "派遣矩阵 Matrix", cols, rows, widths={c: 40 for c in cols if "条件" in c})
    notes = [[c, fields.loc[c, "alias_zh"], fields.loc[c, "alias_en"], fields.loc[c, "notes"]] for c in COLUMNS]
    notes.append(["@属地", "属地街道办事处", "street office of the case's street", "lead_unit / co_units token (属地管理)"])
    write_sheet(wb, "说明 Fields", ["字段 Field", "中文名", "English", "说明 Notes"], notes)
    save_atomic(wb, path)


def from_xlsx(path, profile, depts: pd.DataFrame, area_names: dict | None = None) -> pd.DataFrame:
    """Read a matrix table: XLSX (first visible sheet) or CSV (UTF-8 or GB18030), through the one
    table reader :func:`surveytools.io.tables.read_table`; headers ``中文名 / field`` or bare field names."""
    from ..io.tables import read_table

    p = Path(path)
    raw, src = read_table(p, header=None)
    rows = [tuple(None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in r)
            for r in raw.itertuples(index=False, name=None)]
    sheet = src.layer  # None for a CSV
    hdr_i = next((i for i, r in enumerate(rows[:5]) if r and sum(parse_header(c) in COLUMNS for c in r if c) >= 5), None)
    if hdr_i is None:
        raise SurveyError(Text("第一个工作表中找不到派遣矩阵表头（class_code、kind、area_type …）",
                               "the first sheet has no matrix header (class_code, kind, area_type …)"),
                          code="matrix_header", file=str(p), layer=sheet)
    names = [parse_header(c) if c else "" for c in rows[hdr_i]]
    missing = [c for c in KEY + ["lead_unit"] if c not in names]
    if missing:
        raise SurveyError(Text(f"派遣矩阵缺少列 {missing}", f"the matrix lacks the columns {missing}"),
                          code="matrix_columns", file=str(p), layer=sheet, field=missing[0])
    data = [r for r in rows[hdr_i + 1:] if r and any(v not in (None, "") for v in r)]
    df = pd.DataFrame([dict(zip(names, r)) for r in data], columns=[n for n in names if n] or COLUMNS)
    for c in NUMERIC:
        if c in df.columns:
            bad = pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna() & (df[c].astype(str).str.strip() != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise SurveyError(Text(f"第 {hdr_i + 2 + i} 行的时限不是数字", f"row {hdr_i + 2 + i}: the deadline is not a number"),
                                  code="matrix_deadline", file=str(p), layer=sheet, feature=hdr_i + 2 + i, field=c,
                                  value=df[c].iloc[i])
    return derive(df, profile, depts, area_names)


# ----------------------------------------------------------------------------------------------
# project I/O

def read_matrix(proj) -> pd.DataFrame | None:

    from ..gpkg import list_layers

    if MATRIX_TABLE not in list_layers(proj.path):
        return None
    df = _store.read_dataframe(proj.path, MATRIX_TABLE, read_geometry=False, use_arrow=True)
    return normalise(df)


def write_matrix(work, df: pd.DataFrame) -> int:
    import pyarrow as pa

    from ..gpkg import write_layer

    df = normalise(df)
    cols = {c: pa.array(df[c].tolist(), pa.string()) for c in TEXT}
    for c in NUMERIC:
        cols[c] = pa.array(df[c].to_numpy(), pa.float64(), from_pandas=True)
    write_layer(work.path, MATRIX_TABLE, pa.table({c: cols[c] for c in COLUMNS}),
                description="派遣矩阵 / Dispatch matrix")
    return len(df)
