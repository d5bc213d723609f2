"""Seeded generator of surveyed components (部件) along the roads of the sample district.

Everything is drawn from one ``numpy.random.Generator`` seeded by the caller, walking the roads
in a fixed order, so the same roads and seed always give the same components.  Classes and
names are real CJ/T 214-2007 minor classes (``component_classes.csv``); attributes follow
CJ/T 214 practice: ObjID, ObjName, DeptCode1-3/DeptName1-3 (主管/权属/养护), BGID, ObjState,
ORDate, CHDate, DataSource, Note, LocateDSC, Material.

Placement rules (per road way; ``hw`` = half carriageway width: 12 m major, 6 m minor, 4 m link,
3 m service):

==========================  ==================================================================
manhole covers 0101-0111     every 40–60 m, alternating sides, in the carriageway
rain grates 0104             every 30–40 m on both kerbs (major and minor roads)
street lamps 0118            major: every 30–40 m both sides (staggered); minor: 35–50 m, one side
street trees 0402            major roads: every 8–12 m, both sides (dual carriageways: outer side)
bins 0305                    every 80–120 m, alternating sides
fire hydrants 0113 消防设施  every 100–140 m, alternating sides
traffic signs 0209           major roads: every 200–300 m
bus stops 0203               major roads: every 450–600 m, alternating sides
signals 0210, name signs     at crossings of named major/minor roads
0213
kiosks 0121, post boxes      sparse, random along major/minor roads
0123, toilets 0301,
transformers 0134
guardrails 0211 (line)       middle 60 % of major road ways longer than 200 m
green spaces 0405, parking   rectangles beside major roads; some green spaces fenced with
0201 (polygon), 0408 (line)  绿地护栏 lines
==========================  ==================================================================
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from .departments import dept_name

COUNTY = "360681"

#: class code -> (CJ/T 214-2007 name, geometry, (主管, 权属, 养护) department codes, materials)
CLASSES = {
    "0101": ("上水井盖", "point", ("GX020", "GX060", "GX060"), ("铸铁", "球墨铸铁")),
    "0102": ("污水井盖", "point", ("GX020", "GX020", "GX021"), ("铸铁", "球墨铸铁", "复合材料")),
    "0103": ("雨水井盖", "point", ("GX020", "GX020", "GX021"), ("铸铁", "球墨铸铁", "复合材料")),
    "0104": ("雨水箅子", "point", ("GX020", "GX020", "GX021"), ("铸铁", "复合材料")),
    "0105": ("电力井盖", "point", ("GX020", "GX061", "GX061"), ("铸铁", "复合材料")),
    "0107": ("通讯井盖", "point", ("GX020", "GX062", "GX062"), ("铸铁", "复合材料")),
    "0111": ("燃气井盖", "point", ("GX020", "GX064", "GX064"), ("球墨铸铁",)),
    "0113": ("消防设施", "point", ("GX041", "GX060", "GX060"), ("铸铁",)),
    "0118": ("路灯", "point", ("GX010", "GX012", "GX012"), ("钢", "铝合金")),
    "0121": ("报刊亭", "point", ("GX010", "GX065", "GX065"), ("钢", "铝合金")),
    "0123": ("邮筒", "point", ("GX010", "GX065", "GX065"), ("钢",)),
    "0134": ("变压器（箱）", "point", ("GX020", "GX061", "GX061"), ("钢",)),
    "0201": ("停车场", "polygon", ("GX010", "GX040", "GX040"), ("沥青", "植草砖")),
    "0203": ("公交站亭", "point", ("GX030", "GX031", "GX031"), ("钢", "不锈钢")),
    "0209": ("交通标志牌", "point", ("GX040", "GX040", "GX040"), ("铝合金",)),
    "0210": ("交通信号灯", "point", ("GX040", "GX040", "GX040"), ("钢",)),
    "0211": ("交通护栏", "line", ("GX040", "GX040", "GX040"), ("钢", "锌钢")),
    "0213": ("路名牌", "point", ("GX050", "GX050", "GX010"), ("铝合金", "不锈钢")),
    "0301": ("公共厕所", "point", ("GX010", "GX011", "GX011"), ("砖混",)),
    "0305": ("垃圾箱", "point", ("GX010", "GX011", "GX011"), ("不锈钢", "塑料")),
    "0402": ("行道树", "point", ("GX022", "GX022", "GX022"), ("香樟", "桂花", "广玉兰", "银杏")),
    "0405": ("绿地", "polygon", ("GX022", "GX022", "GX022"), ("",)),
    "0408": ("绿地护栏", "line", ("GX022", "GX022", "GX022"), ("锌钢", "铸铁")),
}

HALF_WIDTH = {"major": 12.0, "minor": 6.0, "link": 4.0, "service": 3.0}
STATES = np.array(["完好", "破损", "丢失", "占用"])
STATE_P = [0.9, 0.06, 0.015, 0.025]
COVER_CODES = np.array(["0103", "0102", "0101", "0105", "0107", "0111"])
COVER_P = [0.25, 0.25, 0.18, 0.12, 0.10, 0.10]
FIELDS = ["ObjID", "ObjName", "ClassCode", "DeptCode1", "DeptName1", "DeptCode2", "DeptName2",
          "DeptCode3", "DeptName3", "BGID", "ObjState", "ORDate", "CHDate", "DataSource", "Note",
          "LocateDSC", "Material"]


@dataclass
class Components:
    points: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    polygons: gpd.GeoDataFrame

    def all(self) -> gpd.GeoDataFrame:
        return pd.concat([self.points, self.lines, self.polygons], ignore_index=True)


def _distances(rng, length, lo, hi, start=None):
    """Chainages from ``start`` (default: half a spacing) with spacings drawn from U(lo, hi)."""
    n = int(length / lo) + 2
    steps = rng.uniform(lo, hi, n)
    first = rng.uniform(0, lo) if start is None else start
    d = first + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    return d[d < length]


def _place(line, d, side, offset):
    """Points at chainage ``d`` offset ``side * offset`` (side +1 = left of the road direction)."""
    length = line.length
    p = shapely.line_interpolate_point(line, d)
    q = shapely.line_interpolate_point(line, np.minimum(d + 1.0, length))
    r = shapely.line_interpolate_point(line, np.maximum(d - 1.0, 0.0))
    tx = shapely.get_x(q) - shapely.get_x(r)
    ty = shapely.get_y(q) - shapely.get_y(r)
    norm = np.hypot(tx, ty)
    norm[norm == 0] = 1.0
    nx, ny = -ty / norm, tx / norm  # left normal
    x = shapely.get_x(p) + side * offset * nx
    y = shapely.get_y(p) + side * offset * ny
    return x, y, side * nx, side * ny


_DIRS = np.array(["东侧", "北侧", "西侧", "南侧"])


def _side_words(nx, ny):
    ang = np.degrees(np.arctan2(ny, nx)) % 360
    return _DIRS[((ang + 45) // 90).astype(int) % 4]


def generate_components(roads: gpd.GeoDataFrame, seed: int = 20240601) -> Components:
    """Components along ``roads`` (projected, metres; columns name, road_class, osm_id)."""
    rng = np.random.default_rng(seed)
    roads = roads[roads["road_class"].isin(list(HALF_WIDTH))].sort_values("osm_id").reset_index(drop=True)
    roads = roads[roads.geometry.geom_type == "LineString"]
    pts = []  # dicts of arrays

    def add(code, x, y, road, rid, d, nx, ny, note=None):
        if len(x) == 0:
            return
        code = np.broadcast_to(np.asarray(code), len(x))
        pts.append(pd.DataFrame({"ClassCode": code, "x": x, "y": y, "road": road, "road_osm_id": rid,
                                 "chainage": d, "LocateDSC": np.char.add(road or "无名路", _side_words(nx, ny)),
                                 "Note": "" if note is None else note}))

    lines, polys = [], []
    oneway = roads["oneway"].fillna("").isin(["yes", "1", "-1"]).to_numpy() if "oneway" in roads else \
        np.zeros(len(roads), bool)
    for rid, name, rc, line, ow in zip(roads["osm_id"], roads["name"], roads["road_class"], roads.geometry, oneway):
        name = name if isinstance(name, str) else ""
        hw, length = HALF_WIDTH[rc], line.length
        # one carriageway of a dual road: kerb furniture on the outer (right) side only
        if ow:
            hw = hw / 2
        kerbs = (-1.0,) if ow else (1.0, -1.0)
        # manhole covers: 40-60 m alternating sides, in the carriageway
        d = _distances(rng, length, 40, 60)
        side = np.where(np.arange(len(d)) % 2 == 0, 1.0, -1.0)
        x, y, nx, ny = _place(line, d, side, rng.uniform(0.3, 0.7, len(d)) * hw)
        add(rng.choice(COVER_CODES, len(d), p=COVER_P), x, y, name, rid, d, nx, ny)
        if rc in ("major", "minor"):
            for s in kerbs:
                d = _distances(rng, length, 30, 40)
                x, y, nx, ny = _place(line, d, s, hw - 0.3)
                add("0104", x, y, name, rid, d, nx, ny)
            d = _distances(rng, length, 80, 120)
            side = np.where(np.arange(len(d)) % 2 == 0, 1.0, -1.0) if not ow else np.full(len(d), -1.0)
            x, y, nx, ny = _place(line, d, side, hw + 1.5)
            add("0305", x, y, name, rid, d, nx, ny)
            d = _distances(rng, length, 100, 140)
            side = np.where(np.arange(len(d)) % 2 == 0, -1.0, 1.0)
            x, y, nx, ny = _place(line, d, side, hw + 1.0)
            add("0113", x, y, name, rid, d, nx, ny)
            for code, rate in (("0121", 1 / 1500), ("0123", 1 / 1200), ("0301", 1 / 2500), ("0134", 1 / 600)):
                n = rng.poisson(length * rate)
                d = np.sort(rng.uniform(0, length, n))
                x, y, nx, ny = _place(line, d, rng.choice([-1.0, 1.0], n), hw + 4.0)
                add(code, x, y, name, rid, d, nx, ny)
        if rc == "major":
            for s, start in ((1.0, rng.uniform(0, 10)), (-1.0, rng.uniform(15, 25)))[(1 if ow else 0):]:
                d = _distances(rng, length, 30, 40, start=start)
                x, y, nx, ny = _place(line, d, s, hw + 1.0)
                add("0118", x, y, name, rid, d, nx, ny)
            for s in kerbs:
                d = _distances(rng, length, 8, 12)
                x, y, nx, ny = _place(line, d, s, hw + 2.5)
                add("0402", x, y, name, rid, d, nx, ny)
            d = _distances(rng, length, 200, 300)
            side = np.where(np.arange(len(d)) % 2 == 0, 1.0, -1.0)
            x, y, nx, ny = _place(line, d, side, hw + 0.8)
            add("0209", x, y, name, rid, d, nx, ny)
            d = _distances(rng, length, 450, 600)
            side = np.where(np.arange(len(d)) % 2 == 0, 1.0, -1.0)
            x, y, nx, ny = _place(line, d, side, hw + 3.0)
            stops = np.array([f"站名：{name or '无名路'}{i + 1}号站" for i in range(len(d))], dtype=object)
            add("0203", x, y, name, rid, d, nx, ny, note=stops)
            if length > 200:
                lines.append({"ClassCode": "0211", "road": name, "road_osm_id": rid,
                              "LocateDSC": f"{name or '无名路'}中央隔离带",
                              "geometry": shapely.ops.substring(line, 0.2 * length, 0.8 * length)})
            # green spaces and parking lots beside the road
            for k in range(int(length // 400)):
                a = rng.uniform(0, max(length - 120, 1))
                seg = shapely.ops.substring(line, a, min(a + rng.uniform(40, 120), length))
                s = rng.choice([-1.0, 1.0])
                code = "0201" if rng.random() < 0.25 else "0405"
                depth = rng.uniform(20, 40) if code == "0201" else rng.uniform(8, 20)
                edge = shapely.offset_curve(seg, s * (hw + 5.0))
                if edge.is_empty or edge.geom_type != "LineString":
                    continue
                poly = shapely.buffer(edge, s * depth, single_sided=True)
                if poly.is_empty or poly.geom_type != "Polygon":
                    continue
                poly = shapely.set_precision(poly, 0.01)
                polys.append({"ClassCode": code, "road": name, "road_osm_id": rid,
                              "LocateDSC": f"{name or '无名路'}{'左' if s > 0 else '右'}侧", "geometry": poly})
                polys[-1]["fence"] = code == "0405" and rng.random() < 0.3

    # crossings of named roads: signals and street-name signs
    named = roads[roads["name"].fillna("") != ""]
    named = named[named["road_class"].isin(["major", "minor"])]
    tree = shapely.STRtree(named.geometry.values)
    li, ri = tree.query(named.geometry.values, predicate="intersects")
    nm = named["name"].to_numpy()
    cls = named["road_class"].to_numpy()
    keep = (li < ri) & (nm[li] != nm[ri])
    cx = shapely.intersection(named.geometry.values[li[keep]], named.geometry.values[ri[keep]])
    cpts = shapely.get_parts(cx)
    cpts = cpts[shapely.get_type_id(cpts) == 0]
    if len(cpts):
        xy = np.unique(np.round(shapely.get_coordinates(cpts), 1), axis=0)
        # road names at each crossing
        ptsg = shapely.points(xy)
        qi, qr = tree.query(ptsg, predicate="dwithin", distance=0.5)
        names_at = pd.DataFrame({"i": qi, "name": nm[qr], "major": cls[qr] == "major"})
        grp = names_at.groupby("i").agg(names=("name", lambda s: sorted(set(s))), major=("major", "sum"))
        for i, row in grp.iterrows():
            if len(row["names"]) < 2:
                continue
            x0, y0 = xy[i]
            label = f"{row['names'][0]}与{row['names'][1]}交叉口"
            if row["major"] >= 2:
                off = np.array([[15, 15], [-15, 15], [-15, -15], [15, -15]], float)
                quad = np.array(["东北角", "西北角", "西南角", "东南角"])
                add("0210", x0 + off[:, 0], y0 + off[:, 1], row["names"][0], -1, np.zeros(4),
                    off[:, 0], off[:, 1])
                pts[-1]["LocateDSC"] = [label + q for q in quad]
            off = np.array([[9, 11], [-11, -9]], float)
            add("0213", x0 + off[:, 0], y0 + off[:, 1], row["names"][0], -1, np.zeros(2), off[:, 0], off[:, 1])
            pts[-1]["LocateDSC"] = [label + "东北角", label + "西南角"]

    # green spaces and parking lots must not cover a carriageway
    if polys:
        widths = roads["road_class"].map(HALF_WIDTH).to_numpy() / np.where(oneway, 2.0, 1.0)
        carriageways = shapely.union_all(shapely.buffer(roads.geometry.values, widths + 1.0, cap_style="flat"))
        kept = []
        for rec in polys:
            g = shapely.difference(rec["geometry"], carriageways)
            parts = shapely.get_parts(g)
            parts = parts[shapely.get_type_id(parts) == 3]
            if not len(parts):
                continue
            g = shapely.set_precision(parts[np.argmax(shapely.area(parts))], 0.01)
            if g.is_valid and g.area >= 100:
                kept.append({**rec, "geometry": g})
        polys = kept
        for rec in polys:
            if rec.pop("fence"):
                lines.append({"ClassCode": "0408", "road": rec["road"], "road_osm_id": rec["road_osm_id"],
                              "LocateDSC": f"{rec['road'] or '无名路'}绿地",
                              "geometry": shapely.LineString(rec["geometry"].exterior.coords)})
    p = pd.concat(pts, ignore_index=True)
    p = gpd.GeoDataFrame(p, geometry=shapely.points(p["x"].round(3), p["y"].round(3)),
                         crs=roads.crs).drop(columns=["x", "y"])
    ln = gpd.GeoDataFrame(lines, geometry="geometry", crs=roads.crs) if lines else None
    pg = gpd.GeoDataFrame(polys, geometry="geometry", crs=roads.crs) if polys else None
    out = [_attributes(g, rng) for g in (p, ln, pg)]
    return Components(*out)


def _attributes(gdf: gpd.GeoDataFrame, rng) -> gpd.GeoDataFrame:
    n = len(gdf)
    code = gdf["ClassCode"].to_numpy()
    gdf = gdf.copy()
    gdf["ObjName"] = [CLASSES[c][0] for c in code]
    for k in range(3):
        dc = np.array([CLASSES[c][2][k] for c in code], dtype=object)
        gdf[f"DeptCode{k + 1}"] = dc
        gdf[f"DeptName{k + 1}"] = [dept_name(c) for c in dc]
    gdf["BGID"] = ""
    gdf["ObjState"] = rng.choice(STATES, n, p=STATE_P)
    years = rng.integers(2008, 2024, n)
    months = rng.integers(1, 13, n)
    days = rng.integers(1, 29, n)
    gdf["ORDate"] = [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(years, months, days)]
    cd = rng.integers(0, 45, n)
    gdf["CHDate"] = (np.datetime64("2024-05-06") + cd.astype("timedelta64[D]")).astype(str)
    gdf["DataSource"] = "实测"
    if "Note" not in gdf:
        gdf["Note"] = ""
    gdf["Note"] = gdf["Note"].fillna("")
    mats = [CLASSES[c][3] for c in code]
    pick = rng.random(n)
    gdf["Material"] = [m[int(r * len(m))] for m, r in zip(mats, pick)]
    # ObjID: county 6 + class 4 + serial 6, serial numbered per class in generation order
    serial = gdf.groupby("ClassCode").cumcount().to_numpy() + 1
    gdf["ObjID"] = [f"{COUNTY}{c}{s:06d}" for c, s in zip(code, serial)]
    extra = [c for c in gdf.columns if c not in FIELDS and c != "geometry"]
    return gdf[FIELDS + extra + ["geometry"]]
