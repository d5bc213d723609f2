"""``surveytools grid …`` operations (and the matching Processing algorithms)."""
from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Param, Result, group, operation

group("grid", Text("单元网格：划分、编码、导入、重划后保持编码稳定、聚合为工作网格和责任网格",
                   "Unit grids: divide, code, import, keep codes stable when redrawn, aggregate into work and "
                   "responsibility grids"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")


def _today(date) -> _dt.date:
    if not date:
        return _dt.date.today()
    try:
        return _dt.date.fromisoformat(str(date))
    except ValueError:
        raise SurveyError(Text("日期应为 YYYY-MM-DD", "the date must be YYYY-MM-DD"), code="bad_date", field="date",
                          value=date) from None


def grid_frame(project, codes, geoms, *, date, community_codes=None):
    """A GeoDataFrame with the profile's unit-grid fields filled."""
    import geopandas as gpd
    import shapely

    prof = project.profile
    f = lambda role: prof.field("unit_grid", role)  # noqa: E731
    df = pd.DataFrame({f("grid_code"): codes, f("area"): np.round(shapely.area(np.asarray(geoms, dtype=object)), 2),
                       f("init_date"): pd.Series([date] * len(codes), dtype="object")})
    gdf = gpd.GeoDataFrame(df, geometry=list(geoms), crs=project.crs)
    return gdf


def write_admin_layers(work, comms, streets) -> None:
    """Store the community and street boundaries in the project (profile field names)."""
    from ..project import write_project_layer

    prof = work.profile
    cf = lambda role: prof.field("community", role)  # noqa: E731
    c = comms.rename(columns={"code": cf("community_code"), "name": cf("community_name"),
                              "street_code": cf("street_code")})
    sname = dict(zip(streets["street_code"], streets["street_name"]))
    c[cf("street_name")] = [sname.get(s) for s in comms["street_code"]]
    write_project_layer(work, "community", c)
    sf = lambda role: prof.field("street", role)  # noqa: E731
    s = streets.rename(columns={"street_code": sf("street_code"), "street_name": sf("street_name")})
    write_project_layer(work, "street", s)


def area_report(codes, comm_codes, areas, names, reasons, params) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .divide import REASONS

    df = pd.DataFrame({"code": codes, "community": comm_codes, "area": areas})
    per = df.groupby("community").agg(grids=("code", "size"), area_total=("area", "sum"), area_min=("area", "min"),
                                     area_median=("area", "median"), area_mean=("area", "mean"),
                                     area_max=("area", "max"),
                                     below_min=("area", lambda a: int((a < params.min_area).sum())),
                                     above_max=("area", lambda a: int((a > params.max_area).sum())))
    per = per.reset_index()
    per.insert(1, "community_name", [names.get(c) for c in per["community"]])
    out = df[(df["area"] < params.min_area) | (df["area"] > params.max_area)].copy()
    rk = [reasons.get(c) or ("below_min" if a < params.min_area else "above_max") for c, a in zip(out["code"], out["area"])]
    generic = {"below_min": ("小于最小面积", "below the minimum area"), "above_max": ("大于最大面积", "above the maximum area")}
    out["reason"] = rk
    out["reason_zh"] = [REASONS.get(r, generic.get(r, (r, r)))[0] for r in rk]
    out["reason_en"] = [REASONS.get(r, generic.get(r, (r, r)))[1] for r in rk]
    return per.round(2), out.round(2)


@operation("grid", "divide",
           help=Text("按社区边界和道路、河流、铁路、围墙等线状地物划分单元网格草图，过大的块按面积（或工作量）均衡切分，"
                     "过小的块并入同社区相邻块；随后编码并写入项目库，附面积分布报告。",
                     "Divide communities into a draft of unit grids along roads, rivers, railways and walls; blocks "
                     "that are too big are cut into balanced pieces (by area or workload), pieces too small merge "
                     "with a neighbour in the same community; then code them and write them to the project, with an "
                     "area report."),
           params=[
               P_PROJECT,
               Param("communities", "layer_in", Text("社区面图层（含 12 位社区代码）", "Community polygons (with 12-digit codes)"),
                     required=True),
               Param("lines", "layer_in", Text("线状地物图层（道路中心线、河流、铁路、围墙…），可多次给出",
                                              "Linear features (road centre lines, rivers, railways, walls …); repeatable"),
                     multiple=True),
               Param("target_area", "float", Text("目标网格面积（m²）", "Target grid area (m²)")),
               Param("min_area", "float", Text("最小网格面积（m²）", "Minimum grid area (m²)")),
               Param("max_area", "float", Text("最大网格面积（m²）", "Maximum grid area (m²)")),
               Param("workload", "layer_in", Text("工作量图层（部件或建筑），用于负载均衡", "Workload layer (components or buildings) to balance load")),
               Param("code_field", "string", Text("社区代码字段（默认自动识别）", "Community code field (detected by default)")),
               Param("name_field", "string", Text("社区名称字段（默认自动识别）", "Community name field (detected by default)")),
               Param("date", "string", Text("初始日期 YYYY-MM-DD（默认今天）", "Initial date YYYY-MM-DD (default today)")),
               Param("repair", "bool", Text("修复无效的社区面（否则报错）", "Repair invalid community polygons (otherwise an error)"), default=False),
               Param("overwrite", "bool", Text("替换项目中已有的单元网格", "Replace unit grids already in the project"), default=False),
           ])
def divide(project, communities, lines=None, target_area=None, min_area=None, max_area=None, workload=None,
           code_field=None, name_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    import shapely

    from ..io import read_vector
    from ..project import Project, read_layer, write_project_layer, write_table
    from .coding import assign_codes, default_row_height
    from .communities import prepare_communities, read_lines, streets_from_communities
    from .divide import DivideParams, divide_community

    feedback = feedback or Feedback()
    proj = Project.open(project)
    defaults = proj.profile.defaults.get("grid", {})
    params = DivideParams(target_area=float(target_area or defaults.get("target_area", 10000)),
                          min_area=float(min_area or defaults.get("min_area", 2000)),
                          max_area=float(max_area or defaults.get("max_area", 20000)),
                          sliver_area=float(defaults.get("sliver_tolerance", 1.0)))
    params.check()
    init_date = _today(date)
    existing = read_layer(proj, "unit_grid", columns=[proj.profile.field("unit_grid", "grid_code")])
    if len(existing) and not overwrite:
        raise SurveyError(Text(f"项目中已有 {len(existing)} 个单元网格；重划请用 grid recode 保持编码稳定，或加 --overwrite 替换",
                               f"the project already holds {len(existing)} unit grids; use grid recode to keep their codes "
                               "stable, or --overwrite to replace them"), code="grids_exist", file=str(proj.path),
                          layer=proj.table("unit_grid"))
    comm_gdf, csrc = read_vector(communities, to_crs=proj.crs)
    comms, warnings = prepare_communities(comm_gdf, csrc, code_field=code_field, name_field=name_field, repair=repair)
    county = proj.county
    foreign = comms["code"].str[:6] != county
    if foreign.any():
        warnings.append(Text(f"{int(foreign.sum())} 个社区的县级代码不是项目的 {county}（如 {comms['code'][foreign].iloc[0]}）",
                             f"{int(foreign.sum())} communities are not in the project's county {county} "
                             f"(e.g. {comms['code'][foreign].iloc[0]})"))
    for w in warnings:
        feedback.warning(w)
    feedback.progress(5)
    line_geoms, lsrc = read_lines(lines, proj.crs)
    tree = shapely.STRtree(line_geoms) if len(line_geoms) else None
    work_xy = None
    if workload:
        wg, _ = read_vector(workload, to_crs=proj.crs)
        pts = shapely.point_on_surface(np.asarray(wg.geometry.values, dtype=object))
        pts = pts[~shapely.is_missing(pts) & ~shapely.is_empty(pts)]
        work_xy = shapely.get_coordinates(pts)
    feedback.progress(10)
    from dataclasses import replace

    from .coding import serial_capacity

    cap = serial_capacity(proj.profile)
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
        base = len(all_geoms)
        for k, r in reasons.items():
            reasons_by_idx[base + k] = r
        all_geoms.extend(pieces)
        all_comm.extend([row.code] * len(pieces))
        feedback.progress(10 + 75 * (i + 1) / n)
    scaled_codes = {c for c, _, _ in scaled}
    for code_, name_, t in scaled:
        w = Text(f"社区 {code_} {name_ or ''} 面积较大，{cap} 个顺序码不够，已将该社区的目标面积提高到 {t:.0f} m²",
                 f"community {code_} {name_ or ''} is too large for {cap} serials; its target area was raised to {t:.0f} m²")
        warnings.append(w)
        feedback.warning(w)
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
                                 "params": params.__dict__, "area_median": float(np.median(areas)),
                                 "per_community": per.to_dict("records"), "outliers": outliers.to_dict("records")},
                  outputs={"PROJECT": str(proj.path)}, warnings=warnings)


@operation("grid", "code",
           help=Text("为项目中的单元网格编码：按所在社区，从北到南分行、每行从西到东编顺序码，并填写面积和初始日期。"
                     "规划人员编辑草图后运行。",
                     "Code the project's unit grids: serials per community in rows from north to south, west to east "
                     "within a row; fill area and initial date. Run it after editing the draft."),
           params=[
               P_PROJECT,
               Param("keep_existing", "bool", Text("保留已有的有效编码，新网格接续编号", "Keep valid existing codes; new grids continue the serials"),
                     default=False),
               Param("target_area", "float", Text("目标网格面积（m²），决定分行高度", "Target grid area (m²); sets the row height")),
               Param("date", "string", Text("新网格的初始日期 YYYY-MM-DD（默认今天）", "Initial date of new grids YYYY-MM-DD (default today)")),
           ])
def code(project, keep_existing=False, target_area=None, date=None, feedback=None) -> Result:
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
        raise SurveyError(Text("项目中没有社区边界：先运行 grid divide 或 grid import", "the project holds no community boundaries: run grid divide or grid import first"),
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
    grids[gf("init_date")] = init.where(init.notna(), _today(date))
    grids = grids.iloc[np.argsort(new_codes)].reset_index(drop=True)
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", grids)
    summary = Text(f"已为 {len(grids)} 个单元网格编码，{changed} 个编码有变化。",
                   f"Coded {len(grids)} unit grids; {changed} codes changed.")
    return Result(summary, data={"grids": int(len(grids)), "changed": changed}, outputs={"PROJECT": str(proj.path)})


def locate_in_communities(geoms, comms, code_field: str, proj, what: str) -> np.ndarray:
    """The community code of each grid (by its interior point); a grid that crosses a community
    boundary or lies outside every community is an error naming it."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    cgeoms = np.asarray(comms.geometry.values, dtype=object)
    pts = shapely.point_on_surface(geoms)
    tree = shapely.STRtree(cgeoms)
    gi, ci = tree.query(pts, predicate="within")
    out = np.full(len(geoms), None, dtype=object)
    out[gi] = comms[code_field].to_numpy(dtype=object)[ci]
    missing = np.flatnonzero(pd.isna(out))
    if len(missing):
        raise SurveyError(Text(f"{len(missing)} 个网格不在任何社区内", f"{len(missing)} grids lie outside every community"),
                          code="outside_community", file=str(proj.path), layer=proj.table(what), feature=int(missing[0]))
    # crossing: the part outside its own community
    own = cgeoms[ci[np.argsort(gi)]] if len(gi) == len(geoms) else None
    if own is not None:
        outside = shapely.area(shapely.difference(geoms, own))
        bad = np.flatnonzero(outside > 1.0)
        if len(bad):
            raise SurveyError(Text(f"{len(bad)} 个网格跨越社区边界（如第 {int(bad[0])} 个，越界 {outside[bad[0]]:.1f} m²）",
                                   f"{len(bad)} grids cross a community boundary (e.g. feature {int(bad[0])}, "
                                   f"{outside[bad[0]]:.1f} m² outside)"),
                              code="crosses_community", file=str(proj.path), layer=proj.table(what), feature=int(bad[0]))
    return out
