"""Readers that say what they did (surveytools.io): typed coordinates, CRS plausibility, Shapefile
.cpg against the bytes, damaged Shapefiles, one table reader (encodings, visible sheets, empty files)."""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from surveytools.errors import SurveyError
from surveytools.io import check_shapefile, detect_dbf_encoding
from surveytools.io.coords import crs_mismatch, parse_numbers, parse_one
from surveytools.io.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
GBK_SHP = ROOT / "sample_data" / "guixi" / "survey" / "components_b_gbk.shp"


@pytest.mark.parametrize("text,value", [
    ("117.2073", 117.2073), ("117,2073", 117.2073), ("１１７．２０７３", 117.2073), ("117.2073°E", 117.2073),
    ("E117.2073", 117.2073), ("东经117.2073", 117.2073), ("117°12′26.28″", 117 + 12 / 60 + 26.28 / 3600),
    ("117°12'26.28\"E", 117 + 12 / 60 + 26.28 / 3600), ("117度12分26.28秒", 117 + 12 / 60 + 26.28 / 3600),
    ("28.5S", -28.5), ("-28.5", -28.5), (" 3,132,288.5 ", 3132288.5), ("北纬28°30′", 28.5),
])
def test_coordinates_as_users_type_them(text, value):
    assert math.isclose(parse_one(text), value, rel_tol=0, abs_tol=1e-9)


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "117.2.3", "117°75′", "", None, "1１7..2"])
def test_what_is_not_a_coordinate_is_not_guessed(text):
    v, empty, bad = parse_numbers([text])
    assert np.isnan(v[0]) and (empty[0] or bad[0])


def test_parse_numbers_is_whole_array():
    v, empty, bad = parse_numbers(["117.1", "117,2", None, "x", "１１７．３"])
    assert np.allclose(v[[0, 1, 4]], [117.1, 117.2, 117.3])
    assert empty.tolist() == [False, False, True, False, False]
    assert bad.tolist() == [False, False, False, True, False]


def test_degrees_declared_as_metres_and_metres_as_degrees():
    from pyproj import CRS

    assert crs_mismatch((117.19, 28.28, 117.21, 28.29), CRS.from_epsg(4548)) == "degrees_as_projected"
    assert crs_mismatch((520000, 3130000, 525000, 3135000), CRS.from_epsg(4326)) == "projected_as_degrees"
    assert crs_mismatch((520000, 3130000, 525000, 3135000), CRS.from_epsg(4548)) is None
    assert crs_mismatch((117.19, 28.28, 117.21, 28.29), CRS.from_epsg(4326)) is None
    assert crs_mismatch((0, 0, 50, 50), CRS.from_epsg(4548)) is None  # metres near the false origin, not degrees there


def _copy_shp(tmp_path, name="s"):
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copy(GBK_SHP.with_suffix(ext), tmp_path / f"{name}{ext}")
    return tmp_path / f"{name}.shp"


@pytest.mark.parametrize("cpg", ["ISO-8859-1", "UTF-8", "1252"])
def test_a_lying_cpg_is_overridden_by_the_bytes_and_said(tmp_path, cpg):
    shp = _copy_shp(tmp_path)
    (tmp_path / "s.cpg").write_text(cpg)
    notes = []
    enc, detected = detect_dbf_encoding(str(shp), notes)
    assert enc == "GB18030" and detected
    assert notes and cpg in notes[0].en and "GB18030" in notes[0].zh


def test_a_truthful_cpg_is_kept_quietly(tmp_path):
    shp = _copy_shp(tmp_path)
    (tmp_path / "s.cpg").write_text("GBK")
    notes = []
    assert detect_dbf_encoding(str(shp), notes) == ("GB18030", False) and notes == []


def test_utf8_bytes_under_a_gbk_cpg(tmp_path):
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"name": ["花园街道"]}, geometry=[shapely.Point(1, 1)], crs="EPSG:4548").to_file(
        tmp_path / "u.shp", encoding="utf-8")
    (tmp_path / "u.cpg").write_text("GBK")
    notes = []
    assert detect_dbf_encoding(str(tmp_path / "u.shp"), notes)[0] == "UTF-8" and notes


def test_a_truncated_shapefile_is_called_damaged(tmp_path):
    shp = _copy_shp(tmp_path)
    check_shapefile(str(shp))
    data = shp.read_bytes()
    shp.write_bytes(data[:3000])
    with pytest.raises(SurveyError) as e:
        check_shapefile(str(shp))
    assert e.value.code == "damaged" and "3000" in e.value.render() and "损坏" in e.value.render()
    dbf = tmp_path / "s.dbf"
    shp.write_bytes(data)
    dbf.write_bytes(dbf.read_bytes()[:5000])
    with pytest.raises(SurveyError) as e:
        check_shapefile(str(shp))
    assert "s.dbf" in e.value.render() and "truncated" in e.value.render("en")


def test_tables_empty_undecodable_folder(tmp_path):
    z = tmp_path / "zero.csv"
    z.write_bytes(b"")
    with pytest.raises(SurveyError) as e:
        read_table(z)
    assert e.value.code == "empty_file" and "0" in e.value.render()
    bad = tmp_path / "bad.csv"
    bad.write_bytes("名称,值\n".encode("utf-8") + b"\xff\xfe\xfa\x00\x81\n")
    with pytest.raises(SurveyError) as e:
        read_table(bad)
    assert e.value.code == "encoding" and "line 2" in e.value.render("en")
    d = tmp_path / "folder.csv"
    d.mkdir()
    with pytest.raises(SurveyError) as e:
        read_table(d)
    assert e.value.code == "is_directory"


def test_gbk_and_utf8_csv_read_the_same(tmp_path):
    text = "名称,经度\n花园街道,117.2\n"
    (tmp_path / "g.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "u.csv").write_bytes(text.encode("utf-8-sig"))
    g, gs = read_table(tmp_path / "g.csv")
    u, us = read_table(tmp_path / "u.csv")
    assert g.equals(u) and gs.encoding == "GB18030" and us.encoding == "UTF-8"


def test_xlsx_reads_the_first_visible_sheet_and_says_so(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "旧表"
    old.append(["a"])
    old.append(["stale"])
    old.sheet_state = "hidden"
    cur = wb.create_sheet("现行")
    cur.append(["a"])
    cur.append(["fresh"])
    f = tmp_path / "b.xlsx"
    wb.save(f)
    df, src = read_table(f)
    assert df["a"].tolist() == ["fresh"] and src.layer == "现行"
    assert "旧表" in src.notes[0].zh and "hidden" in src.notes[0].en
    df, src = read_table(f, "旧表")
    assert df["a"].tolist() == ["stale"] and "hidden" in src.notes[0].en
    with pytest.raises(SurveyError):
        read_table(f, "无此表")
