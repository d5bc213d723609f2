"""A survey project as the plugin sees it: a GeoPackage made by ``surveytools project init`` or a
PostGIS schema written by ``surveytools export db --to postgresql://…``.

Everything here uses the QGIS API, the standard library's ``sqlite3`` and the pure-Python parts of
``surveytools`` (profiles): never geopandas/shapely/pyogrio/pyproj (see surveytools/runner.py).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from qgis.core import QgsDataSourceUri, QgsProviderRegistry, QgsVectorLayer

from surveytools.errors import SurveyError
from surveytools.i18n import Text
from surveytools.profiles.light import find_standards_dir, load_light_profile, read_yaml

from .compat import tr

#: project metadata table (GeoPackage project) and release metadata table (exported database)
META_TABLES = ("surveytools_meta", "release_meta")
#: the validation error layers ``surveytools validate run`` writes into the project
ERROR_TABLES = ("validation_errors_point", "validation_errors_line", "validation_errors_polygon")
ACCEPTED_TABLE = "validation_accepted"
CLASS_TABLE = "dict_component_classes"
DEPARTMENTS_TABLE = "departments"
REGISTRY_TABLE = "id_registry"

#: theme → profile layer keys, in layer-tree order (top first)
GRID_KEYS = ("unit_grid", "work_grid", "responsibility_grid", "responsibility_area", "community", "street",
             "unit_grid_history")
COMPONENT_KEYS = ("component_point", "component_line", "component_polygon")
EVENT_KEYS = ("event",)
#: custom properties set on every layer the plugin loads
PROP_PROJECT = "surveytools/project"
PROP_KEY = "surveytools/key"
PROP_THEME = "surveytools/theme"


def geocode_keys(profile) -> list:
    """Profile layer keys defined in ``layers_geocode.yaml`` along the profile's extends chain."""
    keys = []
    dirs = [Path(profile.path)]
    root = find_standards_dir()
    for pid in profile.chain[1:]:
        for cand in (root / pid, root / "cities" / pid):
            if cand.is_dir():
                dirs.append(cand)
    for d in dirs:
        f = d / "layers_geocode.yaml"
        if f.exists():
            for k in (read_yaml(f) or {}):
                if k not in keys and k in profile.layers:
                    keys.append(k)
    return keys


class SurveyProject:
    """An opened project: where it is, its metadata and profile, and the URI of each table."""

    def __init__(self, kind: str, meta: dict, profile, *, path: str | None = None, connection: str | None = None,
                 schema: str | None = None, tables: dict | None = None, base_uri: str | None = None):
        self.kind = kind
        self.meta = meta
        self.profile = profile
        self.path = path
        self.connection = connection
        self.schema = schema
        self.base_uri = base_uri
        #: table name → geometry column ('' for attribute tables)
        self._tables = tables or {}

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def open_gpkg(cls, path) -> "SurveyProject":
        path = str(Path(path).resolve())
        if not os.path.isfile(path):
            raise SurveyError(Text("项目库文件不存在", "the project file does not exist"), code="not_found", file=path)
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall()
                geoms = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
                meta = dict(con.execute("SELECT key, value FROM surveytools_meta").fetchall())
            finally:
                con.close()
        except sqlite3.Error:
            raise SurveyError(Text("该文件不是 surveytools 调查项目库（缺少元数据表）",
                                   "this file is not a surveytools survey project (no metadata table)"),
                              code="not_project", file=path,
                              hint=Text("先用“新建项目”创建项目库", "create one with 'New project'")) from None
        tables = {name: geoms.get(name, "") for name, _ in rows}
        return cls("gpkg", meta, _profile(meta, path), path=path, tables=tables)

    @classmethod
    def open_postgres(cls, connection: str, schema: str) -> "SurveyProject":
        """A schema exported with ``surveytools export db`` in a saved QGIS PostgreSQL connection."""
        md = QgsProviderRegistry.instance().providerMetadata("postgres")
        conns = md.connections() if md is not None else {}
        conn = conns.get(connection)
        where = f"{connection}/{schema}"
        if conn is None:
            raise SurveyError(Text(f"找不到 PostgreSQL 连接“{connection}”", f"no PostgreSQL connection named '{connection}'"),
                              code="no_connection", file=where)
        try:
            props = conn.tables(schema)
        except Exception as exc:  # QgsProviderConnectionException
            raise SurveyError(Text(f"无法读取模式 {schema}：{exc}", f"cannot read schema {schema}: {exc}"),
                              code="no_schema", file=where) from None
        tables = {}
        for t in props:
            tables[t.tableName()] = t.geometryColumn() or ""  # "" for attribute tables
        meta_table = next((m for m in META_TABLES if m in tables), None)
        if meta_table is None:
            raise SurveyError(Text("该模式不是 surveytools 导出的数据库（缺少 release_meta 表）",
                                   "this schema is not a surveytools release (no release_meta table)"),
                              code="not_project", file=where)
        rows = conn.executeSql(f'SELECT "key", "value" FROM "{schema}"."{meta_table}"')
        meta = {str(k): str(v) for k, v in rows}
        return cls("postgres", meta, _profile(meta, where), connection=connection, schema=schema, tables=tables,
                   base_uri=conn.uri())

    # -- identity ---------------------------------------------------------------------------------
    @property
    def source_id(self) -> str:
        return self.path if self.kind == "gpkg" else f"postgres:{self.connection}/{self.schema}"

    @property
    def is_project(self) -> bool:
        """A survey project (operations run on it), not a release."""
        return self.kind == "gpkg" or "surveytools_meta" in self._tables

    @property
    def project_uri(self) -> str:
        """What the algorithms take as PROJECT: the GeoPackage path, or
        ``postgresql://user@host:port/db?schema=NAME`` built from the saved connection — never with
        its password: the algorithm hands a saved password to its child process in a temporary
        pgpass file (:mod:`.pgconn`)."""
        if self.kind == "gpkg":
            return self.path
        from urllib.parse import quote

        from .pgconn import _credentials

        u = QgsDataSourceUri(self.base_uri)
        user, _ = _credentials(u)
        cred = quote(user, safe="") + "@" if user else ""
        host = u.host() or ""
        port = f":{u.port()}" if u.port() else ""
        query = f"?schema={self.schema}"
        if u.service():
            query += f"&service={quote(u.service(), safe='')}"
        return f"postgresql://{cred}{host}{port}/{quote(u.database() or '', safe='')}{query}"

    @property
    def title(self) -> str:
        return self.meta.get("title") or self.meta.get("county_name") or os.path.basename(self.source_id)

    @property
    def county(self) -> str:
        return str(self.meta.get("county", ""))

    @property
    def crs(self) -> str:
        return str(self.meta.get("crs", ""))

    def refresh_tables(self) -> None:
        """Re-read the table list (an algorithm may have added tables)."""
        if self.kind == "gpkg":
            fresh = SurveyProject.open_gpkg(self.path)
        else:
            fresh = SurveyProject.open_postgres(self.connection, self.schema)
        self._tables, self.meta = fresh._tables, fresh.meta

    # -- tables -----------------------------------------------------------------------------------
    def has(self, table: str) -> bool:
        return table in self._tables

    def table_of(self, key: str) -> str:
        return self.profile.layer(key).table

    def uri(self, table: str) -> tuple:
        """``(uri, provider)`` of a table."""
        if self.kind == "gpkg":
            return f"{self.path}|layername={table}", "ogr"
        uri = QgsDataSourceUri(self.base_uri)
        geom = self._tables.get(table) or None
        uri.setDataSource(self.schema, table, geom, "", "fid")
        return uri.uri(False), "postgres"

    def layer(self, table: str, name: str | None = None) -> QgsVectorLayer:
        uri, provider = self.uri(table)
        layer = QgsVectorLayer(uri, name or table, provider)
        if not layer.isValid():
            raise SurveyError(Text(f"无法打开图层 {table}", f"could not open layer {table}"), code="bad_layer",
                              file=self.source_id, layer=table)
        return layer

    def layer_title(self, key: str) -> str:
        spec = self.profile.layers.get(key)
        if spec is None:
            return key
        from .compat import pick
        return pick(spec.title)

    def plan(self) -> list:
        """``[(theme, theme title, [(key, table, title)])]`` of the layers to load, top first."""
        prof = self.profile
        themes = []
        errors = [(t, t, error_title(t)) for t in ERROR_TABLES if self.has(t)]
        themes.append(("errors", tr("Validation errors"), errors))
        comps = [(k, self.table_of(k), self.layer_title(k)) for k in (*COMPONENT_KEYS, *EVENT_KEYS)
                 if k in prof.layers and self.has(self.table_of(k))]
        themes.append(("components", tr("Components and events"), comps))
        geo = [(k, self.table_of(k), self.layer_title(k)) for k in geocode_keys(prof) if self.has(self.table_of(k))]
        themes.append(("geocoding", tr("Geocoding"), geo))
        grids = [(k, self.table_of(k), self.layer_title(k)) for k in GRID_KEYS
                 if k in prof.layers and self.has(self.table_of(k))]
        themes.append(("grids", tr("Grids"), grids))
        dicts = [(t, t, t) for t in (CLASS_TABLE, DEPARTMENTS_TABLE, REGISTRY_TABLE) if self.has(t)]
        themes.append(("dictionaries", tr("Dictionaries"), dicts))
        return [t for t in themes if t[2]]


def error_title(table: str) -> str:
    return {"validation_errors_point": tr("Errors (points)"), "validation_errors_line": tr("Errors (lines)"),
            "validation_errors_polygon": tr("Errors (polygons)")}.get(table, table)


def _profile(meta: dict, where: str):
    pid = meta.get("profile")
    if not pid:
        raise SurveyError(Text("项目元数据中没有标准配置（profile）", "the project metadata names no profile"),
                          code="not_project", file=where)
    try:
        return load_light_profile(pid)
    except SurveyError:
        if meta.get("profile_path"):
            return load_light_profile(meta["profile_path"])
        raise
