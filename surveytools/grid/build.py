"""``grid divide`` and ``grid code`` on a project: read the inputs, run the divider
(:mod:`.divide`) and the coder (:mod:`.coding`), write the layers and the area report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..dates import parse_date
from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Result
from .project_steps import area_report, community_checks, grid_frame, locate_in_communities, write_admin_layers


def divide_project(project, communities, lines=None, target_area=None, min_area=None, max_area=None, workload=None,
                   code_field=None, name_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    """``grid divide``: the communities (checked) cut along the lines into blocks, each divided into
    grids (:func:`_divide_all`), the grids coded, the area report made, all written in one
    transaction."""
    import shapely

    from ..project import Project, read_layer, write_project_layer, write_table
    from .coding import assign_codes, default_row_height, serial_capacity
    from .communities import read_lines, streets_from_communities
    from .divide import clean_coverage

    feedback = feedback or Feedback()
    proj = Project.open(project)
    params = _divide_params(proj, target_area, min_area, max_area)
    init_date = parse_date(date)
    existing = read_layer(proj, "unit_grid", columns=[proj.profile.field("unit_grid", "grid_code")])
    if len(existing) and not overwrite:
        raise SurveyError(Text(f"项目中已有 {len(existing)} 个单元网格；重划请用 grid recode 保持编码稳定，或加 --overwrite 替换",
                               f"the project already holds {len(existing)} unit grids; use grid recode to keep their codes "
                               "stable, or --overwrite to replace them"), code="grids_exist", file=str(proj.path),
                          layer=proj.table("unit_grid"))
    comms, warnings, gaps = _read_communities(proj, communities, code_field, name_field, repair)
    extent = shapely.union_all(np.asarray(comms.geometry.values, dtype=object))
    line_geoms, lsrc = read_lines(lines, proj.crs, extent=extent, warnings=warnings)
    for w in warnings:
        feedback.warning(w)
    feedback.progress(5)
    work_xy = _workload_points(proj, workload)
    feedback.progress(10)
    cap = serial_capacity(proj.profile)
    n = len(comms)
    all_geoms, all_comm, reasons_by_idx, scaled = _divide_all(comms, line_geoms, params, work_xy, cap, feedback)
    scaled_codes = {c for c, _, _ in scaled}
    for code_, name_, t in scaled:
        w = Text(f"社区 {code_} {name_ or ''} 面积较大，{cap} 个顺序码不够，已将该社区的目标面积提高到 {t:.0f} m²",
                 f"community {code_} {name_ or ''} is too large for {cap} serials; its target area was raised to {t:.0f} m²")
        warnings.append(w)
        feedback.warning(w)
    all_geoms = list(clean_coverage(all_geoms))
    names = dict(zip(comms["code"], comms["name"]))
    codes = assign_codes(all_comm, all_geoms, proj.profile, default_row_height(params.target_area), names=names)
    reasons = {codes[i]: r for i, r in reasons_by_idx.items()}
    for i, c in enumerate(all_comm):
        if c in scaled_codes and codes[i] not in reasons:
            reasons[codes[i]] = "serial_capacity"
    areas = shapely.area(np.asarray(all_geoms, dtype=object))
    per, outliers = area_report(codes, all_comm, areas, names, reasons, params)
    comm_area = dict(zip(comms["code"], shapely.area(np.asarray(comms.geometry.values, dtype=object))))
    per.insert(2, "community_area", [round(comm_area[c], 2) for c in per["community"]])
    per["uncovered_area"] = (per["community_area"] - per["area_total"]).round(6)
    grids = grid_frame(proj, codes, all_geoms, date=init_date)
    order = np.argsort(codes)
    grids = grids.iloc[order].reset_index(drop=True)
    streets = streets_from_communities(comms)
    feedback.progress(90)
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", grids)
        write_admin_layers(work, comms, streets)
        write_table(work, "report_grid_areas", per)
        write_table(work, "report_grid_outliers", outliers)
    feedback.progress(100)
    summary = Text(
        f"已为 {n} 个社区划分并编码 {len(codes)} 个单元网格（目标 {params.target_area:g} m²，范围 "
        f"{params.min_area:g}–{params.max_area:g} m²）；面积中位数 {np.median(areas):.0f} m²，"
        f"{len(outliers)} 个网格超出范围（见报告表 report_grid_outliers）。",
        f"Divided {n} communities into {len(codes)} coded unit grids (target {params.target_area:g} m², range "
        f"{params.min_area:g}–{params.max_area:g} m²); median area {np.median(areas):.0f} m², {len(outliers)} grids "
        f"outside the range (see table report_grid_outliers).")
    return Result(summary, data={"grids": int(len(codes)), "communities": int(n), "streets": int(len(streets)),
                                 "lines": int(len(line_geoms)), "line_sources": [s.as_dict() for s in lsrc],
                                 "community_gaps": gaps,
                                 "params": params.__dict__, "area_median": float(np.median(areas)),
                                 "per_community": per.to_dict("records"), "outliers": outliers.to_dict("records")},
                  outputs={"PROJECT": str(proj.path)}, warnings=warnings)


def _divide_params(proj, target_area, min_area, max_area):
    """The division's areas: the arguments, else the profile's ``grid`` defaults (checked)."""
    from .divide import DivideParams

    defaults = proj.profile.defaults.get("grid", {})
    params = DivideParams(target_area=float(target_area or defaults.get("target_area", 10000)),
                          min_area=float(min_area or defaults.get("min_area", 2000)),
                          max_area=float(max_area or defaults.get("max_area", 20000)),
                          sliver_area=float(defaults.get("sliver_tolerance", 1.0)))
    params.check()
    return params


def _read_communities(proj, communities, code_field, name_field, repair):
    """The community polygons at the division's precision, with warnings (another county's codes,
    gaps and slivers, unknown street codes); returns (communities, warnings, gaps)."""
    import shapely

    from ..io import read_vector
    from .communities import prepare_communities
    from .divide import PRECISION

    comm_gdf, csrc = read_vector(communities, to_crs=proj.crs)
    comms, warnings = prepare_communities(comm_gdf, csrc, code_field=code_field, name_field=name_field, repair=repair)
    # the working precision of the division (1 mm); the project stores the communities as divided
    comms["geometry"] = shapely.set_precision(np.asarray(comms.geometry.values, dtype=object), PRECISION)
    county = proj.county
    foreign = comms["code"].str[:6] != county
    if foreign.any():
        warnings.append(Text(f"{int(foreign.sum())} 个社区的县级代码不是项目的 {county}（如 {comms['code'][foreign].iloc[0]}）",
                             f"{int(foreign.sum())} communities are not in the project's county {county} "
                             f"(e.g. {comms['code'][foreign].iloc[0]})"))
    gaps = community_checks(comms, warnings)
    return comms, warnings, gaps


def _workload_points(proj, workload):
    """The workload layer's points (x, y) in the project CRS, or None without one."""
    import shapely

    from ..io import read_vector

    work_xy = None
    if workload:
        wg, _ = read_vector(workload, to_crs=proj.crs)
        pts = shapely.point_on_surface(np.asarray(wg.geometry.values, dtype=object))
        pts = pts[~shapely.is_missing(pts) & ~shapely.is_empty(pts)]
        work_xy = shapely.get_coordinates(pts)
    return work_xy


def _divide_all(comms, line_geoms, params, work_xy, cap, feedback):
    """Every community divided (:func:`.divide.divide_community`) along the lines that cross it, by
    area or workload; a community too large for the serial part of the code gets coarser grids.
    Returns (grid geometries, their community codes, {grid index: outlier reason}, the communities
    whose target area was raised as (code, name, target))."""
    from dataclasses import replace

    import shapely

    from .divide import divide_community

    tree = shapely.STRtree(line_geoms) if len(line_geoms) else None
    all_geoms, all_comm, reasons_by_idx = [], [], {}
    scaled = []
    n = len(comms)
    for i, row in enumerate(comms.itertuples(index=False)):
        geom = row.geometry
        p = params
        if geom.area / params.target_area > 0.8 * cap:
            # the serial part cannot number this many grids: coarser grids for this community only
            f = geom.area / (0.8 * cap * params.target_area)
            p = replace(params, target_area=params.target_area * f, min_area=params.min_area * f,
                        max_area=params.max_area * f)
            scaled.append((row.code, row.name, p.target_area))
        cand = line_geoms[tree.query(geom, predicate="intersects")] if tree is not None else None
        wxy = None
        if work_xy is not None:
            minx, miny, maxx, maxy = geom.bounds
            m = (work_xy[:, 0] >= minx) & (work_xy[:, 0] <= maxx) & (work_xy[:, 1] >= miny) & (work_xy[:, 1] <= maxy)
            wxy = work_xy[m]
        pieces, reasons = divide_community(geom, cand, p, wxy)
        for _ in range(4):  # workload cuts can still exceed the serials: coarser until they fit
            if len(pieces) <= cap:
                break
            f = len(pieces) / (0.9 * cap)
            p = replace(p, target_area=p.target_area * f, min_area=p.min_area * f, max_area=p.max_area * f)
            if not scaled or scaled[-1][0] != row.code:
                scaled.append((row.code, row.name, p.target_area))
            else:
                scaled[-1] = (row.code, row.name, p.target_area)
            pieces, reasons = divide_community(geom, cand, p, wxy)
        base = len(all_geoms)
        for k, r in reasons.items():
            reasons_by_idx[base + k] = r
        all_geoms.extend(pieces)
        all_comm.extend([row.code] * len(pieces))
        feedback.progress(10 + 75 * (i + 1) / n)
    return all_geoms, all_comm, reasons_by_idx, scaled


def code_project(project, keep_existing=False, target_area=None, date=None, feedback=None) -> Result:
    import shapely

    from ..project import Project, read_layer, write_project_layer
    from .coding import assign_codes, default_row_height

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    gf = lambda role: prof.field("unit_grid", role)  # noqa: E731
    grids = read_layer(proj, "unit_grid")
    comms = read_layer(proj, "community")
    if len(grids) == 0:
        raise SurveyError(Text("项目中没有单元网格", "the project holds no unit grids"), code="no_grids", file=str(proj.path),
                          layer=proj.table("unit_grid"))
    if len(comms) == 0:
        raise SurveyError(Text("项目中没有社区边界：先运行 grid divide 或 grid import",
                               "the project holds no community boundaries: run grid divide or grid import first"),
                          code="no_communities", file=str(proj.path), layer=proj.table("community"))
    ccode = prof.field("community", "community_code")
    comm_of = locate_in_communities(grids.geometry.values, comms, ccode, proj, what="unit_grid")
    geoms = np.asarray(grids.geometry.values, dtype=object)
    target = float(target_area or prof.defaults.get("grid", {}).get("target_area", 10000))
    old = grids[gf("grid_code")].astype("string")
    prefix_len = prof.codes["unit_grid"].length - prof.codes["unit_grid"].part_length("serial")
    new_codes = np.empty(len(grids), dtype=object)
    todo = np.ones(len(grids), dtype=bool)
    start = {}
    if keep_existing:
        valid = old.fillna("").str.fullmatch(rf"\d{{{prof.codes['unit_grid'].length}}}").to_numpy(dtype=bool)
        valid &= (old.fillna("").str[:prefix_len].to_numpy(dtype=object) == comm_of)
        valid &= ~old.duplicated(keep="first").to_numpy(dtype=bool) | ~valid
        new_codes[valid] = old[valid].to_numpy(dtype=object)
        todo = ~valid
        kept = pd.Series(new_codes[valid]).astype(str)
        if len(kept):
            start = kept.groupby(kept.str[:prefix_len]).apply(lambda s: int(s.str[prefix_len:].astype(int).max())).to_dict()
    if todo.any():
        new_codes[todo] = assign_codes(comm_of[todo], geoms[todo], prof, default_row_height(target), start=start)
    changed = int((old.fillna("").to_numpy(dtype=object) != new_codes).sum())
    grids[gf("grid_code")] = new_codes
    grids[gf("area")] = np.round(shapely.area(geoms), 2)
    init = grids[gf("init_date")]
    grids[gf("init_date")] = init.where(init.notna(), parse_date(date))
    grids = grids.iloc[np.argsort(new_codes)].reset_index(drop=True)
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", grids)
    summary = Text(f"已为 {len(grids)} 个单元网格编码，{changed} 个编码有变化。",
                   f"Coded {len(grids)} unit grids; {changed} codes changed.")
    return Result(summary, data={"grids": int(len(grids)), "changed": changed}, outputs={"PROJECT": str(proj.path)})
