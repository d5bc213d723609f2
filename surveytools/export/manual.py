"""The command manual (指挥手册), generated from the project: XLSX, HTML and PDF with maps.

Sections (the same in every format; one XLSX sheet per section):

1. 总体流程 — 信息收集 → 案卷建立 → 任务派遣 → 任务处理 → 处理反馈 → 核查结案 → 综合评价;
2. 部件立案结案标准及责任单位 — every component class: code, name, 立案条件, 结案条件, deadlines, lead
   and co-units by area (one name when every street has the same unit, else per street);
3. 事件立案结案标准及责任单位 — the same for event classes;
4. 责任单位 — the department registry;
5. 责任区域和工作网格 — responsibility areas, responsibility grids, work grids;
6. 统计 — components per class per street, unit grids per community;
7. 地图 — an overview (streets, communities, grids) and one map per street with grid serials.

HTML is rendered by jinja2 with autoescaping; the PDF by WeasyPrint from the same HTML (CSS paged media:
page numbers in the footer, a table of contents with ``target-counter``), which embeds the Noto Sans CJK
subset it uses.
"""
from __future__ import annotations

import base64
import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

HERE = Path(__file__).resolve().parent

WORKFLOW = [
    ("信息收集", "Information collection", "监督员在责任网格内巡查，或经热线、平台、媒体等渠道发现问题，按部件事件分类和立案条件采集位置、照片和描述并上报。",
     "Inspectors patrol their grids (or the hotline, platforms and media report problems) and send the location, photos and "
     "a description, classified against the filing conditions."),
    ("案卷建立", "Case filing", "受理员核实上报信息；符合立案条件的，由值班长立案，确定类别、位置（单元网格）和紧急程度。",
     "The operator checks the report; when it meets the filing condition the shift leader files a case with its class, unit "
     "grid and urgency."),
    ("任务派遣", "Dispatch", "派遣员按派遣矩阵把案件派给主责单位（部件按其主管/权属/养护单位，事件按类别和所在街道），并通知协办单位；计时开始。",
     "The dispatcher sends the case to the lead unit of the dispatch matrix (components by their 主管/权属/养护 unit, events by "
     "class and street) and notifies the co-units; the deadline starts."),
    ("任务处理", "Handling", "责任单位在处置时限内处理；确需延期或不属本单位职责的，在时限内申请延期或退回。",
     "The responsible unit handles the case within the deadline, or asks in time for an extension or returns a case outside "
     "its remit."),
    ("处理反馈", "Feedback", "责任单位处理完毕后上传处置结果和照片，反馈到指挥中心。",
     "When done, the unit reports the result with photos to the command centre."),
    ("核查结案", "Verification and closing", "指挥中心通知监督员现场核查；符合结案条件的结案，不符合的重新派遣。",
     "The centre sends the inspector to verify on site; a case that meets the closing condition is closed, otherwise it is "
     "dispatched again."),
    ("综合评价", "Evaluation", "按区域、部门和岗位统计按期处置率、结案率、返工率等指标，定期考核评价。",
     "On-time, closing and rework rates per area, unit and post are computed and evaluated periodically."),
]

SECTIONS = [("sec-workflow", "总体流程", "Overall workflow"),
            ("sec-components", "部件立案结案标准及责任单位", "Components: filing, closing, deadlines, units"),
            ("sec-events", "事件立案结案标准及责任单位", "Events: filing, closing, deadlines, units"),
            ("sec-departments", "责任单位", "Responsible units"),
            ("sec-areas", "责任区域和工作网格", "Responsibility areas and work grids"),
            ("sec-stats", "统计", "Statistics"),
            ("sec-maps", "地图", "Maps")]


def _fmt_deadline(u, n, unit) -> str:
    def num(v):
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:g}"

    if not unit and num(u) == "" and num(n) == "":
        return ""
    return f"紧急 {num(u)} / 一般 {num(n)} {unit}"


class _Manual:
    """What the sections of :func:`collect` share: the project, its departments, dispatch matrix
    (effective, derived), streets and communities, and the project's layers."""

    def __init__(self, proj):
        from ..gpkg import list_layers
        from ..responsibility import matrix as mx
        from ..responsibility.ops import _places
        from ..responsibility.registry import read_departments

        prof = self.prof = proj.profile
        self.proj = proj
        self.warnings = []
        depts = self.depts = read_departments(proj)
        streets_df, self.comms_df, areas_df = _places(proj)
        names_area = mx.area_name_map(streets_df, self.comms_df, areas_df, proj.county, proj.meta.get("county_name", ""))
        m = mx.read_matrix(proj)
        if m is None or not len(m):
            if len(depts):
                m, _ = mx.from_defaults(prof, depts, proj.county)
            else:
                m = mx.empty()
            self.warnings.append(Text("项目中还没有派遣矩阵（请先运行 responsibility assign），手册使用标准配置的默认值",
                                      "the project has no dispatch matrix yet (run responsibility assign first); the manual "
                                      "shows the profile's defaults"))
        self.m = mx.derive(mx.effective(m), prof, depts, names_area)
        self.dname = dict(zip(depts["dept_id"], depts["name"]))
        self.scodes = streets_df["street_code"].tolist()
        self.snames = dict(zip(streets_df["street_code"], streets_df["street_name"]))
        self.layers = set(list_layers(proj.path))

    def unit_names(self, ids: str) -> str:
        """Department IDs (``a|b``) as their names; the local token as the street office."""
        from ..responsibility.common import LOCAL_TOKEN

        out = []
        for u in [u for u in str(ids or "").split("|") if u]:
            if u == LOCAL_TOKEN:  # the street offices are listed in section 4 with their streets
                out.append("属地街道办事处")
            else:
                out.append(self.dname.get(u, u))
        return "、".join(out)

    def layer_or_none(self, key):
        from ..project import read_layer

        prof = self.prof
        return read_layer(self.proj, key) if key in prof.layers and prof.layer(key).table in self.layers else None


def collect(proj, workdir: Path, feedback) -> dict:
    """Everything the three formats show, as plain Python data (and map PNGs in ``workdir``).

    The steps: the dispatch matrix (or the profile's defaults); the component and event classes
    with their conditions, deadlines and units; the departments; the responsibility areas and
    grids; the statistics; the maps; the title and notes."""
    from ..project import read_layer

    ctx = _Manual(proj)
    kinds = [_class_section(ctx, no, kind, zh, en, table) for no, (kind, zh, en, table) in enumerate((
        ("component", "部件立案结案标准及责任单位", "Components", ctx.prof.component_classes),
        ("event", "事件立案结案标准及责任单位", "Events", ctx.prof.event_classes)), start=2)]
    feedback.progress(20)
    dept_rows = [{**d, "parent_name": ctx.dname.get(d["parent"], d["parent"]),
                  "street_name": ctx.snames.get(d["street_code"], "")} for d in ctx.depts.to_dict("records")]
    area_tables = _area_tables(ctx)
    feedback.progress(30)
    comm_geoms = read_layer(proj, "community")
    grids = read_layer(proj, "unit_grid")
    ccols, crow = _component_counts(ctx, comm_geoms)
    stats = {"components": {"columns": ccols, "rows": crow},
             "grids": {"columns": ["社区代码", "社区名称", "街道代码", "街道名称", "网格数", "总面积 m²", "平均面积 m²"],
                       "rows": _grid_rows(ctx, grids)}}
    feedback.progress(40)
    title = proj.meta.get("title") or f"{proj.meta.get('county_name', '')}数字化城管"
    mlist = _maps(ctx, workdir, comm_geoms, grids, feedback)
    prof = ctx.prof
    meta = {"title": title, "title_short": title[:30], "county": proj.county, "county_name": proj.meta.get("county_name", ""),
            "profile": prof.id, "edition": prof.edition, "crs": proj.meta.get("crs", ""),
            "generated": _dt.datetime.now().replace(microsecond=0).isoformat(sep=" "), "version": _version(),
            "notice": (prof.notice.zh + " " + prof.notice.en) if prof.notice else "",
            "deadline_note": "处置时限以工作时或工作日计，自派遣时起算；“属地街道办事处”指案件所在街道的街道办事处（属地管理、属地兜底）。"
                             " Deadlines count working hours (工作时) or working days (工作日) from dispatch; 属地街道办事处 is "
                             "the street office of the case's street."}
    return {"meta": meta, "workflow": [{"zh": a, "en": b, "text_zh": c, "text_en": d} for a, b, c, d in WORKFLOW],
            "classes": kinds, "departments": dept_rows, "area_tables": area_tables, "stats": stats, "maps": mlist,
            "sections": [{"id": i, "zh": z, "en": e} for i, z, e in SECTIONS], "warnings": ctx.warnings}


def _class_section(ctx: _Manual, no: int, kind: str, zh: str, en: str, table) -> dict:
    """Section 2 or 3: the classes of ``kind`` by major class, each with its matrix row per street."""
    from ..responsibility import matrix as mx

    m, scodes = ctx.m, ctx.scodes
    codes = table["code"].astype(str).to_numpy()
    n, s = len(codes), max(1, len(scodes))
    rep_codes = np.repeat(codes, s)
    rep_streets = np.tile(np.array(scodes or [None], dtype=object), n)
    pos = mx.lookup(m, kind, rep_codes, rep_streets, np.full(len(rep_codes), None, dtype=object), ctx.proj.county)
    pos = pos.reshape(n, s)
    majors = []
    for mc, grp in table.groupby("major_code", sort=True):
        rows = [_class_row(ctx, kind, c, pos[int(np.flatnonzero(codes == c["code"])[0])]) for _, c in grp.iterrows()]
        majors.append({"code": mc, "name": grp["major_name"].iloc[0], "rows": rows})
    return {"key": "components" if kind == "component" else "events", "no": no, "zh": zh, "en": en,
            "majors": majors, "count": int(n)}


def _class_row(ctx: _Manual, kind: str, c, p) -> dict:
    """One class: conditions and deadlines from its base matrix row, lead and co-units (one name when
    every street has the same, else per street; community and area rows added)."""
    from ..responsibility.common import LOCAL_TOKEN

    m, snames, streets = ctx.m, ctx.snames, ctx.scodes or [None]
    base = m.iloc[p[0]] if p[0] >= 0 else None
    leads = {st: ctx.unit_names(m.iloc[q]["lead_unit"]) if q >= 0 else ctx.unit_names(LOCAL_TOKEN)
             for st, q in zip(streets, p)}
    cos = {st: ctx.unit_names(m.iloc[q]["co_units"]) if q >= 0 else "" for st, q in zip(streets, p)}
    lead = next(iter(leads.values())) if len(set(leads.values())) == 1 else \
        "；".join(f"{snames.get(st, st)}：{v}" for st, v in leads.items())
    co = next(iter(cos.values())) if len(set(cos.values())) == 1 else \
        "；".join(f"{snames.get(st, st)}：{v}" for st, v in cos.items() if v)
    extra = m[(m["kind"] == kind) & m["class_code"].isin([c["code"], c["major_code"]]) &
              m["area_type"].isin(["community", "responsibility_area"])]
    for _, e in extra.iterrows():
        lead += f"；{e['area_name'] or e['area_code']}：{ctx.unit_names(e['lead_unit'])}"
    return {"code": c["code"], "name": c["name"],
            "filing": "" if base is None else base["filing_condition"],
            "closing": "" if base is None else base["closing_condition"],
            "deadline": "" if base is None else _fmt_deadline(base["deadline_urgent"], base["deadline_normal"],
                                                               base["deadline_unit"]),
            "lead": lead if base is not None else f"属地兜底：{lead}", "co": co}


def _area_tables(ctx: _Manual) -> list:
    """Section 5: responsibility areas, responsibility grids and work grids."""
    prof, dname = ctx.prof, ctx.dname
    f = lambda lk, r: prof.field(lk, r)  # noqa: E731
    ra = ctx.layer_or_none("responsibility_area")
    rows = []
    if ra is not None and len(ra):
        for _, r in ra.sort_values(f("responsibility_area", "area_code")).iterrows():
            rows.append([r[f("responsibility_area", "area_code")], r[f("responsibility_area", "name")],
                         r.get(f("responsibility_area", "area_type")) or "",
                         dname.get(r[f("responsibility_area", "dept_id")], r[f("responsibility_area", "dept_id")]),
                         r.get(f("responsibility_area", "roles")) or "养护", r.get(f("responsibility_area", "class_codes")) or "全部 all",
                         f"{r.geometry.area:,.0f}"])
    tables = [{"zh": "责任区域", "en": "Responsibility areas",
               "columns": ["代码", "名称", "类型", "责任单位", "承担角色", "适用类别", "面积 m²"], "rows": rows}]
    for key, zh, en, extra_role, extra_title in (("responsibility_grid", "责任网格", "Responsibility grids", "dept_name", "责任单位"),
                                                 ("work_grid", "监督员工作网格", "Work grids", "inspector", "监督员")):
        g = ctx.layer_or_none(key)
        rows = []
        if g is not None and len(g):
            for _, r in g.sort_values(f(key, "grid_code")).iterrows():
                mem = str(r.get(f(key, "members")) or "")
                nmem = len([x for x in mem.split(",") if x.strip()])
                rows.append([r[f(key, "grid_code")], r.get(f(key, "name")) or "", r.get(f(key, extra_role)) or "", nmem,
                             f"{r.geometry.area:,.0f}"])
        tables.append({"zh": zh, "en": en, "columns": ["编码", "名称", extra_title, "单元网格数", "面积 m²"], "rows": rows})
    return tables


def _component_counts(ctx: _Manual, comm_geoms):
    """Components per class per street (the street of the community each lies in): (columns, rows)."""
    import shapely

    from ..project import read_layer

    prof, proj, scodes, snames = ctx.prof, ctx.proj, ctx.scodes, ctx.snames
    cf = lambda r: prof.field("community", r)  # noqa: E731
    tree = shapely.STRtree(np.asarray(comm_geoms.geometry.values, dtype=object)) if len(comm_geoms) else None
    counts = []
    for key in ("component_point", "component_line", "component_polygon"):
        if prof.layer(key).table not in ctx.layers:
            continue
        cc = prof.field("component", "class_code")
        g = read_layer(proj, key)
        if not len(g):
            continue
        cls = g[cc].astype("string") if cc in g.columns else pd.Series([pd.NA] * len(g), dtype="string")
        oid = g[prof.field("component", "component_id")].astype("string")
        cls = cls.where(cls.notna() & (cls.str.strip() != ""), oid.str[6:6 + prof.class_code_length]).fillna("")
        pts = shapely.point_on_surface(np.asarray(g.geometry.values, dtype=object))
        st = np.full(len(g), "", dtype=object)
        if tree is not None:
            fi, ci = tree.query(pts, predicate="intersects")
            st[fi] = comm_geoms[cf("street_code")].astype(str).to_numpy()[ci]
        counts.append(pd.DataFrame({"cls": cls.to_numpy(), "street": st}))
    if not counts:
        return ["类别代码", "类别名称", "合计 total"], []
    cname = dict(zip(prof.component_classes["code"], prof.component_classes["name"]))
    cdf = pd.concat(counts, ignore_index=True)
    pivot = cdf.pivot_table(index="cls", columns="street", aggfunc="size", fill_value=0)
    cols = [c for c in scodes if c in pivot.columns] + [c for c in pivot.columns if c not in scodes]
    pivot = pivot.reindex(columns=cols, fill_value=0)
    pivot["total"] = pivot.sum(axis=1)
    crow = [[k, cname.get(k, "（不在分类表）")] + [int(v) for v in r] for k, r in zip(pivot.index, pivot.to_numpy())]
    crow.append(["合计", "Total"] + [int(v) for v in pivot.sum(axis=0).to_numpy()])
    ccols = ["类别代码", "类别名称"] + [f"{snames.get(c, '') or '（区外）'} {c}".strip() for c in cols] + ["合计 total"]
    return ccols, crow


def _grid_rows(ctx: _Manual, grids) -> list:
    """Unit grids per community: count, total and mean area, and a total row."""
    import shapely

    gcode = ctx.prof.field("unit_grid", "grid_code")
    gdf = pd.DataFrame({"comm": grids[gcode].astype(str).str[:12],
                        "area": shapely.area(np.asarray(grids.geometry.values, dtype=object))})
    gstat = gdf.groupby("comm").agg(n=("area", "size"), total=("area", "sum"), mean=("area", "mean")).reset_index()
    cn = dict(zip(ctx.comms_df["community_code"], ctx.comms_df["community_name"]))
    grows = [[c, cn.get(c, ""), c[:9], ctx.snames.get(c[:9], ""), int(n), f"{t:,.0f}", f"{mu:,.0f}"]
             for c, n, t, mu in gstat.itertuples(index=False)]
    grows.append(["合计", "Total", "", "", int(gstat["n"].sum()), f"{gstat['total'].sum():,.0f}",
                  f"{gdf['area'].mean():,.0f}" if len(gdf) else ""])
    return grows


def _maps(ctx: _Manual, workdir: Path, comm_geoms, grids, feedback) -> list:
    """Section 7: the overview map and one map per street (PNGs in ``workdir``) with their captions."""
    from ..project import read_layer
    from . import maps

    prof, proj = ctx.prof, ctx.proj
    streets = read_layer(proj, "street")
    sf = lambda r: prof.field("street", r)  # noqa: E731
    cf = lambda r: prof.field("community", r)  # noqa: E731
    gcode = prof.field("unit_grid", "grid_code")
    labels = {"street_name": sf("street_name"), "street_code": sf("street_code"), "community_name": cf("community_name"),
              "community_code": cf("community_code"), "grid_code": gcode}
    mlist = []
    if not (len(grids) and len(streets)):
        return mlist
    p = workdir / "map_00_overview.png"
    maps.overview_map(p, streets, comm_geoms, grids, f"{proj.meta.get('county_name', '')} 街道、社区和单元网格总图", labels)
    mlist.append({"path": str(p), "caption": "街道、社区和单元网格总图 / Overview: streets, communities, unit grids"})
    serial_len = prof.codes["unit_grid"].part_length("serial")
    for i, (_, s) in enumerate(streets.sort_values(sf("street_code")).iterrows(), start=1):
        code = s[sf("street_code")]
        sel_c = comm_geoms[comm_geoms[cf("street_code")].astype(str) == str(code)]
        sel_g = grids[grids[gcode].astype(str).str[:9] == str(code)]
        p = workdir / f"map_{i:02d}_{code}.png"
        maps.street_map(p, s.geometry, f"{s[sf('street_name')]}（{code}）", sel_c, sel_g, labels, serial_len)
        mlist.append({"path": str(p), "caption": f"{s[sf('street_name')]}（{code}）单元网格分布图 / unit grids of {code}"})
        feedback.progress(40 + 35 * i / len(streets))
    return mlist


def _version() -> str:
    from .. import __version__

    return __version__


def render_html(data: dict, *, embed: bool = True) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html", "j2"], default=True))
    maps = []
    for mp in data["maps"]:
        src = mp["path"]
        if embed:
            with open(src, "rb") as fh:
                src = "data:image/png;base64," + base64.b64encode(fh.read()).decode("ascii")
        maps.append({"src": src, "caption": mp["caption"]})
    return env.get_template("manual.html.j2").render(m=data["meta"], workflow=data["workflow"], classes=data["classes"],
                                                     departments=data["departments"], area_tables=data["area_tables"],
                                                     stats=data["stats"], maps=maps, sections=data["sections"])


def write_xlsx(data: dict, path) -> None:
    from openpyxl.drawing.image import Image as XLImage
    from openpyxl.styles import Alignment, Font

    from ..responsibility.xlsx import new_workbook, save_atomic, write_sheet

    wb = new_workbook()
    m = data["meta"]
    cover = wb.create_sheet("封面 Cover")
    cover["A1"] = m["title"]
    cover["A1"].font = Font(bold=True, size=18, color="1F4E79")
    cover["A2"] = "指挥手册 · Command manual"
    info = [("县 County", f"{m['county']} {m['county_name']}"), ("标准配置 Profile", f"{m['profile']}（{m['edition']}）"),
            ("坐标系 CRS", m["crs"]), ("生成时间 Generated", m["generated"]), ("软件 Software", f"surveytools {m['version']}")]
    for i, (k, v) in enumerate(info, start=4):
        cover.cell(row=i, column=1, value=k).font = Font(bold=True)
        cover.cell(row=i, column=2, value=v)
    cover.cell(row=10, column=1, value="目录 Contents").font = Font(bold=True, size=13)
    for i, s in enumerate(data["sections"], start=11):
        cover.cell(row=i, column=1, value=f"{i - 10}. {s['zh']}")
        cover.cell(row=i, column=2, value=s["en"])
    cover.cell(row=20, column=1, value=m["notice"]).alignment = Alignment(wrap_text=True)
    cover.column_dimensions["A"].width = 36
    cover.column_dimensions["B"].width = 70
    write_sheet(wb, "1 总体流程", ["步骤", "环节", "Stage", "说明", "Description"],
                [[i + 1, w["zh"], w["en"], w["text_zh"], w["text_en"]] for i, w in enumerate(data["workflow"])],
                caption="1. 总体流程 Overall workflow", widths={"说明": 60, "Description": 60})
    for k in data["classes"]:
        rows = [[mj["code"], mj["name"], r["code"], r["name"], r["filing"], r["closing"], r["deadline"], r["lead"], r["co"]]
                for mj in k["majors"] for r in mj["rows"]]
        write_sheet(wb, f"{k['no']} {'部件' if k['key'] == 'components' else '事件'}标准",
                    ["大类代码", "大类名称", "小类代码", "小类名称", "立案条件", "结案条件", "处置时限", "主责单位", "协办单位"], rows,
                    caption=f"{k['no']}. {k['zh']} {k['en']}",
                    widths={"立案条件": 40, "结案条件": 40, "主责单位": 30, "协办单位": 30, "处置时限": 18})
    write_sheet(wb, "4 责任单位", ["标识", "名称", "角色", "统一社会信用代码/本地代码", "上级部门", "所辖街道", "联系人", "电话"],
                [[d["dept_id"], d["name"], d["role"], d["code"], d["parent_name"], d["street_name"], d["contact"], d["phone"]]
                 for d in data["departments"]], caption="4. 责任单位 Responsible units")
    rows = []
    for t in data["area_tables"]:
        rows.append([f"【{t['zh']} {t['en']}】"] + [""] * 6)
        rows.append(t["columns"] + [""] * (7 - len(t["columns"])))
        rows += [list(r) + [""] * (7 - len(r)) for r in t["rows"]] or [["（无 none）"] + [""] * 6]
    write_sheet(wb, "5 责任区域和工作网格", ["A", "B", "C", "D", "E", "F", "G"], rows,
                caption="5. 责任区域和工作网格 Responsibility areas and work grids")
    s = data["stats"]
    write_sheet(wb, "6 部件统计", s["components"]["columns"], s["components"]["rows"],
                caption="6. 统计：各街道各类部件数量 Components per class per street")
    write_sheet(wb, "6 网格统计", s["grids"]["columns"], s["grids"]["rows"], caption="6. 统计：各社区单元网格数量 Unit grids per community")
    ws = wb.create_sheet("7 地图")
    ws["A1"] = "7. 地图 Maps"
    ws["A1"].font = Font(bold=True, size=13)
    row = 3
    for mp in data["maps"]:
        ws.cell(row=row, column=1, value=mp["caption"]).font = Font(bold=True)
        img = XLImage(mp["path"])
        scale = 900 / img.width
        img.width, img.height = int(img.width * scale), int(img.height * scale)
        ws.add_image(img, f"A{row + 1}")
        row += int(img.height / 20) + 4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    save_atomic(wb, path)


def write_pdf(html: str, path) -> int:
    """Render with WeasyPrint (fonts embedded as subsets); return the page count."""
    import logging

    try:
        from weasyprint import HTML
    except (ImportError, OSError) as e:  # pango missing
        raise SurveyError(Text(f"无法加载 WeasyPrint（需要 Debian 包 libpango-1.0-0、libpangoft2-1.0-0）：{e}",
                               f"cannot load WeasyPrint (needs the Debian packages libpango-1.0-0, libpangoft2-1.0-0): {e}"),
                          code="no_weasyprint", hint=Text("运行 bash scripts/setup_env.sh", "run bash scripts/setup_env.sh")) from None
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    doc = HTML(string=html, base_url=str(HERE)).render()
    doc.write_pdf(str(path))
    return len(doc.pages)


def build_manual(proj, out, formats, feedback) -> dict:
    from ..gpkg import atomic_folder, move_into

    out = Path(out)
    with atomic_folder(out) as tmp:
        mapdir = tmp / "maps"
        mapdir.mkdir()
        data = collect(proj, mapdir, feedback)
        files = []
        if "xlsx" in formats:
            write_xlsx(data, tmp / "manual.xlsx")
            files.append("manual.xlsx")
        feedback.progress(82)
        html = render_html(data, embed=True)
        if "html" in formats:
            (tmp / "manual.html").write_text(html, encoding="utf-8")
            files.append("manual.html")
        pages = None
        if "pdf" in formats:
            pages = write_pdf(html, tmp / "manual.pdf")
            files.append("manual.pdf")
        feedback.progress(97)
        files += [f"maps/{p.name}" for p in sorted(mapdir.glob("*.png"))]
        move_into(tmp, out, files)
    return {"out": str(out), "files": files, "pdf_pages": pages, "maps": len(data["maps"]),
            "component_classes": data["classes"][0]["count"], "event_classes": data["classes"][1]["count"],
            "sections": [s["zh"] for s in data["sections"]], "warnings": data["warnings"]}
