"""Build the standard address base (地理编码数据) of a project.

Sources:

* the project: ``street`` and ``community`` polygons → administrative areas (NBS codes), the
  county outline (their union) → the 区 row; ``unit_grid`` → the grid code of every feature;
* ``--from`` inputs (any OGR file, every layer classified by geometry and columns, or an
  OpenStreetMap ``.osm`` file):

  - **door plates**: point layers with a road column (``road``, ``road_name``, ``街路巷名``,
    ``街巷名称``, ``addr:street``) and a number column (``number``, ``door_no``, ``门牌号``,
    ``addr:housenumber``); optional ``suffix``, ``building``;
  - **roads**: line layers with a ``name`` column whose layer name says road/street/lane/道路/街巷
    or that have a ``highway``/``road_class`` column (features with an empty name are skipped;
    rivers and railways are therefore not roads);
  - **places** (地片/小区): polygon layers with a non-empty ``name`` whose layer name says
    place/residential/quarter/aoi/小区/地片 or that have a ``landuse``/``place`` column, and no
    ``code`` column (administrative layers);
  - **POIs**: other point layers with a non-empty ``name`` (OSM: named ``amenity``/``place`` nodes);
  - optional ``old_name`` / ``曾用名`` columns: former names, kept as aliases with dates.

Conflicts reported in table ``geo_conflicts`` (kind, layer, name, detail, x, y):

* ``duplicate_plate``: the same road + number + suffix twice within ``conflict_distance_m``
  (the later one is dropped);
* ``conflicting_plate``: the same road + number + suffix at two places farther apart than
  ``conflict_distance_m`` (both kept, the later one flagged in ``Note``);
* ``road_disconnected``: one road name whose parts are more than ``road_gap_m`` apart;
* ``plate_without_road``: a door plate whose road is not among the roads (a road row without
  geometry is created so that the plate can still be found);
* ``outside_grids``: a feature in no unit grid (no grid code).

Place codes are stable across rebuilds: a feature keeps the code of the feature with the same
natural key (road name; road + number + suffix; place or POI name) in the project's previous
address base; new features get the next free serial.
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store as _store
from ..errors import SurveyError
from ..i18n import Text
from ..issues import GEO_CONFLICTS, Issue, bilingual
from .parse import _DOOR, ROAD_SUFFIX
from .standardize import door_text, standard_address

ROAD_COLS = ("road", "road_name", "街路巷名", "街巷名称", "道路名称", "addr:street", "street")
NUMBER_COLS = ("number", "door_no", "门牌号", "门牌号码", "addr:housenumber", "housenumber")
OLD_NAME_COLS = ("old_name", "曾用名", "former_name")
_KIND = re.compile(rf"({ROAD_SUFFIX})$")
_ROADISH = re.compile(r"road|street|lane|道路|街巷|路网", re.I)
_PLACEISH = re.compile(r"place|residential|quarter|aoi|小区|地片|区片", re.I)


def _col(df, names):
    low = {str(c).lower(): c for c in df.columns}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return None


def read_sources(paths, crs, feedback=None) -> dict:
    """Classify the layers of every ``--from`` input.  Returns lists of frames per kind."""
    import geopandas as gpd
    import shapely

    from ..io import list_vector_layers, parse_layer_spec, read_vector

    out = {"doorplate": [], "road": [], "place": [], "poi": []}
    for spec in paths or []:
        path, layer = parse_layer_spec(spec)
        if path.lower().endswith(".osm"):
            from ..sample.osm import read_osm

            osm = read_osm(path)
            r = osm.roads[osm.roads["name"].fillna("") != ""].to_crs(crs)
            out["road"].append((f"{path}:roads", r))
            p = osm.pois[(osm.pois["name"].fillna("") != "")
                         & ~osm.pois["kind"].fillna("").astype(str).str.startswith("place=")].to_crs(crs)
            out["poi"].append((f"{path}:pois", p))
            continue
        layers = [layer] if layer else [str(n) for n, _g in list_vector_layers(path)]
        for ln in layers:
            gdf, src = read_vector(f"{path}:{ln}" if not layer and len(layers) > 1 else spec, to_crs=crs,
                                   need_geometry=False)
            if not isinstance(gdf, gpd.GeoDataFrame) or len(gdf) == 0:
                continue
            label = src.label
            types = set(shapely.get_type_id(np.asarray(gdf.geometry.values, dtype=object)).tolist()) - {-1}
            rc, nc, name = _col(gdf, ROAD_COLS), _col(gdf, NUMBER_COLS), _col(gdf, ("name", "名称", "标准名称"))
            if types <= {0, 4} and rc and nc:
                out["doorplate"].append((label, gdf))
            elif types <= {1, 5} and name and (_ROADISH.search(ln) or _col(gdf, ("highway", "road_class", "街巷类型"))):
                out["road"].append((label, gdf))
            elif types <= {3, 6} and name and (_PLACEISH.search(ln) or _col(gdf, ("landuse", "place", "地片类型"))) \
                    and _col(gdf, ("code", "street_code")) is None:
                out["place"].append((label, gdf))
            elif types <= {0, 4} and name:
                out["poi"].append((label, gdf))
    return out


def _codes(keys, previous: dict, county: str, type_code: str, digits: int) -> list:
    """Stable codes: the previous code of the same key, else the next free serial."""
    prefix = county + type_code
    used = [int(c[len(prefix):]) for c in previous.values() if c and c.startswith(prefix) and c[len(prefix):].isdigit()]
    nxt = max(used, default=0) + 1
    out = []
    for k in keys:
        c = previous.get(k)
        if c is None:
            c = f"{prefix}{nxt:0{digits}d}"
            nxt += 1
        out.append(c)
    return out


def _previous(proj, key, key_cols) -> dict:
    """natural key → place code in the project's current address base."""
    from ..project import read_layer

    prof = proj.profile
    try:
        df = read_layer(proj, key)
    except Exception:
        return {}
    if len(df) == 0:
        return {}
    code = prof.field(key, "place_code")
    cols = [prof.field(key, c) for c in key_cols]
    parts = [df[c].astype("string").fillna("") for c in cols]
    k = parts[0]
    for p in parts[1:]:
        k = k + "\x1f" + p
    return dict(zip(k.tolist(), df[code].tolist()))


def _read_names(proj) -> pd.DataFrame:

    from ..gpkg import list_layers

    if "geo_names" not in list_layers(proj.path):
        return pd.DataFrame(columns=["layer", "place_code", "name", "kind", "valid_from", "valid_to", "source"])
    return _store.read_dataframe(proj.path, "geo_names", use_arrow=True)


def _locate(loc, geoms):
    """(grid, community code, community name, street code, street name) of each geometry's
    point on surface, by the one :class:`surveytools.locate.Locator` (with its fallback to the
    communities and streets for a point beyond the grids)."""
    import shapely

    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    f = loc.fields(loc.locate(pts))
    return tuple(f[k].to_numpy(zero_copy_only=False).astype(object)
                 for k in ("grid_code", "community_code", "community_name", "street_code", "street_name"))


def orient(lines):
    """Every line runs from its west end (south end for a line more north–south than east–west):
    the direction that defines chainage and the left/right side of door plates."""
    import shapely

    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return lines
    a = shapely.get_point(lines, 0)
    b = shapely.get_point(lines, -1)
    dx, dy = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
    flip = np.where(np.abs(dx) >= np.abs(dy), dx < 0, dy < 0)
    out = lines.copy()
    out[flip] = shapely.reverse(lines[flip])
    return out


def _admin_names(county: str) -> dict:
    from .gazetteer import gazetteer

    g = gazetteer()
    return {"province": g.names["province"].get(county[:2]), "city": g.city_name(county[:4]),
            "county": g.names["county"].get(county)}


class _Build:
    """What the steps of :func:`build_base` share: the project, the settings, the locator, the
    rename map (a former name in an input maps to the current standard name: a rebuild must not
    undo a rename), and the conflicts and name rows the steps collect."""

    def __init__(self, work, settings: dict, today):
        from ..locate import Locator

        self.work = work
        self.prof = work.profile
        self.crs = work.crs
        self.county = work.county
        self.today = today or _dt.date.today()
        self.digits = int(settings["code"]["serial_digits"])
        self.types = settings["code"]["types"]
        self.levels = settings["standard_address_levels"]
        self.far = float(settings["conflict_distance_m"])
        self.gap = float(settings["road_gap_m"])
        self.loc = Locator(work, fallback=True)
        self.admin = _admin_names(self.county)
        self.conflicts = []
        self.name_rows = []
        self.names_old = names_old = _read_names(work)
        former = names_old[names_old["kind"] == "former"] if len(names_old) else names_old
        self.current_of = {}
        if len(former):
            cur = names_old[names_old["kind"] == "standard"].set_index(["layer", "place_code"])["name"].to_dict()
            for _, r in former.iterrows():
                new = cur.get((r["layer"], r["place_code"]))
                if new:
                    self.current_of[(r["layer"], r["name"])] = new

    def conflict(self, kind: str, layer: str, name, text: Text, x, y) -> None:
        """One row of geo_conflicts: an issue (rule ``kind``, the place or plate ``name``) at x, y."""
        self.conflicts.append({**Issue.of(kind, "warning", text, layer=layer, feature_id=name).as_dict(),
                               "detail": bilingual(text.zh, text.en), "x": float(x), "y": float(y)})

    def F(self, layer, role):
        return self.prof.field(layer, role)

    def common(self, layer, df, geoms, source):
        """The location fields and the source of a layer's rows; a row in no unit grid is a conflict."""
        import shapely

        F = self.F
        grid, comm, comm_name, street, street_name = _locate(self.loc, geoms)
        df[F(layer, "grid_code")] = grid
        df[F(layer, "community_code")] = comm
        df[F(layer, "community_name")] = comm_name
        df[F(layer, "street_code")] = street
        df[F(layer, "street_name")] = street_name
        df[F(layer, "data_source")] = source
        nogrid = pd.isna(pd.Series(grid, dtype=object)).to_numpy() & ~shapely.is_missing(geoms)
        for i in np.flatnonzero(nogrid)[:200]:
            p = shapely.point_on_surface(geoms[i])
            self.conflict("outside_grids", layer, df[F(layer, "name")].iloc[i],
                          Text("不在任何单元网格内", "in no unit grid"), shapely.get_x(p), shapely.get_y(p))
        return df

    def address(self, df, layer, parts: dict):
        """Standard addresses of ``df``'s rows from ``parts`` (address level -> field role)."""
        F = self.F
        el = pd.DataFrame({k: df[F(layer, role)] for k, role in parts.items()})
        for k, v in self.admin.items():
            el[k] = v
        return [standard_address(r, self.levels) for r in el.to_dict("records")]


def build_base(work, sources: dict, settings: dict, *, today=None, feedback=None) -> dict:
    """Write the geocoding layers and tables into ``work`` (inside a transaction).  Returns counts.

    The steps: administrative areas; roads merged by name (disconnected parts are conflicts);
    door plates read, deduplicated (the same plate twice nearby is dropped, far apart a conflict)
    and their roads added when only plates name them; roads and plates coded and written (each
    plate's side of its road); places and POIs; then the name history and the conflicts."""
    b = _Build(work, settings, today)
    if feedback:
        feedback.progress(10)
    area = _write_areas(b)
    if feedback:
        feedback.progress(25)
    road_names, road_geoms, road_src, road_old = _merge_roads(b, sources)
    pl = _read_plates(b, sources)
    _roads_named_by_plates(b, pl, road_names, road_geoms, road_src, road_old)
    pl, notes = _dedupe_plates(b, pl)
    roads, rcodes = _write_roads(b, road_names, road_geoms, road_src, road_old)
    if feedback:
        feedback.progress(50)
    plates = _write_plates(b, pl, notes, road_names, road_geoms, rcodes)
    if feedback:
        feedback.progress(75)
    counts = _write_places(b, sources)
    names, conf = _write_names_and_conflicts(b)
    counts.update({"geocode_area": int(len(area)), "geocode_road": int(len(roads)), "geocode_doorplate": int(len(plates)),
                   "conflicts": conf["kind"].value_counts().to_dict(), "names": int(len(names))})
    return counts


def _write_areas(b: _Build):
    """The county, its streets and communities as layer geocode_area (their own codes and names)."""
    import geopandas as gpd
    import shapely

    from ..project import read_layer, write_project_layer

    work, F, county, admin, today = b.work, b.F, b.county, b.admin, b.today
    comms = read_layer(work, "community")
    streets = read_layer(work, "street")
    rows, geoms = [], []
    if len(streets):
        cty = shapely.union_all(np.asarray(streets.geometry.values, dtype=object))
        rows.append({"code": county, "name": admin["county"], "level": "区", "parent": county[:4] + "00"})
        geoms.append(cty)
        for _, r in streets.iterrows():
            rows.append({"code": r[F("street", "street_code")], "name": r[F("street", "street_name")], "level": "街道",
                         "parent": county})
            geoms.append(r.geometry)
    for _, r in comms.iterrows():
        rows.append({"code": r[F("community", "community_code")], "name": r[F("community", "community_name")],
                     "level": "社区", "parent": r[F("community", "street_code")]})
        geoms.append(r.geometry)
    L = "geocode_area"
    area = pd.DataFrame({F(L, "place_code"): [r["code"] for r in rows], F(L, "name"): [r["name"] for r in rows],
                         F(L, "level"): [r["level"] for r in rows], F(L, "parent_code"): [r["parent"] for r in rows]})
    ag = np.asarray(geoms, dtype=object)
    if len(area):
        area = b.common(L, area, ag, "project")
        lvl = area[F(L, "level")]
        # an area's own code/name, not the grid's, for streets and communities
        area.loc[lvl == "社区", F(L, "community_code")] = area.loc[lvl == "社区", F(L, "place_code")]
        area.loc[lvl == "社区", F(L, "community_name")] = area.loc[lvl == "社区", F(L, "name")]
        area.loc[lvl == "街道", F(L, "street_code")] = area.loc[lvl == "街道", F(L, "place_code")]
        area.loc[lvl == "街道", F(L, "street_name")] = area.loc[lvl == "街道", F(L, "name")]
        area.loc[lvl != "社区", [F(L, "community_code"), F(L, "community_name"), F(L, "grid_code")]] = None
        area.loc[lvl == "区", [F(L, "street_code"), F(L, "street_name")]] = None
        area[F(L, "valid_from")] = today
    write_project_layer(work, L, gpd.GeoDataFrame(area, geometry=list(ag), crs=b.crs))
    for c, n in zip(area.get(F(L, "place_code"), []), area.get(F(L, "name"), [])):
        b.name_rows.append((L, c, n, "standard", str(today), None, "project"))
    return area


def _merge_roads(b: _Build, sources: dict):
    """Road parts merged by (current) name: (names, geometries, sources, former names); a road
    whose parts lie more than ``road_gap_m`` apart is a conflict."""
    import shapely

    L, gap, current_of = "geocode_road", b.gap, b.current_of
    road_parts = []
    for label, gdf in sources.get("road", []):
        nc = _col(gdf, ("name", "名称", "标准名称"))
        oc = _col(gdf, OLD_NAME_COLS)
        g = gdf[gdf[nc].fillna("").astype(str).str.strip() != ""]
        road_parts.append(pd.DataFrame({"name": g[nc].astype(str).str.strip().to_numpy(),
                                        "old": g[oc].fillna("").astype(str).to_numpy() if oc else "",
                                        "geom": np.asarray(g.geometry.values, dtype=object), "source": label}))
    rp = pd.concat(road_parts, ignore_index=True) if road_parts else pd.DataFrame(columns=["name", "old", "geom", "source"])
    rp["name"] = [current_of.get((L, n), n) for n in rp["name"]]
    road_names, road_geoms, road_src, road_old = [], [], [], []
    for name, grp in rp.groupby("name", sort=True):
        lines = shapely.get_parts(shapely.line_merge(shapely.union_all(np.asarray(grp["geom"].tolist(), dtype=object))))
        if len(lines) > 1:
            # connected components of parts within road_gap_m (disconnected parts are a conflict)
            tree = shapely.STRtree(lines)
            ia, ib = tree.query(lines, predicate="dwithin", distance=gap)
            comp = np.arange(len(lines))
            for _ in range(len(lines)):
                new = comp.copy()
                np.minimum.at(new, ia, comp[ib])
                if (new == comp).all():
                    break
                comp = new
            if len(set(comp.tolist())) > 1:
                c = shapely.centroid(lines[comp != comp[np.argmax(shapely.length(lines))]][0])
                n = len(set(comp.tolist()))
                b.conflict("road_disconnected", L, name, Text(f"{n} 段互不相连（间距 > {gap:g} m）",
                                                              f"{n} disconnected parts (gap > {gap:g} m)"),
                           shapely.get_x(c), shapely.get_y(c))
        road_names.append(name)
        road_geoms.append(shapely.multilinestrings(orient(lines)))
        road_src.append(grp["source"].iloc[0])
        road_old.append("|".join(sorted({o for o in grp["old"] if o})))
    return road_names, road_geoms, road_src, road_old


def _read_plates(b: _Build, sources: dict):
    """Door plates of every input: road, number, suffix (附/之), building, geometry, source."""
    plate_frames = []
    for label, gdf in sources.get("doorplate", []):
        rc, nc = _col(gdf, ROAD_COLS), _col(gdf, NUMBER_COLS)
        sc, bc = _col(gdf, ("suffix", "门牌号后缀")), _col(gdf, ("building", "楼宇名称", "building_name", "addr:housename"))
        num = gdf[nc]
        if pd.api.types.is_numeric_dtype(num):
            number = pd.to_numeric(num, errors="coerce")
            suffix = gdf[sc].fillna("").astype(str) if sc else pd.Series("", index=gdf.index)
        else:
            parsed = [(_DOOR.search(str(v)) if v is not None else None) for v in num.tolist()]
            number = pd.Series([int(m.group("n")) if m else np.nan for m in parsed], index=gdf.index)
            suffix = pd.Series([("附" + (m.group("a1") or m.group("a2"))) if m and (m.group("a1") or m.group("a2"))
                                else ("之" + m.group("z") if m and m.group("z") else "") for m in parsed], index=gdf.index)
        plate_frames.append(pd.DataFrame({"road": gdf[rc].fillna("").astype(str).str.strip().to_numpy(),
                                          "number": number.to_numpy(), "suffix": suffix.to_numpy(),
                                          "building": gdf[bc].fillna("").astype(str).to_numpy() if bc else "",
                                          "geom": np.asarray(gdf.geometry.values, dtype=object), "source": label}))
    pl = pd.concat(plate_frames, ignore_index=True) if plate_frames else \
        pd.DataFrame(columns=["road", "number", "suffix", "building", "geom", "source"])
    pl = pl[(pl["road"] != "") & pl["number"].notna()].reset_index(drop=True)
    pl["road"] = [b.current_of.get(("geocode_road", n), n) for n in pl["road"]]
    pl["number"] = pl["number"].astype(np.int64)
    return pl


def _roads_named_by_plates(b: _Build, pl, road_names, road_geoms, road_src, road_old) -> None:
    """A road named only by door plates: a road row without geometry, and a conflict."""
    import shapely

    missing = sorted(set(pl["road"]) - set(road_names))
    for name in missing:
        sub = pl[pl["road"] == name]
        c = sub["geom"].iloc[0]
        b.conflict("plate_without_road", "geocode_doorplate", name, Text(f"{len(sub)} 个门牌的街巷不在道路图层中",
                   f"{len(sub)} plates name a road missing from the road layers"), shapely.get_x(c), shapely.get_y(c))
        road_names.append(name)
        road_geoms.append(None)
        road_src.append(sub["source"].iloc[0])
        road_old.append("")


def _dedupe_plates(b: _Build, pl):
    """The same road + number + suffix twice: dropped within ``conflict_distance_m`` (duplicate),
    else kept with a note (conflict).  Returns (plates, notes)."""
    import shapely

    far = b.far
    keep = np.ones(len(pl), dtype=bool)
    notes = np.full(len(pl), None, dtype=object)
    if len(pl):
        key = pl["road"] + "\x1f" + pl["number"].astype(str) + "\x1f" + pl["suffix"]
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            first = ~key.duplicated(keep="first").to_numpy()
            first_idx = pd.Series(np.flatnonzero(first), index=key[first].to_numpy())
            for i in np.flatnonzero(dup & ~first):
                j = first_idx[key.iloc[i]]
                d = shapely.distance(pl["geom"].iloc[i], pl["geom"].iloc[j])
                x, y = shapely.get_x(pl["geom"].iloc[i]), shapely.get_y(pl["geom"].iloc[i])
                label = pl["road"].iloc[i] + door_text(pl["number"].iloc[i], pl["suffix"].iloc[i])
                if d <= far:
                    keep[i] = False
                    b.conflict("duplicate_plate", "geocode_doorplate", label,
                               Text(f"重复门牌，相距 {d:.1f} m，已去除", f"duplicate {d:.1f} m apart, dropped"), x, y)
                else:
                    notes[i] = f"conflict: same plate {d:.0f} m away"
                    b.conflict("conflicting_plate", "geocode_doorplate", label,
                               Text(f"同一门牌出现在相距 {d:.0f} m 的两处", f"the same plate at two places {d:.0f} m apart"), x, y)
    pl = pl[keep].reset_index(drop=True)
    notes = notes[keep]
    return pl, notes


def _write_roads(b: _Build, road_names, road_geoms, road_src, road_old):
    """Layer geocode_road (codes kept from the previous build by name) and its name rows."""
    import geopandas as gpd
    import shapely

    from ..project import write_project_layer

    L, F, work, county, today = "geocode_road", b.F, b.work, b.county, b.today
    prev = _previous(work, L, ["name"])
    rcodes = _codes(road_names, prev, county, b.types["geocode_road"], b.digits)
    rg = np.asarray(road_geoms, dtype=object)
    roads = pd.DataFrame({F(L, "place_code"): rcodes, F(L, "name"): road_names, F(L, "aliases"): road_old,
                          F(L, "kind"): [(_KIND.search(n).group(1) if _KIND.search(n) else None) for n in road_names],
                          F(L, "length"): np.round(np.where(shapely.is_missing(rg), np.nan, shapely.length(rg)), 1)
                          if len(rg) else []})
    if len(roads):
        roads = b.common(L, roads, rg, road_src)
        roads[F(L, "valid_from")] = today
        # a road crosses grids: its grid code is the grid of its midpoint part (point_on_surface)
    write_project_layer(work, L, gpd.GeoDataFrame(roads, geometry=list(rg), crs=b.crs))
    for c, n, o in zip(rcodes, road_names, road_old):
        b.name_rows.append((L, c, n, "standard", str(today), None, "build"))
        for a in filter(None, o.split("|")):
            b.name_rows.append((L, c, a, "former", None, None, "input old_name"))
    return roads, rcodes


def _plate_sides(pl, road_names, road_geoms):
    """左 / 右: the side of its road's longest part each plate lies on (None without a road line)."""

    road_line = {n: longest_part(g) for n, g in zip(road_names, road_geoms) if g is not None}
    pg = np.asarray(pl["geom"].tolist(), dtype=object)
    side = np.full(len(pl), None, dtype=object)
    if len(pl):
        lines = np.asarray([road_line.get(n) for n in pl["road"]], dtype=object)
        ok = ~pd.isna(pd.Series(lines, dtype=object)).to_numpy()
        if ok.any():
            _, cross = along_and_side(lines[ok], pg[ok])
            side[ok] = np.where(cross > 0, "左", "右")
    return side


def longest_part(geom):
    """The longest part of a (multi)line: the line a road's plates are placed along."""
    import shapely

    parts = shapely.get_parts(geom)
    return parts[np.argmax(shapely.length(parts))]


def along_and_side(lines, points):
    """Where each point lies along its line (chainage, m) and on which side: the cross product of the
    line's direction there (over 2 m) and the point, > 0 on the left, < 0 on the right (arrays)."""
    import shapely

    d = shapely.line_locate_point(lines, points)
    length = shapely.length(lines)
    a = shapely.line_interpolate_point(lines, np.clip(d - 1.0, 0, length))
    b = shapely.line_interpolate_point(lines, np.clip(d + 1.0, 0, length))
    ax, ay, bx, by = shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b)
    return d, (bx - ax) * (shapely.get_y(points) - ay) - (by - ay) * (shapely.get_x(points) - ax)


def _write_plates(b: _Build, pl, notes, road_names, road_geoms, rcodes):
    """Layer geocode_doorplate: codes kept from the previous build by road + number + suffix, the
    road's code, side and parity, location and standard address."""
    import geopandas as gpd

    from ..project import write_project_layer

    L, F, work, county, today = "geocode_doorplate", b.F, b.work, b.county, b.today
    road_code = dict(zip(road_names, rcodes))
    pg = np.asarray(pl["geom"].tolist(), dtype=object)
    side = _plate_sides(pl, road_names, road_geoms)
    prev = _previous(work, L, ["road_name", "number", "suffix"])
    keys = (pl["road"] + "\x1f" + pl["number"].astype(str) + "\x1f" + pl["suffix"]).tolist()
    pcodes = _codes(keys, prev, county, b.types["geocode_doorplate"], b.digits)
    plates = pd.DataFrame({F(L, "place_code"): pcodes, F(L, "road_code"): pl["road"].map(road_code).to_numpy(),
                           F(L, "road_name"): pl["road"].to_numpy(), F(L, "number"): pl["number"].to_numpy(),
                           F(L, "suffix"): pl["suffix"].replace("", None).to_numpy(),
                           F(L, "door_text"): [door_text(n, s) for n, s in zip(pl["number"], pl["suffix"])],
                           F(L, "building"): pl["building"].replace("", None).to_numpy(), F(L, "side"): side,
                           F(L, "parity"): np.where(pl["number"] % 2 == 1, "单号", "双号"), F(L, "note"): notes})
    plates[F(L, "name")] = plates[F(L, "road_name")] + plates[F(L, "door_text")]
    if len(plates):
        plates = b.common(L, plates, pg, pl["source"].to_numpy())
        plates[F(L, "valid_from")] = today
        plates[F(L, "address")] = b.address(plates, L, {"street": "street_name", "community": "community_name",
                                                        "road": "road_name", "number": "number", "suffix": "suffix",
                                                        "building": "building"})
    write_project_layer(work, L, gpd.GeoDataFrame(plates, geometry=list(pg), crs=b.crs))
    return plates


def _write_places(b: _Build, sources: dict) -> dict:
    """Layers geocode_place and geocode_poi (codes kept by name); returns their counts."""
    import geopandas as gpd
    import shapely

    from ..project import write_project_layer

    F, work, county, today = b.F, b.work, b.county, b.today
    counts = {}
    for L, kind in (("geocode_place", "place"), ("geocode_poi", "poi")):
        frames = []
        for label, gdf in sources.get(kind, []):
            nc = _col(gdf, ("name", "名称", "标准名称"))
            oc = _col(gdf, OLD_NAME_COLS)
            kc = _col(gdf, ("kind", "amenity", "landuse", "place", "类型"))
            g = gdf[gdf[nc].fillna("").astype(str).str.strip() != ""]
            frames.append(pd.DataFrame({"name": g[nc].astype(str).str.strip().to_numpy(),
                                        "old": g[oc].fillna("").astype(str).to_numpy() if oc else "",
                                        "kind": g[kc].astype(str).to_numpy() if kc else None,
                                        "geom": np.asarray(g.geometry.values, dtype=object), "source": label}))
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["name", "old", "kind", "geom", "source"])
        df["name"] = [b.current_of.get((L, n), n) for n in df["name"]]
        df = df.drop_duplicates("name").reset_index(drop=True)
        geoms = np.asarray(df["geom"].tolist(), dtype=object)
        if kind == "place" and len(geoms):
            geoms = shapely.multipolygons(shapely.get_parts(geoms), indices=shapely.get_parts(geoms, return_index=True)[1])
        prev = _previous(work, L, ["name"])
        codes = _codes(df["name"].tolist(), prev, county, b.types[L], b.digits)
        out = pd.DataFrame({F(L, "place_code"): codes, F(L, "name"): df["name"].to_numpy(),
                            F(L, "aliases"): df["old"].replace("", None).to_numpy(), F(L, "kind"): df["kind"].to_numpy()})
        if len(out):
            out = b.common(L, out, geoms, df["source"].to_numpy())
            out[F(L, "valid_from")] = today
            if kind == "poi":
                out[F(L, "address")] = b.address(out, L, {"street": "street_name", "community": "community_name",
                                                          "poi": "name"})
        write_project_layer(work, L, gpd.GeoDataFrame(out, geometry=list(geoms), crs=b.crs))
        for c, n, o in zip(codes, df["name"], df["old"]):
            b.name_rows.append((L, c, n, "standard", str(today), None, "build"))
            for a in filter(None, str(o).split("|")):
                b.name_rows.append((L, c, a, "former", None, None, "input old_name"))
        counts[L] = len(out)
    return counts


def _write_names_and_conflicts(b: _Build):
    """Table geo_names (the recorded history kept: former names, dates of standard names) and
    table geo_conflicts."""
    from ..project import write_table

    work, names_old = b.work, b.names_old
    names = pd.DataFrame(b.name_rows, columns=["layer", "place_code", "name", "kind", "valid_from", "valid_to", "source"])
    if len(names_old):
        # keep the recorded history (renames): former names and the dates of standard names
        keep_old = names_old[names_old["kind"].isin(["former", "alias"])]
        names = pd.concat([names, keep_old], ignore_index=True)
        dates = names_old[names_old["kind"] == "standard"].set_index(["layer", "place_code", "name"])["valid_from"]
        k = pd.MultiIndex.from_frame(names[["layer", "place_code", "name"]])
        old_dates = dates.reindex(k).to_numpy()
        names["valid_from"] = np.where(pd.notna(old_dates) & (names["kind"] == "standard"), old_dates, names["valid_from"])
        names = names.drop_duplicates(["layer", "place_code", "name", "kind"])
    write_table(work, "geo_names", names)
    conf = GEO_CONFLICTS.table(b.conflicts)
    write_table(work, "geo_conflicts", conf)
    return names, conf.to_pandas()


def check_sources(sources: dict, paths) -> None:
    if paths and not any(sources.values()):
        raise SurveyError(Text("输入中没有可识别的门牌、道路、地片或兴趣点图层",
                               "no door plate, road, place or POI layer recognised in the inputs"),
                          code="no_geocode_input", file=", ".join(str(p) for p in paths),
                          hint=Text("门牌图层需要道路名字段（road/街路巷名）和门牌号字段（number/门牌号）",
                                    "a door plate layer needs a road column (road/街路巷名) and a number column (number/门牌号)"))


def input_paths(paths) -> list:
    out = []
    for p in paths or []:
        out.append(str(p))
        if not Path(str(p).rsplit(":", 1)[0] if not Path(str(p)).exists() else str(p)).exists():
            raise SurveyError(Text("输入文件不存在", "input file not found"), code="not_found", file=str(p))
    return out
