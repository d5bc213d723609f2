"""Unit grids: divide (exact partition, natural lines, balanced cuts, merges), code (reading
order), import, recode (stable codes), aggregate — on the sample district and hand-made cases."""
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveytools import project
from surveytools.codes import check_codes
from surveytools.errors import SurveyError
from surveytools.grid import ops as grid
from surveytools.grid.coding import assign_codes, reading_order
from surveytools.grid.divide import PRECISION, DivideParams, divide_community
from surveytools.profiles import load_profile

warnings.filterwarnings("ignore", message=".*geometry of type POLYGON is inserted.*")
BASE = "sample_data/guixi/base.gpkg"
LINES = [f"{BASE}:roads", f"{BASE}:rivers", f"{BASE}:railways", f"{BASE}:water"]
CRS = "EPSG:4548"
X0, Y0 = 520000.0, 3130000.0  # somewhere in 贵溪, CGCS2000 / 3-degree GK CM 117E


def assert_partition(pieces, community, rel=1e-9):
    """An exact partition at the working precision (1 mm): no empty pieces, no overlaps (the
    areas add up to the union's), the union covers the community except within the 1 mm band
    along its boundary, and the pieces are an edge-matched coverage."""
    from surveytools.grid.divide import PRECISION

    pieces = np.asarray(pieces, dtype=object)
    assert len(pieces) and not shapely.is_empty(pieces).any()
    union = shapely.union_all(pieces)
    assert abs(shapely.area(pieces).sum() - union.area) <= 1e-6 * union.area + 1e-6  # no overlaps
    band = community.length * PRECISION
    assert shapely.symmetric_difference(union, community).area <= band + rel * community.area
    assert shapely.is_valid(pieces).all()
    assert shapely.coverage_is_valid(pieces)  # shared edges match vertex for vertex


# ---------------------------------------------------------------------------------------------
# the sample district

@pytest.fixture(scope="module")
def sample_project(tmp_path_factory, root):
    path = tmp_path_factory.mktemp("grid") / "guixi.gpkg"
    project.init(project=str(path), county="360681")
    res = grid.divide(project=str(path), communities=str(root / BASE) + ":communities",
                      lines=[str(root / p) for p in LINES])
    return path, res


def test_sample_divide_partitions_every_community(sample_project, root):
    path, res = sample_project
    grids = gpd.read_file(path, layer="unit_grids")
    comms = gpd.read_file(root / BASE, layer="communities").to_crs(CRS)
    assert res.data["grids"] == len(grids) > 1000
    assert shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object))  # edges match exactly
    for _, c in comms.iterrows():
        mine = grids[grids["BGID"].str[:12] == c["code"]]
        assert len(mine), c["code"]
        assert_partition(mine.geometry.values, c.geometry, rel=1e-7)
    # no grid crosses a community boundary: each lies within its own community
    inter = gpd.overlay(grids.assign(cc=grids.BGID.str[:12]), comms[["code", "geometry"]], how="intersection",
                        keep_geom_type=True)
    crossing = inter[(inter.cc != inter.code) & (inter.area > inter.length * PRECISION)]
    assert crossing.empty


def test_sample_grids_follow_roads(sample_project, root):
    """Grid edges follow the roads: of the road length that bounds natural blocks (dead ends
    cannot), at least 80 % still lies on grid edges after small blocks merged."""
    from surveytools.grid.communities import read_lines
    from surveytools.grid.divide import blocks

    path, _ = sample_project
    grids = gpd.read_file(path, layer="unit_grids")
    roads = gpd.read_file(root / BASE, layer="roads").to_crs(CRS)
    comms = gpd.read_file(root / BASE, layer="communities").to_crs(CRS)
    lines, _ = read_lines([str(root / p) for p in LINES], CRS)
    blk = [b for c in comms.geometry for b in blocks(c, lines[shapely.intersects(lines, c)])]
    road = shapely.union_all(roads.geometry.values)

    def on(edges_of):
        edges = shapely.union_all(shapely.boundary(np.asarray(edges_of, dtype=object)))
        return shapely.intersection(road, shapely.buffer(edges, 0.01)).length / road.length

    natural, final = on(blk), on(grids.geometry.values)
    assert natural > 0.8 and final >= 0.8 * natural
    assert (grids.geom_type == "Polygon").all()


def test_sample_codes_are_valid_unique_and_numbered_in_reading_order(sample_project):
    path, res = sample_project
    grids = gpd.read_file(path, layer="unit_grids")
    prof = load_profile("cjt")
    issues = check_codes("unit_grid", grids["BGID"], prof)
    assert issues[issues.severity == "error"].empty
    assert grids["BGID"].is_unique
    assert (grids["BGID"].str.len() == 14).all()
    for comm, grp in grids.groupby(grids.BGID.str[:12]):
        serials = grp.BGID.str[12:].astype(int).sort_values().to_numpy()
        assert serials[0] == 1 and (np.diff(serials) == 1).all()
        first = grp.loc[grp.BGID.str[12:].astype(int).idxmin()].geometry.point_on_surface()
        ys = shapely.get_coordinates(shapely.point_on_surface(grp.geometry.values))[:, 1]
        assert first.y >= ys.max() - 100.0  # the first grid is in the northernmost row
    assert grids["BGArea"].round(2).equals(grids.area.round(2))
    assert grids["ORDate"].notna().all()


def test_sample_report_tables(sample_project):
    path, res = sample_project
    per = pyogrio.read_dataframe(path, layer="report_grid_areas")
    comms = gpd.read_file(path, layer="communities").set_index("CommCode")
    band = comms.loc[per["community"]].length.to_numpy() * PRECISION  # the 1 mm working precision
    assert len(per) == 20 and (per["uncovered_area"].abs().to_numpy() <= band).all()
    out = pyogrio.read_dataframe(path, layer="report_grid_outliers")
    assert len(out) == len(res.data["outliers"])
    assert set(out["reason"]) <= {"community_small", "isolated_small", "merge_exceeds", "cut_limited",
                                  "serial_capacity", "below_min", "above_max"}
    assert out["reason_zh"].str.len().min() > 0 and out["reason_en"].str.len().min() > 0


def test_sample_admin_layers_written(sample_project):
    path, _ = sample_project
    streets = gpd.read_file(path, layer="streets")
    comms = gpd.read_file(path, layer="communities")
    assert set(streets["StreetName"]) == {"花园街道", "雄石街道", "东门街道", "江北街道"}
    assert len(comms) == 20 and comms["CommCode"].str.len().eq(12).all()


def test_divide_refuses_to_replace_coded_grids(sample_project, root):
    path, _ = sample_project
    with pytest.raises(SurveyError) as e:
        grid.divide(project=str(path), communities=str(root / BASE) + ":communities")
    assert e.value.code == "grids_exist" and "recode" in e.value.render()


# ---------------------------------------------------------------------------------------------
# hand-made edge cases

def write_layer(tmp_path, layer_name, geoms, **cols):
    path = tmp_path / f"{layer_name}.gpkg"
    gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS).to_file(path, layer=layer_name)
    return f"{path}:{layer_name}"


def new_project(tmp_path, name="p.gpkg", profile="cjt"):
    p = tmp_path / name
    project.init(project=str(p), county="360681", profile=profile)
    return p


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def line(*pts):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def test_community_with_a_hole(tmp_path):
    outer = box(0, 0, 400, 300)
    hole = box(150, 100, 250, 200)
    comm = outer.difference(hole)
    c = write_layer(tmp_path, "c", [comm], code=["360681001001"], name=["有孔社区"])
    lines = write_layer(tmp_path, "l", [line((-10, 150), (410, 150))], kind=["road"])
    p = new_project(tmp_path)
    grid.divide(project=str(p), communities=c, lines=[lines])
    g = gpd.read_file(p, layer="unit_grids")
    assert_partition(g.geometry.values, comm)
    assert not g.geometry.intersects(shapely.buffer(hole, -1.0)).any()


def test_multipart_community_and_duplicate_code_rows(tmp_path):
    a, b = box(0, 0, 200, 200), box(500, 0, 700, 150)
    c = write_layer(tmp_path, "c", [a, b], code=["360681001002", "360681001002"], name=["两块社区", "两块社区"])
    p = new_project(tmp_path)
    res = grid.divide(project=str(p), communities=c)
    assert any("多部分" in w.zh for w in res.warnings)
    g = gpd.read_file(p, layer="unit_grids")
    assert_partition(g.geometry.values, shapely.union(a, b))
    assert (g.BGID.str[:12] == "360681001002").all()
    assert all(gm.within(a.buffer(1e-6)) or gm.within(b.buffer(1e-6)) for gm in g.geometry)


def test_road_exactly_on_a_community_boundary(tmp_path):
    a, b = box(0, 0, 200, 200), box(200, 0, 400, 200)
    c = write_layer(tmp_path, "c", [a, b], code=["360681001001", "360681001002"], name=["西", "东"])
    lines = write_layer(tmp_path, "l", [line((200, -50), (200, 250)), line((-10, 100), (410, 100))], kind=["r", "r"])
    p = new_project(tmp_path)
    grid.divide(project=str(p), communities=c, lines=[lines])
    g = gpd.read_file(p, layer="unit_grids")
    for comm, geom in (("360681001001", a), ("360681001002", b)):
        mine = g[g.BGID.str[:12] == comm]
        assert_partition(mine.geometry.values, geom)
    assert len(g) == 4  # each 200x200 community is cut once by the east-west road: 2 x 2 grids


def test_community_smaller_than_the_minimum_area(tmp_path):
    small = box(0, 0, 30, 30)  # 900 m² < 2000 m²
    big = box(30, 0, 230, 100)
    c = write_layer(tmp_path, "c", [small, big], code=["360681001003", "360681001004"], name=["小社区", "邻社区"])
    p = new_project(tmp_path)
    res = grid.divide(project=str(p), communities=c)
    g = gpd.read_file(p, layer="unit_grids")
    mine = g[g.BGID.str[:12] == "360681001003"]
    assert len(mine) == 1 and mine.geometry.iloc[0].equals(small)
    assert any(o["reason"] == "community_small" and o["code"].startswith("360681001003") for o in res.data["outliers"])


def test_invalid_community_is_a_clear_error_or_repaired_on_request(tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 200, Y0 + 200), (X0 + 200, Y0), (X0, Y0 + 200), (X0, Y0)])
    c = write_layer(tmp_path, "c", [bowtie], code=["360681001001"], name=["无效"])
    p = new_project(tmp_path)
    with pytest.raises(SurveyError) as e:
        grid.divide(project=str(p), communities=c)
    msg = e.value.render()
    assert e.value.code == "invalid_geometry" and "无效" in msg and "invalid" in msg and "--repair" in msg
    assert e.value.file and e.value.layer == "c" and e.value.feature is not None
    assert gpd.read_file(p, layer="unit_grids").empty  # nothing written
    res = grid.divide(project=str(p), communities=c, repair=True)
    assert any("修复" in w.zh for w in res.warnings)
    g = gpd.read_file(p, layer="unit_grids")
    assert_partition(g.geometry.values, shapely.make_valid(bowtie))


def test_overlapping_communities_are_rejected(tmp_path):
    c = write_layer(tmp_path, "c", [box(0, 0, 200, 200), box(150, 0, 350, 200)],
                    code=["360681001001", "360681001002"], name=["a", "b"])
    p = new_project(tmp_path)
    with pytest.raises(SurveyError) as e:
        grid.divide(project=str(p), communities=c)
    assert e.value.code == "community_overlap" and "重叠" in e.value.render()


def test_bad_community_codes_name_the_feature(tmp_path):
    c = write_layer(tmp_path, "c", [box(0, 0, 100, 100), box(100, 0, 200, 100)], code=["360681001001", "36068100100X"],
                    nm=["a", "b"])
    p = new_project(tmp_path)
    with pytest.raises(SurveyError) as e:
        grid.divide(project=str(p), communities=c, code_field="code")
    assert e.value.code == "community_code" and e.value.field == "code" and e.value.value == "36068100100X"


def test_workload_makes_dense_areas_finer(tmp_path):
    comm = box(0, 0, 400, 400)  # 160,000 m²: 16 grids by area
    rng = np.random.default_rng(0)
    dense = rng.uniform([0, 0], [100, 100], size=(3000, 2)) + [X0, Y0]
    sparse = rng.uniform([0, 0], [400, 400], size=(300, 2)) + [X0, Y0]
    pts = np.vstack([dense, sparse])
    c = write_layer(tmp_path, "c", [comm], code=["360681001001"], name=["a"])
    w = write_layer(tmp_path, "w", shapely.points(pts), kind=["bin"] * len(pts))
    p = new_project(tmp_path)
    grid.divide(project=str(p), communities=c, workload=w)
    g = gpd.read_file(p, layer="unit_grids")
    assert_partition(g.geometry.values, comm)
    corner = g[g.intersects(box(10, 10, 20, 20))]
    assert corner.area.min() < 0.5 * g.area.median()  # the dense corner gets smaller grids
    assert (g.area >= 2000 - 1e-6).all()


def test_serial_overflow_is_an_error_not_a_wrap(tmp_path):
    geoms = [shapely.box(i, 0, i + 1, 1) for i in range(100)]
    with pytest.raises(SurveyError) as e:
        assign_codes(["360681001001"] * 100, geoms, load_profile("cjt"), 1.0, names={"360681001001": "某社区"})
    assert e.value.code == "serial_overflow" and "99" in e.value.render() and "某社区" in e.value.render()
    codes = assign_codes(["360681001001"] * 100, geoms, load_profile("gbt30428"), 1.0)
    assert codes[0] == "360681001001001" and len(set(codes)) == 100


@given(st.permutations(list(range(12))))
@settings(max_examples=25, deadline=None)
def test_reading_order_is_deterministic_and_north_west_first(perm):
    cells = np.array([shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
                      for y in (2, 1, 0) for x in range(4)], dtype=object)  # reading order already
    order = reading_order(cells[list(perm)], 100.0)
    assert [perm[i] for i in order] == list(range(12))


# ---------------------------------------------------------------------------------------------
# property: random polygons and line sets always give an exact partition

@st.composite
def community_and_lines(draw):
    n = draw(st.integers(5, 14))
    ang = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi, allow_nan=False), min_size=n, max_size=n, unique=True))))
    rad = np.array(draw(st.lists(st.floats(80, 400), min_size=n, max_size=n)))
    poly = shapely.Polygon(np.column_stack([rad * np.cos(ang), rad * np.sin(ang)]))
    poly = shapely.make_valid(poly)
    parts = [g for g in shapely.get_parts(poly) if g.geom_type == "Polygon" and g.area > 100]
    if not parts:
        poly = shapely.box(-100, -100, 100, 100)
    else:
        poly = max(parts, key=lambda g: g.area)
    k = draw(st.integers(0, 6))
    lines = []
    for _ in range(k):
        x1, y1, x2, y2 = (draw(st.floats(-500, 500)) for _ in range(4))
        if abs(x1 - x2) + abs(y1 - y2) > 1:
            lines.append(shapely.LineString([(x1, y1), (x2, y2)]))
    return poly, np.array(lines, dtype=object)


@given(community_and_lines(), st.sampled_from([3000.0, 10000.0]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_divide_is_always_an_exact_partition(data, target):
    from hypothesis import note

    poly, lines = data
    note(f"community {poly.wkt}\nlines {[g.wkt for g in lines]}")
    params = DivideParams(target_area=target, min_area=target / 5, max_area=target * 2)
    pieces, reasons = divide_community(poly, lines, params)
    assert_partition(pieces, poly, rel=1e-7)
    ok = set(reasons.values()) <= {"community_small", "isolated_small", "merge_exceeds", "cut_limited"}
    assert ok
    areas = shapely.area(np.asarray(pieces, dtype=object))
    small = [i for i, a in enumerate(areas) if a < params.min_area]
    assert all(i in reasons for i in small)  # every undersized piece is explained


# ---------------------------------------------------------------------------------------------
# import, code, recode, aggregate

def test_import_keeps_codes_and_reports_misfits(sample_project, tmp_path):
    path, _ = sample_project
    grids = gpd.read_file(path, layer="unit_grids")
    src = grids[["BGID", "geometry"]].copy()
    src.loc[0, "BGID"] = src.loc[1, "BGID"]                      # duplicate
    src.loc[2, "BGID"] = "36068100299999"[:12] + "01"            # wrong community prefix
    src.loc[3, "BGID"] = "3606810010X1"                           # malformed
    f = tmp_path / "city_grids.gpkg"
    src.rename(columns={"BGID": "网格编码"}).to_file(f, layer="g")
    p = new_project(tmp_path, "imp.gpkg")
    res = grid.import_(project=str(p), source=f"{f}:g")
    assert res.data["code_field"] == "网格编码" and res.data["communities_built"] is True
    out = gpd.read_file(p, layer="unit_grids")
    assert len(out) == len(src) and set(out.BGID) == set(src["BGID"])  # codes kept as given
    rep = pd.DataFrame(res.data["problems"])
    assert {"duplicate"} <= set(rep.reason)
    assert set(rep[rep.reason == "duplicate"].code) == {src.loc[1, "BGID"]}
    assert (rep.code == "3606810010X1").any()
    # into a project that has communities: the wrong prefix is found spatially
    p2 = tmp_path / "imp2.gpkg"
    import shutil
    shutil.copy(path, p2)
    res2 = grid.import_(project=str(p2), source=f"{f}:g", overwrite=True)
    rep2 = pd.DataFrame(res2.data["problems"])
    assert "community_mismatch" in set(rep2.reason)


def test_code_renumbers_an_edited_draft(sample_project, tmp_path):
    path, _ = sample_project
    import shutil
    p = tmp_path / "edit.gpkg"
    shutil.copy(path, p)
    prj = project.Project.open(p)
    g = project.read_layer(prj, "unit_grid")
    first = g[g.BGID.str[:12] == "360681002004"].index
    merged = shapely.union_all(g.loc[first[:2]].geometry.values)
    g = g.drop(first[1])
    g.loc[first[0], "geometry"] = merged
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", g)
    res = grid.code(project=str(p))
    out = gpd.read_file(p, layer="unit_grids")
    mine = out[out.BGID.str[:12] == "360681002004"].BGID.str[12:].astype(int).sort_values()
    assert list(mine) == list(range(1, len(mine) + 1))
    assert res.data["grids"] == len(out)
    res = grid.code(project=str(p), keep_existing=True)
    assert res.data["changed"] == 0


def test_recode_keeps_stable_codes(sample_project, tmp_path):
    path, _ = sample_project
    import shutil
    p = tmp_path / "recode.gpkg"
    shutil.copy(path, p)
    prj = project.Project.open(p)
    g = project.read_layer(prj, "unit_grid")
    # components to relocate: one point in each grid of community 360681002004
    comm = g[g.BGID.str[:12] == "360681002004"].sort_values("BGID")
    pts = shapely.point_on_surface(comm.geometry.values)
    comp = gpd.GeoDataFrame({"ObjID": [f"360681030500{i:04d}" for i in range(len(pts))], "ObjState": "完好"},
                            geometry=list(pts), crs=CRS)
    with prj.transaction() as w:
        project.write_project_layer(w, "component_point", comp)
    red = g.copy()
    c = comm.index
    # split grid 0 in two halves, merge grids 1 and 2, shift the edge between 3 and 4 a little
    g0 = red.loc[c[0]].geometry
    minx, miny, maxx, maxy = g0.bounds
    half = shapely.box(minx, miny, (minx + maxx) / 2, maxy)
    left, right = g0.intersection(half), g0.difference(half)
    red.loc[c[0], "geometry"] = left
    red = pd.concat([red, gpd.GeoDataFrame({"BGID": [None]}, geometry=[right], crs=CRS)], ignore_index=True)
    red.loc[c[1], "geometry"] = shapely.union(red.loc[c[1]].geometry, red.loc[c[2]].geometry)
    red = red.drop(index=c[2])
    f = tmp_path / "redrawn.gpkg"
    red[["geometry"]].to_file(f, layer="r")
    res = grid.recode(project=str(p), redrawn=f"{f}:r", date="2025-03-01")
    ch = res.data["changes"]
    assert ch["split"] == 2 and ch["merged"] == 1 and ch["retired"] == 3
    assert ch["kept"] == len(g) - 3
    out = gpd.read_file(p, layer="unit_grids")
    hist = gpd.read_file(p, layer="unit_grids_history")
    retired = set(hist.BGID)
    assert retired == {comm.BGID.iloc[0], comm.BGID.iloc[1], comm.BGID.iloc[2]}
    assert (pd.to_datetime(hist.CHDate).dt.date.astype(str) == "2025-03-01").all()
    assert not (set(out.BGID) & retired)  # never reused
    max_old = comm.BGID.str[12:].astype(int).max()
    new_serials = out[out.BGID.str[:12] == "360681002004"].BGID.str[12:].astype(int)
    assert sorted(new_serials[new_serials > max_old]) == [max_old + 1, max_old + 2, max_old + 3]
    kept = out.merge(g[["BGID"]], on="BGID")
    assert len(kept) == len(g) - 3
    layer = gpd.read_file(p, layer="grid_changes")
    assert set(layer.change) == {"kept", "split", "merged", "retired"}
    comp2 = gpd.read_file(p, layer="components_point")
    located = dict(zip(comp2.ObjID, comp2.BGID))
    assert all(b in set(out.BGID) for b in located.values())
    assert res.data["components"]["component_point"]["changed"] >= 3
    # running the same recode again changes nothing
    res2 = grid.recode(project=str(p), redrawn=f"{p}:unit_grids", date="2025-03-02")
    assert res2.data["changes"]["kept"] == len(out) and res2.data["changes"]["retired"] == 0


def test_aggregate_from_areas_and_from_a_table(sample_project, tmp_path, root):
    path, _ = sample_project
    import shutil
    p = tmp_path / "agg.gpkg"
    shutil.copy(path, p)
    streets = gpd.read_file(path, layer="streets")
    areas = streets.rename(columns={"StreetCode": "code", "StreetName": "name"})[["code", "name", "geometry"]]
    f = tmp_path / "areas.gpkg"
    areas.to_file(f, layer="a")
    res = grid.aggregate(project=str(p), kind="work", members=f"{f}:a")
    wg = gpd.read_file(p, layer="work_grids")
    g = gpd.read_file(p, layer="unit_grids")
    assert len(wg) == 4 and res.data["members"] == len(g)
    errors = [r for r in res.data["problems"] if r["severity"] == "error"]
    # the sample's 东门街道 really is in two pieces: exactly the multipart streets are reported
    multipart = set(areas.loc[shapely.get_num_geometries(areas.geometry.values) > 1, "code"])
    assert {r["aggregate"] for r in errors} == multipart and {r["reason"] for r in errors} <= {"not_contiguous"}
    g = gpd.read_file(p, layer="unit_grids")
    assert sorted(",".join(wg.Members).split(",")) == sorted(g.BGID)
    # an area boundary that cuts unit grids is reported as split
    cut = gpd.GeoDataFrame({"code": ["W1"]}, geometry=[shapely.box(*g.total_bounds[:2], *(g.total_bounds[:2] + 1500))], crs=CRS)
    f2 = tmp_path / "cut.gpkg"
    cut.to_file(f2, layer="a")
    res = grid.aggregate(project=str(p), kind="responsibility", members=f"{f2}:a")
    assert any(r["reason"] == "split" for r in res.data["problems"])
    # a table with a non-contiguous aggregate
    gg = g.sort_values("BGID")
    far = [gg.BGID.iloc[0], gg.BGID.iloc[-1]]
    t = tmp_path / "members.csv"
    pd.DataFrame({"单元网格": far, "责任网格编码": ["Z1", "Z1"], "责任单位": ["某单位", "某单位"]}).to_csv(t, index=False)
    res = grid.aggregate(project=str(p), kind="responsibility", members=str(t))
    assert any(r["reason"] == "not_contiguous" for r in res.data["problems"])
    rg = gpd.read_file(p, layer="responsibility_grids")
    assert rg.loc[0, "DeptName"] == "某单位"


def test_cli_grid_divide_json(tmp_path, cli, root):
    p = new_project(tmp_path)
    c = write_layer(tmp_path, "c", [box(0, 0, 300, 300)], code=["360681001001"], name=["a"])
    rc, out, err = cli(["grid", "divide", p, "--communities", c, "--target-area", "10000", "--json"])
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] and data["grids"] == 9
    rc, out, err = cli(["grid", "divide", p, "--communities", c, "--json"])
    assert rc == 2 and json.loads(out)["error"]["code"] == "grids_exist"
