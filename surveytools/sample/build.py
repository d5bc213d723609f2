"""Write the sample delivery set (``sample_data/``) with its deliberate mistakes.

``build_sample(out, osm, seed)`` regenerates, deterministically:

* ``osm/mapofgx.osm`` (copied when building elsewhere) — © OpenStreetMap contributors, ODbL;
* ``guixi/base.gpkg`` — streets, communities, roads, rivers, water, railways, buildings (EPSG:4548);
* ``guixi/survey/`` — four component deliveries A–D, door plates, events and departments;
* ``guixi/mistakes.csv`` — the answer key: every deliberate mistake, where it is and which step
  should find it (not part of the delivery).
"""
from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..chinacoords import wgs84_to_gcj02
from ..errors import SurveyError
from ..i18n import Text
from .components import generate_components
from .departments import departments
from .district import PROJECT_CRS, build_district
from .doorplates import generate_doorplates
from .events import generate_events
from .osm import read_osm

REPO_SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
DEFAULT_OSM = REPO_SAMPLE / "osm" / "mapofgx.osm"
GPKG_OPTS = {"VERSION": "1.2"}
FIXED_TIME = (2024, 6, 1, 0, 0, 0)

#: classes captured with the phone app in batch D (东门街道 street furniture)
PHONE_CLASSES = {"0305", "0301", "0121", "0123"}
STD_FIELDS = ["ObjID", "ObjName", "DeptCode1", "DeptName1", "DeptCode2", "DeptName2", "DeptCode3", "DeptName3",
              "BGID", "ObjState", "ORDate", "CHDate", "DataSource", "Note", "LocateDSC", "Material"]
#: batch B (GBK Shapefile): Chinese field names (≤ 10 bytes in GBK)
GBK_FIELDS = {"ObjName": "部件名称", "ClassCode": "小类代码", "DeptName1": "主管部门", "DeptName2": "权属单位",
              "DeptName3": "养护单位", "ObjState": "部件状态", "ORDate": "初始日期", "CHDate": "变更日期",
              "DataSource": "数据来源", "LocateDSC": "位置描述", "Material": "材质", "Note": "备注"}
CSV_FIELDS = {"ClassCode": "class_code", "ObjName": "class_name", "DeptName1": "dept_main",
              "DeptName2": "dept_owner", "DeptName3": "dept_maint", "ObjState": "state", "ORDate": "install_date",
              "CHDate": "survey_date", "LocateDSC": "location", "Material": "material", "Note": "note"}


# ---------------------------------------------------------------------------------------------
# writers (atomic, deterministic)
def _atomic(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def write_gpkg(layers: dict, path: Path) -> None:
    tmp = _atomic(path)
    if tmp.exists():
        tmp.unlink()
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=tmp.exists(),
                                dataset_options=GPKG_OPTS if not tmp.exists() else None)
    os.replace(tmp, path)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = _atomic(path)
    df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    os.replace(tmp, path)


def write_xlsx(sheets: dict, path: Path) -> None:
    """XLSX with fixed timestamps, so that two runs give byte-identical files."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    tmp = _atomic(path)
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in sorted(zin.infolist(), key=lambda i: i.filename):
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2024-06-01T00:00:00Z", data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, data)
    os.replace(tmp, path)


def write_gbk_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """A GBK-encoded Shapefile **without** the .cpg that would declare the encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        p = path.with_suffix(ext)
        if p.exists():
            p.unlink()
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding="GBK")
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        cpg.unlink()


# ---------------------------------------------------------------------------------------------
# mistakes
class Mistakes:
    def __init__(self):
        self.rows = []

    def add(self, file, layer, ref, kind, detail, step):
        self.rows.append({"file": file, "layer": layer, "feature": ref, "mistake": kind, "detail": detail,
                          "found_by": step})

    def frame(self):
        return pd.DataFrame(self.rows, columns=["file", "layer", "feature", "mistake", "detail", "found_by"])


def _pick(rng, mask, n, taken):
    idx = np.flatnonzero(mask & ~taken)
    sel = np.sort(rng.choice(idx, min(n, len(idx)), replace=False))
    taken[sel] = True
    return sel


def _bowtie(poly) -> shapely.Polygon:
    minx, miny, maxx, maxy = poly.bounds
    return shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy), (minx, miny)])


def _duplicates(rng, gdf, n, taken):
    """Copies of ``n`` features moved by 0.05–0.25 m (same class within 0.3 m)."""
    sel = _pick(rng, np.ones(len(gdf), bool), n, taken)
    dup = gdf.iloc[sel].copy()
    ang = rng.uniform(0, 2 * np.pi, len(sel))
    r = rng.uniform(0.05, 0.25, len(sel))
    dup["geometry"] = shapely.points(np.round(dup.geometry.x + r * np.cos(ang), 3),
                                     np.round(dup.geometry.y + r * np.sin(ang), 3))
    return sel, dup


def _batch_a(rng, comp, street_of, M: Mistakes):
    f = "guixi/survey/components_a.gpkg"
    pts = comp.points[np.isin(street_of, ["360681001", "360681004"])].reset_index(drop=True)
    taken = np.zeros(len(pts), bool)
    code = pts["ClassCode"].to_numpy()
    # duplicates: 8 copies, new ObjID at the end of the class's serials
    sel, dup = _duplicates(rng, pts, 8, taken)
    maxser = comp.points.groupby("ClassCode")["ObjID"].max().str[-6:].astype(int).to_dict()
    for i, (j, c) in enumerate(zip(sel, dup["ClassCode"])):
        maxser[c] += 1
        dup.iloc[i, dup.columns.get_loc("ObjID")] = f"360681{c}{maxser[c]:06d}"
        M.add(f, "points", dup["ObjID"].iloc[i], "重复部件 duplicate component",
              f"same class as {pts['ObjID'].iloc[j]} within 0.3 m", "validate: duplicates")
    # duplicate ObjID
    for j in _pick(rng, np.ones(len(pts), bool), 2, taken):
        other = pts["ObjID"].iloc[(j + 1) % len(pts)]
        M.add(f, "points", other, "重复标识码 duplicate ObjID",
              f"feature {j} ({pts['ObjName'].iloc[j]}) also has ObjID {other}", "validate: ObjID unique")
        pts.loc[j, "ObjID"] = other
    # wrong county prefix
    for j in _pick(rng, np.ones(len(pts), bool), 2, taken):
        pts.loc[j, "ObjID"] = "360602" + pts.loc[j, "ObjID"][6:]
        M.add(f, "points", pts.loc[j, "ObjID"], "标识码区划错误 wrong county prefix", "360602 (月湖区) instead of 360681",
              "components: code / validate ObjID")
    # class not in the table
    for j in _pick(rng, np.ones(len(pts), bool), 3, taken):
        pts.loc[j, "ObjID"] = pts.loc[j, "ObjID"][:6] + "0199" + pts.loc[j, "ObjID"][10:]
        M.add(f, "points", pts.loc[j, "ObjID"], "小类代码不存在 class code not in table",
              f"class 0199 for {pts.loc[j, 'ObjName']}", "components: classify")
    # new-edition (GB/T 47678.5) 17-digit ObjID
    for j in _pick(rng, code == "0103", 3, taken):
        pts.loc[j, "ObjID"] = "360681" + "01003" + pts.loc[j, "ObjID"][10:]
        M.add(f, "points", pts.loc[j, "ObjID"], "新版标准代码 GB/T 47678 code",
              "17-digit ObjID with 5-digit class 01003 (雨水井盖) in a CJ/T 214 delivery", "components: classify")
    # names one or two characters off
    for cls, wrong in (("0101", "供水井盖"), ("0104", "雨水篦子")):
        for j in _pick(rng, code == cls, 3, taken):
            pts.loc[j, "ObjName"] = wrong
            M.add(f, "points", pts.loc[j, "ObjID"], "部件名称不规范 class name off",
                  f"{wrong} instead of {'上水井盖' if cls == '0101' else '雨水箅子'}", "components: classify")
    for j in _pick(rng, np.ones(len(pts), bool), 5, taken):
        pts.loc[j, "DeptName1"] = ""
        M.add(f, "points", pts.loc[j, "ObjID"], "必填项缺失 missing DeptName1", "empty 主管部门名称",
              "validate: mandatory fields")
    for j in _pick(rng, np.ones(len(pts), bool), 5, taken):
        pts.loc[j, "ObjState"] = ""
        M.add(f, "points", pts.loc[j, "ObjID"], "必填项缺失 missing ObjState", "empty 部件状态",
              "validate: mandatory fields")
    for j in _pick(rng, np.ones(len(pts), bool), 1, taken):
        g = pts.geometry.iloc[j]
        pts.loc[j, "geometry"] = shapely.Point(g.x + 80000.0, g.y + 15000.0)
        M.add(f, "points", pts.loc[j, "ObjID"], "位置越界 point far outside the district",
              "moved 80 km east, 15 km north", "validate: extent / locate")
    pts = pd.concat([pts, dup], ignore_index=True)
    pts = pts.sort_values("ObjID", kind="stable").reset_index(drop=True)

    polys = comp.polygons.reset_index(drop=True).copy()
    j = int(np.flatnonzero(polys["ClassCode"].to_numpy() == "0405")[0])
    polys.loc[j, "geometry"] = _bowtie(polys.geometry.iloc[j])
    M.add(f, "polygons", polys.loc[j, "ObjID"], "无效面 invalid polygon (self-intersection)",
          "bowtie ring", "validate: geometry")
    layers = {}
    for name, g in (("points", pts), ("lines", comp.lines), ("polygons", polys)):
        layers[name] = gpd.GeoDataFrame(g[STD_FIELDS + ["geometry"]], geometry="geometry", crs=PROJECT_CRS)
    return layers


def _batch_b(rng, comp, street_of, M: Mistakes):
    f = "guixi/survey/components_b_gbk.shp"
    pts = comp.points[street_of == "360681002"].reset_index(drop=True)
    taken = np.zeros(len(pts), bool)
    code = pts["ClassCode"].to_numpy()
    sel, dup = _duplicates(rng, pts, 3, taken)
    for j in sel:
        M.add(f, "", f"{pts['ObjName'].iloc[j]}@{pts['LocateDSC'].iloc[j]}", "重复部件 duplicate component",
              "a second copy within 0.3 m", "validate: duplicates")
    new = {"0103": "01003", "0102": "01002", "0101": "01001", "0105": "01005"}
    for j in _pick(rng, np.isin(code, list(new)), 4, taken):
        pts.loc[j, "ClassCode"] = new[code[j]]
        M.add(f, "", f"row {j}", "新版标准代码 GB/T 47678 code", f"小类代码 {new[code[j]]} (5 digits)",
              "components: classify")
    for j, bad in zip(_pick(rng, np.ones(len(pts), bool), 2, taken), ("0199", "0720")):
        pts.loc[j, "ClassCode"] = bad
        M.add(f, "", f"row {j}", "小类代码不存在 class code not in table", f"小类代码 {bad}", "components: classify")
    for j in _pick(rng, code == "0104", 2, taken):
        pts.loc[j, "ObjName"] = "雨水篦子"
        M.add(f, "", f"row {j}", "部件名称不规范 class name off", "雨水篦子 instead of 雨水箅子", "components: classify")
    for j in _pick(rng, np.ones(len(pts), bool), 2, taken):
        pts.loc[j, "DeptName1"] = ""
        M.add(f, "", f"row {j}", "必填项缺失 missing 主管部门", "empty 主管部门", "validate: mandatory fields")
    pts = pd.concat([pts, dup], ignore_index=True)
    out = pts[list(GBK_FIELDS) + ["geometry"]].rename(columns=GBK_FIELDS)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=PROJECT_CRS).to_crs("EPSG:4326")
    M.add(f, "", "(file)", "编码未声明 GBK Shapefile without .cpg",
          "DBF text and field names in GBK, no .cpg; WGS-84 lon/lat", "components: intake (encoding)")
    return out


def _batch_cd(rng, comp, street_of, M: Mistakes):
    fc, fd = "guixi/survey/components_c.csv", "guixi/survey/components_d.xlsx"
    pts = comp.points[street_of == "360681003"].reset_index(drop=True)
    phone = pts["ClassCode"].isin(PHONE_CLASSES).to_numpy()
    c, d = pts[~phone].reset_index(drop=True), pts[phone].reset_index(drop=True)
    taken = np.zeros(len(c), bool)
    sel, dup = _duplicates(rng, c, 3, taken)
    for j in sel:
        M.add(fc, "", f"{c['ObjName'].iloc[j]}@{c['LocateDSC'].iloc[j]}", "重复部件 duplicate component",
              "a second copy within 0.3 m", "validate: duplicates")
    for j in _pick(rng, np.ones(len(c), bool), 3, taken):
        c.loc[j, "ObjState"] = ""
        M.add(fc, "", f"row {j}", "必填项缺失 missing state", "empty state", "validate: mandatory fields")
    j = _pick(rng, np.ones(len(c), bool), 1, taken)[0]
    c.loc[j, "ClassCode"] = "099"
    M.add(fc, "", f"row {j}", "小类代码不存在 class code not in table", "class_code 099 (3 digits, leading zero lost)",
          "components: classify")
    # three phone-captured features also delivered in C (cross-batch duplicates)
    cross = np.sort(rng.choice(len(d), 3, replace=False))
    for k in cross:
        M.add(fc + " + " + fd, "", f"{d['ObjName'].iloc[k]}@{d['LocateDSC'].iloc[k]}",
              "跨批次重复 duplicate across deliveries", "same feature in C (WGS-84) and D (GCJ-02)",
              "components: intake (GCJ-02) + validate: duplicates")
    c = pd.concat([c, dup, d.iloc[cross]], ignore_index=True)
    cg = gpd.GeoSeries(c.geometry, crs=PROJECT_CRS).to_crs("EPSG:4326")
    csv = c[list(CSV_FIELDS)].rename(columns=CSV_FIELDS)
    csv["lon"], csv["lat"] = cg.x.round(7).to_numpy(), cg.y.round(7).to_numpy()

    dg = gpd.GeoSeries(d.geometry, crs=PROJECT_CRS).to_crs("EPSG:4326")
    glon, glat = wgs84_to_gcj02(dg.x.to_numpy(), dg.y.to_numpy())
    xl = pd.DataFrame({"序号": np.arange(1, len(d) + 1), "部件名称": d["ObjName"], "小类编码": d["ClassCode"],
                       "经度": np.round(glon, 6), "纬度": np.round(glat, 6), "权属单位": d["DeptName2"],
                       "状态": d["ObjState"], "采集时间": d["CHDate"] + " 10:00:00", "采集人": "外业采集员",
                       "备注": ""})
    j = int(rng.integers(0, len(xl)))
    xl.loc[j, "部件名称"] = ""
    M.add(fd, "部件采集", f"序号 {j + 1}", "必填项缺失 missing 部件名称", "empty name (class code present)",
          "validate: mandatory fields")
    M.add(fd, "部件采集", "(file)", "火星坐标 GCJ-02 coordinates", "经度/纬度 are GCJ-02 (phone app), ~500 m off WGS-84",
          "components: intake (GCJ-02)")
    return csv, xl


# ---------------------------------------------------------------------------------------------
def build_sample(out=REPO_SAMPLE, osm=DEFAULT_OSM, seed: int = 20240601, feedback=None) -> dict:
    out, osm = Path(out), Path(osm)
    prog = (lambda p: feedback.progress(p)) if feedback is not None else (lambda p: None)
    if not osm.exists():
        raise SurveyError(Text("找不到 OSM 文件。", "OSM file not found."), file=str(osm),
                          hint=Text("使用仓库中的 sample_data/osm/mapofgx.osm。",
                                    "Use the repository's sample_data/osm/mapofgx.osm."))
    data = read_osm(osm)
    prog(10)
    dist = build_district(data)
    prog(25)
    (out / "osm").mkdir(parents=True, exist_ok=True)
    if (out / "osm" / "mapofgx.osm").resolve() != osm.resolve():
        shutil.copyfile(osm, out / "osm" / "mapofgx.osm")
        readme = osm.parent / "README.md"
        if readme.exists() and (out / "osm" / "README.md").resolve() != readme.resolve():
            shutil.copyfile(readme, out / "osm" / "README.md")

    g = out / "guixi"
    base = {"streets": dist.streets, "communities": dist.communities,
            "roads": dist.roads, "rivers": dist.rivers, "water": dist.water,
            "railways": dist.railways, "buildings": dist.buildings}
    write_gpkg(base, g / "base.gpkg")
    prog(35)

    comp = generate_components(dist.roads, seed)
    prog(55)
    rp = shapely.point_on_surface(comp.points.geometry.values)
    j = gpd.sjoin(gpd.GeoDataFrame(geometry=rp, crs=PROJECT_CRS), dist.streets[["code", "geometry"]],
                  predicate="within", how="left")
    street_of = j.groupby(level=0)["code"].first().reindex(range(len(rp))).fillna("").to_numpy()

    rng = np.random.default_rng(seed + 13)
    M = Mistakes()
    s = g / "survey"
    a = _batch_a(rng, comp, street_of, M)
    write_gpkg(a, s / "components_a.gpkg")
    b = _batch_b(rng, comp, street_of, M)
    write_gbk_shapefile(b, s / "components_b_gbk.shp")
    c, d = _batch_cd(rng, comp, street_of, M)
    write_csv(c, s / "components_c.csv")
    write_xlsx({"部件采集": d}, s / "components_d.xlsx")
    prog(75)

    plates = generate_doorplates(dist.roads, seed)
    write_gpkg({"doorplates": plates}, s / "doorplates.gpkg")
    events = generate_events(comp.points, 60, seed)
    write_csv(events, s / "events.csv")
    depts = departments()
    write_xlsx({"部门": depts}, s / "departments.xlsx")
    write_csv(M.frame(), g / "mistakes.csv")
    prog(100)

    counts = {
        "streets": len(dist.streets), "communities": len(dist.communities),
        "components": {"points": len(comp.points), "lines": len(comp.lines), "polygons": len(comp.polygons)},
        "components_by_class": comp.all()["ObjName"].value_counts().sort_index().to_dict(),
        "batches": {"a_points": len(a["points"]), "b": len(b), "c": len(c), "d": len(d)},
        "doorplates": len(plates), "events": len(events), "departments": len(depts), "mistakes": len(M.rows),
    }
    outputs = {"BASE": g / "base.gpkg", "SURVEY": s, "MISTAKES": g / "mistakes.csv"}
    return {"counts": counts, "outputs": outputs}
