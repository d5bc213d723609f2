"""``surveytools grid …`` operations (and the matching Processing algorithms)."""
from __future__ import annotations

from ..dates import parse_date
from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..lazy import lazy_module
from ..ops import Param, Result, group, operation

# imported when an operation runs, never when the registry loads (the QGIS plugin loads it in QGIS)
np = lazy_module("numpy")
pd = lazy_module("pandas")

group("grid", Text("单元网格：划分、编码、导入、重划后保持编码稳定、聚合为工作网格和责任网格",
                   "Unit grids: divide, code, import, keep codes stable when redrawn, aggregate into work and "
                   "responsibility grids"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")


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
                     required=True, widget="polygon"),
               Param("lines", "layer_in", Text("线状地物图层（道路中心线、河流、铁路、围墙…），可多次给出",
                                              "Linear features (road centre lines, rivers, railways, walls …); repeatable"),
                     multiple=True, widget="line"),
               Param("target_area", "float", Text("目标网格面积（m²）", "Target grid area (m²)"), minimum=100, maximum=1e7),
               Param("min_area", "float", Text("最小网格面积（m²）", "Minimum grid area (m²)"), minimum=1, maximum=1e7),
               Param("max_area", "float", Text("最大网格面积（m²）", "Maximum grid area (m²)"), minimum=100, maximum=1e8),
               Param("workload", "layer_in", Text("工作量图层（部件或建筑），用于负载均衡",
                                                  "Workload layer (components or buildings) to balance load"), widget="any"),
               Param("code_field", "string", Text("社区代码字段（默认自动识别）", "Community code field (detected by default)")),
               Param("name_field", "string", Text("社区名称字段（默认自动识别）", "Community name field (detected by default)")),
               Param("date", "string", Text("初始日期 YYYY-MM-DD（默认今天）", "Initial date YYYY-MM-DD (default today)"), widget="date"),
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
    from .divide import PRECISION, DivideParams, clean_coverage, divide_community

    feedback = feedback or Feedback()
    proj = Project.open(project)
    defaults = proj.profile.defaults.get("grid", {})
    params = DivideParams(target_area=float(target_area or defaults.get("target_area", 10000)),
                          min_area=float(min_area or defaults.get("min_area", 2000)),
                          max_area=float(max_area or defaults.get("max_area", 20000)),
                          sliver_area=float(defaults.get("sliver_tolerance", 1.0)))
    params.check()
    init_date = parse_date(date)
    existing = read_layer(proj, "unit_grid", columns=[proj.profile.field("unit_grid", "grid_code")])
    if len(existing) and not overwrite:
        raise SurveyError(Text(f"项目中已有 {len(existing)} 个单元网格；重划请用 grid recode 保持编码稳定，或加 --overwrite 替换",
                               f"the project already holds {len(existing)} unit grids; use grid recode to keep their codes "
                               "stable, or --overwrite to replace them"), code="grids_exist", file=str(proj.path),
                          layer=proj.table("unit_grid"))
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
    gaps = _community_checks(comms, warnings)
    extent = shapely.union_all(np.asarray(comms.geometry.values, dtype=object))
    line_geoms, lsrc = read_lines(lines, proj.crs, extent=extent, warnings=warnings)
    for w in warnings:
        feedback.warning(w)
    feedback.progress(5)
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


@operation("grid", "code",
           help=Text("为项目中的单元网格编码：按所在社区，从北到南分行、每行从西到东编顺序码，并填写面积和初始日期。"
                     "规划人员编辑草图后运行。",
                     "Code the project's unit grids: serials per community in rows from north to south, west to east "
                     "within a row; fill area and initial date. Run it after editing the draft."),
           params=[
               P_PROJECT,
               Param("keep_existing", "bool", Text("保留已有的有效编码，新网格接续编号", "Keep valid existing codes; new grids continue the serials"),
                     default=False),
               Param("target_area", "float", Text("目标网格面积（m²），决定分行高度", "Target grid area (m²); sets the row height"),
                     minimum=100, maximum=1e7),
               Param("date", "string", Text("新网格的初始日期 YYYY-MM-DD（默认今天）", "Initial date of new grids YYYY-MM-DD (default today)"), widget="date"),
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


def locate_in_communities(geoms, comms, code_field: str, proj, what: str, source=None) -> np.ndarray:
    """The community code of each grid (by its interior point); a grid that crosses a community
    boundary or lies outside every community is an error naming it (in ``source``, the layer the
    grids were read from, when given; else in the project)."""
    import shapely

    from ..locate import locate

    geoms = np.asarray(geoms, dtype=object)
    where_file = source.path if source is not None else str(proj.path)
    where_layer = source.layer if source is not None else proj.table(what)
    cgeoms = np.asarray(comms.geometry.values, dtype=object)
    ccodes = comms[code_field].astype(str).to_numpy(dtype=object)
    idx = locate(geoms, cgeoms, ccodes)  # the community holding the larger part
    out = np.where(idx >= 0, ccodes[np.maximum(idx, 0)], None)
    missing = np.flatnonzero(idx < 0)
    if len(missing):
        raise SurveyError(Text(f"{len(missing)} 个网格不在任何社区内", f"{len(missing)} grids lie outside every community"),
                          code="outside_community", file=where_file, layer=where_layer, feature=int(missing[0]))
    outside = shapely.area(shapely.difference(geoms, cgeoms[idx]))
    bad = np.flatnonzero(outside > 1.0)
    if len(bad):
        raise SurveyError(Text(f"{len(bad)} 个网格跨越社区边界（如第 {int(bad[0])} 个，越界 {outside[bad[0]]:.1f} m²）",
                               f"{len(bad)} grids cross a community boundary (e.g. feature {int(bad[0])}, "
                               f"{outside[bad[0]]:.1f} m² outside)"),
                          code="crosses_community", file=where_file, layer=where_layer, feature=int(bad[0]))
    return out


def _community_checks(comms, warnings: list) -> list:
    """Gaps and slivers between the communities and street codes unknown to the NBS table, as
    warnings (the same checks as validation rules topology.community_gaps and
    codes.community_street, with the catalogue's parameters).  Returns the gaps as dicts."""
    import shapely

    from ..validate.catalogue import load_catalogue
    from .communities import community_gaps, unknown_streets

    params = load_catalogue()["topology.community_gaps"].params
    gaps = community_gaps(comms.geometry.values, max_width=float(params["max_width_m"]),
                          min_area=float(params["min_area_m2"]))
    out = []
    if len(gaps):
        area = shapely.area(gaps)
        xy = shapely.get_coordinates(shapely.point_on_surface(gaps))
        out = [{"area": round(float(a), 2), "x": round(float(x), 2), "y": round(float(y), 2)}
               for a, (x, y) in zip(area, xy)]
        k = int(np.argmax(area))
        warnings.append(Text(f"社区之间有 {len(gaps)} 处缝隙或狭缝，共 {area.sum():.1f} m²（最大 {area[k]:.1f} m²，"
                             f"在 X={xy[k, 0]:.1f}, Y={xy[k, 1]:.1f} 附近）：这些地方不属于任何单元网格",
                             f"{len(gaps)} gaps or slivers between the communities, {area.sum():.1f} m² in all (the largest "
                             f"{area[k]:.1f} m² near X={xy[k, 0]:.1f}, Y={xy[k, 1]:.1f}): no unit grid will cover them"))
    unknown = unknown_streets(comms["street_code"])
    if unknown:
        of = {s: sorted(comms.loc[comms["street_code"] == s, "code"])[:3] for s in unknown[:5]}
        lst = "; ".join(f"{s}（{', '.join(c)}）" for s, c in of.items())
        lst_en = "; ".join(f"{s} ({', '.join(c)})" for s, c in of.items())
        warnings.append(Text(f"{len(unknown)} 个街道代码不在国家统计局 2023 年区划代码表中：{lst}；已按代码建立无名称的街道，"
                             "请核对社区代码",
                             f"{len(unknown)} street codes are not in the NBS 2023 division table: {lst_en}; streets without a "
                             "name were created for them: check the community codes"))
    return out


# ----------------------------------------------------------------------------------------------
# import

IMPORT_CODE_NAMES = ["BGID", "DYWGBSM", "单元网格标识码", "网格编码", "网格代码", "gridCode", "GRIDCODE", "code", "CODE"]


@operation("grid", "import",
           help=Text("导入城市已有的已编码单元网格：保留编码，按标准配置和所在社区逐个检查，报告不符合的网格。"
                     "项目中没有社区边界时，由网格编码生成社区和街道边界。",
                     "Import a city's existing coded unit grids: keep the codes, check each against the profile and "
                     "its community, and report what does not fit. When the project has no community boundaries, "
                     "they are built from the grid codes."),
           params=[
               P_PROJECT,
               Param("source", "layer_in", Text("已编码的单元网格图层", "Layer of coded unit grids"), required=True,
                     positional=True, widget="polygon"),
               Param("code_field", "string", Text("网格编码字段（默认自动识别）", "Grid code field (detected by default)")),
               Param("date", "string", Text("缺少初始日期时使用的日期 YYYY-MM-DD（默认今天）",
                                            "Date used where the initial date is missing, YYYY-MM-DD (default today)"), widget="date"),
               Param("repair", "bool", Text("修复无效的网格面", "Repair invalid grid polygons"), default=False),
               Param("overwrite", "bool", Text("替换项目中已有的单元网格", "Replace unit grids already in the project"), default=False),
           ])
def import_(project, source, code_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    import geopandas as gpd
    import shapely

    from ..codes import check_codes
    from ..io import read_vector
    from ..project import Project, read_layer, write_project_layer, write_table
    from .communities import _fid, clean_codes, detect_field, streets_from_communities

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    gf = lambda role: prof.field("unit_grid", role)  # noqa: E731
    existing = read_layer(proj, "unit_grid", columns=[gf("grid_code")])
    if len(existing) and not overwrite:
        raise SurveyError(Text(f"项目中已有 {len(existing)} 个单元网格；加 --overwrite 替换",
                               f"the project already holds {len(existing)} unit grids; pass --overwrite to replace them"),
                          code="grids_exist", file=str(proj.path), layer=proj.table("unit_grid"))
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
    rows = []  # the import report

    def report(i, reason, severity, zh, en):
        rows.append({"feature": int(gdf.index[i]) if gdf.index.dtype.kind in "iu" else str(gdf.index[i]),
                     "code": None if pd.isna(codes.iloc[i]) else str(codes.iloc[i]), "severity": severity,
                     "reason": reason, "message_zh": zh, "message_en": en})

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
    issues = check_codes("unit_grid", codes.reset_index(drop=True), prof, county=proj.county)
    pos = {lab: i for i, lab in enumerate(range(len(codes)))}
    for r in issues.itertuples(index=False):
        report(pos[r.index], r.reason, r.severity, r.message_zh, r.message_en)
    dup = codes.duplicated(keep=False) & codes.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        report(i, "duplicate", "error", f"编码 {codes.iloc[i]} 重复", f"code {codes.iloc[i]} is used more than once")
    prefix_len = length - prof.codes["unit_grid"].part_length("serial")
    comms = read_layer(proj, "community")
    ccode = prof.field("community", "community_code")
    built = False
    if len(comms):
        cg = np.asarray(comms.geometry.values, dtype=object)
        pts = shapely.point_on_surface(geoms)
        tree = shapely.STRtree(cg)
        gi, ci = tree.query(pts, predicate="within")
        where = np.full(len(geoms), None, dtype=object)
        where[gi] = comms[ccode].to_numpy(dtype=object)[ci]
        for i in range(len(geoms)):
            c = codes.iloc[i]
            if where[i] is None:
                report(i, "outside_community", "error", "网格不在任何社区内", "the grid lies outside every community")
            elif isinstance(c, str) and c[:prefix_len] != where[i]:
                report(i, "community_mismatch", "error", f"编码前缀 {c[:prefix_len]} 与所在社区 {where[i]} 不一致",
                       f"code prefix {c[:prefix_len]} differs from the community it lies in ({where[i]})")
        own = np.full(len(geoms), None, dtype=object)
        own[gi] = cg[ci]
        has = np.array([o is not None for o in own])
        if has.any():
            outside = shapely.area(shapely.difference(geoms[has], np.asarray(own[has], dtype=object)))
            for k, i in enumerate(np.flatnonzero(has)):
                if outside[k] > 1.0:
                    report(i, "crosses_community", "error", f"网格越出所在社区 {outside[k]:.1f} m²",
                           f"the grid extends {outside[k]:.1f} m² beyond its community")
    else:
        ok = codes.fillna("").str.fullmatch(rf"\d{{{length}}}").to_numpy(dtype=bool)
        c = gpd.GeoDataFrame({"code": codes[ok].str[:prefix_len].to_numpy()}, geometry=list(geoms[ok]), crs=proj.crs)
        c = c.dissolve("code").reset_index()
        c["name"] = None
        c["street_code"] = c["code"].str[:9]
        comms_new, built = c, True
    out = gpd.GeoDataFrame({gf("grid_code"): codes.to_numpy(dtype=object),
                            gf("area"): np.round(shapely.area(geoms), 2)}, geometry=list(geoms), crs=proj.crs)
    for role in ("init_date", "end_date", "name", "note"):
        f = gf(role)
        if f and f in gdf.columns:
            out[f] = gdf[f].to_numpy()
    init = out[gf("init_date")] if gf("init_date") in out.columns else pd.Series([None] * len(out))
    out[gf("init_date")] = pd.Series(init).where(pd.Series(init).notna(), parse_date(date)).to_numpy()
    rep = pd.DataFrame(rows, columns=["feature", "code", "severity", "reason", "message_zh", "message_en"])
    with proj.transaction() as work:
        write_project_layer(work, "unit_grid", out)
        if built:
            from .ops import write_admin_layers
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




# ----------------------------------------------------------------------------------------------
# recode

@operation("grid", "recode",
           help=Text("网格重划后保持编码稳定：与原网格按重叠匹配，基本不变的网格保留编码，拆分、合并和新增的网格取新顺序码，"
                     "终止的编码写入终止日期并永不复用；输出变更报告（表和图层），并把部件重新落入新网格。",
                     "Keep codes stable when grids are redrawn: match the redrawn grids to the old ones by overlap; a "
                     "grid that is essentially unchanged keeps its code, split, merged and new grids get new serials, "
                     "retired codes get their end date and are never reused; a change report (table and layer); "
                     "components are re-located to the new grids."),
           params=[
               P_PROJECT,
               Param("redrawn", "layer_in", Text("重划后的单元网格图层", "The redrawn unit grids"), required=True, widget="polygon"),
               Param("date", "string", Text("变更日期 YYYY-MM-DD（默认今天）", "Change date YYYY-MM-DD (default today)"), widget="date"),
               Param("keep_iou", "float", Text("视为不变的最小重叠度（交并比）", "Minimum overlap (IoU) to count as unchanged"), default=0.95,
                     minimum=0.5, maximum=1.0),
               Param("min_share", "float", Text("计入匹配的最小重叠比例", "Minimum overlap share that counts as a match"), default=0.05,
                     minimum=0.001, maximum=0.5),
               Param("force", "bool", Text("即使重划的网格有缝隙、重叠或终止的编码过多也继续（问题作为警告报告）",
                                           "Go on even when the redrawn grids leave gaps, overlap or retire too many codes "
                                           "(the problems are reported as warnings)"), default=False),
           ])
def recode(project, redrawn, date=None, keep_iou=0.95, min_share=0.05, force=False, feedback=None) -> Result:
    import geopandas as gpd
    import shapely

    from ..io import read_vector
    from ..locate import relocate_components
    from ..project import Project, read_layer, write_project_layer, write_table
    from .coding import assign_codes, default_row_height
    from .recode import CHANGE_TEXT, match

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
    feedback.progress(10)
    old_codes = old[gf("grid_code")].astype(str).to_numpy(dtype=object)
    change, kept_code, sources, iou, retired = match(old.geometry.values, old_codes, new_geoms,
                                                     min_share=min_share, keep_iou=keep_iou)
    warnings = _check_redrawing(proj, src, old.geometry.values, new_geoms, retired, force)
    for w in warnings:
        feedback.warning(w)
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
    ret_mask = old[gf("grid_code")].astype(str).isin(retired_codes).to_numpy()
    feedback.progress(40)
    used = pd.Series(list(old_codes) + list(hist[gf("grid_code")].astype(str)) if len(hist) else list(old_codes), dtype=object)
    start = used.groupby(used.str[:prefix_len]).apply(lambda s: int(s.str[prefix_len:].astype(int).max())).to_dict()
    todo = pd.isna(pd.Series(kept_code, dtype=object)).to_numpy()
    codes = kept_code.copy()
    if todo.any():
        target = float(prof.defaults.get("grid", {}).get("target_area", 10000))
        codes[todo] = assign_codes(comm_of[todo], new_geoms[todo], prof, default_row_height(target), start=start)
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


def _check_redrawing(proj, src, old_geoms, new_geoms, retired, force: bool) -> list:
    """Refuse a redrawing that leaves gaps in the old extent, overlaps itself or retires more than
    the profile's ``grid.recode_max_retired_share`` of the codes, unless ``force``: then the same
    findings are returned as warnings."""
    from .recode import plausibility

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


# ----------------------------------------------------------------------------------------------
# aggregate

@operation("grid", "aggregate",
           help=Text("由整个单元网格聚合成监督员工作网格或责任网格：成员来自规划人员绘制的范围面，或单元网格编码到聚合编码的对照表；"
                     "检查成员连片、没有单元网格被切分。",
                     "Build work grids or responsibility grids from whole unit grids: members come from areas drawn by "
                     "planners, or from a table of unit grid code → aggregate code; checks that members are contiguous "
                     "and that no unit grid is split."),
           params=[
               P_PROJECT,
               Param("kind", "enum", Text("聚合类型：work 工作网格，responsibility 责任网格",
                                          "Kind: work grids or responsibility grids"), choices=("work", "responsibility"),
                     required=True),
               Param("members", "layer_in", Text("范围面图层或对照表（含聚合编码）", "Area polygons or a table (with the aggregate codes)"),
                     required=True, widget="table"),
               Param("code_field", "string", Text("聚合编码字段（默认自动识别）", "Aggregate code field (detected by default)")),
               Param("name_field", "string", Text("聚合名称字段", "Aggregate name field")),
               Param("grid_field", "string", Text("对照表中的单元网格编码字段", "Unit grid code field of a table")),
           ])
def aggregate(project, kind, members, code_field=None, name_field=None, grid_field=None, feedback=None) -> Result:
    import geopandas as gpd
    import shapely

    from ..io import read_vector
    from ..project import Project, read_layer, write_project_layer, write_table
    from .aggregate import AGG_CODE_NAMES, AGG_NAME_NAMES, DEPT_NAMES, GRID_CODE_NAMES, assign_by_area, pick

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    key = "work_grid" if kind == "work" else "responsibility_grid"
    gcode = prof.field("unit_grid", "grid_code")
    grids = read_layer(proj, "unit_grid")
    if len(grids) == 0:
        raise SurveyError(Text("项目中没有单元网格", "the project holds no unit grids"), code="no_grids", file=str(proj.path))
    grid_codes = grids[gcode].astype(str).to_numpy(dtype=object)
    grid_geoms = np.asarray(grids.geometry.values, dtype=object)
    mem, src = read_vector(members, to_crs=proj.crs) if _has_geometry(members) else _read_table(members)
    cf = pick(mem, AGG_CODE_NAMES, code_field)
    if cf is None:
        raise SurveyError(Text("找不到聚合编码字段；请用 --code-field 指定", "cannot find the aggregate code field; name it with --code-field"),
                          code="no_code_field", file=src.path, layer=src.layer)
    nf = pick(mem, AGG_NAME_NAMES, name_field)
    df_ = pick(mem, DEPT_NAMES)
    problems = []
    if "geometry" in mem.columns and mem.geometry.notna().any():
        member_idx, split, share = assign_by_area(grid_geoms, mem.geometry.values)
        agg_code = np.where(member_idx >= 0, mem[cf].astype(str).to_numpy(dtype=object)[np.maximum(member_idx, 0)], None)
        for i in np.flatnonzero(split):
            problems.append({"unit_grid": grid_codes[i], "aggregate": agg_code[i], "severity": "error", "reason": "split",
                             "message_zh": f"单元网格被范围边界切分（仅 {share[i]:.0%} 在 {agg_code[i]} 内），已整体归入面积较大的一侧",
                             "message_en": f"the unit grid is cut by an area boundary (only {share[i]:.0%} inside {agg_code[i]}); "
                                           "it joined the side holding its larger part"})
    else:
        gfld = pick(mem, GRID_CODE_NAMES, grid_field)
        if gfld is None:
            raise SurveyError(Text("对照表中找不到单元网格编码字段；请用 --grid-field 指定",
                                   "the table has no unit grid code field; name it with --grid-field"),
                              code="no_grid_field", file=src.path, layer=src.layer)
        mapping = dict(zip(mem[gfld].astype(str).str.strip(), mem[cf].astype(str)))
        unknown = sorted(set(mapping) - set(grid_codes))
        for u in unknown:
            problems.append({"unit_grid": u, "aggregate": mapping[u], "severity": "error", "reason": "unknown_grid",
                             "message_zh": "对照表中的单元网格不存在", "message_en": "the table names a unit grid that does not exist"})
        agg_code = np.array([mapping.get(c) for c in grid_codes], dtype=object)
        dups = mem[gfld].astype(str).str.strip()
        for u in sorted(set(dups[dups.duplicated()])):
            problems.append({"unit_grid": u, "aggregate": mapping[u], "severity": "error", "reason": "duplicate_member",
                             "message_zh": "同一单元网格在对照表中出现多次", "message_en": "the unit grid appears more than once in the table"})
    for i in np.flatnonzero(pd.isna(pd.Series(agg_code, dtype=object)).to_numpy()):
        problems.append({"unit_grid": grid_codes[i], "aggregate": None, "severity": "warning", "reason": "unassigned",
                         "message_zh": "单元网格未归入任何聚合网格", "message_en": "the unit grid belongs to no aggregate"})
    names = dict(zip(mem[cf].astype(str), mem[nf])) if nf else {}
    depts = dict(zip(mem[cf].astype(str), mem[df_])) if df_ else {}
    rows = []
    s = pd.Series(agg_code, dtype=object)
    for code, idx in s.dropna().groupby(s.dropna()).groups.items():
        idx = np.asarray(list(idx))
        union = shapely.union_all(grid_geoms[idx])
        parts = shapely.get_parts(union)
        if len(parts) > 1:
            part_of = shapely.STRtree(parts).query(shapely.point_on_surface(grid_geoms[idx]), predicate="within")
            groups = pd.Series(grid_codes[idx][part_of[0]]).groupby(part_of[1]).apply(lambda x: ",".join(sorted(x))).tolist()
            problems.append({"unit_grid": None, "aggregate": code, "severity": "error", "reason": "not_contiguous",
                             "message_zh": f"聚合网格不连片，分为 {len(parts)} 块：" + " | ".join(groups),
                             "message_en": f"the aggregate is not contiguous; {len(parts)} parts: " + " | ".join(groups)})
        rows.append({"code": code, "name": names.get(code), "dept": depts.get(code), "area": round(union.area, 2),
                     "members": ",".join(sorted(grid_codes[idx])), "geometry": union})
    af = lambda role: prof.field(key, role)  # noqa: E731
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=proj.crs) if rows else gpd.GeoDataFrame(
        {"code": [], "geometry": []}, geometry="geometry", crs=proj.crs)
    ren = {"code": af("grid_code"), "name": af("name"), "area": af("area"), "members": af("members")}
    if af("dept_name"):
        ren["dept"] = af("dept_name")
    out = out.rename(columns={k: v for k, v in ren.items() if v})
    rep = pd.DataFrame(problems, columns=["unit_grid", "aggregate", "severity", "reason", "message_zh", "message_en"])
    with proj.transaction() as work:
        write_project_layer(work, key, out)
        write_table(work, f"report_{key}s", rep)
    n_err = int((rep["severity"] == "error").sum())
    what = Text("工作网格", "work grids") if kind == "work" else Text("责任网格", "responsibility grids")
    summary = Text(f"已生成 {len(out)} 个{what.zh}，覆盖 {int(s.notna().sum())}/{len(grid_codes)} 个单元网格；{n_err} 个错误"
                   f"（见报告表 report_{key}s）。",
                   f"Built {len(out)} {what.en} from {int(s.notna().sum())}/{len(grid_codes)} unit grids; {n_err} errors "
                   f"(see table report_{key}s).")
    return Result(summary, data={"aggregates": int(len(out)), "members": int(s.notna().sum()), "problems": rep.to_dict("records")},
                  outputs={"PROJECT": str(proj.path)})


def _has_geometry(spec) -> bool:
    from ..io import is_table_file, parse_layer_spec

    path, _ = parse_layer_spec(spec)
    return not is_table_file(path)


def _read_table(spec):
    from ..io import parse_layer_spec
    from ..io.tables import cells_to_text, read_table

    path, sheet = parse_layer_spec(spec)
    df, src = read_table(path, sheet, empty_as_null=True)
    if src.driver == "XLSX":
        df = cells_to_text(df)
    return df, src
