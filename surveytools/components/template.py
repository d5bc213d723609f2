"""``components template``: an Excel survey workbook for chosen classes (openpyxl).

Sheets:

``部件采集``   the data sheet (first, so intake reads it by default): one row per component;
              headers are the profile's Chinese field aliases (``alias_zh``), which intake maps
              exactly, so a filled workbook imports back without a mapping file; drop-down lists
              for the class (部件名称), the state and the departments; date and coordinate cells
              are validated; the header row is frozen
``说明 Instructions``  how to fill it in, in Chinese and English, and the chosen classes
``_lists``    the drop-down values (hidden)

Coordinates are longitude/latitude in WGS-84 / CGCS2000 degrees (``经度``, ``纬度``); a
workbook filled with a phone app's GCJ-02 coordinates is imported with ``--coords gcj02``.
Line and polygon classes get a ``几何WKT`` column (WKT in the same degrees).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text

DATA_SHEET = "部件采集"
#: roles the survey fills in, in this order (others are computed by intake)
TEMPLATE_ROLES = ["component_id", "name", "state", "dept1_name", "dept1_code", "dept2_name", "dept2_code",
                  "dept3_name", "dept3_code", "init_date", "change_date", "data_source", "location", "material",
                  "picture", "note"]
DEPT_ROLES = {"dept1_name", "dept2_name", "dept3_name"}
DEPT_NAME_COLUMNS = ("name", "DeptName", "dept_name", "部门名称", "名称")


def _departments(project) -> list:
    """Department names of a project's department table (``departments``), if any."""
    if not project:
        return []
    from ..project import Project
    from .store import read_table

    proj = Project.open(project)
    table = proj.profile.layers["department"].table if "department" in proj.profile.layers else "departments"
    for name in (table, "departments", "dict_departments"):
        df = read_table(proj, name)
        if len(df):
            col = next((c for c in (proj.profile.field("department", "name"),) + DEPT_NAME_COLUMNS if c and c in df.columns), None)
            if col:
                return sorted({str(v).strip() for v in df[col].dropna() if str(v).strip()})
    return []


def write_template(out, classes, *, profile="cjt", project=None, overwrite=False) -> dict:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..gpkg import atomic_output
    from ..profiles import load_profile

    if project:
        from ..project import Project

        prof = Project.open(project).profile
    else:
        prof = load_profile(profile)
    codes = [c.strip() for c in str(classes).replace("，", ",").split(",") if c.strip()]
    if not codes:
        raise SurveyError(Text("请用 --classes 给出至少一个类别代码", "give at least one class code with --classes"),
                          code="no_classes", field="classes")
    rows = []
    for c in codes:
        r = prof.component_class(c)
        if r is None:
            raise SurveyError(Text(f"类别 {c} 不在标准配置 {prof.id} 的部件分类表中", f"class {c} is not in the component class table of profile {prof.id}"),
                              code="class_unknown", field="classes", value=c)
        rows.append(r)
    geoms = {r["geometry"] for r in rows}
    fields = prof.layer_fields("component").set_index("role")
    roles = [r for r in TEMPLATE_ROLES if r in fields.index]
    columns = [(r, str(fields.loc[r, "alias_zh"]), str(fields.loc[r, "name"]), str(fields.loc[r, "type"]),
                str(fields.loc[r, "constraint"])) for r in roles]
    coord_cols = []
    if "point" in geoms or "" in geoms:
        coord_cols += [("lon", "经度", "Longitude (WGS-84)"), ("lat", "纬度", "Latitude (WGS-84)")]
    if geoms - {"point"}:
        coord_cols.append(("wkt", "几何WKT", "Geometry (WKT, WGS-84 degrees)"))
    depts = _departments(project)
    states = prof.domain("component_state")
    sources = prof.domain("data_source")
    names = [str(r["name"]) for r in rows]

    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    lists = wb.create_sheet("_lists")
    info = wb.create_sheet("说明 Instructions")
    wb.move_sheet(info, offset=-1)  # order: data, instructions, lists
    wb.active = 0
    lists.sheet_state = "hidden"

    def put_list(col: int, title: str, values: list) -> str:
        letter = get_column_letter(col)
        lists.cell(row=1, column=col, value=title)
        for i, v in enumerate(values, start=2):
            lists.cell(row=i, column=col, value=v)
        return f"'_lists'!${letter}$2:${letter}${max(2, len(values) + 1)}"

    ranges = {"name": put_list(1, "部件名称", names)}
    if states:
        ranges["state"] = put_list(2, "部件状态", states)
    if depts:
        ranges["dept"] = put_list(3, "部门", depts)
    if sources:
        ranges["data_source"] = put_list(4, "数据来源", sources)

    head_font = Font(bold=True)
    must = PatternFill("solid", fgColor="FFF2CC")
    opt = PatternFill("solid", fgColor="DDEBF7")
    header = [c[1] for c in columns] + [c[1] for c in coord_cols]
    last_row = 5000
    for j, h in enumerate(header, start=1):
        cell = ws.cell(row=1, column=j, value=h)
        cell.font = head_font
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = max(10, min(28, 2.2 * len(h) + 4))
    for j, (role, zh, name, typ, cons) in enumerate(columns, start=1):
        ws.cell(row=1, column=j).fill = must if cons == "M" else opt
        letter = get_column_letter(j)
        area = f"{letter}2:{letter}{last_row}"
        dv = None
        if role == "name":
            dv = DataValidation(type="list", formula1=ranges["name"], allow_blank=False)
            dv.error, dv.errorTitle = "请从列表中选择部件类别 / choose a class from the list", "部件名称"
        elif role == "state" and "state" in ranges:
            dv = DataValidation(type="list", formula1=ranges["state"], allow_blank=True)
        elif role == "data_source" and "data_source" in ranges:
            dv = DataValidation(type="list", formula1=ranges["data_source"], allow_blank=True)
        elif role in DEPT_ROLES and "dept" in ranges:
            dv = DataValidation(type="list", formula1=ranges["dept"], allow_blank=True)
        elif typ == "date":
            dv = DataValidation(type="date", operator="between", formula1="DATE(1900,1,1)", formula2="DATE(2100,12,31)",
                                allow_blank=True)
            dv.error = "请填写日期（YYYY-MM-DD）/ enter a date (YYYY-MM-DD)"
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif typ == "text":
            ws.column_dimensions[letter].number_format = "@"  # codes keep their leading zeros
        if dv is not None:
            dv.showErrorMessage = True
            ws.add_data_validation(dv)
            dv.add(area)
    for k, (role, zh, en) in enumerate(coord_cols, start=len(columns) + 1):
        letter = get_column_letter(k)
        ws.cell(row=1, column=k).fill = must if role != "wkt" else opt
        if role in ("lon", "lat"):
            lo, hi = ("73", "136") if role == "lon" else ("3", "54")
            dv = DataValidation(type="decimal", operator="between", formula1=lo, formula2=hi, allow_blank=True)
            dv.error = "经度 73–136、纬度 3–54（度）/ longitude 73–136, latitude 3–54 (degrees)"
            dv.showErrorMessage = True
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{last_row}")
            ws.column_dimensions[letter].number_format = "0.0000000"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}1"

    # instructions
    info.column_dimensions["A"].width = 110
    text = [
        ("数字化城管部件普查采集表（由 surveytools 生成）", True),
        (f"Component survey workbook (generated by surveytools) · 标准配置 profile: {prof.id} ({prof.edition})", True),
        ("", False),
        ("填写说明", True),
        ("1. 每行一个部件，在“部件采集”表中填写。黄色表头为必填，蓝色为选填。", False),
        ("2. 部件名称、部件状态、数据来源" + ("和主管/权属/养护单位" if depts else "") + "请从下拉列表中选择。", False),
        ("3. 部件标识码：新普查的部件留空，入库时自动编码；更新已有部件时填写原标识码。", False),
        ("4. 经度、纬度：WGS-84（或 CGCS2000）经纬度，十进制度，保留 7 位小数。手机地图（高德、腾讯）采集的是 GCJ-02 坐标，"
         "入库时加 --coords gcj02；百度地图为 BD-09，加 --coords bd09。", False),
        ("5. 日期格式 YYYY-MM-DD。请勿修改表头、增删列或改动 _lists 隐藏表。", False),
        (f"6. 入库：surveytools components intake 项目库.gpkg {Path(str(out)).name}", False),
        ("", False),
        ("Instructions", True),
        ("1. One component per row, on the sheet 部件采集. Yellow headers are mandatory, blue ones optional.", False),
        ("2. Choose the class (部件名称), state (部件状态), data source (数据来源)" +
         (" and departments" if depts else "") + " from the drop-down lists.", False),
        ("3. ID (部件标识码): leave empty for newly surveyed components (intake assigns it); give the existing ID "
         "when updating a component.", False),
        ("4. 经度/纬度 (longitude/latitude): WGS-84 (or CGCS2000) decimal degrees, 7 decimals. Phone maps (高德, 腾讯) "
         "give GCJ-02: import with --coords gcj02; Baidu gives BD-09: --coords bd09.", False),
        ("5. Dates as YYYY-MM-DD. Do not change the headers, add or remove columns, or edit the hidden sheet _lists.", False),
        (f"6. Import: surveytools components intake PROJECT.gpkg {Path(str(out)).name}", False),
        ("", False),
        ("本表包含的部件类别 / Classes in this workbook", True),
    ]
    for i, (line, bold) in enumerate(text, start=1):
        c = info.cell(row=i, column=1, value=line)
        c.font = Font(bold=bold)
        c.alignment = Alignment(wrap_text=True)
    r0 = len(text) + 1
    for j, h in enumerate(["类别代码 Code", "部件名称 Name", "大类 Major", "几何 Geometry", "精度等级 Accuracy"], start=1):
        info.cell(row=r0, column=j, value=h).font = head_font
    for i, r in enumerate(rows, start=r0 + 1):
        for j, v in enumerate([r["code"], r["name"], r["major_name"], r["geometry"], r["accuracy"]], start=1):
            info.cell(row=i, column=j, value=str(v))
    r1 = r0 + len(rows) + 2
    info.cell(row=r1, column=1, value="列 Columns").font = head_font
    for i, (role, zh, name, typ, cons) in enumerate(columns, start=r1 + 1):
        info.cell(row=i, column=1, value=f"{zh}（{name}，{role}，{typ}，{'必填 mandatory' if cons == 'M' else '选填 optional'}）")
    for i, (role, zh, en) in enumerate(coord_cols, start=r1 + 1 + len(columns)):
        info.cell(row=i, column=1, value=f"{zh}（{en}）")
    from ..tabular import save_workbook

    with atomic_output(out, overwrite=overwrite, suffix=".xlsx") as tmp:
        save_workbook(wb, tmp, atomic=False)
    return {"out": str(out), "classes": codes, "columns": header, "departments": len(depts), "profile": prof.id}
