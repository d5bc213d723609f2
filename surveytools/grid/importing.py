"""``grid import``: a city's existing coded unit grids into a project (codes kept and checked).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..dates import parse_date
from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..issues import GRID_IMPORT
from ..ops import Result

IMPORT_CODE_NAMES = ["BGID", "DYWGBSM", "单元网格标识码", "网格编码", "网格代码", "gridCode", "GRIDCODE", "code", "CODE"]


def import_project(project, source, code_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    """``grid import``: read the coded grids (:func:`_read_grids`), check their polygons, codes and
    communities into the import report (:func:`_check_polygons`, :func:`_check_codes`,
    :func:`_check_communities`; communities are built from the codes when the project has none),
    then write the grids, the report and any built communities in one transaction."""
    from ..project import Project, read_layer, write_project_layer, write_table
    from .communities import streets_from_communities

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    gf = lambda role: prof.field("unit_grid", role)  # noqa: E731
    existing = read_layer(proj, "unit_grid", columns=[gf("grid_code")])
    if len(existing) and not overwrite:
        raise SurveyError(Text(f"项目中已有 {len(existing)} 个单元网格；加 --overwrite 替换",
                               f"the project already holds {len(existing)} unit grids; pass --overwrite to replace them"),
                          code="grids_exist", file=str(proj.path), layer=proj.table("unit_grid"))
    gdf, src, cf, codes, geoms = _read_grids(proj, source, code_field)
    rep = _Report(gdf, codes)
    geoms = _check_polygons(geoms, gdf, src, cf, codes, repair, rep)
    _check_codes(proj, codes, rep)
    comms_new = _check_communities(proj, geoms, codes, rep)
    built = comms_new is not None
    out = _grid_layer(proj, gdf, codes, geoms, date)
    rows = rep.rows
    rep = pd.DataFrame(rows, columns=list(GRID_IMPORT.columns))  # the one issue row (surveytools.issues)
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", out)
        if built:
            from .project_steps import write_admin_layers
            write_admin_layers(work, comms_new, streets_from_communities(comms_new))
        write_table(work, "report_grid_import", rep)
    n_err = int((rep["severity"] == "error").sum()) if len(rep) else 0
    bad = rep.loc[rep["severity"] == "error", "feature"].nunique() if len(rep) else 0
    summary = Text(f"已导入 {len(out)} 个单元网格（编码字段 {cf}，保留原编码）；{bad} 个网格有 {n_err} 个问题"
                   f"{'；已由编码生成社区边界' if built else ''}（见报告表 report_grid_import）。",
                   f"Imported {len(out)} unit grids (code field {cf}, codes kept); {bad} grids have {n_err} problems"
                   f"{'; community boundaries were built from the codes' if built else ''} (see table report_grid_import).")
    return Result(summary, data={"grids": int(len(out)), "code_field": cf, "source": src.as_dict(),
                                 "problems": rep.to_dict("records"), "communities_built": built},
                  outputs={"PROJECT": str(proj.path)})


class _Report:
    """The import report's rows (:data:`surveytools.issues.GRID_IMPORT`): the source feature and
    its code with each problem."""

    def __init__(self, gdf, codes):
        self.gdf, self.codes, self.rows = gdf, codes, []

    def __call__(self, i, reason, severity, zh, en):
        gdf, codes = self.gdf, self.codes
        self.rows.append({"feature": int(gdf.index[i]) if gdf.index.dtype.kind in "iu" else str(gdf.index[i]),
                          "code": None if pd.isna(codes.iloc[i]) else str(codes.iloc[i]), "severity": severity,
                          "reason": reason, "message_zh": zh, "message_en": en})


def _read_grids(proj, source, code_field):
    """The grid layer in the project CRS, its code field (the profile's code length, else the other
    edition's 14/15 digits) and codes, and its polygons; an empty layer, no code of the right
    length, or a feature without a polygon is an error naming it."""
    import shapely

    from ..io import read_vector
    from .communities import _fid, clean_codes, detect_field

    prof = proj.profile
    gdf, src = read_vector(source, to_crs=proj.crs)
    if len(gdf) == 0:
        raise SurveyError(Text("网格图层为空", "the grid layer is empty"), code="empty", file=src.path, layer=src.layer)
    length = prof.codes["unit_grid"].length
    try:
        cf = detect_field(gdf, length, code_field, IMPORT_CODE_NAMES, Text("网格编码", "grid code"), src.label)
    except SurveyError as first:
        other = 29 - length  # a 14-digit source in a 15-digit profile or the other way round
        try:
            cf = detect_field(gdf, other, code_field, IMPORT_CODE_NAMES, Text("网格编码", "grid code"), src.label)
        except SurveyError:
            raise first from None
    codes = clean_codes(gdf[cf])
    if not codes.fillna("").str.fullmatch(rf"\d{{{length}}}").any():
        sample = codes.dropna().iloc[0] if codes.notna().any() else None
        raise SurveyError(Text(f"字段 {cf} 中没有一个 {length} 位的单元网格编码（标准配置 {prof.id} 的编码为 {length} 位）",
                               f"field {cf} holds no {length}-digit unit grid code (profile {prof.id} uses {length} digits)"),
                          code="code_length", file=src.path, layer=src.layer, field=cf, value=sample,
                          hint=Text("换用编码位数相符的标准配置创建项目，或先转换编码",
                                    "create the project with a profile of this code length, or convert the codes first"))
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    nopoly = shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~np.isin(shapely.get_type_id(geoms), (3, 6))
    if nopoly.any():
        i = int(np.flatnonzero(nopoly)[0])
        raise SurveyError(Text(f"{int(nopoly.sum())} 个要素没有面几何，单元网格必须是面",
                               f"{int(nopoly.sum())} features have no polygon geometry; unit grids must be polygons"),
                          code="geometry_type", file=src.path, layer=src.layer, feature=_fid(gdf, i), field=cf,
                          value=codes.iloc[i])
    return gdf, src, cf, codes, geoms


def _check_polygons(geoms, gdf, src, cf, codes, repair, report):
    """Invalid polygons: an error naming the first, or (``repair``) repaired and reported."""
    import shapely

    from .communities import _fid

    valid = shapely.is_valid(geoms)
    if not repair and not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise SurveyError(Text(f"{int((~valid).sum())} 个网格面无效（如 {shapely.is_valid_reason(geoms[i])}），未导入任何网格",
                               f"{int((~valid).sum())} grid polygons are invalid (e.g. {shapely.is_valid_reason(geoms[i])}); "
                               "nothing was imported"),
                          code="invalid_geometry", file=src.path, layer=src.layer, feature=_fid(gdf, i), field=cf,
                          value=codes.iloc[i],
                          hint=Text("修复后重试，或加 --repair 由程序修复（make_valid）", "fix them, or pass --repair to repair them (make_valid)"))
    for i in np.flatnonzero(~valid):
        report(i, "invalid_geometry", "error" if not repair else "warning",
               f"网格面无效：{shapely.is_valid_reason(geoms[i])}" + ("，已修复" if repair else ""),
               f"invalid polygon: {shapely.is_valid_reason(geoms[i])}" + (", repaired" if repair else ""))
    if repair and (~valid).any():
        geoms = geoms.copy()
        geoms[~valid] = shapely.make_valid(geoms[~valid])
    return geoms


def _check_codes(proj, codes, report) -> None:
    """The codes against the profile (:func:`surveytools.codes.check_codes`) and duplicates."""
    from ..codes import check_codes

    prof = proj.profile
    issues = check_codes("unit_grid", codes.reset_index(drop=True), prof, county=proj.county)
    pos = {lab: i for i, lab in enumerate(range(len(codes)))}
    for r in issues.itertuples(index=False):
        report(pos[r.index], r.reason, r.severity, r.message_zh, r.message_en)
    dup = codes.duplicated(keep=False) & codes.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        report(i, "duplicate", "error", f"编码 {codes.iloc[i]} 重复", f"code {codes.iloc[i]} is used more than once")


def _check_communities(proj, geoms, codes, report):
    """Each grid in the community holding its interior point: outside every community, a code
    prefix other than that community's, or a part beyond it are reported.  Without communities in
    the project they are built from the codes: returns them (else None)."""
    import geopandas as gpd
    import shapely

    from ..project import read_layer

    prof = proj.profile
    length = prof.codes["unit_grid"].length
    prefix_len = length - prof.codes["unit_grid"].part_length("serial")
    comms = read_layer(proj, "community")
    ccode = prof.field("community", "community_code")
    if len(comms):
        cg = np.asarray(comms.geometry.values, dtype=object)
        pts = shapely.point_on_surface(geoms)
        tree = shapely.STRtree(cg)
        gi, ci = tree.query(pts, predicate="within")
        where = np.full(len(geoms), None, dtype=object)
        where[gi] = comms[ccode].to_numpy(dtype=object)[ci]
        ctext = codes.to_numpy(dtype=object)
        prefix = np.array([c[:prefix_len] if isinstance(c, str) else None for c in ctext], dtype=object)
        outside_all = np.array([w is None for w in where], dtype=bool)
        mismatch = ~outside_all & np.array([isinstance(c, str) for c in ctext], dtype=bool) & (prefix != where)
        for i in np.flatnonzero(outside_all | mismatch):
            if outside_all[i]:
                report(i, "outside_community", "error", "网格不在任何社区内", "the grid lies outside every community")
            else:
                report(i, "community_mismatch", "error", f"编码前缀 {prefix[i]} 与所在社区 {where[i]} 不一致",
                       f"code prefix {prefix[i]} differs from the community it lies in ({where[i]})")
        own = np.full(len(geoms), None, dtype=object)
        own[gi] = cg[ci]
        has = np.array([o is not None for o in own])
        if has.any():
            outside = shapely.area(shapely.difference(geoms[has], np.asarray(own[has], dtype=object)))
            for k, i in enumerate(np.flatnonzero(has)):
                if outside[k] > 1.0:
                    report(i, "crosses_community", "error", f"网格越出所在社区 {outside[k]:.1f} m²",
                           f"the grid extends {outside[k]:.1f} m² beyond its community")
        return None
    ok = codes.fillna("").str.fullmatch(rf"\d{{{length}}}").to_numpy(dtype=bool)
    c = gpd.GeoDataFrame({"code": codes[ok].str[:prefix_len].to_numpy()}, geometry=list(geoms[ok]), crs=proj.crs)
    c = c.dissolve("code").reset_index()
    c["name"] = None
    c["street_code"] = c["code"].str[:9]
    return c


def _grid_layer(proj, gdf, codes, geoms, date):
    """The unit-grid layer: codes, areas, the source's dates, name and note (missing initial
    dates: ``date``, else today)."""
    import geopandas as gpd
    import shapely

    gf = lambda role: proj.profile.field("unit_grid", role)  # noqa: E731
    out = gpd.GeoDataFrame({gf("grid_code"): codes.to_numpy(dtype=object),
                            gf("area"): np.round(shapely.area(geoms), 2)}, geometry=list(geoms), crs=proj.crs)
    for role in ("init_date", "end_date", "name", "note"):
        f = gf(role)
        if f and f in gdf.columns:
            out[f] = gdf[f].to_numpy()
    init = out[gf("init_date")] if gf("init_date") in out.columns else pd.Series([None] * len(out))
    out[gf("init_date")] = pd.Series(init).where(pd.Series(init).notna(), parse_date(date)).to_numpy()
    return out
