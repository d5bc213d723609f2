"""Release schema migrations for a GeoPackage (PostGIS: :func:`surveytools.export.postgis.migrate_pg`).

The steps themselves are in :data:`surveytools.export.schema.MIGRATIONS`, written once against a tiny
executor interface that both backends implement.  A migration runs in one transaction.
"""
from __future__ import annotations

from ..errors import SurveyError
from ..i18n import Text
from .schema import META_TABLE, MIGRATIONS, SCHEMA_VERSION


class SqliteExecutor:
    ph = "?"

    def __init__(self, con):
        self.con = con

    def qualified(self, name: str) -> str:
        return '"' + name + '"'

    def query(self, sql, params=()):
        return self.con.execute(sql, params).fetchall()

    def execute(self, sql, params=()):
        self.con.execute(sql, params)

    def rename_table(self, old, new):
        self.con.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')
        # keep the GeoPackage's own catalogue in step
        for t in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents"):
            try:
                self.con.execute(f"UPDATE {t} SET table_name = ? WHERE table_name = ?", (new, old))
            except Exception:  # noqa: BLE001 - a catalogue table the file does not have
                pass

    def has_column(self, table, column) -> bool:
        return any(r[1] == column for r in self.con.execute(f'PRAGMA table_info("{table}")'))

    def add_text_column(self, table, column):
        self.con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" TEXT')


def gpkg_version(con) -> int | None:
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    table = META_TABLE if META_TABLE in names else "release_info" if "release_info" in names else None
    if table is None:
        return None
    row = con.execute(f'SELECT value FROM "{table}" WHERE key = ?', ("schema_version",)).fetchone()
    return int(row[0]) if row else 0


def migrate_gpkg(path) -> list:
    """Bring a GeoPackage release to :data:`SCHEMA_VERSION` in place (one transaction); return the
    versions passed through."""
    from ..gpkg import sqlite_connect

    con = sqlite_connect(path)
    try:
        v = gpkg_version(con)
        if v is None:
            raise SurveyError(Text("这不是 surveytools 发布库（没有 release_meta）", "this is not a surveytools release (no release_meta)"),
                              code="not_release", file=str(path))
        if v > SCHEMA_VERSION:
            raise SurveyError(Text(f"发布库结构版本 {v} 比本软件支持的 {SCHEMA_VERSION} 新", f"release schema {v} is newer than {SCHEMA_VERSION}"),
                              code="schema_too_new", file=str(path), value=v)
        done = []
        con.isolation_level = None
        con.execute("BEGIN")
        try:
            ex = SqliteExecutor(con)
            while v < SCHEMA_VERSION:
                MIGRATIONS[v](ex)
                v += 1
                con.execute(f'UPDATE "{META_TABLE}" SET value = ? WHERE key = ?', (str(v), "schema_version"))
                done.append(v)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return done
    finally:
        con.close()
