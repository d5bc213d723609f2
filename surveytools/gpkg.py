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
from pathlib import Path

import pyarrow as pa

from .errors import SurveyError
from .i18n import Text

#: profile field type -> Arrow type (the one cast: :func:`surveytools.store.arrow.cast_frame`)
ARROW_TYPES = {"text": pa.string(), "integer": pa.int64(), "real": pa.float64(), "date": pa.date32(),
               "datetime": pa.timestamp("ms"), "boolean": pa.bool_()}
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
                append: bool = False, spatial_index: bool = True, description: str | None = None,
                durable: bool = False) -> None:
    """Write an Arrow table (geometry as WKB column ``geom``) or an attribute-only table.
    ``durable``: the file is a project written in place (WAL), not a temporary file: SQLite syncs
    as WAL needs to survive a power cut (``synchronous = NORMAL``)."""
    from pyogrio.raw import write_arrow

    from .store.gpkg import write_target

    _configure_gdal(durable)
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


def _configure_gdal(durable: bool = False) -> None:
    """No fsync while writing: every write goes to a temporary file that is renamed into place
    only when complete, so a crash can never leave a damaged output behind.  ``durable``: a
    project written in place by a helper process (``synchronous = NORMAL``), whose write-ahead log
    the operation's process folds into the file meanwhile (see
    :meth:`surveytools.store.gpkg.Transaction.fold_wal_while_writing`); its pages are appended and
    committed batch by batch, so a big page cache would only hold clean pages (up to 0.5 GB at 10M
    components beside the operation's own memory) and is not faster (measured at 1M)."""
    import pyogrio

    from .store.gpkg import HELPER_WAL_AUTOCHECKPOINT

    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "NORMAL" if durable else "OFF",
                                     "OGR_SQLITE_CACHE": "64" if durable else "512",
                                     "OGR_SQLITE_PRAGMA": f"wal_autocheckpoint={HELPER_WAL_AUTOCHECKPOINT}"})


def list_layers(path) -> list[str]:
    """Layer names of a GeoPackage (of a project: as the running operation sees it)."""
    from .store import list_layers as store_list_layers

    return store_list_layers(path)


def check_output_target(target, *, overwrite: bool = False, folder: bool = False) -> Path:
    """Refuse, before any work, an output that cannot be written: an existing file without ``overwrite``,
    a folder where a file is expected (or the reverse), a missing or read-only parent folder.  Returns the
    parent folder."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir() and not folder:
        raise SurveyError(Text("输出应为文件，但该路径是一个文件夹", "the output must be a file, but the path is a folder"),
                          code="is_a_directory", file=str(target),
                          hint=Text("请给出文件名，例如 out/result" + (target.suffix or ".gpkg"),
                                    "give a file name, e.g. out/result" + (target.suffix or ".gpkg")))
    if target.exists() and folder and not target.is_dir():
        raise SurveyError(Text("输出应为文件夹，但该路径是一个文件", "the output must be a folder, but the path is a file"),
                          code="not_a_directory", file=str(target))
    if target.exists() and not overwrite and not folder:
        raise SurveyError(Text("输出文件已存在；如需覆盖请使用 --overwrite", "the output already exists; use --overwrite to replace it"),
                          code="exists", file=str(target))
    if not parent.exists():
        raise SurveyError(Text("输出目录不存在", "the output folder does not exist"), code="no_dir", file=str(parent))
    if not parent.is_dir():
        raise SurveyError(Text("输出路径的上一级不是文件夹", "the output's parent is not a folder"), code="not_a_directory",
                          file=str(parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SurveyError(Text("没有写入输出文件夹的权限（只读或属于其他用户）",
                               "no permission to write into the output folder (read-only or another user's)"),
                          code="permission_denied", file=str(parent),
                          hint=Text("换一个有写权限的输出位置", "choose an output location you can write to"))
    return parent


@contextlib.contextmanager
def atomic_output(target, *, overwrite: bool = False, suffix: str = ".gpkg"):
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary name is tied to the target and this process (:mod:`surveytools.tempfiles`), and the
    leftovers of killed runs on the same target are removed first.  A failure of the environment inside
    the block (permissions, full disk …) becomes a :class:`SurveyError` naming ``target``; the temporary
    file is always removed and ``target`` keeps its previous content."""
    from .tempfiles import remove, temp_path

    target = Path(target)
    check_output_target(target, overwrite=overwrite)
    tmp = temp_path(target, suffix)
    try:
        with environment_errors_named(target):
            yield tmp
            os.replace(tmp, target)
    finally:
        remove(tmp)


@contextlib.contextmanager
def environment_errors_named(target):
    """Inside the block, a failure of the environment (permissions, full disk, a folder where a file
    is expected …) becomes a :class:`SurveyError` naming ``target``; anything else passes unchanged."""
    from .errors import environment_error

    try:
        yield
    except SurveyError:
        raise
    except Exception as e:
        env = environment_error(e, path=target)
        if env is not None:
            raise env from None
        raise


@contextlib.contextmanager
def atomic_folder(target):
    """Yield a new temporary folder beside the output folder ``target``; the caller moves its files into
    place (:func:`move_into`).  Like :func:`atomic_output`: stale leftovers removed first, environment
    failures named, the temporary folder always removed."""
    from .errors import environment_error
    from .tempfiles import remove, temp_dir

    target = Path(target)
    check_output_target(target, folder=True)
    if target.exists() and not os.access(target, os.W_OK | os.X_OK):
        raise SurveyError(Text("没有写入输出文件夹的权限（只读或属于其他用户）",
                               "no permission to write into the output folder (read-only or another user's)"),
                          code="permission_denied", file=str(target))
    try:
        tmp = temp_dir(target)
    except OSError as e:
        raise (environment_error(e, path=target) or e) from None
    try:
        with environment_errors_named(target):
            yield tmp
    finally:
        remove(tmp)


def move_into(tmp: Path, out_dir: Path, files=None) -> None:
    """Move the files of the temporary folder ``tmp`` into ``out_dir``: a new folder is renamed into place
    in one step; into an existing one each file is renamed (each file replaced atomically)."""
    out_dir = Path(out_dir)
    if not out_dir.exists() and files is None:
        os.replace(tmp, out_dir)
        return
    out_dir.mkdir(exist_ok=True)
    srcs = [tmp / f for f in files] if files is not None else sorted(p for p in tmp.rglob("*") if p.is_file())
    for src in srcs:
        dst = out_dir / src.relative_to(tmp)
        if dst.is_dir():
            raise SurveyError(Text("输出应为文件，但该路径是一个文件夹", "the output must be a file, but the path is a folder"),
                              code="is_a_directory", file=str(dst))
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def sqlite_connect(path) -> sqlite3.Connection:
    """A plain SQLite connection to a GeoPackage for attribute-only reads and small updates."""
    if not Path(path).exists():
        raise SurveyError(Text("文件不存在", "file not found"), code="not_found", file=str(path))
    con = sqlite3.connect(str(path))
    return con
