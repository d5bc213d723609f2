"""The case-system release schema (案件系统数据库结构), versioned.

One definition serves the GeoPackage writer, the PostGIS writer, the data dictionary stored in the
release (``release_fields``) and ``docs/schema.md`` (:func:`schema_markdown`; a test keeps the file in
step).  Spatial tables keep the profile's table and field names, so a release of a cjt project has
``ObjID``/``BGID`` and a release of a gbt47678 project ``GLBJBSM``/``SZDYWGBSM``.

Version history (``release_meta.schema_version``):

* **1** (this version): the tables below.
* 0 (never released; used by the migration test): ``release_info`` instead of ``release_meta`` and a
  ``dispatch_matrix`` without the derived ``co_unit_names``.  :data:`MIGRATIONS` turns 0 into 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .photos import PHOTO_FIELDS

SCHEMA_VERSION = 1
META_TABLE = "release_meta"
FIELDS_TABLE = "release_fields"
STYLES_TABLE = "layer_styles"


@dataclass
class TableSpec:
    """One release table."""

    name: str
    title_zh: str
    title_en: str
    #: profile layer key (spatial tables and the responsibility layers) or None
    layer_key: str | None = None
    geometry: str | None = None
    #: where the rows come from: "layer" (project layer), "table" (project table), "build" (computed)
    source: str = "layer"
    #: project table name for source == "table"
    project_table: str | None = None
    #: (name, type, alias_zh, alias_en, note) for tables not described by the profile
    fields: list = field(default_factory=list)
    #: style template id (see styles.py)
    style: str | None = None
    optional: bool = False
    #: fields to index (besides the spatial index)
    indexes: list = field(default_factory=list)
    note: str = ""


COMPONENT_TABLES = ("component_point", "component_line", "component_polygon")

META_FIELDS = [("key", "text", "键", "Key", ""), ("value", "text", "值", "Value", "")]
META_KEYS = [
    ("schema_version", "数据库结构版本", "Schema version", "integer as text; this document describes version 1"),
    ("release_id", "发布标识", "Release ID", "UUID of this release"),
    ("release_time", "发布时间", "Release time", "ISO 8601, local time of the exporting machine"),
    ("release_kind", "发布方式", "Release kind", "full | incremental"),
    ("incremental_scope", "增量范围", "Incremental scope", "change_log since <time> | street <code> | community <code>"),
    ("profile", "标准配置", "Profile", "cjt | gbt30428 | gbt47678 | a city profile id"),
    ("profile_edition", "标准版本", "Standard edition", ""),
    ("county", "县级行政区划代码", "County code", "6 digits"),
    ("county_name", "县级行政区名称", "County name", ""),
    ("crs", "坐标系", "CRS", "EPSG:xxxx (or the WKT when the CRS has no EPSG code)"),
    ("srid", "空间参考标识", "SRID", "the SRID of every geometry column"),
    ("crs_wkt", "坐标系 WKT", "CRS WKT", ""),
    ("title", "项目名称", "Title", ""),
    ("surveytools_version", "导出软件版本", "surveytools version", ""),
    ("source_project", "来源项目库", "Source project", "path of the survey project"),
    ("project_created", "项目创建时间", "Project created",
     "creation time of the survey project; with county and profile it identifies the project whose release this is "
     "(a target holding another project's release is only replaced with --replace-foreign)"),
    ("tables", "数据表清单", "Tables", "JSON: table -> feature or row count"),
    ("geocode_tables", "地理编码表", "Geocoding tables", "JSON list; empty when the project has none"),
    ("photo_folder", "照片目录", "Photo folder",
     "where the files of table photos are: GeoPackage: <release name>_photos (beside the release file); PostGIS: the "
     "folder given by --photos (empty: files not copied); the photos' path is relative to it"),
]
STYLE_FIELDS = [
    ("f_table_catalog", "text", "数据库", "Catalog", "'' in a GeoPackage, the database name in PostGIS"),
    ("f_table_schema", "text", "模式", "Schema", "'' in a GeoPackage, the release schema in PostGIS"),
    ("f_table_name", "text", "表名", "Table", ""),
    ("f_geometry_column", "text", "几何字段", "Geometry column", "geom"),
    ("styleName", "text", "样式名称", "Style name", ""),
    ("styleQML", "text", "QGIS 样式（QML）", "QGIS style (QML)", ""),
    ("styleSLD", "text", "SLD 样式", "SLD style", ""),
    ("useAsDefault", "boolean", "默认样式", "Default style", "true: QGIS applies it when the layer is opened"),
    ("description", "text", "说明", "Description", ""),
    ("owner", "text", "所有者", "Owner", ""),
    ("ui", "text", "界面", "UI", ""),
    ("update_time", "datetime", "更新时间", "Update time", ""),
]
DICT_FIELDS = [
    ("code", "text", "类别代码", "Class code", "major 2 + minor 2 (cjt, gbt30428) or 3 (gbt47678)"),
    ("major_code", "text", "大类代码", "Major class code", ""),
    ("major_name", "text", "大类名称", "Major class name", ""),
    ("name", "text", "小类名称", "Class name", ""),
    ("geometry", "text", "几何类型", "Geometry type", "point | line | polygon"),
    ("accuracy", "text", "定位精度等级", "Accuracy grade", "A | B | C"),
    ("aliases", "text", "别名", "Aliases", "joined by |"),
    ("status", "text", "状态", "Status", ""),
    ("provenance", "text", "来源标记", "Provenance", "confirmed | corroborated | inferred | recalled | official | local"),
    ("source", "text", "来源", "Source", ""),
    ("notes", "text", "备注", "Notes", ""),
]
DOMAIN_FIELDS = [
    ("domain", "text", "值域", "Domain", "component_state | data_source | dept_role …"),
    ("code", "text", "代码", "Code", ""),
    ("value", "text", "值", "Value", ""),
    ("value_en", "text", "英文", "English", ""),
    ("provenance", "text", "来源标记", "Provenance", ""),
    ("source", "text", "来源", "Source", ""),
]
FIELD_DICT_FIELDS = [
    ("table_name", "text", "表名", "Table", ""), ("field_name", "text", "字段名", "Field", ""),
    ("alias_zh", "text", "中文名", "Chinese name", ""), ("alias_en", "text", "英文名", "English name", ""),
    ("type", "text", "类型", "Type", "text | integer | real | date | datetime | boolean | geometry"),
    ("note", "text", "说明", "Note", ""),
]


def tables() -> list:
    """The release tables of schema version 1, in writing order."""
    return [
        TableSpec(META_TABLE, "发布元数据", "Release metadata", source="build", fields=META_FIELDS,
                  note="one row per key (see the key list below)"),
        TableSpec(FIELDS_TABLE, "数据字典", "Data dictionary", source="build", fields=FIELD_DICT_FIELDS,
                  note="every field of every table of this release, with Chinese and English names"),
        TableSpec("streets", "街道（乡镇）", "Streets (towns)", layer_key="street", geometry="multipolygon", style="streets"),
        TableSpec("communities", "社区（村）", "Communities", layer_key="community", geometry="multipolygon",
                  style="communities"),
        TableSpec("unit_grids", "单元网格", "Unit grids", layer_key="unit_grid", geometry="polygon", style="unit_grids",
                  indexes=["grid_code"]),
        TableSpec("work_grids", "监督员工作网格", "Work grids", layer_key="work_grid", geometry="multipolygon",
                  style="work_grids"),
        TableSpec("responsibility_grids", "责任网格", "Responsibility grids", layer_key="responsibility_grid",
                  geometry="multipolygon", style="responsibility_grids"),
        TableSpec("responsibility_areas", "责任区域", "Responsibility areas", layer_key="responsibility_area",
                  geometry="polygon", style="responsibility_areas", indexes=["area_code"]),
        TableSpec("components_point", "部件（点）", "Components (points)", layer_key="component_point", geometry="point",
                  style="components_point", indexes=["component_id", "class_code", "grid_code", "street_code"]),
        TableSpec("components_line", "部件（线）", "Components (lines)", layer_key="component_line", geometry="line",
                  style="components_line", indexes=["component_id", "class_code", "grid_code", "street_code"]),
        TableSpec("components_polygon", "部件（面）", "Components (polygons)", layer_key="component_polygon",
                  geometry="polygon", style="components_polygon",
                  indexes=["component_id", "class_code", "grid_code", "street_code"]),
        TableSpec("events", "事件", "Events", layer_key="event", geometry="point", style="events",
                  indexes=["class_code", "grid_code"]),
        TableSpec("dict_component_classes", "部件分类字典", "Component classes", source="table",
                  project_table="dict_component_classes", fields=DICT_FIELDS),
        TableSpec("dict_event_classes", "事件分类字典", "Event classes", source="table", project_table="dict_event_classes",
                  fields=DICT_FIELDS),
        TableSpec("dict_domains", "值域字典", "Value domains", source="table", project_table="dict_domains",
                  fields=DOMAIN_FIELDS),
        TableSpec("departments", "部门（责任单位）", "Departments (responsible units)", layer_key="department",
                  source="table", project_table="departments", indexes=["dept_id", "street_code"]),
        TableSpec("dispatch_matrix", "派遣矩阵", "Dispatch matrix", layer_key="dispatch_matrix", source="table",
                  project_table="dispatch_matrix", indexes=["class_code"],
                  note="effective rows: blanks filled from the county row of the class or major (surveytools.responsibility.matrix.effective)"),
        TableSpec("photos", "部件照片", "Component photos", source="build", fields=PHOTO_FIELDS,
                  indexes=["component_id"],
                  note="1:n photos of components (field survey); the files are in the photo folder (release_meta.photo_folder)"),
        TableSpec(STYLES_TABLE, "图层样式（QGIS）", "Layer styles (QGIS)", source="build", fields=STYLE_FIELDS,
                  note="the QGIS layer_styles schema; in PostGIS the rows are also written to public.layer_styles"),
    ]


def table_fields(spec: TableSpec, profile) -> list:
    """[(name, type, alias_zh, alias_en, note, role)] of a table for a profile."""
    if spec.layer_key:
        from ..project import field_group

        f = profile.layer_fields(field_group(spec.layer_key))
        return [(r["name"], r["type"], r["alias_zh"], r["alias_en"], r["notes"], r["role"]) for _, r in f.iterrows()]
    return [(n, t, z, e, note, n) for n, t, z, e, note in spec.fields]


def field_name(spec: TableSpec, profile, role: str) -> str | None:
    for name, _, _, _, _, r in table_fields(spec, profile):
        if r == role:
            return name
    return None


def geocode_specs(proj, layers: set) -> list:
    """Optional geocoding tables: profile layers whose key starts with ``geocode_`` plus any other project
    table whose name starts with ``geocode_`` or ``geo_`` (alias tables …), when they hold rows."""
    out = []
    seen = set()
    for key, spec in proj.profile.layers.items():
        if key.startswith("geocode_") and spec.table in layers:
            out.append(TableSpec(spec.table, spec.title.zh, spec.title.en, layer_key=key, geometry=spec.geometry,
                                 optional=True, style="geocode_point" if spec.geometry == "point" else "geocode_other"))
            seen.add(spec.table)
    for name in sorted(layers):
        if name not in seen and (name.startswith("geocode_") or name.startswith("geo_")):
            out.append(TableSpec(name, name, name, source="raw", project_table=name, optional=True))
    return out


# ----------------------------------------------------------------------------------------------
# migrations

def _migrate_0_to_1(ex) -> None:
    """0 → 1: ``release_info`` becomes ``release_meta``; ``dispatch_matrix`` gains ``co_unit_names``
    (derived from ``departments``)."""
    ex.rename_table("release_info", META_TABLE)
    if not ex.has_column("dispatch_matrix", "co_unit_names"):
        ex.add_text_column("dispatch_matrix", "co_unit_names")
        names = dict(ex.query(f"SELECT dept_id, name FROM {ex.qualified('departments')}"))
        names["@属地"] = "属地街道办事处"
        for (co,) in ex.query(f"SELECT DISTINCT co_units FROM {ex.qualified('dispatch_matrix')}"):
            text = "|".join(names.get(u, "?") for u in (co or "").split("|") if u)
            ex.execute(f"UPDATE {ex.qualified('dispatch_matrix')} SET co_unit_names = {ex.ph} WHERE co_units = {ex.ph}",
                       (text, co))

#: from_version -> function(executor) bringing a release to from_version + 1
MIGRATIONS = {0: _migrate_0_to_1}


def schema_markdown(profiles=("cjt", "gbt30428", "gbt47678")) -> str:
    """The table-by-table, field-by-field description used in docs/schema.md (generated part)."""
    from ..profiles import load_profile

    profs = [load_profile(p) for p in profiles]
    lines = [f"<!-- generated by surveytools.export.schema.schema_markdown(); schema version {SCHEMA_VERSION} -->", ""]
    for spec in tables():
        lines.append(f"### `{spec.name}` — {spec.title_zh} / {spec.title_en}")
        lines.append("")
        geom = {"point": "Point", "line": "LineString", "polygon": "Polygon", "multipolygon": "MultiPolygon"}.get(spec.geometry or "")
        lines.append(f"Geometry: {geom + ' (column `geom`, spatial index)' if geom else 'none (attribute table)'}."
                     + (f" {spec.note}." if spec.note else ""))
        lines.append("")
        if spec.layer_key:
            lines.append("| field (cjt / gbt30428 / gbt47678) | 中文名 | English | type | note |")
            lines.append("|---|---|---|---|---|")
            per = [{r: (n, t, z, e, note) for n, t, z, e, note, r in table_fields(spec, p)} for p in profs]
            roles = list(dict.fromkeys([r for d in per for r in d]))
            for role in roles:
                names = [d[role][0] if role in d else "—" for d in per]
                ref = next(d[role] for d in per if role in d)
                shown = names[0] if len(set(names)) == 1 else " / ".join(names)
                lines.append(f"| `{shown}` | {ref[2]} | {ref[3]} | {ref[1]} | {(ref[4] or '').replace('|', '/')} |")
        else:
            lines.append("| field | 中文名 | English | type | note |")
            lines.append("|---|---|---|---|---|")
            for n, t, z, e, note in spec.fields:
                lines.append(f"| `{n}` | {z} | {e} | {t} | {note.replace('|', '/')} |")
        if spec.name == META_TABLE:
            lines += ["", "Keys:", "", "| key | 中文名 | English | note |", "|---|---|---|---|"]
            for k, z, e, note in META_KEYS:
                lines.append(f"| `{k}` | {z} | {e} | {note.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def update_doc(path) -> bool:
    """Rewrite the generated part of docs/schema.md; True when it changed."""
    import re
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    new = re.sub(r"<!-- BEGIN GENERATED -->.*<!-- END GENERATED -->",
                 lambda m: "<!-- BEGIN GENERATED -->\n" + schema_markdown() + "\n<!-- END GENERATED -->", text, flags=re.S)
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m surveytools.export.schema docs/schema.md
    import sys

    print("updated" if update_doc(sys.argv[1] if len(sys.argv) > 1 else "docs/schema.md") else "up to date")
