"""The checklist workbook (检查记录表) taken to the field, and reading it back.

Sheets:

``检查记录``  one row per sampled component: ``ObjID``, ``检查结果`` (a drop-down list: 正确, 属性错误,
             位置错误, 多余), ``偏差米`` (measured plane offset in metres, ≥ 0), ``备注``, then read-only
             context: 类别代码, 类别名称, 单元网格, 街道, X, Y (project CRS) and 序号 (the item number of the
             plan: it tells apart components that share an ID in a faulty delivery)
``遗漏部件``  components found in the field but missing from the delivery: ``类别代码``, ``X``, ``Y``, ``备注``
``类别表``    the profile's component classes (the drop-down source of 遗漏部件.类别代码)
``说明``      how to fill it in, and the plan id the records must match

Every cell is written as a value, never a formula: text cells are forced to the string type, so a
value beginning with ``=`` stays text (no formula injection).  Reading collects every problem of
the whole workbook and raises one error naming sheet, row, column and value; nothing is returned
half-read.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SurveyError
from ..i18n import Text
from ..issues import ACCEPTANCE_RECORDS, Issue

CHECK_SHEET = "检查记录"
MISSING_SHEET = "遗漏部件"
CLASS_SHEET = "类别表"
README_SHEET = "说明"
RESULTS = ("正确", "属性错误", "位置错误", "多余")
RESULTS_EN = {"正确": "correct", "属性错误": "attribute error", "位置错误": "position error", "多余": "superfluous"}
CHECK_COLUMNS = ["ObjID", "检查结果", "偏差米", "备注"]
CONTEXT_COLUMNS = ["类别代码", "类别名称", "单元网格", "街道", "X", "Y", "序号"]
ITEM_COLUMN = "序号"
MISSING_COLUMNS = ["类别代码", "X", "Y", "备注"]
PLAN_CELL = "B2"


def _text_cell(ws, row, col, value):
    """A cell holding ``value`` as a value: strings are forced to the string type (no formula)."""
    cell = ws.cell(row=row, column=col)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return cell
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def _header(ws, columns, widths):
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    for j, c in enumerate(columns, 1):
        cell = _text_cell(ws, 1, j, c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DCE6F1")
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(j)].width = widths.get(c, 12)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def write_checklist(path, items: pd.DataFrame, classes: pd.DataFrame, meta: dict, crs: str) -> None:
    """Write the checklist workbook atomically."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..responsibility.xlsx import new_workbook, save_atomic

    wb = new_workbook()
    grey = PatternFill("solid", fgColor="F2F2F2")
    ws = wb.create_sheet(CHECK_SHEET)
    cols = CHECK_COLUMNS + CONTEXT_COLUMNS
    _header(ws, cols, {"ObjID": 20, "检查结果": 12, "偏差米": 9, "备注": 30, "类别名称": 16, "单元网格": 17, "街道": 16,
                       "X": 13, "Y": 13})
    for i, r in enumerate(items.itertuples(index=False), start=2):
        street = f"{r.street_name} {r.street_code}".strip()
        for j, v in enumerate([r.ObjID, None, None, None, r.class_code, r.class_name, r.BGID, street,
                               float(r.X), float(r.Y), int(r.item_no)], 1):
            c = _text_cell(ws, i, j, v)
            if j > len(CHECK_COLUMNS):
                c.fill = grey
            if j in (9, 10):
                c.number_format = "0.000"
    last = max(2, len(items) + 1)
    dv = DataValidation(type="list", formula1='"' + ",".join(RESULTS) + '"', allow_blank=True, showErrorMessage=True,
                        errorTitle="检查结果 / result", error="请从列表中选择 / choose from the list: " + "、".join(RESULTS))
    dv.add(f"B2:B{last}")
    num = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                         showErrorMessage=True, error="偏差米应为不小于 0 的数 / a number ≥ 0")
    num.add(f"C2:C{last}")
    ws.add_data_validation(dv)
    ws.add_data_validation(num)
    ws.auto_filter.ref = f"A1:{chr(64 + len(cols))}{last}"

    cs = wb.create_sheet(CLASS_SHEET)
    _header(cs, ["类别代码", "类别名称", "大类", "位置精度等级"], {"类别代码": 10, "类别名称": 18, "大类": 12, "位置精度等级": 12})
    for i, r in enumerate(classes.itertuples(index=False), start=2):
        for j, v in enumerate([str(r.code), str(r.name), str(r.major_name), str(r.accuracy or "")], 1):
            _text_cell(cs, i, j, v)

    ms = wb.create_sheet(MISSING_SHEET, 1)
    _header(ms, MISSING_COLUMNS, {"类别代码": 10, "X": 14, "Y": 14, "备注": 40})
    cdv = DataValidation(type="list", formula1=f"'{CLASS_SHEET}'!$A$2:$A${len(classes) + 1}", allow_blank=True,
                         showErrorMessage=True, error="类别代码不在类别表中 / the class code is not in 类别表")
    cdv.add("A2:A2000")
    ndv = DataValidation(type="decimal", allow_blank=True, operator="greaterThan", formula1="0", showErrorMessage=True,
                         error="坐标应为数字（项目坐标系，米）/ coordinates are numbers (project CRS, metres)")
    ndv.add("B2:C2000")
    ms.add_data_validation(cdv)
    ms.add_data_validation(ndv)

    rs = wb.create_sheet(README_SHEET)
    lines = [("验收检查记录表 / Acceptance checklist", ""),
             ("抽样方案 plan_id", str(meta.get("plan_id", ""))),
             ("随机种子 seed", str(meta.get("seed", ""))),
             ("抽样比例 rate", str(meta.get("rate", ""))),
             ("抽样网格 / 部件", f"{meta.get('grids_sampled', '')} / {meta.get('components_sampled', '')}"),
             ("坐标系 CRS", crs),
             ("", ""),
             ("检查记录", "每行一个抽中部件：在“检查结果”中选 正确、属性错误、位置错误 或 多余（现场不存在）；实测了位置的，在“偏差米”填平面偏差（米）。"
                      "灰色列只供参考，不要修改。未填检查结果的行视为未检查。"),
             ("", "One row per sampled component: choose 正确 (correct), 属性错误 (attribute error), 位置错误 (position "
                  "error) or 多余 (not there: superfluous); where the position was measured, enter the plane offset in metres in "
                  "偏差米. Grey columns are context: do not edit. Rows without a result count as not checked."),
             ("遗漏部件", "抽中网格内现场存在、但成果中没有的部件：类别代码（见类别表）和项目坐标系中的 X、Y。"),
             ("", "Components found in the sampled grids but missing from the delivery: class code (see 类别表) and X, Y in "
                  "the project CRS."),
             ("导入", "surveytools acceptance record PROJECT checklist.xlsx"),
             ("QField", "也可以用同一方案的 QField 检查包 check/（check.zip）在现场记录，再导入：surveytools acceptance record PROJECT check.zip"),
             ("", "The same plan's QField check package check/ (check.zip) records the same in the field; read it with "
                  "surveytools acceptance record PROJECT check.zip")]
    for i, (k, v) in enumerate(lines, start=1):
        _text_cell(rs, i, 1, k).font = Font(bold=i == 1 or bool(k))
        _text_cell(rs, i, 2, v)
    rs.column_dimensions["A"].width = 24
    rs.column_dimensions["B"].width = 110
    wb.move_sheet(README_SHEET, -(len(wb.sheetnames) - 1))
    wb.active = wb.sheetnames.index(CHECK_SHEET)
    save_atomic(wb, path)


# ----------------------------------------------------------------------------------------------
# reading the filled workbook

#: the rule of every check-record problem (one error lists them all; see :func:`_error`)
PROBLEM_RULE = "acceptance.check_record"


def problem(sheet: str, row: int, column: str, value, message: Text) -> Issue:
    """One problem of the check records as an issue row (:data:`surveytools.issues.ACCEPTANCE_RECORDS`):
    ``sheet`` and ``row`` of a workbook, or layer and feature of a check package; ``column`` (field), ``value``."""
    return Issue.of(PROBLEM_RULE, "error", message, layer=sheet, fid=row, field=column, value=value)


@dataclass
class CheckRecords:
    checks: pd.DataFrame
    missing: pd.DataFrame
    plan_id: str | None
    unchecked: int
    problems: list = field(default_factory=list)
    #: where problems are: workbook sheets and rows, or package layers and features
    unit: str = "sheet"
    missing_name: str = MISSING_SHEET


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?(\s*(米|m))?")


def _number(v):
    """(float, ok) for a cell value: numbers as they are, text parsed (full-width digits too)."""
    if isinstance(v, bool):
        return None, False
    if isinstance(v, (int, float)):
        f = float(v)
        return f, math.isfinite(f)
    if isinstance(v, str):
        t = v.strip().translate(str.maketrans("０１２３４５６７８９．－，", "0123456789.-,"))
        if "," in t:  # only as a thousands separator (1,234.5): "0,3" is a decimal comma, ambiguous, not 3
            if not _THOUSANDS.fullmatch(t):
                return None, False
            t = t.replace(",", "")
        for suffix in ("米", "m"):
            if t.endswith(suffix):
                t = t[: -len(suffix)].strip()
        try:
            f = float(t)
        except ValueError:
            return None, False
        return f, math.isfinite(f)
    return None, False


def _columns(ws, wanted, sheet, file, problems) -> dict | None:
    head = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))] if ws.max_row >= 1 else []
    pos = {}
    for i, h in enumerate(head):
        if isinstance(h, str) and h.strip() in wanted and h.strip() not in pos:
            pos[h.strip()] = i
    lacking = [c for c in wanted if c not in pos]
    if lacking:
        problems.append(problem(sheet, 1, ",".join(lacking), None,
                                Text(f"表头缺少列 {'、'.join(lacking)}", f"the header lacks the columns {', '.join(lacking)}")))
        return None
    return pos


def plan_mismatch(path, plan_id: str, unit: str = "sheet") -> SurveyError:
    """The error for check records (workbook or package) of another sampling plan."""
    return SurveyError(Text("检查记录（工作簿或检查包）属于另一个抽样方案（plan_id 不同）；请使用当前方案生成的检查记录表或检查包",
                            "the check records (workbook or check package) belong to another sampling plan (plan_id "
                            "differs); use the checklist or check package of the current plan"), code="plan_mismatch",
                       file=str(path), layer=README_SHEET if unit == "sheet" else "field_package", field="plan_id",
                       value=plan_id)


def read_checklist(path, known_ids: set, items: pd.DataFrame, class_codes: set, plan_id: str | None = None) -> CheckRecords:
    """Read and validate a filled checklist workbook.

    ``known_ids``: every component ID of the project; ``items``: the plan's items (item_no, ObjID);
    ``class_codes``: the profile's component class codes.  A row is matched to its item by 序号 when
    that column is kept, else by ObjID (which must then be unique in the sample).  Raises one :class:`SurveyError` listing
    every problem found, or returns the records.  ``plan_id``: the current plan's; a workbook naming another plan
    (its 说明 sheet) is refused before its rows are read (their problems would only follow from the wrong plan).
    """
    from openpyxl import load_workbook

    path = Path(path)
    if not path.exists():
        raise SurveyError(Text("检查记录文件不存在", "the check file does not exist"), code="not_found", file=str(path))
    try:
        wb = load_workbook(path, data_only=True, read_only=True)
    except Exception as e:  # a damaged or non-XLSX file
        raise SurveyError(Text(f"无法读取检查记录工作簿：{type(e).__name__}", f"cannot read the check workbook: {type(e).__name__}"),
                          code="bad_checks_file", file=str(path)) from None
    try:
        return _read(wb, path, known_ids, items, class_codes, plan_id)
    finally:
        wb.close()


def _read(wb, path, known_ids, items, class_codes, expected_plan=None) -> CheckRecords:
    problems: list[Issue] = []
    for sheet in (CHECK_SHEET, MISSING_SHEET):
        if sheet not in wb.sheetnames:
            problems.append(problem(sheet, 0, "", None, Text(f"工作簿中没有工作表“{sheet}”", f"the workbook has no sheet '{sheet}'")))
    if problems:
        raise _error(path, problems)
    plan_id = None
    if README_SHEET in wb.sheetnames:
        v = wb[README_SHEET][PLAN_CELL].value
        plan_id = str(v).strip() if not _blank(v) else None
    if plan_id and expected_plan and plan_id != expected_plan:
        raise plan_mismatch(path, plan_id)

    ws = wb[CHECK_SHEET]
    checks, unchecked, seen = [], 0, {}
    id_of = dict(zip(items["item_no"].astype(int), items["ObjID"].astype(str)))
    per_id = items.groupby(items["ObjID"].astype(str))["item_no"].agg(list).to_dict()
    pos = _columns(ws, CHECK_COLUMNS, CHECK_SHEET, path, problems)
    if pos is not None:
        head = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
        ipos = next((i for i, h in enumerate(head) if isinstance(h, str) and h.strip() == ITEM_COLUMN), None)
        for rno, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            get = lambda c: row[pos[c]] if pos[c] < len(row) else None  # noqa: E731
            oid, res, off, note = get("ObjID"), get("检查结果"), get("偏差米"), get("备注")
            ino = row[ipos] if ipos is not None and ipos < len(row) else None
            if all(_blank(v) for v in (oid, res, off, note)):
                continue
            oid_s = "" if _blank(oid) else (str(int(oid)) if isinstance(oid, float) and oid.is_integer() else str(oid).strip())
            item = None
            if not _blank(ino):
                n, ok = _number(ino)
                if not ok or n is None or not float(n).is_integer() or int(n) not in id_of:
                    problems.append(problem(CHECK_SHEET, rno, ITEM_COLUMN, ino, Text("序号不属于本抽样方案（请勿修改灰色列）",
                                                                                 "the item number is not in this plan (do not edit the grey columns)")))
                    continue
                item = int(n)
                if oid_s != id_of[item]:
                    problems.append(problem(CHECK_SHEET, rno, "ObjID", oid_s or oid,
                                            Text(f"部件标识码与序号 {item} 的部件（{id_of[item] or '无标识码'}）不符",
                                                 f"the component ID does not match item {item} ({id_of[item] or 'no ID'})")))
                    continue
            else:
                if not oid_s:
                    problems.append(problem(CHECK_SHEET, rno, "ObjID", oid, Text("缺少部件标识码", "the component ID is missing")))
                    continue
                if oid_s not in known_ids:
                    problems.append(problem(CHECK_SHEET, rno, "ObjID", oid_s, Text("项目中没有这个部件标识码", "no component has this ID in the project")))
                    continue
                if oid_s not in per_id:
                    problems.append(problem(CHECK_SHEET, rno, "ObjID", oid_s,
                                            Text("该部件不在验收抽样中", "this component is not in the acceptance sample")))
                    continue
                if len(per_id[oid_s]) > 1:
                    problems.append(problem(CHECK_SHEET, rno, "ObjID", oid_s,
                                            Text("抽样中有多个部件使用这个标识码；请保留“序号”列以区分",
                                                 "several sampled components share this ID; keep the 序号 column to tell them apart")))
                    continue
                item = int(per_id[oid_s][0])
            if item in seen:
                problems.append(problem(CHECK_SHEET, rno, "ObjID", oid_s,
                                        Text(f"同一部件重复记录（第 {seen[item]} 行已有）",
                                             f"the same component is recorded twice (already on row {seen[item]})")))
                continue
            seen[item] = rno
            res_s = "" if _blank(res) else str(res).strip()
            if res_s and res_s not in RESULTS:
                problems.append(problem(CHECK_SHEET, rno, "检查结果", res,
                                        Text(f"检查结果应为 {'、'.join(RESULTS)} 之一", f"the result must be one of {', '.join(RESULTS)}")))
                continue
            offset = None
            if not _blank(off):
                offset, ok = _number(off)
                if not ok or offset < 0:
                    problems.append(problem(CHECK_SHEET, rno, "偏差米", off,
                                            Text("偏差应为不小于 0 的数（米）", "the offset must be a number ≥ 0 (metres)")))
                    continue
            if not res_s:
                if offset is not None:
                    problems.append(problem(CHECK_SHEET, rno, "检查结果", res,
                                            Text("填了偏差但没有检查结果", "an offset is given but no result")))
                    continue
                unchecked += 1
                continue
            if res_s == "多余" and offset is not None:
                problems.append(problem(CHECK_SHEET, rno, "偏差米", off,
                                        Text("“多余”的部件现场不存在，不能有偏差", "a superfluous component is not there and has no offset")))
                continue
            checks.append({"item_no": item, "ObjID": oid_s, "result": res_s, "offset_m": offset,
                           "note": "" if _blank(note) else str(note).strip(), "row": rno})

    ws = wb[MISSING_SHEET]
    missing = []
    code_len = max((len(c) for c in class_codes), default=4)
    pos = _columns(ws, MISSING_COLUMNS, MISSING_SHEET, path, problems)
    if pos is not None:
        for rno, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            get = lambda c: row[pos[c]] if pos[c] < len(row) else None  # noqa: E731
            code, x, y, note = get("类别代码"), get("X"), get("Y"), get("备注")
            if all(_blank(v) for v in (code, x, y, note)):
                continue
            # a code typed into Excel as a number loses its leading zero: 101 -> 0101
            code_s = "" if _blank(code) else (str(int(code)).zfill(code_len) if isinstance(code, (int, float)) and float(code).is_integer()
                                              else str(code).strip())
            if not code_s:
                problems.append(problem(MISSING_SHEET, rno, "类别代码", code, Text("缺少类别代码", "the class code is missing")))
            elif code_s not in class_codes:
                problems.append(problem(MISSING_SHEET, rno, "类别代码", code_s,
                                        Text("类别代码不在标准配置的部件分类表中", "the class code is not in the profile's component classes")))
            xy = []
            for name, v in (("X", x), ("Y", y)):
                if _blank(v):
                    problems.append(problem(MISSING_SHEET, rno, name, v, Text("缺少坐标", "the coordinate is missing")))
                    continue
                f, ok = _number(v)
                if not ok:
                    problems.append(problem(MISSING_SHEET, rno, name, v, Text("坐标不是数字", "the coordinate is not a number")))
                    continue
                xy.append(f)
            if len(xy) == 2 and code_s in class_codes:
                missing.append({"class_code": code_s, "X": xy[0], "Y": xy[1],
                                "note": "" if _blank(note) else str(note).strip(), "row": rno})
    if problems:
        raise _error(path, problems)
    return CheckRecords(pd.DataFrame(checks, columns=["item_no", "ObjID", "result", "offset_m", "note", "row"]),
                        pd.DataFrame(missing, columns=["class_code", "X", "Y", "note", "row"]), plan_id, unchecked)


def _error(path, problems: list, unit: str = "sheet") -> SurveyError:
    """One error for all problems: the first located precisely, up to 20 listed.  ``unit``:
    ``sheet`` (a workbook: sheet, row, column) or ``layer`` (a package: layer, feature, field)."""
    first = problems[0]

    def line(p: Issue, zh: bool) -> str:
        if unit == "layer":
            feat = (f" 要素 {p.fid}" if zh else f" feature {p.fid}") if p.fid else ""
            where = (f"图层 {p.layer}{feat} 字段 {p.field}" if zh else f"layer {p.layer}{feat} field {p.field}")
        else:
            row = (f" 第 {p.fid} 行" if zh else f" row {p.fid}") if p.fid else ""
            col = (f" 列 {p.field}" if zh else f" column {p.field}") if p.field else ""
            where = (f"工作表 {p.layer}{row}{col}" if zh else f"sheet {p.layer}{row}{col}")
        val = "" if p.value is None else (f" 值 {p.value!r}" if zh else f" value {p.value!r}")
        return f"  {where}{val}: {p.message_zh if zh else p.message_en}"

    shown = problems[:20]
    more_zh = f"\n  …… 另有 {len(problems) - 20} 处" if len(problems) > 20 else ""
    more_en = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
    msg = Text(f"检查记录有 {len(problems)} 处错误，未导入任何内容：\n" + "\n".join(line(p, True) for p in shown) + more_zh,
               f"the check records have {len(problems)} problems; nothing was imported:\n" +
               "\n".join(line(p, False) for p in shown) + more_en)
    err = SurveyError(msg, code="bad_checks", file=str(path), layer=first.layer,
                      feature=(f"{'fid' if unit == 'layer' else 'row'} {first.fid}") if first.fid else None,
                      field=first.field or None, value=first.value)
    err.problems = ACCEPTANCE_RECORDS.table(problems).to_pylist()
    return err
