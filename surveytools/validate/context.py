"""What the rules read: the project's layers and tables, loaded once per run and shared.

Large component layers are read in chunks (:meth:`Context.chunk_plan`, :meth:`Context.chunks`):
the engine runs the rules that judge each record on its own (``implements(…, scope="rows")``)
on a :meth:`Context.chunk_view` per chunk, every rule once on the :meth:`Context.rest_view`
(the project without the chunked layers), and the rules that compare records across the layer
through the compact collectors of :mod:`.chunks`.

A :class:`Context` is built from a project (:meth:`Context.from_project`) or from frames in
memory (:meth:`Context.from_frames`, used by the golden tests).  Every layer carries a ``fid``
column (the GeoPackage feature id, or 1…n for frames without one), so error rows can name the
exact feature even when its code is empty or duplicated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

COMPONENT_KEYS = ("component_point", "component_line", "component_polygon")
GEOMETRY_OF_KEY = {"component_point": "point", "component_line": "line", "component_polygon": "polygon"}


@dataclass
class Context:
    profile: object
    county: str
    crs: str
    path: Path | None = None
    checkpoints: object = None
    frames: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    _present: set | None = None
    #: chunked mode: the root context, the chunked layers {key: features}, the one layer this view
    #: shows (a chunk view) or None (the rest view), and whether this is a layer's first chunk
    parent: "Context | None" = None
    chunked: dict = field(default_factory=dict)
    only: str | None = None
    first: bool = True
    chunk_fid_column: dict = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_project(cls, project, checkpoints=None) -> "Context":
        from .. import store

        ctx = cls(project.profile, project.county, project.crs, project.path)
        ctx._present = set(store.list_layers(project.path))
        ctx.checkpoints = checkpoints
        return ctx

    @classmethod
    def from_frames(cls, profile, county: str, crs: str, layers: dict, tables: dict | None = None,
                    checkpoints=None) -> "Context":
        ctx = cls(profile, county, crs, None, checkpoints)
        for key, gdf in layers.items():
            ctx.frames[key] = _with_fid(gdf)
        ctx.tables = dict(tables or {})
        ctx._present = {profile.layer(k).table for k in layers if k in profile.layers} | set(ctx.tables)
        return ctx

    # -- lookups ----------------------------------------------------------------------------
    def field(self, group: str, role: str) -> str | None:
        return self.profile.field(group, role)

    def table_name(self, key: str) -> str:
        return self.profile.layer(key).table if key in self.profile.layers else key

    def has_table(self, name: str) -> bool:
        return name in (self._present or set()) or name in self.tables

    @property
    def root(self) -> "Context":
        return self.parent if self.parent is not None else self

    @property
    def part(self) -> str:
        """``whole`` (every layer whole), ``rest`` (the chunked layers hidden) or ``chunk``."""
        if self.parent is None:
            return "whole"
        return "chunk" if self.only else "rest"

    def layer_size(self, key: str) -> int:
        """Features of a layer (0 when absent), without reading a chunked layer."""
        if key in self.root.chunked:
            return self.root.chunked[key]
        g = self.layer(key)
        return 0 if g is None else len(g)

    def layer(self, key: str):
        """The layer (GeoDataFrame with ``fid``) or None when the project does not hold it."""
        if key in self.frames:
            return self.frames[key]
        if self.parent is not None:
            return None if key in self.parent.chunked else self.parent.layer(key)
        if self.path is None or key not in self.profile.layers:
            return None
        table = self.table_name(key)
        if table not in (self._present or set()):
            self.frames[key] = None
            return None
        from .. import store

        gdf = store.read_dataframe(self.path, table, use_arrow=True, fid_as_index=True)
        gdf.index.name = "fid"
        gdf = gdf.reset_index()
        self.frames[key] = gdf
        return gdf

    def table(self, name: str):
        """An attribute table of the project (DataFrame) or None when absent."""
        if self.parent is not None:
            return self.parent.table(name)
        if name in self.tables:
            return self.tables[name]
        if self.path is None or name not in (self._present or set()):
            return None
        from .. import store

        df = store.read_dataframe(self.path, name, use_arrow=True, read_geometry=False)
        self.tables[name] = df
        return df

    def expand(self, keys) -> list[str]:
        """Layer keys with ``component`` standing for the three component layers."""
        out = []
        for k in keys or []:
            out.extend(COMPONENT_KEYS if k == "component" else [k])
        out = [k for k in out if k in self.profile.layers]
        if self.only:  # a chunk view: the rules judge the chunk's layer alone
            return [k for k in out if k == self.only]
        return out

    def layers(self, keys):
        """(key, frame) of the listed layers that exist and hold features."""
        for k in self.expand(keys):
            g = self.layer(k)
            if g is not None and len(g):
                yield k, g

    def components(self):
        return list(self.layers(["component"]))

    @staticmethod
    def group_of(key: str) -> str:
        from ..project import field_group

        return field_group(key)

    def feature_ids(self, key: str, gdf) -> np.ndarray:
        """The identifier users know a feature by: its code (component ID, grid code) where the
        layer has one, else the fid."""
        role = {"component": "component_id"}.get(self.group_of(key), "grid_code")
        if self.group_of(key) == "community":
            role = "community_code"
        elif self.group_of(key) == "street":
            role = "street_code"
        name = self.field(self.group_of(key), role)
        fid = gdf["fid"].astype("int64").astype(str).to_numpy(dtype=object)
        if name and name in gdf.columns:
            s = gdf[name]
            txt = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
            empty = pd.isna(txt) | (pd.Series(txt, dtype=object).astype(str).str.strip() == "").to_numpy()
            return np.where(empty, fid, txt)
        return fid

    # -- shared derived data (cached) -------------------------------------------------------
    def text(self, key: str, gdf, name: str) -> pd.Series:
        """A column as stripped strings with "" for missing (cached per layer and column)."""
        ck = ("text", key, name)
        if ck not in self.cache:
            if name not in gdf.columns:
                s = pd.Series([""] * len(gdf), dtype="str")
            else:
                s = gdf[name]
                if not pd.api.types.is_string_dtype(s) or s.dtype == object:
                    s = s.astype("str").where(s.notna(), "")
                s = s.fillna("").str.strip()
            self.cache[ck] = s.reset_index(drop=True)
        return self.cache[ck]

    def class_codes(self, key: str, gdf) -> np.ndarray:
        """Each component's class code: the class part of a component ID of the right length, else
        the class code field ("" when neither)."""
        ck = ("class", key)
        if ck in self.cache:
            return self.cache[ck]
        spec = self.profile.codes["component_id"]
        a, _ = spec.span("major")
        _, b = spec.span("minor")
        cid = self.text(key, gdf, self.field("component", "component_id") or "")
        ok = (cid.str.len() == spec.length) & cid.str.fullmatch(r"[0-9]+").fillna(False)
        cls = cid.str.slice(a, b).where(ok, "")
        cf = self.field("component", "class_code")
        if cf and cf in gdf.columns:
            cc = self.text(key, gdf, cf)
            cls = cls.where(cls != "", cc)
        out = cls.to_numpy(dtype=object)
        self.cache[ck] = out
        return out

    def grids(self):
        """(codes, geometries, STRtree) of the unit grids, or None when there are none."""
        if self.parent is not None:
            return self.parent.grids()
        if "grids" not in self.cache:
            import shapely

            g = self.layer("unit_grid")
            if g is None or len(g) == 0:
                self.cache["grids"] = None
            else:
                codes = self.text("unit_grid", g, self.field("unit_grid", "grid_code")).to_numpy(dtype=object)
                geoms = np.asarray(g.geometry.values, dtype=object)
                self.cache["grids"] = (codes, geoms, shapely.STRtree(geoms))
        return self.cache["grids"]

    def grid_index(self):
        """A :class:`~surveytools.locate.GridIndex` of the unit grids (built once per run), or None."""
        if self.parent is not None:
            return self.parent.grid_index()
        if "grid_index" not in self.cache:
            from ..locate import GridIndex

            grids = self.grids()
            self.cache["grid_index"] = None if grids is None else GridIndex(grids[1], grids[0])
        return self.cache["grid_index"]

    def extent(self):
        """(label, geometry) of the project extent: the union of the communities, else of the grids."""
        if self.parent is not None:
            return self.parent.extent()
        if "extent" not in self.cache:
            import shapely

            out = None
            for key, label in (("community", ("社区范围", "community union")), ("unit_grid", ("单元网格范围", "unit grid union"))):
                g = self.layer(key)
                if g is not None and len(g):
                    geoms = np.asarray(g.geometry.values, dtype=object)
                    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
                    geoms = shapely.make_valid(geoms)
                    if len(geoms):
                        out = (label, shapely.union_all(geoms, grid_size=None))
                        break
            self.cache["extent"] = out
        return self.cache["extent"]


    # -- chunked reading of large layers -------------------------------------------------------
    def chunk_plan(self, keys, chunk_size: int) -> dict:
        """{key: (fid column, lowest fid, highest fid, features)} of the layers among ``keys`` that
        hold more than ``chunk_size`` features and can be read in fid ranges (a project's layer,
        not yet loaded whole)."""
        from .. import store

        plan = {}
        if self.path is None or not chunk_size or chunk_size < 1:
            return plan
        for key in keys:
            table = self.table_name(key)
            if key in self.frames or table not in (self._present or set()):
                continue
            rng = store.fid_range(self.path, table)
            if rng is not None and rng[3] > chunk_size:
                plan[key] = rng
        return plan

    def chunks(self, key: str, rng, chunk_size: int, columns=None):
        """The layer ``key`` as GeoDataFrames (with ``fid``) of at most ``chunk_size`` fids each,
        read in fid ranges (the dtypes of a whole read)."""
        from .. import store

        col, lo, hi, _n = rng
        if lo is None:
            return
        qc = '"' + str(col).replace('"', '""') + '"'
        table = self.table_name(key)
        for a in range(int(lo), int(hi) + 1, int(chunk_size)):
            kw = {"columns": columns} if columns is not None else {}
            g = store.read_dataframe(self.path, table, use_arrow=True, fid_as_index=True,
                                     where=f"{qc} >= {a} AND {qc} < {a + int(chunk_size)}", **kw)
            if not len(g):
                continue
            g.index.name = "fid"
            yield g.reset_index()

    def rest_view(self) -> "Context":
        """The project with the chunked layers hidden (their sizes known)."""
        return Context(self.profile, self.county, self.crs, self.path, self.checkpoints, frames={}, tables=self.tables,
                       cache={}, _present=self._present, parent=self)

    def chunk_view(self, key: str, gdf, first: bool) -> "Context":
        """One chunk of layer ``key``: the rules see that layer alone, holding the chunk's features."""
        return Context(self.profile, self.county, self.crs, self.path, self.checkpoints, frames={key: gdf},
                       tables=self.tables, cache={}, _present=self._present, parent=self, only=key, first=first)


def _with_fid(gdf):
    if gdf is None:
        return None
    if "fid" not in gdf.columns:
        gdf = gdf.copy()
        gdf.insert(0, "fid", np.arange(1, len(gdf) + 1, dtype=np.int64))
    return gdf.reset_index(drop=True)
