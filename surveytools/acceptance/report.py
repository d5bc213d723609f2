"""The acceptance report (验收报告): HTML, XLSX and PDF with a map of the sampled grids.

The HTML is rendered by jinja2 with autoescaping and printed to PDF by WeasyPrint (the command
manual's machinery, :func:`surveytools.export.manual.write_pdf`: CJK fonts embedded); the map is
drawn with the manual's matplotlib helpers (:mod:`surveytools.export.maps`).
"""
from __future__ import annotations

import base64
import datetime as _dt
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

HERE = Path(__file__).resolve().parent

RATE_LABELS = [("error_rate", "错误率", "Error rate"), ("omission_rate", "遗漏率", "Omission rate"),
               ("position_error_rate", "精度误差率", "Position-error rate")]
GROUP_COLUMNS = [("checked", "检查数"), ("correct", "正确"), ("attribute_errors", "属性错误"), ("position_results", "位置错误"),
                 ("superfluous", "多余"), ("missing", "遗漏"), ("beyond_tolerance", "超限"), ("error_rate", "错误率"),
                 ("omission_rate", "遗漏率"), ("position_error_rate", "精度误差率"), ("rms_m", "RMS 米")]


def pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.2f}%"


def num(v, digits=3) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def draw_map(path, proj, sample_grids, checks, missing, items) -> str:
    """All grids (thin), sampled grids (filled), streets, components with errors and omissions."""
    import shapely

    from ..export import maps
    from ..project import read_layer

    plt = maps._setup()
    grids = read_layer(proj, "unit_grid")
    streets = read_layer(proj, "street")
    fig, ax = plt.subplots(figsize=(11.0, 7.6))
    maps._plot_polys(ax, grids.geometry.values, facecolor="none", edgecolor="#b0b0b0", linewidth=0.15)
    maps._plot_polys(ax, sample_grids.geometry.values, facecolor="#f5a25d", edgecolor="#b35900", linewidth=0.5, alpha=0.8)
    if len(streets):
        maps._plot_polys(ax, streets.geometry.values, facecolor="none", edgecolor="#a00000", linewidth=1.4, linestyle="--")
        sp = shapely.point_on_surface(np.asarray(streets.geometry.values, dtype=object))
        name = proj.profile.field("street", "street_name")
        for p, n in zip(sp, streets[name]):
            ax.text(p.x, p.y, str(n), fontsize=9, ha="center", va="center", color="#a00000",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.7))
    xy = items.set_index("item_no")[["X", "Y"]]
    bad = checks[checks["is_error"] | checks["is_position_error"]]
    handles = []
    if len(bad):
        p = xy.reindex(bad["item_no"].astype("int64"))
        handles.append(ax.scatter(p["X"], p["Y"], s=10, c="#6a1b9a", marker="o", label="错误部件 components with errors", zorder=5))
    if len(missing):
        handles.append(ax.scatter(missing["X"], missing["Y"], s=16, c="#d00000", marker="x", label="遗漏部件 missing components",
                                  zorder=6))
    b = tuple(shapely.total_bounds(np.asarray(grids.geometry.values, dtype=object)))
    maps._frame(ax, b)
    maps._north_and_scale(ax, b)
    from matplotlib.patches import Patch

    handles.insert(0, Patch(facecolor="#f5a25d", edgecolor="#b35900", label="抽样网格 sampled grids"))
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.85)
    ax.set_title("验收抽样网格 / Acceptance sample", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=maps.DPI)
    plt.close(fig)
    return str(path)


def _group_rows(df: pd.DataFrame, keys: list) -> list:
    out = []
    for r in df.to_dict("records"):
        row = [r.get(k, "") if r.get(k) is not None else "" for k in keys]
        for k, _ in GROUP_COLUMNS:
            v = r.get(k)
            row.append(pct(v) if k.endswith("_rate") else num(v) if k == "rms_m" else v)
        out.append(row)
    return out


def collect(proj, result: dict, thresholds: dict, meta: dict, sample_grids, items, missing, map_png) -> dict:
    o = result["overall"]
    grades = thresholds["grades"]
    limit_rows = []
    for key, zh, en in RATE_LABELS:
        limit_rows.append([f"{zh} {en}", pct(o[key])] + [pct(float(g[key])) if g.get(key) is not None else "—" for g in grades])
    ch = result["checks"]
    ctx = items.set_index("item_no")
    checks_rows = []
    for r in ch.sort_values(["street_code", "BGID", "item_no"]).to_dict("records"):
        it = ctx.loc[int(r["item_no"])] if int(r["item_no"]) in ctx.index else None
        verdict = []
        if r["is_error"]:
            verdict.append("错误")
        if r["is_position_error"]:
            verdict.append("精度超限" if r["beyond_tolerance"] and r["result"] != "位置错误" else "位置错误")
        checks_rows.append([r["ObjID"], r["class_code"], "" if it is None else it["class_name"], r["BGID"], r["result"],
                            num(r["offset_m"], 2), num(r["tolerance_m"], 1), "、".join(verdict) or "—", r["note"]])
    missing_rows = [[m["class_code"], proj.profile.component_class(m["class_code"])["name"]
                     if proj.profile.component_class(m["class_code"]) is not None else "", f"{m['X']:.3f}", f"{m['Y']:.3f}",
                     m["BGID"], m["note"]] for m in missing.to_dict("records")]
    return {
        "meta": {"title": proj.meta.get("title", ""), "county": proj.county, "county_name": proj.meta.get("county_name", ""),
                 "profile": proj.profile.id, "crs": proj.meta.get("crs", ""),
                 "generated": _dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
                 "plan_id": meta.get("plan_id", ""), "seed": meta.get("seed", ""), "rate": meta.get("rate", ""),
                 "min_per_street": meta.get("min_per_street", ""), "grids_total": meta.get("grids_total", ""),
                 "grids_sampled": meta.get("grids_sampled", ""), "components_sampled": meta.get("components_sampled", ""),
                 "version": _version()},
        "overall": {**o, **{f"{k}_pct": pct(o[k]) for k, _, _ in RATE_LABELS}, "rms_txt": num(o["rms_m"]),
                    "max_offset_txt": num(o["max_offset_m"])},
        "grade_names": [g["grade"] for g in grades],
        "limit_rows": limit_rows,
        "threshold_rows": [[g["grade"], g.get("en", ""), pct(g.get("error_rate")), pct(g.get("omission_rate")),
                            pct(g.get("position_error_rate")), g.get("provenance", ""), g.get("source", "")] for g in grades],
        "min_checked": thresholds.get("min_checked", 0),
        "threshold_sources": thresholds.get("sources", []),
        "tolerances": [[k, f"{float(v.get('max_error_m')):g}", v.get("provenance", ""), v.get("source", "")]
                       for k, v in proj.profile.accuracy_grades.items()],
        "class_columns": ["类别代码", "类别名称", "限差 m"] + [c for _, c in GROUP_COLUMNS],
        "class_rows": _group_rows(result["by_class"], ["class_code", "class_name", "tolerance_m"]) if len(result["by_class"]) else [],
        "street_columns": ["街道代码", "街道名称", "抽样部件"] + [c for _, c in GROUP_COLUMNS],
        "street_rows": _group_rows(result["by_street"], ["street_code", "street_name", "sampled"]) if len(result["by_street"]) else [],
        "grid_rows": [[g["BGID"], f"{g['street_name'] or ''} {g['street_code']}".strip(), g["reason"], int(g["components"])]
                      for g in sample_grids.drop(columns="geometry").sort_values("BGID").to_dict("records")],
        "checks_rows": checks_rows,
        "missing_rows": missing_rows,
        "map": map_png,
    }


def _version() -> str:
    from .. import __version__

    return __version__


def render_html(data: dict) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html", "j2"], default=True))
    with open(data["map"], "rb") as fh:
        src = "data:image/png;base64," + base64.b64encode(fh.read()).decode("ascii")
    return env.get_template("acceptance.html.j2").render(d=data, map_src=src)


def write_xlsx(data: dict, path) -> None:
    from openpyxl.drawing.image import Image as XLImage
    from openpyxl.styles import Font

    from ..responsibility.xlsx import new_workbook, save_atomic, write_sheet

    wb = new_workbook()
    m, o = data["meta"], data["overall"]
    rows = [["评级 Grade", f"{o['grade']} {o['en']}"], ["检查部件数 Checked", o["checked"]], ["遗漏部件数 Missing", o["missing"]],
            ["错误率 Error rate", o["error_rate_pct"]], ["遗漏率 Omission rate", o["omission_rate_pct"]],
            ["精度误差率 Position-error rate", o["position_error_rate_pct"]], ["偏差 RMS 米 Offset RMS (m)", o["rms_txt"]],
            ["最大偏差 米 Max offset (m)", o["max_offset_txt"]], ["实测偏差数 Measured offsets", o["offsets"]],
            ["抽样方案 Plan", m["plan_id"]], ["随机种子 Seed", str(m["seed"])], ["抽样比例 Rate", str(m["rate"])],
            ["每街道最少网格 Min per street", str(m["min_per_street"])],
            ["抽样网格 Sampled grids", f"{m['grids_sampled']} / {m['grids_total']}"],
            ["抽样部件 Sampled components", str(m["components_sampled"])], ["标准配置 Profile", m["profile"]],
            ["坐标系 CRS", m["crs"]], ["生成时间 Generated", m["generated"]], ["软件 Software", f"surveytools {m['version']}"]]
    write_sheet(wb, "总体", ["指标 Measure", "值 Value"], rows, caption=f"验收报告 Acceptance report — {m['title']}",
                widths={"指标 Measure": 34, "值 Value": 30})
    write_sheet(wb, "评级阈值", ["指标 Measure", "本次 This delivery"] + data["grade_names"], data["limit_rows"],
                caption="各等级上限 Limits per grade")
    write_sheet(wb, "阈值来源", ["等级", "Grade", "错误率", "遗漏率", "精度误差率", "可信度 provenance", "来源 source"],
                data["threshold_rows"], caption="阈值与来源（本项目重建，城市可覆盖） Thresholds and sources (our reconstruction; "
                                                "a city may override them)", widths={"来源 source": 60})
    write_sheet(wb, "按类别", data["class_columns"], data["class_rows"], caption="按部件类别 Per class")
    write_sheet(wb, "按街道", data["street_columns"], data["street_rows"], caption="按街道 Per street")
    write_sheet(wb, "抽样网格", ["单元网格", "街道", "抽中原因", "部件数"], data["grid_rows"], caption="抽样网格 Sampled grids")
    write_sheet(wb, "检查记录", ["ObjID", "类别代码", "类别名称", "单元网格", "检查结果", "偏差米", "限差米", "判定", "备注"],
                data["checks_rows"], caption="检查记录及判定 Check records and judgement")
    write_sheet(wb, "遗漏部件", ["类别代码", "类别名称", "X", "Y", "单元网格", "备注"], data["missing_rows"],
                caption="遗漏部件 Missing components")
    for ws in wb.worksheets:  # every value stays a value: no formula from user text
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    c.data_type = "s"
    ws = wb.create_sheet("地图")
    ws["A1"] = "抽样网格图 Map of the sampled grids"
    ws["A1"].font = Font(bold=True, size=13)
    img = XLImage(data["map"])
    scale = 900 / img.width
    img.width, img.height = int(img.width * scale), int(img.height * scale)
    ws.add_image(img, "A3")
    save_atomic(wb, path)


def build_report(proj, out, result, thresholds, meta, sample_grids, items, missing, feedback) -> dict:
    from ..export.manual import write_pdf

    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise SurveyError(Text("输出目录的上级目录不存在", "the parent of the output folder does not exist"), code="no_dir",
                          file=str(parent))
    if out.exists() and not out.is_dir():
        raise SurveyError(Text("输出路径不是目录", "the output path is not a folder"), code="not_dir", file=str(out))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        png = tmp / "sample_map.png"
        draw_map(png, proj, sample_grids, result["checks"], missing, items)
        feedback.progress(60)
        data = collect(proj, result, thresholds, meta, sample_grids, items, missing, str(png))
        write_xlsx(data, tmp / "report.xlsx")
        html = render_html(data)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        feedback.progress(75)
        pages = write_pdf(html, tmp / "report.pdf")
        feedback.progress(95)
        files = ["report.html", "report.xlsx", "report.pdf", "sample_map.png"]
        out.mkdir(exist_ok=True)
        for f in files:
            os.replace(tmp / f, out / f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"files": files, "pdf_pages": pages}
