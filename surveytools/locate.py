"""Which unit grid a feature lies in (所在单元网格), by whole-array spatial joins.

Rules (deterministic whatever the input order; see docs/components.md):

* a **point** lies in the grid whose interior holds it; a point exactly on a grid edge or corner
  (in no interior, on the boundary of several grids) goes to the grid with the **smallest code**
  among the grids it touches;
* a **line** goes to the grid holding the **longest part** of it, a **polygon** to the grid holding
  the **largest part** of its area; ties go to the smallest code;
* a feature touching no grid gets no grid (``None``) and is reported by the caller.

The grid code then gives the community (the first county + street + community digits of the
code) and the street (county + street); their names come from the project's community and
street layers.  A project without unit grids is located on its communities (same rules), and
one without communities on its streets.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: component layers of a project, one per geometry type
COMPONENT_LAYERS = ("component_point", "component_line", "component_polygon")


def _ranks(codes) -> np.ndarray:
    codes = np.asarray(codes, dtype=object)
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes.astype(str), kind="stable")] = np.arange(len(codes))
    return rank


def _first_by_rank(fi: np.ndarray, gi: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """For each feature ``f`` of the pairs (fi, gi): the grid of smallest rank (-1 if no pair)."""
    out = np.full(n, -1, dtype=np.int64)
    if len(fi) == 0:
        return out
    hits = np.bincount(fi, minlength=n)
    single = hits[fi] == 1  # most features: exactly one grid, nothing to choose
    out[fi[single]] = gi[single]
    fi, gi = fi[~single], gi[~single]
    if len(fi) == 0:
        return out
    order = np.lexsort((rank[gi], fi))
    f_sorted = fi[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = f_sorted[1:] != f_sorted[:-1]
    out[f_sorted[first]] = gi[order][first]
    return out


class GridIndex:
    """Grids prepared for repeated point look-ups: a uniform bucket index of the grid bounding
    boxes (numpy only, no point objects are built) plus prepared polygons for the exact test."""

    def __init__(self, grid_geoms, grid_codes):
        import shapely

        self.geoms = np.asarray(grid_geoms, dtype=object)
        self.codes = np.asarray(grid_codes, dtype=object)
        self.rank = _ranks(self.codes)
        self.n = len(self.geoms)
        shapely.prepare(self.geoms)
        b = shapely.bounds(self.geoms)
        ok = np.isfinite(b).all(axis=1)
        self._ok = ok
        if not ok.any():
            self.cell = 1.0
            self.x0 = self.y0 = 0.0
            self.nx = self.ny = 1
            self._start = np.zeros(2, np.int64)
            self._grid = np.zeros(0, np.int64)
            return
        b = b[ok]
        ids = np.flatnonzero(ok)
        self.x0, self.y0 = b[:, 0].min(), b[:, 1].min()
        x1, y1 = b[:, 2].max(), b[:, 3].max()
        # bucket side: a quarter of the median grid size, so that a bucket meets about two grid
        # boxes (fewer exact point-in-polygon tests; each grid is registered in ~25 buckets)
        self.cell = float(max(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])) / 4, 1e-6))
        self.nx = int((x1 - self.x0) // self.cell) + 1
        self.ny = int((y1 - self.y0) // self.cell) + 1
        while self.nx * self.ny > 4_000_000:  # huge extents with tiny grids: coarser buckets
            self.cell *= 2
            self.nx = int((x1 - self.x0) // self.cell) + 1
            self.ny = int((y1 - self.y0) // self.cell) + 1
        ix0 = ((b[:, 0] - self.x0) // self.cell).astype(np.int64)
        ix1 = ((b[:, 2] - self.x0) // self.cell).astype(np.int64)
        iy0 = ((b[:, 1] - self.y0) // self.cell).astype(np.int64)
        iy1 = ((b[:, 3] - self.y0) // self.cell).astype(np.int64)
        nxs, nys = ix1 - ix0 + 1, iy1 - iy0 + 1
        cnt = nxs * nys
        g = np.repeat(ids, cnt)
        k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        nxr = np.repeat(nxs, cnt)
        bx = np.repeat(ix0, cnt) + k % nxr
        by = np.repeat(iy0, cnt) + k // nxr
        bucket = by * self.nx + bx
        order = np.argsort(bucket, kind="stable")
        self._grid = g[order]
        counts = np.bincount(bucket, minlength=self.nx * self.ny)
        self._start = np.concatenate([[0], np.cumsum(counts)])

    def points(self, x, y) -> np.ndarray:
        """Index of the grid holding each point (x, y arrays); -1 where none.  A point on an edge
        goes to the smallest code among the grids it touches."""
        import shapely

        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n = len(x)
        if n == 0 or self.n == 0:
            return np.full(n, -1, dtype=np.int64)
        fx = (x - self.x0) / self.cell
        fy = (y - self.y0) / self.cell
        inside = np.isfinite(fx) & np.isfinite(fy) & (fx >= 0) & (fy >= 0) & (fx < self.nx + 1) & (fy < self.ny + 1)
        pid = np.flatnonzero(inside)
        bx = np.minimum(fx[pid].astype(np.int64), self.nx - 1)
        by = np.minimum(fy[pid].astype(np.int64), self.ny - 1)
        # grid boxes and points go through the same float operations, so a point on a bucket
        # boundary finds every grid whose box touches it
        bucket = by * self.nx + bx
        s, e = self._start[bucket], self._start[bucket + 1]
        cnt = e - s
        fi = np.repeat(pid, cnt)
        k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        gi = self._grid[np.repeat(s, cnt) + k]
        hit = shapely.intersects_xy(self.geoms[gi], x[fi], y[fi])
        fi, gi = fi[hit], gi[hit]
        return _first_by_rank(fi, gi, self.rank, n)


def locate(geoms, grid_geoms, grid_codes, *, index: GridIndex | None = None) -> np.ndarray:
    """Index into ``grid_codes`` of the grid each geometry lies in (-1 where none)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0 or len(grid_geoms) == 0:
        return out
    index = index or GridIndex(grid_geoms, grid_codes)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    pi = np.flatnonzero((types == 0) & ~missing)
    if len(pi):
        out[pi] = index.points(shapely.get_x(geoms[pi]), shapely.get_y(geoms[pi]))
    oi = np.flatnonzero((types != 0) & ~missing)
    if len(oi):
        out[oi] = locate_shapes(geoms[oi], index)
    return out


def locate_shapes(geoms, index: GridIndex) -> np.ndarray:
    """Lines and polygons: the grid holding the longest part / the largest area (ties: smallest
    code).  Invalid polygons are measured on a repaired copy (the data are not changed)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0:
        return out
    work = geoms
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        work = geoms.copy()
        work[bad] = shapely.make_valid(geoms[bad])
    tree = shapely.STRtree(index.geoms)
    fi, gi = tree.query(work, predicate="intersects")
    if len(fi):
        inter = shapely.intersection(work[fi], index.geoms[gi])
        dim = shapely.get_dimensions(work[fi])
        measure = np.where(dim == 2, shapely.area(inter), shapely.length(inter))
        df = pd.DataFrame({"f": fi, "m": -measure, "r": index.rank[gi], "g": gi})
        best = df.sort_values(["f", "m", "r"], kind="stable").drop_duplicates("f")
        out[best["f"].to_numpy()] = best["g"].to_numpy()
    return out


# ----------------------------------------------------------------------------------------------
# locating on a project's grids, communities or streets

class Locator:
    """The project's location frame: unit grids (else communities, else streets) with, per grid,
    the codes and names the location fields need.  ``fields(idx)`` gives Arrow arrays.

    ``fallback``: a feature in no unit grid is located on the communities, and one in no community
    on the streets (the address base wants a street and community for a door plate beyond the
    grids); without it only the finest level the project has is used (components: a feature
    outside every grid is reported, not half-located)."""

    def __init__(self, work, grids_gdf=None, *, fallback: bool = False):
        import pyarrow as pa

        from .project import read_layer

        prof = work.profile
        comms = read_layer(work, "community")
        streets = read_layer(work, "street")
        cname = dict(zip(comms[prof.field("community", "community_code")].astype(str),
                         comms[prof.field("community", "community_name")])) if len(comms) else {}
        sname = dict(zip(streets[prof.field("street", "street_code")].astype(str),
                         streets[prof.field("street", "street_name")])) if len(streets) else {}
        ug = prof.codes["unit_grid"]
        clen = ug.length - ug.part_length("serial")
        slen = clen - ug.part_length("community")
        grids = grids_gdf if grids_gdf is not None else read_layer(work, "unit_grid")
        levels = []  # (level, codes, geoms, grid code, community code, street code) finest first
        if len(grids):
            codes = grids[prof.field("unit_grid", "grid_code")].astype(object).to_numpy()
            comm = np.array([c[:clen] if isinstance(c, str) else None for c in codes], dtype=object)
            levels.append(("unit_grid", codes, grids.geometry.values, codes, comm))
        if len(comms):
            codes = comms[prof.field("community", "community_code")].astype(object).to_numpy()
            levels.append(("community", codes, comms.geometry.values, np.full(len(codes), None, dtype=object), codes))
        if len(streets):
            codes = streets[prof.field("street", "street_code")].astype(object).to_numpy()
            none = np.full(len(codes), None, dtype=object)
            levels.append(("street", codes, streets.geometry.values, none, none))
        levels = levels if fallback else levels[:1]
        self.level = levels[0][0] if levels else None
        self.index = GridIndex(levels[0][2], levels[0][1]) if levels else None
        self.count = len(levels[0][1]) if levels else 0
        #: the coarser frames and the offset of their rows in ``per_grid``
        self._fallbacks = []
        offset = self.count
        for _level, codes, geoms, _g, _c in levels[1:]:
            self._fallbacks.append((GridIndex(geoms, codes), offset))
            offset += len(codes)
        gcode = [v for lv in levels for v in lv[3]]
        comm = [v for lv in levels for v in lv[4]]
        street = [v for lv in levels
                  for v in ([c[:slen] if isinstance(c, str) else None for c in lv[4]] if lv[0] != "street" else lv[1])]

        def arr(values):
            return pa.array([v if isinstance(v, str) and v else None for v in values], pa.string())

        self.per_grid = {
            "grid_code": arr(gcode),
            "community_code": arr(comm),
            "community_name": arr(cname.get(c) if c else None for c in comm),
            "street_code": arr(street),
            "street_name": arr(sname.get(s) if s else None for s in street),
        }

    @property
    def available(self) -> bool:
        return self.index is not None

    def locate(self, geoms=None, *, x=None, y=None) -> np.ndarray:
        """Grid index per feature: ``geoms`` (shapely array or a GeomColumn) or point ``x``/``y``."""
        if geoms is not None and hasattr(geoms, "point_xy"):  # a GeomColumn: 2-D points skip shapely
            xy = geoms.point_xy()
            if xy is not None:
                x, y = xy
                geoms = None
            else:
                geoms = geoms.shapely()
        if self.index is None:
            n = len(x) if x is not None else len(geoms)
            return np.full(n, -1, dtype=np.int64)
        out = self._locate_on(self.index, geoms, x, y)
        for index, offset in self._fallbacks:
            miss = np.flatnonzero(out < 0)
            if not len(miss):
                break
            sub = self._locate_on(index, None if geoms is None else np.asarray(geoms, dtype=object)[miss],
                                  None if x is None else np.asarray(x)[miss], None if y is None else np.asarray(y)[miss])
            out[miss] = np.where(sub >= 0, sub + offset, -1)
        return out

    @staticmethod
    def _locate_on(index, geoms, x, y) -> np.ndarray:
        if x is not None:
            return index.points(x, y)
        return locate(geoms, index.geoms, index.codes, index=index)

    def fields(self, idx: np.ndarray) -> dict:
        """role -> Arrow string array for the located indexes (null where -1)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        take = pa.array(idx, pa.int64(), mask=idx < 0)
        return {role: pc.take(a, take) for role, a in self.per_grid.items()}


def relocate_components(work, grids_gdf=None, *, feedback=None, keys=COMPONENT_LAYERS) -> dict:
    """Fill the grid, street and community fields of every component layer from ``grids_gdf``
    (the project's current unit grids by default) and the project's communities and streets.
    Returns per layer ``{"features", "changed", "unlocated"}``.  Layers are rewritten only when a
    value changed."""
    from .components.store import read_component_table, write_component_table

    loc = Locator(work, grids_gdf)
    prof = work.profile
    counts = {}
    for i, key in enumerate(keys):
        table, geoms = read_component_table(work, key)
        n = table.num_rows
        if n == 0:
            counts[key] = {"features": 0, "changed": 0, "unlocated": 0}
            continue
        idx = loc.locate(geoms)
        new = loc.fields(idx)
        changed = np.zeros(n, dtype=bool)
        layer = "event" if key == "event" else "component"
        for role, arr in new.items():
            name = prof.field(layer, role)
            if not name or name not in table.column_names:
                continue
            old = table.column(name).combine_chunks()
            diff = _differs(old, arr)
            changed |= diff
            table = table.set_column(table.column_names.index(name), name, arr)
        if changed.any():
            write_component_table(work, key, table, geoms)
        counts[key] = {"features": int(n), "changed": int(changed.sum()), "unlocated": int((idx < 0).sum())}
        if feedback is not None:
            feedback.progress(100.0 * (i + 1) / len(keys))
    return counts


def _differs(a, b) -> np.ndarray:
    """Element-wise "not equal, treating two nulls as equal" of two Arrow string arrays."""
    import pyarrow.compute as pc

    eq = pc.fill_null(pc.equal(a, b), False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return ~np.asarray(pc.or_(eq, both_null).to_numpy(zero_copy_only=False), dtype=bool)
