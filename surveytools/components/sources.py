"""Reading survey deliveries as contractors hand them over.

* GeoPackage, Shapefile (GBK or UTF-8, with or without ``.cpg``: the encoding is detected from
  the ``.dbf`` bytes and reported), GeoJSON and any other OGR vector format, read with pyogrio's
  Arrow path;
* CSV (UTF-8 or GB18030, detected) and XLSX with coordinate columns: ``lon``/``lat`` (经度/纬度 …,
  EPSG:4326 unless ``source_crs``), ``x``/``y`` (the project CRS unless ``source_crs``; values
  that look like degrees are taken as EPSG:4326, and columns swapped by the surveying
  convention X = north are detected), or a WKT column.

Then, in this order: GCJ-02 / BD-09 coordinates are converted to WGS-84 when asked
(``coords``), and everything is reprojected to the project CRS with pyproj.  Each step is
recorded in :class:`SourceInfo`, which intake keeps in its batch record.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import SurveyError
from ..i18n import Text
from ..io import Source
from .mapping import COORD_NAMES, norm_field
from .store import GeomColumn


@dataclass
class SourceInfo(Source):
    """:class:`surveytools.io.Source` plus what intake learns about coordinates."""

    crs_how: str = ""                # "declared", "--source-crs", "assumed: lon/lat columns" …
    coords: str | None = None        # gcj02 / bd09 conversion applied
    coord_columns: dict = field(default_factory=dict)  # column -> x/y/lon/lat/wkt

    def as_dict(self) -> dict:
        return {**super().as_dict(), "crs_how": self.crs_how, "coords": self.coords,
                "coord_columns": self.coord_columns,
                "notes": [n.as_dict() if isinstance(n, Text) else n for n in self.notes]}


@dataclass
class SourceLayer:
    info: SourceInfo
    table: pa.Table          # attributes, source column names (in streamed mode: the eager columns)
    geoms: GeomColumn | None  # in the source CRS until :func:`to_project` runs
    source_crs: object = None  # pyproj CRS of the geometries (None: unknown)
    is_table: bool = False     # CSV / XLSX (coordinates come from columns)
    lazy: "LazyVector | None" = None  # streamed mode: the other columns are read chunk by chunk
    sample: pa.Table | None = None    # streamed mode: the first rows of every column
    #: tables: per record, None or (field, value, Text) saying why its coordinates give no geometry
    coord_problems: np.ndarray | None = None

    @property
    def columns(self) -> list:
        return list(self.lazy.columns) if self.lazy is not None else list(self.table.column_names)

    @property
    def count(self) -> int:
        return self.lazy.n if self.lazy is not None else self.table.num_rows

    def load(self, columns) -> None:
        """Streamed mode: read the geometry and ``columns`` of every record now."""
        if self.lazy is None:
            return
        self.table, self.geoms = self.lazy.read_eager(columns)

    def full_table(self) -> pa.Table:
        return self.lazy.read_all() if self.lazy is not None else self.table


#: vector layers with at least this many features are read in two passes: geometry and the
#: class and ID columns first, the other columns chunk by chunk while the output is written
STREAM_MIN = 200_000


def stream_min() -> int:
    return int(os.environ.get("SURVEYTOOLS_STREAM_MIN", STREAM_MIN))


class LazyVector:
    """A vector layer whose attribute columns are read on demand (pyogrio Arrow stream)."""

    def __init__(self, path, layer, encoding, columns, n):
        self.path, self.layer, self.encoding, self.columns, self.n = path, layer, encoding, list(columns), n

    def _kw(self):
        return {"encoding": self.encoding} if self.encoding else {}

    def read_eager(self, columns):
        import pyogrio

        meta, tab = pyogrio.read_arrow(self.path, layer=self.layer, columns=list(columns), **self._kw())
        gname = _geometry_column(meta, tab)
        geoms = GeomColumn(tab.column(gname)) if gname else None
        return (tab.drop([gname]) if gname else tab), geoms

    def read_all(self) -> pa.Table:
        import pyogrio

        _, tab = pyogrio.read_arrow(self.path, layer=self.layer, read_geometry=False, **self._kw())
        return tab

    def reader(self, columns, batch_size: int = 65536):
        """A forward reader: ``take(rows)`` returns the given (increasing) source rows."""
        return _ForwardReader(self, list(columns), batch_size)


class _ForwardReader:
    def __init__(self, lazy: LazyVector, columns, batch_size):
        import pyogrio

        self.columns = columns
        self._cm = pyogrio.open_arrow(lazy.path, layer=lazy.layer, columns=columns, read_geometry=False,
                                      batch_size=batch_size, use_pyarrow=True, **lazy._kw())
        _, self._reader = self._cm.__enter__()
        self.buf = None
        self.start = 0     # source row of buf[0]
        self.end = 0       # source row after the buffer

    def take(self, rows: np.ndarray) -> pa.Table:
        if len(rows) == 0:
            return pa.table({c: pa.array([], pa.string()) for c in self.columns})
        last = int(rows[-1])
        parts = [self.buf] if self.buf is not None else []
        while self.end <= last:
            b = self._reader.read_next_batch()
            parts.append(pa.Table.from_batches([b]))
            self.end += b.num_rows
        buf = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        first = int(rows[0]) - self.start
        if last - int(rows[0]) + 1 == len(rows):  # contiguous rows (every record accepted): a slice
            out = buf.slice(first, len(rows))
        else:
            out = buf.take(pa.array(np.asarray(rows, dtype=np.int64) - self.start))
        keep_from = last + 1 - self.start
        self.buf = buf.slice(keep_from)
        self.start = last + 1
        return out.select(self.columns)

    def close(self):
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = None


def _geometry_column(meta, tab):
    gname = meta.get("geometry_name") or "wkb_geometry"
    if gname not in tab.column_names:
        gname = next((f.name for f in tab.schema
                      if (f.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb"), None)
    return gname


def _crs_label(crs) -> str | None:
    if crs is None:
        return None
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def read_sources(spec, *, stream: bool = False) -> list:
    """``PATH[:LAYER]`` → list of :class:`SourceLayer` (attributes and raw geometries).  A
    GeoPackage without a layer name gives all its vector layers.  ``stream``: a single large
    vector layer is returned in streamed mode (see :class:`LazyVector`)."""
    from ..io import is_table_file, parse_layer_spec

    path, layer = parse_layer_spec(spec)
    if is_table_file(path):
        return [_read_table(path, layer)]
    return _read_vector(path, layer, stream=stream)


def _read_vector(path, layer, stream: bool = False) -> list:
    """Every wanted layer of ``path`` through the steps of :func:`surveytools.io.read_vector`
    (layer choice, Shapefile checks and encoding, read errors), as Arrow."""
    import pyogrio
    from pyproj import CRS

    from ..io import choose_layers, layer_encoding, list_vector_layers, read_errors

    layers = list_vector_layers(path)
    wanted = choose_layers(path, layer, several=True, layers=layers)
    out = []
    for name in wanted:
        info = SourceInfo(path=str(path), layer=name if len(layers) > 1 or layer else None)
        is_shp = layer_encoding(path, name, info)
        enc = info.encoding
        if stream and len(wanted) == 1:
            try:
                rinfo = pyogrio.read_info(path, layer=name, **({"encoding": enc} if enc else {}))
            except Exception:
                rinfo = None
            if rinfo is not None and int(rinfo.get("features") or 0) >= stream_min() and rinfo.get("geometry_type"):
                with read_errors(path, name):
                    meta, sample = pyogrio.read_arrow(path, layer=name, encoding=enc, max_features=200,
                                                      read_geometry=False)
                    sample.column_names  # noqa: B018  (field names that are not UTF-8 fail here)
                info.driver = str(rinfo.get("driver") or "")
                if not is_shp:
                    info.encoding = rinfo.get("encoding") or "UTF-8"
                crs = CRS.from_user_input(rinfo["crs"]) if rinfo.get("crs") else None
                info.crs, info.crs_how = _crs_label(crs), ("declared" if crs is not None else "")
                info.count = int(rinfo["features"])
                lazy = LazyVector(path, name, enc, [str(f) for f in rinfo["fields"]], info.count)
                out.append(SourceLayer(info, sample.slice(0, 0), None, crs, lazy=lazy, sample=sample))
                continue
        with read_errors(path, name):
            meta, tab = pyogrio.read_arrow(path, layer=name, encoding=enc)
            tab.column_names  # noqa: B018  (field names that are not UTF-8 fail here)
        info.driver = _driver(path)
        if not is_shp:
            info.encoding = meta.get("encoding") or "UTF-8"
        gname = _geometry_column(meta, tab)
        geoms = GeomColumn(tab.column(gname)) if gname else None
        attrs = tab.drop([gname]) if gname else tab
        crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
        info.crs, info.crs_how = _crs_label(crs), ("declared" if crs is not None else "")
        info.count = tab.num_rows
        out.append(SourceLayer(info, attrs, geoms, crs))
    return out


def _driver(path) -> str:
    ext = Path(str(path)).suffix.lower()
    return {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".dbf": "ESRI Shapefile", ".geojson": "GeoJSON",
            ".json": "GeoJSON", ".fgb": "FlatGeobuf", ".gml": "GML", ".kml": "KML", ".tab": "MapInfo File",
            ".mif": "MapInfo File", ".sqlite": "SQLite", ".gdb": "OpenFileGDB"}.get(ext, ext.lstrip("."))


def _read_table(path, sheet) -> SourceLayer:
    from ..io.tables import cells_to_text, read_table

    df, src = read_table(path, sheet, empty_as_null=True)
    info = SourceInfo(path=src.path, layer=src.layer, driver=src.driver, encoding=src.encoding,
                      encoding_detected=src.encoding_detected, notes=list(src.notes))
    if src.driver == "XLSX":
        df = cells_to_text(df)
    df.columns = [str(c).strip() for c in df.columns]
    df = df.loc[:, [c for c in df.columns if not c.startswith("Unnamed:")]]
    info.count = len(df)
    table = pa.Table.from_pandas(df, preserve_index=False)
    return SourceLayer(info, table, None, None, is_table=True)


# ----------------------------------------------------------------------------------------------
# coordinates of tables

def detect_coordinate_columns(columns, explicit: dict | None = None) -> dict:
    """column → x / y / lon / lat / wkt.  ``explicit`` (from the mapping file) wins."""
    found = {c: r for c, r in (explicit or {}).items() if c in columns}
    roles = set(found.values())
    for role in ("lon", "lat", "x", "y", "wkt"):
        if role in roles:
            continue
        for c in columns:
            if c not in found and norm_field(c) in COORD_NAMES[role]:
                found[c] = role
                roles.add(role)
                break
    return found


def table_geometry(layer: SourceLayer, coord_columns: dict, source_crs=None, project_crs=None) -> None:
    """Build the geometries of a CSV/XLSX layer from its coordinate columns (in place)."""
    from pyproj import CRS

    info = layer.info
    inv = {r: c for c, r in coord_columns.items()}
    info.coord_columns = dict(coord_columns)
    t = layer.table

    def wkt_geoms():
        import shapely

        w = t.column(inv["wkt"]).to_pylist()
        w = np.array([v if isinstance(v, str) and v.strip() else None for v in w], dtype=object)
        return shapely.from_wkt(w, on_invalid="ignore")

    if {"lon", "lat"} <= set(inv):
        xc, yc, kind = inv["lon"], inv["lat"], "lonlat"
    elif {"x", "y"} <= set(inv):
        xc, yc, kind = inv["x"], inv["y"], "xy"
    elif "wkt" in inv:
        xc = yc = None
        kind = "wkt"
    else:
        raise SurveyError(Text("表格中找不到坐标列（经度/纬度、lon/lat、X/Y 或 WKT）；可在对照表 fields 中标为 lon、lat、x、y 或 wkt",
                               "the table has no coordinate columns (lon/lat, 经度/纬度, X/Y or WKT); mark them as "
                               "lon, lat, x, y or wkt under fields in the mapping file"),
                          code="no_coordinates", file=info.path, layer=info.layer)
    if kind == "wkt":
        layer.geoms = GeomColumn(geoms=wkt_geoms())
    else:
        x, y = _coordinate_columns(layer, xc, yc)
        degrees = source_crs is None or source_crs.is_geographic
        if kind == "lonlat" and degrees:
            x, y = _swapped_lonlat(info, x, y, xc, yc)
        if kind == "xy" and source_crs is None:
            fin = np.isfinite(x) & np.isfinite(y)
            mx = np.median(np.abs(x[fin])) if fin.any() else 0
            my = np.median(np.abs(y[fin])) if fin.any() else 0
            if mx <= 180 and my <= 180 and (my <= 90 or mx <= 90):
                kind = "lonlat"
                info.notes.append(Text(f"X/Y 列的取值是经纬度（{xc}、{yc}），按 EPSG:4326 读取",
                                       f"the X/Y columns hold degrees ({xc}, {yc}); read as EPSG:4326"))
                x, y = _swapped_lonlat(info, x, y, xc, yc)
            elif mx > 1e6 > my > 1e5:
                x, y = y, x
                info.notes.append(Text(f"X/Y 列按测量习惯（X 为北坐标）互换：{xc} 为北坐标，{yc} 为东坐标",
                                       f"X/Y swapped as in the surveying convention (X = north): {xc} is northing, "
                                       f"{yc} easting"))
        if kind == "lonlat" and degrees:
            x, y = _lonlat_range(layer, x, y, xc, yc)
        layer.geoms = GeomColumn.from_xy(x, y)
        if "wkt" in inv:  # rows with a WKT geometry (lines, polygons) take it instead of the point
            w = wkt_geoms()
            has = ~np.array([g is None for g in w], dtype=bool)
            if has.any():
                g = layer.geoms.shapely().copy()
                g[has] = w[has]
                layer.geoms = GeomColumn(geoms=g)
    if source_crs is not None:
        layer.source_crs = source_crs
        info.crs, info.crs_how = _crs_label(source_crs), "--source-crs"
    elif kind == "lonlat":
        layer.source_crs = CRS.from_epsg(4326)
        info.crs, info.crs_how = "EPSG:4326", "经纬度列 lon/lat columns"
    else:
        layer.source_crs = CRS.from_user_input(project_crs) if project_crs is not None else None
        info.crs = _crs_label(layer.source_crs)
        info.crs_how = "假定为项目坐标系 assumed: the project CRS"
        info.notes.append(Text(f"坐标列没有声明坐标系，按项目坐标系 {info.crs} 读取；否则请用 --source-crs 指定",
                               f"the coordinate columns declare no CRS; read in the project CRS {info.crs} "
                               "(give --source-crs otherwise)"))


def _problem(layer, rows, field, values, zh: str, en: str, x=None, y=None):
    """Record why the coordinates of ``rows`` make no geometry (kept per row for the rejects)."""
    if layer.coord_problems is None:
        layer.coord_problems = np.full(layer.count, None, dtype=object)
    for i in np.flatnonzero(rows):
        if layer.coord_problems[i] is None:
            v = values[i]
            layer.coord_problems[i] = (field, v, Text(zh.format(field=field, value=v), en.format(field=field, value=v)))
    if x is not None:
        x[rows] = np.nan
    if y is not None:
        y[rows] = np.nan


def _coordinate_columns(layer, xc, yc):
    """Both coordinate columns parsed as users type them (:mod:`surveytools.io.coords`); a value
    that is not a coordinate is recorded with its field and value."""
    from ..io.coords import parse_numbers

    out = []
    for c in (xc, yc):
        vals = layer.table.column(c).to_pylist()
        num, empty, bad = parse_numbers(vals)
        _problem(layer, bad, c, vals, "字段 {field} 的值 {value!r} 不是坐标", "field {field}: {value!r} is not a coordinate")
        _problem(layer, empty, c, vals, "字段 {field} 为空，没有坐标", "field {field} is empty: no coordinate")
        out.append(num)
    return out


def _swapped_lonlat(info, x, y, xc, yc):
    """Longitude and latitude columns swapped as a whole (most latitudes beyond ±90 while the
    longitudes would fit as latitudes): swap them back and say so."""
    fin = np.isfinite(x) & np.isfinite(y)
    if fin.sum() and np.mean((np.abs(y[fin]) > 90) & (np.abs(x[fin]) <= 90)) > 0.5:
        info.notes.append(Text(f"经度列 {xc} 与纬度列 {yc} 的内容互换了（纬度超出 ±90°），已按 {xc}=纬度、{yc}=经度读取",
                               f"the longitude column {xc} and latitude column {yc} are swapped (latitudes beyond ±90°); "
                               f"read {xc} as latitude and {yc} as longitude"))
        return y, x
    return x, y


def _lonlat_range(layer, x, y, xc, yc):
    """Rows whose longitude or latitude is out of range are rejected naming the field and value
    (and, when swapping would fit, saying that the two look swapped)."""
    ylist = layer.table.column(yc).to_pylist()
    xlist = layer.table.column(xc).to_pylist()
    swapped = (np.abs(y) > 90) & (np.abs(y) <= 180) & (np.abs(x) <= 90)
    _problem(layer, swapped, yc, ylist, "纬度 {field}={value!r} 超出 ±90°，经纬度似乎互换了",
             "latitude {field}={value!r} is beyond ±90°; longitude and latitude look swapped", x, y)
    _problem(layer, np.abs(y) > 90, yc, ylist, "纬度 {field}={value!r} 超出 ±90°", "latitude {field}={value!r} is beyond ±90°",
             x, y)
    _problem(layer, np.abs(x) > 180, xc, xlist, "经度 {field}={value!r} 超出 ±180°", "longitude {field}={value!r} is beyond ±180°",
             x, y)
    return x, y


# ----------------------------------------------------------------------------------------------
# conversions

def _transform(tr, x, y):
    """``tr.transform`` on arrays (pyproj treats a one-element array as a scalar point)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 1:
        a, b = tr.transform(np.r_[x, x], np.r_[y, y])
        return np.asarray(a)[:1], np.asarray(b)[:1]
    return tr.transform(x, y)


def _check_crs(info, crs, xy, geo) -> None:
    """Degrees declared as metres (or metres as degrees) are an error saying so, not records that
    land nowhere."""
    import shapely

    from ..io.coords import crs_mismatch

    if xy is not None:
        fin = np.isfinite(xy[0]) & np.isfinite(xy[1])
        if not fin.any():
            return
        bounds = (xy[0][fin].min(), xy[1][fin].min(), xy[0][fin].max(), xy[1][fin].max())
    else:
        g = geo.shapely()
        g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
        if not len(g):
            return
        bounds = tuple(shapely.total_bounds(g))
    raise_crs_mismatch(crs_mismatch(bounds, crs), bounds, info.crs or _crs_label(crs), info.path, info.layer)


def raise_crs_mismatch(kind, bounds, crs_label, path, layer) -> None:
    from ..io import raise_crs_mismatch as _raise

    _raise(kind, bounds, crs_label, path, layer)


def to_project(layer: SourceLayer, project_crs, *, source_crs=None, coords: str | None = None) -> None:
    """GCJ-02/BD-09 → WGS-84 (when ``coords`` says so), then reproject to the project CRS (in place)."""
    import shapely
    from pyproj import CRS, Transformer

    from .. import chinacoords

    info = layer.info
    if layer.geoms is None:
        return
    if source_crs is not None and not layer.is_table:
        if layer.source_crs is not None and not layer.source_crs.equals(source_crs):
            info.notes.append(Text(f"数据声明的坐标系 {info.crs} 被 --source-crs {_crs_label(source_crs)} 取代",
                                   f"the declared CRS {info.crs} was overridden by --source-crs {_crs_label(source_crs)}"))
        layer.source_crs = source_crs
        info.crs, info.crs_how = _crs_label(source_crs), "--source-crs"
    src = layer.source_crs
    if src is None:
        raise SurveyError(Text("数据没有坐标系（缺少 .prj 或 CRS 定义），无法转换到项目坐标系",
                               "the data have no CRS (no .prj or CRS definition), so they cannot be reprojected to the "
                               "project CRS"), code="no_crs", file=info.path, layer=info.layer,
                          hint=Text("用 --source-crs 指定，例如 --source-crs EPSG:4326",
                                    "give --source-crs, e.g. --source-crs EPSG:4326"))
    target = CRS.from_user_input(project_crs)
    geo = layer.geoms
    xy = geo.point_xy()
    _check_crs(info, src, xy, geo)
    if coords:
        if not src.is_geographic:
            raise SurveyError(Text(f"--coords {coords} 只适用于经纬度坐标，而数据的坐标系 {info.crs} 是投影坐标系",
                                   f"--coords {coords} applies to longitude/latitude only, but the data's CRS {info.crs} is projected"),
                              code="coords_projected", file=info.path, layer=info.layer)
        fn = chinacoords.gcj02_to_wgs84 if coords == "gcj02" else chinacoords.bd09_to_wgs84
        if xy is not None:
            xy = fn(xy[0], xy[1])
        else:
            g = shapely.transform(geo.shapely(), lambda c: np.column_stack(fn(c[:, 0], c[:, 1])))
            geo = GeomColumn(geoms=g)
        info.coords = coords
        src = CRS.from_epsg(4326)
    if not src.equals(target):
        tr = Transformer.from_crs(src, target, always_xy=True)
        if xy is not None:
            xy = _transform(tr, xy[0], xy[1])
        else:
            g = shapely.transform(geo.shapely(), lambda c: np.column_stack(_transform(tr, c[:, 0], c[:, 1])))
            geo = GeomColumn(geoms=g)
    elif xy is not None and not coords:
        layer.geoms = geo
        return
    if xy is not None:
        geo = GeomColumn.from_xy(np.asarray(xy[0], dtype=float), np.asarray(xy[1], dtype=float))
    layer.geoms = geo
