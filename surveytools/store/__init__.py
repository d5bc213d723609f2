"""The project store: how every operation opens, reads and writes a survey project.

A project is addressed by a URI: a ``.gpkg`` path (the GeoPackage backend, :mod:`.gpkg`) or
``postgresql://…?schema=NAME`` (a PostGIS schema; see docs/store.md for what runs there today).

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

from .gpkg import (active, feature_count, field_names, list_layers, read_arrow, read_dataframe,  # noqa: F401
                   read_info, table_exists)
from .lock import holder, is_locked, project_lock  # noqa: F401


def is_postgres(uri) -> bool:
    return str(uri).lower().startswith(("postgresql://", "postgres://"))


def open_project(uri):
    """The survey project at ``uri`` (a .gpkg path)."""
    from ..errors import SurveyError
    from ..i18n import Text
    from ..project import Project

    if is_postgres(uri):
        raise SurveyError(Text("PostGIS 项目库尚不能直接运行操作；请用 export db 发布到 PostGIS",
                               "operations cannot run on a PostGIS project yet; publish to PostGIS with export db"),
                          code="postgis_project", value=str(uri).split("@")[-1])
    return Project.open(uri)


def _tx(work):
    from ..errors import SurveyError
    from ..i18n import Text

    tx = active(work.path)
    if tx is None:
        raise SurveyError(Text("只能在事务中修改项目库", "a project can only be changed inside a transaction"),
                          code="no_transaction", file=str(work.path))
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
