"""Reading the inputs users give: vector layers ``PATH[:LAYER]`` (any OGR format, any CRS, any
encoding) here, tables in :mod:`.tables`, typed coordinates in :mod:`.coords`.

Shapefiles from Chinese survey contractors are often GBK without a ``.cpg``, or with a ``.cpg``
that lies; the encoding is detected from the ``.dbf`` bytes and reported, never guessed silently.
A damaged (truncated) Shapefile is an error, not a layer with missing geometries.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text


@dataclass
class Source:
    """Where a layer came from, for messages and reports."""

    path: str
    layer: str | None
    driver: str = ""
    encoding: str | None = None
    encoding_detected: bool = False
    crs: str | None = None
    count: int = 0
    notes: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.path}:{self.layer}" if self.layer else self.path

    def as_dict(self) -> dict:
        return {"path": self.path, "layer": self.layer, "driver": self.driver, "encoding": self.encoding,
                "encoding_detected": self.encoding_detected, "crs": self.crs, "count": self.count}


def parse_layer_spec(spec) -> tuple[str, str | None]:
    """``PATH[:LAYER]`` -> (path, layer).  A Windows drive letter or an existing path containing
    ':' is kept whole."""
    if spec is None or not str(spec).strip():
        raise SurveyError(Text("没有给出输入文件", "no input file was given"), code="not_found", value=spec)
    text = str(spec).strip()
    if os.path.exists(text):
        return text, None
    head, sep, tail = text.rpartition(":")
    if sep and head and os.path.exists(head):
        return head, tail or None
    raise SurveyError(Text("输入文件不存在", "input file not found"), code="not_found", file=text)


def _single_byte(enc: str) -> bool:
    import codecs

    try:
        name = codecs.lookup(enc).name
    except LookupError:
        return False
    return name.startswith(("iso8859", "latin", "cp125", "cp437", "cp850", "cp866", "mac-", "koi8", "ascii"))


def _cjk_share(text: str) -> float:
    high = [c for c in text if ord(c) >= 0x80]
    if not high:
        return 0.0
    cjk = sum(1 for c in high if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    return cjk / len(high)


def _body_encoding(body: bytes) -> str | None:
    """What the .dbf bytes are: "ascii", "UTF-8", "GB18030" (decodes strictly and reads as Chinese) or None."""
    if all(b < 0x80 for b in body[:1 << 20]) and all(b < 0x80 for b in body[-(1 << 20):]) and max(body, default=0) < 0x80:
        return "ascii"
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = body.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return "GB18030" if _cjk_share(text) >= 0.9 else None


def detect_dbf_encoding(shp_path: str, notes: list | None = None) -> tuple[str | None, bool]:
    """(encoding, detected) for a Shapefile.

    Without a ``.cpg``: UTF-8 if the .dbf's bytes decode as UTF-8, else GB18030 (a superset of
    GBK/GB2312) if they decode as such.  With a ``.cpg``, its word is checked against the bytes: a
    ``.cpg`` that says UTF-8 on GBK bytes, GBK on UTF-8 bytes, or a single-byte code page
    (ISO-8859-1 …) on Chinese bytes is overridden by what the bytes are, and a note saying so is
    appended to ``notes`` (the caller reports it as a warning).
    """
    base = os.path.splitext(shp_path)[0]
    declared = None
    for ext in (".cpg", ".CPG"):
        if os.path.exists(base + ext):
            with open(base + ext, "rb") as f:
                declared = _normalise_encoding(f.read().decode("ascii", "ignore").strip())
            break
    dbf = next((base + e for e in (".dbf", ".DBF") if os.path.exists(base + e)), None)
    if dbf is None:
        return declared, False
    with open(dbf, "rb") as f:
        data = f.read()
    if len(data) < 32:
        return declared, False
    actual = _body_encoding(data[32:])  # field descriptors and records: both may carry Chinese
    if declared is None:
        if actual in ("ascii", "UTF-8"):
            return "UTF-8", True
        try:
            data[32:].decode("gb18030")
            return "GB18030", True
        except UnicodeDecodeError:
            return "latin-1", True
    if actual in (None, "ascii") or actual == declared:
        return declared, False
    if declared in ("UTF-8", "GB18030") or _single_byte(declared):
        if notes is not None:
            notes.append(Text(f".cpg 文件声明编码为 {declared}，但 .dbf 的内容是 {actual} 编码：已按 {actual} 读取",
                              f"the .cpg file says {declared}, but the .dbf's bytes are {actual}: read as {actual}"))
        return actual, True
    return declared, False


def _normalise_encoding(enc: str) -> str:
    e = enc.upper().replace("_", "-")
    if e in ("936", "CP936", "GBK", "GB2312", "GB-2312", "ANSI 936", "GB18030"):
        return "GB18030"
    if e in ("65001", "UTF8", "UTF-8"):
        return "UTF-8"
    return enc


def list_vector_layers(path: str):
    """The ``(name, geometry type)`` pairs of the vector data at ``path``, after the input-file checks
    (missing, empty, a folder …); a file GDAL cannot open is a clear error naming it."""
    import pyogrio

    from .tables import check_input_file

    if os.path.isfile(path):
        check_input_file(path)
    try:
        return pyogrio.list_layers(path)
    except Exception as e:
        raise SurveyError(Text(f"无法打开矢量数据：{e}", f"cannot open the vector data: {e}"), code="unreadable",
                          file=path) from None


def choose_layers(path: str, layer: str | None, *, several: bool = False, layers=None) -> list:
    """The layer names of ``path`` to read: ``layer`` when given (an error naming the file and the
    layers it has when there is no such layer); else the only layer, or, with ``several``, every
    layer with geometries (every layer when none has any).  Without ``several`` a file of several
    layers is an error asking for ``PATH:LAYER``.  ``layers``: :func:`list_vector_layers` of ``path``
    when the caller has it already."""
    layers = list_vector_layers(path) if layers is None else layers
    names = [str(n) for n, _ in layers]
    if layer is not None:
        if layer not in names:
            raise SurveyError(Text(f"图层不存在（可用：{', '.join(names)}）", f"no such layer (available: {', '.join(names)})"),
                              code="no_layer", file=path, layer=layer)
        return [layer]
    if several:
        return [str(n) for n, g in layers if g is not None] or names
    if len(names) > 1:
        raise SurveyError(Text(f"文件包含多个图层（{', '.join(names)}），请用 PATH:LAYER 指定",
                               f"the file holds several layers ({', '.join(names)}); name one as PATH:LAYER"),
                          code="layer_required", file=path)
    return names[:1]


def layer_encoding(path: str, layer: str | None, src: Source) -> bool:
    """Check a Shapefile for damage and detect its encoding (``src.encoding``, ``src.encoding_detected``,
    a note when a ``.cpg`` lies); True when ``path:layer`` is a Shapefile.  Other formats keep
    ``src.encoding`` as it is (GDAL knows their encoding)."""
    low = str(path).lower()
    is_shp = low.endswith((".shp", ".dbf")) or (os.path.isdir(path) and Path(path, f"{layer}.shp").exists())
    if is_shp and src.encoding is None:
        shp = path if low.endswith((".shp", ".dbf")) else str(Path(path, f"{layer}.shp"))
        check_shapefile(shp)
        src.encoding, src.encoding_detected = detect_dbf_encoding(shp, src.notes)
    return is_shp


@contextlib.contextmanager
def read_errors(path: str, layer: str | None):
    """A context in which a failed pyogrio read becomes the error every reader gives: text that is
    not in the detected encoding (code ``encoding``) or a layer GDAL cannot read (``unreadable``),
    naming the file and layer."""
    import pyarrow as pa

    try:
        yield
    except SurveyError:
        raise
    except Exception as e:
        if isinstance(e, UnicodeDecodeError) or (isinstance(e, pa.ArrowInvalid) and "utf8" in str(e).lower()):
            raise SurveyError(Text("字段名或取值不是 UTF-8 编码，无法识别其编码", "field names or values are not UTF-8 and their "
                                   "encoding could not be recognised"), code="encoding", file=path, layer=layer,
                              hint=Text("为 Shapefile 补一个 .cpg 文件（如内容为 GBK），或将数据另存为 UTF-8",
                                        "add a .cpg file to the Shapefile (e.g. containing GBK), or save the data as UTF-8")
                              ) from None
        raise SurveyError(Text(f"读取图层失败：{e}", f"failed to read the layer: {e}"), code="unreadable",
                          file=path, layer=layer) from None


def is_table_file(path) -> bool:
    """A CSV/TXT/TSV or Excel file (read by :mod:`.tables`, never as a vector layer)."""
    from .tables import TABLE_EXT

    return str(path).lower().endswith(TABLE_EXT)


def no_geometry(path, layer) -> SurveyError:
    return SurveyError(Text("输入没有几何图形：这里需要一个矢量图层（GeoPackage、Shapefile、GeoJSON …）",
                            "the input has no geometries: a vector layer is needed here (GeoPackage, Shapefile, GeoJSON …)"),
                       code="no_geometry", file=path, layer=layer)


def read_vector(spec, *, to_crs=None, columns=None, encoding: str | None = None, what: Text | None = None,
                need_geometry: bool = True):
    """Read ``PATH[:LAYER]`` into a GeoDataFrame; return (gdf, Source).

    The one reader of the vector layers users hand over (:mod:`surveytools.components.sources`
    reads through the same steps: :func:`choose_layers`, :func:`layer_encoding`,
    :func:`read_errors`).  ``to_crs`` reprojects (the layer must have a CRS then).
    ``need_geometry``: a layer (or a CSV/XLSX table) without geometries is an error (code
    ``no_geometry``); without it a table comes back as a DataFrame.  Errors name the file and
    layer.
    """
    import pyogrio

    path, layer = parse_layer_spec(spec)
    if is_table_file(path):  # the table reader's checks (encoding …) first, then: no geometries here
        from .tables import read_table

        df, tsrc = read_table(path, layer)
        if need_geometry:
            raise no_geometry(tsrc.path, tsrc.layer)
        return df, tsrc
    layer = (choose_layers(path, layer) or [None])[0]
    src = Source(path=path, layer=layer, encoding=encoding)
    layer_encoding(path, layer, src)
    encoding = src.encoding
    with read_errors(path, layer):
        kw = {"encoding": encoding} if encoding else {}
        gdf = pyogrio.read_dataframe(path, layer=layer, columns=columns, use_arrow=not encoding, **kw)
        info = pyogrio.read_info(path, layer=layer, **kw)
    src.driver = str(info.get("driver") or "")
    src.crs = info.get("crs")
    src.count = len(gdf)
    if "geometry" not in gdf:
        if need_geometry:
            raise no_geometry(path, layer)
        return gdf, src
    if gdf.crs is not None and len(gdf):
        from pyproj import CRS

        from .coords import crs_mismatch

        g = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if len(g):
            bounds = tuple(g.total_bounds)
            raise_crs_mismatch(crs_mismatch(bounds, CRS.from_user_input(gdf.crs)), bounds, str(src.crs or gdf.crs),
                               path, layer)
    if to_crs is not None:
        if gdf.crs is None:
            raise SurveyError(Text("图层没有坐标系（缺少 .prj 或 CRS 定义），无法转换到项目坐标系",
                                   "the layer has no CRS (no .prj or CRS definition), so it cannot be reprojected to "
                                   "the project CRS"), code="no_crs", file=path, layer=layer,
                              hint=Text("为数据补充坐标系，或在命令中用 --source-crs 指定",
                                        "add a CRS to the data, or give --source-crs"))
        gdf = gdf.to_crs(to_crs)
    return gdf, src


def check_shapefile(shp_path: str) -> None:
    """A damaged Shapefile is an error naming the file and what is missing: a .shp, .shx or .dbf
    shorter than its own header says (a copy cut short), or a .shx pointing past the end of the
    .shp.  GDAL would read such a file with empty geometries or fewer records, silently."""
    import struct

    base = os.path.splitext(shp_path)[0]

    def find(ext):
        return next((base + e for e in (ext, ext.upper()) if os.path.exists(base + e)), None)

    def damaged(path, zh, en):
        return SurveyError(Text(f"Shapefile 已损坏：{zh}", f"the Shapefile is damaged: {en}"), code="damaged", file=path,
                           hint=Text("文件可能在复制或下载时中断，请重新获取完整的 .shp/.shx/.dbf",
                                     "the copy or download may have been cut short; fetch the whole .shp/.shx/.dbf again"))

    shp, shx, dbf = find(".shp"), find(".shx"), find(".dbf")
    size = {}
    for path in (shp, shx):
        if path is None:
            continue
        n = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(100)
        if len(head) < 100 or struct.unpack(">i", head[:4])[0] != 9994:
            raise damaged(path, f"文件头不完整或不是 Shapefile（{n} 字节）", f"its header is incomplete or not a Shapefile's ({n} bytes)")
        declared = struct.unpack(">i", head[24:28])[0] * 2
        if n < declared:
            raise damaged(path, f"文件被截断：只有 {n} 字节，文件头声明 {declared} 字节",
                          f"the file is truncated: {n} bytes of the {declared} its header declares")
        size[path] = n
    if shp is not None and shx is not None:
        import numpy as np

        idx = np.fromfile(shx, dtype=">i4", offset=100)
        if len(idx) >= 2:
            ends = (idx[0::2].astype(np.int64) + idx[1::2].astype(np.int64) + 4) * 2
            if ends.max() > size[shp]:
                k = int(np.argmax(ends > size[shp]))
                raise damaged(shp, f"从第 {k} 条记录起几何数据缺失（{size[shp]} 字节，索引要求 {int(ends.max())} 字节）",
                              f"geometries are missing from record {k} on ({size[shp]} bytes; the index needs "
                              f"{int(ends.max())})")
    if dbf is not None:
        n = os.path.getsize(dbf)
        with open(dbf, "rb") as f:
            head = f.read(32)
        if len(head) < 32:
            raise damaged(dbf, f"属性表文件头不完整（{n} 字节）", f"the attribute table's header is incomplete ({n} bytes)")
        records, hlen, rlen = struct.unpack("<IHH", head[4:12])
        need = hlen + records * rlen
        if n < need:
            raise damaged(dbf, f"属性表被截断：只有 {n} 字节，应有 {need} 字节（{records} 条记录）",
                          f"the attribute table is truncated: {n} bytes of {need} ({records} records)")


def raise_crs_mismatch(kind, bounds, crs_label, path, layer) -> None:
    """The error for :func:`surveytools.io.coords.crs_mismatch`'s finding (nothing when None)."""
    if kind is None:
        return
    b = ", ".join(f"{v:.4f}" for v in bounds)
    if kind == "degrees_as_projected":
        raise SurveyError(Text(f"坐标是经纬度（范围 {b}），但声明的坐标系 {crs_label} 是以米为单位的投影坐标系",
                               f"the coordinates are longitude/latitude (extent {b}), but the declared CRS {crs_label} "
                               "is projected, in metres"), code="crs_degrees_as_metres", file=path, layer=layer,
                          value=crs_label,
                          hint=Text("修正 .prj（经纬度为 EPSG:4490 或 EPSG:4326），或用 --source-crs EPSG:4326 指定",
                                    "fix the .prj (longitude/latitude is EPSG:4490 or EPSG:4326), or give --source-crs EPSG:4326"))
    raise SurveyError(Text(f"坐标以米为单位（范围 {b}），但声明的坐标系 {crs_label} 是经纬度坐标系",
                           f"the coordinates are in metres (extent {b}), but the declared CRS {crs_label} is "
                           "longitude/latitude"), code="crs_metres_as_degrees", file=path, layer=layer, value=crs_label,
                      hint=Text("修正 .prj，或用 --source-crs 指定投影坐标系（如 EPSG:4548）",
                                "fix the .prj, or give the projected CRS with --source-crs (e.g. EPSG:4548)"))
