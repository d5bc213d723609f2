"""Geometry rules (几何): empty, valid (with the location of the problem), single-part, type
matching the class, inside the project extent and the CRS's area of use, duplicates (重复采集)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...i18n import Text
from ..catalogue import Skip, implements
from ..context import GEOMETRY_OF_KEY
from . import concat, geoms_of, rows

GEOMETRY_NAMES = {"point": "点", "line": "线", "polygon": "面"}


def _base(ctx, key, g, idx, **more):
    more.setdefault("geometry", geoms_of(g)[idx])
    return rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[idx], feature_id=ctx.feature_ids(key, g)[idx], **more)


def _present(geoms) -> np.ndarray:
    import shapely

    return ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)


@implements("geometry.empty", scope="rows")
def empty(ctx, params):
    out = []
    for key, g in ctx.layers(params.get("layers", [])):
        idx = np.flatnonzero(~_present(geoms_of(g)))
        if len(idx):
            out.append(_base(ctx, key, g, idx, geometry=None))
    return concat(out)


@implements("geometry.valid", scope="rows")
def valid(ctx, params):
    import shapely

    out = []
    for key, g in ctx.layers(params.get("layers", [])):
        geoms = geoms_of(g)
        bad = _present(geoms) & ~shapely.is_valid(geoms)
        idx = np.flatnonzero(bad)
        if not len(idx):
            continue
        reason = pd.Series(shapely.is_valid_reason(geoms[idx]), dtype="str")
        xy = reason.str.extract(r"\[\s*([-0-9.eE+]+)\s+([-0-9.eE+]+)")
        x = pd.to_numeric(xy[0], errors="coerce").to_numpy()
        y = pd.to_numeric(xy[1], errors="coerce").to_numpy()
        has = ~np.isnan(x) & ~np.isnan(y)
        loc = geoms[idx].copy()
        loc[has] = shapely.points(x[has], y[has])
        out.append(_base(ctx, key, g, idx, geometry=loc, value=reason.to_numpy(dtype=object),
                         reason=reason.to_numpy(dtype=object)))
    return concat(out)


@implements("geometry.single_part", scope="rows")
def single_part(ctx, params):
    import shapely

    out = []
    for key, g in ctx.layers(params.get("layers", [])):
        geoms = geoms_of(g)
        parts = shapely.get_num_geometries(geoms)
        multi = shapely.get_type_id(geoms) >= 4
        idx = np.flatnonzero(multi & (parts > 1))
        if len(idx):
            out.append(_base(ctx, key, g, idx, parts=parts[idx], value=parts[idx].astype(str)))
    return concat(out)


@implements("geometry.class_type", scope="rows")
def class_type(ctx, params):
    classes = ctx.profile.component_classes
    geom_of = dict(zip(classes["code"], classes["geometry"]))
    name_of = dict(zip(classes["code"], classes["name"]))
    out = []
    for key, g in ctx.components():
        actual = GEOMETRY_OF_KEY[key]
        cls = pd.Series(ctx.class_codes(key, g), dtype=object)
        expected = cls.map(geom_of).fillna("").to_numpy(dtype=object)
        idx = np.flatnonzero((expected != "") & (expected != actual))
        if len(idx):
            exp = expected[idx]
            out.append(_base(ctx, key, g, idx, field=ctx.field("component", "component_id"),
                             value=cls.to_numpy(dtype=object)[idx], class_code=cls.to_numpy(dtype=object)[idx],
                             class_name=cls.map(name_of).to_numpy(dtype=object)[idx], expected=exp,
                             expected_zh=np.array([GEOMETRY_NAMES.get(e, e) for e in exp], dtype=object),
                             actual=actual, actual_zh=GEOMETRY_NAMES[actual]))
    return concat(out)


@implements("geometry.extent", scope="rows")
def extent(ctx, params):
    import shapely

    ext = ctx.extent()
    if ext is None:
        raise Skip(Text("项目中没有社区和单元网格，无法确定项目范围", "no communities and no unit grids: the project extent is unknown"))
    (label_zh, label_en), area = ext
    ext_key = "community" if label_en == "community union" else "unit_grid"
    tol = float(params.get("tolerance_m", 1.0))
    grown = shapely.buffer(area, tol) if tol > 0 else area
    shapely.prepare(grown)
    out = []
    for key, g in ctx.layers(params.get("layers", [])):
        if key == ext_key:
            continue  # the layer that defines the extent
        geoms = geoms_of(g)
        present = _present(geoms)
        inside = np.ones(len(g), dtype=bool)
        pt = present & (shapely.get_type_id(geoms) == 0)
        if pt.any():
            xy = shapely.get_coordinates(geoms[pt])
            inside[pt] = shapely.contains_xy(grown, xy[:, 0], xy[:, 1])
        other = present & ~pt
        if other.any():
            inside[other] = shapely.covered_by(geoms[other], grown)
        idx = np.flatnonzero(present & ~inside)
        if len(idx):
            dist = np.round(shapely.distance(geoms[idx], area), 1)
            out.append(_base(ctx, key, g, idx, distance=dist, value=dist.astype(str), extent=label_zh, extent_en=label_en))
    return concat(out)


def crs_area_box(crs_text: str):
    """The CRS's area of use as a box in the CRS (None when it has none)."""
    import shapely
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(crs_text)
    aou = crs.area_of_use
    if aou is None:
        return None
    t = Transformer.from_crs(crs.geodetic_crs or "EPSG:4326", crs, always_xy=True)
    x0, y0, x1, y1 = t.transform_bounds(aou.west, aou.south, aou.east, aou.north, densify_pts=21)
    return shapely.box(x0, y0, x1, y1)


@implements("geometry.crs_area", scope="rows")
def crs_area(ctx, params):
    import shapely

    box = crs_area_box(ctx.crs)
    if box is None:
        raise Skip(Text("项目坐标系没有有效范围信息", "the project CRS has no area of use"))
    x0, y0, x1, y1 = box.bounds
    out = []
    for key, g in ctx.layers(params.get("layers", [])):
        geoms = geoms_of(g)
        b = shapely.bounds(geoms)
        present = _present(geoms)
        inside = (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
        idx = np.flatnonzero(present & ~inside)
        if len(idx):
            out.append(_base(ctx, key, g, idx, crs=ctx.crs))
    return concat(out)


@implements("geometry.duplicate")
def duplicate(ctx, params):
    tol = float(params.get("tolerance_m", 0.5))
    return concat([duplicate_in_layer(ctx, key, g, tol) for key, g in ctx.components()])


def duplicate_keys(ctx, key, g) -> np.ndarray:
    """What two components must share to be duplicates: the class code, else ``name:`` + the
    name ("" and "name:": never a duplicate)."""
    name_f = ctx.field("component", "name")
    cls = pd.Series(ctx.class_codes(key, g), dtype=object)
    if name_f and name_f in g.columns:
        cls = cls.where(cls != "", "name:" + ctx.text(key, g, name_f))
    return cls.to_numpy(dtype=object)


def duplicate_in_layer(ctx, key, g, tol):
    import shapely

    geoms = geoms_of(g)
    cls = duplicate_keys(ctx, key, g)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=tol)
    fid = g["fid"].to_numpy()
    keep = (fid[i] < fid[j]) & (cls[i] == cls[j]) & (cls[i] != "") & (cls[i] != "name:")
    i, j = i[keep], j[keep]
    if not len(i):
        return None
    if key != "component_point":
        h = shapely.hausdorff_distance(geoms[i], geoms[j])
        m = h <= tol
        i, j, dist = i[m], j[m], h[m]
    else:
        dist = shapely.distance(geoms[i], geoms[j])
    if not len(i):
        return None
    ids = ctx.feature_ids(key, g)
    return _base(ctx, key, g, j, other=ids[i], other_fid=fid[i], distance=np.round(dist, 3), value=ids[i])
