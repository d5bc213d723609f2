"""The command manual: XLSX sheets, HTML sections (autoescaped), PDF with embedded CJK fonts and maps."""
import shutil
import subprocess

import pytest
from export_fixture import PARK_CODE, assigned, copy

SHEETS = ["封面 Cover", "1 总体流程", "2 部件标准", "3 事件标准", "4 责任单位", "5 责任区域和工作网格", "6 部件统计", "6 网格统计", "7 地图"]


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    from surveytools.export.ops import manual as op

    src, info, _ = assigned()
    d = tmp_path_factory.mktemp("manual")
    p = copy(src, d)
    res = op(str(p), out=str(d / "out"))
    return d / "out", res, info


def test_manual_xlsx_sections_and_print_setup(manual):
    from openpyxl import load_workbook

    out, res, _ = manual
    wb = load_workbook(out / "manual.xlsx")
    assert wb.sheetnames == SHEETS
    ws = wb["2 部件标准"]
    codes = [r[2] for r in ws.iter_rows(min_row=3, values_only=True)]
    assert len(codes) == res.data["component_classes"] == 85 and "0101" in codes
    row = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[2] == "0118")
    assert row[3] == "路灯" and "路灯" in row[4] and row[7] == "贵溪市路灯管理所" and "工作时" in row[6]
    assert ws.print_title_rows.replace("$", "") == "2:2" and ws.page_setup.fitToWidth == 1 and ws.page_setup.orientation == "landscape"
    ev = [r for r in wb["3 事件标准"].iter_rows(min_row=3, values_only=True)]
    assert len(ev) == 54
    assert next(r for r in ev if r[2] == "0110")[7] == "属地街道办事处"
    flow = [r[1] for r in wb["1 总体流程"].iter_rows(min_row=3, values_only=True)]
    assert flow == ["信息收集", "案卷建立", "任务派遣", "任务处理", "处理反馈", "核查结案", "综合评价"]
    assert len(wb["7 地图"]._images) == res.data["maps"] == 5
    stats = list(wb["6 网格统计"].iter_rows(min_row=3, values_only=True))
    assert len(stats) == 21 and stats[-1][0] == "合计"


def test_manual_html_sections_and_autoescape(manual):
    from surveytools.export.manual import render_html

    out, _, _ = manual
    html = (out / "manual.html").read_text(encoding="utf-8")
    for sid in ("sec-workflow", "sec-components", "sec-events", "sec-departments", "sec-areas", "sec-stats", "sec-maps"):
        assert f'id="{sid}"' in html and f'href="#{sid}"' in html
    assert html.count("data:image/png;base64,") == 5 and "信江公园（测试）" in html
    data = {"meta": {k: "<b>x</b>" for k in ("title", "title_short", "county", "county_name", "profile", "edition", "crs",
                                             "generated", "version", "notice", "deadline_note")},
            "workflow": [], "classes": [], "departments": [{"dept_id": "1", "name": "<script>alert(1)</script>", "role": "",
                                                             "code": "", "parent_name": "", "street_name": "", "contact": "", "phone": ""}],
            "area_tables": [], "stats": {"components": {"columns": [], "rows": []}, "grids": {"columns": [], "rows": []}},
            "maps": [], "sections": []}
    h = render_html(data)
    assert "<script>alert" not in h and "&lt;script&gt;" in h and "<b>x</b>" not in h


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils is not installed")
def test_manual_pdf_chinese_renders(manual, tmp_path):
    import numpy as np
    from PIL import Image

    out, res, _ = manual
    pdf = out / "manual.pdf"
    assert res.data["pdf_pages"] > 10
    fonts = subprocess.run(["pdffonts", pdf], capture_output=True, text=True, check=True).stdout
    cjk = [ln for ln in fonts.splitlines() if "Noto-Sans-CJK" in ln]
    assert cjk and all(" yes yes " in ln for ln in cjk)  # embedded and subset
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "2", pdf, "-"], capture_output=True, text=True, check=True).stdout
    assert "贵溪市城区数字化城管基础数据（测试）" in text and "指挥手册" in text
    assert "总体流程" in text and "部件立案结案标准及责任单位" in text  # the table of contents ...
    toc = [ln for ln in text.splitlines() if "总体流程" in ln and "..." in ln]
    assert toc and toc[0].rstrip().split(".")[-1].strip().isdigit()  # ... with page numbers
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, tmp_path / "p1"], check=True)
    img = np.asarray(Image.open(tmp_path / "p1.png").convert("L"))
    h = img.shape[0]
    title = img[int(h * 0.30):int(h * 0.40), :]  # the title band of the cover (28 pt, 45 mm from the top)
    assert (title < 128).sum() > 2000, "the Chinese title did not render"
    assert (img[:int(h * 0.25), :] < 128).sum() == 0  # nothing above it: the dark pixels are the title
    last = subprocess.run(["pdftotext", "-f", str(res.data["pdf_pages"]), "-l", str(res.data["pdf_pages"]), pdf, "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "单元网格分布图" in last or "图" in last


def test_manual_data_counts_every_component_grid_and_area(tmp_path):
    """The manual's statistics add up to the project (every component of the three layers once, every
    unit grid once), the areas section lists the responsibility areas; without a dispatch matrix the
    profile's defaults are shown with a warning."""
    import pyogrio

    from surveytools.export.manual import collect
    from surveytools.feedback import Feedback
    from surveytools.project import Project

    src, info, _ = assigned()
    d = collect(Project.open(copy(src, tmp_path)), tmp_path, Feedback())
    comp = d["stats"]["components"]
    assert comp["rows"][-1][:2] == ["合计", "Total"]
    assert comp["rows"][-1][-1] == info["points"] + info["lines"] + info["polygons"]
    assert sum(r[-1] for r in comp["rows"][:-1]) == comp["rows"][-1][-1]
    grids = d["stats"]["grids"]["rows"]
    assert grids[-1][4] == sum(r[4] for r in grids[:-1]) == pyogrio.read_info(str(src), layer="unit_grids")["features"]
    areas = d["area_tables"][0]
    assert areas["en"] == "Responsibility areas" and PARK_CODE in {r[0] for r in areas["rows"]}
    assert not d["warnings"] and [k["count"] for k in d["classes"]] == [85, 54]
    assert all(r["lead"] for k in d["classes"] for mj in k["majors"] for r in mj["rows"])
    bare = tmp_path / "bare"
    bare.mkdir()
    p = copy(src, bare)
    import sqlite3

    con = sqlite3.connect(str(p))
    con.execute("DELETE FROM dispatch_matrix")
    con.commit()
    con.close()
    d2 = collect(Project.open(p), bare, Feedback())
    assert len(d2["warnings"]) == 1 and "dispatch matrix" in d2["warnings"][0].en
