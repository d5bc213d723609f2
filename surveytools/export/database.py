"""The case-system release (案件系统数据库): what goes in, and the GeoPackage writer.

:func:`collect` yields the release tables one at a time as Arrow tables (geometry as WKB in ``geom``),
read straight from the project with pyogrio's Arrow path, so a million components are never turned
into Python objects.  :func:`write_gpkg` writes them to a new GeoPackage (temporary file, renamed into
place when complete: the previous release stays intact until then), with the GPKG R-tree on every
geometry column, attribute indexes on the lookup fields, the QGIS ``layer_styles`` and the metadata.
:mod:`.postgis` writes the same tables to PostGIS.
"""
from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import dataclass, field

import pyarrow as pa

from .. import store as _store
from ..errors import SurveyError
from ..gpkg import ARROW_TYPES
from ..i18n import Text
from .schema import (
    FIELDS_TABLE,
    META_TABLE,
    SCHEMA_VERSION,
    STYLES_TABLE,
    TableSpec,
    field_name,
    geocode_specs,
    table_fields,
    tables,
)

ARROW = ARROW_TYPES  # profile field type -> Arrow type


@dataclass
class Release:
    """What one export writes: the table specs, metadata and warnings."""

    proj: object
    specs: list
    meta: dict
    warnings: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    #: [(project photo file, name in the release's photo folder)] of the photos table (see .photos)
    photo_files: list = field(default_factory=list)
    #: layer_styles.f_table_catalog / f_table_schema ('' in a GeoPackage)
    catalog: str = ""
    schema: str = ""

    @property
    def profile(self):
        return self.proj.profile


def plan(proj, *, kind: str = "full", scope: str = "") -> Release:
    """The release tables for a project (geocoding tables only when the project has rows in them)."""

    from ..gpkg import list_layers

    layers = set(list_layers(proj.path))
    specs = tables()
    geo = []
    for s in geocode_specs(proj, layers):
        n = _store.feature_count(proj.path, s.project_table or s.name)
        if n:
            geo.append(s)
    specs = specs[:-1] + geo + specs[-1:]  # layer_styles last
    crs = proj.crs
    srid = srid_of(proj)
    now = _dt.datetime.now().replace(microsecond=0).isoformat()
    meta = {"schema_version": str(SCHEMA_VERSION), "release_id": str(uuid.uuid4()), "release_time": now,
            "release_kind": kind, "incremental_scope": scope, "profile": proj.profile.id,
            "profile_edition": proj.meta.get("profile_edition", proj.profile.edition), "county": proj.county,
            "county_name": proj.meta.get("county_name", ""), "crs": proj.meta.get("crs", crs), "srid": str(srid),
            "crs_wkt": proj.meta.get("crs_wkt", ""), "title": proj.meta.get("title", ""),
            "surveytools_version": _version(), "source_project": str(proj.path),
            "project_created": str(proj.meta.get("created", "")), "tables": "",
            "geocode_tables": json.dumps([s.name for s in geo], ensure_ascii=False), "photo_folder": ""}
    return Release(proj, specs, meta)


def _version() -> str:
    from .. import __version__

    return __version__


def srid_of(proj) -> int:
    """The EPSG code of the project CRS, else a local SRID (PostGIS gets a spatial_ref_sys row)."""
    from pyproj import CRS

    code = CRS.from_user_input(proj.crs).to_epsg()
    return int(code) if code else 990001


# ----------------------------------------------------------------------------------------------
# tables as Arrow

def frame_to_arrow(df, fields) -> pa.Table:
    """A DataFrame cast to ``fields`` [(name, type, …)]; missing columns become nulls (the one
    Arrow cast, :func:`surveytools.store.arrow.cast_frame`)."""
    from ..store.arrow import cast_frame

    return cast_frame(df, fields)


def _empty(fields, geometry: bool) -> pa.Table:
    cols = {f[0]: pa.array([], ARROW.get(f[1], pa.string())) for f in fields}
    if geometry:
        cols["geom"] = pa.array([], pa.binary())
    return pa.table(cols)


def read_layer_arrow(proj, table: str, fields, geometry: bool, where: str | None = None) -> pa.Table:
    """A project layer as Arrow in the release's field order (extra columns dropped, missing ones null)."""

    from ..gpkg import list_layers

    if table not in list_layers(proj.path):
        return _empty(fields, geometry)
    meta, t = _store.read_arrow(proj.path, table, where=where)
    gname = meta.get("geometry_name") or "wkb"
    n = t.num_rows
    cols = {}
    for f in fields:
        name, typ = f[0], f[1]
        at = ARROW.get(typ, pa.string())
        if name in t.column_names:
            col = t.column(name)
            cols[name] = col if col.type == at else col.cast(at, safe=False)
        else:
            cols[name] = pa.nulls(n, at)
    if geometry:
        g = t.column(gname) if gname in t.column_names else pa.nulls(n, pa.binary())
        cols["geom"] = g.cast(pa.binary())
    return pa.table(cols)


def table_data(rel: Release, spec: TableSpec) -> pa.Table:
    """The rows of one release table."""
    import pandas as pd

    proj, prof = rel.proj, rel.profile
    fields = table_fields(spec, prof)
    if spec.source == "layer":
        return read_layer_arrow(proj, spec.name if spec.layer_key is None else prof.layer(spec.layer_key).table,
                                fields, geometry=spec.geometry is not None)
    if spec.source == "raw":

        meta, t = _store.read_arrow(proj.path, spec.project_table)
        g = meta.get("geometry_name")
        if g and g in t.column_names:
            t = t.rename_columns(["geom" if c == g else c for c in t.column_names])
        return t
    if spec.name == "departments":
        from ..responsibility.registry import read_departments

        return frame_to_arrow(read_departments(proj), fields)
    if spec.name == "dispatch_matrix":
        return frame_to_arrow(release_matrix(rel), fields)
    if spec.source == "table":
        from ..gpkg import list_layers

        if spec.project_table not in list_layers(proj.path):
            return _empty(fields, False)

        df = _store.read_dataframe(proj.path, spec.project_table, read_geometry=False, use_arrow=True)
        return frame_to_arrow(df, fields)
    if spec.name == FIELDS_TABLE:
        rows = []
        for s in rel.specs:
            for f in table_fields(s, prof):
                rows.append({"table_name": s.name, "field_name": f[0], "alias_zh": f[2], "alias_en": f[3], "type": f[1],
                             "note": f[4] or ""})
            if s.geometry:
                rows.append({"table_name": s.name, "field_name": "geom", "alias_zh": "几何", "alias_en": "Geometry",
                             "type": "geometry", "note": s.geometry})
        return frame_to_arrow(pd.DataFrame(rows), fields)
    if spec.name == "photos":
        from .photos import photo_rows

        df, rel.photo_files = photo_rows(proj, rel.warnings)
        return frame_to_arrow(df, fields)
    if spec.name == META_TABLE:
        return frame_to_arrow(pd.DataFrame({"key": list(rel.meta), "value": list(rel.meta.values())}), fields)
    if spec.name == STYLES_TABLE:
        from .styles import style_rows

        return frame_to_arrow(pd.DataFrame(style_rows(rel.specs, prof, catalog=rel.catalog, schema=rel.schema)), fields)
    raise ValueError(spec.name)


def release_matrix(rel: Release):
    """The effective matrix with names derived from the registry (empty when assign never ran)."""
    from ..responsibility import matrix as mx
    from ..responsibility.ops import _places
    from ..responsibility.registry import read_departments

    proj = rel.proj
    m = mx.read_matrix(proj)
    if m is None or not len(m):
        rel.warnings.append(Text("项目中还没有派遣矩阵（请先运行 responsibility assign），发布的 dispatch_matrix 为空",
                                 "the project has no dispatch matrix yet (run responsibility assign first); the release's "
                                 "dispatch_matrix is empty"))
        return mx.empty()
    depts = read_departments(proj)
    streets, comms, areas = _places(proj)
    names = mx.area_name_map(streets, comms, areas, proj.county, proj.meta.get("county_name", ""))
    return mx.derive(mx.effective(m), proj.profile, depts, names)


# ----------------------------------------------------------------------------------------------
# GeoPackage

def write_gpkg(rel: Release, out, feedback) -> dict:
    """Write the release to a new GeoPackage ``out`` (replaced atomically when it exists)."""
    from ..gpkg import atomic_output, sqlite_connect, write_layer
    from ..tempfiles import remove, temp_dir
    from .photos import MARKER, fill_folder, gpkg_photo_folder, swap_in_folder

    proj = rel.proj
    counts = {}
    n = len(rel.specs)
    photo_dir = gpkg_photo_folder(out)
    photo_tmp = None
    try:
        with atomic_output(out, overwrite=True) as tmp:
            for i, spec in enumerate(rel.specs):
                if spec.name == META_TABLE:
                    continue  # written last, with the counts
                t = table_data(rel, spec)
                geom_type = spec.geometry
                if spec.source == "raw":
                    geom_type = None if "geom" not in t.column_names else _raw_geometry(proj, spec)
                write_layer(tmp, spec.name, t, geometry_type=geom_type, crs=proj.crs if geom_type else None,
                            description=f"{spec.title_zh} / {spec.title_en}")
                counts[spec.name] = t.num_rows
                feedback.progress(5 + 85 * (i + 1) / n)
            if rel.photo_files:
                # the photo files beside the release: built in a temporary folder, swapped in with the file
                photo_tmp = temp_dir(photo_dir)
                fill_folder(photo_tmp, rel.photo_files)
                (photo_tmp / MARKER).write_text(rel.meta["release_id"], encoding="utf-8")
                rel.meta["photo_folder"] = photo_dir.name
            rel.meta["tables"] = json.dumps(counts, ensure_ascii=False)
            meta_spec = next(s for s in rel.specs if s.name == META_TABLE)
            write_layer(tmp, META_TABLE, table_data(rel, meta_spec), description="发布元数据 / Release metadata")
            counts[META_TABLE] = len(rel.meta)
            con = sqlite_connect(tmp)
            try:
                with con:
                    for spec in rel.specs:
                        for role in spec.indexes:
                            f = field_name(spec, rel.profile, role)
                            if f:
                                con.execute(f'CREATE INDEX IF NOT EXISTS "idx_{spec.name}_{f}" ON "{spec.name}"("{f}")')
                    con.execute('CREATE INDEX IF NOT EXISTS "idx_dispatch_matrix_key" ON "dispatch_matrix"'
                                '("kind", "class_code", "area_type", "area_code")')
                    con.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
            finally:
                con.close()
            feedback.progress(98)
        if photo_tmp is not None:
            swap_in_folder(photo_tmp, photo_dir)
        elif (photo_dir / MARKER).is_file():  # the previous release's photos: this release has none
            import shutil

            shutil.rmtree(photo_dir, ignore_errors=True)
    finally:
        if photo_tmp is not None and photo_tmp.exists():
            remove(photo_tmp)
    rel.counts = counts
    return counts


def _raw_geometry(proj, spec) -> str | None:

    info = _store.read_info(proj.path, spec.project_table)
    g = info.get("geometry_type")
    return g if g else None


# ----------------------------------------------------------------------------------------------
# what a release may replace

#: tables of a GeoPackage that belong to the format, not to anyone's data
GPKG_SYSTEM = ("gpkg_", "rtree_", "sqlite_", "gpkgext_")


def release_table_names(rel: Release) -> set:
    """Every table name a release of this product writes (also those of older schema versions)."""
    return {s.name for s in rel.specs} | {s.name for s in tables()} | {META_TABLE, "release_info", STYLES_TABLE}


def meta_table_names(meta: dict | None) -> set:
    """The tables a release lists in its own release_meta (``tables`` and ``geocode_tables``)."""
    if not meta:
        return set()
    out = {META_TABLE, "release_info"}
    for key in ("tables", "geocode_tables"):
        try:
            v = json.loads(meta.get(key) or "null")
        except (TypeError, ValueError):
            continue
        if isinstance(v, dict):
            out |= {str(k) for k in v}
        elif isinstance(v, list):
            out |= {str(k) for k in v}
    return out


def same_project(meta: dict, proj) -> bool:
    """Is ``meta`` (a target's release_meta) a release of ``proj``?  County and profile must match, and the
    project's creation time when both sides record it."""
    if str(meta.get("county", "")) != str(proj.county) or str(meta.get("profile", "")) != str(proj.profile.id):
        return False
    mine, theirs = str(proj.meta.get("created", "")), str(meta.get("project_created", ""))
    return not (mine and theirs and mine != theirs)


def describe_release(meta: dict | None) -> Text:
    if not meta:
        return Text("不是本软件的发布（没有 release_meta）", "not a release of this product (no release_meta)")
    return Text(f"另一个项目的发布（县 {meta.get('county', '?')} {meta.get('county_name', '')}，标准配置 {meta.get('profile', '?')}，"
                f"项目创建于 {meta.get('project_created') or '?'}，发布于 {meta.get('release_time', '?')}）",
                f"a release of another project (county {meta.get('county', '?')} {meta.get('county_name', '')}, profile "
                f"{meta.get('profile', '?')}, project created {meta.get('project_created') or '?'}, released "
                f"{meta.get('release_time', '?')})")


def plan_replacement(rel: Release, existing: set, meta: dict | None, *, target: str, replace_foreign: bool,
                     kind: Text) -> set:
    """Which existing tables of the target a full release replaces; refuses what it must not touch.

    ``existing``: the target's tables; ``meta``: its release_meta (None when it has none).  A release of
    the same project is replaced (its own tables only).  Anything else — another project's release, or
    tables that are not a release at all — is refused unless ``replace_foreign``; even then only the
    product's own tables are dropped, and a user's table that happens to have a release table's name is
    never dropped (refused, named)."""
    ours = release_table_names(rel)
    existing = {t for t in existing if not t.startswith(GPKG_SYSTEM)}
    if not existing:
        return set()
    own = existing & (ours | meta_table_names(meta)) if meta is not None else set()
    others = sorted(existing - own)
    if meta is None or not same_project(meta, rel.proj):
        if not replace_foreign:
            what = describe_release(meta)
            listed = ", ".join(others[:12]) + (" …" if len(others) > 12 else "")
            raise SurveyError(
                Text(f"发布目标{kind.zh}已存在且{what.zh}，未作任何改动" + (f"；其中的表：{listed}" if others else ""),
                     f"the release target {kind.en} exists and is {what.en}; nothing was changed"
                     + (f"; it holds: {listed}" if others else "")),
                code="foreign_target", file=target,
                hint=Text("换一个发布目标；确要替换时加 --replace-foreign（只删除本软件的发布表，其他表保留）",
                          "choose another target; to replace it anyway add --replace-foreign (only this product's "
                          "release tables are dropped, other tables are kept)"))
    clash = sorted((existing - own) & ours)
    if clash:
        raise SurveyError(
            Text(f"发布目标{kind.zh}中有与发布表同名、但不属于发布的表：{', '.join(clash)}；这些表不会被删除，未作任何改动",
                 f"the release target {kind.en} holds tables with release table names that are not part of a release: "
                 f"{', '.join(clash)}; they are never dropped, so nothing was changed"),
            code="foreign_tables", file=target,
            hint=Text("换一个发布目标（另一个 .gpkg 文件或 ?schema=新模式名）", "choose another target (another .gpkg file or ?schema=NEW_NAME)"))
    return own


def gpkg_target_state(out) -> tuple[set, dict | None, bool]:
    """(tables, release_meta or None, is_sqlite) of an existing file."""
    import sqlite3
    from pathlib import Path

    p = Path(out)
    with open(p, "rb") as f:
        head = f.read(16)
    if head != b"SQLite format 3\x00":
        return set(), None, False
    con = sqlite3.connect(f"file:{p.as_posix()}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        meta = None
        mt = META_TABLE if META_TABLE in names else ("release_info" if "release_info" in names else None)
        if mt:
            meta = dict(con.execute(f'SELECT "key", "value" FROM "{mt}"').fetchall())
    except sqlite3.DatabaseError:
        return set(), None, False
    finally:
        con.close()
    return names, meta, True


def check_gpkg_target(rel: Release, out, replace_foreign: bool = False) -> None:
    """Refuse to replace a GeoPackage that is not a release of this project (see :func:`plan_replacement`).
    A release file is written whole, so a file holding anything but release tables is never replaced."""
    from pathlib import Path

    p = Path(out)
    if not p.is_file():
        return
    try:
        if _store.is_project_file(rel.proj, p):
            raise SurveyError(Text("发布目标就是项目库本身，不能覆盖", "the release target is the survey project itself; it is never "
                                   "overwritten"), code="target_is_project", file=str(out))
        names, meta, is_sqlite = gpkg_target_state(p)
    except OSError as e:
        from ..errors import environment_error

        raise (environment_error(e, path=out) or e) from None
    kind = Text(" GeoPackage", " GeoPackage")
    if not is_sqlite:
        if replace_foreign:
            return
        raise SurveyError(Text("发布目标文件已存在且不是 GeoPackage，未作任何改动", "the release target exists and is not a GeoPackage; "
                               "nothing was changed"), code="foreign_target", file=str(out),
                          hint=Text("换一个文件名；确要替换时加 --replace-foreign", "choose another file name; to replace it "
                                    "anyway add --replace-foreign"))
    own = plan_replacement(rel, names, meta, target=str(out), replace_foreign=replace_foreign, kind=kind)
    user = sorted(t for t in names if not t.startswith(GPKG_SYSTEM) and t not in own)
    if user:  # a GeoPackage release replaces the whole file: it must not hold anyone else's tables
        raise SurveyError(Text(f"发布目标 GeoPackage 中还有不属于发布的表（{', '.join(user[:12])}），整文件替换会删除它们，未作任何改动",
                               f"the release target GeoPackage also holds tables that are not part of a release "
                               f"({', '.join(user[:12])}); replacing the file would delete them, so nothing was changed"),
                          code="foreign_tables", file=str(out),
                          hint=Text("换一个文件名", "choose another file name"))


def check_target_path(out) -> None:
    from pathlib import Path

    p = Path(out)
    if p.suffix.lower() != ".gpkg":
        raise SurveyError(Text("发布库应为 .gpkg 文件或 postgresql:// 连接串",
                               "the release target must be a .gpkg file or a postgresql:// URL"), code="bad_target",
                          file=str(out))
