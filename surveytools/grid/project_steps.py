"""Steps the grid operations share on a project: the unit-grid frame, the community and street
layers, the area report, locating grids in communities and the community checks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text


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


def community_checks(comms, warnings: list) -> list:
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
