"""Excel survey templates: drop-downs, frozen header, instructions, lossless round trip."""
import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_template_workbook(tmp_path, cli):
    out = tmp_path / "survey.xlsx"
    code, stdout, err = cli(["components", "template", out, "--classes", "0101,0102,0305,0211", "--json"])
    assert code == 0, err
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "部件采集"
    ws = wb["部件采集"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[:3] == ["部件标识码", "部件名称", "部件状态"]
    assert {"经度", "纬度", "几何WKT"} <= set(header)  # points, and a line class
    lists = wb["_lists"]
    assert lists.sheet_state == "hidden"
    names = [c.value for c in lists["A"][1:] if c.value]
    assert names == ["上水井盖", "污水井盖", "垃圾箱", "交通护栏"]
    states = [c.value for c in lists["B"][1:] if c.value]
    assert "完好" in states and "丢失" in states
    dvs = ws.data_validations.dataValidation
    formulas = {dv.formula1 for dv in dvs}
    assert any("$A$2" in f for f in formulas if f) and any("$B$2" in f for f in formulas if f)
    info = wb["说明 Instructions"]
    text = "\n".join(str(c.value) for c in info["A"] if c.value)
    assert "填写说明" in text and "Instructions" in text and "--coords gcj02" in text
    # an unknown class is an error; an existing file needs --overwrite
    code, _, err = cli(["components", "template", tmp_path / "x.xlsx", "--classes", "0199"])
    assert code == 2
    code, _, err = cli(["components", "template", out, "--classes", "0101"])
    assert code == 2


def test_departments_drop_down_from_the_project(components_grid_project, tmp_path):
    from surveytools.components.template import write_template
    from surveytools.project import Project, write_table

    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    depts = pd.read_excel(ROOT / "sample_data" / "guixi" / "survey" / "departments.xlsx", dtype=str)
    proj = Project.open(p)
    with proj.transaction() as work:
        write_table(work, "departments", depts.rename(columns={"DeptName": "name", "DeptCode": "dept_id"}))
    data = write_template(tmp_path / "t.xlsx", "0101", project=str(p))
    assert data["departments"] == len(depts)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    got = [c.value for c in wb["_lists"]["C"][1:] if c.value]
    assert sorted(got) == sorted(depts["DeptName"])


def test_a_filled_template_imports_back_losslessly(components_grid_project, tmp_path):
    from pyproj import Transformer

    from surveytools.components.intake import intake
    from surveytools.components.template import write_template

    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    out = tmp_path / "survey.xlsx"
    write_template(out, "0101,0305,0211")
    wb = openpyxl.load_workbook(out)
    ws = wb["部件采集"]
    header = [c.value for c in ws[1]]
    rows = [
        {"部件名称": "上水井盖", "部件状态": "完好", "主管部门名称": "贵溪市住房和城乡建设局", "主管部门代码": "11360681MB1234567X",
         "权属单位名称": "贵溪市自来水有限责任公司", "养护单位名称": "贵溪市自来水有限责任公司", "初始日期": dt.date(2019, 3, 3),
         "变更日期": dt.date(2024, 6, 1), "数据来源": "实测", "位置描述": "建设路北侧", "材质": "球墨铸铁",
         "图片": "img/0001.jpg", "备注": "井盖有裂纹", "经度": 117.2209998, "纬度": 28.2933146},
        {"部件名称": "垃圾箱", "部件状态": "破损", "主管部门名称": "贵溪市城市管理局", "初始日期": dt.date(2020, 1, 15),
         "位置描述": "雄石路南侧", "材质": "不锈钢", "经度": 117.2150001, "纬度": 28.2901234},
        {"部件名称": "交通护栏", "部件状态": "完好", "主管部门名称": "贵溪市公安局交通管理大队", "初始日期": dt.date(2018, 8, 8),
         "位置描述": "东门大道中央隔离带", "几何WKT": "LINESTRING (117.2209 28.2933, 117.2219 28.2935)"},
    ]
    for i, r in enumerate(rows, start=2):
        for j, h in enumerate(header, start=1):
            if h in r:
                ws.cell(row=i, column=j, value=r[h])
    wb.save(out)
    data = intake(str(p), str(out))  # no mapping file needed
    assert data["imported"] == {"component_point": 2, "component_line": 1} and data["rejected"] == 0
    pts = pyogrio.read_dataframe(str(p), layer="components_point")
    lines = pyogrio.read_dataframe(str(p), layer="components_line")
    fields = {"部件名称": "ObjName", "部件状态": "ObjState", "主管部门名称": "DeptName1", "主管部门代码": "DeptCode1",
              "权属单位名称": "DeptName2", "养护单位名称": "DeptName3", "数据来源": "DataSource", "位置描述": "LocateDSC",
              "材质": "Material", "图片": "Picture", "备注": "Note"}
    tr = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
    for r, (_, got) in zip(rows[:2], pts.iterrows()):
        for zh, f in fields.items():
            assert (got[f] if pd.notna(got[f]) else None) == r.get(zh), f
        assert got["ORDate"].date() == r["初始日期"]
        if "变更日期" in r:
            assert got["CHDate"].date() == r["变更日期"]
        x, y = tr.transform(r["经度"], r["纬度"])
        assert abs(got.geometry.x - x) < 1e-6 and abs(got.geometry.y - y) < 1e-6
        assert got["ObjID"].startswith("360681" + got["ClassCode"]) and got["BGID"]
    assert lines["ObjName"].iloc[0] == "交通护栏" and lines["LocateDSC"].iloc[0] == "东门大道中央隔离带"
    assert len(lines.geometry.iloc[0].coords) == 2


@pytest.mark.parametrize("profile", ["gbt30428", "gbt47678"])
def test_templates_follow_the_profile(tmp_path, profile):
    from surveytools.components.template import write_template
    from surveytools.profiles import load_profile

    prof = load_profile(profile)
    code = prof.component_classes["code"].iloc[0]
    data = write_template(tmp_path / "t.xlsx", code, profile=profile)
    assert data["profile"] == profile
    aliases = set(prof.layer_fields("component")["alias_zh"])
    assert set(data["columns"]) - {"经度", "纬度", "几何WKT"} <= aliases
