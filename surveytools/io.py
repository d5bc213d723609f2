"""Reading the vector inputs users give: ``PATH[:LAYER]``, any OGR format, any CRS, any encoding.

Shapefiles from Chinese survey contractors are often GBK without a ``.cpg``; the encoding is
detected from the ``.dbf`` bytes and reported, never guessed silently.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SurveyError
from .i18n import Text


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


def detect_dbf_encoding(shp_path: str) -> tuple[str | None, bool]:
    """(encoding, detected) for a Shapefile: the .cpg if present, else UTF-8 if the .dbf's bytes
    decode as UTF-8, else GB18030 (a superset of GBK/GB2312)."""
    base = os.path.splitext(shp_path)[0]
    for ext in (".cpg", ".CPG"):
        if os.path.exists(base + ext):
            with open(base + ext, "rb") as f:
                enc = f.read().decode("ascii", "ignore").strip()
            return _normalise_encoding(enc), False
    dbf = next((base + e for e in (".dbf", ".DBF") if os.path.exists(base + e)), None)
    if dbf is None:
        return None, False
    with open(dbf, "rb") as f:
        data = f.read()
    if len(data) < 32:
        return None, False
    body = data[32:]  # field descriptors and records: both may carry Chinese
    if all(b < 0x80 for b in body[:1 << 20]) and all(b < 0x80 for b in body[-(1 << 20):]):
        return "UTF-8", True  # plain ASCII: any encoding reads it
    try:
        body.decode("utf-8")
        return "UTF-8", True
    except UnicodeDecodeError:
        pass
    try:
        body.decode("gb18030")
        return "GB18030", True
    except UnicodeDecodeError:
        return "latin-1", True


def _normalise_encoding(enc: str) -> str:
    e = enc.upper().replace("_", "-")
    if e in ("936", "CP936", "GBK", "GB2312", "GB-2312", "ANSI 936", "GB18030"):
        return "GB18030"
    if e in ("65001", "UTF8", "UTF-8"):
        return "UTF-8"
    return enc


def read_vector(spec, *, to_crs=None, columns=None, encoding: str | None = None, what: Text | None = None):
    """Read ``PATH[:LAYER]`` into a GeoDataFrame; return (gdf, Source).

    ``to_crs`` reprojects (the layer must have a CRS then).  Errors name the file and layer.
    """
    import pyogrio

    path, layer = parse_layer_spec(spec)
    src = Source(path=path, layer=layer)
    try:
        layers = pyogrio.list_layers(path)
    except Exception as e:
        raise SurveyError(Text(f"无法打开矢量数据：{e}", f"cannot open the vector data: {e}"), code="unreadable",
                          file=path) from None
    names = [str(n) for n, _ in layers]
    if layer is None:
        if len(names) > 1:
            raise SurveyError(Text(f"文件包含多个图层（{', '.join(names)}），请用 PATH:LAYER 指定",
                                   f"the file holds several layers ({', '.join(names)}); name one as PATH:LAYER"),
                              code="layer_required", file=path)
        layer = names[0] if names else None
    elif layer not in names:
        raise SurveyError(Text(f"图层不存在（可用：{', '.join(names)}）", f"no such layer (available: {', '.join(names)})"),
                          code="no_layer", file=path, layer=layer)
    src.layer = layer
    is_shp = path.lower().endswith(".shp") or (os.path.isdir(path) and Path(path, f"{layer}.shp").exists())
    if encoding is None and is_shp:
        shp = path if path.lower().endswith(".shp") else str(Path(path, f"{layer}.shp"))
        encoding, src.encoding_detected = detect_dbf_encoding(shp)
    src.encoding = encoding
    try:
        kw = {"encoding": encoding} if encoding else {}
        gdf = pyogrio.read_dataframe(path, layer=layer, columns=columns, use_arrow=not encoding, **kw)
    except Exception as e:
        raise SurveyError(Text(f"读取图层失败：{e}", f"failed to read the layer: {e}"), code="unreadable",
                          file=path, layer=layer) from None
    info = pyogrio.read_info(path, layer=layer, **({"encoding": encoding} if encoding else {}))
    src.driver = str(info.get("driver") or "")
    src.crs = info.get("crs")
    src.count = len(gdf)
    if to_crs is not None and "geometry" in gdf:
        if gdf.crs is None:
            raise SurveyError(Text("图层没有坐标系（缺少 .prj 或 CRS 定义），无法转换到项目坐标系",
                                   "the layer has no CRS (no .prj or CRS definition), so it cannot be reprojected to "
                                   "the project CRS"), code="no_crs", file=path, layer=layer,
                              hint=Text("为数据补充坐标系，或在命令中用 --source-crs 指定",
                                        "add a CRS to the data, or give --source-crs"))
        gdf = gdf.to_crs(to_crs)
    return gdf, src
