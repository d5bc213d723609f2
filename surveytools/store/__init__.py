"""The project store: how every operation opens, reads and writes a survey project.

A project is addressed by a URI: a ``.gpkg`` path (the GeoPackage backend, :mod:`.gpkg`) or
``postgresql://user@host:port/db?schema=NAME`` (a PostGIS schema, :mod:`.pg`).  Every function here
takes either and dispatches on it.

* :func:`open_project` — the :class:`~surveytools.project.Project` at a URI;
* ``project.transaction()`` — one operation = one database transaction, in place, under the
  project lock (:mod:`.lock`); writes through :func:`surveytools.gpkg.write_layer` inside it are
  staged and committed together (:mod:`.gpkg`);
* :func:`read_arrow`, :func:`read_dataframe`, :func:`list_layers`, :func:`feature_count`,
  :func:`field_names`, :func:`read_info`, :func:`table_exists` — reads that see the running operation's own writes;
* :func:`update_rows`, :func:`delete_rows` — keyed writes inside a transaction;
* :mod:`.log` — the edit log (triggers) and the state of a layer at a past time;
* :func:`project_folder`, :func:`project_name`, :func:`change_stamp`, :func:`is_project_file`,
  :func:`write_target` — what operations need to know about where a project lives, without
  treating its address as a file path (a PostGIS project has none).
"""
from __future__ import annotations

from . import gpkg as _gpkg
from . import lock as _lock
from .gpkg import active  # noqa: F401
from .pg import is_postgres  # noqa: F401

#: environment variable naming the folder for the side files of PostGIS projects (one subfolder per schema)
FOLDER_ENV = "SURVEYTOOLS_PROJECT_FOLDER"
#: metadata key (``surveytools_meta``) naming a project's folder for side files (photos, proposed mappings)
FOLDER_META = "folder"


def _backend(uri):
    if is_postgres(uri):
        from . import pg

        return pg
    return _gpkg


def read_arrow(uri, layer: str, **kw):
    """``(meta, Arrow table)`` of ``layer`` as the running operation sees it (``columns=``, ``where=``,
    ``bbox=``, ``read_geometry=``, ``return_fids=`` as in ``pyogrio.read_arrow``)."""
    return _backend(uri).read_arrow(uri, layer, **kw)


def read_dataframe(uri, layer: str, **kw):
    """A (Geo)DataFrame of ``layer`` (the dtypes of ``pyogrio.read_dataframe`` on a GeoPackage)."""
    return _backend(uri).read_dataframe(uri, layer, **kw)


def read_info(uri, layer: str, **kw) -> dict:
    return _backend(uri).read_info(uri, layer, **kw)


def feature_count(uri, layer: str) -> int:
    return _backend(uri).feature_count(uri, layer)


def fid_range(uri, layer: str):
    """``(fid column, lowest fid, highest fid, features)`` of a committed layer (None when the
    running operation has staged rows of it): what reading a large layer in fid ranges needs."""
    return _backend(uri).fid_range(uri, layer)


def field_names(uri, layer: str) -> list:
    return _backend(uri).field_names(uri, layer)


def list_layers(uri) -> list:
    return _backend(uri).list_layers(uri)


def layer_geometries(uri) -> dict:
    """layer -> geometry type (None for an attribute table) of the committed layers."""
    if is_postgres(uri):
        from . import pg

        return pg.layer_geometries(uri)
    import pyogrio

    return {str(n): (None if not g else str(g)) for n, g in pyogrio.list_layers(str(uri))}


def table_exists(uri, name: str) -> bool:
    return _backend(uri).table_exists(uri, name)


def holder(uri) -> dict | None:
    """Who holds (or last held) the project's writer lock."""
    return _backend(uri).holder(uri) if is_postgres(uri) else _lock.holder(uri)


def is_locked(uri) -> bool:
    return _backend(uri).is_locked(uri) if is_postgres(uri) else _lock.is_locked(uri)


def project_lock(uri, **kw):
    """The project's writer lock for a block (flock beside a GeoPackage, an advisory lock on PostGIS)."""
    if is_postgres(uri):
        from . import pg

        return pg.project_lock(uri, **kw)
    return _lock.project_lock(uri, **kw)


def display(uri) -> str:
    """The project's URI as shown to users (no password)."""
    if is_postgres(uri):
        from . import pg

        return pg.label(uri)
    return str(uri)


def _uri(project) -> str:
    return str(getattr(project, "path", project))


def _pg_parts(uri: str) -> tuple[str, str]:
    """(database label host_port_db, schema) of a PostGIS project URI."""
    from urllib.parse import parse_qs, urlsplit

    u = urlsplit(uri)
    schema = (parse_qs(u.query).get("schema") or ["public"])[0]
    db = (u.path or "/").lstrip("/") or "postgres"
    host = (u.hostname or "local") + (f"_{u.port}" if u.port else "")
    return f"{host}_{db}", schema


def project_name(project) -> str:
    """A short name of the project for default file names: the GeoPackage's file name without
    ``.gpkg``; the schema of a PostGIS project."""
    from pathlib import Path

    uri = _uri(project)
    if is_postgres(uri):
        return _pg_parts(uri)[1]
    return Path(uri).stem


def project_folder(project):
    """The folder on disk where a project keeps its side files (the photo folder, proposed
    mappings, temporary files of an operation).

    A GeoPackage project: the folder that holds it.  A PostGIS project (it has no folder of its
    own): the folder in its metadata key ``folder`` (a folder all its users reach, e.g. a network
    share for the photos), else ``$SURVEYTOOLS_PROJECT_FOLDER/<schema>``, else
    ``~/.local/share/surveytools/projects/<host>_<port>_<database>/<schema>``; created when missing
    (see docs/store.md)."""
    import os
    from pathlib import Path

    uri = _uri(project)
    if not is_postgres(uri):
        parent = Path(uri).parent
        return parent if str(parent) else Path(".")
    meta = getattr(project, "meta", None) or {}
    db, schema = _pg_parts(uri)
    if meta.get(FOLDER_META):
        folder = Path(meta[FOLDER_META]).expanduser()
    elif os.environ.get(FOLDER_ENV):
        folder = Path(os.environ[FOLDER_ENV]).expanduser() / schema
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        folder = base / "surveytools" / "projects" / db / schema
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_project_file(project, path) -> bool:
    """True when the file ``path`` is the project itself (a GeoPackage project's own file)."""
    from pathlib import Path

    uri = _uri(project)
    if is_postgres(uri) or is_postgres(path):
        return False
    try:
        return Path(path).resolve() == Path(uri).resolve()
    except OSError:
        return False


def change_stamp(path) -> tuple:
    """Something that changes whenever a change to the project is committed (for caches built
    from a project's layers): the GeoPackage's file times (its write-ahead log included); on
    PostGIS the last edit-log entry and the metadata's ``updated`` and ``revision``."""
    import os

    uri = _uri(path)
    if is_postgres(uri):
        from . import pg

        return pg.change_stamp(uri)
    wal = f"{uri}-wal"  # a commit may still sit in the write-ahead log
    return (os.path.getmtime(uri), os.path.getmtime(wal) if os.path.exists(wal) else 0.0)


def write_target(path, layer: str, append: bool) -> tuple[str, bool]:
    """Where a GDAL writer (e.g. the streaming intake's helper process) writes ``layer`` of the
    project at ``path`` inside the running transaction: (GeoPackage path, append there?)."""
    from .gpkg import write_target as gpkg_write_target

    return gpkg_write_target(_uri(path), layer, append)


def open_project(uri):
    """The survey project at ``uri`` (a .gpkg path or a ``postgresql://…?schema=NAME`` URI)."""
    from ..project import Project

    return Project.open(uri)


def _tx(work):
    from ..errors import SurveyError
    from ..i18n import Text

    tx = active(work.path)
    if tx is None:
        raise SurveyError(Text("只能在事务中修改项目库", "a project can only be changed inside a transaction"),
                          code="no_transaction", file=display(work.path))
    return tx


def update_rows(work, table: str, key: str, rows: list[dict]) -> int:
    """Set the given fields of the features whose ``key`` field equals each row's ``key`` value
    (applied when the transaction commits, logged like any edit)."""
    tx = _tx(work)
    by_cols: dict = {}
    for r in rows:
        cols = tuple(sorted(c for c in r if c != key))
        by_cols.setdefault(cols, []).append(r)
    for cols, rs in by_cols.items():
        if not cols:
            continue
        sets = ", ".join(f'"{c}" = ?' for c in cols)
        tx.sql(f'UPDATE "{table}" SET {sets} WHERE "{key}" = ?', [[r[c] for c in cols] + [r[key]] for r in rs])
    return len(rows)


def delete_rows(work, table: str, key: str, values) -> int:
    """Delete the features whose ``key`` field is one of ``values`` (at commit, logged)."""
    tx = _tx(work)
    values = list(values)
    tx.sql(f'DELETE FROM "{table}" WHERE "{key}" = ?', [[v] for v in values])
    return len(values)
