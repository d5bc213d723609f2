"""Read an OpenStreetMap XML extract (``.osm``) into GeoDataFrames, stdlib only.

Only what the sample district needs is kept: roads, railways, waterways, water polygons,
buildings, point features (POIs, place names) and the ways of ``boundary=administrative``
relations.  Geometries are built with whole-array shapely 2 calls (``linestrings`` /
``polygons`` with ``indices``), not one object per Python loop iteration.

Data © OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import SurveyError
from ..i18n import Text

WGS84 = "EPSG:4326"

#: highway values kept as roads, with a coarse class used by the generators
ROAD_CLASSES = {
    "motorway": "major", "trunk": "major", "primary": "major", "secondary": "major",
    "primary_link": "link", "secondary_link": "link", "tertiary_link": "link",
    "tertiary": "minor", "unclassified": "minor", "residential": "minor",
    "living_street": "minor", "service": "service", "track": "service",
    "construction": "construction", "pedestrian": "minor", "footway": "path",
}


@dataclass
class OsmData:
    bounds: tuple  # (minlon, minlat, maxlon, maxlat)
    roads: gpd.GeoDataFrame
    railways: gpd.GeoDataFrame
    waterways: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    admin: dict = field(default_factory=dict)  # relation name -> GeoDataFrame of member ways
    admin_tags: dict = field(default_factory=dict)


def _tags(el) -> dict:
    return {t.get("k"): t.get("v") for t in el.iter("tag")}


def _lines(node_idx, coords, way_nodes):
    """Whole-array linestrings from lists of node ids; ways with < 2 known nodes are dropped."""
    keep, flat, ind = [], [], []
    for i, refs in enumerate(way_nodes):
        ix = [node_idx[r] for r in refs if r in node_idx]
        if len(ix) >= 2:
            flat.extend(ix)
            ind.extend([len(keep)] * len(ix))
            keep.append(i)
    if not keep:
        return np.array([], dtype=object), np.array([], dtype=int)
    geoms = shapely.linestrings(coords[np.asarray(flat)], indices=np.asarray(ind))
    return geoms, np.asarray(keep)


def read_osm(path) -> OsmData:
    path = Path(path)
    if not path.exists():
        raise SurveyError(Text("找不到 OSM 文件。", "OSM file not found."), file=str(path))
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SurveyError(Text("OSM 文件不是有效的 XML：{e}", "The OSM file is not valid XML: {e}").format(e=exc),
                          file=str(path)) from exc
    b = root.find("bounds")
    node_ids, lons, lats, node_tags = [], [], [], []
    for n in root.iter("node"):
        node_ids.append(n.get("id"))
        lons.append(float(n.get("lon")))
        lats.append(float(n.get("lat")))
        if n.find("tag") is not None:
            node_tags.append((len(node_ids) - 1, _tags(n)))
    coords = np.column_stack([lons, lats]) if node_ids else np.empty((0, 2))
    node_idx = {nid: i for i, nid in enumerate(node_ids)}
    if b is not None:
        bounds = tuple(float(b.get(k)) for k in ("minlon", "minlat", "maxlon", "maxlat"))
    else:
        bounds = (*coords.min(axis=0), *coords.max(axis=0))

    ways = {}
    for w in root.iter("way"):
        ways[w.get("id")] = ([nd.get("ref") for nd in w.iter("nd")], _tags(w))
    way_ids = list(ways)
    way_nodes = [ways[k][0] for k in way_ids]
    way_tags = [ways[k][1] for k in way_ids]
    geoms, keep = _lines(node_idx, coords, way_nodes)
    line_of = dict(zip((way_ids[i] for i in keep), geoms))

    def frame(pred, cols, polygon=False):
        rows, gs = [], []
        for wid, tags in zip(way_ids, way_tags):
            if wid in line_of and pred(tags):
                g = line_of[wid]
                if polygon:
                    if not shapely.is_closed(g) or len(shapely.get_coordinates(g)) < 4:
                        continue
                    g = shapely.make_valid(shapely.Polygon(shapely.get_coordinates(g)))
                rows.append({"osm_id": int(wid), **{c: tags.get(k) for c, k in cols.items()}})
                gs.append(g)
        return gpd.GeoDataFrame(pd.DataFrame(rows, columns=["osm_id", *cols]), geometry=gs, crs=WGS84)

    roads = frame(lambda t: t.get("highway") in ROAD_CLASSES,
                  {"name": "name", "highway": "highway", "oneway": "oneway", "ref": "ref"})
    roads["road_class"] = roads["highway"].map(ROAD_CLASSES)
    railways = frame(lambda t: t.get("railway") in ("rail", "abandoned", "light_rail"),
                     {"name": "name", "railway": "railway"})
    waterways = frame(lambda t: t.get("waterway") in ("river", "canal", "stream", "drain"),
                      {"name": "name", "waterway": "waterway"})
    buildings = frame(lambda t: "building" in t, {"name": "name", "building": "building"}, polygon=True)
    water_ways = frame(lambda t: t.get("natural") == "water" or t.get("landuse") == "reservoir",
                       {"name": "name", "natural": "natural"}, polygon=True)

    # relations: water multipolygons and administrative boundaries
    admin, admin_tags, mp_water = {}, {}, []
    for rel in root.iter("relation"):
        tags = _tags(rel)
        members = [m for m in rel.iter("member") if m.get("type") == "way" and m.get("ref") in line_of]
        if tags.get("boundary") == "administrative" and tags.get("name"):
            gs = [line_of[m.get("ref")] for m in members]
            admin[tags["name"]] = gpd.GeoDataFrame(
                {"osm_id": [int(m.get("ref")) for m in members], "role": [m.get("role") for m in members]},
                geometry=gs, crs=WGS84)
            admin_tags[tags["name"]] = tags
        elif tags.get("type") == "multipolygon" and tags.get("natural") == "water":
            outer = [line_of[m.get("ref")] for m in members if m.get("role") != "inner"]
            inner = [line_of[m.get("ref")] for m in members if m.get("role") == "inner"]
            polys = shapely.polygonize(outer)
            g = shapely.union_all(shapely.get_parts(polys))
            if inner:
                g = g.difference(shapely.union_all(shapely.get_parts(shapely.polygonize(inner))))
            if not g.is_empty:
                mp_water.append({"osm_id": -int(rel.get("id")), "name": tags.get("name"),
                                 "natural": "water", "geometry": g})
    water = water_ways
    if mp_water:
        water = pd.concat([water_ways, gpd.GeoDataFrame(mp_water, crs=WGS84)], ignore_index=True)

    prow, pg = [], []
    for i, tags in node_tags:
        if any(k in tags for k in ("name", "amenity", "shop", "place", "highway", "railway")):
            prow.append({"osm_id": int(node_ids[i]), "name": tags.get("name"),
                         "kind": next((f"{k}={tags[k]}" for k in ("amenity", "shop", "place", "highway",
                                                                   "railway") if k in tags), "")})
            pg.append(i)
    pois = gpd.GeoDataFrame(pd.DataFrame(prow, columns=["osm_id", "name", "kind"]),
                            geometry=shapely.points(coords[np.asarray(pg, dtype=int)]), crs=WGS84)
    return OsmData(bounds, roads, railways, waterways, gpd.GeoDataFrame(water, crs=WGS84), buildings, pois,
                   admin, admin_tags)
