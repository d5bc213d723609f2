"""The in-memory address index, built once per process from a project's address base.

:func:`load_index` caches one :class:`AddressIndex` per (project path, modification time).
:meth:`AddressIndex.from_frames` builds one from plain frames whose columns are *roles* (the
benchmark uses it with a synthetic base of 100,000 door plates).

Structures: a dict ``(road, number, suffix) → plate``; road names and aliases (including former
names from ``geo_names``) in dicts and one Aho-Corasick automaton (roads found anywhere in the
text); POI, building and place names likewise; per road and parity the known plates sorted by
number with their chainage along the road's main line and signed offset (for interpolation);
STRtrees over plates, POIs, roads, unit grids, communities and streets (for reverse geocoding
and for locating interpolated points).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

ROLES = {
    "geocode_doorplate": ["place_code", "name", "road_name", "number", "suffix", "door_text", "building", "grid_code",
                          "street_code", "street_name", "community_code", "community_name", "address"],
    "geocode_road": ["place_code", "name", "aliases", "grid_code", "street_code", "street_name", "community_code",
                     "community_name"],
    "geocode_poi": ["place_code", "name", "aliases", "kind", "grid_code", "street_code", "street_name",
                    "community_code", "community_name", "address"],
    "geocode_place": ["place_code", "name", "aliases", "grid_code", "street_code", "street_name", "community_code",
                      "community_name"],
    "geocode_area": ["place_code", "name", "aliases", "level", "parent_code"],
}


def _s(v):
    return None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else v


@dataclass
class RoadModel:
    """Known plates of one road and parity, sorted by number."""

    numbers: np.ndarray
    chainage: np.ndarray
    offset: np.ndarray


@dataclass
class AddressIndex:
    crs: str
    county: str
    admin: dict
    levels: tuple
    settings: dict
    plates: pd.DataFrame
    roads: pd.DataFrame
    pois: pd.DataFrame
    places: pd.DataFrame
    areas: pd.DataFrame
    grid_codes: np.ndarray
    grid_geoms: np.ndarray
    comm_len: int
    plate_key: dict = field(default_factory=dict)
    road_of: dict = field(default_factory=dict)       # name or alias → (road idx, "exact"|"alias")
    names_of: dict = field(default_factory=dict)      # POI / building / place / area name → (kind, idx)
    models: dict = field(default_factory=dict)        # (road idx, parity) → RoadModel
    lines: np.ndarray = None                          # main line per road (or None)
    road_auto: object = None
    name_auto: object = None
    road_list: list = field(default_factory=list)
    road_names: list = field(default_factory=list)
    road_codes: list = field(default_factory=list)
    trees: dict = field(default_factory=dict)
    #: plain Python lists per column (row access without pandas on the hot path)
    P: dict = field(default_factory=dict)
    A: dict = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------
    @classmethod
    def from_frames(cls, *, crs, county, plates, roads, pois=None, places=None, areas=None, grid_codes=(),
                    grid_geoms=(), settings=None, names=None, comm_len=12) -> "AddressIndex":
        """Frames: role-named columns plus a ``geometry`` column of shapely geometries."""
        import ahocorasick
        import shapely

        from .base import _admin_names, along_and_side, longest_part
        from .settings import DEFAULTS

        settings = settings or DEFAULTS
        empty = lambda cols: pd.DataFrame({c: pd.Series([], dtype=object) for c in cols + ["geometry"]})  # noqa: E731
        pois = pois if pois is not None else empty(ROLES["geocode_poi"])
        places = places if places is not None else empty(ROLES["geocode_place"])
        areas = areas if areas is not None else empty(ROLES["geocode_area"])
        plates = plates.reset_index(drop=True)
        roads = roads.reset_index(drop=True)
        for df in (plates, roads, pois, places, areas):
            for c in ("suffix", "building", "aliases"):
                if c in df.columns:
                    df[c] = df[c].astype(object).where(pd.notna(df[c]), "")
        idx = cls(crs=crs, county=county, admin=_admin_names(county), levels=tuple(settings["standard_address_levels"]),
                  settings=settings, plates=plates, roads=roads, pois=pois.reset_index(drop=True),
                  places=places.reset_index(drop=True), areas=areas.reset_index(drop=True),
                  grid_codes=np.asarray(grid_codes, dtype=object), grid_geoms=np.asarray(grid_geoms, dtype=object),
                  comm_len=comm_len)
        # plates
        idx.plate_key = dict(zip(zip(plates["road_name"].tolist(), plates["number"].astype(np.int64).tolist(),
                                     plates["suffix"].tolist()), range(len(plates))))
        pg = np.asarray(plates["geometry"].values, dtype=object)
        plates["x"], plates["y"] = shapely.get_x(pg), shapely.get_y(pg)
        # roads, aliases, former names
        for i, (n, a) in enumerate(zip(roads["name"].tolist(), roads["aliases"].tolist())):
            idx.road_of[n] = (i, "exact")
            for al in filter(None, str(a).split("|")):
                idx.road_of.setdefault(al, (i, "alias"))
        code_row = {c: i for i, c in enumerate(roads["place_code"].tolist())}
        if names is not None and len(names):
            former = names[(names["layer"] == "geocode_road") & names["kind"].isin(["former", "alias"])]
            for c, n in zip(former["place_code"], former["name"]):
                if c in code_row:
                    idx.road_of.setdefault(n, (code_row[c], "alias"))
        idx.road_list = list(idx.road_of)
        idx.road_names = roads["name"].tolist()
        idx.road_codes = roads["place_code"].tolist()
        A = ahocorasick.Automaton()
        for n in idx.road_list:
            A.add_word(n, n)
        if idx.road_list:
            A.make_automaton()
        idx.road_auto = A
        rg = np.asarray(roads["geometry"].values, dtype=object)
        lines = np.full(len(roads), None, dtype=object)
        ok = ~shapely.is_missing(rg) & ~shapely.is_empty(rg) if len(rg) else np.zeros(0, bool)
        for i in np.flatnonzero(ok):
            lines[i] = longest_part(rg[i])
        idx.lines = lines
        # interpolation models per road and parity (whole-array chainage and signed offset)
        rix = plates["road_name"].map({n: i for i, n in enumerate(roads["name"].tolist())})
        has = rix.notna().to_numpy()
        if has.any():
            ri = rix[has].astype(np.int64).to_numpy()
            li = lines[ri]
            okl = ~pd.isna(pd.Series(li, dtype=object)).to_numpy()
            sel = np.flatnonzero(has)[okl]
            ri, li = ri[okl], li[okl]
            pp = pg[sel]
            ch, cross = along_and_side(li, pp)
            off = np.sign(cross) * shapely.distance(pp, li)
            num = plates["number"].to_numpy()[sel].astype(np.int64)
            base_plate = (plates["suffix"].to_numpy()[sel] == "")
            df = pd.DataFrame({"r": ri, "p": num % 2, "n": num, "c": ch, "o": off})[base_plate]
            df = df.sort_values(["r", "p", "n"], kind="stable")
            for (r, p), g in df.groupby(["r", "p"], sort=False):
                idx.models[(int(r), int(p))] = RoadModel(g["n"].to_numpy(), g["c"].to_numpy(), g["o"].to_numpy())
        # names: POIs, buildings (of plates), places, areas
        NA = ahocorasick.Automaton()
        for kind, df, col in (("area", areas, "name"), ("place", places, "name"), ("building", plates, "building"),
                              ("poi", pois, "name")):
            for i, n in enumerate(df[col].tolist() if len(df) else []):
                if n and len(n) >= 2:
                    idx.names_of[n] = (kind, i)
                    NA.add_word(n, n)
            if "aliases" in df.columns and len(df):
                for i, a in enumerate(df["aliases"].tolist()):
                    for al in filter(None, str(a).split("|")):
                        if len(al) >= 2:
                            idx.names_of.setdefault(al, (kind, i))
                            NA.add_word(al, al)
        if len(idx.names_of):
            NA.make_automaton()
        idx.name_auto = NA
        # trees
        idx.trees["plate"] = shapely.STRtree(pg)
        idx.trees["poi"] = shapely.STRtree(np.asarray(idx.pois["geometry"].values, dtype=object))
        idx.trees["road"] = shapely.STRtree(np.where(pd.isna(pd.Series(lines, dtype=object)), None, lines))
        idx.trees["grid"] = shapely.STRtree(idx.grid_geoms)
        idx.trees["area"] = shapely.STRtree(np.asarray(idx.areas["geometry"].values, dtype=object))
        # a representative point per road / place / area for fall-backs
        idx.roads["pt"] = [None if ln is None else shapely.line_interpolate_point(ln, 0.5, normalized=True) for ln in lines]
        for df in (idx.places, idx.areas):
            g = np.asarray(df["geometry"].values, dtype=object)
            df["pt"] = list(shapely.point_on_surface(g)) if len(g) else []
        idx.P = {c: plates[c].astype(object).where(plates[c].notna(), None).tolist() for c in plates.columns
                 if c != "geometry"}
        idx.A = {c: idx.areas[c].tolist() for c in ("place_code", "name", "level")}
        return idx

    @classmethod
    def from_project(cls, proj) -> "AddressIndex":
        from ..project import read_layer
        from .base import _read_names
        from .settings import settings as gsettings

        prof = proj.profile
        frames = {}
        for key, roles in ROLES.items():
            df = read_layer(proj, key)
            ren = {prof.field(key, r): r for r in roles if prof.field(key, r)}
            g = pd.DataFrame({r: (df[c].astype(object).where(df[c].notna(), None) if c in df.columns else None)
                              for c, r in ren.items()}) if len(df) else pd.DataFrame({r: pd.Series([], dtype=object) for r in roles})
            g["geometry"] = np.asarray(df.geometry.values, dtype=object) if len(df) else []
            frames[key] = g
        pl = frames["geocode_doorplate"]
        pl["number"] = pd.to_numeric(pl["number"], errors="coerce").fillna(-1).astype(np.int64)
        grids = read_layer(proj, "unit_grid")
        ug = prof.codes["unit_grid"]
        return cls.from_frames(crs=proj.crs, county=proj.county, plates=pl, roads=frames["geocode_road"],
                               pois=frames["geocode_poi"], places=frames["geocode_place"], areas=frames["geocode_area"],
                               grid_codes=grids[prof.field("unit_grid", "grid_code")].astype(str).to_numpy(dtype=object)
                               if len(grids) else [],
                               grid_geoms=np.asarray(grids.geometry.values, dtype=object) if len(grids) else [],
                               settings=gsettings(prof), names=_read_names(proj),
                               comm_len=ug.length - ug.part_length("serial"))

    # ------------------------------------------------------------------------------------------
    def locate_point(self, x: float, y: float) -> dict:
        """Grid code, street and community of a point (grid first; community polygons otherwise)."""
        import shapely

        p = shapely.Point(x, y)
        out = {"grid_code": None, "street_code": None, "street_name": None, "community_code": None,
               "community_name": None}
        gi = self.trees["grid"].query(p, predicate="intersects") if len(self.grid_codes) else []
        if len(gi):
            g = min(self.grid_codes[gi].tolist())
            out["grid_code"] = g
            comm = g[: self.comm_len]
        else:
            comm = None
        ai = self.trees["area"].query(p, predicate="intersects") if len(self.areas) else []
        A = self.A
        for i in ai:
            i = int(i)
            lv, code, name = A["level"][i], A["place_code"][i], A["name"][i]
            if lv == "社区" and (comm is None or code == comm):
                out["community_code"], out["community_name"] = code, name
            elif lv == "街道":
                out["street_code"], out["street_name"] = code, name
        if comm and out["community_code"] is None:
            out["community_code"] = comm
        if out["street_code"] is None and out["community_code"]:
            out["street_code"] = out["community_code"][:9]
        return out


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> AddressIndex:
    from ..project import Project

    return AddressIndex.from_project(Project.open(path))


def load_index(proj) -> AddressIndex:
    """The project's index, built once per process (rebuilt when the file changes)."""
    from .. import store
    from ..errors import SurveyError
    from ..i18n import Text

    idx = _cached(str(proj.path), store.change_stamp(proj))
    if len(idx.plates) == 0 and len(idx.roads) == 0 and len(idx.areas) == 0:
        raise SurveyError(Text("项目中还没有地理编码数据；请先运行 surveytools geocode build",
                               "the project has no address base yet; run surveytools geocode build first"),
                          code="no_address_base", file=str(proj.path), layer=proj.table("geocode_doorplate"))
    return idx
