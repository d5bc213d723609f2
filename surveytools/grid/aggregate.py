"""Work grids (监督员工作网格) and responsibility grids (责任网格) from whole unit grids.

Members come from a polygon layer (areas drawn by planners: each unit grid joins the area that
holds the larger part of it, and a unit grid cut by an area's boundary is reported as split) or
from a table (unit grid code → aggregate code).  Each aggregate's geometry is the union of whole
member grids; a non-contiguous aggregate is reported with its separate parts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..issues import GRID_AGGREGATE
from ..ops import Result

GRID_CODE_NAMES = ["BGID", "DYWGBSM", "grid_code", "unit_grid", "单元网格", "单元网格标识码", "网格编码", "SZDYWGBSM"]
AGG_CODE_NAMES = ["code", "WGCode", "ZRCode", "编码", "工作网格编码", "责任网格编码", "网格代码"]
AGG_NAME_NAMES = ["name", "WGName", "ZRName", "名称", "工作网格名称", "责任网格名称"]
DEPT_NAMES = ["dept", "DeptName", "责任单位", "责任单位名称", "单位"]


def pick(df, names, explicit=None):
    if explicit:
        return explicit if explicit in df.columns else None
    for n in names:
        if n in df.columns:
            return n
    return None


def assign_by_area(grid_geoms, area_geoms, *, split_share=0.05):
    """For each unit grid: the index of the area holding its larger part (-1 if none) and
    whether an area boundary cuts it (more than ``split_share`` of it outside that area)."""
    import shapely

    grid_geoms = np.asarray(grid_geoms, dtype=object)
    area_geoms = np.asarray(area_geoms, dtype=object)
    tree = shapely.STRtree(area_geoms)
    gi, ai = tree.query(grid_geoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(grid_geoms[gi], area_geoms[ai]))
    df = pd.DataFrame({"g": gi, "a": ai, "inter": inter})
    best = df.sort_values(["g", "inter", "a"], ascending=[True, False, True]).drop_duplicates("g")
    member = np.full(len(grid_geoms), -1, dtype=np.int64)
    member[best["g"].to_numpy()] = best["a"].to_numpy()
    share = np.zeros(len(grid_geoms))
    share[best["g"].to_numpy()] = best["inter"].to_numpy() / shapely.area(grid_geoms[best["g"].to_numpy()])
    split = (member >= 0) & (share < 1 - split_share)
    return member, split, share


# ----------------------------------------------------------------------------------------------
# the operation on a project

def aggregate_project(project, kind, members, code_field=None, name_field=None, grid_field=None, feedback=None) -> Result:
    import geopandas as gpd
    import shapely

    from ..io import read_vector
    from ..project import Project, read_layer, write_project_layer, write_table

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
    rep = pd.DataFrame(problems, columns=list(GRID_AGGREGATE.columns))  # the one issue row (surveytools.issues)
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
