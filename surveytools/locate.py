"""Which unit grid a feature lies in (所在单元网格), by whole-array spatial joins.

Rules (deterministic whatever the input order):

* a **point** lies in the grid whose interior holds it; a point exactly on a grid edge or corner
  (in no interior, on the boundary of several grids) goes to the grid with the **smallest code**
  among the grids it touches;
* a **line** goes to the grid holding the **longest part** of it, a **polygon** to the grid holding
  the **largest part** of its area; ties go to the smallest code;
* a feature touching no grid gets no grid (``None``) and is reported by the caller.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def locate(geoms, grid_geoms, grid_codes) -> np.ndarray:
    """Index into ``grid_codes`` of the grid each geometry lies in (-1 where none)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    grid_geoms = np.asarray(grid_geoms, dtype=object)
    codes = np.asarray(grid_codes, dtype=object)
    out = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0 or len(grid_geoms) == 0:
        return out
    # rank of each grid's code: smaller code wins ties
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes.astype(str), kind="stable")] = np.arange(len(codes))
    tree = shapely.STRtree(grid_geoms)
    types = shapely.get_type_id(geoms)
    is_point = types == 0
    pi = np.flatnonzero(is_point)
    if len(pi):
        xy = shapely.get_coordinates(geoms[pi])
        pts = shapely.points(xy)  # plain points (drops Z), one per input point
        fi, gi = tree.query(pts, predicate="intersects")
        if len(fi):
            df = pd.DataFrame({"f": fi, "r": rank[gi], "g": gi})
            best = df.sort_values(["f", "r"], kind="stable").drop_duplicates("f")
            out[pi[best["f"].to_numpy()]] = best["g"].to_numpy()
    oi = np.flatnonzero(~is_point & ~shapely.is_missing(geoms))
    if len(oi):
        sub = geoms[oi]
        bad = ~shapely.is_valid(sub)
        if bad.any():  # an invalid survey polygon (a bowtie) is measured by its repaired shape
            sub = sub.copy()
            sub[bad] = shapely.make_valid(sub[bad])
        fi, gi = tree.query(sub, predicate="intersects")
        if len(fi):
            inter = shapely.intersection(sub[fi], grid_geoms[gi])
            dim = shapely.get_dimensions(geoms[oi][fi])
            measure = np.where(dim == 2, shapely.area(inter), shapely.length(inter))
            df = pd.DataFrame({"f": fi, "m": -measure, "r": rank[gi], "g": gi})
            best = df.sort_values(["f", "m", "r"], kind="stable").drop_duplicates("f")
            out[oi[best["f"].to_numpy()]] = best["g"].to_numpy()
    return out


def relocate_components(work, grids_gdf, *, feedback=None) -> dict:
    """Fill the grid, street and community fields of every component layer from ``grids_gdf``
    (the project's current unit grids) and the project's communities.  Returns counts."""
    from .project import read_layer, write_project_layer

    prof = work.profile
    gcode = prof.field("unit_grid", "grid_code")
    codes = grids_gdf[gcode].to_numpy(dtype=object)
    comms = read_layer(work, "community")
    cname = dict(zip(comms[prof.field("community", "community_code")], comms[prof.field("community", "community_name")])) \
        if len(comms) else {}
    streets = read_layer(work, "street")
    sname = dict(zip(streets[prof.field("street", "street_code")], streets[prof.field("street", "street_name")])) \
        if len(streets) else {}
    ulen = prof.codes["unit_grid"].length - prof.codes["unit_grid"].part_length("serial")
    counts = {}
    for key in ("component_point", "component_line", "component_polygon"):
        comp = read_layer(work, key)
        if len(comp) == 0:
            counts[key] = {"features": 0, "changed": 0, "unlocated": 0}
            continue
        f = lambda role: prof.field("component", role)  # noqa: E731
        idx = locate(comp.geometry.values, grids_gdf.geometry.values, codes)
        new = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
        old = comp[f("grid_code")].astype(object).to_numpy()
        changed = int(np.sum(pd.Series(old).fillna("").to_numpy() != pd.Series(new).fillna("").to_numpy()))
        comp[f("grid_code")] = new
        comm = pd.Series(new, dtype=object).str[:ulen]
        street = comm.str[:9]
        if f("community_code"):
            comp[f("community_code")] = comm.to_numpy()
            comp[f("community_name")] = comm.map(cname).to_numpy()
        if f("street_code"):
            comp[f("street_code")] = street.to_numpy()
            comp[f("street_name")] = street.map(sname).to_numpy()
        write_project_layer(work, key, comp)
        counts[key] = {"features": int(len(comp)), "changed": changed, "unlocated": int((idx < 0).sum())}
    return counts
