"""Topology and spatial-relation rules (拓扑、空间关系): unit grids without gaps or overlaps,
tiling their communities without crossing community or street boundaries, area within range;
work and responsibility grids made of whole unit grids; components inside the grid they name."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...i18n import Text
from ..catalogue import Skip, implements
from . import concat, geoms_of, rows

BOUNDARY_NAMES = {"community": ("社区", "community"), "street": ("街道", "street")}


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry (collections from overlays lose their lines/points)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object).copy()
    coll = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    if len(coll):
        parts, idx = shapely.get_parts(geoms[coll], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        for k, pos in enumerate(coll):  # rare: only pairs whose overlay mixes dimensions
            p = parts[keep & (idx == k)]
            geoms[pos] = shapely.union_all(p) if len(p) else shapely.Polygon()
    return geoms


def _grids(ctx):
    g = ctx.layer("unit_grid")
    if g is None or len(g) == 0:
        raise Skip(Text("项目中没有单元网格", "the project holds no unit grids"))
    return g


def _valid(geoms):
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    out = geoms.copy()
    bad = ok & ~shapely.is_valid(np.where(ok, geoms, None))
    if bad.any():
        out[bad] = shapely.make_valid(geoms[bad])
    return out, ok


@implements("topology.grid_gaps", scope="rest")
def grid_gaps(ctx, params):
    import shapely

    g = _grids(ctx)
    geoms, ok = _valid(geoms_of(g))
    union = shapely.union_all(geoms[ok])
    comms = ctx.layer("community")
    if comms is not None and len(comms):
        cg, cok = _valid(geoms_of(comms))
        gaps = shapely.difference(shapely.union_all(cg[cok]), union)
    else:
        polys = shapely.get_parts(union)
        holes = [shapely.polygons(shapely.get_interior_ring(p, k)) for p in polys
                 for k in range(shapely.get_num_interior_rings(p))]
        gaps = shapely.union_all(np.asarray(holes, dtype=object)) if holes else shapely.Polygon()
    parts = shapely.get_parts(polygonal(np.array([gaps], dtype=object)))
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))] if len(parts) else parts
    if len(parts):
        parts = shapely.get_parts(parts)
    area = shapely.area(parts) if len(parts) else np.zeros(0)
    keep = area > float(params.get("min_area_m2", 1.0))
    parts, area = parts[keep], area[keep]
    if not len(parts):
        return concat([])
    order = np.lexsort((shapely.get_coordinates(shapely.centroid(parts))[:, 0],
                        -shapely.get_coordinates(shapely.centroid(parts))[:, 1]))
    parts, area = parts[order], area[order]
    return rows(layer=ctx.table_name("unit_grid"), geometry=parts, area=np.round(area, 2),
                value=np.round(area, 2).astype(str))


@implements("topology.community_gaps", scope="rest")
def community_gaps(ctx, params):
    import shapely

    from ...grid.communities import community_gaps as gaps_of

    comms = ctx.layer("community")
    if comms is None or len(comms) == 0:
        raise Skip(Text("项目中没有社区", "the project holds no communities"))
    parts = gaps_of(geoms_of(comms), max_width=float(params.get("max_width_m", 2.0)),
                    min_area=float(params.get("min_area_m2", 1.0)))
    if not len(parts):
        return concat([])
    area = np.round(shapely.area(parts), 2)
    return rows(layer=ctx.table_name("community"), geometry=parts, area=area, value=area.astype(str))


@implements("topology.grid_overlaps", scope="rest")
def grid_overlaps(ctx, params):
    import shapely

    g = _grids(ctx)
    geoms, ok = _valid(geoms_of(g))
    geoms = np.where(ok, geoms, None)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if not len(i):
        return concat([])
    m = shapely.relate_pattern(geoms[i], geoms[j], "2********")
    i, j = i[m], j[m]
    if not len(i):
        return concat([])
    inter = polygonal(shapely.intersection(geoms[i], geoms[j]))
    area = shapely.area(inter)
    keep = area > float(params.get("min_area_m2", 0.01))
    i, j, inter, area = i[keep], j[keep], inter[keep], area[keep]
    ids = ctx.feature_ids("unit_grid", g)
    return rows(layer=ctx.table_name("unit_grid"), fid=g["fid"].to_numpy()[i], feature_id=ids[i],
                field=ctx.field("unit_grid", "grid_code"), value=ids[j], other=ids[j], area=np.round(area, 2),
                geometry=inter)


@implements("topology.grid_crosses_boundary", scope="rest")
def grid_crosses_boundary(ctx, params):
    import shapely

    g = _grids(ctx)
    geoms, ok = _valid(geoms_of(g))
    ids = ctx.feature_ids("unit_grid", g)
    fid = g["fid"].to_numpy()
    min_area = float(params.get("min_area_m2", 1.0))
    out = []
    ran = False
    for key in params.get("boundaries", []):
        b = ctx.layer(key)
        if b is None or len(b) == 0:
            continue
        ran = True
        bg, bok = _valid(geoms_of(b))
        bg = np.where(bok, bg, None)
        bcode = ctx.feature_ids(key, b)
        zh, en = BOUNDARY_NAMES.get(key, (key, key))
        pts = shapely.point_on_surface(np.where(ok, geoms, None))
        tree = shapely.STRtree(bg)
        fi, bi = tree.query(pts, predicate="within")
        home = np.full(len(g), -1, dtype=np.int64)
        first = pd.Series(bi).groupby(fi).first()
        home[first.index.to_numpy()] = first.to_numpy()
        lost = np.flatnonzero(ok & (home < 0))
        if len(lost):
            out.append(rows(layer=ctx.table_name("unit_grid"), fid=fid[lost], feature_id=ids[lost], geometry=geoms[lost],
                            variant="outside", boundary=en, boundary_zh=zh, value=""))
        has = np.flatnonzero(ok & (home >= 0))
        if not len(has):
            continue
        covered = shapely.covered_by(geoms[has], bg[home[has]])
        has = has[~covered]
        if not len(has):
            continue
        diff = polygonal(shapely.difference(geoms[has], bg[home[has]]))
        area = shapely.area(diff)
        keep = area > min_area
        has, diff, area = has[keep], diff[keep], area[keep]
        if len(has):
            out.append(rows(layer=ctx.table_name("unit_grid"), fid=fid[has], feature_id=ids[has], geometry=diff,
                            area=np.round(area, 2), home=bcode[home[has]], value=bcode[home[has]], boundary=en,
                            boundary_zh=zh))
    if not ran:
        raise Skip(Text("项目中没有社区和街道边界", "the project holds no community or street boundaries"))
    return concat(out)


@implements("topology.grid_area", scope="rest")
def grid_area(ctx, params):
    import shapely

    g = _grids(ctx)
    d = ctx.profile.defaults.get("grid", {})
    lo = params.get("min_area_m2")
    hi = params.get("max_area_m2")
    lo = float(d.get("min_area", 0) if lo is None else lo)
    hi = float(d.get("max_area", np.inf) if hi is None else hi)
    geoms = geoms_of(g)
    area = shapely.area(geoms)
    idx = np.flatnonzero(~np.isnan(area) & ((area < lo) | (area > hi)))
    if not len(idx):
        return concat([])
    return rows(layer=ctx.table_name("unit_grid"), fid=g["fid"].to_numpy()[idx], feature_id=ctx.feature_ids("unit_grid", g)[idx],
                geometry=geoms[idx], area=np.round(area[idx], 1), value=np.round(area[idx], 1).astype(str),
                min=f"{lo:g}", max=f"{hi:g}")


@implements("topology.aggregate_whole_grids", scope="rest")
def aggregate_whole_grids(ctx, params):
    import shapely

    g = _grids(ctx)
    geoms, ok = _valid(geoms_of(g))
    geoms = np.where(ok, geoms, None)
    ids = ctx.feature_ids("unit_grid", g)
    min_area = float(params.get("min_area_m2", 1.0))
    out = []
    any_layer = False
    for key in ctx.expand(params.get("layers", [])):
        a = ctx.layer(key)
        if a is None or len(a) == 0:
            continue
        any_layer = True
        title = ctx.profile.layer(key).title
        ag, aok = _valid(geoms_of(a))
        ag = np.where(aok, ag, None)
        acode = ctx.feature_ids(key, a)
        tree = shapely.STRtree(ag)
        gi, ai = tree.query(geoms, predicate="intersects")
        if len(gi):
            m = shapely.relate_pattern(geoms[gi], ag[ai], "2********")
            gi, ai = gi[m], ai[m]
        if len(gi):
            inter = polygonal(shapely.intersection(geoms[gi], ag[ai]))
            area = shapely.area(inter)
            keep = area > min_area
            gi, ai, inter, area = gi[keep], ai[keep], inter[keep], area[keep]
            df = pd.DataFrame({"g": gi, "a": ai, "area": area, "k": np.arange(len(gi))})
            n = df.groupby("g")["a"].transform("size")
            df = df[n > 1]
            if len(df):
                best = df.sort_values(["g", "area"], ascending=[True, False]).drop_duplicates("g")
                cut = df[~df["k"].isin(best["k"])]
                k = cut["k"].to_numpy()
                out.append(rows(layer=ctx.table_name("unit_grid"), fid=g["fid"].to_numpy()[gi[k]], feature_id=ids[gi[k]],
                                value=ids[gi[k]], other=acode[ai[k]], area=np.round(area[k], 2), geometry=inter[k],
                                layer_title_zh=title.zh, layer_title_en=title.en))
        # parts of an aggregate outside every unit grid
        union = shapely.union_all(geoms[ok])
        rest = polygonal(shapely.difference(ag, union))
        area = shapely.area(rest)
        idx = np.flatnonzero(aok & (area > min_area))
        if len(idx):
            out.append(rows(layer=ctx.table_name(key), fid=a["fid"].to_numpy()[idx], feature_id=acode[idx], value=acode[idx],
                            area=np.round(area[idx], 2), geometry=rest[idx], variant="not_covered",
                            layer_title_zh=title.zh, layer_title_en=title.en))
    if not any_layer:
        raise Skip(Text("项目中没有工作网格或责任网格", "the project holds no work or responsibility grids"))
    return concat(out)


@implements("relations.component_in_grid", scope="rows")
def component_in_grid(ctx, params):
    from ...locate import locate

    grids = ctx.grids()
    if grids is None:
        raise Skip(Text("项目中没有单元网格", "the project holds no unit grids"))
    codes, ggeoms, _tree = grids
    known = set(codes)
    gf = ctx.field("component", "grid_code")
    out = []
    for key, g in ctx.components():
        bg = ctx.text(key, g, gf)
        named = np.flatnonzero(bg.isin(known).to_numpy(dtype=bool) & (bg != "").to_numpy(dtype=bool))
        if not len(named):
            continue
        geoms = geoms_of(g)[named]
        idx = locate(geoms, ggeoms, codes, index=ctx.grid_index())
        actual = np.where(idx >= 0, codes[np.maximum(idx, 0)], "")
        named_code = bg.to_numpy(dtype=object)[named]
        bad = np.flatnonzero(actual != named_code)
        if len(bad):
            sel = named[bad]
            act = actual[bad]
            out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[sel], feature_id=ctx.feature_ids(key, g)[sel],
                            field=gf, value=named_code[bad], geometry=geoms[bad],
                            actual=np.where(act == "", "无 / none", act).astype(object)))
    return concat(out)
