"""The survey project database (调查项目库): one GeoPackage per project.

``project init`` creates the empty standard layers of a profile, the class dictionaries as
tables and a metadata table; every later step reads and writes the same file.

Tables written besides the profile's layers:

``surveytools_meta``          key/value: profile, edition, schema version, county, CRS, dates
``dict_component_classes``    the profile's component class table (with provenance and source)
``dict_event_classes``        the profile's event class table
``dict_fields``               the profile's field table (standard names, types, constraints)
``dict_domains``              value domains (部件状态, 数据来源 …)
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .crs import crs_label, gk3_epsg_for_longitude, resolve_crs
from .errors import SurveyError
from .i18n import Text
from .lazy import lazy_function, lazy_module
from .ops import Param, Result, group, operation

if TYPE_CHECKING:
    from .profiles import Profile

# imported when an operation runs, never when the registry loads (the QGIS plugin loads it in QGIS)
pa = lazy_module("pyarrow")
divisions = lazy_function("surveytools.admin", "divisions")
atomic_output = lazy_function("surveytools.gpkg", "atomic_output")
schema_table = lazy_function("surveytools.gpkg", "schema_table")
sqlite_connect = lazy_function("surveytools.gpkg", "sqlite_connect")
write_layer = lazy_function("surveytools.gpkg", "write_layer")
load_profile = lazy_function("surveytools.profiles.loader", "load_profile")

#: version of the project database layout written by this code (see docs/schema.md)
PROJECT_SCHEMA_VERSION = 1
META_TABLE = "surveytools_meta"
DICT_TABLES = {"component_classes": "dict_component_classes", "event_classes": "dict_event_classes",
               "fields": "dict_fields", "domains": "dict_domains"}

group("project", Text("调查项目库：创建与查看", "Survey project database: create and inspect"))


def field_group(layer_key: str) -> str:
    """Layers that share one field table: components of every geometry type, current and
    retired unit grids."""
    if layer_key.startswith("component_"):
        return "component"
    if layer_key == "unit_grid_history":
        return "unit_grid"
    return layer_key


def check_county(county) -> tuple[str, dict | None, list]:
    """Validate a 6-digit county code; an unknown county is a warning, never an error."""
    text = str(county or "").strip()
    if len(text) != 6 or not text.isdigit():
        raise SurveyError(Text("县级行政区划代码应为 6 位数字（如 360681 贵溪市）",
                               "the county code must be 6 digits (e.g. 360681 for 贵溪市)"),
                          code="county_format", field="county", value=county)
    info = divisions().county(text)
    warnings = []
    if info is None:
        warnings.append(Text(f"县级代码 {text} 不在国家统计局 2023 年区划代码表中（可能是新设或撤销的区县），已按输入使用",
                             f"county code {text} is not in the NBS 2023 division table (a new or abolished county?); used as given"))
    return text, info, warnings


def default_crs_for_county(county: str):
    lonlat = divisions().county_lonlat(county)
    if lonlat is None:
        raise SurveyError(Text(f"无法确定县级代码 {county} 的经度以选择默认 3 度带，请用 --crs 指定坐标系",
                               f"cannot find the longitude of county {county} to choose the default 3-degree zone; give --crs"),
                          code="crs_required", field="crs")
    return resolve_crs(f"EPSG:{gk3_epsg_for_longitude(lonlat[0])}")


def _classes_table(df) -> pa.Table:
    cols = [c for c in df.columns]
    return pa.table({c: pa.array(df[c].astype(str).tolist(), pa.string()) for c in cols})


@operation("project", "init",
           help=Text("创建调查项目库（GeoPackage）：按标准配置建立空的标准图层、分类字典表和元数据表。"
                     "默认坐标系为该县经度所在的 CGCS2000 3 度带。",
                     "Create a survey project database (GeoPackage): the profile's empty standard layers, the "
                     "class dictionaries as tables and a metadata table. The default CRS is the CGCS2000 "
                     "3-degree Gauss-Kruger zone of the county's longitude."),
           params=[
               Param("project", "project_new",
                     Text("要创建的项目库：GeoPackage 文件（.gpkg），或 PostGIS 模式 postgresql://用户@主机:端口/数据库?schema=名称",
                          "Project to create: a GeoPackage file (.gpkg), or a PostGIS schema "
                          "postgresql://user@host:port/db?schema=NAME"),
                     required=True, positional=True,
                     file_filter="GeoPackage (*.gpkg);;PostGIS: postgresql://user@host:port/db?schema=NAME (*)"),
               Param("profile", "string", Text("标准配置：cjt、gbt30428、gbt47678、城市扩展配置的标识或目录",
                                               "Standard profile: cjt, gbt30428, gbt47678, a city profile id or folder"),
                     default="cjt"),
               Param("county", "string", Text("县级行政区划代码（6 位）", "County-level division code (6 digits)"),
                     required=True),
               Param("crs", "crs", Text("项目坐标系（EPSG 代码、WKT 或 PROJ 字符串）；默认按县经度取 CGCS2000 3 度带",
                                        "Project CRS (EPSG code, WKT or PROJ string); default: the county's CGCS2000 3-degree zone")),
               Param("title", "string", Text("项目名称", "Project title")),
               Param("overwrite", "bool", Text("覆盖已存在的文件", "Replace an existing file"), default=False),
               Param("folder", "string", Text("PostGIS 项目库的文件夹（照片等附属文件；多人共用时用共享文件夹）",
                                              "Folder of a PostGIS project (photos and other side files; a share when "
                                              "several people work on it)")),
           ])
def init(project, county, profile="cjt", crs=None, title=None, overwrite=False, folder=None,
         feedback=None) -> Result:
    from .feedback import Feedback
    from .store import is_postgres

    feedback = feedback or Feedback()
    from .store.pg import check_address

    check_address(project)
    on_pg = is_postgres(project)
    if on_pg:
        from .store import pg as store_pg

        store_pg.location(project)  # a bad schema name: refused before any work
    path = Path(project) if not on_pg else None
    if folder and not on_pg:
        raise SurveyError(Text("--folder 只用于 PostGIS 项目库：GeoPackage 项目库的附属文件放在它所在的文件夹",
                               "--folder is for a PostGIS project: a GeoPackage keeps its side files in its own folder"),
                          code="folder_not_applicable", field="folder", value=folder)
    if not on_pg and path.suffix.lower() != ".gpkg":
        raise SurveyError(Text("项目库文件应以 .gpkg 结尾", "the project file must end in .gpkg"),
                          code="not_gpkg", file=str(path))
    county, cinfo, warnings = check_county(county)
    for w in warnings:
        feedback.warning(w)
    prof = load_profile(profile)
    target_crs = resolve_crs(crs) if crs else default_crs_for_county(county)
    crs_text = crs_label(target_crs)
    crs_arg = crs_text if crs_text.startswith("EPSG:") else target_crs.to_wkt()
    now = _dt.datetime.now().replace(microsecond=0).isoformat()
    feedback.progress(5)
    layers = {}
    if on_pg:
        import tempfile

        stage_dir = tempfile.mkdtemp(prefix="surveytools-init-")
        out_cm = _pg_init_target(project, stage_dir, overwrite)
    else:
        out_cm = atomic_output(path, overwrite=overwrite)
    with out_cm as tmp:
        keys = list(prof.layers)
        for i, key in enumerate(keys):
            spec = prof.layers[key]
            fields = prof.layer_fields(field_group(key))
            write_layer(tmp, spec.table, schema_table(fields, geometry=spec.geometry is not None),
                        geometry_type=spec.geometry,
                        crs=crs_arg, description=f"{spec.title.zh} / {spec.title.en}")
            layers[key] = spec.table
            feedback.progress(5 + 70 * (i + 1) / len(keys))
        for attr, table in DICT_TABLES.items():
            write_layer(tmp, table, _classes_table(getattr(prof, attr)))
        meta = {
            "project_schema_version": str(PROJECT_SCHEMA_VERSION),
            "surveytools_version": __version__,
            "profile": prof.id,
            "profile_chain": ",".join(prof.chain),
            "profile_edition": prof.edition,
            "profile_status": prof.status,
            "profile_schema_version": str(prof.schema_version),
            "profile_path": str(prof.path),
            "county": county,
            "county_name": (cinfo or {}).get("name", ""),
            "crs": crs_text,
            "crs_wkt": target_crs.to_wkt(),
            "title": title or f"{(cinfo or {}).get('name', county)} 数字化城管基础数据",
            "layers": json.dumps(layers, ensure_ascii=False),
            "created": now,
            "updated": now,
        }
        if folder:
            from .store import FOLDER_META

            meta[FOLDER_META] = str(Path(folder).expanduser().resolve())
        write_layer(tmp, META_TABLE, pa.table({"key": list(meta), "value": list(meta.values())}))
        from .store import gpkg as store_gpkg
        from .store import log as edit_log

        if on_pg:
            store_pg.init_project(project, str(tmp), Project(project, meta, prof),
                                  list(layers.values()) + list(DICT_TABLES.values()) + [META_TABLE],
                                  overwrite=overwrite)
        else:
            store_gpkg.enable_wal(tmp)
            edit_log.install(tmp, Project(Path(tmp), meta, prof))
        feedback.progress(95)
    if on_pg:
        path = store_pg.label(project)
    feedback.progress(100)
    summary = Text(
        f"已创建调查项目库 {path}：标准配置 {prof.id}（{prof.edition}），县 {county} {meta['county_name']}，"
        f"坐标系 {crs_text}，{len(layers)} 个图层，部件类 {len(prof.component_classes)} 个，事件类 {len(prof.event_classes)} 个。",
        f"Created survey project {path}: profile {prof.id} ({prof.edition}), county {county} {meta['county_name']}, "
        f"CRS {crs_text}, {len(layers)} layers, {len(prof.component_classes)} component and "
        f"{len(prof.event_classes)} event classes.")
    if prof.notice is not None:
        warnings.append(prof.notice)
    return Result(summary, data={"project": str(path), "meta": {k: v for k, v in meta.items() if k != "crs_wkt"},
                                 "layers": layers},
                  outputs={"PROJECT": str(path)}, warnings=warnings)


def _pg_init_target(uri, stage_dir: str, overwrite: bool):
    """``project init`` on PostGIS: GDAL writes the new layers into a local GeoPackage that
    :func:`surveytools.store.pg.init_project` then pushes into the schema in one transaction."""
    import contextlib
    import shutil

    @contextlib.contextmanager
    def cm():
        try:
            yield os.path.join(stage_dir, "init.gpkg")
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)

    return cm()


@dataclass
class Project:
    """An opened survey project: its metadata, profile and layer names."""

    #: the project: a GeoPackage path, or the ``postgresql://…?schema=NAME`` URI (a str) of a PostGIS project
    path: Path
    meta: dict
    profile: Profile
    #: the project file a transaction's working copy was made from (None: this is the project file)
    origin: Path | None = None

    @property
    def display_path(self) -> Path:
        """The path to show users and to store in records: the project file, never a temporary copy;
        a PostGIS project's URI without its password."""
        if self.is_postgres:
            from .store import display

            return display(self.path)
        return self.origin or self.path

    @property
    def uri(self) -> str:
        """The project's address as a string (a path or a ``postgresql://`` URI)."""
        return str(self.path)

    @property
    def is_postgres(self) -> bool:
        from .store import is_postgres

        return is_postgres(self.path)

    @property
    def label(self) -> str:
        """How to name the project to users (no password)."""
        from .store import display

        return display(self.display_path)

    @classmethod
    def open(cls, path) -> "Project":
        from .store import is_postgres
        from .store.pg import check_address

        check_address(path)
        if is_postgres(path):
            from .store import pg as store_pg

            meta = store_pg.read_meta(path)
            try:
                prof = load_profile(meta["profile"])
            except SurveyError:
                prof = load_profile(meta.get("profile_path", meta["profile"]))
            return cls(str(path), meta, prof)
        path = Path(path)
        if not path.exists():
            raise SurveyError(Text("项目库文件不存在", "the project file does not exist"), code="not_found", file=str(path))
        try:
            con = sqlite_connect(path)
            try:
                rows = con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()
            finally:
                con.close()
        except Exception as e:
            if isinstance(e, sqlite3.OperationalError) and not os.access(path.parent, os.W_OK | os.X_OK):
                # a WAL-mode GeoPackage cannot be opened in a folder where SQLite may not write its -shm file
                raise SurveyError(Text(f"无法在只读文件夹中打开项目库（SQLite：{e}）",
                                       f"the project cannot be opened in a read-only folder (SQLite: {e})"),
                                  code="permission_denied", file=str(path),
                                  hint=Text("把项目库复制到可写的文件夹，或修改文件夹权限",
                                            "copy the project to a writable folder, or change the folder's permissions")) from None
            raise SurveyError(Text("该文件不是 surveytools 调查项目库（缺少元数据表）",
                                   "this file is not a surveytools survey project (no metadata table)"),
                              code="not_project", file=str(path), layer=META_TABLE,
                              hint=Text("先用 surveytools project init 创建项目库", "create one with surveytools project init")) from None
        meta = dict(rows)
        try:
            prof = load_profile(meta["profile"])
        except SurveyError:
            prof = load_profile(meta.get("profile_path", meta["profile"]))
        return cls(path, meta, prof)

    @property
    def crs(self) -> str:
        return self.meta["crs"] if self.meta["crs"].startswith("EPSG:") else self.meta["crs_wkt"]

    @property
    def county(self) -> str:
        return self.meta["county"]

    def table(self, key: str) -> str:
        return self.profile.layer(key).table

    def counts(self) -> dict:
        from . import store

        out = {}
        geoms = store.layer_geometries(self.path)
        # the profile's layers in the profile's order, then every other table by name: the same on every backend
        standard = [spec.table for spec in self.profile.layers.values() if spec.table in geoms]
        for name in standard + sorted(n for n in geoms if n not in standard):
            geom = geoms[name]
            info = {"features": store.feature_count(self.path, str(name))}
            out[str(name)] = {"features": int(info["features"]), "geometry": None if geom is None else str(geom)}
        return out


@operation("project", "info",
           help=Text("显示调查项目库的标准配置、县、坐标系和各图层要素数。",
                     "Show a survey project's profile, county, CRS and the feature count of every layer."),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"),
                         required=True, positional=True, file_filter="GeoPackage (*.gpkg)")])
def info(project, feedback=None) -> Result:
    p = Project.open(project)
    counts = p.counts()
    meta = {k: v for k, v in p.meta.items() if k != "crs_wkt"}
    lines_zh = [f"调查项目库 {p.label}", f"  标准配置：{p.profile.id}（{p.meta['profile_edition']}，{p.meta['profile_status']}）",
                f"  县：{p.county} {p.meta.get('county_name', '')}", f"  坐标系：{p.meta['crs']}",
                f"  创建：{p.meta['created']}  更新：{p.meta['updated']}", "  图层："]
    lines_en = [f"Survey project {p.label}", f"  profile: {p.profile.id} ({p.meta['profile_edition']}, {p.meta['profile_status']})",
                f"  county: {p.county} {p.meta.get('county_name', '')}", f"  CRS: {p.meta['crs']}",
                f"  created: {p.meta['created']}  updated: {p.meta['updated']}", "  layers:"]
    titles = {spec.table: spec.title for spec in p.profile.layers.values()}
    for name, c in counts.items():
        t = titles.get(name)
        spatial = c["geometry"] is not None
        lines_zh.append(f"    {name:<24} {c['features']:>9} {'个要素' if spatial else '行    '}  {t.zh if t else ''}")
        lines_en.append(f"    {name:<24} {c['features']:>9} {'features' if spatial else 'rows    '}  {t.en if t else ''}")
    return Result(Text("\n".join(lines_zh), "\n".join(lines_en)),
                  data={"project": p.label, "meta": meta, "layers": counts}, outputs={"PROJECT": str(p.path)})


# ----------------------------------------------------------------------------------------------
# reading and writing project layers (used by every step after init)

def _now() -> str:
    return _dt.datetime.now().replace(microsecond=0).isoformat()


def read_layer(project: "Project", key: str, *, columns=None, where: str | None = None):
    """A project layer as a GeoDataFrame (Arrow read), in the project CRS."""
    import geopandas as gpd

    from .store import read_dataframe

    table = project.table(key) if key in project.profile.layers else key
    kw = {"columns": columns} if columns is not None else {}
    df = read_dataframe(project.path, table, use_arrow=True, where=where, **kw)
    if not isinstance(df, gpd.GeoDataFrame):
        return df
    return df


def to_arrow(gdf, fields, *, geometry: bool = True, multi: bool = False) -> pa.Table:
    """Cast a (Geo)DataFrame to the profile's field types, in the profile's field order: the one
    Arrow cast, :func:`surveytools.store.arrow.cast_frame` (with the geometry by default).

    Columns the profile does not know are dropped; fields the frame lacks are written empty.
    """
    from .store.arrow import cast_frame

    return cast_frame(gdf, fields, geometry=geometry, multi=multi)


def write_project_layer(project: "Project", key: str, gdf, *, extra_fields=None) -> int:
    """Replace a project layer's content with ``gdf`` cast to the profile's fields.

    Call it inside :meth:`Project.transaction` so the change is atomic.  Returns the count.
    """
    import pandas as pd

    spec = project.profile.layer(key)
    fields = project.profile.layer_fields(field_group(key))
    if extra_fields is not None:
        fields = pd.concat([fields, extra_fields], ignore_index=True)
    table = to_arrow(gdf, fields, geometry=spec.geometry is not None, multi=spec.geometry == "multipolygon")
    write_layer(project.path, spec.table, table, geometry_type=spec.geometry, crs=project.crs,
                description=f"{spec.title.zh} / {spec.title.en}")
    return table.num_rows


def write_table(project: "Project", name: str, df) -> int:
    """Replace an attribute-only table (reports, logs) with a DataFrame (all columns as given) or an
    Arrow table (typed already, e.g. by an :class:`surveytools.issues.IssueColumns` writer)."""
    import pandas as pd

    if isinstance(df, pa.Table):
        write_layer(project.path, name, df if df.num_columns else pa.table({"empty": pa.array([], pa.string())}))
        return df.num_rows
    cols = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_integer_dtype(s):
            cols[str(c)] = pa.array(s.astype("Int64"), pa.int64(), from_pandas=True)
        elif pd.api.types.is_float_dtype(s):
            cols[str(c)] = pa.array(s, pa.float64(), from_pandas=True)
        else:
            cols[str(c)] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                     for v in s.tolist()], pa.string())
    write_layer(project.path, name, pa.table(cols) if cols else pa.table({"empty": pa.array([], pa.string())}))
    return len(df)


def _transaction(self: "Project", *, timeout=None):
    """One operation = one transaction on the project, in place, under the project lock.

    Yields a :class:`Project` for the same file; layer writes inside the block are staged and
    committed together when it ends without an error (see :mod:`surveytools.store.gpkg`).  A
    failure, a cancel or a killed process leaves the project exactly as it was.  A second writer
    waits for the lock up to ``timeout`` seconds (``$SURVEYTOOLS_LOCK_TIMEOUT``), then fails
    naming the holder."""
    import contextlib

    from .ops import current_operation
    from .store import gpkg as store_gpkg
    from .store.lock import project_lock

    if self.is_postgres:
        from .store import pg as store_pg

        return store_pg.transaction(self, timeout=timeout)

    @contextlib.contextmanager
    def cm():
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise SurveyError(Text("项目库所在的文件夹不可写（只读或属于其他用户）：修改项目要在它旁边写锁文件和暂存文件",
                                   "the project's folder is not writable (read-only or another user's): a change writes "
                                   "the lock and staging files beside the project"),
                              code="permission_denied", file=str(self.path),
                              hint=Text("把项目库复制到可写的文件夹，或修改文件夹权限",
                                        "copy the project to a writable folder, or change the folder's permissions"))
        from .gpkg import environment_errors_named

        # a read-only file, a full disk …: the user's to fix, named
        with environment_errors_named(self.path), _locked_transaction() as work:
            yield work

    @contextlib.contextmanager
    def _locked_transaction():
        key = store_gpkg._key(self.path)
        if key in store_gpkg._ACTIVE:  # nested: the outer transaction commits
            yield store_gpkg._ACTIVE[key].project
            return
        with project_lock(self.path, timeout=timeout):
            store_gpkg._clean_stale_staging(Path(self.path))
            work = Project(self.path, dict(self.meta), self.profile)
            tx = store_gpkg.Transaction(work)
            # edits made elsewhere (QGIS) after this mark make a rewrite of that layer refuse
            tx.mark = store_gpkg._MARKS.get(key)
            if tx.mark is None:
                tx.mark = store_gpkg.log_mark(self.path)
            store_gpkg._ACTIVE[key] = tx
            try:
                yield work
                tx.commit({"operation": current_operation() or "surveytools", "batch": tx.batch})
            finally:
                store_gpkg._ACTIVE.pop(key, None)
                tx.discard()
            self.meta = dict(work.meta, updated=_now())

    return cm()


def _lock(self: "Project", *, timeout=None):
    """Hold the project's writer lock for a whole operation (reads that decide what it writes
    included); a transaction inside the block reuses it."""
    import contextlib

    from .store import gpkg as store_gpkg
    from .store.lock import project_lock

    if self.is_postgres:
        from .store import pg as store_pg

        return store_pg.lock(self, timeout=timeout)

    @contextlib.contextmanager
    def cm():
        key = store_gpkg._key(self.path)
        with project_lock(self.path, timeout=timeout):
            outer = key not in store_gpkg._MARKS
            if outer:  # what the operation reads from here on is what its writes are based on
                store_gpkg._MARKS[key] = store_gpkg.log_mark(self.path)
            try:
                yield
            finally:
                if outer:
                    store_gpkg._MARKS.pop(key, None)

    return cm()


Project.transaction = _transaction
Project.lock = _lock


@operation("project", "history",
           help=Text("由编辑日志还原：把一个图层还原为过去某一时刻的状态，写入新的 GeoPackage（项目库不变）。"
                     "只给日期时表示当天结束时的状态。",
                     "From the edit log: a layer as it was at a past time, written to a new GeoPackage (the project "
                     "is not changed). A date alone means the end of that day."),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"),
                         required=True, positional=True, file_filter="GeoPackage (*.gpkg)"),
                   Param("at", "string", Text("时刻：ISO 日期或时间（如 2026-10-01 或 2026-10-01T08:30）",
                                              "Time: ISO date or time (e.g. 2026-10-01 or 2026-10-01T08:30)"),
                         required=True, widget="date"),
                   Param("out", "file_out", Text("输出 GeoPackage", "Output GeoPackage"), required=True,
                         file_filter="GeoPackage (*.gpkg)"),
                   Param("layer", "enum", Text("图层", "Layer"), default="component_point",
                         choices=("component_point", "component_line", "component_polygon", "event", "unit_grid",
                                  "geocode_doorplate")),
                   Param("overwrite", "bool", Text("覆盖已存在的文件", "Replace an existing file"), default=False)])
def history(project, at, out, layer="component_point", overwrite=False, feedback=None) -> Result:
    from .store.log import state_at

    p = Project.open(project)
    if layer not in p.profile.layers:
        raise SurveyError(Text(f"标准配置 {p.profile.id} 没有图层 {layer}", f"profile {p.profile.id} has no layer {layer}"),
                          code="no_layer", file=str(p.path), layer=layer)
    spec = p.profile.layer(layer)
    attrs, wkb = state_at(p, layer, at)
    table = attrs.append_column("geom", wkb)
    with atomic_output(Path(out), overwrite=overwrite) as tmp:
        write_layer(tmp, spec.table, table, geometry_type=spec.geometry, crs=p.crs,
                    description=f"{spec.title.zh}（{at}）/ {spec.title.en} ({at})")
    n = table.num_rows
    return Result(Text(f"已写出 {spec.table} 在 {at} 的状态：{n} 个要素 → {out}",
                       f"Wrote {spec.table} as it was at {at}: {n} features -> {out}"),
                  data={"layer": spec.table, "at": str(at), "features": n, "out": str(out)},
                  outputs={"OUT": f"{out}|layername={spec.table}"})
