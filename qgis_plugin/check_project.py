"""The QField side of an acceptance check package (``acceptance plan`` writes the field package of
the sampled grids in the ``check`` mode; its ``survey.qgz`` is written by
:func:`~qgis_plugin.project_file.write_qgz`, which calls :func:`configure_check` for it).

What a checker does with QField, configured with native QGIS settings only (no Python; the widgets
are among :data:`~qgis_plugin.field_project.QFIELD_WIDGETS`):

* component layers (point / line / polygon): the delivered geometry is locked (QField's geometry,
  addition and deletion locks) and every delivered field is read-only, without defaults or
  constraints (the check never changes the delivery); the form adds 检查结果 (value map 正确 /
  属性错误 / 位置错误 / 多余), 偏差米 (a range ≥ 0, constrained), 备注, 检查员 (``@surveyor``) and
  检查时间 (``now()``), kept up to date on every edit;
* ``check_points`` (实测位置): a child of the component (relation ``feature_uuid`` → ``uuid`` from
  each component layer), added from the component's form at the GNSS position or moved there;
  the offset is computed when the package comes back (``acceptance record``);
* ``check_missing`` (遗漏部件): points of components found in the field but missing from the
  delivery, 类别代码 a value relation on the class dictionary (code → name), 备注;
* every other layer is read-only; no absolute path stays in the project.
"""
from __future__ import annotations

from qgis.core import (
    QgsDefaultValue,
    QgsEditorWidgetSetup,
    QgsExpressionContextUtils,
    QgsMarkerSymbol,
    QgsRelation,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)

from .compat import constraint, constraint_strength, enum_value, log

EDITABLE = ("component_point", "component_line", "component_polygon")
RESULTS = ("正确", "属性错误", "位置错误", "多余")
RESULTS_EN = {"正确": "correct", "属性错误": "attribute error", "位置错误": "position error", "多余": "superfluous"}
CHECK_POINTS = "check_points"
CHECK_MISSING = "check_missing"
CLASS_TABLE = "dict_component_classes"
#: fields of a component a checker fills in (everything else is the delivery: read-only)
CHECK_FIELDS = ("check_result", "offset_m", "check_note", "checker", "check_time")
#: the locks QField reads from a layer's custom properties (QFieldSync names them)
QFIELD_LOCKS = ("QFieldSync/is_geometry_locked", "QFieldSync/is_geometry_editing_locked",
                "QFieldSync/is_feature_addition_locked", "QFieldSync/is_feature_deletion_locked")
ALIASES = {
    "uuid": ("要素 UUID", "Feature UUID"), "item_no": ("序号", "Item number"), "check_result": ("检查结果", "Check result"),
    "offset_m": ("偏差米", "Offset (m)"), "check_note": ("备注", "Note"), "checker": ("检查员", "Checker"),
    "check_time": ("检查时间", "Check time"), "feature_uuid": ("所检部件", "Checked component"),
    "gnss_hacc": ("水平精度（米）", "Horizontal accuracy (m)"), "note": ("备注", "Note"),
    "class_code": ("类别代码", "Class code"),
}
PARENT_TITLES = {"component_point": ("部件（点）", "components (points)"), "component_line": ("部件（线）", "components (lines)"),
                 "component_polygon": ("部件（面）", "components (polygons)")}
TITLES = {CHECK_POINTS: ("实测位置", "Measured positions"), CHECK_MISSING: ("遗漏部件", "Missing components")}
DATETIME = {"allow_null": True, "calendar_popup": True, "display_format": "yyyy-MM-dd HH:mm:ss",
            "field_format": "yyyy-MM-dd HH:mm:ss", "field_iso_format": False}
TEXT = {"IsMultiline": False, "UseHtml": False}
NOTE = {"IsMultiline": True, "UseHtml": False}


def _setup(layer, name: str, widget: str, config: dict | None = None, *, default: str | None = None,
           on_update: bool = False, readonly: bool = False, zh: bool = True) -> int:
    i = layer.fields().indexOf(name)
    if i < 0:
        return i
    layer.setEditorWidgetSetup(i, QgsEditorWidgetSetup(widget, config or {}))
    if default is not None:
        layer.setDefaultValueDefinition(i, QgsDefaultValue(default, on_update))
    if name in ALIASES:
        layer.setFieldAlias(i, ALIASES[name][0 if zh else 1])
    form = layer.editFormConfig()
    form.setReadOnly(i, readonly)
    layer.setEditFormConfig(form)
    return i


def _hard(layer, i: int, names=("NotNull", "Unique")) -> None:
    for n in names:
        layer.setFieldConstraint(i, constraint(n), constraint_strength("Hard"))


def _delivery_read_only(layer) -> None:
    """Every delivered field read-only, without default value or constraint: a form saved with
    a check result must not change, nor be refused for, what the contractor delivered."""
    form = layer.editFormConfig()
    for i in range(layer.fields().count()):
        name = layer.fields().at(i).name()
        if name in CHECK_FIELDS:
            continue
        layer.setDefaultValueDefinition(i, QgsDefaultValue())
        for c in ("NotNull", "Unique", "Expression"):
            layer.removeFieldConstraint(i, constraint(c))
        layer.setConstraintExpression(i, "")
        form.setReadOnly(i, True)
    layer.setEditFormConfig(form)


def _symbol(layer, shape: str, color: str, size: str, outline: str = "35,35,35", width: str = "0.2") -> None:
    layer.setRenderer(QgsSingleSymbolRenderer(QgsMarkerSymbol.createSimple(
        {"name": shape, "color": color, "outline_color": outline, "outline_width": width, "size": size})))


def _add_layer(lp, qgs, table: str, zh: bool):
    from .projectdata import PROP_KEY, PROP_THEME

    lyr = QgsVectorLayer(f"{lp.sp.path}|layername={table}", TITLES[table][0 if zh else 1], "ogr")
    if not lyr.isValid():
        log(f"{lp.sp.path}: no {table} layer", "Warning")
        return None
    lyr.setCustomProperty(PROP_KEY, table)
    qgs.addMapLayer(lyr, False)
    parent = lp.group or qgs.layerTreeRoot()
    group = next((g for g in parent.findGroups() if g.customProperty(PROP_THEME) == "components"), parent)
    group.insertLayer(0, lyr)
    return lyr


def _relation(qgs, child, parent, rid: str, name: str):
    try:
        from qgis.core import QgsRelationContext
        rel = QgsRelation(QgsRelationContext(qgs))
    except ImportError:  # pragma: no cover - QGIS < 3.12
        rel = QgsRelation()
    rel.setId(rid)
    rel.setName(name)
    rel.setReferencingLayer(child.id())
    rel.setReferencedLayer(parent.id())
    rel.addFieldPair("feature_uuid", "uuid")
    rel.setStrength(enum_value("Qgis.RelationshipStrength.Composition", "QgsRelation.RelationStrength.Composition"))
    if not rel.isValid():
        log(f"check relation {rid}: {rel.validationError() if hasattr(rel, 'validationError') else ''}", "Warning")
        return None
    qgs.relationManager().addRelation(rel)
    return rel


def configure_check(lp, qgs, info: dict, *, zh: bool = True) -> dict:
    """Make the loaded check package ``lp`` a QField check project; returns a summary."""
    from .field_project import _relative_sources

    summary = {"mode": "check", "editable": [], "relations": [], "readonly": [], "locked": []}
    for var, key in (("surveyor", "surveyor"), ("survey_package", "package_id"), ("survey_area", "area"),
                     ("acceptance_plan", "plan_id")):
        QgsExpressionContextUtils.setProjectVariable(qgs, var, str(info.get(key) or ""))
    value_map = {"map": [{(r if zh else f"{r} {RESULTS_EN[r]}"): r} for r in RESULTS]}
    for key in EDITABLE:
        lyr = lp.layer(key)
        if lyr is None:
            continue
        _delivery_read_only(lyr)
        i = _setup(lyr, "uuid", "UuidGenerator", {}, readonly=True, zh=zh)
        if i >= 0:
            _hard(lyr, i)
        _setup(lyr, "item_no", "TextEdit", TEXT, readonly=True, zh=zh)
        i = _setup(lyr, "check_result", "ValueMap", value_map, zh=zh)
        if i >= 0:
            lyr.setConstraintExpression(i, "\"check_result\" IS NULL OR \"check_result\" IN ("
                                        + ", ".join(f"'{r}'" for r in RESULTS) + ")",
                                        "检查结果应从列表中选择" if zh else "choose the result from the list")
            lyr.setFieldConstraint(i, constraint("Expression"), constraint_strength("Hard"))
        i = _setup(lyr, "offset_m", "Range", {"AllowNull": True, "Min": 0.0, "Max": 100000.0, "Step": 0.01,
                                              "Precision": 2, "Style": "SpinBox", "Suffix": " m"}, zh=zh)
        if i >= 0:
            lyr.setConstraintExpression(
                i, "\"offset_m\" IS NULL OR (\"offset_m\" >= 0 AND coalesce(\"check_result\", '') NOT IN ('', '多余'))",
                "偏差应不小于 0，且只用于有检查结果、现场存在的部件" if zh else
                "the offset is ≥ 0 and only for a component with a result that is there")
            lyr.setFieldConstraint(i, constraint("Expression"), constraint_strength("Hard"))
        _setup(lyr, "check_note", "TextEdit", NOTE, zh=zh)
        _setup(lyr, "checker", "TextEdit", TEXT, default="@surveyor", on_update=True, zh=zh)
        _setup(lyr, "check_time", "DateTime", DATETIME, default="now()", on_update=True, zh=zh)
        for prop in QFIELD_LOCKS:
            lyr.setCustomProperty(prop, True)
        summary["editable"].append(key)
        summary["locked"].append(key)
    # measured positions: children of the components
    pts = _add_layer(lp, qgs, CHECK_POINTS, zh)
    if pts is not None:
        _symbol(pts, "cross2", "220,30,30", "4", outline="220,30,30", width="0.8")  # a cross is drawn by its outline
        i = _setup(pts, "uuid", "UuidGenerator", {}, default="uuid()", readonly=True, zh=zh)
        _hard(pts, i)
        _setup(pts, "checker", "TextEdit", TEXT, default="@surveyor", on_update=True, zh=zh)
        _setup(pts, "check_time", "DateTime", DATETIME, default="now()", on_update=True, zh=zh)
        _setup(pts, "gnss_hacc", "TextEdit", TEXT, default="round(@position_horizontal_accuracy, 3)", on_update=True,
               readonly=True, zh=zh)
        _setup(pts, "note", "TextEdit", NOTE, zh=zh)
        for key in summary["editable"]:
            parent = lp.layer(key)
            rel = _relation(qgs, pts, parent, f"check_points_{key}", ("实测位置：" if zh else "Measured: ")
                            + PARENT_TITLES[key][0 if zh else 1])
            if rel is not None:
                summary["relations"].append(rel.id())
        if summary["relations"]:
            i = _setup(pts, "feature_uuid", "RelationReference", {
                "Relation": summary["relations"][0], "AllowNULL": False, "ReadOnly": True, "ShowForm": False,
                "ShowOpenFormButton": False, "MapIdentification": False, "OrderByValue": False,
                "AllowAddFeatures": False}, zh=zh)
            pts.setFieldConstraint(i, constraint("NotNull"), constraint_strength("Hard"))
        summary["check_points"] = pts.id()
    # components missing from the delivery
    miss = _add_layer(lp, qgs, CHECK_MISSING, zh)
    if miss is not None:
        _symbol(miss, "star", "255,140,0", "5")
        i = _setup(miss, "uuid", "UuidGenerator", {}, default="uuid()", readonly=True, zh=zh)
        _hard(miss, i)
        classes = lp.layer(CLASS_TABLE)
        if classes is not None:
            i = _setup(miss, "class_code", "ValueRelation", {
                "Layer": classes.id(), "LayerName": classes.name(), "LayerSource": classes.source(),
                "LayerProviderName": classes.providerType(), "Key": "code", "Value": "name", "AllowNull": False,
                "AllowMulti": False, "OrderByValue": True, "UseCompleter": True, "FilterExpression": "",
                "NofColumns": 1}, zh=zh)
            _hard(miss, i, ("NotNull",))
        _setup(miss, "note", "TextEdit", NOTE, zh=zh)
        _setup(miss, "checker", "TextEdit", TEXT, default="@surveyor", on_update=True, zh=zh)
        _setup(miss, "check_time", "DateTime", DATETIME, default="now()", on_update=True, zh=zh)
        _setup(miss, "gnss_hacc", "TextEdit", TEXT, default="round(@position_horizontal_accuracy, 3)", on_update=True,
               readonly=True, zh=zh)
        summary["check_missing"] = miss.id()
    _relative_sources(qgs, lp.sp.path)
    editable_ids = {lp.layer(k).id() for k in summary["editable"]} | {
        summary[k] for k in ("check_points", "check_missing") if k in summary}
    for lyr in qgs.mapLayers().values():
        if lyr.id() not in editable_ids and isinstance(lyr, QgsVectorLayer):
            lyr.setReadOnly(True)
            summary["readonly"].append(lyr.name())
    qgs.setPresetHomePath("")
    return summary
