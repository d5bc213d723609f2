"""GeoPackage I/O: typed empty layers, Arrow writes, atomic outputs.

A write into a survey project inside ``Project.transaction()`` is staged and committed with the
operation in one SQLite transaction (see :mod:`surveytools.store.gpkg`).

All writes go through pyogrio's Arrow path (``write_arrow``), which keeps Date/Integer types and
is the fastest path GDAL offers.  A new output file is written beside its target under a
temporary name and renamed into place only when complete, so a failure or a cancel never leaves
a half-written file, and an existing file is never touched until the new one is whole.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

import pyarrow as pa

from .errors import SurveyError
from .i18n import Text

ARROW_TYPES = {"text": pa.string(), "integer": pa.int64(), "real": pa.float64(), "date": pa.date32(),
               "datetime": pa.timestamp("ms")}
OGR_GEOMETRY = {"point": "Point", "line": "LineString", "polygon": "Polygon", "multipolygon": "MultiPolygon",
                "multipoint": "MultiPoint", "multiline": "MultiLineString"}
#: GeoPackage 1.2: QGIS 3.22's GDAL 3.6 warns on the 1.4 files newer GDAL writes by default
DATASET_OPTIONS = {"VERSION": "1.2"}


def schema_table(fields, geometry: bool) -> pa.Table:
    """An empty Arrow table with one column per field row (``name``, ``type``) plus ``geom``."""
    cols = {row["name"]: pa.array([], ARROW_TYPES[row["type"]]) for _, row in fields.iterrows()}
    if geometry:
        cols["geom"] = pa.array([], pa.binary())
    return pa.table(cols)


def write_layer(path, layer: str, table: pa.Table, *, geometry_type: str | None = None, crs=None,
                append: bool = False, spatial_index: bool = True, description: str | None = None) -> None:
    """Write an Arrow table (geometry as WKB column ``geom``) or an attribute-only table."""
    from pyogrio.raw import write_arrow

    from .store.gpkg import write_target

    _configure_gdal()
    # inside a project transaction the write is staged and committed with the operation
    staged, append = write_target(path, layer, append)
    if staged != str(path):
        spatial_index = True  # the commit copies the staged R-tree (see store/gpkg.py)
    path = staged
    kw = {}
    if geometry_type:
        kw.update(geometry_name="geom", geometry_type=OGR_GEOMETRY.get(geometry_type, geometry_type),
                  crs=crs)
    layer_options = {"SPATIAL_INDEX": "YES" if spatial_index else "NO"} if geometry_type else {}
    if description:
        layer_options["DESCRIPTION"] = description
    write_arrow(table, path, layer=layer, driver="GPKG", append=append,
                dataset_options=None if os.path.exists(path) else DATASET_OPTIONS,
                layer_options=layer_options or None, **kw)


def _configure_gdal() -> None:
    """No fsync while writing: every write goes to a temporary file that is renamed into place
    only when complete, so a crash can never leave a damaged output behind."""
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_CACHE": "512"})


def list_layers(path) -> list[str]:
    """Layer names of a GeoPackage (of a project: as the running operation sees it)."""
    from .store.gpkg import list_layers as store_list_layers

    return store_list_layers(path)


@contextlib.contextmanager
def atomic_output(target, *, overwrite: bool = False, suffix: str = ".gpkg"):
    """Yield a temporary path beside ``target``; on success rename it onto ``target``."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise SurveyError(Text("输出文件已存在；如需覆盖请使用 --overwrite", "the output already exists; use --overwrite to replace it"),
                          code="exists", file=str(target))
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise SurveyError(Text("输出目录不存在", "the output folder does not exist"), code="no_dir", file=str(parent))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp" + suffix, dir=parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL must create the file itself
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        for extra in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
            if os.path.exists(extra):
                os.unlink(extra)


def sqlite_connect(path) -> sqlite3.Connection:
    """A plain SQLite connection to a GeoPackage for attribute-only reads and small updates."""
    if not Path(path).exists():
        raise SurveyError(Text("文件不存在", "file not found"), code="not_found", file=str(path))
    con = sqlite3.connect(str(path))
    return con
