"""The GeoPackage backend: one operation = one SQLite transaction on the project, in place.

Operations write layers through pyogrio/GDAL (the fast Arrow path), and GDAL opens its own
connection for every write, so GDAL cannot write the project inside one transaction.  Instead an
operation's writes go to a private *staging* GeoPackage beside the project (``.NAME.stage-….gpkg``,
written by GDAL exactly as before: R-tree, types, extents), and :meth:`Transaction.commit` moves
them into the project through one ``sqlite3`` connection in one ``BEGIN IMMEDIATE … COMMIT``:

* a *replaced* layer: its old table, R-tree, triggers and ``gpkg_*`` rows are dropped and the staged
  ones created in their place (rows and R-tree copied with ``INSERT … SELECT``, in SQLite's C code);
* an *appended* layer: the staged rows are inserted after the project's highest ``fid`` and their
  R-tree entries copied with the same offset (the R-tree triggers are set aside meanwhile, so no
  per-row geometry function runs), then the layer's extent is widened;
* keyed updates and deletes (:func:`update_rows`, :func:`delete_rows`) run as SQL statements;
* the metadata (``updated``) and the edit-log session row (see :mod:`.log`).

Nothing is copied whole: the cost is proportional to what the operation changed.  The project
runs in WAL mode, so a process killed at any moment leaves it exactly as it was before the
operation (an uncommitted WAL tail is ignored), and readers (QGIS, ``project info``) keep reading
the last committed state while an operation works.  The staging file is deleted afterwards (a
killed process's leftover is deleted by the next writer).

Reads inside a transaction see the operation's own writes: :func:`read_arrow`,
:func:`read_dataframe`, :func:`feature_count`, :func:`field_names` and :func:`list_layers` read the
staged table (replaced layers) or the project's rows plus the staged ones (appended layers).
"""
from __future__ import annotations

import datetime as _dt
import glob
import os
import sqlite3
import tempfile
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text
from .staging import StagedWrites

#: open transactions of this process: real path of the project -> Transaction
_ACTIVE: dict = {}
#: real path of a project locked by an operation -> the last edit-log fid when it took the lock
_MARKS: dict = {}
SYSTEM_TABLES = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents",
                 "gpkg_data_columns", "gpkg_metadata_reference")
BUSY_TIMEOUT_MS = 60_000
#: a layer written straight into the project (see Transaction.direct_target) is first written under
#: this prefix + pid + its name, and renamed in the commit
STAGE_TABLE_PREFIX = "surveytools_stage_"
#: a helper process writing a layer into the project (see Transaction.direct_target) folds its
#: write-ahead log into the file only past this many pages (64 MiB with GDAL's 4 KiB pages): the
#: operation's own process folds it meanwhile (Transaction.fold_wal_while_writing), on the other core
HELPER_WAL_AUTOCHECKPOINT = 16384


def _key(path) -> str:
    if str(path).lower().startswith(("postgresql://", "postgres://")):
        from .pg import key

        return key(path)
    return os.path.realpath(str(path))


def active(path) -> "Transaction | None":
    """The open transaction of this process on the project at ``path``, if any."""
    if not _ACTIVE:
        return None
    return _ACTIVE.get(_key(path))


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def connect(path, *, timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A plain SQLite connection to a project (autocommit; the caller issues BEGIN)."""
    con = sqlite3.connect(str(path), isolation_level=None, timeout=timeout_ms / 1000)
    con.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    return con


def enable_wal(path) -> None:
    con = connect(path)
    try:
        con.execute("PRAGMA journal_mode = WAL")
    finally:
        con.close()


def log_mark(path) -> int:
    """The highest ``edit_log`` fid of a project now (0 without a log)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT max(fid) FROM edit_log").fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _edited_meanwhile(con, table: str, mark: int, path=None) -> None:
    """Refuse to rewrite a layer that someone edited (QGIS, SQL) while the operation worked from
    what it had read: the rewrite would silently undo those edits."""
    from . import log

    if not _has_table(con, "main", log.LOG_TABLE):
        return
    row = con.execute(f"SELECT count(*), max(time) FROM {log.LOG_TABLE} WHERE fid > ? AND layer = ? "
                      "AND source <> 'surveytools'", (mark, table)).fetchone()
    if row[0]:
        raise SurveyError(
            Text(f"操作运行期间图层 {table} 在其他程序（如 QGIS）中被编辑了 {row[0]} 处（最近一次 {row[1]}）；"
                 "为免覆盖这些编辑，本次操作未做任何修改，请重新运行",
                 f"layer {table} was edited in another program (QGIS, say) while the operation ran ({row[0]} "
                 f"changes, the last at {row[1]}); so as not to overwrite them nothing was changed: run it again"),
            code="edited_meanwhile", file=None if path is None else str(path), layer=table)


def _clean_stale_staging(path: Path) -> None:
    """Delete staging files and staged tables a killed writer left behind (the caller holds the
    project lock, so no live writer has any)."""
    for f in glob.glob(str(path.with_name(f".{path.stem}.stage-*"))):
        try:
            os.unlink(f)
        except OSError:
            pass
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            stale = _stage_tables(con)
        finally:
            con.close()
    except sqlite3.Error:
        return
    if stale:
        con = connect(path)
        try:
            con.execute("BEGIN IMMEDIATE")
            for t in _stage_tables(con):
                _drop(con, t, logged=False)
            con.execute("COMMIT")
        finally:
            con.close()


def _stage_tables(con) -> list:
    pattern = STAGE_TABLE_PREFIX.replace("_", "!_") + "%"
    return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '!'",
                                      (pattern,))]


class Transaction(StagedWrites):
    """The writes of one operation on a GeoPackage project (see the module docstring)."""

    def __init__(self, project):
        super().__init__(project, Path(project.path))
        self.direct: dict = {}  # table -> (staged table in the project, rtree.Boxes) (see direct_target)

    # -- staging -------------------------------------------------------------------------------
    def _stage_file(self) -> str:
        if self.staging is None:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.stage-{os.getpid()}-", suffix=".gpkg",
                                       dir=self.path.parent)
            os.close(fd)
            os.unlink(tmp)  # GDAL creates the file itself
            self.staging = tmp
        return self.staging

    def direct_target(self, table: str):
        """Where a bulk write of a whole new or empty layer goes without being copied afterwards:
        (project path, staged table name, :class:`~.rtree.Boxes`).  GDAL writes the rows into the
        project itself under the staged name, without an R-tree; the writer adds the bounding box
        of every row (fids 1 … n in write order) to the boxes; the commit drops the old layer,
        renames the staged table to it and bulk-loads its R-tree from the boxes, in its one
        transaction.  Until then the staged table is no layer of the project: a killed operation
        leaves the layer as it was, and the next writer drops the leftover table."""
        from .rtree import Boxes

        temp = f"{STAGE_TABLE_PREFIX}{os.getpid()}_{table}"
        boxes = Boxes()
        self.direct[table] = (temp, boxes)
        self.modes[table] = "direct"
        self._step(table)
        return str(self.path), temp, boxes

    def fold_wal_while_writing(self, interval: float = 0.05) -> "WalFolder":
        """A context in which a thread of this process copies the pages another process commits
        into the project's write-ahead log into the file (passive checkpoints), while that process
        goes on writing: GDAL would otherwise stop after every transaction to do it itself (see
        :data:`HELPER_WAL_AUTOCHECKPOINT`)."""
        return WalFolder(self.path, interval)

    def sources(self, table: str) -> list:
        """The (file, layer) pairs to read ``table`` from, as this operation sees it."""
        mode = self.modes.get(table)
        if mode == "replace":
            return [(self.staging, table)]
        if mode == "append":
            return ([(str(self.path), table)] if table in _project_layers(self.path) else []) + [(self.staging, table)]
        if mode == "direct":
            return [(str(self.path), self.direct[table][0])]
        return [(str(self.path), table)]

    def discard(self) -> None:
        if self.direct and os.path.exists(self.path):  # staged tables a failed operation wrote into the project
            con = connect(self.path)
            try:
                left = [t for t, _ in self.direct.values() if _has_table(con, "main", t)]
                if left:
                    con.execute("BEGIN IMMEDIATE")
                    for t in left:
                        _drop(con, t, logged=False)
                    con.execute("COMMIT")
            finally:
                con.close()
        if self.staging:
            for extra in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(self.staging + extra):
                    os.unlink(self.staging + extra)

    # -- commit --------------------------------------------------------------------------------
    def commit(self, source: dict) -> None:
        from . import log

        con = connect(self.path)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("PRAGMA threads = 2")  # CREATE INDEX sorts in two threads (0.32 s instead of 0.42 s at 1M)
            _register_geometry_functions(con)
            if self.staging and os.path.exists(self.staging):
                con.execute("ATTACH DATABASE ? AS stg", (self.staging,))
            con.execute("BEGIN IMMEDIATE")
            try:
                log.ensure_tables(con)
                log.begin_session(con, source)
                replaced = set()
                for step in self.steps:
                    if step[0] == "table":
                        name = step[1]
                        if self.modes[name] == "append" and _has_table(con, "main", name):
                            _append(con, name)
                        elif self.modes[name] == "direct":
                            if self.mark is not None:
                                _edited_meanwhile(con, name, self.mark, self.path)
                            logged = log.is_logged(self.project, name)
                            rows = _rename_staged(con, name, *self.direct[name], logged=logged)
                            if logged:
                                log.log_inserts(con, self.project, name, rows=rows)
                            replaced.add(name)
                        else:
                            if self.mark is not None:
                                _edited_meanwhile(con, name, self.mark, self.path)
                            logged = log.is_logged(self.project, name)
                            if logged and _replace_changed(con, name, log.logged_tables(self.project)[name]):
                                continue
                            _replace(con, name, logged=logged)
                            if logged:
                                log.log_inserts(con, self.project, name)
                            replaced.add(name)
                    else:
                        con.executemany(step[1], step[2])
                log.install_triggers(con, self.project, force=replaced)
                index_ids(con, log.logged_tables(self.project))
                meta = dict(self.meta, updated=_dt.datetime.now().replace(microsecond=0).isoformat())
                for k, v in meta.items():
                    cur = con.execute("UPDATE surveytools_meta SET value = ? WHERE key = ?", (str(v), k))
                    if cur.rowcount == 0:
                        con.execute("INSERT INTO surveytools_meta(key, value) VALUES (?, ?)", (k, str(v)))
                log.end_session(con)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            if self.staging and os.path.exists(self.staging):
                con.execute("DETACH DATABASE stg")
            try:  # fold the log into the file now; readers in the middle of a read make this a no-op
                con.execute("PRAGMA busy_timeout = 200")
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError:
                pass
        finally:
            con.close()


class WalFolder:
    """Passive checkpoints of a project every ``interval`` seconds in a thread, until the context
    ends (see :meth:`Transaction.fold_wal_while_writing`).  A passive checkpoint never blocks the
    writer or the readers; SQLite releases the GIL while it runs.  ``synchronous = NORMAL``: the
    log is synced before its pages are copied and the file after, so a power cut meanwhile loses
    nothing that was committed."""

    def __init__(self, path, interval: float):
        import threading

        self.path, self.interval = str(path), interval
        self._stop = threading.Event()
        self._thread = None
        self.checkpoints = 0  # passive checkpoints that ran
        self.folded = 0  # the most log frames one of them found copied into the file

    def __enter__(self):
        import threading

        self._thread = threading.Thread(target=self._run, name="surveytools-wal-folder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self) -> None:
        try:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            con.execute("PRAGMA busy_timeout = 0")
            con.execute("PRAGMA synchronous = NORMAL")
            while not self._stop.wait(self.interval):
                try:
                    row = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                    self.folded = max(self.folded, row[2] if row and row[2] > 0 else 0)
                except sqlite3.Error:  # busy (another checkpoint) or not a WAL database: the writer folds it
                    pass
        finally:
            con.close()


# ------------------------------------------------------------------------------------------------
# the SQL that moves staged tables into the project

def _has_table(con, schema: str, name: str) -> bool:
    return con.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone() is not None


def _columns(con, schema: str, table: str) -> list:
    return [(r[1], r[2], r[5]) for r in con.execute(f"PRAGMA {schema}.table_info({_q(table)})")]


def _rtrees(con, schema: str, table: str) -> list:
    if not _has_table(con, schema, "gpkg_extensions"):
        return []
    rows = con.execute(f"SELECT column_name FROM {schema}.gpkg_extensions WHERE lower(table_name) = lower(?) "
                       "AND extension_name = 'gpkg_rtree_index'", (table,)).fetchall()
    return [f"rtree_{table}_{r[0]}" for r in rows if _has_table(con, schema, f"rtree_{table}_{r[0]}")]


def _triggers(con, schema: str, table: str) -> list:
    return con.execute(f"SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                       (table,)).fetchall()


def _copy_system_rows(con, table: str) -> None:
    for sys_t in SYSTEM_TABLES:
        if not _has_table(con, "stg", sys_t):
            continue
        if not _has_table(con, "main", sys_t):
            sql = con.execute("SELECT sql FROM stg.sqlite_master WHERE name = ?", (sys_t,)).fetchone()[0]
            con.execute(sql)
        main_cols = [c[0] for c in _columns(con, "main", sys_t)]
        cols = [c[0] for c in _columns(con, "stg", sys_t) if c[0] in main_cols]
        cl = ", ".join(_q(c) for c in cols)
        con.execute(f"INSERT INTO main.{sys_t} ({cl}) SELECT {cl} FROM stg.{sys_t} WHERE lower(table_name) = lower(?)",
                    (table,))
    # a CRS the project does not have yet
    con.execute("INSERT INTO main.gpkg_spatial_ref_sys SELECT * FROM stg.gpkg_spatial_ref_sys s WHERE s.srs_id IN "
                "(SELECT srs_id FROM stg.gpkg_contents WHERE lower(table_name) = lower(?)) AND s.srs_id NOT IN "
                "(SELECT srs_id FROM main.gpkg_spatial_ref_sys)", (table,))


def _drop(con, table: str, *, logged: bool) -> None:
    """Drop a project table with everything GDAL keeps about it; a logged table's rows are deleted
    first, so the edit log keeps their old values."""
    if not _has_table(con, "main", table):
        return
    from . import log

    for name, _ in _triggers(con, "main", table):
        if not (logged and name.startswith(log.TRIGGER_PREFIX)):
            con.execute(f"DROP TRIGGER main.{_q(name)}")
    if logged:
        con.execute(f"DELETE FROM main.{_q(table)}")
    for rt in _rtrees(con, "main", table):
        con.execute(f"DROP TABLE main.{_q(rt)}")
    con.execute(f"DROP TABLE main.{_q(table)}")
    for sys_t in SYSTEM_TABLES:
        if _has_table(con, "main", sys_t):
            con.execute(f"DELETE FROM main.{sys_t} WHERE lower(table_name) = lower(?)", (table,))


def _replace(con, table: str, *, logged: bool) -> None:
    _drop(con, table, logged=logged)
    rows = con.execute("SELECT type, name, sql FROM stg.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
                       (table,)).fetchall()
    create = [sql for typ, name, sql in rows if typ == "table"]
    if not create:
        raise RuntimeError(f"staged table {table} is missing")
    con.execute(create[0])
    con.execute(f"INSERT INTO main.{_q(table)} SELECT * FROM stg.{_q(table)}")
    for typ, name, sql in rows:
        if typ == "index":
            con.execute(sql)
    _copy_system_rows(con, table)
    same_pages = con.execute("PRAGMA main.page_size").fetchone() == con.execute("PRAGMA stg.page_size").fetchone()
    for rt in _rtrees(con, "stg", table):
        sql = con.execute("SELECT sql FROM stg.sqlite_master WHERE name = ?", (rt,)).fetchone()[0]
        con.execute(sql)
        if same_pages:
            # the R-tree GDAL built in bulk, node by node (its shadow tables), not re-inserted entry by entry
            for shadow in ("node", "rowid", "parent"):
                con.execute(f"DELETE FROM main.{_q(rt + '_' + shadow)}")
                con.execute(f"INSERT INTO main.{_q(rt + '_' + shadow)} SELECT * FROM stg.{_q(rt + '_' + shadow)}")
        else:
            con.execute(f"INSERT INTO main.{_q(rt)} SELECT * FROM stg.{_q(rt)}")
    for typ, name, sql in rows:
        if typ == "trigger":
            con.execute(sql)


RTREE_EXTENSION = ("gpkg_rtree_index", "http://www.geopackage.org/spec120/#extension_rtree", "write-only")


def rtree_triggers(table: str, geom: str, pk: str = "fid") -> list:
    """The R-tree triggers GDAL gives a GeoPackage layer (GeoPackage 1.2), keeping the R-tree in
    step with inserts, updates and deletes made by any SQLite client."""
    t, g, i = _q(table), _q(geom), _q(pk)
    rt = _q(f"rtree_{table}_{geom}")
    name = lambda s: _q(f"rtree_{table}_{geom}_{s}")  # noqa: E731
    ins = f"INSERT OR REPLACE INTO {rt} VALUES (NEW.{i},ST_MinX(NEW.{g}), ST_MaxX(NEW.{g}),ST_MinY(NEW.{g}), ST_MaxY(NEW.{g}))"
    return [
        f"CREATE TRIGGER {name('insert')} AFTER INSERT ON {t} WHEN (new.{g} NOT NULL AND NOT ST_IsEmpty(NEW.{g})) "
        f"BEGIN {ins}; END",
        f"CREATE TRIGGER {name('update1')} AFTER UPDATE OF {g} ON {t} WHEN OLD.{i} = NEW.{i} AND "
        f"(NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN {ins}; END",
        f"CREATE TRIGGER {name('update2')} AFTER UPDATE OF {g} ON {t} WHEN OLD.{i} = NEW.{i} AND "
        f"(NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {rt} WHERE id = OLD.{i}; END",
        f"CREATE TRIGGER {name('update3')} AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND "
        f"(NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {rt} WHERE id = OLD.{i}; {ins}; END",
        f"CREATE TRIGGER {name('update4')} AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND "
        f"(NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {rt} WHERE id IN (OLD.{i}, NEW.{i}); END",
        f"CREATE TRIGGER {name('delete')} AFTER DELETE ON {t} WHEN old.{g} NOT NULL "
        f"BEGIN DELETE FROM {rt} WHERE id = OLD.{i}; END",
    ]


def feature_count_triggers(table: str) -> list:
    """GDAL's triggers keeping ``gpkg_ogr_contents.feature_count`` of a layer up to date."""
    lit = table.replace("'", "''")
    upd = f"UPDATE gpkg_ogr_contents SET feature_count = feature_count {{}} 1 WHERE lower(table_name) = lower('{lit}')"
    return [f"CREATE TRIGGER {_q('trigger_insert_feature_count_' + table)} AFTER INSERT ON {_q(table)} "
            f"BEGIN {upd.format('+')}; END",
            f"CREATE TRIGGER {_q('trigger_delete_feature_count_' + table)} AFTER DELETE ON {_q(table)} "
            f"BEGIN {upd.format('-')}; END"]


def _rename_staged(con, table: str, staged: str, boxes, *, logged: bool) -> tuple:
    """Make the table GDAL wrote into the project under the name ``staged`` (see
    :meth:`Transaction.direct_target`) the layer ``table``: the old layer is dropped, the staged
    one renamed in its place with its ``gpkg_*`` rows, its R-tree bulk-loaded from ``boxes`` and
    GDAL's triggers made for the new name.  Nothing is copied.  Returns (lowest fid, highest
    fid, rows) of the layer."""
    from . import rtree

    if not _has_table(con, "main", staged):
        raise RuntimeError(f"staged table {staged} is missing")
    pk = next((c[0] for c in _columns(con, "main", staged) if c[2]), "fid")
    lo, hi, n = _fresh_table_rows(con, staged, pk)
    _drop(con, table, logged=logged)
    for name, _ in _triggers(con, "main", staged):  # GDAL's, naming the staged table
        con.execute(f"DROP TRIGGER main.{_q(name)}")
    con.execute("PRAGMA legacy_alter_table = ON")  # nothing else refers to the staged table
    try:
        con.execute(f"ALTER TABLE main.{_q(staged)} RENAME TO {_q(table)}")
    finally:
        con.execute("PRAGMA legacy_alter_table = OFF")
    for sys_t in SYSTEM_TABLES:
        if _has_table(con, "main", sys_t):
            con.execute(f"UPDATE main.{sys_t} SET table_name = ? WHERE lower(table_name) = lower(?)", (table, staged))
    con.execute("UPDATE main.gpkg_contents SET identifier = ? WHERE table_name = ? AND identifier = ?",
                (table, table, staged))
    row = con.execute("SELECT column_name FROM main.gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
                      (table,)).fetchone()
    if row is not None:
        geom = row[0]
        rt = f"rtree_{table}_{geom}"
        rtree.create(con, rt)
        if n and len(boxes) <= n and (lo, hi) == (1, n):
            rtree.bulk_load(con, rt, boxes)
        elif n:  # not the rows the boxes describe: the R-tree from the geometries, row by row
            con.execute(f"INSERT INTO main.{_q(rt)} SELECT {_q(pk)}, ST_MinX({_q(geom)}), ST_MaxX({_q(geom)}), "
                        f"ST_MinY({_q(geom)}), ST_MaxY({_q(geom)}) FROM main.{_q(table)} "
                        f"WHERE {_q(geom)} NOT NULL AND NOT ST_IsEmpty({_q(geom)})")
        con.execute("CREATE TABLE IF NOT EXISTS main.gpkg_extensions (table_name TEXT, column_name TEXT, "
                    "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
                    "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")
        con.execute("INSERT INTO main.gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                    "VALUES (?, ?, ?, ?, ?)", (table, geom, *RTREE_EXTENSION))
        for sql in rtree_triggers(table, geom, pk):
            con.execute(sql)
    if _has_table(con, "main", "gpkg_ogr_contents"):
        con.execute("UPDATE main.gpkg_ogr_contents SET feature_count = ? WHERE lower(table_name) = lower(?)", (n, table))
        for sql in feature_count_triggers(table):
            con.execute(sql)
    return lo, hi, n


def _fresh_table_rows(con, table: str, pk: str) -> tuple:
    """(lowest fid, highest fid, rows) of a table GDAL has just created and filled (rows inserted,
    none deleted).  ``count(*)`` reads every page of the table (0.2 s for a million components);
    GDAL's own count in ``gpkg_ogr_contents`` is taken instead when it agrees with the fid range
    1 … n, which the two index look-ups give at once."""
    t = _q(table)
    lo, hi = con.execute(f"SELECT (SELECT min({_q(pk)}) FROM main.{t}), (SELECT max({_q(pk)}) FROM main.{t})").fetchone()
    if lo is None:
        return None, None, 0
    row = None
    if _has_table(con, "main", "gpkg_ogr_contents"):
        row = con.execute("SELECT feature_count FROM main.gpkg_ogr_contents WHERE lower(table_name) = lower(?)",
                          (table,)).fetchone()
    if row is not None and row[0] == hi and lo == 1:
        return lo, hi, hi
    return lo, hi, con.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0]


#: a logged layer is replaced row by row (only the changed rows) when at most this share (or 1,000 rows) changed
DIFF_MAX_SHARE = 0.3


def _replace_changed(con, table: str, id_field: str | None) -> bool:
    """Replace a logged layer by deleting the rows that are not in the staged content and
    inserting the staged rows that are not in the project, so that the edit log holds only the
    real changes (an unchanged row keeps its fid and is not logged).  Returns False (nothing
    done) when the layer is empty, its columns changed, or most of it changed: then the caller
    replaces it whole."""
    main_cols = _columns(con, "main", table)
    stg_cols = _columns(con, "stg", table)
    if not _has_table(con, "main", table) or [c[:2] for c in main_cols] != [c[:2] for c in stg_cols]:
        return False
    total = con.execute(f"SELECT count(*) FROM main.{_q(table)}").fetchone()[0]
    if total == 0:
        return False
    cols = [c[0] for c in main_cols if not c[2]]
    pk = next((c[0] for c in main_cols if c[2]), "fid")
    cl = ", ".join(_q(c) for c in cols)
    done = _update_in_place(con, table, cols, pk, total)
    if done is not None:
        if done:
            _set_extent_from_stage(con, table)
        return done
    con.execute("DROP TABLE IF EXISTS temp.st_new")
    con.execute("DROP TABLE IF EXISTS temp.st_gone")
    con.execute(f"CREATE TEMP TABLE st_new AS SELECT {cl} FROM stg.{_q(table)} EXCEPT SELECT {cl} FROM main.{_q(table)}")
    new = con.execute("SELECT count(*) FROM temp.st_new").fetchone()[0]
    if new > max(DIFF_MAX_SHARE * total, 1000):
        con.execute("DROP TABLE temp.st_new")
        return False
    con.execute(f"CREATE TEMP TABLE st_gone AS SELECT {cl} FROM main.{_q(table)} EXCEPT SELECT {cl} FROM stg.{_q(table)}")
    key = id_field if id_field in cols else cols[0]
    con.execute(f"CREATE INDEX temp.st_gone_key ON st_gone({_q(key)})")
    match = " AND ".join(f"g.{_q(c)} IS m.{_q(c)}" for c in cols)
    con.execute(f"DELETE FROM main.{_q(table)} WHERE {_q(pk)} IN (SELECT m.{_q(pk)} FROM main.{_q(table)} m "
                f"JOIN temp.st_gone g ON g.{_q(key)} IS m.{_q(key)} WHERE {match})")
    if new:  # GDAL's R-tree triggers call the geometry functions registered by commit()
        con.execute(f"INSERT INTO main.{_q(table)} ({cl}) SELECT {cl} FROM temp.st_new")
    _set_extent_from_stage(con, table)
    con.execute("DROP TABLE temp.st_new")
    con.execute("DROP TABLE temp.st_gone")
    return True


def _set_extent_from_stage(con, table: str) -> None:
    ext = con.execute("SELECT min_x, min_y, max_x, max_y FROM stg.gpkg_contents WHERE lower(table_name) = lower(?)",
                      (table,)).fetchone()
    con.execute("UPDATE main.gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, "
                "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE lower(table_name) = lower(?)",
                (*(ext or (None,) * 4), table))


def _update_in_place(con, table: str, cols: list, pk: str, total: int):
    """The usual read-modify-write of a layer: the staged rows are the project's rows in ``fid``
    order (changed or not), then possibly new ones.  Row k of the stage is then row k of the
    project: a changed row is UPDATEd in place (it keeps its fid and place; the log gets an
    ``update`` with the old values) and the extra rows are inserted.  Returns True when done,
    False when too much changed (the caller replaces the layer whole), None when the stage is
    not of that shape (fewer rows, or fids other than 1…n)."""
    lo, hi, n = con.execute(f"SELECT min({_q(pk)}), max({_q(pk)}), count(*) FROM stg.{_q(table)}").fetchone()
    if n < total or n == 0 or lo != 1 or hi != n:
        return None
    con.execute("DROP TABLE IF EXISTS temp.st_map")
    con.execute("DROP TABLE IF EXISTS temp.st_changed")
    con.execute("CREATE TEMP TABLE st_map (r INTEGER PRIMARY KEY, mfid INTEGER)")
    con.execute(f"INSERT INTO temp.st_map (r, mfid) SELECT row_number() OVER (ORDER BY {_q(pk)}), {_q(pk)} "
                f"FROM main.{_q(table)}")
    same = " AND ".join(f"s.{_q(c)} IS x.{_q(c)}" for c in cols)
    con.execute(f"CREATE TEMP TABLE st_changed AS SELECT m.r, m.mfid FROM temp.st_map m "
                f"JOIN stg.{_q(table)} s ON s.{_q(pk)} = m.r JOIN main.{_q(table)} x ON x.{_q(pk)} = m.mfid "
                f"WHERE NOT ({same})")
    changed = con.execute("SELECT count(*) FROM temp.st_changed").fetchone()[0]
    if changed + (n - total) > max(DIFF_MAX_SHARE * total, 1000):
        con.execute("DROP TABLE temp.st_map")
        con.execute("DROP TABLE temp.st_changed")
        return False
    if changed:
        sets = ", ".join(_q(c) for c in cols)
        con.execute(f"UPDATE main.{_q(table)} AS x SET ({sets}) = (SELECT {sets} FROM stg.{_q(table)} s "
                    f"WHERE s.{_q(pk)} = c.r) FROM temp.st_changed c WHERE x.{_q(pk)} = c.mfid")
    if n > total:
        cl = ", ".join(_q(c) for c in cols)
        con.execute(f"INSERT INTO main.{_q(table)} ({cl}) SELECT {cl} FROM stg.{_q(table)} WHERE {_q(pk)} > ? "
                    f"ORDER BY {_q(pk)}", (total,))
    con.execute("DROP TABLE temp.st_map")
    con.execute("DROP TABLE temp.st_changed")
    return True


def _gpkg_envelope(blob):
    """(minx, maxx, miny, maxy, empty) of a GeoPackage binary geometry: from its header envelope,
    or, for a point without one, from its coordinates."""
    import struct

    b = bytes(blob)
    flags = b[3]
    empty = (flags >> 4) & 1
    env = (flags >> 1) & 0x07
    order = "<" if flags & 1 else ">"
    if env:
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", b, 8)
        return minx, maxx, miny, maxy, empty
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(env, 0)
    wkb = b[8 + size:]
    wo = "<" if wkb[0] == 1 else ">"
    if struct.unpack_from(wo + "I", wkb, 1)[0] % 1000 == 1 and len(wkb) >= 21:
        x, y = struct.unpack_from(wo + "2d", wkb, 5)
        return x, x, y, y, empty or (x != x)
    import shapely

    g = shapely.from_wkb(wkb)
    if g is None or g.is_empty:
        return None, None, None, None, 1
    minx, miny, maxx, maxy = g.bounds
    return minx, maxx, miny, maxy, 0


def _register_geometry_functions(con) -> None:
    """The few SQL functions GDAL's R-tree triggers call, for rows this connection inserts."""
    def part(i):
        return lambda blob: None if blob is None else _gpkg_envelope(blob)[i]

    con.create_function("ST_IsEmpty", 1, lambda blob: None if blob is None else _gpkg_envelope(blob)[4],
                        deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, part(i), deterministic=True)


def _append(con, table: str) -> None:
    main_cols = _columns(con, "main", table)
    stg_cols = _columns(con, "stg", table)
    pk = next((c[0] for c in main_cols if c[2]), "fid")
    spk = next((c[0] for c in stg_cols if c[2]), "fid")
    have = {c[0] for c in main_cols}
    for name, typ, is_pk in stg_cols:
        if not is_pk and name not in have:
            con.execute(f"ALTER TABLE main.{_q(table)} ADD COLUMN {_q(name)} {typ}")
    cols = [c[0] for c in stg_cols if not c[2]]
    seq = 0
    if _has_table(con, "main", "sqlite_sequence"):
        r = con.execute("SELECT seq FROM main.sqlite_sequence WHERE name = ?", (table,)).fetchone()
        seq = int(r[0]) if r and r[0] is not None else 0
    top = con.execute(f"SELECT max({_q(pk)}) FROM main.{_q(table)}").fetchone()[0] or 0
    base = max(seq, int(top))
    main_rt = _rtrees(con, "main", table)
    stg_rt = _rtrees(con, "stg", table)
    parked = []
    if main_rt and stg_rt:
        for name, sql in _triggers(con, "main", table):
            if name.startswith("rtree_"):
                parked.append(sql)
                con.execute(f"DROP TRIGGER main.{_q(name)}")
    cl = ", ".join(_q(c) for c in cols)
    con.execute(f"INSERT INTO main.{_q(table)} ({_q(pk)}, {cl}) SELECT {_q(spk)} + ?, {cl} FROM stg.{_q(table)} "
                f"ORDER BY {_q(spk)}", (base,))
    if parked:
        con.execute(f"INSERT INTO main.{_q(main_rt[0])} SELECT id + ?, minx, maxx, miny, maxy FROM stg.{_q(stg_rt[0])}",
                    (base,))
        for sql in parked:
            con.execute(sql)
    # widen the layer's extent in gpkg_contents
    ext = con.execute("SELECT min_x, min_y, max_x, max_y FROM stg.gpkg_contents WHERE lower(table_name) = lower(?)",
                      (table,)).fetchone()
    if ext and ext[0] is not None:
        con.execute("UPDATE main.gpkg_contents SET min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?), "
                    "max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?), "
                    "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE lower(table_name) = lower(?)",
                    (ext[0], ext[0], ext[1], ext[1], ext[2], ext[2], ext[3], ext[3], table))
    else:
        con.execute("UPDATE main.gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE lower(table_name) = lower(?)", (table,))


# ------------------------------------------------------------------------------------------------
# the standard-ID index: keyed reads (which IDs exist, the highest serial of a class) and keyed
# updates touch a few index pages instead of reading every row of a layer

def id_index(table: str, field: str) -> str:
    return f"idx_{table}_{field}"


def index_ids(con, tables: dict) -> None:
    """Make sure each logged layer (table -> standard ID field) has an index on its ID (created
    once, in the transaction that first writes the project; a replaced layer gets it again)."""
    for table, field in tables.items():
        if field and _has_table(con, "main", table) and field in [c[0] for c in _columns(con, "main", table)]:
            con.execute(f"CREATE INDEX IF NOT EXISTS main.{_q(id_index(table, field))} ON {_q(table)} ({_q(field)})")


def id_lookup(path, table: str, field: str, values, prefixes, length: int):
    """Through the ID index of ``table``: (the values of ``values`` that are the ID of a feature,
    for each prefix the highest ID that starts with it, is ``length`` characters long and all
    digits — the highest serial of that county and class).  ([], []) when the project has no such
    table; None when the table has no ID index or this process has a pending write of it (the
    caller then reads the layer)."""
    tx = active(path)
    if tx is not None and table in tx.modes:
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        if not _has_table(con, "main", table):
            return [], []
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?",
                       (id_index(table, field), table)).fetchone() is None:
            return None
        values = list(values)
        present = []
        for i in range(0, len(values), 500):
            part = values[i:i + 500]
            marks = ", ".join("?" * len(part))
            present += [r[0] for r in con.execute(f"SELECT DISTINCT {_q(field)} FROM {_q(table)} "
                                                  f"WHERE {_q(field)} IN ({marks})", part)]
        highest = []
        for pre in prefixes:
            rest = length - len(pre)
            row = con.execute(f"SELECT {_q(field)} FROM {_q(table)} WHERE {_q(field)} BETWEEN ? AND ? "
                              f"AND length({_q(field)}) = ? AND {_q(field)} NOT GLOB '*[^0-9]*' "
                              f"ORDER BY {_q(field)} DESC LIMIT 1", (pre + "0" * rest, pre + "9" * rest, length)).fetchone()
            if row is not None:
                highest.append(row[0])
        return present, highest
    except sqlite3.Error:
        return None
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------
# reads that see the operation's own writes

def _project_layers(path) -> list:
    import pyogrio

    return [str(n) for n, _ in pyogrio.list_layers(str(path)) if not str(n).startswith(STAGE_TABLE_PREFIX)]


def _sources(path, layer: str) -> list:
    """(file, layer name) pairs holding ``layer`` as the running operation sees it."""
    tx = active(path)
    return tx.sources(layer) if tx is not None else [(str(path), layer)]


def list_layers(path) -> list:
    tx = active(path)
    names = _project_layers(path)
    if tx is not None:
        names += [t for t in tx.modes if t not in names]
    return names


def read_arrow(path, layer: str, **kw):
    """``pyogrio.read_arrow`` (meta, table) of ``layer`` as the current operation sees it."""
    import pyarrow as pa
    import pyogrio

    parts = [pyogrio.read_arrow(s, layer=name, **kw) for s, name in _sources(path, layer)]
    if len(parts) == 1:
        return parts[0]
    meta = parts[0][0]
    tables = [t for _, t in parts]
    names = [n for n in tables[0].column_names]
    tables = [tables[0]] + [t.select([n for n in names if n in t.column_names]) for t in tables[1:]]
    try:
        tab = pa.concat_tables(tables, promote_options="default")
    except TypeError:
        tab = pa.concat_tables(tables, promote=True)
    return meta, tab


def read_info(path, layer: str, **kw) -> dict:
    """``pyogrio.read_info`` of ``layer`` as the current operation sees it (the feature count
    includes its staged rows)."""
    import pyogrio

    srcs = _sources(path, layer)
    info = pyogrio.read_info(srcs[-1][0], layer=srcs[-1][1], **kw)
    if len(srcs) > 1:
        info = dict(info, features=sum(int(pyogrio.read_info(s, layer=name)["features"]) for s, name in srcs))
    return info


def read_dataframe(path, layer: str, **kw):
    """``pyogrio.read_dataframe`` of ``layer`` as the current operation sees it."""
    import pandas as pd
    import pyogrio

    parts = [pyogrio.read_dataframe(s, layer=name, **kw) for s, name in _sources(path, layer)]
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    if hasattr(parts[0], "geometry") and "geometry" in out.columns:
        import geopandas as gpd

        out = gpd.GeoDataFrame(out, geometry="geometry", crs=parts[0].crs)
    return out


def feature_count(path, layer: str) -> int:
    import pyogrio

    return sum(int(pyogrio.read_info(s, layer=name)["features"]) for s, name in _sources(path, layer))


def fid_range(path, layer: str):
    """``(fid column, lowest fid, highest fid, features)`` of a committed layer, for reads in fid
    ranges (``where``); None when the operation has staged rows of it (two numberings)."""
    import pyogrio

    if _sources(path, layer) != [(str(path), layer)]:
        return None
    col = pyogrio.read_info(str(path), layer=layer).get("fid_column") or "fid"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        qc, qt = '"' + col.replace('"', '""') + '"', '"' + layer.replace('"', '""') + '"'
        lo, hi, n = con.execute(f"SELECT min({qc}), max({qc}), count(*) FROM {qt}").fetchone()
    finally:
        con.close()
    return col, lo, hi, int(n)


def field_names(path, layer: str) -> list:
    import pyogrio

    out = []
    for s, name in _sources(path, layer):
        out += [str(f) for f in pyogrio.read_info(s, layer=name)["fields"] if str(f) not in out]
    return out


def table_exists(path, name: str) -> bool:
    tx = active(path)
    if tx is not None and name in tx.modes:
        return True
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (name,)).fetchone() is not None
    finally:
        con.close()


def write_target(path, layer: str, append: bool) -> tuple[str, bool]:
    """Where a GDAL write of ``layer`` into ``path`` goes: the staging file when ``path`` is a
    project inside a transaction of this process, else ``path`` itself."""
    tx = active(path)
    if tx is None:
        if str(path).lower().startswith(("postgresql://", "postgres://")):
            from .pg import label

            raise SurveyError(Text("只能在事务中修改项目库", "a project can only be changed inside a transaction"),
                              code="no_transaction", file=label(path), layer=layer)
        return str(path), append
    return tx.target(layer, append)


def not_found(path) -> SurveyError:
    return SurveyError(Text("项目库文件不存在", "the project file does not exist"), code="not_found", file=str(path))
