"""The sample district: streets (街道) and communities (社区) of 贵溪市 (360681) city centre.

Method (also in ``sample_data/README.md``):

1. The study area is the bounding box of the OSM extract, projected to CGCS2000 / 3-degree
   Gauss–Krüger CM 117°E (EPSG:4548).
2. *Admin faces*: the member ways of every ``boundary=administrative`` relation present in the
   extract are noded together with the study-area ring and polygonized.  Each face is labelled
   with a street through an *anchor* — the OSM node that names it (``place=town`` nodes
   花园街道 / 雄石街道 / 东门街道).  OSM has no boundary for 江北街道 (360681004, created after
   the OSM boundaries were drawn); the sample puts it on the face OSM maps as 滨江镇 north of the
   railway, anchored on the 柏里村 node.  Faces without an anchor (slivers cut by the box,
   land across the 信江) join the labelled neighbour with which they share the longest border.
3. *Blocks*: the same lines plus primary/secondary/tertiary roads, railways and the 信江 /
   canal centre lines are noded and polygonized once.  Every block lies inside exactly one admin
   face, so streets are unions of blocks.
4. *Communities*: seeds are the OSM ``place=quarter`` nodes (real community names such as
   白果社区, 西街社区) plus a few documented synthetic seeds where OSM has none.  Each block goes
   to the nearest seed of its own street (the block holding a seed always goes to that seed);
   communities are the unions of their blocks, so they follow roads and nest in streets, and
   streets and communities tile the study area exactly (one polygonization, no gaps, no
   overlaps).
5. Codes: street codes are the real NBS codes.  The only real 12-digit community code we have
   is 360681001001 白果居民委员会; every other 12-digit code is synthetic (serials in
   west→east, north→south order; 村 committees numbered from 201) and is **not official**.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from ..errors import SurveyError
from ..i18n import Text
from .osm import WGS84, OsmData

#: project CRS for county 360681: CGCS2000 / 3-degree Gauss-Kruger CM 117E
PROJECT_CRS = "EPSG:4548"
COUNTY_CODE = "360681"
COUNTY_NAME = "贵溪市"

#: (street code, name, anchor: name of the OSM node that lies inside it)
STREETS = [
    ("360681001", "花园街道", "花园街道"),
    ("360681002", "雄石街道", "雄石街道"),
    ("360681003", "东门街道", "东门街道"),
    ("360681004", "江北街道", "柏里村"),
]

#: real 12-digit codes we know (NBS 2023): name -> code
REAL_COMMUNITY_CODES = {"白果社区": "360681001001"}

#: synthetic seeds where OSM has no community node: (name, lon, lat, kind)
SYNTHETIC_SEEDS = [
    ("江北社区", 117.2200, 28.3050, "社区"),
    ("新城社区", 117.2180, 28.3160, "社区"),
]
#: OSM village nodes used as 村 committees (names real, codes synthetic)
VILLAGE_SEEDS = ["柏里村", "黄坑村"]


@dataclass
class District:
    area: shapely.Polygon
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    rivers: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    railways: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame


def study_area(bounds, crs=PROJECT_CRS) -> shapely.Polygon:
    box = shapely.segmentize(shapely.box(*bounds), 0.0005)
    return gpd.GeoSeries([box], crs=WGS84).to_crs(crs).iloc[0]


def _clip(gdf: gpd.GeoDataFrame, area, crs=PROJECT_CRS) -> gpd.GeoDataFrame:
    out = gdf.to_crs(crs)
    out = out[out.intersects(area)].copy()
    out["geometry"] = out.geometry.intersection(area)
    out = out[~out.geometry.is_empty].reset_index(drop=True)
    return out


def _faces(lines, area):
    """Polygonize the noded lines; keep the faces inside ``area`` (as a list of polygons)."""
    lines = [shapely.intersection(g, area) for g in lines] + [area.boundary]
    net = shapely.union_all([g for g in lines if not g.is_empty])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(net)))
    pts = shapely.point_on_surface(faces)
    faces = faces[shapely.contains(area, pts) & (shapely.area(faces) > 0)]
    return faces


def _shared(a, b) -> float:
    return shapely.intersection(a.boundary, b.boundary).length


def _label_faces(faces, anchors: dict) -> np.ndarray:
    """Label faces with the street whose anchor point they contain; unlabelled faces join the
    labelled neighbour with the longest shared border (repeated until all are labelled)."""
    labels = np.full(len(faces), -1)
    for si, pt in anchors.items():
        hit = np.flatnonzero(shapely.contains(faces, pt))
        if len(hit):
            labels[hit[0]] = si
    tree = shapely.STRtree(faces)
    for _ in range(len(faces)):
        todo = np.flatnonzero(labels < 0)
        if not len(todo):
            break
        changed = False
        for i in todo:
            best, best_len = -1, 0.0
            for j in tree.query(faces[i], predicate="touches"):
                if labels[j] >= 0:
                    ln = _shared(faces[i], faces[j])
                    if ln > best_len:
                        best, best_len = labels[j], ln
            if best >= 0:
                labels[i] = best
                changed = True
        if not changed:
            break
    return labels


def _fallback_admin_faces(area):
    """No usable admin relations: split the study area into quadrants around its centroid."""
    minx, miny, maxx, maxy = area.bounds
    c = area.centroid
    boxes = [shapely.box(c.x, miny, maxx, c.y), shapely.box(minx, miny, c.x, c.y),
             shapely.box(minx, c.y, c.x, maxy), shapely.box(c.x, c.y, maxx, maxy)]
    return np.array([area.intersection(b) for b in boxes]), np.arange(4)


def _make_contiguous(blocks, block_comm, block_street, rounds: int = 6) -> None:
    """Give every detached part of a community to the neighbouring community of the same street
    with which it shares the longest border (in place), so communities are single polygons."""
    for _ in range(rounds):
        changed = False
        ids = [j for j in np.unique(block_comm) if j >= 0]
        unions = {j: shapely.union_all(blocks[block_comm == j]) for j in ids}
        for j in ids:
            parts = shapely.get_parts(unions[j])
            if len(parts) < 2:
                continue
            parts = parts[np.argsort(-shapely.area(parts))]
            mine = np.flatnonzero(block_comm == j)
            si = block_street[mine[0]]
            others = [k for k in ids if k != j and block_street[block_comm == k][0] == si]
            for part in parts[1:]:
                best = max(others, key=lambda k: _shared(part, unions[k]), default=None)
                if best is None or _shared(part, unions[best]) <= 0:
                    continue
                inside = mine[shapely.within(shapely.point_on_surface(blocks[mine]), part)]
                block_comm[inside] = best
                changed = True
        if not changed:
            return


def build_district(osm: OsmData, crs=PROJECT_CRS) -> District:
    area = study_area(osm.bounds, crs)
    pois = _clip(osm.pois, area, crs)
    roads = _clip(osm.roads, area, crs)
    rails = _clip(osm.railways[osm.railways.railway == "rail"], area, crs)
    rivers = _clip(osm.waterways, area, crs)
    water = _clip(osm.water, area, crs)
    buildings = _clip(osm.buildings, area, crs)

    admin_lines = []
    for gdf in osm.admin.values():
        if len(gdf):
            admin_lines.extend(gdf.to_crs(crs).geometry)
    anchors = {}
    for si, (_, _, anchor) in enumerate(STREETS):
        hit = pois[pois["name"] == anchor]
        if len(hit):
            anchors[si] = hit.geometry.iloc[0]
    if admin_lines and len(anchors) == len(STREETS):
        afaces = _faces(admin_lines, area)
        alabels = _label_faces(afaces, anchors)
        if (alabels < 0).any() or len(set(alabels)) < len(STREETS):
            afaces, alabels = _fallback_admin_faces(area)
    else:
        afaces, alabels = _fallback_admin_faces(area)

    # blocks: one polygonization of admin lines + main roads + railways + river centre lines
    main = roads[roads["road_class"].isin(["major", "minor", "link"])].geometry
    river_lines = rivers[(rivers["name"] == "信江") | (rivers["waterway"] == "canal")].geometry
    afaces_b = list(shapely.boundary(afaces))
    blocks = _faces([*admin_lines, *afaces_b, *main, *rails.geometry, *river_lines], area)
    rp = shapely.point_on_surface(blocks)
    tree = shapely.STRtree(afaces)
    q = tree.query(rp, predicate="within")
    block_street = np.full(len(blocks), -1)
    block_street[q[0]] = alabels[q[1]]
    if (block_street < 0).any():  # numerical edge case: nearest admin face
        miss = np.flatnonzero(block_street < 0)
        block_street[miss] = alabels[tree.nearest(rp[miss])]

    streets = []
    for si, (code, name, _) in enumerate(STREETS):
        geom = shapely.union_all(blocks[block_street == si])
        streets.append({"code": code, "name": name, "county_code": COUNTY_CODE, "county_name": COUNTY_NAME,
                        "geometry": geom})
    streets = gpd.GeoDataFrame(streets, crs=crs)
    streets["area_m2"] = streets.area.round(1)

    # community seeds
    seeds = []
    quarters = pois[pois["kind"] == "place=quarter"]
    for name, g in zip(quarters["name"], quarters.geometry):
        seeds.append((name, g, "社区", "osm"))
    villages = pois[pois["name"].isin(VILLAGE_SEEDS)]
    for name, g in zip(villages["name"], villages.geometry):
        seeds.append((name, g, "村", "osm"))
    syn = gpd.GeoSeries(shapely.points([(s[1], s[2]) for s in SYNTHETIC_SEEDS]), crs=WGS84).to_crs(crs)
    for (name, _, _, kind), g in zip(SYNTHETIC_SEEDS, syn):
        seeds.append((name, g, kind, "synthetic"))
    seed_pts = np.array([s[1] for s in seeds])
    seed_street = np.full(len(seeds), -1)
    for si in range(len(STREETS)):
        seed_street[shapely.contains(streets.geometry.iloc[si], seed_pts)] = si
    keep = seed_street >= 0
    seeds = [s for s, k in zip(seeds, keep) if k]
    seed_pts, seed_street = seed_pts[keep], seed_street[keep]

    # each block -> nearest seed of the same street; the block holding a seed -> that seed
    block_comm = np.full(len(blocks), -1)
    bx = np.column_stack([shapely.get_x(rp), shapely.get_y(rp)])
    sx = np.column_stack([shapely.get_x(seed_pts), shapely.get_y(seed_pts)])
    for si in range(len(STREETS)):
        bi = np.flatnonzero(block_street == si)
        sj = np.flatnonzero(seed_street == si)
        if not len(sj):
            raise SurveyError(Text("街道 {s} 没有社区种子点。", "Street {s} has no community seed.")
                              .format(s=STREETS[si][1]))
        d = ((bx[bi, None, :] - sx[None, sj, :]) ** 2).sum(axis=2)
        block_comm[bi] = sj[d.argmin(axis=1)]
        for j in sj:
            hit = bi[shapely.contains(blocks[bi], seed_pts[j])]
            block_comm[hit] = j

    _make_contiguous(blocks, block_comm, block_street)

    rows = []
    for j, (name, g, kind, source) in enumerate(seeds):
        mine = blocks[block_comm == j]
        if not len(mine):
            continue
        si = seed_street[j]
        rows.append({"name": name, "kind": kind, "seed_source": source, "street_code": STREETS[si][0],
                     "street_name": STREETS[si][1], "seed_x": g.x, "seed_y": g.y,
                     "geometry": shapely.union_all(mine)})
    comm = gpd.GeoDataFrame(rows, crs=crs)
    # codes: real where known, otherwise serials west->east, north->south (村 from 201)
    comm["_row"] = (-comm["seed_y"] // 500).astype(int)
    comm = comm.sort_values(["street_code", "kind", "_row", "seed_x"]).reset_index(drop=True)
    codes = []
    for sc, grp in comm.groupby("street_code", sort=True):
        used = {REAL_COMMUNITY_CODES[n][-3:] for n in grp["name"] if n in REAL_COMMUNITY_CODES}
        nxt = {"社区": 1, "村": 201}
        for name, kind in zip(grp["name"], grp["kind"]):
            if name in REAL_COMMUNITY_CODES:
                codes.append((name, REAL_COMMUNITY_CODES[name]))
                continue
            while f"{nxt[kind]:03d}" in used:
                nxt[kind] += 1
            codes.append((name, f"{sc}{nxt[kind]:03d}"))
            used.add(f"{nxt[kind]:03d}")
    comm["code"] = comm["name"].map(dict(codes))
    comm["official"] = comm["name"].isin(REAL_COMMUNITY_CODES)
    comm["area_m2"] = comm.area.round(1)
    comm = comm.sort_values("code").reset_index(drop=True)
    comm = comm[["code", "name", "street_code", "street_name", "kind", "official", "seed_source", "area_m2",
                 "geometry"]]
    return District(area, streets, comm, roads, rivers, water, rails, buildings, pois)
