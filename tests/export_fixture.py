"""A realistic project for the responsibility and export tests (not a test module).

Built like scripts/demo.sh: ``project.init`` + ``grid.ops.divide`` on sample_data/guixi/base.gpkg,
components written directly from sample_data/guixi/survey/components_a.gpkg (standard cjt fields),
the 60 sample events, one responsibility area (a park around a 绿地 polygon, unit GX022 园林绿化管理所,
roles 权属/养护, classes 04) and three edited components:

* ``FIX_UNKNOWN``: DeptCode1/DeptName1 = XX999 / 不存在的单位 (a unit the registry lacks);
* ``FIX_BLANK_AREA``: a 行道树 (0402) inside the park with its 养护 unit blanked -> the area's unit;
* ``FIX_BLANK_MATRIX``: a 路灯 (0118) outside the park with every unit blanked -> the class default.
"""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "sample_data/guixi/base.gpkg"
COMPONENTS = ROOT / "sample_data/guixi/survey/components_a.gpkg"
EVENTS = ROOT / "sample_data/guixi/survey/events.csv"
DEPARTMENTS = ROOT / "sample_data/guixi/survey/departments.xlsx"
PARK_CODE = "ZRQ001"


def build(path: Path, profile: str = "cjt") -> dict:
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyogrio
    import shapely

    from surveytools import project as P
    from surveytools.grid import ops as G

    P.init(str(path), county="360681", profile=profile, overwrite=True, title="贵溪市城区数字化城管基础数据（测试）")
    G.divide(str(path), communities=f"{BASE}:communities",
             lines=[f"{BASE}:roads", f"{BASE}:rivers", f"{BASE}:railways", f"{BASE}:water"])
    proj = P.Project.open(path)
    info = {}
    pts = pyogrio.read_dataframe(COMPONENTS, layer="points")
    pts["ClassCode"] = pts["ObjID"].str[6:10]
    polys = pyogrio.read_dataframe(COMPONENTS, layer="polygons")
    polys = polys[shapely.is_valid(polys.geometry.values)]
    lines = pyogrio.read_dataframe(COMPONENTS, layer="lines")
    for g in (polys, lines):
        g["ClassCode"] = g["ObjID"].str[6:10]
    # a park: 120 m around the first valid 绿地 that has street trees near it
    trees = pts[pts["ClassCode"] == "0402"]
    tree_xy = shapely.get_coordinates(trees.geometry.values)
    park = None
    for g in polys[polys["ClassCode"] == "0405"].geometry.values:
        cand = g.buffer(120)
        inside = shapely.contains_xy(cand, tree_xy[:, 0], tree_xy[:, 1])
        if inside.sum() >= 3:
            park = cand
            break
    assert park is not None
    inside = np.flatnonzero(shapely.contains_xy(park, tree_xy[:, 0], tree_xy[:, 1]))
    i_area = trees.index[inside[0]]
    pts.loc[i_area, ["DeptCode3", "DeptName3"]] = None
    info["FIX_BLANK_AREA"] = pts.loc[i_area, "ObjID"]
    lamps = pts[(pts["ClassCode"] == "0118")]
    lamp_xy = shapely.get_coordinates(lamps.geometry.values)
    out = lamps.index[~shapely.contains_xy(park, lamp_xy[:, 0], lamp_xy[:, 1]) & (lamps["ObjID"].str[:6] == "360681")]
    i_mat = out[0]
    pts.loc[i_mat, ["DeptCode1", "DeptName1", "DeptCode2", "DeptName2", "DeptCode3", "DeptName3"]] = None
    info["FIX_BLANK_MATRIX"] = pts.loc[i_mat, "ObjID"]
    i_unk = pts.index[(pts["ClassCode"] == "0103") & (pts["ObjID"].str[:6] == "360681")][0]
    pts.loc[i_unk, ["DeptCode1", "DeptName1"]] = ["XX999", "不存在的单位"]
    info["FIX_UNKNOWN"] = pts.loc[i_unk, "ObjID"]
    # what components intake does: the unit grid, street and community of every component
    from surveytools.locate import locate
    from surveytools.project import read_layer

    grids = read_layer(proj, "unit_grid")
    comms = read_layer(proj, "community")
    for g in (pts, lines, polys):
        gi = locate(g.geometry.values, grids.geometry.values, grids["BGID"].to_numpy())
        g["BGID"] = np.where(gi >= 0, grids["BGID"].to_numpy()[np.maximum(gi, 0)], None)
        ci = locate(g.geometry.values, comms.geometry.values, comms["CommCode"].to_numpy())
        ok = ci >= 0
        for col in ("CommCode", "CommName", "StreetCode", "StreetName"):
            g[col] = np.where(ok, comms[col].to_numpy()[np.maximum(ci, 0)], None)
    ev = pd.read_csv(EVENTS, dtype=str)
    eg = gpd.GeoDataFrame(ev, geometry=gpd.points_from_xy(ev.lon.astype(float), ev.lat.astype(float)), crs=4326).to_crs(proj.crs)
    f = lambda r: proj.profile.field("event", r)  # noqa: E731
    eg = eg.rename(columns={"EventID": f("event_id"), "ClassName": f("name"), "EventCode": f("event_code"),
                            "Description": f("description"), "Address": f("address"), "ReportTime": f("occur_time")})
    eg[f("class_code")] = ev["ClassCode"].str.zfill(4)
    area = gpd.GeoDataFrame({"area_code": [PARK_CODE], "name": ["信江公园（测试）"], "area_type": ["公园"], "dept_id": ["GX022"],
                             "roles": ["权属/养护"], "class_codes": ["04"], "note": [""]}, geometry=[park], crs=proj.crs)
    with proj.transaction() as work:
        P.write_project_layer(work, "component_point", pts)
        P.write_project_layer(work, "component_line", lines)
        P.write_project_layer(work, "component_polygon", polys)
        P.write_project_layer(work, "event", eg)
        P.write_project_layer(work, "responsibility_area", area)
    info.update({"points": len(pts), "lines": len(lines), "polygons": len(polys), "events": len(eg), "park": park})
    return info


def copy(src: Path, dst_dir: Path, name: str = "p.gpkg") -> Path:
    dst = dst_dir / name
    shutil.copyfile(src, dst)
    return dst


_CACHE: dict = {}


def assigned(profile: str = "cjt"):
    """(project path, info, assign Result), built once per test process; copy before changing it."""
    import atexit
    import tempfile

    if profile not in _CACHE:
        d = Path(tempfile.mkdtemp(prefix="st-export-"))
        atexit.register(shutil.rmtree, d, True)
        p = d / "assigned.gpkg"
        info = build(p, profile)
        from surveytools.responsibility.ops import assign

        res = assign(str(p), departments=str(DEPARTMENTS))
        _CACHE[profile] = (p, info, res)
    return _CACHE[profile]
