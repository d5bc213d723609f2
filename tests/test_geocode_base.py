"""Address base build, forward / reverse / batch geocoding, name history, on the sample district."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "sample_data" / "guixi" / "base.gpkg"
PLATES = ROOT / "sample_data" / "guixi" / "survey" / "doorplates.gpkg"


def _build(path, profile="cjt", extra=(), grids=True):
    from surveytools.geocode.ops import build
    from surveytools.grid.ops import divide
    from surveytools.project import init

    init(project=str(path), county="360681", profile=profile)
    if grids:
        divide(project=str(path), communities=f"{BASE}:communities", lines=[f"{BASE}:roads", f"{BASE}:rivers"],
           date="2024-06-01")
    return build(project=str(path), date="2024-06-01",
                 **{"from": [str(PLATES), f"{BASE}:roads", str(ROOT / "sample_data/osm/mapofgx.osm"), *extra]})


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    p = tmp_path_factory.mktemp("geocode") / "guixi.gpkg"
    res = _build(p)
    return p, res


@pytest.fixture(scope="session")
def index(project):
    from surveytools.geocode.index import load_index
    from surveytools.project import Project

    return load_index(Project.open(project[0]))


def test_build_writes_the_standard_layers(project):
    import pyogrio

    p, res = project
    c = res.data["counts"]
    assert c["geocode_doorplate"] == 2810 and c["geocode_road"] >= 30 and c["geocode_area"] == 25
    assert c["geocode_poi"] >= 1
    pl = pyogrio.read_dataframe(str(p), layer="geo_doorplates")
    assert {"AddrCode", "StdName", "RoadName", "DoorNo", "BGID", "StreetCode", "CommCode", "StdAddress"} <= set(pl.columns)
    assert pl["AddrCode"].str.fullmatch(r"36068104\d{7}").all() and pl["AddrCode"].is_unique
    assert pl["BGID"].str.len().eq(14).all()                      # every plate lies in a unit grid
    assert (pl["CommCode"] == pl["BGID"].str[:12]).all()
    assert pl["StdAddress"].str.startswith("江西省鹰潭市贵溪市").all()
    # sample convention: odd numbers on the left of the road's direction
    assert ((pl["DoorNo"] % 2 == 1) == (pl["Side"] == "左")).mean() > 0.97
    areas = pyogrio.read_dataframe(str(p), layer="geo_areas")
    assert set(areas["Level"]) == {"区", "街道", "社区"}


def test_build_uses_the_profiles_field_names(tmp_path):
    import pyogrio

    # (no unit grids: grid divide is not exercised here; plates outside every grid are reported)
    res = _build(tmp_path / "g.gpkg", profile="gbt47678", grids=False)
    pl = pyogrio.read_dataframe(str(tmp_path / "g.gpkg"), layer="geo_doorplates", max_features=5)
    assert {"DDBSM", "BZMC", "JXMC", "MPHM", "DYWGBSM", "BZDZ"} <= set(pl.columns)
    assert pl["BZDZ"].str.startswith("江西省鹰潭市贵溪市").all()
    assert res.data["counts"]["conflicts"]["outside_grids"] > 0


def test_conflicts_are_reported_and_duplicates_dropped(tmp_path):
    import geopandas as gpd
    import pyogrio
    import shapely

    src = pyogrio.read_dataframe(str(PLATES))
    a = src[(src["road"] == "雄石路") & (src["number"] == 12) & (src["suffix"] == "")].copy()
    b = src[(src["road"] == "建设路") & (src["number"] == 7) & (src["suffix"] == "")].copy()
    a["geometry"] = shapely.transform(a.geometry.values, lambda xy: xy + 0.5)     # duplicate, 0.7 m away
    b["geometry"] = shapely.transform(b.geometry.values, lambda xy: xy + 900.0)   # same plate 1.3 km away
    extra = tmp_path / "extra.gpkg"
    gpd.GeoDataFrame(pd.concat([a, b]), crs=src.crs).to_file(extra, layer="doorplates")
    # one road name on two disconnected lines
    roads = pyogrio.read_dataframe(str(BASE), layer="roads")
    far = roads[roads["name"] == "园东路"].copy()
    far["geometry"] = shapely.transform(far.geometry.values, lambda xy: xy + np.array([3000.0, 0.0]))
    far.to_file(extra, layer="more_roads")
    res = _build(tmp_path / "c.gpkg", extra=[str(extra)])
    conf = pyogrio.read_dataframe(str(tmp_path / "c.gpkg"), layer="geo_conflicts")
    assert list(conf.columns) == ["kind", "layer", "name", "detail", "x", "y"]  # issues.GEO_CONFLICTS
    assert conf["x"].dtype == np.float64 and conf["detail"].str.contains(" / ").all()
    kinds = conf["kind"].value_counts().to_dict()
    assert kinds.get("duplicate_plate") == 1 and kinds.get("conflicting_plate") == 1
    assert "园东路" in set(conf.loc[conf["kind"] == "road_disconnected", "name"])
    assert res.data["counts"]["geocode_doorplate"] == 2811  # the duplicate dropped, the conflict kept
    assert res.warnings


def test_forward_levels(index):
    from surveytools.geocode.match import forward

    r = forward(index, "江西省鹰潭市贵溪市雄石路12号")
    assert r["level"] == "door" and r["score"] == 1.0 and r["matched"] == "雄石路12号"
    assert r["grid_code"].startswith("360681") and r["street_name"] and r["community_name"]
    assert forward(index, "雄石路3号之一")["matched"] == "雄石路3号之一"
    assert forward(index, "雄石路10号附1号")["matched"] == "雄石路10附1号"
    assert forward(index, "雄石陆十二号")["level"] == "fuzzy"
    # interpolation: drop known plates from the index and ask for them again
    from surveytools.geocode.index import AddressIndex
    from surveytools.geocode.reverse import reverse

    drop = index.plates["name"].isin(["建设路13号", "建设路40号"])
    truth = index.plates[drop].set_index("name")
    kw = dict(crs=index.crs, county=index.county, plates=index.plates[~drop].drop(columns=["x", "y"]),
              roads=index.roads.drop(columns=["pt"]), areas=index.areas.drop(columns=["pt"]),
              grid_codes=index.grid_codes, grid_geoms=index.grid_geoms, settings=index.settings)
    idx2 = AddressIndex.from_frames(**kw)
    for name, side in (("建设路13号", "左"), ("建设路40号", "右")):
        r = forward(idx2, name)
        assert r["level"] == "interpolated" and r["grid_code"], r
        t = truth.loc[name]
        assert np.hypot(t["x"] - r["x"], t["y"] - r["y"]) < 25      # plates are 15-40 m apart
        assert reverse(idx2, r["x"], r["y"])["road"]["side"] == side  # odd on the left, even on the right
    assert forward(index, "建设路")["level"] == "road"
    assert forward(index, "贵溪市白果社区")["level"] == "community"
    assert forward(index, "花园街道")["level"] == "street"
    miss = forward(index, "完全无关的文字")
    assert miss["level"] is None and miss["reason"]


def test_door_level_accuracy_on_a_fixed_sample(index):
    """Thresholds of evaluation (b) on 400 plates (the script runs all 2,810)."""
    from surveytools.geocode.evaluation import doorplate_sets
    from surveytools.geocode.match import forward

    clean, noisy, truth = doorplate_sets(index.plates, seed=11, n=400)
    acc = lambda addrs: np.mean([forward(index, a)["place_code"] == t for a, t in zip(addrs, truth)])  # noqa: E731
    assert acc(clean) >= 0.95
    assert acc(noisy) >= 0.85


def test_reverse(index):
    from surveytools.geocode.reverse import reverse

    row = index.plates[index.plates["name"] == "建设路13号"].iloc[0]
    r = reverse(index, row["x"] + 1.0, row["y"])
    assert r["nearest"] == "doorplate" and r["doorplate"]["name"] == "建设路13号"
    assert r["road"]["name"] == "建设路" and r["road"]["side"] == "左" and r["road"]["parity"] == "单号"
    assert r["grid_code"] == row["grid_code"] and r["community_name"] == row["community_name"]
    far = reverse(index, row["x"] + 5000, row["y"] + 5000)
    assert far["doorplate"] is None and far["road"] is None


def test_cli_contract(project, cli, tmp_path):
    p = str(project[0])
    code, out, _ = cli(["geocode", "parse", "贵溪市雄石路12号", "--json"])
    assert code == 0 and json.loads(out)["elements"]["number"] == 12
    code, out, _ = cli(["geocode", "forward", p, "雄石路12号", "--json"])
    r = json.loads(out)["result"]
    assert code == 0 and r["level"] == "door"
    code, out, _ = cli(["geocode", "reverse", p, str(r["x"]), str(r["y"]), "--json"])
    assert code == 0 and json.loads(out)["result"]["doorplate"]["name"] == "雄石路12号"
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "地址": ["雄石路12号", "贵溪市建设路7号", "", "火星基地1号"]}).to_csv(src, index=False)
    out_csv = tmp_path / "out.csv"
    code, out, _ = cli(["geocode", "batch", p, str(src), "--column", "地址", "--out", str(out_csv), "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["rows"] == 4 and len(data["unmatched"]) == 2
    res = pd.read_csv(out_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(res["match_level"][:2]) == ["door", "door"] and res["reason"][2] == "empty address"
    xlsx = tmp_path / "out.xlsx"
    code, _, _ = cli(["geocode", "batch", p, str(src), "--column", "地址", "--out", str(xlsx)])
    assert code == 0 and len(pd.read_excel(xlsx)) == 4
    code, out, err = cli(["geocode", "batch", p, str(src), "--column", "nope", "--out", str(tmp_path / "x.csv"), "--json"])
    assert code == 2 and json.loads(out)["error"]["field"] == "nope"


def test_rename_keeps_the_old_name_with_dates(tmp_path):
    import pyogrio

    from surveytools.geocode.index import load_index
    from surveytools.geocode.match import forward
    from surveytools.geocode.ops import build, rename_op
    from surveytools.project import Project

    p = tmp_path / "r.gpkg"
    _build(p)
    rename_op(project=str(p), layer="road", name="雄石路", new_name="雄石大道", date="2025-01-01")
    names = pyogrio.read_dataframe(str(p), layer="geo_names")
    old = names[(names["name"] == "雄石路") & (names["kind"] == "former")]
    assert len(old) == 1 and old["valid_to"].iloc[0] == "2025-01-01" and old["valid_from"].iloc[0] == "2024-06-01"
    idx = load_index(Project.open(p))
    r = forward(idx, "雄石路12号")
    assert r["level"] == "alias" and r["matched"] == "雄石大道12号"
    # rebuilding from inputs that still say 雄石路 keeps the new name and the history
    build(project=str(p), date="2025-02-01", **{"from": [str(PLATES), f"{BASE}:roads"]})
    roads = pyogrio.read_dataframe(str(p), layer="geo_roads")
    assert "雄石大道" in set(roads["StdName"]) and "雄石路" not in set(roads["StdName"])
    names = pyogrio.read_dataframe(str(p), layer="geo_names")
    assert ((names["name"] == "雄石路") & (names["kind"] == "former")).sum() == 1


def test_build_is_atomic_and_errors_are_bilingual(project, cli, tmp_path):
    code, out, _ = cli(["geocode", "forward", str(tmp_path / "none.gpkg"), "x", "--json"])
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found"
    from surveytools.project import init
    empty = tmp_path / "e.gpkg"
    init(project=str(empty), county="360681")
    code, out, _ = cli(["geocode", "forward", str(empty), "雄石路1号", "--json"])
    err = json.loads(out)["error"]
    assert code == 2 and err["code"] == "no_address_base" and err["message"]["zh"] and err["message"]["en"]


def test_chainage_and_side_of_points_along_a_road():
    """One helper places plates for the build (Side) and for interpolation (signed offsets)."""
    import shapely

    from surveytools.geocode.base import along_and_side, longest_part

    road = longest_part(shapely.MultiLineString([[(0, 0), (1, 0)], [(0, 5), (10, 5)]]))
    assert shapely.length(road) == 10
    lines = np.array([road, road, road], dtype=object)
    d, cross = along_and_side(lines, shapely.points([(5, 6), (5, 4), (0, 7)]))
    assert d.tolist() == [5.0, 5.0, 0.0]
    assert cross[0] > 0 and cross[1] < 0 and cross[2] > 0  # left, right, left at the very start
