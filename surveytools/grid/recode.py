"""Keep unit-grid codes stable when grids are redrawn (相对稳定原则).

Old (coded) and redrawn grids are matched by overlap.  A pair counts when the overlap is at least
``min_share`` of the old grid or of the new one (smaller overlaps are boundary noise).  Then:

=========  ==================================================================================
kept       one old grid ↔ one new grid, intersection over union ≥ ``keep_iou``: keeps its code
reshaped   one old ↔ one new in the same community with a lower IoU: keeps its code (the same
           grid with a moved boundary)
split      the new grid comes from an old grid that now forms several new grids: new serial
merged     the new grid covers several old grids: new serial
new        the new grid overlaps no old grid: new serial
retired    an old grid whose code no new grid keeps: gets its 终止日期 and moves to the history
           layer; its code is never reused
=========  ==================================================================================

New serials continue after the highest serial ever used in the community, retired ones included.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..dates import parse_date
from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Result
from .project_steps import locate_in_communities

CHANGE_TEXT = {
    "kept": ("保持", "kept"), "reshaped": ("调整边界", "reshaped"), "split": ("拆分", "split"),
    "merged": ("合并", "merged"), "new": ("新增", "new"), "retired": ("终止", "retired"),
}


def match(old_geoms, old_codes, new_geoms, *, min_share=0.05, keep_iou=0.95):
    """Classify the redrawn grids against the old ones.

    Returns (new_change, new_code_kept, new_sources, iou, retired_mask):
    ``new_change`` per new grid, ``new_code_kept`` (old code or None), ``new_sources`` (list of
    old codes overlapping each new grid), ``iou`` of the kept/reshaped pair, ``retired_mask`` over
    the old grids.
    """
    import shapely

    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    old_codes = np.asarray(old_codes, dtype=object)
    n_new, n_old = len(new_geoms), len(old_geoms)
    change = np.array(["new"] * n_new, dtype=object)
    kept_code = np.full(n_new, None, dtype=object)
    sources = [[] for _ in range(n_new)]
    iou_out = np.full(n_new, np.nan)
    if n_old == 0 or n_new == 0:
        return change, kept_code, sources, iou_out, np.ones(n_old, dtype=bool)
    tree = shapely.STRtree(old_geoms)
    ni, oi = tree.query(new_geoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(new_geoms[ni], old_geoms[oi]))
    a_new = shapely.area(new_geoms)[ni]
    a_old = shapely.area(old_geoms)[oi]
    sig = (inter >= min_share * a_old) | (inter >= min_share * a_new)
    pairs = pd.DataFrame({"n": ni[sig], "o": oi[sig], "inter": inter[sig], "a_new": a_new[sig], "a_old": a_old[sig]})
    deg_new = pairs.groupby("n").size()
    deg_old = pairs.groupby("o").size()
    pairs["dn"] = pairs["n"].map(deg_new)
    pairs["do"] = pairs["o"].map(deg_old)
    pairs["iou"] = pairs["inter"] / (pairs["a_new"] + pairs["a_old"] - pairs["inter"])
    for n, grp in pairs.groupby("n"):
        sources[n] = sorted(old_codes[grp["o"]].tolist())
    one = pairs[(pairs["dn"] == 1) & (pairs["do"] == 1)]
    kept = one[one["iou"] >= keep_iou]
    reshaped = one[one["iou"] < keep_iou]
    change[kept["n"].to_numpy()] = "kept"
    change[reshaped["n"].to_numpy()] = "reshaped"
    kept_code[one["n"].to_numpy()] = old_codes[one["o"].to_numpy()]
    iou_out[one["n"].to_numpy()] = one["iou"].to_numpy()
    rest = pairs[~pairs["n"].isin(one["n"])]
    for n, grp in rest.groupby("n"):
        # merged: the new grid holds the bulk (≥ half) of two or more old grids
        bulk = (grp["inter"] >= 0.5 * grp["a_old"]).sum()
        change[n] = "merged" if bulk >= 2 or (len(grp) >= 2 and (grp["do"] == 1).all()) else "split"
    retired = np.ones(n_old, dtype=bool)
    if len(one):
        retired[one["o"].to_numpy()] = False
    return change, kept_code, sources, iou_out, retired


def plausibility(old_geoms, new_geoms, retired, *, sliver: float = 1.0) -> dict:
    """How much a redrawing changes, measured before anything is written.

    ``coverage``: the share of the old grids' extent the redrawn grids cover; ``gap_area`` and
    ``gaps``: the parts of the old extent no redrawn grid covers (parts of at most ``sliver`` m²
    are boundary noise); ``overlap_area`` and ``overlaps``: area shared by two redrawn grids
    (pairs sharing at most ``sliver`` m² ignored); ``retired_share``: the share of old grids
    retired.  Whole arrays throughout (STRtree for the pairs).
    """
    import shapely

    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    old_union = shapely.union_all(old_geoms)
    new_union = shapely.union_all(new_geoms) if len(new_geoms) else shapely.Polygon()
    old_area = float(old_union.area) or 1.0
    gaps = shapely.get_parts(shapely.difference(old_union, new_union))
    gaps = gaps[shapely.area(gaps) > sliver]
    tree = shapely.STRtree(new_geoms)
    a, b = tree.query(new_geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inter = shapely.area(shapely.intersection(new_geoms[a], new_geoms[b])) if len(a) else np.array([])
    big = inter > sliver
    return {"coverage": float(shapely.area(shapely.intersection(old_union, new_union)) / old_area),
            "gap_area": float(shapely.area(gaps).sum()) if len(gaps) else 0.0, "gaps": int(len(gaps)),
            "gap_example": gaps[int(np.argmax(shapely.area(gaps)))] if len(gaps) else None,
            "overlap_area": float(inter[big].sum()), "overlaps": int(big.sum()),
            "overlap_pair": (int(a[big][0]), int(b[big][0])) if big.any() else None,
            "retired_share": float(np.mean(retired)) if len(retired) else 0.0,
            "retired": int(np.sum(retired)), "old": int(len(old_geoms))}


# ----------------------------------------------------------------------------------------------
# the operation on a project

def recode_project(project, redrawn, date=None, keep_iou=0.95, min_share=0.05, force=False, feedback=None) -> Result:
    """``grid recode``: read the redrawn grids (:func:`_read_redrawn`), match them to the old ones
    (:func:`match`) and check the redrawing (:func:`_check_redrawing`), decide the codes kept and
    retired (:func:`_kept_codes`), number the rest (:func:`_new_codes`), then write grids, history,
    report and change layer and re-locate the components in one transaction."""
    import geopandas as gpd
    import shapely

    from ..locate import relocate_components
    from ..project import Project, read_layer, write_project_layer, write_table

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    gf = lambda role: prof.field("unit_grid", role)  # noqa: E731
    day = parse_date(date)
    old = read_layer(proj, "unit_grid")
    hist = read_layer(proj, "unit_grid_history")
    comms = read_layer(proj, "community")
    if len(old) == 0:
        raise SurveyError(Text("项目中没有已编码的单元网格，无需重编码；请用 grid divide 或 grid import",
                               "the project has no coded grids to keep; use grid divide or grid import"),
                          code="no_grids", file=str(proj.path), layer=proj.table("unit_grid"))
    new_geoms, src = _read_redrawn(proj, redrawn)
    feedback.progress(10)
    old_codes = old[gf("grid_code")].astype(str).to_numpy(dtype=object)
    change, kept_code, sources, iou, retired = match(old.geometry.values, old_codes, new_geoms,
                                                     min_share=min_share, keep_iou=keep_iou)
    warnings = _check_redrawing(proj, src, old.geometry.values, new_geoms, retired, force)
    for w in warnings:
        feedback.warning(w)
    kept_code, comm_of, retired_codes = _kept_codes(proj, comms, src, new_geoms, change, kept_code, old_codes, retired)
    ret_mask = old[gf("grid_code")].astype(str).isin(retired_codes).to_numpy()
    feedback.progress(40)
    codes = _new_codes(proj, old_codes, hist, kept_code, comm_of, new_geoms)
    out = gpd.GeoDataFrame({gf("grid_code"): codes, gf("area"): np.round(shapely.area(new_geoms), 2)},
                           geometry=list(new_geoms), crs=proj.crs)
    old_by_code = old.set_index(old[gf("grid_code")].astype(str))
    init = [old_by_code.loc[k, gf("init_date")] if k is not None and ch == "kept" else day
            for k, ch in zip(kept_code, change)]
    out[gf("init_date")] = init
    out[gf("note")] = [None if ch == "kept" else f"{CHANGE_TEXT[ch][0]} {day.isoformat()}" for ch in change]
    retired_rows = old[ret_mask].copy()
    retired_rows[gf("end_date")] = day
    history = pd.concat([hist, retired_rows], ignore_index=True) if len(hist) else retired_rows
    rep = pd.DataFrame({"code": codes, "change": change,
                        "change_zh": [CHANGE_TEXT[c][0] for c in change],
                        "old_codes": [",".join(s) for s in sources], "iou": np.round(iou, 4)})
    rep_ret = pd.DataFrame({"code": retired_rows[gf("grid_code")].astype(str).to_numpy(), "change": "retired",
                            "change_zh": CHANGE_TEXT["retired"][0], "old_codes": retired_rows[gf("grid_code")].astype(str).to_numpy(),
                            "iou": np.nan})
    report = pd.concat([rep, rep_ret], ignore_index=True)
    change_layer = gpd.GeoDataFrame(report.copy(), geometry=list(new_geoms) + list(retired_rows.geometry.values),
                                    crs=proj.crs)
    feedback.progress(60)
    out = out.iloc[np.argsort(codes.astype(str))].reset_index(drop=True)
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", out)
        write_project_layer(work, "unit_grid_history", history)
        write_table(work, "report_grid_changes", report)
        _write_change_layer(work, change_layer)
        relocated = relocate_components(work, out)
    feedback.progress(100)
    counts = report["change"].value_counts().to_dict()
    c = lambda k: int(counts.get(k, 0))  # noqa: E731
    moved_n = sum(v["changed"] for v in relocated.values())
    summary = Text(f"重划完成：保持 {c('kept')}，调整边界 {c('reshaped')}，拆分 {c('split')}，合并 {c('merged')}，新增 {c('new')}，"
                   f"终止 {c('retired')}；{moved_n} 个部件的所在网格已更新（见 report_grid_changes 表和 grid_changes 图层）。",
                   f"Recoded: kept {c('kept')}, reshaped {c('reshaped')}, split {c('split')}, merged {c('merged')}, new {c('new')}, "
                   f"retired {c('retired')}; {moved_n} components moved to another grid (see table report_grid_changes "
                   "and layer grid_changes).")
    return Result(summary, data={"changes": {k: c(k) for k in CHANGE_TEXT}, "components": relocated,
                                 "report": report.to_dict("records")}, outputs={"PROJECT": str(proj.path)},
                  warnings=warnings)


def _read_redrawn(proj, redrawn):
    """The redrawn grids' polygons in the project CRS; an empty layer, a feature without a polygon
    or an invalid polygon is an error naming it."""
    import shapely

    from ..io import read_vector

    new, src = read_vector(redrawn, to_crs=proj.crs)
    if len(new) == 0:
        raise SurveyError(Text("重划的网格图层为空：没有可替换原网格的网格", "the redrawn grid layer is empty: nothing could "
                               "replace the old grids"), code="empty", file=src.path, layer=src.layer)
    new_geoms = np.asarray(new.geometry.values, dtype=object)
    nopoly = shapely.is_missing(new_geoms) | shapely.is_empty(new_geoms) | \
        ~np.isin(shapely.get_type_id(new_geoms), (3, 6))
    if nopoly.any():
        i = int(np.flatnonzero(nopoly)[0])
        raise SurveyError(Text(f"重划的网格中有 {int(nopoly.sum())} 个要素没有面几何",
                               f"{int(nopoly.sum())} redrawn features have no polygon geometry"),
                          code="geometry_type", file=src.path, layer=src.layer, feature=i,
                          value=None if new_geoms[i] is None else new_geoms[i].geom_type)
    bad = ~shapely.is_valid(new_geoms)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SurveyError(Text(f"重划的网格中有 {int(bad.sum())} 个无效面（{shapely.is_valid_reason(new_geoms[i])}）",
                               f"{int(bad.sum())} redrawn grids are invalid ({shapely.is_valid_reason(new_geoms[i])})"),
                          code="invalid_geometry", file=src.path, layer=src.layer, feature=i)
    return new_geoms, src


def _kept_codes(proj, comms, src, new_geoms, change, kept_code, old_codes, retired):
    """The community of each redrawn grid (where it lies, else its kept code's prefix); a kept code
    that no longer names the grid's community is retired and the grid is new (``change`` and
    ``kept_code`` in place).  Returns (kept codes, communities, retired codes)."""
    prof = proj.profile
    comm_of = locate_in_communities(new_geoms, comms, prof.field("community", "community_code"), proj, "unit_grid",
                                    source=src) if len(comms) else None
    prefix_len = prof.codes["unit_grid"].length - prof.codes["unit_grid"].part_length("serial")
    if comm_of is None:
        comm_of = np.array([c[:prefix_len] if c else None for c in kept_code], dtype=object)
    # a kept/reshaped code must still name the grid's community
    moved = np.array([c is not None and c[:prefix_len] != k for c, k in zip(kept_code, comm_of)])
    change[moved] = "new"
    retired_codes = set(old_codes[retired]) | {c for c, m in zip(kept_code, moved) if m}
    kept_code[moved] = None
    return kept_code, comm_of, retired_codes


def _new_codes(proj, old_codes, hist, kept_code, comm_of, new_geoms):
    """Kept codes, and new serials for the rest after the highest ever used per community
    (retired ones included: a code is never reused)."""
    from .coding import assign_codes, default_row_height

    prof = proj.profile
    gf = lambda role: prof.field("unit_grid", role)  # noqa: E731
    prefix_len = prof.codes["unit_grid"].length - prof.codes["unit_grid"].part_length("serial")
    used = pd.Series(list(old_codes) + list(hist[gf("grid_code")].astype(str)) if len(hist) else list(old_codes), dtype=object)
    start = used.groupby(used.str[:prefix_len]).apply(lambda s: int(s.str[prefix_len:].astype(int).max())).to_dict()
    todo = pd.isna(pd.Series(kept_code, dtype=object)).to_numpy()
    codes = kept_code.copy()
    if todo.any():
        target = float(prof.defaults.get("grid", {}).get("target_area", 10000))
        codes[todo] = assign_codes(comm_of[todo], new_geoms[todo], prof, default_row_height(target), start=start)
    return codes


def _check_redrawing(proj, src, old_geoms, new_geoms, retired, force: bool) -> list:
    """Refuse a redrawing that leaves gaps in the old extent, overlaps itself or retires more than
    the profile's ``grid.recode_max_retired_share`` of the codes, unless ``force``: then the same
    findings are returned as warnings."""

    d = proj.profile.defaults.get("grid", {})
    sliver = float(d.get("sliver_tolerance", 1.0))
    max_share = float(d.get("recode_max_retired_share", 0.25))
    m = plausibility(old_geoms, new_geoms, retired, sliver=sliver)
    found = []
    if m["gaps"]:
        x, y = m["gap_example"].representative_point().coords[0]
        found.append(Text(f"重划的网格在原网格范围内留下 {m['gaps']} 处缝隙，共 {m['gap_area']:.1f} m²（覆盖 {m['coverage']:.2%}；"
                          f"如 X={x:.1f}, Y={y:.1f} 附近）",
                          f"the redrawn grids leave {m['gaps']} gaps in the old grids' extent, {m['gap_area']:.1f} m² in all "
                          f"(coverage {m['coverage']:.2%}; e.g. near X={x:.1f}, Y={y:.1f})"))
    if m["overlaps"]:
        i, j = m["overlap_pair"]
        found.append(Text(f"重划的网格之间有 {m['overlaps']} 处重叠，共 {m['overlap_area']:.1f} m²（如要素 {i} 与 {j}）",
                          f"the redrawn grids overlap in {m['overlaps']} places, {m['overlap_area']:.1f} m² in all "
                          f"(e.g. features {i} and {j})"))
    if m["retired_share"] > max_share:
        found.append(Text(f"将终止 {m['retired']} / {m['old']} 个网格编码（{m['retired_share']:.0%}），超过允许的 {max_share:.0%}",
                          f"{m['retired']} of {m['old']} grid codes would be retired ({m['retired_share']:.0%}), more "
                          f"than the {max_share:.0%} allowed"))
    if found and not force:
        raise SurveyError(Text("重划的网格不可信，未做任何修改：" + "；".join(t.zh for t in found),
                               "the redrawn grids are implausible; nothing was changed: " + "; ".join(t.en for t in found)),
                          code="implausible_redrawing", file=src.path, layer=src.layer,
                          hint=Text("检查重划图层是否完整、是否用错了坐标系；确属有意时加 --force",
                                    "check that the redrawn layer is complete and in the right CRS; if it is intended, "
                                    "pass --force"))
    return found


def _write_change_layer(work, gdf) -> None:
    import pyarrow as pa
    import shapely

    from ..gpkg import write_layer

    cols = {c: pa.array([None if (isinstance(v, float) and v != v) else v for v in gdf[c].tolist()],
                        pa.float64() if c == "iou" else pa.string()) for c in gdf.columns if c != "geometry"}
    cols["geom"] = pa.array(shapely.to_wkb(np.asarray(gdf.geometry.values, dtype=object)), pa.binary())
    write_layer(work.path, "grid_changes", pa.table(cols), geometry_type="polygon", crs=work.crs,
                description="单元网格变更 / unit grid changes")
