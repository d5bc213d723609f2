"""Work grids (监督员工作网格) and responsibility grids (责任网格) from whole unit grids.

Members come from a polygon layer (areas drawn by planners: each unit grid joins the area that
holds the larger part of it, and a unit grid cut by an area's boundary is reported as split) or
from a table (unit grid code → aggregate code).  Each aggregate's geometry is the union of whole
member grids; a non-contiguous aggregate is reported with its separate parts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

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
