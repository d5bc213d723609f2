"""The survey project as a QGIS project file (``.qgz``) with native forms, as QGIS Model Baker does.

:func:`write_qgz` (Processing algorithm ``surveytools:project_qgis``, CLI ``surveytools project
qgis PROJECT --out FILE.qgz``) writes a ``.qgz`` beside (or anywhere relative to) a survey
project: the layers in theme groups, styled, with **relative** paths; the project's link for the
plugin in custom project properties (``surveytools/*`` entries, read back by
:func:`survey_link`); the default view on the unit grids; and the forms as **native QGIS
configuration** that works in a QGIS without the plugin:

* class code: a *relation reference* on the ``dict_component_classes`` table with the major class
  name as filter field — two drop-downs, major → minor, the minor list filtered by the major;
* value domains (部件状态 …): value maps; dates: date widgets with a calendar;
* departments: the code field is a value relation on ``departments`` (filtered by role
  主管 / 权属 / 养护) showing the names; the name field follows the picked code (default value
  expression, applied on update), so one pick fills both;
* constraints with Chinese (or English) messages: mandatory fields, code lengths and prefixes;
* default-value expressions, applied on update (so they follow a move or a class change):
  所在单元网格 (the grid code: a point takes the grid it lies in, on an edge the smallest code; a
  line or polygon the grid holding its longest / largest part), street and community codes (the
  leading parts of the grid code, else the community / street layer) and names, the component
  ID (county + class + the next serial after the largest of the three component layers **and the
  project's ``id_registry``**, kept while its class part agrees with the class), the
  component name (the class name while the name is empty or still a class name).

Every expression uses functions of QGIS 3.22 (``aggregate`` with ``@parent``, ``get_feature``,
``array_agg``, ``array_max``).  The live session of the plugin uses the same configuration (see
:meth:`qgis_plugin.layers.LoadedProject.configure_forms`), so what the plugin shows and what the
file holds cannot differ.  :class:`QgzOptions` collects the choices a caller can make; a
field-survey package (QField) adds its own options there.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsDefaultValue,
    QgsEditorWidgetSetup,
    QgsProject,
    QgsReferencedRectangle,
    QgsRelation,
)

from surveytools.errors import SurveyError
from surveytools.i18n import Text

from .compat import constraint, constraint_strength, is_chinese, log

#: custom project entries (scope, key) written into the .qgz
SCOPE = "surveytools"
ENTRY_KEYS = ("project", "kind", "profile", "county", "title", "version", "connection", "schema")
REGISTRY_TABLE = "id_registry"
CLASS_TABLE = "dict_component_classes"
DEPARTMENTS_TABLE = "departments"
#: roles the plugin (or the default expressions) fill; read-only in the form
AUTO_ROLES = ("component_id", "grid_code", "street_code", "street_name", "community_code", "community_name")
DEPT_ROLES = (("dept1_code", "dept1_name", "主管"), ("dept2_code", "dept2_name", "权属"),
              ("dept3_code", "dept3_name", "养护"))


@dataclass
class QgzOptions:
    """What :func:`write_qgz` writes.  ``language``: ``zh`` or ``en`` for aliases and constraint
    messages (default: the QGIS locale)."""

    language: str | None = None
    #: write the plugin link (custom project properties) so the plugin restores its panel
    plugin_link: bool = True
    #: zoom the default view to the unit grids (else to all layers)
    zoom_to_grids: bool = True


def _q(value: str) -> str:
    """A QGIS expression string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _f(name: str) -> str:
    """A QGIS expression field reference."""
    return '"' + str(name).replace('"', '""') + '"'


def _zh(options) -> bool:
    lang = getattr(options, "language", None)
    return is_chinese() if not lang else lang.lower().startswith("zh")


# ----------------------------------------------------------------------------------------------
# expressions

def locate_expression(grid_layer, code_field: str, geometry: str) -> str:
    """The code of the polygon of ``grid_layer`` holding the current feature, with the rules of
    :mod:`surveytools.locate`: a point the smallest code among the polygons it touches (one: the
    one whose interior holds it); a line / polygon the polygon with its longest / largest part,
    ties to the smallest code."""
    lid = _q(grid_layer.id())
    hit = "intersects($geometry, geometry(@parent))"
    if geometry.endswith("point"):
        return f"aggregate(layer:={lid}, aggregate:='min', expression:={_f(code_field)}, filter:={hit})"
    measure = "length" if geometry.endswith("line") else "area"
    sizes = (f"aggregate(layer:={lid}, aggregate:='array_agg', expression:={measure}(intersection($geometry, "
             f"geometry(@parent))), filter:={hit}, order_by:={_f(code_field)})")
    codes = (f"aggregate(layer:={lid}, aggregate:='array_agg', expression:={_f(code_field)}, filter:={hit}, "
             f"order_by:={_f(code_field)})")
    return (f"with_variable('st_sizes', {sizes}, with_variable('st_codes', {codes}, "
            f"if(array_length(@st_codes) > 0, array_get(@st_codes, array_find(@st_sizes, array_max(@st_sizes))), NULL)))")


class FormContext:
    """The layers a component form refers to (any may be ``None``)."""

    def __init__(self, profile, county: str, *, grids=None, communities=None, streets=None, classes=None,
                 departments=None, registry=None, components=()):
        self.profile = profile
        self.county = county or ""
        self.grids, self.communities, self.streets = grids, communities, streets
        self.classes, self.departments, self.registry = classes, departments, registry
        self.components = [c for c in components if c is not None]

    @classmethod
    def from_loaded(cls, lp) -> "FormContext":
        from .projectdata import COMPONENT_KEYS

        return cls(lp.sp.profile, lp.sp.county, grids=lp.layer("unit_grid"), communities=lp.layer("community"),
                   streets=lp.layer("street"), classes=lp.layer(CLASS_TABLE), departments=lp.layer(DEPARTMENTS_TABLE),
                   registry=lp.layer(REGISTRY_TABLE), components=[lp.layer(k) for k in COMPONENT_KEYS])

    # -- location ---------------------------------------------------------------------------------
    def code_lengths(self) -> tuple:
        ug = self.profile.codes["unit_grid"]
        comm = ug.length - ug.part_length("serial")
        return comm, comm - ug.part_length("community")

    def location_expressions(self, geometry: str) -> dict:
        """role → default expression of the location fields of a component / event layer."""
        prof = self.profile
        comm_len, street_len = self.code_lengths()
        grid = comm = street = None
        if self.grids is not None:
            grid = locate_expression(self.grids, prof.field("unit_grid", "grid_code"), geometry)
        by_comm = by_street = None
        if self.communities is not None and prof.field("community", "community_code"):
            by_comm = locate_expression(self.communities, prof.field("community", "community_code"), geometry)
        if self.streets is not None and prof.field("street", "street_code"):
            by_street = locate_expression(self.streets, prof.field("street", "street_code"), geometry)
        comm_parts = [f"left({grid}, {comm_len})" if grid else None, by_comm]
        comm = _coalesce(comm_parts)
        street_parts = [f"left({grid}, {street_len})" if grid else None,
                        f"left({by_comm}, {street_len})" if by_comm else None, by_street]
        street = _coalesce(street_parts)
        out = {"grid_code": grid, "community_code": comm, "street_code": street}
        if comm and self.communities is not None and prof.field("community", "community_name"):
            out["community_name"] = (f"attribute(get_feature({_q(self.communities.id())}, "
                                     f"{_q(prof.field('community', 'community_code'))}, {comm}), "
                                     f"{_q(prof.field('community', 'community_name'))})")
        if street and self.streets is not None and prof.field("street", "street_name"):
            out["street_name"] = (f"attribute(get_feature({_q(self.streets.id())}, "
                                  f"{_q(prof.field('street', 'street_code'))}, {street}), "
                                  f"{_q(prof.field('street', 'street_name'))})")
        return {k: v for k, v in out.items() if v}

    # -- IDs --------------------------------------------------------------------------------------
    def id_expression(self, group: str = "component") -> str | None:
        """County + class + next serial; an existing ID is kept while its class part agrees with
        the class (a move or another edit never renumbers; a delivered ID of another county stays
        for validation to report)."""
        prof = self.profile
        f_id, f_class = prof.field(group, "component_id"), prof.field(group, "class_code")
        if not (f_id and f_class and self.county):
            return None
        spec = prof.codes["component_id"]
        s0, s1 = spec.span("serial")
        clen = prof.codes["class"].length
        m0, _ = spec.span("major")
        prefix = f"{_q(self.county)} || {_f(f_class)}"
        parent_prefix = f"{_q(self.county)} || attribute(@parent, {_q(f_class)})"
        serial = f"substr({_f(f_id)}, {s0 + 1}, {s1 - s0})"
        pattern = "^" + "".join("[0-9A-Z]" if name == "serial" and spec.charset == "alnum" else "[0-9]"
                                for name, n in spec.parts for _ in range(n)) + "$"
        candidates = []
        for lyr in self.components:
            candidates.append(f"coalesce(aggregate(layer:={_q(lyr.id())}, aggregate:='max', expression:=to_int({serial}), "
                              f"filter:=left({_f(f_id)}, {s0}) = {parent_prefix} AND regexp_match({_f(f_id)}, "
                              f"{_q(pattern)})), 0)")
        if self.registry is not None:
            candidates.append(f"coalesce(aggregate(layer:={_q(self.registry.id())}, aggregate:='max', "
                              f"expression:=to_int(\"max_serial\"), filter:=\"county\" = {_q(self.county)} AND "
                              f"\"class_code\" = attribute(@parent, {_q(f_class)})), 0)")
        if not candidates:
            candidates.append("0")
        nxt = f"max({', '.join(candidates)}) + 1" if len(candidates) > 1 else f"{candidates[0]} + 1"
        return (f"CASE WHEN {_f(f_class)} IS NULL OR length({_f(f_class)}) <> {clen} THEN {_f(f_id)} "
                f"WHEN {_f(f_id)} IS NOT NULL AND substr({_f(f_id)}, {m0 + 1}, {clen}) = {_f(f_class)} THEN {_f(f_id)} "
                f"ELSE {prefix} || lpad(to_string({nxt}), {s1 - s0}, '0') END")

    def name_expression(self, group: str = "component") -> str | None:
        """The class name while the name is empty or still the name of a class (so a class change
        renames a feature that carried its old class's name)."""
        prof = self.profile
        f_name, f_class = prof.field(group, "name"), prof.field(group, "class_code")
        if not (f_name and f_class and self.classes is not None):
            return None
        cid = _q(self.classes.id())
        class_name = f"attribute(get_feature({cid}, 'code', {_f(f_class)}), 'name')"
        is_class_name = f"get_feature({cid}, 'name', {_f(f_name)}) IS NOT NULL"
        return (f"CASE WHEN {_f(f_class)} IS NULL OR {class_name} IS NULL THEN {_f(f_name)} "
                f"WHEN {_f(f_name)} IS NULL OR trim({_f(f_name)}) = '' OR {is_class_name} THEN {class_name} "
                f"ELSE {_f(f_name)} END")


def _coalesce(parts) -> str | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


# ----------------------------------------------------------------------------------------------
# native forms

def _value_relation(layer, key: str, value: str, filter_expr: str = "") -> dict:
    return {"Layer": layer.id(), "LayerName": layer.name(), "LayerSource": layer.source(),
            "LayerProviderName": layer.providerType(), "Key": key, "Value": value,
            "FilterExpression": filter_expr, "AllowNull": True, "AllowMulti": False, "OrderByValue": True,
            "UseCompleter": False, "NofColumns": 1}


def class_relation(project, layer, classes, class_field: str) -> QgsRelation | None:
    """The relation component.class_code → dict_component_classes.code (added to ``project``)."""
    rid = f"surveytools_class_{layer.id()}"
    manager = project.relationManager()
    old = manager.relation(rid)
    if old.isValid():
        if old.referencedLayerId() == classes.id() and old.referencingLayerId() == layer.id() and \
                old.fieldPairs() == {class_field: "code"}:
            return old
        manager.removeRelation(rid)
    try:
        from qgis.core import QgsRelationContext
        rel = QgsRelation(QgsRelationContext(project))
    except ImportError:  # pragma: no cover - QGIS < 3.12
        rel = QgsRelation()
    rel.setId(rid)
    rel.setName(f"{layer.name()} → {classes.name()}")
    rel.setReferencingLayer(layer.id())
    rel.setReferencedLayer(classes.id())
    rel.addFieldPair(class_field, "code")
    if not rel.isValid():
        log(f"class relation of {layer.name()}: {rel.validationError() if hasattr(rel, 'validationError') else ''}",
            "Warning")
        return None
    manager.addRelation(rel)
    return rel


def configure_native_form(layer, group: str, ctx: FormContext, *, project=None, options: QgzOptions | None = None,
                          geometry: str = "point") -> dict:
    """Configure ``layer``'s form (widgets, aliases, defaults, constraints) with native QGIS
    configuration only (see the module docstring).  Returns ``{"widgets": {field: type},
    "defaults": {field: expression}, "readonly": [fields], "hard": [...], "soft": [...]}``."""
    prof = ctx.profile
    project = project or QgsProject.instance()
    zh = _zh(options)
    fields = prof.layer_fields(group)
    summary = {"widgets": {}, "defaults": {}, "readonly": [], "hard": [], "soft": []}
    if not fields:
        return summary
    by_role = {f["role"]: f for f in fields}
    located = group in ("component", "event")
    auto = {by_role[r]["name"] for r in AUTO_ROLES if r in by_role} if located else set()
    defaults = dict(prof.defaults or {})
    exprs = {}
    if located:
        exprs.update(ctx.location_expressions(geometry))
        if group == "component":
            if ctx.id_expression(group):
                exprs["component_id"] = ctx.id_expression(group)
            if ctx.name_expression(group):
                exprs["name"] = ctx.name_expression(group)
            if defaults.get("component_state_new"):
                exprs["state"] = _q(defaults["component_state_new"])
            if defaults.get("data_source_survey"):
                exprs["data_source"] = _q(defaults["data_source_survey"])
            exprs["init_date"] = "to_date(now())"
    on_update = {"grid_code", "community_code", "street_code", "community_name", "street_name", "component_id", "name"}
    readonly = []
    for f in fields:
        name, role = f["name"], f["role"]
        idx = layer.fields().indexOf(name)
        if idx < 0:
            continue
        alias = (f.get("alias_zh") if zh else f.get("alias_en")) or ""
        if alias:
            layer.setFieldAlias(idx, str(alias))
        setup = None
        if role == "class_code" and group == "component" and ctx.classes is not None:
            rel = class_relation(project, layer, ctx.classes, name)
            major = ctx.classes.fields().indexOf("major_name")
            if major >= 0:  # the filter combo's first entry is the field's display name: say 大类, not major_name
                ctx.classes.setFieldAlias(major, "大类" if zh else "Major class")
            if rel is not None:
                setup = QgsEditorWidgetSetup("RelationReference", {
                    "Relation": rel.id(), "AllowNULL": True, "ShowForm": False, "ShowOpenFormButton": False,
                    "MapIdentification": False, "ReadOnly": False, "OrderByValue": True, "AllowAddFeatures": False,
                    "FilterFields": ["major_name"], "ChainFilters": False,
                    "ReferencedLayerId": ctx.classes.id(), "ReferencedLayerName": ctx.classes.name(),
                    "ReferencedLayerDataSource": ctx.classes.source(),
                    "ReferencedLayerProviderKey": ctx.classes.providerType()})
        elif f.get("domain"):
            values = prof.domain(f["domain"])
            if values:
                setup = QgsEditorWidgetSetup("ValueMap", {"map": [{str(v): str(v)} for v in values]})
        if ctx.departments is not None:
            for code_role, name_role, dept_role in DEPT_ROLES:
                if role == code_role and name_role in by_role:
                    filt = f"\"role\" LIKE '%{dept_role}%'"
                    setup = QgsEditorWidgetSetup("ValueRelation", _value_relation(ctx.departments, "dept_id", "name",
                                                                                  filt))
                    code_name = by_role[name_role]["name"]
                    exprs[name_role] = (f"if({_f(name)} IS NULL, {_f(code_name)}, coalesce(attribute(get_feature("
                                        f"{_q(ctx.departments.id())}, 'dept_id', {_f(name)}), 'name'), {_f(code_name)}))")
                    on_update.add(name_role)
        if f.get("type") in ("date", "datetime") and setup is None:
            fmt = "yyyy-MM-dd" if f.get("type") == "date" else "yyyy-MM-dd HH:mm:ss"
            setup = QgsEditorWidgetSetup("DateTime", {"allow_null": True, "calendar_popup": True,
                                                      "display_format": fmt, "field_format": fmt,
                                                      "field_iso_format": False})
        if setup is None and name in auto:
            setup = QgsEditorWidgetSetup("TextEdit", {"IsMultiline": False, "UseHtml": False})
        if setup is not None:
            layer.setEditorWidgetSetup(idx, setup)
            summary["widgets"][name] = setup.type()
        if role in exprs:
            layer.setDefaultValueDefinition(idx, QgsDefaultValue(exprs[role], role in on_update))
            summary["defaults"][name] = exprs[role]
        if name in auto:
            readonly.append(idx)
            summary["readonly"].append(name)
        # constraints, with the message in the form's language
        label = alias or name
        checks = []
        if str(f.get("constraint", "")).strip().upper() == "M":
            hard = name not in auto and role != "name"
            layer.setFieldConstraint(idx, constraint("NotNull"), constraint_strength("Hard" if hard else "Soft"))
            summary["hard" if hard else "soft"].append(name)
            checks.append(("必填字段", "mandatory field"))
        expr = None
        if role == "component_id" and group == "component" and ctx.county:
            n = prof.codes["component_id"].length
            expr = f"{_f(name)} IS NULL OR (length({_f(name)}) = {n} AND left({_f(name)}, 6) = {_q(ctx.county)})"
            checks.append((f"{n} 位，以本县代码 {ctx.county} 开头", f"{n} characters starting with county {ctx.county}"))
        elif role == "grid_code":
            n = prof.codes["unit_grid"].length
            expr = f"{_f(name)} IS NULL OR length({_f(name)}) = {n}"
            checks.append((f"{n} 位单元网格代码", f"a {n}-character unit grid code"))
        elif role == "class_code" and group == "component":
            n = prof.codes["class"].length
            expr = f"{_f(name)} IS NULL OR length({_f(name)}) = {n}"
            checks.append((f"{n} 位类别代码", f"a {n}-digit class code"))
        if checks:
            text = "；".join(c[0] for c in checks) if zh else "; ".join(c[1] for c in checks)
            if name in auto:
                text += "（自动填写）" if zh else " (filled automatically)"
            layer.setConstraintExpression(idx, expr or "", f"{label}：{text}" if zh else f"{label}: {text}")
            if expr:
                layer.setFieldConstraint(idx, constraint("Expression"), constraint_strength("Soft" if name in auto else "Hard"))
    # read the form configuration only now: it holds the widget setups made above
    form = layer.editFormConfig()
    for idx in readonly:
        form.setReadOnly(idx, True)
    layer.setEditFormConfig(form)
    return summary


def configure_project_forms(lp, *, options: QgzOptions | None = None) -> dict:
    """Native forms on every layer of a :class:`~qgis_plugin.layers.LoadedProject` with a field table."""
    from surveytools.profiles.light import field_group

    ctx = FormContext.from_loaded(lp)
    out = {}
    for key in list(lp.layer_ids):
        spec = lp.sp.profile.layers.get(key)
        lyr = lp.layer(key)
        if spec is None or lyr is None:
            continue
        try:
            out[key] = configure_native_form(lyr, field_group(key), ctx, project=lp.qgs, options=options,
                                             geometry=spec.geometry or "point")
        except Exception as exc:  # a broken form must not stop the loading
            log(f"form of {key}: {type(exc).__name__}: {exc}", "Warning")
    if ctx.classes is not None:
        ctx.classes.setDisplayExpression('"code" || \' \' || "name"')
    return out


# ----------------------------------------------------------------------------------------------
# the .qgz

def grids_extent(lp):
    """The extent of the unit grids (else of the streets, communities, components) in the
    project's CRS, with a 5 % margin, or ``None``."""
    for key in ("unit_grid", "community", "street", "component_point"):
        lyr = lp.layer(key)
        if lyr is not None and lyr.featureCount() > 0:
            ext = lyr.extent()
            if not ext.isEmpty() or ext.width() > 0:
                ext.scale(1.05)
                return ext, lyr.crs()
    return None


def write_link(qgs, sp, qgz_path: str | None = None) -> None:
    """The plugin's link: custom project entries (scope ``surveytools``)."""
    rel = ""
    if sp.kind == "gpkg":
        base = os.path.dirname(os.path.abspath(qgz_path)) if qgz_path else None
        rel = os.path.relpath(sp.path, base).replace(os.sep, "/") if base else sp.path
    values = {"project": rel, "kind": sp.kind, "profile": sp.profile.id, "county": sp.county, "title": sp.title,
              "connection": sp.connection or "", "schema": sp.schema or ""}
    try:
        from surveytools import __version__
        values["version"] = __version__
    except ImportError:  # pragma: no cover
        pass
    for k, v in values.items():
        qgs.writeEntry(SCOPE, k, str(v))


def survey_link(qgs=None) -> dict | None:
    """The link a ``.qgz`` carries, with ``project`` made absolute; ``None`` when the project is
    not a survey project."""
    qgs = qgs or QgsProject.instance()
    values = {}
    for k in ENTRY_KEYS:
        v, ok = qgs.readEntry(SCOPE, k, "")
        if ok:
            values[k] = v
    if not values.get("kind"):
        return None
    if values["kind"] == "gpkg" and values.get("project"):
        p = values["project"]
        if not os.path.isabs(p):
            p = os.path.normpath(os.path.join(qgs.absolutePath() or os.getcwd(), p))
        values["project"] = p
    return values


def write_qgz(project: str, out: str, *, options: QgzOptions | None = None, feedback=None) -> dict:
    """Write the ``.qgz`` of the survey project (GeoPackage) ``project`` to ``out`` (atomically)
    and return ``{"layers": n, "forms": [keys], "out": path}``."""
    from .layers import LoadedProject
    from .projectdata import SurveyProject

    options = options or QgzOptions()
    out = os.path.abspath(out)
    if not out.lower().endswith((".qgz", ".qgs")):
        raise SurveyError(Text("QGIS 项目文件名应以 .qgz 结尾", "the QGIS project file name must end in .qgz"),
                          code="bad_output", file=out, value=os.path.basename(out))
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        raise SurveyError(Text("输出目录不存在", "the output folder does not exist"), code="not_found", file=folder)
    sp = SurveyProject.open_gpkg(project)
    from .idregistry import ensure_table
    ensure_table(sp)  # the forms' ID expression reads it (the library's own bookkeeping table)
    qgs = QgsProject()
    qgs.setTitle(sp.title)
    if sp.crs:
        crs = QgsCoordinateReferenceSystem(sp.crs)
        if crs.isValid():
            qgs.setCrs(crs)
    from .field_project import configure_field, package_info

    field = package_info(sp)  # a field package's survey.gpkg: a QField project (see field_project.py)
    if field and options.language is None:  # the contractor's phone: Chinese forms unless asked otherwise
        options = QgzOptions(language="zh", plugin_link=options.plugin_link, zoom_to_grids=options.zoom_to_grids)
    lp = LoadedProject(sp, qgs)
    lp.load(autofill=False, options=options)
    field_summary = configure_field(lp, qgs, field, zh=_zh(options)) if field else None
    if options.plugin_link and not field:
        write_link(qgs, sp, out)
    qgs.writeEntryBool("Paths", "/Absolute", False)
    ext = grids_extent(lp) if options.zoom_to_grids else None
    if ext is not None:
        qgs.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(ext[0], ext[1]))
    stem, suffix = os.path.splitext(os.path.basename(out))
    tmp = os.path.join(folder, f".{stem}.{os.getpid()}.tmp{suffix}")
    try:
        qgs.setFileName(tmp)
        if not qgs.write():
            raise SurveyError(Text(f"无法写入 QGIS 项目：{qgs.error()}", f"could not write the QGIS project: {qgs.error()}"),
                              code="write_failed", file=out)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        for extra in (os.path.splitext(tmp)[0] + ".qgd",):
            if os.path.exists(extra):
                os.remove(extra)
    n = len(lp.layer_ids)
    qgs.clear()
    return {"layers": n, "forms": sorted(lp.forms), "out": out, "field": field_summary}


def run_in_qgis(op, kwargs: dict, feedback=None) -> dict:
    """Run a registry operation marked ``in_qgis`` inside QGIS's process (the Processing
    algorithm); the result dictionary the CLI would print with ``--json``."""
    runners = {"project_qgis": run_operation}
    if op.id not in runners:
        raise SurveyError(Text(f"插件没有操作 {op.id} 的 QGIS 实现", f"the plugin has no QGIS implementation of {op.id}"),
                          code="internal")
    return runners[op.id](op, kwargs, feedback)


def run_operation(op, kwargs: dict, feedback=None) -> dict:
    """The in-QGIS side of the ``project qgis`` operation (what the Processing algorithm runs):
    the result dictionary the CLI would print with ``--json``."""
    project, out = kwargs.get("project"), kwargs.get("out")
    if not project:
        raise SurveyError(Text("缺少调查项目库", "the survey project is missing"), code="missing_parameter",
                          field="PROJECT")
    if not out:
        out = os.path.splitext(str(project))[0] + ".qgz"
    res = write_qgz(str(project), str(out), feedback=feedback)
    summary = Text(f"已写入 QGIS 项目 {res['out']}（{res['layers']} 个图层，表单为 QGIS 原生配置）",
                   f"wrote the QGIS project {res['out']} ({res['layers']} layers, forms as native QGIS configuration)")
    return {"ok": True, "summary": summary.as_dict(), "layers": res["layers"], "forms": res["forms"],
            "outputs": {"OUT": res["out"]}, "warnings": []}


__all__ = ["FormContext", "QgzOptions", "configure_native_form", "configure_project_forms", "locate_expression",
           "run_in_qgis", "run_operation", "survey_link", "write_link", "write_qgz"]
