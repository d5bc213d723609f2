"""Unit grid codes (单元网格标识码): county 6 + street 3 + community 3 + serial 2 or 3.

Ordering of serials inside a community (the rule Beijing's DB11 states: 从西向东、由北至南,
CJ/T 213's 从左到右、从上到下), made exact:

1. each grid is represented by its ``point_on_surface`` (always inside the grid, unlike the
   centroid of a concave grid);
2. grids fall into rows of height ``row_height`` (default: the square root of the target area,
   100 m for 10,000 m² grids) counted from the community's northern edge; row 0 is the
   northernmost;
3. rows are numbered north to south; inside a row grids run west to east by x;
4. ties (equal row and x to the millimetre) are broken by y, north first, then by area, larger
   first, then by the grid's WKB bytes so the order never depends on input order.

Serials start at 1 (``00``/``000`` is the community itself in practice) and never exceed the
serial part's capacity: a community with more grids than the serial allows is an error naming the
community, never a silent wrap.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text


def reading_order(geoms, row_height: float) -> np.ndarray:
    """Positions (0-based) of the grids of ONE community in reading order."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.array([], dtype=int)
    pts = shapely.point_on_surface(geoms)
    xy = shapely.get_coordinates(pts)
    top = float(shapely.bounds(geoms)[:, 3].max())
    rows = np.floor((top - xy[:, 1]) / row_height).astype(np.int64)
    xr = np.round(xy[:, 0], 3)
    yr = np.round(xy[:, 1], 3)
    areas = shapely.area(geoms)
    wkb = shapely.to_wkb(geoms, hex=True)
    # np.lexsort: last key is primary
    return np.lexsort((wkb, -areas, -yr, xr, rows))


def serial_capacity(profile) -> int:
    return 10 ** profile.codes["unit_grid"].part_length("serial") - 1


def assign_codes(community_codes, geoms, profile, row_height: float, start: dict | None = None,
                 names: dict | None = None) -> np.ndarray:
    """Codes for grids given their community codes (12 digits) and geometries.

    ``start`` maps a community code to the last serial already used there (new serials continue
    after it, so a retired code is never reused).
    """
    spec = profile.codes["unit_grid"]
    width = spec.part_length("serial")
    cap = 10 ** width - 1
    prefix_len = spec.length - width
    community_codes = np.asarray(community_codes, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    start = start or {}
    for comm in pd.unique(community_codes):
        idx = np.flatnonzero(community_codes == comm)
        comm = str(comm)
        if len(comm) != prefix_len or not comm.isdigit():
            raise SurveyError(Text(f"社区代码应为 {prefix_len} 位数字", f"the community code must be {prefix_len} digits"),
                              code="community_code", field="community_code", value=comm)
        order = reading_order(np.asarray(geoms, dtype=object)[idx], row_height)
        first = int(start.get(comm, 0)) + 1
        last = first + len(idx) - 1
        if last > cap:
            name = (names or {}).get(comm, "")
            raise SurveyError(
                Text(f"社区 {comm} {name} 需要 {len(idx)} 个网格（序号到 {last}），超出 {width} 位顺序码的上限 {cap}",
                     f"community {comm} {name} needs {len(idx)} grids (serials up to {last}), more than the {width}-digit "
                     f"serial allows ({cap})"),
                code="serial_overflow", field="community_code", value=comm,
                hint=Text("增大目标面积、拆分社区，或使用 15 位编码的标准配置（gbt30428 / gbt47678）",
                          "raise the target area, split the community, or use a 15-digit profile (gbt30428 / gbt47678)"))
        serials = np.empty(len(idx), dtype=np.int64)
        serials[order] = np.arange(first, last + 1)
        out[idx] = [f"{comm}{s:0{width}d}" for s in serials]
    return out


def default_row_height(target_area: float) -> float:
    return math.sqrt(target_area)
