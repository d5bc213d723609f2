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
* :mod:`.log` — the edit log (triggers) and the state of a layer at a past time.
"""
from __future__ import annotations

from . import gpkg as _gpkg
from . import lock as _lock
from .gpkg import active  # noqa: F401
from .pg import is_postgres  # noqa: F401


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
