"""Profiles: the three standard profiles, city extension rules, import of an official class table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from surveytools.errors import SurveyError
from surveytools.profiles import ProfileError, list_profiles, load_profile
from surveytools.profiles.importer import import_classes

ROOT = Path(__file__).resolve().parents[1]
CJT = ROOT / "standards" / "cjt"


@pytest.mark.parametrize("pid,lengths", [("cjt", (14, 16, 10, 4)), ("gbt30428", (15, 16, 10, 4)),
                                         ("gbt47678", (15, 17, 11, 5))])
def test_profiles_load(pid, lengths):
    p = load_profile(pid)
    got = tuple(p.codes[k].length for k in ("unit_grid", "component_id", "event_code", "class"))
    assert got == lengths
    for df in (p.component_classes, p.event_classes):
        assert len(df) > 0
        assert (df["provenance"] != "").all() and (df["source"] != "").all()
        assert (df["code"].str.len() == lengths[3]).all()


def test_list_profiles_includes_city():
    ids = {p["id"] for p in list_profiles()}
    assert {"cjt", "gbt30428", "gbt47678", "guixi"} <= ids


def test_guixi_extends_cjt():
    p = load_profile("guixi")
    base = load_profile("cjt")
    assert p.chain == ["guixi", "cjt"]
    assert len(p.component_classes) == len(base.component_classes) + 3
    assert p.component_class("2101")["name"] == "防蚊闸"
    assert p.component_class("2101")["provenance"] == "local"
    assert p.component_class("0101")["name"] == "供水井盖" and "上水井盖" in p.component_class("0101")["aliases"]
    assert p.event_class("2101") is not None
    assert p.field("component", "qr_code") == "QRCode"
    assert (p.component_classes["source"] != "").all()


def _city(tmp_path, comp_rows=None, fields_rows=None, yaml_extra="", extends="cjt", pid="city"):
    d = tmp_path / pid
    d.mkdir(parents=True, exist_ok=True)
    (d / "profile.yaml").write_text(f"id: {pid}\nextends: {extends}\nstatus: local\n{yaml_extra}", encoding="utf-8")
    head = "code,major_code,major_name,name,geometry,accuracy,aliases,status,provenance,source,notes\n"
    if comp_rows:
        (d / "component_classes.csv").write_text(head + "\n".join(comp_rows) + "\n", encoding="utf-8")
    if fields_rows:
        (d / "fields.csv").write_text("layer,role,name,alias_zh,alias_en,type,length,constraint,domain,provenance,source,notes\n"
                                      + "\n".join(fields_rows) + "\n", encoding="utf-8")
    return d


def test_extension_collision_rejected(tmp_path):
    d = _city(tmp_path, ["0101,01,公用设施,我的井盖,point,A,,extension,local,test,"])
    with pytest.raises(ProfileError) as e:
        load_profile(d)
    assert e.value.code == "code_collision" and e.value.value == "0101"
    assert "component_classes.csv" in e.value.file and "冲突" in e.value.message.zh


def test_extension_reserved_range_rejected(tmp_path):
    d = _city(tmp_path, ["0140,01,公用设施,新井盖,point,A,,extension,local,test,"])
    with pytest.raises(ProfileError) as e:
        load_profile(d)
    assert e.value.code == "reserved_code" and e.value.value == "0140"
    assert "21" in e.value.message.en and "component_classes.csv" in e.value.file


def test_extension_valid_ranges_accepted(tmp_path):
    d = _city(tmp_path, ["0198,01,公用设施,甲,point,A,,extension,local,test,",
                         "2201,22,扩展二,乙,point,A,,extension,local,test,"])
    p = load_profile(d)
    assert {"0198", "2201"} <= set(p.component_classes["code"])


def test_extra_field_collision_rejected(tmp_path):
    d = _city(tmp_path, fields_rows=["component,my_id,ObjID,重复,dup,text,16,O,,local,test,"])
    with pytest.raises(ProfileError) as e:
        load_profile(d)
    assert e.value.code == "field_collision" and e.value.value == "ObjID" and "fields.csv" in e.value.file


def test_extends_cycle_rejected(tmp_path):
    _city(tmp_path, extends="b", pid="a")
    _city(tmp_path, extends="a", pid="b")
    with pytest.raises(ProfileError) as e:
        load_profile(tmp_path / "a")
    assert "a -> b -> a" in e.value.message.en and "profile.yaml" in e.value.file


def test_bad_rename_rejected(tmp_path):
    d = _city(tmp_path, yaml_extra="renames:\n  component:\n    '0999': 不存在\n")
    with pytest.raises(ProfileError) as e:
        load_profile(d)
    assert e.value.value == "0999"


# --------------------------------------------------------------------------------------------
# import of an official class table

OFFICIAL = [  # 大类代码, 大类名称, 小类代码, 小类名称, 几何类型, 备注
    ("01", "公用设施", "01", "上水井盖", "点", ""),        # same
    ("01", "公用设施", "02", "污水井盖（市政）", "点", ""),  # renamed
    ("1", "公用设施", "3", "雨水井盖", "", ""),             # lost leading zeros -> 0103 same
    ("21", "扩展部件", "01", "防蚊闸", "点", "本市扩展"),    # new
    ("01", "公用设施", "0x", "坏代码", "点", ""),           # invalid: charset
    ("01", "公用设施", "04", "", "点", ""),                 # invalid: empty name
    ("01", "公用设施", "01", "上水井盖重复", "点", ""),     # invalid: duplicate
]


def _write_csv_gbk(path):
    rows = ["贵溪市数字化城管部件分类表", "大类代码,大类名称,小类代码,小类名称,几何类型,备注"]
    rows += [",".join(r) for r in OFFICIAL]
    path.write_bytes("\n".join(rows).encode("gbk"))
    return path


def _write_xlsx(path):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "部件"
    ws.append(["代码", "部件名称", "空间类型", "定位精度"])  # combined code column, some as numbers
    ws.append([101, "上水井盖", "点", "A"])          # number lost its leading zero -> 0101 same
    ws.append(["01-02", "污水井盖", "点", "A"])      # 0102 same
    ws.append(["010003", "雨水箅子改", "点", "B"])    # 0103 renamed (base 雨水井盖)
    ws.append(["2101", "防蚊闸", "点", "B"])          # new
    ws.append([None, None, None, None])              # blank row ignored
    ws.append(["0199", "其他井盖", "点", "A"])        # new (not in base)
    wb.save(path)
    return path


def test_import_csv_gbk_fails_on_invalid_rows(tmp_path):
    src = _write_csv_gbk(tmp_path / "official.csv")
    out = tmp_path / "guixi_official"
    with pytest.raises(SurveyError) as e:
        import_classes(src, base="cjt", kind="component", out=out, profile_id="gx")
    assert e.value.code == "invalid_rows"
    assert "第 7 行" in e.value.message.zh and "line 9" in e.value.message.en
    assert (out / "mapping_report.csv").exists() and not (out / "profile.yaml").exists()


def test_import_csv_gbk_skip_invalid(tmp_path):
    src = _write_csv_gbk(tmp_path / "official.csv")
    out = tmp_path / "gx"
    res = import_classes(src, base="cjt", kind="component", out=out, profile_id="gx", skip_invalid=True)
    assert res.encoding == "gbk"
    rep = res.report.set_index("code", drop=False)
    cats = dict(zip(res.report["raw_code"], res.report["category"]))
    assert res.counts["same"] == 2 and res.counts["renamed"] == 1 and res.counts["new"] == 1
    assert res.counts["invalid"] == 3
    assert res.counts["missing"] == len(load_profile("cjt").component_classes) - 3
    assert cats["1|3"] == "same"
    inval = res.report[res.report["category"] == "invalid"]
    assert set(inval["reason"]) == {"charset", "empty_name", "duplicate"}
    assert set(inval["line"]) == {7, 8, 9}
    p = load_profile(out)
    assert p.chain == ["gx", "cjt"]
    assert len(p.component_classes) == 4
    assert set(p.component_classes["provenance"]) == {"official"}
    assert p.component_classes["source"].str.startswith("imported from official.csv on ").all()
    row = p.component_class("0102")
    assert row["name"] == "污水井盖（市政）" and "污水井盖" in row["aliases"]
    assert p.component_class("2101")["major_name"] == "扩展部件"
    assert len(p.event_classes) == len(load_profile("cjt").event_classes)  # events inherited
    md = (out / "mapping_report.md").read_text(encoding="utf-8")
    assert "renamed" in md and "invalid" in md
    assert rep.loc["0102", "base_name"] == "污水井盖"


def test_import_xlsx(tmp_path):
    src = _write_xlsx(tmp_path / "official.xlsx")
    out = tmp_path / "gx2"
    res = import_classes(src, base="cjt", kind="component", out=out, profile_id="gx2", sheet="部件")
    assert res.sheet == "部件" and res.counts["invalid"] == 0
    cats = dict(zip(res.report["code"], res.report["category"]))
    assert cats["0101"] == "same" and cats["0102"] == "same" and cats["0103"] == "renamed"
    assert cats["2101"] == "new" and cats["0199"] == "new" and cats["0104"] == "missing"
    p = load_profile(out)
    assert p.component_class("0103")["accuracy"] == "B"
    assert "imported from official.xlsx (部件) on" in p.component_class("0103")["source"]


def test_import_no_header(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SurveyError) as e:
        import_classes(src, out=tmp_path / "o", profile_id="o")
    assert e.value.code == "no_header"


def test_cli_profile_commands(tmp_path):
    from click.testing import CliRunner

    from surveytools.cli import build_cli
    cli = build_cli()
    r = CliRunner()
    res = r.invoke(cli, ["profile", "list", "--json"])
    assert res.exit_code == 0 and "guixi" in {p["id"] for p in json.loads(res.stdout)["profiles"]}
    res = r.invoke(cli, ["profile", "show", "gbt47678", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["codes"]["component_id"]["length"] == 17
    src = _write_csv_gbk(tmp_path / "official.csv")
    res = r.invoke(cli, ["profile", "import-classes", "--source", str(src), "--out", str(tmp_path / "g"),
                         "--id", "g", "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout)["error"]["code"] == "invalid_rows"
    res = r.invoke(cli, ["profile", "import-classes", "--source", str(src), "--out", str(tmp_path / "g"),
                         "--id", "g", "--skip-invalid", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["counts"]["renamed"] == 1 and data["written"] == 4
    assert (tmp_path / "g" / "profile.yaml").exists()
