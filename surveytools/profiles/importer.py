"""Import a city's official class table (部件分类表 / 事件分类表) into a city profile.

The table may be XLSX or CSV (UTF-8 or GBK/GB18030).  Columns are found by Chinese or English
header synonyms; the header may sit below a title row.  Codes may be split (大类代码 + 小类代码),
combined (``0102``, ``01-02``, ``010002``) or have lost their leading zeros in Excel (``101``).

The result is a profile folder that ``extends`` the base profile with
``tables: {component_classes: replace}`` (or ``event_classes``), so the official table is
authoritative, plus a mapping report per code:

``same``     code and name as in the base profile
``renamed``  same code, another name (the base name is kept as an alias)
``new``      code not in the base profile
``missing``  in the base profile, not in the official table
``invalid``  malformed code, duplicate code or empty name (with the line number)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ..errors import SurveyError
from ..i18n import Text
from .extend import write_city_profile
from .loader import CLASS_COLUMNS, Profile, load_profile

SYNONYMS = {
    "major_code": ["大类代码", "大类编码", "大类编号", "大类代号", "majorcode", "major_code", "major"],
    "major_name": ["大类名称", "大类名", "majorname", "major_name"],
    "code": ["小类代码", "小类编码", "小类编号", "类别代码", "分类代码", "部件代码", "事件代码", "事项代码", "代码", "编码",
             "minorcode", "minor_code", "classcode", "class_code", "code"],
    "name": ["小类名称", "部件名称", "事件名称", "事项名称", "类别名称", "名称", "minorname", "minor_name", "name"],
    "geometry": ["几何类型", "空间类型", "空间表达", "几何", "geometry", "geometrytype"],
    "accuracy": ["定位精度", "精度等级", "精度", "accuracy"],
    "notes": ["备注", "说明", "notes", "note", "remark", "remarks"],
}
#: headers that are the major column whether it holds codes or names (decided by content)
AMBIGUOUS_MAJOR = ["大类", "大类别"]
AMBIGUOUS_MINOR = ["小类"]

GEOMETRY_WORDS = {"点": "point", "point": "point", "线": "line", "line": "line", "面": "polygon",
                  "多边形": "polygon", "polygon": "polygon", "区域": "polygon"}

CATEGORIES = ("same", "renamed", "new", "missing", "invalid")
CATEGORY_NAMES = {"same": "相同", "renamed": "改名", "new": "新增", "missing": "缺少", "invalid": "无效"}


def _norm_header(h) -> str:
    return re.sub(r"[\s（）()/:：_\-]", "", str(h)).lower()


def read_table(path, sheet: str | None = None) -> tuple[pd.DataFrame, str | None, str]:
    """Read an XLSX/CSV table as strings without a header.  Returns (frame, sheet, encoding)."""
    from ..io.tables import check_input_file, decode_text
    from ..io.tables import read_table as read

    path = check_input_file(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        df, src = read(path, sheet, header=None)
        sh = src.layer
        df = df.map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else
                    (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
        return df, sh, "xlsx"
    text, enc = decode_text(path.read_bytes(), path)
    import csv
    import io
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise SurveyError(Text(f"无法读取 CSV：{e}", f"cannot read the CSV: {e}"), file=str(path), code="bad_file") from None
    width = max((len(r) for r in rows), default=0)
    df = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)  # title rows may be shorter
    return df, None, "utf-8" if enc == "UTF-8" else "gbk"


def _match(h: str) -> str | None:
    n = _norm_header(h)
    if not n:
        return None
    for role, syns in SYNONYMS.items():
        if n in [_norm_header(s) for s in syns]:
            return role
    if n in AMBIGUOUS_MAJOR:
        return "major?"
    if n in AMBIGUOUS_MINOR:
        return "minor?"
    return None


def detect_columns(df: pd.DataFrame, max_rows: int = 15) -> tuple[int, dict]:
    """Find the header row (the first of the first rows naming a code and a name column) and map
    roles to column positions."""
    for r in range(min(max_rows, len(df))):
        roles: dict = {}
        for c, h in enumerate(df.iloc[r]):
            role = _match(h)
            if role and role not in roles:
                roles[role] = c
        body = df.iloc[r + 1:]

        def digits(col):
            v = body.iloc[:, col].astype(str).str.strip()
            v = v[v != ""]
            return len(v) and v.str.fullmatch(r"[0-9０-９.\-]+").mean() > 0.8

        if "major?" in roles:
            col = roles.pop("major?")
            roles.setdefault("major_code" if digits(col) else "major_name", col)
        if "minor?" in roles:
            col = roles.pop("minor?")
            roles.setdefault("code" if digits(col) else "name", col)
        if "code" not in roles and "major_code" in roles and "name" in roles:
            pass  # a combined code may sit in the major column only; handled below
        if ("code" in roles or "major_code" in roles) and "name" in roles:
            return r, roles
    return -1, {}


@dataclass
class ImportResult:
    profile_dir: Path | None
    report: pd.DataFrame
    counts: dict
    source: str
    sheet: str | None
    encoding: str
    columns: dict
    written: int = 0
    report_files: list = field(default_factory=list)


def normalise_code(raw: str, major: str, spec) -> tuple[str | None, str]:
    """The class code for a row, or (None, reason)."""
    ml = spec.part_length("major")
    nl = spec.part_length("minor")
    clen = ml + nl
    raw = str(raw or "").strip().translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    major = str(major or "").strip().translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    raw = re.sub(r"\.0+$", "", raw)
    major = re.sub(r"\.0+$", "", major)
    if major and not major.isdigit():
        return None, "major_code"
    if major and len(major) > ml:
        return None, "major_code"
    if not raw:
        return None, "empty_code"
    parts = [p for p in re.split(r"[-_./·\s]+", raw) if p]
    if not all(p.isdigit() for p in parts):
        return None, "charset"
    if len(parts) == 2:
        mj, mn = parts
    elif len(parts) == 1:
        p = parts[0]
        if major and len(p) <= nl and (len(p) < clen - 1 or not p.startswith(major.zfill(ml)[:1])):
            mj, mn = major, p  # a minor code under its major column
        elif len(p) == clen:
            mj, mn = p[:ml], p[ml:]
        elif len(p) == clen - 1:  # leading zero lost in Excel
            p = p.zfill(clen)
            mj, mn = p[:ml], p[ml:]
        elif len(p) > clen:  # e.g. 010002: major + zero-padded minor
            mj, mn = p[:ml], p[ml:]
        elif major:
            mj, mn = major, p
        else:
            return None, "length"
    else:
        return None, "separator"
    mj = mj.zfill(ml)
    if len(mn) > nl:
        if int(mn) >= 10 ** nl:
            return None, "length"
        mn = str(int(mn))
    mn = mn.zfill(nl)
    if len(mj) != ml:
        return None, "length"
    if major and major.zfill(ml) != mj:
        return None, "major_mismatch"
    if int(mn) == 0:
        return None, "minor_zero"
    return mj + mn, ""


REASON_TEXT = {
    "major_code": Text("大类代码不是数字", "the major code is not a number"),
    "empty_code": Text("代码为空", "the code is empty"),
    "charset": Text("代码含有非数字字符", "the code has non-digit characters"),
    "length": Text("代码位数不符合类别代码结构", "the code does not fit the class code structure"),
    "separator": Text("代码的分隔格式无法识别", "the code's separators cannot be read"),
    "major_mismatch": Text("代码与大类代码列不一致", "the code does not start with the major code column"),
    "minor_zero": Text("小类代码为 0", "the minor code is 0"),
    "empty_name": Text("名称为空", "the name is empty"),
    "duplicate": Text("代码重复", "duplicate code"),
}


def import_classes(source, base="cjt", kind: str = "component", out=None, profile_id: str | None = None,
                   sheet: str | None = None, skip_invalid: bool = False, today: date | None = None) -> ImportResult:
    """Import an official class table; see the module docstring.  Raises :class:`SurveyError`
    when the table has invalid rows (after writing the mapping report) unless ``skip_invalid``."""
    if kind not in ("component", "event"):
        raise SurveyError(Text("kind 应为 component 或 event", "kind must be component or event"), value=kind)
    base_p: Profile = base if isinstance(base, Profile) else load_profile(base or "cjt")
    spec = base_p.codes["class"]
    source = Path(source)
    df, sh, enc = read_table(source, sheet)
    hdr, cols = detect_columns(df)
    if hdr < 0:
        raise SurveyError(Text("找不到表头：需要代码列（小类代码/代码/编码）和名称列（小类名称/名称/部件名称）",
                               "no header found: the table needs a code column (小类代码/代码/编码/code) and a name "
                               "column (小类名称/名称/部件名称/name)"), file=str(source), code="no_header")
    base_tab = base_p.component_classes if kind == "component" else base_p.event_classes
    base_by_code = {r["code"]: r for _, r in base_tab.iterrows()}
    base_majors = dict(zip(base_tab["major_code"], base_tab["major_name"]))
    stamp = (today or date.today()).isoformat()
    src_text = f"imported from {source.name}" + (f" ({sh})" if sh else "") + f" on {stamp}"

    def cell(row, role):
        c = cols.get(role)
        return "" if c is None else str(row.iloc[c]).strip()

    report, good, seen = [], [], {}
    major_names = {}
    cur_major = ""
    for i in range(hdr + 1, len(df)):
        row = df.iloc[i]
        line = i + 1
        if all(str(v).strip() == "" for v in row):
            continue
        raw_code, raw_major = cell(row, "code"), cell(row, "major_code")
        name = cell(row, "name")
        mname = cell(row, "major_name")
        if raw_major:
            cur_major = raw_major
        if "code" not in cols:  # combined code in the major column only
            raw_code, raw_major = raw_major, ""
        # a major-only row (e.g. "01 | 公用设施" with no minor): remember the name
        if not raw_code and raw_major and (mname or name):
            major_names[raw_major.zfill(spec.part_length("major"))] = mname or name
            continue
        code, why = normalise_code(raw_code, raw_major or ("" if "major_code" not in cols else cur_major), spec)
        if code and not name:
            why = "empty_name"
        if code and not why and code in seen:
            why = "duplicate"
        rec = {"line": line, "raw_code": raw_code if not raw_major else f"{raw_major}|{raw_code}", "code": code or "",
               "name": name, "base_name": "", "category": "", "reason": "", "reason_zh": "", "reason_en": ""}
        if why:
            t = REASON_TEXT[why]
            if why == "duplicate":
                t = Text(f"代码重复（与第 {seen[code]} 行相同）", f"duplicate code (same as line {seen[code]})")
            rec.update(category="invalid", reason=why, reason_zh=t.zh, reason_en=t.en)
            report.append(rec)
            continue
        seen[code] = line
        b = base_by_code.get(code)
        mj = code[:spec.part_length("major")]
        if mname:
            major_names.setdefault(mj, mname)
        if b is None:
            rec["category"] = "new"
        elif b["name"] == name:
            rec["category"], rec["base_name"] = "same", b["name"]
        else:
            rec["category"], rec["base_name"] = "renamed", b["name"]
        report.append(rec)
        geom = GEOMETRY_WORDS.get(cell(row, "geometry").lower(), b["geometry"] if b is not None else "")
        acc = cell(row, "accuracy").upper()
        acc = acc if acc in ("A", "B", "C") else (b["accuracy"] if b is not None else "")
        aliases = [] if b is None else [a for a in str(b["aliases"]).split("|") if a]
        if b is not None and b["name"] != name and b["name"] not in aliases:
            aliases.append(b["name"])
        good.append({"code": code, "major_code": mj, "major_name": mname, "name": name, "geometry": geom,
                     "accuracy": acc, "aliases": "|".join(aliases), "status": "official", "provenance": "official",
                     "source": src_text, "notes": "; ".join(x for x in [cell(row, "notes"), f"mapping: {rec['category']}"
                                                                       + (f" (base: {b['name']})" if rec["category"] == "renamed" else "")] if x)})
    for g in good:
        if not g["major_name"]:
            g["major_name"] = major_names.get(g["major_code"], base_majors.get(g["major_code"], ""))
    for code, b in base_by_code.items():
        if code not in seen:
            report.append({"line": "", "raw_code": "", "code": code, "name": "", "base_name": b["name"],
                           "category": "missing", "reason": "", "reason_zh": "", "reason_en": ""})
    rep = pd.DataFrame(report, columns=["line", "raw_code", "code", "name", "base_name", "category", "reason",
                                        "reason_zh", "reason_en"])
    counts = {c: int((rep["category"] == c).sum()) for c in CATEGORIES}
    result = ImportResult(None, rep, counts, str(source), sh, enc, {k: int(v) for k, v in cols.items()})
    out = Path(out) if out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        from ..tabular import write_csv

        write_csv(rep, out / "mapping_report.csv", encoding="utf-8")
        (out / "mapping_report.md").write_text(report_markdown(result, base_p, kind), encoding="utf-8")
        result.report_files = [str(out / "mapping_report.csv"), str(out / "mapping_report.md")]
    if counts["invalid"] and not skip_invalid:
        bad = rep[rep["category"] == "invalid"].head(10)
        lines_zh = "；".join(f"第 {r.line} 行 “{r.raw_code}” {r.reason_zh}" for r in bad.itertuples())
        lines_en = "; ".join(f"line {r.line} '{r.raw_code}': {r.reason_en}" for r in bad.itertuples())
        raise SurveyError(Text(f"分类表有 {counts['invalid']} 行无效，未生成标准配置：{lines_zh}",
                               f"the class table has {counts['invalid']} invalid rows; no profile was written: {lines_en}"),
                          file=str(source), code="invalid_rows",
                          hint=Text("修正这些行后重新导入，或使用 --skip-invalid 只导入有效行；详见 mapping_report.csv",
                                    "fix these rows and import again, or use --skip-invalid to import the valid rows "
                                    "only; see mapping_report.csv"))
    if not good:
        raise SurveyError(Text("分类表没有有效的行", "the class table has no valid rows"), file=str(source), code="empty_table")
    if out is None:
        return result
    pid = profile_id or out.name
    table = pd.DataFrame(good, columns=CLASS_COLUMNS).sort_values("code", kind="stable")
    imported = {"kind": kind, "file": source.name, "sheet": sh, "encoding": enc, "date": stamp,
                "counts": counts, "columns": {k: int(v) for k, v in cols.items()}}
    write_city_profile(out, pid, base_p, replace=(f"{kind}_classes",), imported=imported,
                       **{f"{kind}_classes": table},
                       notice={"zh": f"{kind == 'component' and '部件' or '事件'}分类表由本市正式分类表导入（{source.name}，{stamp}），以其为准。",
                               "en": f"The {kind} class table was imported from the city's official table ({source.name}, {stamp}) and is authoritative."})
    load_profile(out)  # the written profile must load
    result.profile_dir = out
    result.written = len(table)
    return result


def report_markdown(result: ImportResult, base: Profile, kind: str) -> str:
    c = result.counts
    lines = ["# 分类表导入映射报告 / Class table import mapping report", "",
             f"- 文件 / file: `{result.source}`" + (f" (sheet {result.sheet})" if result.sheet else ""),
             f"- 基础配置 / base profile: `{base.id}` ({kind})", "",
             "| 类别 category | 数量 count |", "|---|---|"]
    lines += [f"| {CATEGORY_NAMES[k]} {k} | {c[k]} |" for k in CATEGORIES]
    rep = result.report
    for cat in ("renamed", "new", "missing", "invalid"):
        sub = rep[rep["category"] == cat]
        if sub.empty:
            continue
        lines += ["", f"## {CATEGORY_NAMES[cat]} / {cat}", ""]
        if cat == "invalid":
            lines += ["| 行 line | 原值 raw | 原因 reason |", "|---|---|---|"]
            lines += [f"| {r.line} | {r.raw_code} | {r.reason_zh} / {r.reason_en} |" for r in sub.itertuples()]
        else:
            lines += ["| 代码 code | 名称 name | 基础名称 base name |", "|---|---|---|"]
            lines += [f"| {r.code} | {r.name} | {r.base_name} |" for r in sub.itertuples()]
    return "\n".join(lines) + "\n"


def summary_text(result: ImportResult) -> Text:
    c = result.counts
    zh = (f"导入 {result.source}：相同 {c['same']}，改名 {c['renamed']}，新增 {c['new']}，缺少 {c['missing']}，"
          f"无效 {c['invalid']}")
    en = (f"imported {result.source}: same {c['same']}, renamed {c['renamed']}, new {c['new']}, missing "
          f"{c['missing']}, invalid {c['invalid']}")
    if result.profile_dir:
        zh += f"；已写入标准配置 {result.profile_dir}（{result.written} 个类别）"
        en += f"; wrote profile {result.profile_dir} ({result.written} classes)"
    return Text(zh, en)
