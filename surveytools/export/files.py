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
    from ..gpkg import atomic_folder, move_into
    from ..tabular import write_rows_csv

    out_dir = Path(out_dir)
    rel = plan(proj)
    report = {"format": fmt, "encoding": enc, "files": [], "warnings": [], "field_mapping": [], "unencodable": []}
    with atomic_folder(out_dir) as tmp:
        (tmp / "tables").mkdir()
        specs = [s for s in rel.specs if s.geometry]
        for i, spec in enumerate(specs):
            t = table_data(rel, spec)
            feedback.progress(5 + 80 * i / len(specs))
            if t.num_rows == 0:
                continue
            df = _check_encoding(t.drop(["geom"]).to_pandas(), enc, spec.name, fmt, report)
            geoms = shapely.from_wkb(t.column("geom").to_numpy(zero_copy_only=False))
            gdf = gpd.GeoDataFrame(df, geometry=geoms, crs=proj.crs)
            if fmt == "shp":
                mapping = shp_field_names(list(df.columns), enc)
                for src, dst in mapping.items():
                    report["field_mapping"].append({"table": spec.name, "file": f"{spec.name}.shp", "field": src,
                                                    "shp_field": dst, "renamed": src != dst})
                for c in df.columns:
                    if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype):
                        nb = df[c].dropna().astype(str).map(lambda v: len(v.encode(enc.lower(), errors="replace")))
                        if len(nb) and nb.max() > 254:
                            report["warnings"].append(Text(f"{spec.name}.{c} 有 {int((nb > 254).sum())} 个值超过 Shapefile 的 254 字节上限，已截断",
                                                           f"{spec.name}.{c}: {int((nb > 254).sum())} values exceed "
                                                           "the Shapefile limit of 254 bytes and were cut"))
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
            _write_csv(_check_encoding(t.to_pandas(), enc, name, "tables/csv", report), tmp / "tables" / f"{name}.csv", enc)
            report["files"].append(f"tables/{name}.csv")
        # component photos: the files in photos/ and their list in tables/photos.csv (paths relative to the export)
        from .photos import fill_folder, photo_rows

        pdf, pfiles = photo_rows(proj, report["warnings"], prefix="photos/")
        if pfiles:
            fill_folder(tmp / "photos", pfiles)
            _write_csv(_check_encoding(pdf, enc, "photos", "tables/csv", report), tmp / "tables" / "photos.csv", enc)
            report["files"] += ["tables/photos.csv"] + [f"photos/{name}" for _src, name in pfiles]
        report["photos"] = len(pfiles)
        if fmt == "shp":
            write_rows_csv(tmp / "field_mapping.csv", ["table", "file", "field", "shp_field", "renamed"],
                           report["field_mapping"])
            report["files"].append("field_mapping.csv")
        if report["unencodable"]:
            bad = report["unencodable"]
            write_rows_csv(tmp / UNENCODABLE_FILE, ["file", "table", "feature", "id_field", "id", "field", "value", "characters"],
                           bad)
            report["files"].append(UNENCODABLE_FILE)
            sample_zh = "；".join(f"{b['table']} 第 {b['feature']} 行（{b['id_field']}={b['id']}）字段 {b['field']}：{b['characters']}"
                                 for b in bad[:5])
            sample_en = "; ".join(f"{b['table']} row {b['feature']} ({b['id_field']}={b['id']}) field {b['field']}: {b['characters']}"
                                 for b in bad[:5])
            report["warnings"].append(Text(
                f"有 {len(bad)} 个值含有 {enc} 编码无法表示的字符（如表情符号、扩展汉字），这些字符在文件中被替换为“?”；"
                f"全部清单见 {UNENCODABLE_FILE}：{sample_zh}。如需原样保留，请用 --encoding utf-8 重新导出",
                f"{len(bad)} values hold characters that {enc} cannot represent (e.g. emoji, CJK extension characters); "
                f"they were replaced by '?' in the files; every one is listed in {UNENCODABLE_FILE}: {sample_en}. "
                "Export again with --encoding utf-8 to keep them"))
            feedback.warning(report["warnings"][-1])
        (tmp / "README.txt").write_text(_readme(rel, fmt, enc), encoding="utf-8")
        report["files"].append("README.txt")
        feedback.progress(95)
        move_into(tmp, out_dir)
    report["warnings"] += rel.warnings
    return report


UNENCODABLE_FILE = "unencodable_values.csv"


def _check_encoding(df, enc: str, table: str, fmt: str, report: dict):
    """Find every text value ``enc`` cannot hold; list it in ``report["unencodable"]`` (row, id, field, value,
    the characters) and return ``df`` with those characters replaced by '?' (so none vanish silently)."""
    import pandas as pd

    if enc == "UTF-8":
        return df
    codec = enc.lower()
    out = df
    id_field = df.columns[0] if len(df.columns) else ""
    for c in df.columns:
        s = df[c]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        try:
            text = s.astype("string")
        except (TypeError, ValueError):
            continue
        nonascii = ~text.str.isascii().fillna(True).astype(bool)
        if not nonascii.any():
            continue
        cand = text[nonascii]
        back = cand.str.encode(codec, errors="replace").str.decode(codec)
        bad = cand[back != cand]
        if not len(bad):
            continue
        ext = {"shp": ".shp", "csv": ".csv"}.get(fmt, ".csv")
        file = f"tables/{table}.csv" if fmt == "tables/csv" else f"{table}{ext}"
        for idx, v in bad.items():
            chars = "".join(dict.fromkeys(ch for ch in v if not _encodable(ch, codec)))
            report["unencodable"].append({"file": file, "table": table, "feature": int(df.index.get_loc(idx)) + 1,
                                          "id_field": id_field, "id": df.at[idx, id_field] if id_field else "",
                                          "field": c, "value": v,
                                          "characters": " ".join(f"{ch} U+{ord(ch):04X}" for ch in chars)})
        if out is df:
            out = df.copy()
        out.loc[bad.index, c] = back[back != cand]
    return out if isinstance(out, pd.DataFrame) else df


def _encodable(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
        return True
    except UnicodeEncodeError:
        return False


def _write_csv(df, path, enc: str) -> None:
    from ..tabular import write_csv

    write_csv(df, path, encoding="utf-8-sig" if enc == "UTF-8" else "gbk", errors="strict")


def _readme(rel, fmt, enc) -> str:
    crs = rel.meta["crs"]
    where = {"shp": f"Shapefile，字符编码 {enc}（见 .cpg）；字段名按 field_mapping.csv 截为 10 字节 / encoding {enc} (see .cpg); "
                    "field names cut to 10 bytes as listed in field_mapping.csv",
             "geojson": "GeoJSON（RFC 7946）：WGS 84 经纬度，UTF-8 / WGS 84 longitude-latitude, UTF-8",
             "csv": f"CSV：坐标系 {crs}，点图层含 X、Y 列，所有图层含 WKT 列；编码 {enc} / CRS {crs}, X/Y for points, WKT for all; encoding {enc}"}[fmt]
    return (f"{rel.meta['title']}\n交换文件 / Exchange files — surveytools {rel.meta['surveytools_version']}\n"
            f"标准配置 / profile: {rel.meta['profile']} ({rel.meta['profile_edition']})\n县 / county: {rel.meta['county']} "
            f"{rel.meta['county_name']}\n坐标系 / CRS: {crs}\n导出时间 / exported: {rel.meta['release_time']}\n格式 / format: {where}\n"
            "tables/: 部门、派遣矩阵、分类字典、值域 / departments, dispatch matrix, class dictionaries, domains\n"
            "photos/ + tables/photos.csv: 部件照片（如有），path 相对于本目录 / component photos (when any), path relative to "
            "this folder\n")
