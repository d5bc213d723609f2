"""Exchange files for other systems (交换文件): Shapefile, GeoJSON, CSV.

The same tables as the release (:mod:`.database`): every spatial table that holds features becomes one
file; the attribute tables (departments, dispatch matrix, class dictionaries, domains) are CSV files in
``tables/`` for every format.

* **Shapefile**: GBK by default (what most Chinese desktop GIS and case systems expect), with a ``.cpg``
  naming the encoding; ``--encoding utf-8`` on request.  dBase field names hold at most 10 bytes: names
  are cut by :func:`shp_field_names` (documented, collision-free) and the mapping is written to
  ``field_mapping.csv``.  Text longer than 254 bytes is cut by the format (reported as a warning).
* **GeoJSON**: RFC 7946 — WGS 84 longitude/latitude (reprojected from the project CRS), UTF-8, 7 decimals.
* **CSV**: the project CRS; points get ``X``/``Y`` columns, every layer a ``WKT`` column; UTF-8 with a BOM
  (Excel opens it) or GBK on request.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text

FORMATS = ("shp", "geojson", "csv")
ENCODINGS = {"gbk": "GBK", "utf-8": "UTF-8", "utf8": "UTF-8"}
ATTRIBUTE_TABLES = ("departments", "dispatch_matrix", "dict_component_classes", "dict_event_classes", "dict_domains")


def _byte_cut(name: str, n: int, encoding: str) -> str:
    out = ""
    for ch in name:
        if len((out + ch).encode(encoding, errors="replace")) > n:
            break
        out += ch
    return out


def shp_field_names(names, encoding: str = "GBK") -> dict:
    """Field name -> dBase name of at most 10 bytes in ``encoding``, unique ignoring case.

    Rule: names that fit (10 bytes or less) keep their name, in field order; a later one that equals an
    earlier one ignoring case gets the suffix treatment below.  Then each longer name is cut to 10 bytes; if
    that cut is taken it is cut to 8 bytes and ``_1``, ``_2`` … appended (7 bytes with ``_10`` … ``_99``).
    The mapping depends only on the field list, so it is stable between exports."""
    out, taken = {}, set()

    def place(name, cand):
        k = 1
        while cand.upper() in taken:
            suffix = f"_{k}"
            cand = _byte_cut(name, 10 - len(suffix), encoding) + suffix
            k += 1
        taken.add(cand.upper())
        out[name] = cand

    fits = [n for n in names if len(n.encode(encoding, errors="replace")) <= 10]
    for name in fits:
        place(name, name)
    for name in names:
        if name not in out:
            place(name, _byte_cut(name, 10, encoding))
    return {n: out[n] for n in names}


def export_files(proj, fmt: str, out_dir, encoding: str | None, feedback) -> dict:
    """Write the exchange files of ``fmt`` into ``out_dir``; return a report dict."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from .database import plan, table_data

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise SurveyError(Text(f"格式应为 {'/'.join(FORMATS)}", f"the format must be one of {'/'.join(FORMATS)}"),
                          code="bad_format", value=fmt)
    enc_key = (encoding or ("gbk" if fmt == "shp" else "utf-8")).lower()
    if enc_key not in ENCODINGS:
        raise SurveyError(Text("编码应为 gbk 或 utf-8", "the encoding must be gbk or utf-8"), code="bad_encoding", value=encoding)
    enc = ENCODINGS[enc_key]
    if fmt == "geojson" and enc != "UTF-8":
        raise SurveyError(Text("GeoJSON（RFC 7946）只能用 UTF-8 编码", "GeoJSON (RFC 7946) is always UTF-8"),
                          code="geojson_encoding", value=encoding)
    out_dir = Path(out_dir)
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    if not parent.exists():
        raise SurveyError(Text("输出目录的上级目录不存在", "the parent of the output folder does not exist"),
                          code="no_dir", file=str(parent))
    rel = plan(proj)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    report = {"format": fmt, "encoding": enc, "files": [], "warnings": [], "field_mapping": []}
    try:
        (tmp / "tables").mkdir()
        specs = [s for s in rel.specs if s.geometry]
        for i, spec in enumerate(specs):
            t = table_data(rel, spec)
            feedback.progress(5 + 80 * i / len(specs))
            if t.num_rows == 0:
                continue
            df = t.drop(["geom"]).to_pandas()
            geoms = shapely.from_wkb(t.column("geom").to_numpy(zero_copy_only=False))
            gdf = gpd.GeoDataFrame(df, geometry=geoms, crs=proj.crs)
            if fmt == "shp":
                mapping = shp_field_names(list(df.columns), enc)
                for src, dst in mapping.items():
                    report["field_mapping"].append({"table": spec.name, "file": f"{spec.name}.shp", "field": src,
                                                    "shp_field": dst, "renamed": src != dst})
                for c in df.columns:
                    if df[c].dtype == object or str(df[c].dtype).startswith("string"):
                        nb = df[c].dropna().astype(str).map(lambda v: len(v.encode(enc.lower(), errors="replace")))
                        if len(nb) and nb.max() > 254:
                            report["warnings"].append(Text(f"{spec.name}.{c} 有 {int((nb > 254).sum())} 个值超过 Shapefile 的 254 字节上限，已截断",
                                                           f"{spec.name}.{c}: {int((nb > 254).sum())} values exceed the Shapefile limit of 254 bytes and were cut"))
                gdf = gdf.rename(columns=mapping)
                path = tmp / f"{spec.name}.shp"
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gdf.to_file(path, driver="ESRI Shapefile", encoding=enc, engine="pyogrio")
                report["files"] += [f"{spec.name}{e}" for e in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
            elif fmt == "geojson":
                path = tmp / f"{spec.name}.geojson"
                import pyogrio

                pyogrio.write_dataframe(gdf, path, driver="GeoJSON", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "7"})
                report["files"].append(path.name)
            else:
                path = tmp / f"{spec.name}.csv"
                out = pd.DataFrame(df)
                if spec.geometry == "point":
                    xy = shapely.get_coordinates(geoms)
                    ok = ~shapely.is_missing(geoms)
                    out["X"] = pd.Series(index=out.index, dtype="float64")
                    out["Y"] = pd.Series(index=out.index, dtype="float64")
                    out.loc[ok, "X"] = xy[:, 0].round(3)
                    out.loc[ok, "Y"] = xy[:, 1].round(3)
                out["WKT"] = shapely.to_wkt(geoms, rounding_precision=3)
                _write_csv(out, path, enc)
                report["files"].append(path.name)
        for name in ATTRIBUTE_TABLES:
            spec = next(s for s in rel.specs if s.name == name)
            t = table_data(rel, spec)
            _write_csv(t.to_pandas(), tmp / "tables" / f"{name}.csv", enc)
            report["files"].append(f"tables/{name}.csv")
        if fmt == "shp":
            with open(tmp / "field_mapping.csv", "w", newline="", encoding="utf-8-sig") as f:
                w = csv.DictWriter(f, ["table", "file", "field", "shp_field", "renamed"])
                w.writeheader()
                w.writerows(report["field_mapping"])
            report["files"].append("field_mapping.csv")
        (tmp / "README.txt").write_text(_readme(rel, fmt, enc), encoding="utf-8")
        report["files"].append("README.txt")
        feedback.progress(95)
        _move_into(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    report["warnings"] += rel.warnings
    return report


def _write_csv(df, path, enc: str) -> None:
    df.to_csv(path, index=False, encoding="utf-8-sig" if enc == "UTF-8" else "gbk", errors="strict")


def _move_into(tmp: Path, out_dir: Path) -> None:
    """A new folder is renamed into place in one step; into an existing one each file is renamed."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    for src in sorted(tmp.rglob("*")):
        if src.is_file():
            dst = out_dir / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


def _readme(rel, fmt, enc) -> str:
    crs = rel.meta["crs"]
    where = {"shp": f"Shapefile，字符编码 {enc}（见 .cpg）；字段名按 field_mapping.csv 截为 10 字节 / encoding {enc} (see .cpg); "
                    "field names cut to 10 bytes as listed in field_mapping.csv",
             "geojson": "GeoJSON（RFC 7946）：WGS 84 经纬度，UTF-8 / WGS 84 longitude-latitude, UTF-8",
             "csv": f"CSV：坐标系 {crs}，点图层含 X、Y 列，所有图层含 WKT 列；编码 {enc} / CRS {crs}, X/Y for points, WKT for all; encoding {enc}"}[fmt]
    return (f"{rel.meta['title']}\n交换文件 / Exchange files — surveytools {rel.meta['surveytools_version']}\n"
            f"标准配置 / profile: {rel.meta['profile']} ({rel.meta['profile_edition']})\n县 / county: {rel.meta['county']} "
            f"{rel.meta['county_name']}\n坐标系 / CRS: {crs}\n导出时间 / exported: {rel.meta['release_time']}\n格式 / format: {where}\n"
            "tables/: 部门、派遣矩阵、分类字典、值域 / departments, dispatch matrix, class dictionaries, domains\n")
