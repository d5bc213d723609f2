"""Seeded generator of door plates (门牌) along the named roads of the sample district.

Convention used here (documented in ``sample_data/README.md``): each road is walked from its
west (or, for north–south roads, south) end; **odd numbers on the left, even numbers on the
right** of that direction, increasing along the road.  Plates stand 10–15 m from the centre
line (on a dual carriageway, beyond the other carriageway), 15–40 m apart.  About 5 % of plates get a ``之一`` sibling (e.g. 雄石路12号之一) and about
3 % an annex plate (附号, e.g. 雄石路12附1号).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .components import _distances, _place

BUILDING_WORDS = ["小区", "大厦", "商厦", "公寓", "花园", "家属院"]
BUILDING_PREFIX = ["信江", "龙虎", "冶金", "雄石", "华府", "锦绣", "阳光", "滨江", "新华", "铜都"]


def _road_lines(roads: gpd.GeoDataFrame):
    named = roads[(roads["name"].fillna("") != "") & roads["road_class"].isin(["major", "minor"])]
    out = []
    for name in sorted(named["name"].unique()):
        ways = named.loc[named["name"] == name]
        if name.endswith("大桥"):
            continue
        merged = shapely.line_merge(shapely.union_all(ways.geometry.values))
        parts = shapely.get_parts(merged)
        line = parts[np.argmax(shapely.length(parts))]
        # the other carriageway(s) of a dual road: plates must stand beyond them
        others = shapely.union_all(np.delete(parts, np.argmax(shapely.length(parts))))
        if line.length < 150:
            continue
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        east_west = abs(x1 - x0) >= abs(y1 - y0)
        if (east_west and x1 < x0) or (not east_west and y1 < y0):
            line = shapely.reverse(line)
        out.append((name, line, others))
    return out


def _offsets(rng, line, others, d, side):
    """10–15 m from the centre line; on a dual carriageway, beyond the other carriageway."""
    off = rng.uniform(10, 15, len(d))
    if not others.is_empty:
        x, y, _, _ = _place(line, d, side, np.full(len(d), 3.0))
        near = shapely.distance(shapely.points(x, y), others)
        base = shapely.distance(shapely.line_interpolate_point(line, d), others)
        off = off + np.where((near < base) & (base < 60), base, 0.0)
    return off


def generate_doorplates(roads: gpd.GeoDataFrame, seed: int = 20240601, county_name: str = "贵溪市"):
    rng = np.random.default_rng(seed + 7)
    frames = []
    for name, line, others in _road_lines(roads):
        for side, first, sname in ((1.0, 1, "左"), (-1.0, 2, "右")):
            d = _distances(rng, line.length, 15, 40)
            n = len(d)
            if not n:
                continue
            num = first + 2 * np.arange(n)
            x, y, _, _ = _place(line, d, side, _offsets(rng, line, others, d, side))
            df = pd.DataFrame({"road": name, "number": num, "suffix": "", "side": sname,
                               "parity": "单号" if first == 1 else "双号", "chainage": d, "x": x, "y": y})
            # 之一 siblings and 附号 annexes, placed a few metres further along
            extra = []
            for kind, p, text in (("之一", 0.05, "之一"), ("附", 0.03, "附1")):
                pick = np.flatnonzero(rng.random(n) < p)
                if len(pick):
                    dd = np.minimum(d[pick] + rng.uniform(3, 6, len(pick)), line.length)
                    ex, ey, _, _ = _place(line, dd, side, _offsets(rng, line, others, dd, side))
                    extra.append(pd.DataFrame({"road": name, "number": num[pick], "suffix": text,
                                               "side": sname, "parity": df["parity"].iloc[0],
                                               "chainage": dd, "x": ex, "y": ey}))
            frames.extend([df, *extra])
    out = pd.concat(frames, ignore_index=True).sort_values(["road", "side", "chainage"]).reset_index(drop=True)
    numtxt = out["number"].astype(str)
    out["address"] = np.where(out["suffix"] == "附1", out["road"] + numtxt + "附1号",
                              out["road"] + numtxt + "号" + out["suffix"])
    out["full_address"] = "江西省鹰潭市" + county_name + out["address"]
    has_b = rng.random(len(out)) < 0.08
    bname = (np.array(BUILDING_PREFIX)[rng.integers(0, len(BUILDING_PREFIX), len(out))].astype(object)
             + np.array(BUILDING_WORDS)[rng.integers(0, len(BUILDING_WORDS), len(out))].astype(object))
    out["building"] = np.where(has_b, bname, "")
    out["plate_id"] = [f"MP{i + 1:06d}" for i in range(len(out))]
    geom = shapely.points(out["x"].round(3), out["y"].round(3))
    out = out.drop(columns=["x", "y"])
    cols = ["plate_id", "road", "number", "suffix", "address", "full_address", "side", "parity", "building",
            "chainage"]
    return gpd.GeoDataFrame(out[cols], geometry=geom, crs=roads.crs)
