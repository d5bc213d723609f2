"""The edit log (编辑日志): every insert, update and delete on the edited layers, whoever made it.

Triggers on the component layers, events, unit grids and door plates write one row of
``edit_log`` per changed feature:

``time``         local time of the change (``YYYY-MM-DDTHH:MM:SS.sss``)
``layer``        the table, ``feature_fid`` its ``fid``, ``feature_id`` the standard ID (ObjID,
                 BGID, EventID, AddrCode) after the change (before it, for a delete)
``fid_last``     set on one row standing for the insert of every fid from ``feature_fid`` to
                 ``fid_last`` (a layer an operation wrote whole: one row, not a million)
``action``       ``insert``, ``update`` or ``delete``
``source``       ``surveytools`` when an operation made the change, ``qgis edit`` otherwise (QGIS
                 or any SQL client); ``operation`` and ``batch`` say which operation and batch
``old_values``   JSON of the attributes before an update or delete; ``old_geom`` the geometry
                 before it (GeoPackage binary)

An operation says who it is through the one-row table ``surveytools_session``, written and
emptied inside the operation's own transaction, so no other connection ever sees it: an edit
from QGIS finds it empty and is logged as ``qgis edit``.  The triggers use plain SQLite only
(``json_object``, ``strftime``), so QGIS, GDAL and any SQLite client can keep editing the project.

The state of a layer at a past time is the current rows, minus those inserted after it, with the
old values of the first update or delete after it put back (:func:`state_at`; the same as SQL in
docs/store.md).
"""
from __future__ import annotations

LOG_TABLE = "edit_log"
SESSION_TABLE = "surveytools_session"
TRIGGER_PREFIX = "surveytools_log_"
#: layers whose edits are logged (profile layer keys) and the role of their standard ID
LOGGED = {"component_point": ("component", "component_id"), "component_line": ("component", "component_id"),
          "component_polygon": ("component", "component_id"), "event": ("event", "event_id"),
          "unit_grid": ("unit_grid", "grid_code"), "geocode_doorplate": ("geocode_doorplate", "place_code")}
NOW = "strftime('%Y-%m-%dT%H:%M:%f', 'now', 'localtime')"
LOG_COLUMNS = ["time", "layer", "feature_fid", "feature_id", "action", "source", "operation", "batch",
               "old_values", "old_geom", "fid_last"]


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def logged_tables(project) -> dict:
    """table name -> standard ID field (or None) of the logged layers of ``project``'s profile."""
    prof = project.profile
    out = {}
    for key, (grp, role) in LOGGED.items():
        if key in prof.layers:
            out[prof.layer(key).table] = prof.field(grp, role)
    return out


def is_logged(project, table: str) -> bool:
    return table in logged_tables(project)


def ensure_tables(con) -> None:
    """Create ``edit_log`` (registered as a GeoPackage attribute table) and the session table."""
    con.execute(f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
        fid INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, layer TEXT NOT NULL, feature_fid INTEGER,
        feature_id TEXT, action TEXT NOT NULL, source TEXT NOT NULL, operation TEXT, batch TEXT,
        old_values TEXT, old_geom BLOB, fid_last INTEGER)""")
    if "fid_last" not in {r[1] for r in con.execute(f"PRAGMA main.table_info({LOG_TABLE})")}:
        con.execute(f"ALTER TABLE {LOG_TABLE} ADD COLUMN fid_last INTEGER")
    con.execute(f"CREATE INDEX IF NOT EXISTS idx_{LOG_TABLE}_time ON {LOG_TABLE}(time)")
    con.execute(f"DROP INDEX IF EXISTS idx_{LOG_TABLE}_layer_fid")
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                f"SELECT '{LOG_TABLE}', 'attributes', '{LOG_TABLE}', '编辑日志 / Edit log', "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                f"WHERE NOT EXISTS (SELECT 1 FROM gpkg_contents WHERE table_name = '{LOG_TABLE}')")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {SESSION_TABLE} (
        id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT, operation TEXT, batch TEXT)""")


def begin_session(con, source: dict) -> None:
    con.execute(f"DELETE FROM {SESSION_TABLE}")
    con.execute(f"INSERT INTO {SESSION_TABLE} (id, source, operation, batch) VALUES (1, 'surveytools', ?, ?)",
                (source.get("operation"), source.get("batch")))


def end_session(con) -> None:
    con.execute(f"DELETE FROM {SESSION_TABLE}")


def _value(ref: str) -> str:
    return f"CASE typeof({ref}) WHEN 'blob' THEN hex({ref}) ELSE {ref} END"


def _json(row: str, cols: list) -> str:
    if not cols:
        return "'{}'"
    parts = []
    for i in range(0, len(cols), 50):
        args = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}', {_value(f'{row}.{_q(c)}')}" for c in cols[i:i + 50])
        parts.append(f"json_object({args})")
    out = parts[0]
    for p in parts[1:]:
        out = f"json_patch({out}, {p})"
    return out


def trigger_sql(con, table: str, id_field: str | None) -> list:
    """CREATE TRIGGER statements logging the edits of ``table`` (its current columns)."""
    cols = [(r[1], r[5]) for r in con.execute(f"PRAGMA main.table_info({_q(table)})")]
    pk = next((c for c, is_pk in cols if is_pk), "fid")
    g = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
                    (table,)).fetchone()
    geom = g[0] if g else None
    attrs = [c for c, is_pk in cols if not is_pk and c != geom]
    names = {c for c, _ in cols}
    fid_new = f"NEW.{_q(id_field)}" if id_field in names else "NULL"
    fid_old = f"OLD.{_q(id_field)}" if id_field in names else "NULL"
    sess = f"(SELECT {{}} FROM {SESSION_TABLE} WHERE id = 1)"
    who = (f"COALESCE({sess.format('source')}, 'qgis edit'), {sess.format('operation')}, {sess.format('batch')}")
    tname = table.replace("'", "''")
    head = f"INSERT INTO {LOG_TABLE} (time, layer, feature_fid, feature_id, action, source, operation, batch, old_values, old_geom)"
    ogeom = f"OLD.{_q(geom)}" if geom else "NULL"
    base = TRIGGER_PREFIX + table
    return [
        f"CREATE TRIGGER {_q(base + '_insert')} AFTER INSERT ON {_q(table)} BEGIN {head} VALUES ({NOW}, '{tname}', "
        f"NEW.{_q(pk)}, {fid_new}, 'insert', {who}, NULL, NULL); END",
        f"CREATE TRIGGER {_q(base + '_update')} AFTER UPDATE ON {_q(table)} BEGIN {head} VALUES ({NOW}, '{tname}', "
        f"NEW.{_q(pk)}, {fid_new}, 'update', {who}, {_json('OLD', attrs)}, {ogeom}); END",
        f"CREATE TRIGGER {_q(base + '_delete')} AFTER DELETE ON {_q(table)} BEGIN {head} VALUES ({NOW}, '{tname}', "
        f"OLD.{_q(pk)}, {fid_old}, 'delete', {who}, {_json('OLD', attrs)}, {ogeom}); END",
    ]


def install_triggers(con, project, force=()) -> list:
    """(Re)create the logging triggers of every logged table that lacks them, or is in ``force``
    (a table replaced by this transaction).  Returns the tables done."""
    done = []
    for table, id_field in logged_tables(project).items():
        exists = con.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if not exists:
            continue
        have = {r[0] for r in con.execute("SELECT name FROM main.sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                                           (table,))}
        want = [TRIGGER_PREFIX + table + s for s in ("_insert", "_update", "_delete")]
        if table not in force and all(w in have for w in want):
            continue
        for w in want:
            con.execute(f"DROP TRIGGER IF EXISTS main.{_q(w)}")
        for sql in trigger_sql(con, table, id_field):
            con.execute(sql)
        done.append(table)
    return done


def log_inserts(con, project, table: str, rows: tuple | None = None) -> int:
    """Log every row of a table an operation has just (re)written as an insert by the session's
    operation (the old rows were logged as deletes when they were removed).  ``rows``: (lowest
    fid, highest fid, rows) when the caller knows them (a full count reads the whole table)."""
    id_field = logged_tables(project).get(table)
    names = {r[1] for r in con.execute(f"PRAGMA main.table_info({_q(table)})")}
    pk = next((r[1] for r in con.execute(f"PRAGMA main.table_info({_q(table)})") if r[5]), "fid")
    fid = _q(id_field) if id_field in names else "NULL"
    tname = table.replace("'", "''")
    lo, hi, n = rows or con.execute(f"SELECT min({_q(pk)}), max({_q(pk)}), count(*) FROM main.{_q(table)}").fetchone()
    if n == 0:
        return 0
    if n > 1 and hi - lo + 1 == n:  # contiguous fids (a layer written whole): one row for the range
        con.execute(
            f"INSERT INTO {LOG_TABLE} (time, layer, feature_fid, fid_last, action, source, operation, batch) "
            f"SELECT {NOW}, '{tname}', ?, ?, 'insert', s.source, s.operation, s.batch FROM {SESSION_TABLE} s "
            "WHERE s.id = 1", (lo, hi))
        return n
    cur = con.execute(
        f"INSERT INTO {LOG_TABLE} (time, layer, feature_fid, feature_id, action, source, operation, batch) "
        f"SELECT {NOW}, '{tname}', {_q(pk)}, {fid}, 'insert', s.source, s.operation, s.batch "
        f"FROM main.{_q(table)} CROSS JOIN {SESSION_TABLE} s WHERE s.id = 1 ORDER BY {_q(pk)}")
    return cur.rowcount


def install(path, project) -> None:
    """Set up the edit log in a project file (used by ``project init``)."""
    from .gpkg import connect

    con = connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        ensure_tables(con)
        install_triggers(con, project)
        con.execute("COMMIT")
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------
# history

#: The documented SQL for the state of a layer at a past time (docs/store.md): ``{table}`` is the
#: layer's table, ``{columns}`` its attribute columns, ``:t`` the time; rows are (fid, columns …,
#: geometry).  Plain SQLite (window functions, JSON), so it runs in QGIS's DB Manager too.
STATE_AT_SQL = """
WITH RECURSIVE
ranged(n, ffid) AS (
  SELECT fid, feature_fid FROM edit_log WHERE layer = '{table}' AND time > :t AND fid_last IS NOT NULL
  UNION ALL
  SELECT r.n, r.ffid + 1 FROM ranged r JOIN edit_log e ON e.fid = r.n WHERE r.ffid < e.fid_last),
after(n, ffid, action, old_values, old_geom) AS (
  SELECT fid, feature_fid, action, old_values, old_geom FROM edit_log
   WHERE layer = '{table}' AND time > :t AND fid_last IS NULL
  UNION ALL
  SELECT n, ffid, 'insert', NULL, NULL FROM ranged),
first AS (
  SELECT * FROM (SELECT a.*, row_number() OVER (PARTITION BY ffid ORDER BY n) AS k FROM after a) WHERE k = 1)
SELECT fid, {columns}, {geom} FROM "{table}" WHERE fid NOT IN (SELECT ffid FROM first)
UNION ALL
SELECT ffid, {old_columns}, old_geom FROM first WHERE action <> 'insert'
ORDER BY 1
"""


def state_at_sql(con, table: str) -> str:
    """:data:`STATE_AT_SQL` for ``table`` (its current columns)."""
    cols = [(r[1], r[5]) for r in con.execute(f"PRAGMA main.table_info({_q(table)})")]
    g = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
                    (table,)).fetchone()
    geom = g[0] if g else None
    attrs = [c for c, is_pk in cols if not is_pk and c != geom]
    esc = [c.replace("'", "''") for c in attrs]
    return STATE_AT_SQL.format(table=table, columns=", ".join(_q(c) for c in attrs), geom=_q(geom) if geom else "NULL",
                               old_columns=", ".join(f"json_extract(old_values, '$.\"{e}\"')" for e in esc))


def state_at(project, key: str, when: str):
    """A logged layer as it was at ``when`` (ISO date or time, local): (attributes as an Arrow
    table with ``fid``, WKB geometries as an Arrow binary array).

    Every feature's state at ``when`` is its current row unless the log has an entry for it
    after ``when``; then the first such entry decides: an ``insert`` means it did not exist yet,
    an ``update`` or ``delete`` carries the values it had.
    """
    import json

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from .. import store
    from ..errors import SurveyError
    from ..i18n import Text

    table = project.table(key)
    if not is_logged(project, table):
        raise SurveyError(Text(f"图层 {key} 没有编辑日志", f"layer {key} has no edit log"), code="not_logged",
                          file=store.display(project.path), layer=table)
    when = _normalise_time(when)
    path = project.path
    meta, cur = store.read_arrow(path, table, return_fids=True)
    gname = meta.get("geometry_name") or "geom"
    fcol = meta.get("fid_column") or "fid"
    fids = np.asarray(cur.column(fcol), dtype=np.int64)
    cur = cur.drop([fcol])
    names = store.list_layers(path)
    if LOG_TABLE in names:
        log = store.read_dataframe(path, LOG_TABLE, read_geometry=False, use_arrow=True,
                                   where=f"layer = '{table}' AND time > '{when}'", fid_as_index=True)
    else:
        log = pd.DataFrame(columns=LOG_COLUMNS)
    log = _expand_ranges(log.sort_index())  # log fid = order of the changes
    first = log.drop_duplicates("feature_fid", keep="first")
    touched = set(first["feature_fid"].astype("int64"))
    keep = ~np.isin(fids, list(touched))
    attrs = cur.drop([gname]) if gname in cur.column_names else cur
    geoms = cur.column(gname) if gname in cur.column_names else pa.nulls(cur.num_rows, pa.binary())
    attrs = attrs.filter(pa.array(keep))
    geoms = geoms.filter(pa.array(keep))
    if isinstance(geoms, pa.ChunkedArray):
        geoms = geoms.combine_chunks()
    kept_fids = fids[keep]
    old = first[first["action"] != "insert"]
    rows = [json.loads(v) if isinstance(v, str) else {} for v in old["old_values"]]
    old_df = pd.DataFrame(rows, columns=[c for c in attrs.column_names])
    old_geom = []
    if len(old):
        # old_geom is GeoPackage binary: strip its header to get WKB
        raw = store.read_dataframe(path, LOG_TABLE, read_geometry=False, columns=["old_geom"],
                                   where=f"fid IN ({','.join(str(int(i)) for i in old.index)})", fid_as_index=True)
        blobs = raw["old_geom"].reindex(old.index)
        old_geom = [_gpkg_to_wkb(b) for b in blobs]
    old_attrs = pa.Table.from_pandas(old_df.astype(object).where(old_df.notna(), None), preserve_index=False)
    casted = {}
    for f in attrs.schema:
        col = old_attrs.column(f.name) if f.name in old_attrs.column_names else pa.nulls(len(old), f.type)
        try:
            casted[f.name] = col.cast(f.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            casted[f.name] = pa.array(pd.Series(col.to_pylist()).astype("string"), f.type, from_pandas=True) \
                if pa.types.is_string(f.type) else pa.nulls(len(old), f.type)
    back = pa.table(casted, schema=attrs.schema) if len(old) else attrs.slice(0, 0)
    out = pa.concat_tables([attrs, back])
    out = out.append_column("fid", pa.array(np.concatenate([kept_fids, old["feature_fid"].to_numpy(np.int64)]),
                                             pa.int64()))
    wkb = pa.concat_arrays([geoms.cast(pa.binary()), pa.array(old_geom, pa.binary())])
    order = np.argsort(out.column("fid").to_numpy(), kind="stable")
    return out.take(pa.array(order)), wkb.take(pa.array(order))


def _expand_ranges(log):
    """One row per fid: a range row (``fid_last``) becomes one insert row per fid it covers, in
    its place in the log order (the index)."""
    import numpy as np
    import pandas as pd

    if "fid_last" not in log.columns or log["fid_last"].isna().all():
        return log
    ranged = log["fid_last"].notna()
    parts = [log[~ranged]]
    for idx, row in log[ranged].iterrows():  # one row per operation that wrote a layer whole
        fids = np.arange(int(row["feature_fid"]), int(row["fid_last"]) + 1, dtype=np.int64)
        parts.append(pd.DataFrame({"feature_fid": fids, "action": "insert", "old_values": None},
                                  index=pd.Index(np.full(len(fids), idx), name=log.index.name)))
    return pd.concat(parts).sort_index(kind="stable")


def _normalise_time(when: str) -> str:
    import pandas as pd

    from ..errors import SurveyError
    from ..i18n import Text

    t = pd.to_datetime(str(when), errors="coerce")
    if pd.isna(t):
        raise SurveyError(Text(f"无法识别的时间：{when}", f"cannot read the time: {when}"), code="bad_time",
                          field="at", value=when)
    if len(str(when).strip()) <= 10:  # a date: the state at the end of that day
        t = t + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _gpkg_to_wkb(blob):
    """WKB of a GeoPackage binary geometry (None stays None)."""
    if blob is None or (isinstance(blob, float)):
        return None
    b = bytes(blob)
    if len(b) < 8 or b[:2] != b"GP":
        return b
    flags = b[3]
    env = (flags >> 1) & 0x07
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(env, 0)
    return b[8 + size:]
