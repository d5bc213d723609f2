"""The bad-input corpus: one input per kind of trouble users really hand over, run through the CLI.

Every case asserts the exit code (2 for bad input, never 3) and that the message names what is
wrong (file, field, value), in Chinese and English.  The inputs are small and generated here with
real bytes (GBK and UTF-8), so the corpus runs in seconds as part of ``make test``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

CRS = "EPSG:4548"
ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"
BASE = ROOT / "sample_data" / "guixi" / "base.gpkg"


def _grids(p):
    from surveytools import project

    return project.read_layer(project.Project.open(p), "unit_grid")


def _gpkg(tmp, name, gdf, layer="r"):
    f = tmp / f"{name}.gpkg"
    gdf.to_file(f, layer=layer)
    return f"{f}:{layer}"


# -- builders: (tmp, project) -> argv -------------------------------------------------------------

def merge_negative_tolerance(tmp, p):
    return ["components", "merge", p, SURVEY / "components_a.gpkg", "--tolerance", "-5"]


def merge_nan_tolerance(tmp, p):
    return ["components", "merge", p, SURVEY / "components_a.gpkg", "--tolerance", "nan"]


def reverse_nan(tmp, p):
    return ["geocode", "reverse", p, "nan", "nan"]


def recode_one_square(tmp, p):
    g = _grids(p)
    x, y = g.geometry.iloc[0].representative_point().coords[0]
    return ["grid", "recode", p, "--redrawn",
            _gpkg(tmp, "one_square", gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(x, y, x + 100, y + 100)], crs=CRS))]


def recode_shifted(tmp, p):
    g = _grids(p)
    g.loc[3, "geometry"] = shapely.affinity.translate(g.geometry.iloc[3], 30, 0)
    return ["grid", "recode", p, "--redrawn", _gpkg(tmp, "shifted", g[["geometry"]])]


def recode_empty(tmp, p):
    return ["grid", "recode", p, "--redrawn", _gpkg(tmp, "empty_layer", gpd.GeoDataFrame({"a": []}, geometry=[], crs=CRS))]


def import_self_intersecting(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    bow = shapely.Polygon([(500000, 3100000), (500100, 3100100), (500100, 3100000), (500000, 3100100)])
    return ["grid", "import", e, _gpkg(tmp, "bowtie", gpd.GeoDataFrame({"BGID": ["36068100100101"]}, geometry=[bow], crs=CRS))]


def import_15_digits_in_14(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    return ["grid", "import", e, _gpkg(tmp, "codes15", gpd.GeoDataFrame({"BGID": ["360681001001001"]},
                                                                         geometry=[shapely.box(0, 0, 50, 50)], crs=CRS))]


def import_no_code_field(tmp, p):
    from surveytools import project

    e = tmp / "empty_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    return ["grid", "import", e, _gpkg(tmp, "nocode", gpd.GeoDataFrame({"name": ["x"]},
                                                                        geometry=[shapely.box(0, 0, 50, 50)], crs=CRS))]


def divide_without_communities(tmp, p):
    return ["grid", "divide", p, "--overwrite"]


def divide_empty_communities(tmp, p):
    return ["grid", "divide", p, "--communities", "", "--overwrite"]


def scheme_param_wrong_type(tmp, p):
    f = tmp / "bad_scheme.yaml"
    f.write_text("id: bad\nsteps:\n  - {rule: topology.grid_gaps, params: {min_area_m2: abc}}\n", encoding="utf-8")
    return ["validate", "run", p, "--scheme", f, "--out", tmp / "v"]


MAPPINGS = ROOT / "sample_data" / "guixi" / "mappings"
CSV_HEAD = "class_code,class_name,dept_main,dept_owner,dept_maint,state,install_date,survey_date,location,material,note,lon,lat\n"
CSV_ROW = "0103,雨水井盖,贵溪市住房和城乡建设局,贵溪市住房和城乡建设局,贵溪市市政工程管理处,完好,2013-06-09,2024-05-17,柏里大道西侧,铸铁,,\"{lon}\",\"{lat}\"\n"


def _csv(tmp, name, coords, encoding="utf-8"):
    f = tmp / f"{name}.csv"
    f.write_bytes((CSV_HEAD + "".join(CSV_ROW.format(lon=lo, lat=la) for lo, la in coords)).encode(encoding))
    return f


def _intake_csv(tmp, p, f):
    return ["components", "intake", p, f, "--mapping", MAPPINGS / "components_c.yaml"]


def intake_zero_byte_csv(tmp, p):
    f = tmp / "zero.csv"
    f.write_bytes(b"")
    return _intake_csv(tmp, p, f)


def intake_undecodable_csv(tmp, p):
    f = tmp / "latin.csv"
    f.write_bytes(CSV_HEAD.encode() + b"0103,\xff\xfe\xfa\x00\x81,x,x,x,x,2013-06-09,2024-05-17,x,x,,117.2,28.3\n")
    return _intake_csv(tmp, p, f)


def intake_every_coordinate_bad(tmp, p):
    return _intake_csv(tmp, p, _csv(tmp, "all_bad", [("117.2073", "二十八")] * 3))


def intake_latitudes_out_of_range(tmp, p):
    return _intake_csv(tmp, p, _csv(tmp, "lat_range", [("117.2073", "128.3")] * 3))


def intake_typed_coordinates(tmp, p):
    return _intake_csv(tmp, p, _csv(tmp, "typed", [("117,2073784", "28,3020636"), ("１１７．２０７４０５８", "２８．３０１６０３８"),
                                                   ("117.2073784°E", "28.3020636°N"), ("117°12′26.56″", "28°18′7.43″"),
                                                   ("abc", "28.30")], encoding="gbk"))


def intake_swapped_lonlat(tmp, p):
    return _intake_csv(tmp, p, _csv(tmp, "swapped", [("28.3020636", "117.2073784"), ("28.3016038", "117.2074058")]))


def intake_hidden_first_sheet(tmp, p):
    import openpyxl

    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "stale"
    old.sheet_state = "hidden"
    old.append(CSV_HEAD.strip().split(","))
    old.append(CSV_ROW.replace('"', "").format(lon="0", lat="0").strip().split(","))
    cur = wb.create_sheet("current")
    cur.append(CSV_HEAD.strip().split(","))
    cur.append(CSV_ROW.replace('"', "").format(lon="117.2073784", lat="28.3020636").strip().split(","))
    f = tmp / "hidden_first.xlsx"
    wb.save(f)
    return _intake_csv(tmp, p, f)


def _shp(tmp, name):
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copy((SURVEY / "components_b_gbk").with_suffix(ext), tmp / f"{name}{ext}")
    return tmp / f"{name}.shp"


def _intake_shp(p, f):
    return ["components", "intake", p, f, "--mapping", MAPPINGS / "components_b_gbk.yaml"]


def intake_cpg_latin1_on_gbk(tmp, p):
    f = _shp(tmp, "cpg_latin1")
    (tmp / "cpg_latin1.cpg").write_text("ISO-8859-1")
    return _intake_shp(p, f)


def intake_cpg_utf8_on_gbk(tmp, p):
    f = _shp(tmp, "cpg_utf8")
    (tmp / "cpg_utf8.cpg").write_text("UTF-8")
    return _intake_shp(p, f)


def intake_truncated_shp(tmp, p):
    f = _shp(tmp, "truncated")
    f.write_bytes(f.read_bytes()[:3000])
    return _intake_shp(p, f)


def intake_degrees_declared_as_metres(tmp, p):
    f = _shp(tmp, "deg_as_m")
    from pyproj import CRS

    (tmp / "deg_as_m.prj").write_text(CRS.from_epsg(4548).to_wkt("WKT1_ESRI"))
    return _intake_shp(p, f)


def _communities(tmp, name, rows):
    return _gpkg(tmp, name, gpd.GeoDataFrame({"code": [c for c, _ in rows], "name": [f"社区{c[-3:]}" for c, _ in rows]},
                                             geometry=[g for _, g in rows], crs=CRS))


def _new_project(tmp):
    from surveytools import project

    e = tmp / "new_project.gpkg"
    project.init(project=str(e), county="360681", profile="cjt")
    return e


X0, Y0 = 523000.0, 3130000.0


def divide_half_metre_gap(tmp, p):
    c = _communities(tmp, "gap_comms", [("360681001001", shapely.box(X0, Y0, X0 + 300, Y0 + 300)),
                                        ("360681001002", shapely.box(X0 + 300.5, Y0, X0 + 600, Y0 + 300))])
    return ["grid", "divide", _new_project(tmp), "--communities", c]


def divide_unknown_street(tmp, p):
    c = _communities(tmp, "street_comms", [("360681001001", shapely.box(X0, Y0, X0 + 300, Y0 + 300)),
                                           ("360681999001", shapely.box(X0 + 300, Y0, X0 + 600, Y0 + 300))])
    return ["grid", "divide", _new_project(tmp), "--communities", c]


def divide_roads_in_another_zone(tmp, p):
    roads = gpd.read_file(BASE, layer="roads").to_crs(4549).set_crs(CRS, allow_override=True)  # CM 120°E as 117°E
    return ["grid", "divide", _new_project(tmp), "--communities", f"{BASE}:communities", "--lines",
            _gpkg(tmp, "roads_zone120", roads)]


def divide_roads_degrees_as_metres(tmp, p):
    roads = gpd.read_file(BASE, layer="roads").to_crs(4326).set_crs(CRS, allow_override=True)
    return ["grid", "divide", _new_project(tmp), "--communities", f"{BASE}:communities", "--lines",
            _gpkg(tmp, "roads_degrees", roads)]


def aggregate_zero_byte_table(tmp, p):
    f = tmp / "members.csv"
    f.write_bytes(b"")
    return ["grid", "aggregate", p, "--kind", "work", "--members", f]


def parse_ten_thousand_digits(tmp, p):
    return ["geocode", "parse", "贵溪市花园街道建设路" + "9" * 10000 + "号"]


#: (case, builder, exit code, texts the message (stderr, or stdout + stderr on success) must hold)
CASES = [
    ("merge tolerance -5", merge_negative_tolerance, 2, ["--tolerance", "-5", "范围", "range"]),
    ("merge tolerance nan", merge_nan_tolerance, 2, ["--tolerance", "nan", "NaN"]),
    ("reverse nan nan", reverse_nan, 2, ["X", "nan", "有限", "finite"]),
    ("recode one 100 m square", recode_one_square, 2, ["one_square.gpkg", "缝隙", "gaps", "--force"]),
    ("recode one grid shifted 30 m", recode_shifted, 2, ["shifted.gpkg", "重叠", "overlap"]),
    ("recode empty layer", recode_empty, 2, ["empty_layer.gpkg", "为空", "empty"]),
    ("import self-intersecting grid", import_self_intersecting, 2, ["bowtie.gpkg", "Self-intersection", "36068100100101", "--repair"]),
    ("import 15 digits in a 14-digit profile", import_15_digits_in_14, 2, ["codes15.gpkg", "BGID", "360681001001001", "14"]),
    ("import without a code field", import_no_code_field, 2, ["nocode.gpkg", "14 位", "14 digits"]),
    ("divide without --communities", divide_without_communities, 2, ["--communities"]),
    ("divide with an empty --communities", divide_empty_communities, 2, ["--communities", "COMMUNITIES"]),
    ("scheme parameter of the wrong type", scheme_param_wrong_type, 2, ["bad_scheme.yaml", "min_area_m2", "abc", "数字", "number"]),
    ("zero-byte CSV", intake_zero_byte_csv, 2, ["zero.csv", "0 字节", "0 bytes"]),
    ("CSV neither UTF-8 nor GBK", intake_undecodable_csv, 2, ["latin.csv", "GB18030", "line 2"]),
    ("every coordinate unreadable", intake_every_coordinate_bad, 2, ["all_bad.csv", "lat", "二十八", "全部 3 条", "all 3 records"]),
    ("latitudes beyond 90", intake_latitudes_out_of_range, 2, ["lat_range.csv", "128.3", "±90°"]),
    ("coordinates as users type them", intake_typed_coordinates, 0, ["导入 4 条", "imported 4", "GB18030"]),
    ("lon/lat columns swapped", intake_swapped_lonlat, 0, ["互换", "swapped", "imported 2"]),
    ("hidden first sheet", intake_hidden_first_sheet, 0, ["current", "hidden sheets ignored: stale", "imported 1"]),
    (".cpg says ISO-8859-1 on GBK bytes", intake_cpg_latin1_on_gbk, 0, [".cpg", "ISO-8859-1", "GB18030"]),
    (".cpg says UTF-8 on GBK bytes", intake_cpg_utf8_on_gbk, 0, [".cpg", "UTF-8", "GB18030"]),
    ("truncated .shp", intake_truncated_shp, 2, ["truncated.shp", "损坏", "damaged", "3000"]),
    ("degrees declared as metres", intake_degrees_declared_as_metres, 2, ["deg_as_m.shp", "经纬度", "longitude/latitude", "EPSG:4548"]),
    ("0.5 m gap between communities", divide_half_metre_gap, 0, ["缝隙", "gaps or slivers", "150.0 m²"]),
    ("community of an unknown street", divide_unknown_street, 0, ["360681999", "NBS 2023"]),
    ("roads in another zone", divide_roads_in_another_zone, 2, ["roads_zone120.gpkg", "none of the", "CRS"]),
    ("roads in degrees declared as metres", divide_roads_degrees_as_metres, 2, ["roads_degrees.gpkg", "longitude/latitude"]),
    ("grid aggregate of a zero-byte CSV", aggregate_zero_byte_table, 2, ["members.csv", "0 bytes"]),
    ("10,000-digit number in an address", parse_ten_thousand_digits, 0, ["建设路"]),
]


@pytest.mark.parametrize("name,build,code,needles", CASES, ids=[c[0] for c in CASES])
def test_corpus(name, build, code, needles, cli, components_grid_project, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    argv = build(tmp_path, p)
    inputs = {f: f.read_bytes() for f in tmp_path.iterdir() if f.is_file() and f.suffix != ".gpkg-journal"}
    target = Path(str(argv[2])) if len(argv) > 2 and str(argv[2]).endswith(".gpkg") else None
    rc, out, err = cli([str(a) for a in argv])
    assert rc == code, f"{name}: exit {rc}\n{err}"
    assert "Traceback" not in err and "内部错误" not in err and "Internal error" not in err
    if code == 2 and "Usage:" not in err:
        assert "错误" in err and "Error" in err, err
    text = err if code else out + err
    for n in needles:
        assert n in text, f"{name}: {n!r} missing from\n{text}"
    for f, data in inputs.items():  # no input was changed; on error, not even the project
        if f.exists() and (f != target or code == 2):
            assert f.read_bytes() == data, f"{name}: {f} changed"
