"""The PostGIS backend: a project is a schema, ``postgresql://user@host:port/db?schema=NAME``.

The password comes from the URI, ``PGPASSWORD`` or ``~/.pgpass`` (libpq's rules).

**Writes: one operation = one PostgreSQL transaction.**  As on the GeoPackage backend, an
operation's GDAL writes (:func:`surveytools.gpkg.write_layer`) go to a private staging GeoPackage
(in the system's temporary folder); :meth:`Transaction.commit` pushes them into the schema through
one psycopg connection in one transaction:

* a *replaced* table with the same columns is emptied (``DELETE`` for a logged layer, so the edit
  log keeps the old rows; ``TRUNCATE`` otherwise) and refilled by ``COPY`` — it keeps its indexes,
  triggers and grants; a logged layer of which little changed gets only the changed rows
  (``UPDATE`` in place, ``INSERT`` the new ones), as on the GeoPackage backend; a table whose
  columns changed is dropped and created again with the grants of the old one;
* an *appended* table gets the staged rows by ``COPY`` after its highest ``fid``;
* keyed updates and deletes (:func:`surveytools.store.update_rows`, ``delete_rows``) run as SQL;
* the metadata (``updated``).

A process killed at any moment leaves the schema as it was: PostgreSQL rolls back a transaction
whose client went away.  Readers (QGIS …) read the last committed state.

**Lock**: ``pg_advisory_lock`` on the schema in a session of its own, with the holder's note in
``surveytools_lock`` (:func:`project_lock`); a dead session's lock is released by the server.

**Edit log**: one PL/pgSQL trigger function (``surveytools_log``) on the logged layers writes
``edit_log`` with the same columns as the GeoPackage backend; an operation names itself with the
transaction-local settings ``surveytools.source``/``operation``/``batch``, so another session's edit
(QGIS) is logged as ``qgis edit``.

**Reads** use psycopg: ``COPY (SELECT … ORDER BY fid) TO STDOUT (FORMAT csv)`` parsed by Arrow's
CSV reader with the columns' types, the geometry as hex WKB decoded in bulk (the pyogrio wheel's GDAL
has no PostgreSQL driver).  Rows come in ``fid`` order, as from a GeoPackage.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time

import numpy as np

from ..errors import SurveyError
from ..i18n import Text
from .lock import Holds as _Holds
from .staging import StagedWrites

META_TABLE = "surveytools_meta"
TABLES_TABLE = "surveytools_tables"  # every table this product created in the schema (init's overwrite drops only these)
LOCK_TABLE = "surveytools_lock"
LOG_FUNCTION = "surveytools_log"
#: advisory-lock class id of project locks (the second key is hashtext(schema))
LOCK_CLASS = 0x5354  # "ST"

_LOC: dict = {}


def is_postgres(uri) -> bool:
    return str(uri).lower().startswith(("postgresql://", "postgres://"))


def location(uri) -> tuple[str, str]:
    """(libpq URL without ``schema``, schema) of a project URI."""
    uri = str(uri)
    got = _LOC.get(uri)
    if got is None:
        from ..export.postgis import parse_url

        if "schema=" not in uri:
            raise SurveyError(Text("PostGIS 项目库的地址应写明模式：postgresql://用户@主机:端口/数据库?schema=名称",
                                   "a PostGIS project URI names its schema: postgresql://user@host:port/db?schema=NAME"),
                              code="bad_schema", file=label(uri))
        got = _LOC[uri] = parse_url(uri)
    return got


def label(uri) -> str:
    """The URI without a password (to show and to store): :func:`mask_passwords` of it."""
    return mask_passwords(str(uri))


#: an address with a URL scheme (``name://``): a project or release on a server, never a file name
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def check_address(uri) -> None:
    """An address that looks like a URL but is not ``postgresql://`` (a typo such as ``postgresq://``
    or ``postgis://``) is refused by name (password hidden), not taken for a file that does not exist."""
    s = str(uri)
    m = _SCHEME.match(s)
    if m and not is_postgres(s):
        raise SurveyError(
            Text(f"地址协议“{m.group(1)}://”不可用：项目库或发布库应为 GeoPackage 文件（.gpkg）或 "
                 "postgresql://用户@主机:端口/数据库?schema=名称",
                 f"the address scheme '{m.group(1)}://' is not supported: a project or release is a GeoPackage "
                 "file (.gpkg) or postgresql://user@host:port/db?schema=NAME"),
            code="bad_uri", file=label(s), value=f"{m.group(1)}://")


#: libpq's reasons a connection fails -> (zh, en) said first, before libpq's own text
_CONNECT_REASONS = (
    ("password authentication failed", "用户名或密码错误", "wrong user name or password"),
    ("no password supplied", "服务器要求密码，但没有提供（地址中、PGPASSWORD 或 ~/.pgpass）",
     "the server asks for a password and none was given (in the address, PGPASSWORD or ~/.pgpass)"),
    ("failed to resolve host", "找不到主机（主机名有误或网络不通）", "unknown host (a misspelt name or no network)"),
    ("could not translate host name", "找不到主机（主机名有误或网络不通）", "unknown host (a misspelt name or no network)"),
    ("connection refused", "该主机和端口上没有运行 PostgreSQL（连接被拒绝）",
     "no PostgreSQL server on that host and port (connection refused)"),
    ("does not exist", "数据库或用户不存在", "the database or the user does not exist"),
    ("timeout expired", "连接超时（主机不可达或被防火墙阻挡）", "the connection timed out (host unreachable or blocked by a firewall)"),
    ("no pg_hba.conf entry", "服务器不允许此主机或用户连接（pg_hba.conf）",
     "the server does not let this host or user connect (pg_hba.conf)"),
)


def connect_error(exc, uri) -> SurveyError:
    """The bilingual error of a failed connection: what is wrong first (wrong password, unknown host,
    no server, no such database), then libpq's text; the address without its password."""
    detail = str(exc).strip()
    low = detail.lower()
    zh, en = next(((z, e) for t, z, e in _CONNECT_REASONS if t in low), ("", ""))
    return SurveyError(Text(f"无法连接 PostgreSQL：{zh + '。' if zh else ''}{detail}",
                            f"cannot connect to PostgreSQL: {en + '. ' if en else ''}{detail}"),
                       code="pg_connect", file=label(uri))


_PASSWORD = None


def mask_passwords(text: str) -> str:
    """``text`` with every password taken out: the ``:password`` of each ``scheme://user:password@…``
    in it (``postgresql://`` and a misspelt scheme alike) and each ``password=`` parameter of an
    address.  The one masking function: what the CLI prints, error messages, stored labels and what
    the plugin shows never carry a password."""
    global _PASSWORD
    if "://" not in text and "password=" not in text.lower():
        return text
    if _PASSWORD is None:
        _PASSWORD = (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:?#]*):[^\s/@]*@"),
                     re.compile(r"(?i)\?password=[^&\s#]*&"), re.compile(r"(?i)&password=[^&\s#]*"),
                     re.compile(r"(?i)\?password=[^&\s#]*"))
    userinfo, first, other, only = _PASSWORD
    return only.sub("", other.sub("", first.sub("?", userinfo.sub(r"\1@", text))))


def key(uri) -> str:
    url, schema = location(uri)
    return label(url).split("?")[0] + f"?schema={schema}"


def q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise SurveyError(Text("PostGIS 项目库需要 Python 包 psycopg：pip install \"psycopg[binary]\"",
                               "a PostGIS project needs the Python package psycopg: pip install \"psycopg[binary]\""),
                          code="no_psycopg") from None
    return psycopg


def connect(uri, *, autocommit: bool = False):
    """A psycopg connection to the project's database (ISO dates, UTC offsets never printed)."""
    psycopg = _psycopg()

    url, _ = location(uri)
    try:
        con = psycopg.connect(url, autocommit=autocommit, connect_timeout=15)
    except psycopg.OperationalError as e:
        raise connect_error(e, uri) from None
    with con.cursor() as cur:
        cur.execute("SET DateStyle = 'ISO, YMD'")
        cur.execute("SET extra_float_digits = 3")
        act_as_owner(cur, location(uri)[1])
    if not autocommit:
        con.commit()
    return con


def act_as_owner(cur, schema: str) -> None:
    """``SET ROLE`` to the owner of the project's schema when the login is a member of that role.

    A centre's schema belongs to a group role (``city_owner`` in docs/store.md) and the staff who run
    operations log in as themselves and are members of it: the operation then creates, replaces and
    drops tables as the owner, so every table stays the owner's (the next operation, run by someone
    else, may replace it) and gets the owner's default privileges (the reader and editor grants).
    ``session_user`` (who logged in) is what the edit log records."""
    cur.execute("SELECT r.rolname, pg_has_role(n.nspowner, 'MEMBER') FROM pg_namespace n "
                "JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = %s AND r.rolname <> current_user", (schema,))
    row = cur.fetchone()
    if row is not None and row[1]:
        cur.execute(f"SET ROLE {q(row[0])}")


_READ_CON: dict = {}
_READ_GUARD = threading.Lock()
_INHERITED: list = []  # a forked child's copies of the parent's connections: kept, never closed (closing would end the parent's sessions)


def _after_fork() -> None:
    _INHERITED.extend(_READ_CON.values())
    _READ_CON.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def _reader(uri):
    """A cached autocommit connection for reads (one per project and thread)."""
    k = (key(uri), threading.get_ident(), os.getpid())
    with _READ_GUARD:
        con = _READ_CON.pop(k, None)
    if con is None or con.closed:
        con = connect(uri, autocommit=True)
    try:
        yield con
    except BaseException:
        con.close()
        raise
    with _READ_GUARD:
        old = _READ_CON.pop(k, None)
        _READ_CON[k] = con
    if old is not None:
        old.close()


# ------------------------------------------------------------------------------------------------
# catalogue

def schema_relations(cur, schema: str) -> set:
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schema,))
    return {r[0] for r in cur.fetchall()}


def tables(cur, schema: str) -> list:
    """(name, geometry type or None) of the schema's tables, in name order."""
    cur.execute("SELECT c.relname, (SELECT postgis_typmod_type(a.atttypmod) FROM pg_attribute a "
                "  JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = c.oid AND t.typname = 'geometry' "
                "  AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname", (schema,))
    return [(r[0], r[1]) for r in cur.fetchall()]


def columns(cur, schema: str, table: str) -> list:
    """[(name, type as SQL, type name, is primary key, srid)] in column order ([] without the table)."""
    cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
                          coalesce(a.attnum = ANY(i.indkey), false),
                          CASE WHEN t.typname = 'geometry' THEN postgis_typmod_srid(a.atttypmod) END
                   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
                   LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                   WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
                   ORDER BY a.attnum""", (schema, table))
    return [tuple(r) for r in cur.fetchall()]


def has_table(cur, schema: str, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (f"{q(schema)}.{q(table)}",))
    return cur.fetchone()[0] is not None


def read_meta(uri) -> dict:
    """The project's ``surveytools_meta`` (a clear error when the schema is no project)."""
    import psycopg

    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        try:
            cur.execute(f"SELECT key, value FROM {q(schema)}.{META_TABLE}")
            return {str(k): v for k, v in cur.fetchall()}
        except psycopg.errors.UndefinedTable:
            cur.execute("SELECT current_database(), EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,))
            db, exists = cur.fetchone()
            if not exists:  # a misspelt schema, or the project is in another database
                raise SurveyError(Text(f"数据库 {db} 中没有模式 {schema}", f"database {db} has no schema {schema}"),
                                  code="not_project", file=label(uri), value=schema,
                                  hint=Text("检查地址中的 ?schema= 和数据库名；新项目库用 surveytools project init 创建",
                                            "check ?schema= and the database in the address; create a new project with "
                                            "surveytools project init")) from None
            raise SurveyError(Text(f"模式 {schema} 不是 surveytools 调查项目库（缺少元数据表）",
                                   f"schema {schema} is not a surveytools survey project (no metadata table)"),
                              code="not_project", file=label(uri), layer=META_TABLE,
                              hint=Text("先用 surveytools project init postgresql://…?schema=名称 创建项目库",
                                        "create one with surveytools project init postgresql://…?schema=NAME")) from None


# ------------------------------------------------------------------------------------------------
# reads

_ARROW = None


def _arrow_type(typname: str, sqltype: str):
    import pyarrow as pa

    if typname in ("int8", "int4", "int2"):
        return pa.int64()
    if typname in ("float8", "float4", "numeric"):
        return pa.float64()
    if typname == "date":
        return pa.date32()
    if typname in ("timestamp", "timestamptz"):
        return pa.timestamp("ms")
    if typname == "bool":
        return pa.bool_()
    if typname in ("geometry", "bytea"):
        return pa.binary()
    return pa.string()


def _unhex(arr):
    """A string array of hex digits as a binary array (vectorised, no per-row Python)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        return pa.chunked_array([_unhex(c) for c in arr.chunks], pa.binary())
    if arr.offset:
        arr = pa.concat_arrays([arr])
    n = len(arr)
    bufs = arr.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    data = data[offs[0]:offs[-1]]
    lut = np.zeros(256, np.uint8)
    lut[48:58] = np.arange(10)
    lut[97:103] = np.arange(10, 16)
    lut[65:71] = np.arange(10, 16)
    nib = lut[data]
    out = (nib[0::2] << 4) | nib[1::2]
    new_offs = ((offs - offs[0]) // 2).astype(np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [bufs[0], pa.py_buffer(new_offs.tobytes()),
                                                  pa.py_buffer(out.tobytes())], null_count=arr.null_count)


def _sources(uri, layer: str) -> list:
    from .gpkg import active

    tx = active(uri)
    if tx is None:
        return [uri]
    return tx.sources(layer)


def _pg_read(uri, layer: str, *, columns=None, where=None, bbox=None, read_geometry=True, return_fids=False,
             max_features=None, skip_features=0, fid_as_index=False, **_ignored):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        cols = globals()["columns"](cur, schema, layer)
        if not cols:
            raise SurveyError(Text(f"项目库中没有图层 {layer}", f"the project has no layer {layer}"),
                              code="no_layer", file=label(uri), layer=layer)
        pk = next((c[0] for c in cols if c[3]), None)
        geom = next((c for c in cols if c[2] == "geometry"), None)
        attrs = [c for c in cols if c[0] != pk and (geom is None or c[0] != geom[0])]
        if columns is not None:
            want = [str(c) for c in columns]
            attrs = [c for c in attrs if c[0] in want]
        sel, names, types = [], [], []
        if (return_fids or fid_as_index) and pk:
            sel.append(q(pk))
            names.append(pk)
            types.append(pa.int64())
        for c in attrs:
            sel.append(q(c[0]))
            names.append(c[0])
            types.append(_arrow_type(c[2], c[1]))
        if geom is not None and read_geometry:
            sel.append(f"encode(ST_AsBinary({q(geom[0])}), 'hex')")
            names.append(geom[0])
            types.append(pa.string())
        conds = []
        if where:
            conds.append(f"({where})")
        if bbox is not None and geom is not None:
            xmin, ymin, xmax, ymax = (float(v) for v in bbox)
            # as GDAL's spatial filter: the features intersecting the box
            conds.append(f"ST_Intersects({q(geom[0])}, ST_MakeEnvelope({xmin!r}, {ymin!r}, {xmax!r}, {ymax!r}, "
                         f"{int(geom[4] or 0)}))")
        sql = f"SELECT {', '.join(sel) if sel else 'NULL'} FROM {q(schema)}.{q(layer)}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        if pk:
            sql += f" ORDER BY {q(pk)}"
        if max_features:
            sql += f" LIMIT {int(max_features)}"
        if skip_features:
            sql += f" OFFSET {int(skip_features)}"
        buf = io.BytesIO()
        import psycopg

        try:
            with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as cp:
                for chunk in cp:
                    buf.write(chunk)
        except psycopg.Error as e:
            raise SurveyError(Text(f"读取图层 {layer} 失败：{str(e).strip()}", f"cannot read layer {layer}: {str(e).strip()}"),
                              code="read_failed", file=label(uri), layer=layer, value=where) from None
    data = buf.getvalue()
    if not sel:
        names, types = [], []
    if data and names:
        tab = pacsv.read_csv(
            io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=dict(zip(names, types)), strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False, null_values=[""],
                                                 true_values=["t"], false_values=["f"]))
    else:
        tab = pa.table({n: pa.array([], t) for n, t in zip(names, types)})
    for i, c in enumerate(cols):
        if c[2] == "bytea" and c[0] in tab.column_names:
            j = tab.column_names.index(c[0])
            tab = tab.set_column(j, c[0], _unhex(pacsv_strip_bytea(tab.column(j))))
    if geom is not None and read_geometry:
        j = tab.column_names.index(geom[0])
        tab = tab.set_column(j, geom[0], _unhex(tab.column(j).cast(pa.string())))
    srid = int(geom[4] or 0) if geom is not None else 0
    meta = {"crs": f"EPSG:{srid}" if srid else None, "encoding": "UTF-8",
            "fields": np.array([c[0] for c in attrs], dtype=object),
            "geometry_type": _geometry_name(geom[1]) if geom is not None else None,
            "geometry_name": geom[0] if geom is not None and read_geometry else "",
            "fid_column": pk or ""}
    return meta, tab


def pacsv_strip_bytea(col):
    """bytea prints as ``\\x…`` hex: the hex digits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.utf8_slice_codeunits(col.cast(pa.string()), 2)


def _geometry_name(sqltype: str) -> str:
    inner = sqltype[sqltype.find("(") + 1:].split(",")[0].strip(" )").lower() if "(" in sqltype else "geometry"
    return {"point": "Point", "linestring": "LineString", "polygon": "Polygon", "multipolygon": "MultiPolygon",
            "multilinestring": "MultiLineString", "multipoint": "MultiPoint"}.get(inner, "Unknown")


def _gpkg_read(path, layer: str, **kw):
    import pyogrio

    kw.pop("fid_as_index", None)
    kw.pop("use_arrow", None)
    return pyogrio.read_arrow(str(path), layer=layer, **kw)


def read_arrow(uri, layer: str, **kw):
    """``(meta, Arrow table)`` of ``layer`` as the current operation sees it (the committed rows plus
    its staged ones)."""
    import pyarrow as pa

    parts = []
    for src in _sources(uri, layer):
        if is_postgres(src):
            parts.append(_pg_read(src, layer, **kw))
        else:
            kw2 = dict(kw)
            if kw2.get("fid_as_index"):
                kw2["return_fids"] = True
            parts.append(_gpkg_read(src, layer, **kw2))
    if len(parts) == 1:
        return parts[0]
    meta = parts[0][0]
    tabs = [t for _, t in parts]
    names = tabs[0].column_names
    tabs = [tabs[0]] + [t.select([n for n in names if n in t.column_names]) for t in tabs[1:]]
    try:
        tab = pa.concat_tables(tabs, promote_options="permissive")
    except TypeError:
        tab = pa.concat_tables(tabs, promote=True)
    return meta, tab


def read_dataframe(uri, layer: str, *, use_arrow: bool = False, fid_as_index: bool = False, **kw):
    """Like ``pyogrio.read_dataframe`` on a GeoPackage (same dtypes)."""
    import pandas as pd
    import pyarrow as pa

    meta, tab = read_arrow(uri, layer, fid_as_index=fid_as_index, **kw)
    gname = meta.get("geometry_name") or ""
    fcol = meta.get("fid_column") or "fid"
    if fid_as_index and fcol not in tab.column_names and "fid" in tab.column_names:
        fcol = "fid"
    geoms = None
    if gname and gname in tab.column_names:
        geoms = tab.column(gname)
        tab = tab.drop([gname])
    df = tab.to_pandas()
    if not use_arrow:  # as GDAL's own (non-Arrow) read: dates as datetime64, an all-empty text column as object
        for f in tab.schema:
            if pa.types.is_date(f.type):
                df[f.name] = pd.to_datetime(df[f.name]).astype("datetime64[ms]")
            elif pa.types.is_string(f.type) and tab.column(f.name).null_count == tab.num_rows:
                df[f.name] = df[f.name].astype(object)
    if fid_as_index and fcol in df.columns:
        df = df.set_index(fcol)
        df.index.name = "fid"
    if geoms is None:
        return df
    import geopandas as gpd
    import shapely

    g = shapely.from_wkb(np.asarray(geoms.to_numpy(zero_copy_only=False), dtype=object))
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(g, index=df.index), crs=meta.get("crs"))


def fid_range(uri, layer: str):
    """``(fid column, lowest fid, highest fid, features)`` of a committed table (None inside an
    operation that staged rows of it)."""
    if _sources(uri, layer) != [uri]:
        return None
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        pk = next((c[0] for c in columns(cur, schema, layer) if c[3]), None)
        if pk is None:
            return None
        cur.execute(f"SELECT min({q(pk)}), max({q(pk)}), count(*) FROM {q(schema)}.{q(layer)}")
        lo, hi, n = cur.fetchone()
    return pk, lo, hi, int(n)


def feature_count(uri, layer: str, where=None) -> int:
    n = 0
    for src in _sources(uri, layer):
        if is_postgres(src):
            _, schema = location(src)
            with _reader(src) as con, con.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {q(schema)}.{q(layer)}" + (f" WHERE {where}" if where else ""))
                n += int(cur.fetchone()[0])
        else:
            import pyogrio

            n += int(pyogrio.read_info(src, layer=layer)["features"])
    return n


def field_names(uri, layer: str) -> list:
    out = []
    for src in _sources(uri, layer):
        if is_postgres(src):
            _, schema = location(src)
            with _reader(src) as con, con.cursor() as cur:
                names = [c[0] for c in columns(cur, schema, layer) if not c[3] and c[2] != "geometry"]
        else:
            import pyogrio

            names = [str(f) for f in pyogrio.read_info(src, layer=layer)["fields"]]
        out += [n for n in names if n not in out]
    return out


def read_info(uri, layer: str, **_kw) -> dict:
    srcs = _sources(uri, layer)
    src = srcs[0]
    if not is_postgres(src):
        import pyogrio

        info = dict(pyogrio.read_info(srcs[-1], layer=layer))
    else:
        _, schema = location(src)
        with _reader(src) as con, con.cursor() as cur:
            cols = columns(cur, schema, layer)
            if not cols:
                raise SurveyError(Text(f"项目库中没有图层 {layer}", f"the project has no layer {layer}"),
                                  code="no_layer", file=label(uri), layer=layer)
            geom = next((c for c in cols if c[2] == "geometry"), None)
            attrs = [c for c in cols if not c[3] and c[2] != "geometry"]
            dt = {"int8": "int64", "int4": "int32", "float8": "float64", "date": "datetime64[D]",
                  "timestamp": "datetime64[ms]", "bool": "bool"}
            info = {"layer_name": layer, "crs": f"EPSG:{geom[4]}" if geom is not None and geom[4] else None,
                    "encoding": "UTF-8", "fields": np.array([c[0] for c in attrs], dtype=object),
                    "dtypes": np.array([dt.get(c[2], "object") for c in attrs], dtype=object),
                    "fid_column": next((c[0] for c in cols if c[3]), ""),
                    "geometry_name": geom[0] if geom is not None else "",
                    "geometry_type": _geometry_name(geom[1]) if geom is not None else None,
                    "driver": "PostgreSQL", "layer_metadata": None, "dataset_metadata": None}
    info["features"] = feature_count(uri, layer)
    return info


def list_layers(uri) -> list:
    from .gpkg import active

    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        names = [n for n, _ in tables(cur, schema) if n not in (TABLES_TABLE, LOCK_TABLE)]
    tx = active(uri)
    if tx is not None:
        names += [t for t in tx.modes if t not in names]
    return names


def layer_geometries(uri) -> dict:
    """table -> geometry type name (None for attribute tables), committed tables only."""
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        return {n: (_geometry_name(f"geometry({g})") if g else None) for n, g in tables(cur, schema)
                if n not in (TABLES_TABLE, LOCK_TABLE)}


def table_exists(uri, name: str) -> bool:
    from .gpkg import active

    tx = active(uri)
    if tx is not None and name in tx.modes:
        return True
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        return has_table(cur, schema, name)


def change_stamp(uri) -> tuple:
    """A value that changes with every commit and every logged edit: (last edit-log fid, ``updated``,
    ``revision``), the last two from ``surveytools_meta`` (every commit bumps ``revision``)."""
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        cur.execute(f"SELECT (SELECT max(fid) FROM {q(schema)}.edit_log), "
                    f"(SELECT value FROM {q(schema)}.{META_TABLE} WHERE key = 'updated'), "
                    f"(SELECT value FROM {q(schema)}.{META_TABLE} WHERE key = 'revision')")
        return tuple(cur.fetchone())


def log_mark(uri) -> int:
    from .log import LOG_TABLE

    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        if not has_table(cur, schema, LOG_TABLE):
            return 0
        cur.execute(f"SELECT max(fid) FROM {q(schema)}.{LOG_TABLE}")
        return int(cur.fetchone()[0] or 0)


# ------------------------------------------------------------------------------------------------
# the lock

#: the PostGIS projects this process holds the writer lock of (re-entrant: see :class:`.lock.Holds`)
HELD = _Holds()


def _lock_keys(schema: str) -> tuple:
    return LOCK_CLASS, schema


def holder(uri) -> dict | None:
    _, schema = location(uri)
    try:
        with _reader(uri) as con, con.cursor() as cur:
            if not has_table(cur, schema, LOCK_TABLE):
                return None
            cur.execute(f"SELECT operation, host, pid, \"user\", since FROM {q(schema)}.{LOCK_TABLE} WHERE id = 1")
            row = cur.fetchone()
    except SurveyError:
        return None
    if row is None:
        return None
    return dict(zip(("operation", "host", "pid", "user", "since"), row))


def is_locked(uri) -> bool:
    if key(uri) in HELD:
        return True
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", _lock_keys(schema))
        got = cur.fetchone()[0]
        if got:
            cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", _lock_keys(schema))
    return not got


@contextlib.contextmanager
def project_lock(uri, *, operation: str | None = None, timeout=None):
    """The writer lock of a PostGIS project: a session-level advisory lock held by a connection of
    its own for the block; the holder's note in ``surveytools_lock``.  Re-entrant in a process."""
    with HELD.hold(key(uri), lambda: _advisory_lock(uri, operation, timeout)):
        yield


@contextlib.contextmanager
def _advisory_lock(uri, operation, timeout):
    """Take the project's advisory lock (waiting up to the timeout) on a connection of its own, write
    the holder's note, yield the connection; unlock and close at the end."""
    from .lock import POLL, _busy_error, holder_note, lock_timeout

    _, schema = location(uri)
    limit = lock_timeout(timeout)
    con = connect(uri, autocommit=True)
    try:
        cur = con.cursor()
        start = time.monotonic()
        while True:
            cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", _lock_keys(schema))
            if cur.fetchone()[0]:
                break
            waited = time.monotonic() - start
            if waited >= limit:
                raise _busy_error(label(uri), holder(uri), waited)
            time.sleep(POLL)
        note = holder_note(operation)
        cur.execute("SELECT session_user")  # the database login names the person at a centre (the OS user may be shared)
        note["user"] = f"{cur.fetchone()[0]} ({note['user']})"
        if has_table(cur, schema, LOCK_TABLE):
            check_writable(cur, schema, uri)
            cur.execute(f"DELETE FROM {q(schema)}.{LOCK_TABLE}")
            cur.execute(f"INSERT INTO {q(schema)}.{LOCK_TABLE} (id, operation, host, pid, \"user\", since) "
                        "VALUES (1, %s, %s, %s, %s, %s)",
                        tuple(note[k] for k in ("operation", "host", "pid", "user", "since")))
        try:
            yield con
        finally:
            with contextlib.suppress(Exception):
                if has_table(cur, schema, LOCK_TABLE):
                    cur.execute(f"DELETE FROM {q(schema)}.{LOCK_TABLE}")
                cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", _lock_keys(schema))
    finally:
        con.close()


def check_writable(cur, schema: str, uri) -> None:
    """Refuse an operation, before it writes anything, when the login may not write the project:
    a read-only role (downstream systems), or an editing role that is not a member of the schema's
    owner (it may edit features in QGIS, but operations replace tables and need the owner's rights)."""
    lock = f"{q(schema)}.{LOCK_TABLE}"
    cur.execute("SELECT session_user, r.rolname, has_table_privilege(%s, 'INSERT') AND has_table_privilege(%s, 'DELETE') "
                "AND has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
                "WHERE n.nspname = %s", (lock, lock, schema))
    row = cur.fetchone()
    if row is None or row[2]:
        return
    login, owner, _ = row
    raise SurveyError(
        Text(f"用户 {login} 没有项目库（模式 {schema}）的写入权限：写入操作要以模式所有者 {owner} 或其成员的身份运行，"
             "只读账号只能读取和发布，编辑账号只能在 QGIS 中编辑要素；本次操作未做任何修改",
             f"user {login} may not write the project (schema {schema}): operations run as the schema's owner {owner} "
             "or a member of it; a read-only role may only read and export, an editing role may only edit features "
             "in QGIS; nothing was changed"),
        code="pg_read_only", file=label(uri), value=login,
        hint=Text(f"请管理员执行 GRANT {owner} TO {login}（见 docs/store.md“中心共享编辑”），或换用有此权限的账号",
                  f"ask the administrator to GRANT {owner} TO {login} (docs/store.md, shared editing at a centre), "
                  "or use an account that has it"))


# ------------------------------------------------------------------------------------------------
# the edit log on PostGIS

LOG_DDL = """CREATE TABLE IF NOT EXISTS {s}.edit_log (
  fid bigserial PRIMARY KEY, time text NOT NULL, layer text NOT NULL, feature_fid bigint, feature_id text,
  action text NOT NULL, source text NOT NULL, operation text, batch text, old_values text, old_geom bytea,
  fid_last bigint, "user" text DEFAULT session_user);
CREATE INDEX IF NOT EXISTS edit_log_time_idx ON {s}.edit_log (time);
CREATE TABLE IF NOT EXISTS {s}.surveytools_lock (
  id integer PRIMARY KEY CHECK (id = 1), operation text, host text, pid integer, "user" text, since text);
CREATE TABLE IF NOT EXISTS {s}.surveytools_tables (name text PRIMARY KEY)"""

#: who made a change: an operation's transaction-local settings, else a user's edit
WHO = ("coalesce(nullif(current_setting('surveytools.source', true), ''), 'qgis edit'), "
       "nullif(current_setting('surveytools.operation', true), ''), "
       "nullif(current_setting('surveytools.batch', true), '')")
#: metadata key: the time zone of the edit log's times (the local zone of the machine that made the project)
TZ_META = "log_timezone"
NOW_FUNCTION = "surveytools_now"
#: the time of a log row: ``{s}.surveytools_now()``, local time in the project's zone whatever the session's TimeZone
NOW = "{s}." + NOW_FUNCTION + "()"

NOW_FUNCTION_SQL = """CREATE OR REPLACE FUNCTION {s}.surveytools_now() RETURNS text LANGUAGE sql VOLATILE AS
$f$ SELECT to_char(clock_timestamp() AT TIME ZONE {zone}, 'YYYY-MM-DD"T"HH24:MI:SS.MS') $f$"""


def local_zone() -> str:
    """The local time zone of this machine, as the GeoPackage log's ``localtime`` sees it: an IANA
    name (``$TZ``, the ``/etc/localtime`` link, ``/etc/timezone``), else its current UTC offset
    (``+08:00``)."""
    import zoneinfo

    def iana(name):
        name = (name or "").strip().lstrip(":")
        if not name or name.startswith("/"):
            return None
        try:
            zoneinfo.ZoneInfo(name)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError, OSError):
            return None
        return name

    if "TZ" in os.environ:
        got = iana(os.environ["TZ"])
        if got:
            return got
    else:
        with contextlib.suppress(OSError):
            link = os.readlink("/etc/localtime")
            if "zoneinfo/" in link:
                got = iana(link.split("zoneinfo/", 1)[1])
                if got:
                    return got
        with contextlib.suppress(OSError):
            from pathlib import Path

            got = iana(Path("/etc/timezone").read_text(encoding="utf-8"))
            if got:
                return got
    return _offset()


def _offset() -> str:
    """This machine's current UTC offset, ``+08:00``."""
    off = _dt.datetime.now().astimezone().utcoffset() or _dt.timedelta(0)
    mins = int(off.total_seconds() // 60)
    return f"{'+' if mins >= 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def _zone_sql(cur, zone: str) -> tuple[str, str]:
    """(SQL after ``AT TIME ZONE``, the zone): a zone name the server knows, else a fixed UTC offset
    (this machine's now, when the server does not know the name)."""
    import re

    if not re.fullmatch(r"[+-]\d\d:\d\d", zone):
        cur.execute("SAVEPOINT st_zone")
        try:
            cur.execute("SELECT now() AT TIME ZONE %s", (zone,))
        except Exception:  # psycopg.Error: a zone name this server does not know
            cur.execute("ROLLBACK TO SAVEPOINT st_zone")
            zone = _offset()
        else:
            cur.execute("RELEASE SAVEPOINT st_zone")
            return _lit(zone), zone
    return f"INTERVAL {_lit(zone)}", zone

LOG_FUNCTION_SQL = """CREATE OR REPLACE FUNCTION {s}.surveytools_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, public AS $f$
DECLARE
  idf text := TG_ARGV[0]; gcol text := TG_ARGV[1]; pk text := TG_ARGV[2];
  j jsonb; o jsonb; og bytea;
BEGIN
  IF TG_OP = 'INSERT' THEN
    j := to_jsonb(NEW);
    INSERT INTO {s}.edit_log (time, layer, feature_fid, feature_id, action, source, operation, batch)
    VALUES ({now}, TG_TABLE_NAME, (j->>pk)::bigint, j->>idf, 'insert', {who});
    RETURN NEW;
  END IF;
  o := to_jsonb(OLD);
  IF gcol <> '' THEN
    EXECUTE format('SELECT ST_AsBinary(($1).%I)', gcol) USING OLD INTO og;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    j := to_jsonb(NEW);
    INSERT INTO {s}.edit_log (time, layer, feature_fid, feature_id, action, source, operation, batch, old_values, old_geom)
    VALUES ({now}, TG_TABLE_NAME, (j->>pk)::bigint, j->>idf, 'update', {who}, (o - pk - gcol)::text, og);
    RETURN NEW;
  END IF;
  INSERT INTO {s}.edit_log (time, layer, feature_fid, feature_id, action, source, operation, batch, old_values, old_geom)
  VALUES ({now}, TG_TABLE_NAME, (o->>pk)::bigint, o->>idf, 'delete', {who}, (o - pk - gcol)::text, og);
  RETURN OLD;
END $f$"""


def ensure_log(cur, schema: str, zone: str | None = None) -> str:
    """The edit log's tables and functions in ``schema``; log times are local times in ``zone``
    (default: this machine's zone) whatever the writing session's TimeZone.  Returns the zone used."""
    for stmt in LOG_DDL.format(s=q(schema)).split(";\n"):
        cur.execute(stmt)
    expr, zone = _zone_sql(cur, zone or local_zone())
    cur.execute(NOW_FUNCTION_SQL.format(s=q(schema), zone=expr))
    cur.execute(LOG_FUNCTION_SQL.format(s=q(schema), now=NOW.format(s=q(schema)), who=WHO))
    return zone


def install_trigger(cur, schema: str, table: str, id_field: str | None) -> None:
    cols = columns(cur, schema, table)
    if not cols:
        return
    pk = next((c[0] for c in cols if c[3]), "fid")
    geom = next((c[0] for c in cols if c[2] == "geometry"), "")
    idf = id_field if id_field in {c[0] for c in cols} else ""
    cur.execute(f"DROP TRIGGER IF EXISTS {LOG_FUNCTION} ON {q(schema)}.{q(table)}")
    cur.execute(f"CREATE TRIGGER {LOG_FUNCTION} AFTER INSERT OR UPDATE OR DELETE ON {q(schema)}.{q(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {q(schema)}.{LOG_FUNCTION}(%s, %s, %s)".replace("%s", "{}").format(
                    _lit(idf), _lit(geom), _lit(pk)))


def id_index(table: str, field: str) -> str:
    """The name of a layer's standard-ID index (as on the GeoPackage backend)."""
    return f"idx_{table}_{field}"


def index_ids(cur, schema: str, tables: dict) -> None:
    """Give each logged layer (table -> standard ID field) an index on its ID when it has none (a
    new or re-created table); the catalogue is asked first, so a commit takes no lock on a table
    whose index exists (QGIS users editing it are not waited for)."""
    want = {id_index(t, f): (t, f) for t, f in tables.items() if f}
    if not want:
        return
    cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexname = ANY(%s)", (schema, list(want)))
    have = {r[0] for r in cur.fetchall()}
    for name, (table, field) in want.items():
        if name not in have and field in {c[0] for c in columns(cur, schema, table)}:
            cur.execute(f"CREATE INDEX {q(name)} ON {q(schema)}.{q(table)} ({q(field)})")


def id_lookup(uri, table: str, field: str, values, prefixes, length: int):
    """As :func:`surveytools.store.gpkg.id_lookup` on PostGIS, in one query through the ID index:
    (the values of ``values`` that are the ID of a feature, for each prefix the highest ID that
    starts with it, is ``length`` characters long and all digits).  ([], []) without the table; None
    when it has no ID index or this process has a pending write of it (the caller reads the layer)."""
    from .gpkg import active

    tx = active(uri)
    if tx is not None and table in tx.modes:
        return None
    _, schema = location(uri)
    with _reader(uri) as con, con.cursor() as cur:
        if not has_table(cur, schema, table):
            return [], []
        cur.execute("SELECT 1 FROM pg_indexes WHERE schemaname = %s AND tablename = %s AND indexname = %s",
                    (schema, table, id_index(table, field)))
        if cur.fetchone() is None:
            return None
        f, t = q(field), f"{q(schema)}.{q(table)}"
        pre = [str(p) for p in prefixes]
        # the highest serial by walking the index backwards from the top of the class (LIMIT 1), never
        # a bitmap scan of the whole class and a sort (what the planner picks on a table bulk-loaded
        # since its last ANALYZE: 0.5 s at 1M components instead of milliseconds)
        con.execute("BEGIN")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("SET LOCAL enable_sort = off")
        cur.execute(f"SELECT DISTINCT 0, {f} FROM {t} WHERE {f} = ANY(%(v)s) UNION ALL "
                    f"SELECT 1, m.id FROM unnest(%(lo)s::text[], %(hi)s::text[]) AS p(lo, hi) CROSS JOIN LATERAL "
                    f"(SELECT {f} AS id FROM {t} WHERE {f} BETWEEN p.lo AND p.hi AND length({f}) = %(n)s "
                    f"AND {f} !~ '[^0-9]' ORDER BY {f} DESC LIMIT 1) m",
                    {"v": [str(v) for v in values], "lo": [p + "0" * (length - len(p)) for p in pre],
                     "hi": [p + "9" * (length - len(p)) for p in pre], "n": int(length)})
        rows = cur.fetchall()
        con.execute("COMMIT")
    return [r[1] for r in rows if r[0] == 0], [r[1] for r in rows if r[0] == 1]


def _lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def has_trigger(cur, schema: str, table: str) -> bool:
    cur.execute("SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s AND t.tgname = %s",
                (schema, table, LOG_FUNCTION))
    return cur.fetchone() is not None


def set_session(cur, source: dict) -> None:
    cur.execute("SELECT set_config('surveytools.source', 'surveytools', true), "
                "set_config('surveytools.operation', %s, true), set_config('surveytools.batch', %s, true)",
                (str(source.get("operation") or ""), str(source.get("batch") or "")))


def log_range(cur, schema: str, table: str) -> int:
    """One ``insert`` row standing for every row of a table an operation has just written whole."""
    cur.execute(f"SELECT min(fid), max(fid), count(*) FROM {q(schema)}.{q(table)}")
    lo, hi, n = cur.fetchone()
    if not n:
        return 0
    if hi - lo + 1 == n:
        cur.execute(f"INSERT INTO {q(schema)}.edit_log (time, layer, feature_fid, fid_last, action, source, operation, "
                    f"batch) VALUES ({NOW.format(s=q(schema))}, %s, %s, %s, 'insert', {WHO})", (table, lo, hi))
        return n
    return 0


# ------------------------------------------------------------------------------------------------
# transactions

class Transaction(StagedWrites):
    """The writes of one operation on a PostGIS project: staged in a local GeoPackage, pushed in one
    PostgreSQL transaction by :meth:`commit`."""

    def __init__(self, project):
        super().__init__(project, project.path)
        self.dir: str | None = None

    def _stage_file(self) -> str:
        if self.staging is None:
            self.dir = tempfile.mkdtemp(prefix=f"surveytools-pg-stage-{os.getpid()}-")
            self.staging = os.path.join(self.dir, "stage.gpkg")
        return self.staging

    def sources(self, table: str) -> list:
        mode = self.modes.get(table)
        if mode == "replace":
            return [self.staging]
        if mode == "append":
            _, schema = location(self.path)
            with _reader(self.path) as con, con.cursor() as cur:
                there = has_table(cur, schema, table)
            return ([self.path] if there else []) + [self.staging]
        return [self.path]

    def discard(self) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def commit(self, source: dict, *, create: dict | None = None) -> None:
        """Push the staged writes in one transaction.  ``create`` (``project init``): make the schema
        first (``{"overwrite": bool}``)."""
        import psycopg

        _, schema = location(self.path)
        s = q(schema)
        with connect(self.path) as con:
            cur = con.cursor()
            try:
                cur.execute("SET LOCAL lock_timeout = '60s'")
                zone = None
                if create is not None:
                    zone = _create_schema(cur, schema, self.path, overwrite=create.get("overwrite", False))
                elif TZ_META not in (self.project.meta or {}):
                    zone = ensure_log(cur, schema)  # a project made when log times followed the session's zone
                set_session(cur, source)
                from . import log

                logged = log.logged_tables(self.project)
                for step in self.steps:
                    if step[0] == "table":
                        name = step[1]
                        tab, geometry, srid = _staged(self.staging, name)
                        if self.modes[name] == "append" and has_table(cur, schema, name):
                            _append(cur, schema, name, tab, geometry, srid)
                            continue
                        if self.mark is not None and name in logged:
                            _edited_meanwhile(cur, schema, name, self.mark, self.path)
                        _replace(cur, schema, name, tab, geometry, srid, logged=name in logged,
                                 id_field=logged.get(name))
                    else:
                        sql = step[1].replace("?", "%s")
                        cur.execute(f"SET LOCAL search_path = {s}, public")
                        cur.executemany(sql, step[2])
                for table, id_field in logged.items():
                    if has_table(cur, schema, table) and not has_trigger(cur, schema, table):
                        install_trigger(cur, schema, table, id_field)
                index_ids(cur, schema, logged)
                cur.execute(f"SELECT value FROM {s}.{META_TABLE} WHERE key = 'revision'")
                row = cur.fetchone()
                revision = int(row[0]) + 1 if row and str(row[0]).isdigit() else 1
                if zone:
                    self.meta[TZ_META] = zone
                meta = dict(self.meta, updated=_dt.datetime.now().replace(microsecond=0).isoformat(),
                            revision=str(revision))
                for k, v in meta.items():
                    cur.execute(f"UPDATE {s}.{META_TABLE} SET value = %s WHERE key = %s", (str(v), k))
                    if cur.rowcount == 0:
                        cur.execute(f"INSERT INTO {s}.{META_TABLE} (key, value) VALUES (%s, %s)", (k, str(v)))
                con.commit()
                if zone and self.project.meta is not None:
                    self.project.meta[TZ_META] = zone
            except psycopg.errors.LockNotAvailable:
                con.rollback()
                raise SurveyError(Text("项目库的表正被其他会话（如 QGIS 的编辑）锁定超过 60 秒；本次操作未做任何修改",
                                       "a project table has been locked by another session (a QGIS edit, say) for "
                                       "over 60 s; nothing was changed"), code="project_locked",
                                  file=label(self.path)) from None
            except BaseException:
                con.rollback()
                raise


def _staged(staging: str, name: str):
    """(Arrow table with ``fid``, geometry type or None, SRID) of a staged table."""
    import pyogrio

    meta, tab = pyogrio.read_arrow(staging, layer=name, return_fids=True)
    fcol = meta.get("fid_column") or "fid"
    if fcol != "fid" and fcol in tab.column_names:
        tab = tab.rename_columns(["fid" if c == fcol else c for c in tab.column_names])
    gname = meta.get("geometry_name") or ""
    geometry = None
    srid = 0
    if gname and gname in tab.column_names:
        if gname != "geom":
            tab = tab.rename_columns(["geom" if c == gname else c for c in tab.column_names])
        geometry = meta.get("geometry_type") or "Geometry"
        if geometry == "Unknown":
            geometry = "Geometry"
        if meta.get("crs"):
            from pyproj import CRS

            srid = CRS.from_user_input(meta["crs"]).to_epsg() or 0
    import pyarrow as pa

    fields = [pa.field(f.name, f.type) for f in tab.schema]  # no GeoArrow extension metadata
    tab = pa.table(tab.columns, schema=pa.schema(fields))
    return tab, geometry, srid


def _col_defs(tab, geometry, srid) -> list:
    import pyarrow as pa

    from ..export.postgis import PG_GEOM, PG_TYPES

    out = []
    for f in tab.schema:
        if f.name == "fid":
            continue
        if f.name == "geom" and geometry:
            out.append(("geom", f"geometry({PG_GEOM.get(geometry, 'Geometry')},{srid})" if srid else
                        f"geometry({PG_GEOM.get(geometry, 'Geometry')})"))
        elif f.name == "geom":
            out.append(("geom", "bytea"))
        else:
            t = f.type
            out.append((f.name, PG_TYPES.get(t) or ("timestamp" if pa.types.is_timestamp(t) else "text")))
    return out


def _norm_type(t: str) -> str:
    t = t.lower().replace(" ", "")
    return {"timestampwithouttimezone": "timestamp", "geometry(geometry)": "geometry",
            "geometry(geometry,0)": "geometry"}.get(t, t)


def _create(cur, schema: str, name: str, defs: list) -> None:
    cols = ", ".join(f"{q(n)} {t}" for n, t in defs)
    cur.execute(f"CREATE TABLE {q(schema)}.{q(name)} (fid bigserial PRIMARY KEY{', ' if cols else ''}{cols})")
    if any(n == "geom" and t.startswith("geometry") for n, t in defs):
        cur.execute(f"CREATE INDEX {q(name + '_geom_idx')} ON {q(schema)}.{q(name)} USING gist (geom)")
    cur.execute(f"INSERT INTO {q(schema)}.{TABLES_TABLE} (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))


def _grants(cur, schema: str, name: str) -> list:
    """GRANT statements giving a table's privileges (and its fid sequence's) to a new table of that name."""
    out = []
    for rel, what in ((f"{q(schema)}.{q(name)}", "TABLE"), (f"{q(schema)}.{q(name + '_fid_seq')}", "SEQUENCE")):
        cur.execute("SELECT to_regclass(%s)", (rel,))
        if cur.fetchone()[0] is None:
            continue
        cur.execute("SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type "
                    "FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
                    "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner", (rel,))
        out += [f"GRANT {p} ON {what} {rel} TO {g}" for g, p in cur.fetchall()]
    return out


#: a table emptied and refilled with more rows than this gets its indexes (GiST, the ID index; not the primary
#: key) built after the COPY, not row by row
BULK_INDEX_ROWS = 20_000


def _copy(cur, schema: str, name: str, tab, geometry, srid: int, *, fid_offset: int = 0, emptied: bool = False,
          fids=None) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..export.postgis import copy_table

    if tab.num_rows == 0:
        return
    rebuild = []
    if emptied and tab.num_rows > BULK_INDEX_ROWS:
        cur.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT x.indisunique",
                    (f"{q(schema)}.{q(name)}",))
        rebuild = cur.fetchall()
        for idx, _ in rebuild:
            cur.execute(f"DROP INDEX {q(schema)}.{q(idx)}")
    if fids is not None:  # reserved from the sequence (reserve_fids), in the staged rows' order
        order = pc.sort_indices(tab.column("fid")) if "fid" in tab.column_names else None
        col = pa.array(fids, pa.int64()) if order is None else pc.take(pa.array(fids, pa.int64()), pc.sort_indices(order))
        tab = (tab.set_column(tab.column_names.index("fid"), "fid", col) if "fid" in tab.column_names
               else tab.append_column("fid", col))
    elif fid_offset and "fid" in tab.column_names:
        i = tab.column_names.index("fid")
        tab = tab.set_column(i, "fid", pc.add(tab.column(i).cast(pa.int64()), fid_offset))
    copy_table(cur, schema, name, tab, geometry, srid)
    for _, sql in rebuild:  # the same index (name, definition), built in bulk
        cur.execute(sql)
    if fids is None:  # forward only: never below a fid another session has just taken from the sequence
        rel = f"{q(schema)}.{q(name)}"
        cur.execute("SELECT pg_get_serial_sequence(%s, 'fid')", (rel,))
        seq = cur.fetchone()[0]
        cur.execute(f"SELECT setval(%s, greatest(t.m, CASE WHEN s.is_called THEN s.last_value ELSE 1 END, 1)) "
                    f"FROM (SELECT max(fid) AS m FROM {rel}) t, {seq} s", (seq,))


def _replace(cur, schema: str, name: str, tab, geometry, srid: int, *, logged: bool, id_field) -> None:
    s, t = q(schema), q(name)
    defs = _col_defs(tab, geometry, srid)
    have = columns(cur, schema, name)
    same = bool(have) and [(c[0], _norm_type(c[1])) for c in have if not c[3]] == \
        [(n, _norm_type(d)) for n, d in defs] and [c[0] for c in have if c[3]] == ["fid"]
    if same:
        if logged and _replace_changed(cur, schema, name, tab, geometry, srid, [n for n, _ in defs]):
            return
        if logged:
            cur.execute(f"DELETE FROM {s}.{t}")  # the triggers log the old rows
            cur.execute(f"ALTER TABLE {s}.{t} DISABLE TRIGGER {LOG_FUNCTION}")
        else:
            cur.execute(f"TRUNCATE {s}.{t} RESTART IDENTITY")
        _copy(cur, schema, name, tab, geometry, srid, emptied=True)
        if logged:
            cur.execute(f"ALTER TABLE {s}.{t} ENABLE TRIGGER {LOG_FUNCTION}")
            log_range(cur, schema, name)
        return
    grants = _grants(cur, schema, name) if have else []
    if have:
        if logged:
            cur.execute(f"DELETE FROM {s}.{t}")
        cur.execute(f"DROP TABLE {s}.{t}")  # never CASCADE: a user's view on it stops the operation
    _create(cur, schema, name, defs)
    for g in grants:
        cur.execute(g)
    _copy(cur, schema, name, tab, geometry, srid, emptied=True)
    if logged:
        log_range(cur, schema, name)


#: a logged layer is rewritten row by row (only the changed rows) when at most this share (or 1,000 rows) changed
DIFF_MAX_SHARE = 0.3


def _replace_changed(cur, schema, name, tab, geometry, srid, cols) -> bool:
    """The GeoPackage backend's diff (see ``store/gpkg.py``): the staged rows in a temporary table,
    then only the changed rows updated in place (row k of the stage is the k-th row in fid order)
    and the extra ones inserted.  False: nothing done, the caller replaces the table whole."""
    s, t = q(schema), q(name)
    cur.execute(f"SELECT count(*) FROM {s}.{t}")
    total = cur.fetchone()[0]
    n = tab.num_rows
    if total == 0 or n < total:
        return False
    import pyarrow.compute as pc

    fids = tab.column("fid")
    if n and (pc.min(fids).as_py() != 1 or pc.max(fids).as_py() != n):
        return False
    cur.execute("DROP TABLE IF EXISTS pg_temp.st_stage")
    cur.execute(f"CREATE TEMP TABLE st_stage (LIKE {s}.{t}) ON COMMIT DROP")
    from ..export.postgis import copy_table

    copy_table(cur, "pg_temp", "st_stage", tab, geometry, srid)
    cur.execute("CREATE INDEX ON pg_temp.st_stage (fid)")
    cl = ", ".join(q(c) for c in cols)
    sc = ", ".join(f"s.{q(c)}" for c in cols)
    xc = ", ".join(f"x.{q(c)}" for c in cols)
    cur.execute("DROP TABLE IF EXISTS pg_temp.st_changed")
    cur.execute(f"CREATE TEMP TABLE st_changed ON COMMIT DROP AS SELECT m.r, m.mfid FROM "
                f"(SELECT row_number() OVER (ORDER BY fid) AS r, fid AS mfid FROM {s}.{t}) m "
                f"JOIN pg_temp.st_stage s ON s.fid = m.r JOIN {s}.{t} x ON x.fid = m.mfid "
                f"WHERE ({sc}) IS DISTINCT FROM ({xc})" if cols else
                "CREATE TEMP TABLE st_changed ON COMMIT DROP AS SELECT 1::bigint AS r, 1::bigint AS mfid WHERE false")
    cur.execute("SELECT count(*) FROM pg_temp.st_changed")
    changed = cur.fetchone()[0]
    if changed + (n - total) > max(DIFF_MAX_SHARE * total, 1000):
        return False
    if changed and cols:
        cur.execute(f"UPDATE {s}.{t} AS x SET ({cl}) = ({sc}) FROM pg_temp.st_changed c "
                    f"JOIN pg_temp.st_stage s ON s.fid = c.r WHERE x.fid = c.mfid" if len(cols) > 1 else
                    f"UPDATE {s}.{t} AS x SET {cl} = {sc} FROM pg_temp.st_changed c "
                    f"JOIN pg_temp.st_stage s ON s.fid = c.r WHERE x.fid = c.mfid")
    if n > total:
        cur.execute(f"INSERT INTO {s}.{t} ({cl}) SELECT {cl} FROM pg_temp.st_stage WHERE fid > %s ORDER BY fid",
                    (total,))
    return True


def _append(cur, schema: str, name: str, tab, geometry, srid: int) -> None:
    have = {c[0] for c in columns(cur, schema, name)}
    for n, d in _col_defs(tab, geometry, srid):
        if n not in have:
            cur.execute(f"ALTER TABLE {q(schema)}.{q(name)} ADD COLUMN {q(n)} {d}")
    _copy(cur, schema, name, tab, geometry, srid, fids=reserve_fids(cur, schema, name, tab.num_rows))


def reserve_fids(cur, schema: str, name: str, n: int):
    """``n`` new fids for rows appended to a table, taken from its sequence with ``nextval``: each is
    this transaction's alone, so staff inserting features in QGIS at the same time (their fids also
    come from the sequence) never collide with an intake's rows.  Reading the highest fid and copying
    after it let a QGIS insert committed in between take the intake's first fid (duplicate key)."""
    import numpy as np

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rel = f"{q(schema)}.{q(name)}"
    cur.execute("SELECT pg_get_serial_sequence(%s, 'fid')", (rel,))
    seq = cur.fetchone()[0]
    # a table filled with explicit fids (by GDAL or an older version) may be past its sequence: move it on
    cur.execute(f"SELECT setval(%s, m) FROM (SELECT max(fid) AS m FROM {rel}) t, {seq} s "
                "WHERE t.m > CASE WHEN s.is_called THEN s.last_value ELSE 0 END", (seq,))
    cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", (seq, n))
    return np.sort(np.fromiter((r[0] for r in cur.fetchall()), dtype=np.int64, count=n))


def _edited_meanwhile(cur, schema: str, table: str, mark: int, uri) -> None:
    if not has_table(cur, schema, "edit_log"):
        return
    cur.execute(f"SELECT count(*), max(time) FROM {q(schema)}.edit_log WHERE fid > %s AND layer = %s "
                "AND source <> 'surveytools'", (mark, table))
    n, last = cur.fetchone()
    if n:
        raise SurveyError(
            Text(f"操作运行期间图层 {table} 在其他程序（如 QGIS）中被编辑了 {n} 处（最近一次 {last}）；"
                 "为免覆盖这些编辑，本次操作未做任何修改，请重新运行",
                 f"layer {table} was edited in another program (QGIS, say) while the operation ran ({n} "
                 f"changes, the last at {last}); so as not to overwrite them nothing was changed: run it again"),
            code="edited_meanwhile", file=label(uri), layer=table)


def _create_schema(cur, schema: str, uri, *, overwrite: bool) -> None:
    """Create the project schema; refuse a schema that is not ours, or ours without ``overwrite``
    (then drop only the tables this product created, never CASCADE)."""
    import psycopg

    rels = schema_relations(cur, schema)
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
    exists = cur.fetchone() is not None
    ours = META_TABLE in rels and TABLES_TABLE in rels
    if rels and not ours:
        raise SurveyError(Text(f"模式 {schema} 已存在且不是 surveytools 项目库（含 {len(rels)} 个表或视图），未作任何改动",
                               f"schema {schema} exists and is not a surveytools project ({len(rels)} tables or views); "
                               "nothing was changed"), code="foreign_schema", file=label(uri),
                          value=", ".join(sorted(rels)[:12]),
                          hint=Text("换一个模式名（?schema=…）", "choose another schema name (?schema=…)"))
    if ours and not overwrite:
        raise SurveyError(Text("该模式中已有调查项目库；如需覆盖请使用 --overwrite",
                               "the schema already holds a survey project; use --overwrite to replace it"),
                          code="exists", file=label(uri))
    if ours:
        cur.execute(f"SELECT name FROM {q(schema)}.{TABLES_TABLE}")
        mine = list(dict.fromkeys([r[0] for r in cur.fetchall()] + [META_TABLE, "edit_log", LOCK_TABLE, TABLES_TABLE]))
        for name in mine:
            if name not in rels:
                continue
            cur.execute("SAVEPOINT st_drop")
            try:
                cur.execute(f"DROP TABLE {q(schema)}.{q(name)}")
            except psycopg.errors.DependentObjectsStillExist as e:
                cur.execute("ROLLBACK TO SAVEPOINT st_drop")
                raise SurveyError(Text(f"不能替换表 {schema}.{name}：还有其他对象依赖它（{e.diag.message_detail}），未作任何改动",
                                       f"cannot replace table {schema}.{name}: other objects depend on it "
                                       f"({e.diag.message_detail}); nothing was changed"), code="dependent_objects",
                                  file=label(uri), layer=name) from None
            cur.execute("RELEASE SAVEPOINT st_drop")
    elif not exists:
        cur.execute(f"CREATE SCHEMA {q(schema)}")
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
    if cur.fetchone() is None:
        try:
            cur.execute("CREATE EXTENSION postgis")
        except psycopg.Error as e:
            raise SurveyError(Text(f"数据库没有 PostGIS 扩展且无法创建：{e}", f"the database lacks PostGIS and it cannot be created: {e}"),
                              code="no_postgis", file=label(uri),
                              hint=Text("请数据库管理员在该数据库中执行 CREATE EXTENSION postgis;（docs/store.md）",
                                        "ask the database administrator to run CREATE EXTENSION postgis; in that database "
                                        "(docs/store.md)")) from None
    return ensure_log(cur, schema)


def init_project(uri, staging: str, project, layers: list, *, overwrite: bool) -> None:
    """``project init`` on PostGIS: the tables GDAL wrote into the local ``staging`` GeoPackage become
    the schema's tables, with the edit log, its triggers and the lock table, in one transaction."""
    tx = Transaction(project)
    tx.staging = staging
    for name in layers:
        tx.modes[name] = "replace"
        tx.steps.append(("table", name))
    tx.commit({"operation": "project init"}, create={"overwrite": overwrite})
    # a new project's rows are not edits: only what comes after init is logged
    _, schema = location(uri)
    with connect(uri) as con, con.cursor() as cur:
        cur.execute(f"DELETE FROM {q(schema)}.edit_log")
        cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'fid'), 1, false)", (f"{q(schema)}.edit_log",))
        con.commit()


@contextlib.contextmanager
def transaction(project, *, timeout=None):
    """One operation on a PostGIS project: lock, stage, commit in one PostgreSQL transaction."""
    from ..ops import current_operation
    from . import gpkg as store_gpkg

    k = store_gpkg._key(project.path)
    if k in store_gpkg._ACTIVE:
        yield store_gpkg._ACTIVE[k].project
        return
    with project_lock(project.path, timeout=timeout):
        from ..project import Project

        work = Project(project.path, dict(project.meta), project.profile)
        tx = Transaction(work)
        tx.mark = store_gpkg._MARKS.get(k)
        if tx.mark is None:
            tx.mark = log_mark(project.path)
        store_gpkg._ACTIVE[k] = tx
        try:
            yield work
            tx.commit({"operation": current_operation() or "surveytools", "batch": tx.batch})
        finally:
            store_gpkg._ACTIVE.pop(k, None)
            tx.discard()
        project.meta = dict(work.meta, updated=_dt.datetime.now().replace(microsecond=0).isoformat())


@contextlib.contextmanager
def lock(project, *, timeout=None):
    from . import gpkg as store_gpkg

    k = store_gpkg._key(project.path)
    with project_lock(project.path, timeout=timeout):
        outer = k not in store_gpkg._MARKS
        if outer:
            store_gpkg._MARKS[k] = log_mark(project.path)
        try:
            yield
        finally:
            if outer:
                store_gpkg._MARKS.pop(k, None)


def json_dumps(v) -> str:
    return json.dumps(v, ensure_ascii=False)
