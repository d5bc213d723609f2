"""Community (社区) and street (街道) boundaries: reading, checking, storing in the project."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

CODE_NAMES = ["code", "社区代码", "社区编码", "CommCode", "SQDM", "comm_code", "community_code", "区划代码", "DM"]
NAME_NAMES = ["name", "社区名称", "CommName", "SQMC", "comm_name", "community_name", "名称", "NAME", "MC"]


def detect_field(df, wanted_len: int, explicit: str | None, candidates: list, what: Text, path: str) -> str:
    """The column holding the codes: ``explicit`` or the one whose values are all ``wanted_len``-digit codes."""
    if explicit:
        if explicit not in df.columns:
            raise SurveyError(Text(f"字段 {explicit} 不存在（可用：{', '.join(map(str, df.columns))}）",
                                   f"no field {explicit} (available: {', '.join(map(str, df.columns))})"),
                              code="no_field", file=path, field=explicit)
        return explicit
    scores = []
    for c in df.columns:
        if c == "geometry":
            continue
        s = df[c].dropna().astype(str).str.strip()
        s = s.str.replace(r"\.0$", "", regex=True)
        if len(s) == 0:
            continue
        ok = s.str.fullmatch(rf"\d{{{wanted_len}}}").mean()
        pref = 1 if c in candidates else 0
        if ok > 0.9:
            scores.append((ok, pref, c))
    if not scores:
        raise SurveyError(Text(f"找不到{what.zh}字段（{wanted_len} 位数字）；请用 --code-field 指定",
                               f"cannot find the {what.en} field ({wanted_len} digits); name it with --code-field"),
                          code="no_code_field", file=path)
    return max(scores)[2]


def detect_name_field(df, explicit: str | None = None) -> str | None:
    if explicit:
        return explicit if explicit in df.columns else None
    for c in NAME_NAMES:
        if c in df.columns:
            return c
    for c in df.columns:
        if c != "geometry" and re.search("name|名称|mc", str(c), re.I):
            return c
    return None


def clean_codes(series) -> pd.Series:
    return series.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)


def prepare_communities(gdf, src, *, code_field=None, name_field=None, repair=False, feedback=None):
    """Checked communities: one row per 12-digit code (parts dissolved), valid polygons, no overlaps.

    Returns (GeoDataFrame[code, name, street_code, geometry], warnings).
    """
    import shapely

    warnings = []
    path = src.label
    if len(gdf) == 0:
        raise SurveyError(Text("社区图层为空", "the community layer is empty"), code="empty", file=path)
    cf = detect_field(gdf, 12, code_field, CODE_NAMES, Text("社区代码", "community code"), path)
    nf = detect_name_field(gdf, name_field)
    codes = clean_codes(gdf[cf])
    bad = ~codes.fillna("").str.fullmatch(r"\d{12}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SurveyError(Text(f"社区代码应为 12 位数字（共 {int(bad.sum())} 个不符合）",
                               f"community codes must be 12 digits ({int(bad.sum())} do not)"),
                          code="community_code", file=src.path, layer=src.layer, feature=_fid(gdf, i), field=cf,
                          value=gdf[cf].iloc[i])
    geoms = gdf.geometry.values
    types = shapely.get_type_id(np.asarray(geoms))
    nonpoly = ~np.isin(types, (3, 6))
    if nonpoly.any():
        i = int(np.flatnonzero(nonpoly)[0])
        raise SurveyError(Text("社区图层应为面要素", "the community layer must hold polygons"), code="geometry_type",
                          file=src.path, layer=src.layer, feature=_fid(gdf, i), value=str(geoms[i].geom_type if geoms[i] is not None else None))
    valid = shapely.is_valid(np.asarray(geoms))
    if not valid.all():
        idx = np.flatnonzero(~valid)
        reason = shapely.is_valid_reason(np.asarray(geoms)[idx[0]])
        if not repair:
            raise SurveyError(Text(f"{len(idx)} 个社区面无效（{reason}）", f"{len(idx)} community polygons are invalid ({reason})"),
                              code="invalid_geometry", file=src.path, layer=src.layer, feature=_fid(gdf, int(idx[0])),
                              field=cf, value=codes.iloc[int(idx[0])],
                              hint=Text("修复后重试，或加 --repair 由程序修复（make_valid）", "fix it, or pass --repair to repair it (make_valid)"))
        fixed = shapely.make_valid(np.asarray(geoms)[idx])
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        geoms = np.asarray(geoms).copy()
        geoms[idx] = fixed
        warnings.append(Text(f"已修复 {len(idx)} 个无效社区面（{', '.join(codes.iloc[idx].astype(str)[:5])}）",
                             f"repaired {len(idx)} invalid community polygons ({', '.join(codes.iloc[idx].astype(str)[:5])})"))
    df = pd.DataFrame({"code": codes.to_numpy(), "name": gdf[nf].astype("string").to_numpy() if nf else None})
    df["geometry"] = list(geoms)
    dup = df["code"].duplicated(keep=False)
    if dup.any():
        warnings.append(Text(f"{int(df.loc[dup, 'code'].nunique())} 个社区代码出现在多个要素上，已合并为多部分社区",
                             f"{int(df.loc[dup, 'code'].nunique())} community codes appear on several features; merged into multipart communities"))
    merged = df.groupby("code", sort=True).agg(name=("name", "first"),
                                               geometry=("geometry", lambda g: shapely.union_all(list(g))))
    merged = merged.reset_index()
    merged["street_code"] = merged["code"].str[:9]
    # overlaps between different communities
    g = np.asarray(merged["geometry"].to_numpy(), dtype=object)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        inter = shapely.area(shapely.intersection(g[a], g[b]))
        big = inter > 1.0
        if big.any():
            k = int(np.flatnonzero(big)[0])
            raise SurveyError(Text(f"社区 {merged['code'][a[k]]} 与 {merged['code'][b[k]]} 重叠 {inter[k]:.1f} m²（共 {int(big.sum())} 处重叠）",
                                   f"communities {merged['code'][a[k]]} and {merged['code'][b[k]]} overlap by {inter[k]:.1f} m² "
                                   f"({int(big.sum())} overlaps in all)"),
                              code="community_overlap", file=src.path, layer=src.layer, value=merged["code"][a[k]],
                              hint=Text("单元网格不能跨社区：请先修正社区边界", "unit grids cannot cross communities: fix the boundaries first"))
    import geopandas as gpd
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=gdf.crs), warnings


def _polygonal(geom):
    import shapely

    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()


def _fid(gdf, i: int):
    return int(gdf.index[i]) if gdf.index.dtype.kind in "iu" else gdf.index[i]


def streets_from_communities(comms):
    """Street polygons as the union of their communities, with NBS names where known."""
    import geopandas as gpd
    import shapely

    from ..admin import divisions

    div = divisions()
    rows = []
    for code, grp in comms.groupby("street_code", sort=True):
        info = div.street(code)
        rows.append({"street_code": code, "street_name": (info or {}).get("name"),
                     "geometry": shapely.union_all(list(grp.geometry.values))})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=comms.crs)


def read_lines(specs, to_crs, extent=None, warnings: list | None = None):
    """Linear features from several layers as one array of LineStrings (polygon layers give
    their boundaries: a river drawn as an area still bounds grids).

    ``extent`` (the communities' union): a layer none of whose lines reaches it is an error
    (a wrong CRS, or the wrong file); lines of a layer that lie outside it are counted in
    ``warnings``.
    """
    import shapely

    from ..io import read_vector

    out = []
    sources = []
    for spec in specs or []:
        gdf, src = read_vector(spec, to_crs=to_crs)
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        geoms = geoms[~shapely.is_missing(geoms)]
        t = shapely.get_type_id(geoms)
        poly = np.isin(t, (3, 6))
        if poly.any():
            geoms = np.concatenate([geoms[~poly], shapely.boundary(geoms[poly])])
        parts = shapely.get_parts(geoms)
        parts = parts[np.isin(shapely.get_type_id(parts), (1, 2, 5))]
        parts = shapely.get_parts(parts)
        parts = parts[~shapely.is_empty(parts)]
        if extent is not None and len(parts):
            _check_lines_reach(parts, extent, src, warnings)
        out.append(parts)
        sources.append(src)
    lines = np.concatenate(out) if out else np.array([], dtype=object)
    valid = shapely.is_valid(lines) if len(lines) else np.array([], dtype=bool)
    if len(lines) and not valid.all():
        lines = np.where(valid, lines, shapely.make_valid(lines))
    return lines, sources


def community_gaps(geoms, *, max_width: float = 2.0, min_area: float = 1.0) -> np.ndarray:
    """Gaps and slivers between communities (polygons, whole arrays): the holes of their union
    plus every narrow space (at most ``max_width`` m wide) between them that a morphological
    closing fills; parts of at most ``min_area`` m² are ignored.  Sorted north-west first."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return np.array([], dtype=object)
    union = shapely.union_all(shapely.make_valid(geoms))
    polys = shapely.get_parts(union)
    polys = polys[np.isin(shapely.get_type_id(polys), (3, 6))]
    holes = [shapely.polygons(shapely.get_interior_ring(p, k)) for p in polys
             for k in range(shapely.get_num_interior_rings(p))]
    d = max_width / 2 + 1e-3
    closed = shapely.buffer(shapely.buffer(union, d, join_style="mitre", mitre_limit=10.0), -d, join_style="mitre",
                            mitre_limit=10.0)
    found = shapely.union_all(np.asarray(holes + [shapely.difference(closed, union)], dtype=object))
    parts = shapely.get_parts(found)
    parts = parts[np.isin(shapely.get_type_id(parts), (3,))] if len(parts) else parts
    parts = parts[shapely.area(parts) > min_area] if len(parts) else parts
    if not len(parts):
        return np.array([], dtype=object)
    c = shapely.get_coordinates(shapely.centroid(parts))
    return parts[np.lexsort((c[:, 0], -c[:, 1]))]


def unknown_streets(street_codes) -> list:
    """The distinct 9-digit street codes that are not in the NBS 2023 division table."""
    from ..admin import divisions

    d = divisions()
    return sorted(c for c in set(map(str, street_codes)) if d.street(c) is None)


def _check_lines_reach(parts, extent, src, warnings) -> None:
    import shapely

    shapely.prepare(extent)
    inside = shapely.intersects(extent, parts)
    if not inside.any():
        x0, y0, x1, y1 = shapely.total_bounds(parts)
        raise SurveyError(Text(f"线状地物图层的 {len(parts)} 条线都不在社区范围内（线的范围 {x0:.0f}, {y0:.0f} – {x1:.0f}, {y1:.0f}，"
                               f"声明的坐标系 {src.crs}）：坐标系声明错误，或给错了文件",
                               f"none of the {len(parts)} lines of the layer reaches the communities (lines extent "
                               f"{x0:.0f}, {y0:.0f} – {x1:.0f}, {y1:.0f}, declared CRS {src.crs}): a wrong CRS, or the wrong file"),
                          code="lines_outside", file=src.path, layer=src.layer, value=src.crs,
                          hint=Text("检查该图层的坐标系（.prj）", "check the layer's CRS (.prj)"))
    if warnings is not None and not inside.all():
        n = int((~inside).sum())
        warnings.append(Text(f"{src.label}：{n} / {len(parts)} 条线在社区范围之外，未参与划分",
                             f"{src.label}: {n} of {len(parts)} lines lie outside the communities and were not used"))
