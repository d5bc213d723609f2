"""The release in PostGIS (psycopg 3), same tables as the GeoPackage.

**Full release, one transaction.**  Every table is created in a staging schema ``<schema>__staging``
and filled with ``COPY … FROM STDIN (FORMAT csv)`` (geometry as hex EWKB, so it lands typed and with
its SRID); then GiST and attribute indexes, ``ANALYZE``, ``DROP SCHEMA <schema> CASCADE``, ``ALTER
SCHEMA <schema>__staging RENAME TO <schema>`` and the rows of ``public.layer_styles`` (QGIS reads its
styles there) — all before the single ``COMMIT``.  A failure, a cancel or a killed process rolls back
everything: readers keep seeing the previous release until the commit, and then the new one at once.

**Incremental release, one transaction.**  Only what changed since the last release: the components
in the project's ``change_log`` since ``release_meta.release_time``, or everything of one street or
community (components, events, unit grids), is deleted and re-inserted; the small tables (departments,
matrix, dictionaries, styles) are replaced; ``release_meta`` is updated.  An older release schema is
migrated first (:data:`surveytools.export.schema.MIGRATIONS`), in the same transaction.
"""
from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa

from ..errors import SurveyError
from ..i18n import Text
from .database import Release, plan, table_data
from .schema import META_TABLE, MIGRATIONS, SCHEMA_VERSION, STYLES_TABLE, field_name

PG_TYPES = {pa.string(): "text", pa.large_string(): "text", pa.int64(): "bigint", pa.int32(): "integer",
            pa.float64(): "double precision", pa.float32(): "real", pa.date32(): "date", pa.bool_(): "boolean",
            pa.timestamp("ms"): "timestamp", pa.timestamp("us"): "timestamp"}
PG_GEOM = {"point": "Point", "line": "LineString", "polygon": "Polygon", "multipolygon": "MultiPolygon",
           "Point": "Point", "LineString": "LineString", "Polygon": "Polygon", "MultiPolygon": "MultiPolygon",
           "MultiLineString": "MultiLineString", "MultiPoint": "MultiPoint", "multiline": "MultiLineString",
           "multipoint": "MultiPoint"}
RESERVED = {"public", "information_schema", "topology", "tiger", "tiger_data"}
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")
CHUNK = 200_000


def parse_url(target: str) -> tuple[str, str]:
    """(libpq URL without ``schema``, schema) from ``postgresql://…[?schema=NAME]`` (default ``surveytools``)."""
    from ..store.pg import label

    parts = urlsplit(target)
    try:
        parts.port
    except ValueError:
        port = parts.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[-1]
        raise SurveyError(Text(f"地址中的端口“{port}”不是 1–65535 之间的数字",
                               f"the port '{port}' in the address is not a number from 1 to 65535"),
                          code="bad_uri", file=label(target), value=port) from None
    q = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in q if k == "schema"), "surveytools") or "surveytools"
    rest = [(k, v) for k, v in q if k != "schema"]
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    if not NAME.match(schema) or schema in RESERVED or schema.startswith("pg_"):
        raise SurveyError(Text(f"模式名“{schema}”不可用：应为小写字母、数字和下划线，且不能是 public 等系统模式",
                               f"schema name '{schema}' cannot be used: lower-case letters, digits and _ only, and not "
                               "public or another system schema"), code="bad_schema", value=schema)
    return url, schema


def connect(url: str, schema: str | None = None):
    """A connection to the release database; with ``schema``, acting as that schema's owner when the
    login is a member of the owner role (docs/store.md: a centre's release belongs to ``city_owner``,
    whoever of the staff publishes it)."""
    import psycopg

    from ..store.pg import act_as_owner, connect_error

    try:
        con = psycopg.connect(url, autocommit=False, connect_timeout=15)
    except psycopg.OperationalError as e:
        raise connect_error(e, url) from None
    if schema is not None:
        with con.cursor() as cur:
            act_as_owner(cur, schema)
        con.commit()
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_postgis(cur, srid: int, crs) -> None:
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
    if cur.fetchone() is None:
        try:
            cur.execute("CREATE EXTENSION postgis")
        except Exception as e:
            raise SurveyError(Text(f"数据库没有 PostGIS 扩展且无法创建：{e}", f"the database lacks PostGIS and it cannot be created: {e}"),
                              code="no_postgis",
                              hint=Text("请数据库管理员在该数据库中执行 CREATE EXTENSION postgis;",
                                        "ask the database administrator to run CREATE EXTENSION postgis; in that database")) from None
    cur.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = %s", (srid,))
    if cur.fetchone() is None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crs_wkt, proj4 = crs.to_wkt(), crs.to_proj4() or ""
        cur.execute("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) VALUES (%s, 'surveytools', %s, %s, %s)",
                    (srid, srid, crs_wkt, proj4))


def create_table(cur, schema: str, name: str, table: pa.Table, geometry: str | None, srid: int) -> None:
    cols = []
    for f in table.schema:
        if f.name == "geom" and geometry:
            cols.append(f'geom geometry({PG_GEOM.get(geometry, "Geometry")}, {srid})')
        elif f.name == "geom":
            cols.append("geom bytea")
        else:
            t = f.type
            pgt = PG_TYPES.get(t) or ("timestamp" if pa.types.is_timestamp(t) else "text")
            cols.append(f"{_q(f.name)} {pgt}")
    cur.execute(f"CREATE TABLE {_q(schema)}.{_q(name)} (fid bigserial PRIMARY KEY, {', '.join(cols)})")


def _ewkb_hex(col, srid: int) -> pa.Array:
    import numpy as np
    import shapely

    wkb = col.to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(wkb)
    geoms = shapely.set_srid(geoms, srid)
    hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    return pa.array(np.where(shapely.is_missing(geoms), None, hexes), pa.string())


def _as_multipolygons(wkb: pa.Array) -> pa.Array:
    """WKB with every single polygon made a one-part MultiPolygon (a MultiPolygon column refuses a
    Polygon; a project layer edited by hand may hold both)."""
    import numpy as np
    import shapely

    geoms = shapely.from_wkb(np.asarray(wkb.to_pylist(), dtype=object))
    single = shapely.get_type_id(geoms) == 3
    if not single.any():
        return wkb
    geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(int(single.sum())))
    return pa.array(shapely.to_wkb(geoms), pa.binary())


def copy_table(cur, schema: str, name: str, table: pa.Table, geometry: str | None, srid: int, feedback=None) -> None:
    """COPY an Arrow table in chunks (CSV written by Arrow: "" is an empty string, nothing is NULL)."""
    import pyarrow.csv as pacsv

    if table.num_rows == 0:
        return
    cols = ", ".join(_q(c) for c in table.column_names)
    with cur.copy(f"COPY {_q(schema)}.{_q(name)} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        for start in range(0, table.num_rows, CHUNK):
            part = table.slice(start, CHUNK)
            if "geom" in part.column_names:
                i = part.column_names.index("geom")
                g = part.column(i).combine_chunks()
                if geometry in ("multipolygon", "MultiPolygon"):
                    g = _as_multipolygons(g)
                part = part.set_column(i, "geom", _ewkb_hex(g, srid) if geometry else
                                       pa.array([None if v is None else "\\x" + v.hex() for v in g.to_pylist()], pa.string()))
            buf = io.BytesIO()
            pacsv.write_csv(part, buf, pacsv.WriteOptions(include_header=False))
            cp.write(buf.getvalue())
            if feedback is not None:
                feedback.check()


def create_indexes(cur, rel: Release, schema: str, spec, table: pa.Table) -> None:
    if "geom" in table.column_names and spec.geometry:
        cur.execute(f"CREATE INDEX {_q(spec.name + '_geom_idx')} ON {_q(schema)}.{_q(spec.name)} USING gist (geom)")
    for role in spec.indexes:
        f = field_name(spec, rel.profile, role)
        if f and f in table.column_names:
            cur.execute(f"CREATE INDEX {_q(f'{spec.name}_{f}_idx')} ON {_q(schema)}.{_q(spec.name)} ({_q(f)})")
    if spec.name == "dispatch_matrix":
        cur.execute(f"CREATE INDEX dispatch_matrix_key_idx ON {_q(schema)}.dispatch_matrix (kind, class_code, area_type, area_code)")


QGIS_STYLES_DDL = """CREATE TABLE IF NOT EXISTS public.layer_styles (
  id serial PRIMARY KEY, f_table_catalog varchar, f_table_schema varchar, f_table_name varchar,
  f_geometry_column varchar, stylename text, styleqml xml, stylesld xml, useasdefault boolean,
  description text, owner varchar(63) DEFAULT CURRENT_USER, ui xml,
  update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)"""


def write_public_styles(cur, rel: Release, schema: str, catalog: str) -> int:
    """The QGIS styles in ``public.layer_styles`` (where QGIS looks), replacing this schema's rows of the
    release tables (styles of a user's other tables in the schema are kept)."""
    import psycopg

    from .database import release_table_names
    from .styles import style_rows

    # DDL only when needed: CREATE … IF NOT EXISTS and ADD COLUMN IF NOT EXISTS are refused without the
    # CREATE privilege on public / ownership even when there is nothing to do (a centre's staff login)
    cur.execute("SELECT to_regclass('public.layer_styles') IS NOT NULL")
    if not cur.fetchone()[0]:
        cur.execute(QGIS_STYLES_DDL)
    cur.execute("SELECT 1 FROM pg_attribute WHERE attrelid = 'public.layer_styles'::regclass AND attname = 'type' "
                "AND NOT attisdropped")
    if cur.fetchone() is None:
        cur.execute("ALTER TABLE public.layer_styles ADD COLUMN type varchar")
    rows = style_rows(rel.specs, rel.profile, catalog=catalog, schema=schema)
    cur.execute("SAVEPOINT st_styles")
    try:
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_catalog = %s AND f_table_schema = %s "
                    "AND f_table_name = ANY(%s)", (catalog, schema, sorted(release_table_names(rel))))
        # type stays NULL: QGIS matches "type = <the URI's geometry type> OR type IS NULL", and a URI without
        # an explicit type would otherwise miss the style
        for r in rows:
            cur.execute("INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, stylename, styleqml, stylesld, useasdefault, description, owner, "
                        "update_time, type) "
                        "VALUES (%s, %s, %s, %s, %s, XMLPARSE(DOCUMENT %s), XMLPARSE(DOCUMENT %s), %s, %s, %s, %s, %s)",
                        (r["f_table_catalog"], r["f_table_schema"], r["f_table_name"], r["f_geometry_column"],
                         r["styleName"],
                         r["styleQML"].split("\n", 1)[1] if r["styleQML"].startswith("<!DOCTYPE") else r["styleQML"],
                         r["styleSLD"].split("\n", 1)[1] if r["styleSLD"].startswith("<?xml") else r["styleSLD"],
                         True, r["description"], "surveytools", r["update_time"], None))
    except psycopg.errors.InsufficientPrivilege:
        # the styles are a convenience for QGIS users: a login that may not write them still publishes the data
        cur.execute("ROLLBACK TO SAVEPOINT st_styles")
        cur.execute("SELECT session_user")
        who = cur.fetchone()[0]
        rel.warnings.append(Text(
            f"账号 {who} 不能写入 public.layer_styles，发布库没有写入 QGIS 图层样式（数据已发布）；"
            "管理员可按 docs/store.md 授予写权限",
            f"account {who} may not write public.layer_styles: the release has no QGIS layer styles (the data "
            "was released); the administrator can grant it as docs/store.md shows"))
        return 0
    cur.execute("RELEASE SAVEPOINT st_styles")
    return len(rows)


def _write_all(cur, rel: Release, schema: str, feedback, *, names=None, start=5.0, end=85.0) -> dict:
    srid = int(rel.meta["srid"])
    counts = {}
    specs = [s for s in rel.specs if s.name != META_TABLE and (names is None or s.name in names)]
    for i, spec in enumerate(specs):
        t = table_data(rel, spec)
        geometry = spec.geometry
        if spec.source == "raw" and "geom" in t.column_names:
            from .database import _raw_geometry

            geometry = _raw_geometry(rel.proj, spec)
        create_table(cur, schema, spec.name, t, geometry, srid)
        copy_table(cur, schema, spec.name, t, geometry, srid, feedback)
        create_indexes(cur, rel, schema, spec, t)
        counts[spec.name] = t.num_rows
        feedback.progress(start + (end - start) * (i + 1) / len(specs))
    return counts


def _write_meta(cur, rel: Release, schema: str, counts: dict) -> None:
    rel.meta["tables"] = json.dumps(counts, ensure_ascii=False)
    spec = next(s for s in rel.specs if s.name == META_TABLE)
    t = table_data(rel, spec)
    cur.execute(f"DROP TABLE IF EXISTS {_q(schema)}.{META_TABLE}")
    create_table(cur, schema, META_TABLE, t, None, 0)
    copy_table(cur, schema, META_TABLE, t, None, 0)
    cur.execute(f"CREATE UNIQUE INDEX release_meta_key_idx ON {_q(schema)}.{META_TABLE} (key)")


def schema_tables(cur, schema: str) -> set:
    """Tables, views and other relations of ``schema`` (empty when it does not exist)."""
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schema,))
    return {r[0] for r in cur.fetchall()}


def schema_meta(cur, schema: str, names: set) -> dict | None:
    table = META_TABLE if META_TABLE in names else ("release_info" if "release_info" in names else None)
    if table is None:
        return None
    cur.execute(f"SELECT key, value FROM {_q(schema)}.{_q(table)}")
    return {str(k): v for k, v in cur.fetchall()}


def _target_label(url: str, schema: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{host}{port}{parts.path}?schema={schema}"


def export_full(rel: Release, url: str, schema: str, feedback, *, replace_foreign: bool = False) -> dict:
    """Write a whole release into ``schema`` in one transaction.

    Only the product's own tables are ever dropped: the previous release's tables (when ``schema`` holds a
    release of this project, or any release with ``replace_foreign``) are dropped one by one and the new
    ones moved in from the staging schema; a user's other tables and views in ``schema`` stay (see
    :func:`surveytools.export.database.plan_replacement`)."""
    from pyproj import CRS

    from .database import plan_replacement, release_table_names

    stage = f"{schema}__staging"
    crs = CRS.from_user_input(rel.proj.crs)
    target = _target_label(url, schema)
    with connect(url, schema) as con:
        cur = con.cursor()
        cur.execute("SET LOCAL lock_timeout = '60s'")
        existing = schema_tables(cur, schema)
        to_drop = plan_replacement(rel, existing, schema_meta(cur, schema, existing), target=target,
                                   replace_foreign=replace_foreign, kind=Text(f"（模式 {schema}）", f"(schema {schema})"))
        staged = schema_tables(cur, stage)
        if staged - release_table_names(rel):
            raise SurveyError(Text(f"暂存模式 {stage} 已存在且含有不属于发布的表，未作任何改动",
                                   f"the staging schema {stage} exists and holds tables that are not part of a release; "
                                   "nothing was changed"), code="foreign_tables", file=target,
                              value=", ".join(sorted(staged - release_table_names(rel))[:12]))
        ensure_postgis(cur, int(rel.meta["srid"]), crs)
        cur.execute("SELECT current_database()")
        catalog = cur.fetchone()[0]
        rel.catalog, rel.schema = catalog, schema
        cur.execute(f"DROP SCHEMA IF EXISTS {_q(stage)} CASCADE")  # only release tables (checked above)
        cur.execute(f"CREATE SCHEMA {_q(stage)}")
        feedback.progress(5)
        counts = _write_all(cur, rel, stage, feedback)
        _write_meta(cur, rel, stage, counts)
        counts[META_TABLE] = len(rel.meta)
        for name in counts:
            cur.execute(f"ANALYZE {_q(stage)}.{_q(name)}")
        feedback.progress(92)
        _swap_in(cur, schema, stage, to_drop, list(counts), target)
        write_public_styles(cur, rel, schema, catalog)
        feedback.check()
        con.commit()
    rel.counts = counts
    return counts


def _swap_in(cur, schema: str, stage: str, to_drop: set, names: list, target: str) -> None:
    """Replace the previous release's tables in ``schema`` by the staged ones (same transaction)."""
    import psycopg

    from ..store.pg import _grants

    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
    grants = [g for name in sorted(to_drop) if name in names for g in _grants(cur, schema, name)]
    for name in sorted(to_drop):
        cur.execute("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s", (schema, name))
        row = cur.fetchone()
        if row is None:
            continue
        kind = {"v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}.get(row[0], "TABLE")
        cur.execute("SAVEPOINT st_drop")
        try:
            cur.execute(f"DROP {kind} {_q(schema)}.{_q(name)}")  # never CASCADE: a user's view on it stops us
        except psycopg.errors.DependentObjectsStillExist as e:
            cur.execute("ROLLBACK TO SAVEPOINT st_drop")
            detail = (e.diag.message_detail or str(e)).strip()
            raise SurveyError(Text(f"不能替换发布表 {schema}.{name}：还有其他对象依赖它（{detail}），未作任何改动",
                                   f"cannot replace the release table {schema}.{name}: other objects depend on it "
                                   f"({detail}); nothing was changed"), code="dependent_objects", file=target,
                              layer=name, hint=Text("先删除或改写依赖它的视图，再发布", "drop or change the views that "
                                                    "depend on it, then release again")) from None
        cur.execute("RELEASE SAVEPOINT st_drop")
    for name in names:
        cur.execute(f"ALTER TABLE {_q(stage)}.{_q(name)} SET SCHEMA {_q(schema)}")
    cur.execute(f"DROP SCHEMA {_q(stage)}")
    for g in grants:  # the privileges given on the previous release's tables (a case system's SELECT) carry over
        cur.execute(g)


# ----------------------------------------------------------------------------------------------
# migrations

class PgExecutor:
    """What a migration needs, for PostgreSQL (a twin for SQLite lives in :mod:`.migrate`)."""

    ph = "%s"

    def __init__(self, cur, schema: str):
        self.cur, self.schema = cur, schema

    def qualified(self, name: str) -> str:
        return f"{_q(self.schema)}.{_q(name)}"

    def query(self, sql, params=()):
        self.cur.execute(sql, params)
        return self.cur.fetchall()

    def execute(self, sql, params=()):
        self.cur.execute(sql, params)

    def rename_table(self, old, new):
        self.cur.execute(f"ALTER TABLE {self.qualified(old)} RENAME TO {_q(new)}")

    def has_column(self, table, column) -> bool:
        self.cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s AND column_name = %s",
                         (self.schema, table, column))
        return self.cur.fetchone() is not None

    def add_text_column(self, table, column):
        self.cur.execute(f"ALTER TABLE {self.qualified(table)} ADD COLUMN {_q(column)} text")


def release_version(cur, schema: str) -> int | None:
    """The schema version of a release schema (None: no release there; 0: a version-0 release)."""
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name IN ('release_meta', 'release_info')",
                (schema,))
    names = {r[0] for r in cur.fetchall()}
    if not names:
        return None
    table = META_TABLE if META_TABLE in names else "release_info"
    cur.execute(f"SELECT value FROM {_q(schema)}.{_q(table)} WHERE key = 'schema_version'")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate_pg(cur, schema: str) -> list:
    """Bring a release schema to :data:`SCHEMA_VERSION`; return the versions passed through."""
    v = release_version(cur, schema)
    done = []
    if v is None:
        return done
    while v < SCHEMA_VERSION:
        MIGRATIONS[v](PgExecutor(cur, schema))
        v += 1
        cur.execute(f"UPDATE {_q(schema)}.{META_TABLE} SET value = %s WHERE key = 'schema_version'", (str(v),))
        done.append(v)
    if v > SCHEMA_VERSION:
        raise SurveyError(Text(f"目标发布库的结构版本 {v} 比本软件支持的 {SCHEMA_VERSION} 新，请升级 surveytools",
                               f"the target release has schema version {v}, newer than {SCHEMA_VERSION}; upgrade surveytools"),
                          code="schema_too_new", value=v)
    return done


# ----------------------------------------------------------------------------------------------
# incremental

ID_CANDIDATES = ("component_id", "objid", "obj_id", "feature_id", "object_id", "id")
TIME_CANDIDATES = ("changed_at", "change_time", "time", "timestamp", "ts", "changed", "date", "change_date")


def changed_ids(proj, since: str) -> tuple[list, str]:
    """Component IDs changed after ``since`` (ISO time): those in the project's ``change_log``
    (written by ``components merge``) and those in its ``edit_log`` (every edit, QGIS included;
    for an update or delete also the ID before it), and a label."""
    import pandas as pd

    from ..gpkg import list_layers
    from ..store import read_dataframe

    layers = list_layers(proj.path)
    if "change_log" not in layers and "edit_log" not in layers:
        raise SurveyError(Text("项目中没有变更日志 change_log；请用 --street 或 --community 指定增量范围，或整库发布",
                               "the project has no change_log; give --street or --community, or release the whole database"),
                          code="no_change_log", file=str(proj.path), layer="change_log")
    idf = proj.profile.field("component", "component_id")
    ids: set = set()
    labels = []
    if "change_log" in layers:
        log = read_dataframe(proj.path, "change_log", read_geometry=False)
        cols = {c.lower(): c for c in log.columns}
        id_col = cols.get(idf.lower()) or next((cols[c] for c in ID_CANDIDATES if c in cols), None)
        t_col = next((cols[c] for c in TIME_CANDIDATES if c in cols), None)
        if id_col is None or t_col is None:
            raise SurveyError(Text(f"change_log 需要部件标识列（{idf} 或 component_id）和时间列（changed_at 或 time）",
                                   f"change_log needs a component ID column ({idf} or component_id) and a time column (changed_at or time)"),
                              code="bad_change_log", file=str(proj.path), layer="change_log")
        t = pd.to_datetime(log[t_col].astype(str), errors="coerce", format="mixed")
        sel = log[t > pd.Timestamp(since)]
        ids |= set(sel[id_col].dropna().astype(str))
        labels.append("change_log")
    if "edit_log" in layers:
        tables = [proj.table(k) for k in ("component_point", "component_line", "component_polygon")
                  if k in proj.profile.layers]
        names = ", ".join("'" + n.replace("'", "''") + "'" for n in tables)
        log = read_dataframe(proj.path, "edit_log", read_geometry=False, where=f"layer IN ({names})")
        t = pd.to_datetime(log["time"].astype(str), errors="coerce", format="mixed")
        sel = log[t > pd.Timestamp(since)]
        ids |= set(sel["feature_id"].dropna().astype(str))
        if "fid_last" in sel.columns:  # a layer an operation wrote whole: the IDs its rows have now
            for _, r in sel[sel["fid_last"].notna()].iterrows():
                cur = read_dataframe(proj.path, r["layer"], read_geometry=False, columns=[idf],
                                     where=f"fid BETWEEN {int(r['feature_fid'])} AND {int(r['fid_last'])}")
                ids |= set(cur[idf].dropna().astype(str))
        old = sel["old_values"].dropna()
        if len(old):
            ids |= {str(v) for v in pd.json_normalize(old.map(json.loads).tolist()).get(idf, pd.Series([])).dropna()}
        labels.append("edit_log")
    return sorted(ids), f"{' + '.join(labels)} since {since}"


def export_incremental(proj, url: str, schema: str, *, street=None, community=None, feedback=None, photo_folder=""):
    import pyarrow.compute as pc

    from .database import read_layer_arrow
    from .schema import table_fields

    rel = plan(proj, kind="incremental")
    rel.meta["photo_folder"] = photo_folder or ""
    srid = int(rel.meta["srid"])
    prof = proj.profile
    with connect(url, schema) as con:
        cur = con.cursor()
        cur.execute("SET LOCAL lock_timeout = '60s'")
        if release_version(cur, schema) is None:
            raise SurveyError(Text(f"模式 {schema} 中还没有发布，请先整库发布（不加 --incremental）",
                                   f"schema {schema} holds no release yet; release the whole database first (without --incremental)"),
                              code="no_release", value=schema)
        from .database import describe_release, same_project

        meta = schema_meta(cur, schema, schema_tables(cur, schema))
        if meta is not None and not same_project(meta, proj):
            what = describe_release(meta)
            raise SurveyError(Text(f"模式 {schema} 中是{what.zh}，不能向其增量发布，未作任何改动",
                                   f"schema {schema} holds {what.en}; an incremental release cannot go there, nothing was changed"),
                              code="foreign_target", file=_target_label(url, schema),
                              hint=Text("发布到本项目自己的模式（?schema=…）", "release into this project's own schema (?schema=…)"))
        migrated = migrate_pg(cur, schema)
        cur.execute(f"SELECT value FROM {_q(schema)}.{META_TABLE} WHERE key = 'release_time'")
        since = cur.fetchone()[0]
        cur.execute(f"SELECT value FROM {_q(schema)}.{META_TABLE} WHERE key = 'profile'")
        if cur.fetchone()[0] != prof.id:
            raise SurveyError(Text("目标发布库的标准配置与项目不同，请整库发布", "the target release has another profile; release the whole database"),
                              code="profile_mismatch")
        cur.execute("SELECT current_database()")
        rel.catalog, rel.schema = cur.fetchone()[0], schema
        feedback.progress(5)
        counts = {}
        if street or community:
            code = str(street or community)
            n = 9 if street else 12
            if len(code) != n or not code.isdigit():
                raise SurveyError(Text(f"{'街道' if street else '社区'}代码应为 {n} 位数字",
                                       f"the {'street' if street else 'community'} code must be {n} digits"),
                                  code="bad_scope", value=code)
            scope = f"{'street' if street else 'community'} {code}"
            targets = [s for s in rel.specs if s.layer_key in ("component_point", "component_line", "component_polygon", "event", "unit_grid")]
            for i, spec in enumerate(targets):
                key = spec.layer_key
                fg = "component" if key.startswith("component_") else key
                g = prof.field(fg, "grid_code")
                sc = prof.field(fg, "street_code" if street else "community_code")
                expr = (f"COALESCE(NULLIF(\"{sc}\", ''), substr(\"{g}\", 1, {n}))" if sc else f"substr(\"{g}\", 1, {n})")
                cur.execute(f"DELETE FROM {_q(schema)}.{_q(spec.name)} WHERE {expr} = %s", (code,))
                deleted = cur.rowcount
                t = read_layer_arrow(proj, prof.layer(key).table, table_fields(spec, prof), True,
                                     where=f"{expr} = '{code}'")
                copy_table(cur, schema, spec.name, t, spec.geometry, srid, feedback)
                counts[spec.name] = {"deleted": deleted, "inserted": t.num_rows}
                feedback.progress(5 + 60 * (i + 1) / len(targets))
        else:
            ids, scope = changed_ids(proj, since)
            specs = [s for s in rel.specs if s.layer_key in ("component_point", "component_line", "component_polygon")]
            idf = prof.field("component", "component_id")
            for i, spec in enumerate(specs):
                # components without an ID (added by hand in QGIS, not coded yet) cannot be addressed by ID:
                # they are released as a set, all replaced, so the release holds what a whole release would
                # (and one coded since is not left behind as an ID-less copy)
                cur.execute(f"DELETE FROM {_q(schema)}.{_q(spec.name)} WHERE {_q(idf)} = ANY(%s) "
                            f"OR coalesce(btrim({_q(idf)}), '') = ''", (ids,))
                deleted = cur.rowcount
                t = read_layer_arrow(proj, prof.layer(spec.layer_key).table, table_fields(spec, prof), True)
                col = t.column(idf)
                no_id = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col.cast(pa.string())), ""), True)
                t = t.filter(pc.or_(pc.fill_null(pc.is_in(col, value_set=pa.array(ids, pa.string())), False), no_id))
                copy_table(cur, schema, spec.name, t, spec.geometry, srid, feedback)
                counts[spec.name] = {"deleted": deleted, "inserted": t.num_rows}
                feedback.progress(5 + 60 * (i + 1) / len(specs))
        small = ["dict_component_classes", "dict_event_classes", "dict_domains", "departments", "dispatch_matrix",
                 "release_fields", "photos", STYLES_TABLE]
        for name in small:
            cur.execute(f"DROP TABLE IF EXISTS {_q(schema)}.{_q(name)} CASCADE")
        c2 = _write_all(cur, rel, schema, feedback, names=set(small), start=65, end=90)
        counts.update({k: {"replaced": v} for k, v in c2.items()})
        totals = {}
        for spec in rel.specs:
            if spec.name == META_TABLE:
                continue
            cur.execute("SELECT to_regclass(%s)", (f"{_q(schema)}.{_q(spec.name)}",))
            if cur.fetchone()[0] is not None:
                cur.execute(f"SELECT count(*) FROM {_q(schema)}.{_q(spec.name)}")
                totals[spec.name] = int(cur.fetchone()[0])
        rel.meta["incremental_scope"] = scope + (f"; migrated to {migrated[-1]}" if migrated else "")
        _write_meta(cur, rel, schema, totals)
        write_public_styles(cur, rel, schema, rel.catalog)
        feedback.check()
        con.commit()
    return rel, {**totals, "_changes": counts}, scope
