"""Tests of the sample district, its generators, the deliberate mistakes and the synthetic city."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from surveytools.sample.build import DEFAULT_OSM, build_sample
from surveytools.sample.chinacoords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from surveytools.sample.components import COVER_CODES, generate_components
from surveytools.sample.departments import departments, is_valid_uscc, org_code_check_char, uscc_check_char
from surveytools.sample.district import build_district
from surveytools.sample.doorplates import _road_lines, generate_doorplates
from surveytools.sample.osm import read_osm

NBS_STREETS = {"360681001": "花园街道", "360681002": "雄石街道", "360681003": "东门街道", "360681004": "江北街道"}


@pytest.fixture(scope="session")
def district():
    return build_district(read_osm(DEFAULT_OSM))


@pytest.fixture(scope="session")
def comps(district):
    return generate_components(district.roads, seed=20240601)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample1")
    build_sample(out, DEFAULT_OSM, 20240601)
    return out


# ---------------------------------------------------------------------------------------------
# district
def test_osm_layers(district):
    assert len(district.roads) > 150 and district.roads["name"].notna().sum() > 50
    assert len(district.railways) and len(district.buildings) == 165
    assert (district.rivers["name"] == "信江").any()
    assert district.roads.crs.to_epsg() == 4548


def test_streets_and_communities_tile_the_area(district):
    streets, comm, area = district.streets, district.communities, district.area
    assert dict(zip(streets["code"], streets["name"])) == NBS_STREETS
    assert 25e6 < area.area < 31e6  # roughly 28 km²
    # streets and communities tile the study area
    for layer in (streets, comm):
        assert abs(layer.area.sum() - area.area) < 1e-3
        assert shapely.union_all(layer.geometry.values).symmetric_difference(area).area < 1e-6
        tree = shapely.STRtree(layer.geometry.values)
        a, b = tree.query(layer.geometry.values, predicate="intersects")
        keep = a < b
        inter = shapely.area(shapely.intersection(layer.geometry.values[a[keep]], layer.geometry.values[b[keep]]))
        assert inter.max(initial=0) < 1e-6
    # communities nest in their street and together equal it
    for code, g in zip(streets["code"], streets.geometry):
        mine = comm[comm["street_code"] == code]
        assert 3 <= len(mine) <= 8
        assert shapely.union_all(mine.geometry.values).symmetric_difference(g).area < 1e-6
        assert mine["street_name"].eq(NBS_STREETS[code]).all()
    assert comm["code"].str.fullmatch(r"\d{12}").all() and comm["code"].is_unique
    assert (comm["code"].str[:9] == comm["street_code"]).all()
    assert comm.loc[comm["name"] == "白果社区", "code"].tolist() == ["360681001001"]
    assert comm.geometry.is_valid.all() and (comm.geom_type == "Polygon").all()


# ---------------------------------------------------------------------------------------------
# components, door plates
def test_components_deterministic(district, comps):
    again = generate_components(district.roads, seed=20240601)
    for a, b in ((comps.points, again.points), (comps.lines, again.lines), (comps.polygons, again.polygons)):
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    other = generate_components(district.roads, seed=1)
    assert len(other.points) != len(comps.points) or not other.points.geometry.geom_equals(comps.points.geometry).all()


def test_component_classes_and_ids(comps):
    allc = comps.all()
    assert allc["ObjID"].str.fullmatch(r"360681\d{10}").all() and allc["ObjID"].is_unique
    assert (allc["ObjID"].str[6:10] == allc["ClassCode"]).all()
    for code in ("0101", "0118", "0203", "0305", "0402", "0211", "0405", "0201"):
        assert (allc["ClassCode"] == code).any(), code
    assert set(comps.lines.geom_type) == {"LineString"} and set(comps.polygons.geom_type) == {"Polygon"}
    assert allc["BGID"].eq("").all() and allc["DataSource"].eq("实测").all()


def test_cover_spacing_along_roads(comps):
    c = comps.points[comps.points["ClassCode"].isin(COVER_CODES)]
    assert len(c) > 1000
    for _, grp in c.groupby("road_osm_id"):
        gaps = np.diff(np.sort(grp["chainage"].to_numpy()))
        assert ((gaps >= 40 - 1e-9) & (gaps <= 60 + 1e-9)).all()


def test_doorplates_odd_left_even_right(district):
    plates = generate_doorplates(district.roads, seed=20240601)
    assert len(plates) > 500
    lines = {name: line for name, line, _ in _road_lines(district.roads)}
    for road, grp in plates.groupby("road"):
        line = lines[road]
        base = grp[grp["suffix"] == ""]
        # side by geometry: sign of the cross product of the road direction and the offset
        d = base["chainage"].to_numpy()
        p0 = shapely.line_interpolate_point(line, np.maximum(d - 0.5, 0))
        p1 = shapely.line_interpolate_point(line, np.minimum(d + 0.5, line.length))
        pc = shapely.line_interpolate_point(line, d)
        tx, ty = shapely.get_x(p1) - shapely.get_x(p0), shapely.get_y(p1) - shapely.get_y(p0)
        vx, vy = base.geometry.x - shapely.get_x(pc), base.geometry.y - shapely.get_y(pc)
        left = (tx * vy - ty * vx) > 0
        assert ((base["number"] % 2 == 1) == left).all(), road
        for side, s in base.groupby("side"):
            assert s.sort_values("chainage")["number"].is_monotonic_increasing
    assert (plates["suffix"] == "之一").any() and (plates["suffix"] == "附1").any()
    assert plates["address"].str.contains("号之一").any()


# ---------------------------------------------------------------------------------------------
# the delivered files and their deliberate mistakes
def _close_pairs(gdf, dist=0.3, by="ObjName"):
    tree = shapely.STRtree(gdf.geometry.values)
    a, b = tree.query(gdf.geometry.values, predicate="dwithin", distance=dist)
    keep = (a < b) & (gdf[by].to_numpy()[a] == gdf[by].to_numpy()[b])
    return int(keep.sum())


def test_files_present(built):
    s = built / "guixi" / "survey"
    for f in ("components_a.gpkg", "components_b_gbk.shp", "components_b_gbk.shx", "components_b_gbk.dbf",
              "components_b_gbk.prj", "components_c.csv", "components_d.xlsx", "doorplates.gpkg", "events.csv",
              "departments.xlsx"):
        assert (s / f).exists(), f
    layers = {r[0] for r in pyogrio.list_layers(built / "guixi" / "base.gpkg")}
    assert {"streets", "communities", "roads", "rivers", "railways", "buildings"} <= layers
    assert {r[0] for r in pyogrio.list_layers(s / "components_a.gpkg")} == {"points", "lines", "polygons"}
    assert pyogrio.read_info(s / "components_a.gpkg", layer="points")["crs"] == "EPSG:4548"
    assert (built / "osm" / "mapofgx.osm").exists()


def test_mistakes_in_batch_a(built, district):
    f = built / "guixi" / "survey" / "components_a.gpkg"
    pts = pyogrio.read_dataframe(f, layer="points")
    polys = pyogrio.read_dataframe(f, layer="polygons")
    assert (~polys.geometry.is_valid).sum() == 1
    assert pts["ObjID"].duplicated().sum() == 2
    assert pts["ObjID"].str.startswith("360602").sum() == 2
    assert (pts["ObjID"].str.len() == 17).sum() == 3
    assert (pts["ObjID"].str[6:10] == "0199").sum() == 3
    assert (pts["ObjName"] == "供水井盖").sum() == 3 and (pts["ObjName"] == "雨水篦子").sum() == 3
    assert (pts["DeptName1"].fillna("") == "").sum() == 5
    assert (pts["ObjState"].fillna("") == "").sum() == 5
    assert _close_pairs(pts) >= 8
    far = pts.distance(district.area) > 10_000
    assert far.sum() == 1


def test_gbk_shapefile_without_cpg(built):
    shp = built / "guixi" / "survey" / "components_b_gbk.shp"
    assert not shp.with_suffix(".cpg").exists()
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "部件名称".encode("gbk") in raw and "雨水".encode("gbk") in raw
    assert "部件名称".encode("utf-8") not in raw
    b = pyogrio.read_dataframe(shp, encoding="GBK")
    assert "部件名称" in b.columns and "小类代码" in b.columns and "主管部门" in b.columns
    assert b.crs.to_epsg() == 4326
    assert (b["小类代码"].str.len() == 5).sum() == 4
    assert b["小类代码"].isin(["0199", "0720"]).sum() == 2
    assert (b["部件名称"] == "雨水篦子").sum() == 2
    assert (b["主管部门"].fillna("") == "").sum() == 2
    assert _close_pairs(b.to_crs(4548), by="部件名称") >= 3


def test_csv_xlsx_gcj02(built):
    s = built / "guixi" / "survey"
    c = pd.read_csv(s / "components_c.csv", dtype=str)
    d = pd.read_excel(s / "components_d.xlsx", dtype={"小类编码": str})
    assert {"lon", "lat", "class_code"} <= set(c.columns)
    assert (c["class_code"] == "099").sum() == 1 and c["state"].isna().sum() == 3
    cg = gpd.GeoDataFrame(c, geometry=gpd.points_from_xy(c.lon.astype(float), c.lat.astype(float)),
                          crs=4326).to_crs(4548)
    assert _close_pairs(cg, by="class_name") >= 3
    # D holds GCJ-02: converted back it meets its three cross-batch duplicates in C
    wlon, wlat = gcj02_to_wgs84(d["经度"].to_numpy(), d["纬度"].to_numpy())
    dg = gpd.GeoSeries(gpd.points_from_xy(wlon, wlat), crs=4326).to_crs(4548)
    raw = gpd.GeoSeries(gpd.points_from_xy(d["经度"], d["纬度"]), crs=4326).to_crs(4548)
    tree = shapely.STRtree(cg.geometry.values)
    assert len(tree.query(dg.values, predicate="dwithin", distance=0.3)[0]) >= 3
    assert len(tree.query(raw.values, predicate="dwithin", distance=0.3)[0]) == 0
    assert (d["部件名称"].fillna("") == "").sum() == 1


def test_mistakes_csv_and_other_files(built):
    m = pd.read_csv(built / "guixi" / "mistakes.csv")
    assert len(m) >= 50 and m["found_by"].notna().all()
    ev = pd.read_csv(built / "guixi" / "survey" / "events.csv", dtype={"ClassCode": str})
    assert len(ev) == 60 and ev["lon"].between(117.19, 117.26).all()
    dep = pd.read_excel(built / "guixi" / "survey" / "departments.xlsx")
    assert dep["USCC"].map(is_valid_uscc).all()


def test_build_is_deterministic(built, tmp_path):
    build_sample(tmp_path, DEFAULT_OSM, 20240601)
    for rel in ("guixi/survey/components_c.csv", "guixi/survey/components_d.xlsx", "guixi/survey/events.csv",
                "guixi/survey/departments.xlsx", "guixi/mistakes.csv", "guixi/survey/components_b_gbk.dbf"):
        assert (built / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    for rel, layer in (("guixi/base.gpkg", "communities"), ("guixi/survey/components_a.gpkg", "points"),
                       ("guixi/survey/components_a.gpkg", "polygons"), ("guixi/survey/doorplates.gpkg", "doorplates")):
        a = pyogrio.read_dataframe(built / rel, layer=layer)
        b = pyogrio.read_dataframe(tmp_path / rel, layer=layer)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert (shapely.to_wkb(a.geometry.values) == shapely.to_wkb(b.geometry.values)).all()


# ---------------------------------------------------------------------------------------------
# coordinates, credit codes
def test_gcj02_reference_values():
    # eviltransform test vectors (github.com/googollee/eviltransform): (wgs lat, lon) -> (gcj lat, lon)
    for wlat, wlon, glat, glon in [(31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
                                   (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
                                   (39.911954, 116.377817, 39.91334545536069, 116.38404722455657)]:
        lon, lat = wgs84_to_gcj02(wlon, wlat)
        assert abs(lon - glon) < 1e-9 and abs(lat - glat) < 1e-9
    lon, lat = wgs84_to_gcj02(116.397128, 39.916527)  # Tiananmen, ≈ (116.403371, 39.917929)
    assert abs(lon - 116.403371) < 5e-6 and abs(lat - 39.917929) < 5e-6
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # outside China: unchanged


def test_gcj02_round_trip():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(75, 134, 10000), rng.uniform(18, 53, 10000)
    blon, blat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(blon - lon).max() < 1e-6 and np.abs(blat - lat).max() < 1e-6
    clon, clat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.abs(clon - lon).max() < 1e-5 and np.abs(clat - lat).max() < 1e-5
    wl, wt = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.abs(wl - lon).max() < 1e-5


def test_uscc():
    assert uscc_check_char("91110108551385082") == "Q"
    assert is_valid_uscc("91110108551385082Q") and is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91110108551385082A")
    assert org_code_check_char("55138508") == "2"
    d = departments()
    assert d["USCC"].map(is_valid_uscc).all() and d["USCC"].str[2:8].eq("360681").all()
    assert {"贵溪市城市管理局", "贵溪市自来水有限责任公司", "贵溪市江北街道办事处"} <= set(d["DeptName"])


# ---------------------------------------------------------------------------------------------
# synthetic city
def test_synthetic_city_tiles_and_contains():
    from surveytools.sample.synthetic import synthetic_city

    city = synthetic_city(100_000, n_grids=10000, seed=3)
    g = city.grids
    assert len(g) == 10000 and g["BGID"].is_unique and g["BGID"].str.fullmatch(r"360681\d{9}").all()
    union = shapely.union_all(g.geometry.values)
    assert union.geom_type == "Polygon"
    assert abs(union.area - g.area.sum()) < 1e-3 and abs(union.area - shapely.box(*union.bounds).area) < 1e-3
    assert g.geometry.is_valid.all()
    pts = city.components_gdf()
    assert len(pts) == 100_000 and pts["ObjID"].is_unique and pts["ObjID"].str.len().eq(16).all()
    assert shapely.contains_xy(union, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()).all()
    again = synthetic_city(1000, n_grids=10000, seed=3)
    assert again.components.slice(0, 10).equals(synthetic_city(1000, n_grids=10000, seed=3).components.slice(0, 10))


def test_synthetic_partial_lattice():
    from surveytools.sample.synthetic import synthetic_city

    city = synthetic_city(5000, n_grids=777, seed=1)
    union = shapely.union_all(city.grids.geometry.values)
    assert len(city.grids) == 777 and abs(union.area - city.grids.area.sum()) < 1e-3
    pts = city.components_gdf()
    assert shapely.contains_xy(union, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()).all()


def test_operations_registered(tmp_path):
    import surveytools.sample.ops  # noqa: F401
    from surveytools import ops

    assert "sample_build" in ops.REGISTRY and "sample_synthetic" in ops.REGISTRY
    res = ops.REGISTRY["sample_synthetic"].call(out=str(tmp_path / "syn.gpkg"), components=20000, grids=400, seed=0)
    assert res.data["components"] == 20000
    info = pyogrio.read_info(tmp_path / "syn.gpkg", layer="components")
    assert info["features"] == 20000 and info["crs"] == "EPSG:4548"
    assert pyogrio.read_info(tmp_path / "syn.gpkg", layer="grids")["features"] == 400
