"""The QField side of a field package: what :func:`~qgis_plugin.project_file.write_qgz` adds to
the ``.qgz`` of a package's ``survey.gpkg`` when :class:`~qgis_plugin.project_file.QgzOptions`
carries ``field`` settings (``surveytools project qgis PKG/survey.gpkg --field``, run by
``surveytools field package``).

Only configuration QField understands, no Python (the widgets are listed in :data:`QFIELD_WIDGETS`
and in docs/field.md):

* every editable layer (components point / line / polygon): the ``uuid`` field is a UUID generator
  with the default ``uuid()`` (the key a return matches on), read-only; ``surveyor`` defaults to the
  project variable ``@surveyor``; ``survey_time`` to ``now()`` (kept up to date on every edit);
  ``gnss_hacc``, ``gnss_vacc``, ``gnss_quality``, ``gnss_sats`` to ``@position_horizontal_accuracy``,
  ``@position_vertical_accuracy``, ``@position_quality_description``, ``@position_satellites_used``
  (the phone's fix when the feature is created); the component ID has no default (IDs are issued
  when the package comes back) and is read-only;
* the ``photos`` table: one relation per component layer (``photos.feature_uuid`` →
  ``uuid``), so the component form lists its photos (1:n) and adds new ones; ``path`` is an
  attachment widget (camera or file) storing files relative to the project, under ``DCIM/``;
  ``photo_id`` a UUID generator; ``taken`` defaults to ``now()``;
* every other layer (grids, streets, communities, events, background, dictionaries) is read-only;
* project variables ``surveyor``, ``survey_package``, ``survey_area``.
"""
from __future__ import annotations

from qgis.core import (
    QgsDefaultValue,
    QgsEditorWidgetSetup,
    QgsExpressionContextUtils,
    QgsRelation,
    QgsVectorLayer,
)

from .compat import constraint, constraint_strength, enum_value, log

#: form widgets QField supports (https://docs.qfield.org/how-to/project-setup/attributes-form/);
#: a package's forms use no other
QFIELD_WIDGETS = {"TextEdit", "ValueMap", "ValueRelation", "RelationReference", "DateTime", "CheckBox", "Range",
                  "ExternalResource", "UuidGenerator", "Hidden", "Classification", "UniqueValues", ""}
EDITABLE = ("component_point", "component_line", "component_polygon")
PHOTOS = "photos"
PACKAGE_TABLE = "field_package"
GNSS_DEFAULTS = {
    "gnss_hacc": "round(@position_horizontal_accuracy, 3)",
    "gnss_vacc": "round(@position_vertical_accuracy, 3)",
    "gnss_quality": "@position_quality_description",
    "gnss_sats": "@position_satellites_used",
}
ALIASES = {
    "uuid": ("要素 UUID", "Feature UUID"), "surveyor": ("调查员", "Surveyor"), "survey_time": ("调查时间", "Survey time"),
    "gnss_hacc": ("水平精度（米）", "Horizontal accuracy (m)"), "gnss_vacc": ("垂直精度（米）", "Vertical accuracy (m)"),
    "gnss_quality": ("定位质量", "Fix quality"), "gnss_sats": ("卫星数", "Satellites"),
    "photo_id": ("照片标识", "Photo ID"), "feature_uuid": ("所属要素", "Feature"), "path": ("照片", "Photo"),
    "taken": ("拍摄时间", "Taken"), "note": ("说明", "Note"), "layer": ("图层", "Layer"),
}


def package_info(sp) -> dict | None:
    """The ``field_package`` table of a package's survey.gpkg as a dictionary (``None`` for an
    ordinary survey project)."""
    import sqlite3

    if getattr(sp, "kind", None) != "gpkg" or not sp.path:
        return None
    try:
        con = sqlite3.connect(f"file:{sp.path}?mode=ro", uri=True)
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (PACKAGE_TABLE,)).fetchone():
                return None
            info = dict(con.execute(f'SELECT key, value FROM "{PACKAGE_TABLE}"').fetchall())
        finally:
            con.close()
    except sqlite3.Error:
        return None
    info["area"] = info.get("area_code", "")
    return info


def _relative_sources(qgs, gpkg: str) -> None:
    """No absolute path may stay in a package's project (the folder moves to the phone): the
    plugin's project property is dropped and relation widgets name their table relative to the
    project (QGIS already writes the layer sources relative)."""
    import os

    from .projectdata import PROP_PROJECT

    absolute = os.path.abspath(gpkg)
    rel = "./" + os.path.basename(absolute)
    nodes = [qgs.layerTreeRoot()]
    while nodes:
        node = nodes.pop()
        node.removeCustomProperty(PROP_PROJECT)
        nodes.extend(node.children())
    for lyr in qgs.mapLayers().values():
        lyr.removeCustomProperty(PROP_PROJECT)
        if not isinstance(lyr, QgsVectorLayer):
            continue
        for i in range(lyr.fields().count()):
            setup = lyr.editorWidgetSetup(i)
            cfg = dict(setup.config())
            hits = {k: v for k, v in cfg.items() if isinstance(v, str) and v.startswith(absolute)}
            if hits:  # ReferencedLayerDataSource (relation reference), LayerSource (value relation)
                cfg.update({k: rel + v[len(absolute):] for k, v in hits.items()})
                lyr.setEditorWidgetSetup(i, QgsEditorWidgetSetup(setup.type(), cfg))


def _idx(layer, name: str) -> int:
    return layer.fields().indexOf(name)


def _setup(layer, name: str, widget: str, config: dict | None = None, *, default: str | None = None,
           on_update: bool = False, readonly: bool = False, zh: bool = True) -> int:
    i = _idx(layer, name)
    if i < 0:
        return i
    layer.setEditorWidgetSetup(i, QgsEditorWidgetSetup(widget, config or {}))
    if default is not None:
        layer.setDefaultValueDefinition(i, QgsDefaultValue(default, on_update))
    if name in ALIASES:
        layer.setFieldAlias(i, ALIASES[name][0 if zh else 1])
    if readonly:
        form = layer.editFormConfig()
        form.setReadOnly(i, True)
        layer.setEditFormConfig(form)
    return i


def _datetime(fmt="yyyy-MM-dd HH:mm:ss") -> dict:
    return {"allow_null": True, "calendar_popup": True, "display_format": fmt, "field_format": fmt,
            "field_iso_format": False}


def configure_field(lp, qgs, field: dict, *, zh: bool = True) -> dict:
    """Make the loaded package ``lp`` (a :class:`~qgis_plugin.layers.LoadedProject` of a
    package's survey.gpkg) a QField project; returns a summary for tests and reports."""
    from .projectdata import PROP_KEY

    if field.get("mode") == "check":  # an acceptance check package: check_project.py
        from .check_project import configure_check

        return configure_check(lp, qgs, field, zh=zh)
    prof = lp.sp.profile
    summary = {"editable": [], "relations": [], "readonly": []}
    for var, key in (("surveyor", "surveyor"), ("survey_package", "package_id"), ("survey_area", "area")):
        QgsExpressionContextUtils.setProjectVariable(qgs, var, str(field.get(key) or ""))
    for key in EDITABLE:
        lyr = lp.layer(key)
        if lyr is None:
            continue
        i = _setup(lyr, "uuid", "UuidGenerator", {}, default="uuid()", readonly=True, zh=zh)
        if i >= 0:
            lyr.setFieldConstraint(i, constraint("NotNull"), constraint_strength("Hard"))
            lyr.setFieldConstraint(i, constraint("Unique"), constraint_strength("Hard"))
        _setup(lyr, "surveyor", "TextEdit", {"IsMultiline": False, "UseHtml": False}, default="@surveyor", zh=zh)
        _setup(lyr, "survey_time", "DateTime", _datetime(), default="now()", on_update=True, zh=zh)
        for name, expr in GNSS_DEFAULTS.items():
            _setup(lyr, name, "TextEdit", {"IsMultiline": False, "UseHtml": False}, default=expr, readonly=True, zh=zh)
        idf = prof.field("component", "component_id")
        j = _idx(lyr, idf) if idf else -1
        if j >= 0:  # IDs are issued when the package comes back
            lyr.setDefaultValueDefinition(j, QgsDefaultValue())
            form = lyr.editFormConfig()
            form.setReadOnly(j, True)
            lyr.setEditFormConfig(form)
            lyr.removeFieldConstraint(j, constraint("NotNull"))
        summary["editable"].append(key)
    # the photo table and its relations
    gpkg = lp.sp.path
    photos = QgsVectorLayer(f"{gpkg}|layername={PHOTOS}", "照片" if zh else "Photos", "ogr")
    if photos.isValid():
        photos.setCustomProperty(PROP_KEY, PHOTOS)
        qgs.addMapLayer(photos, False)
        group = lp.group.findGroup("dictionaries") if lp.group is not None else None
        (group or lp.group or qgs.layerTreeRoot()).addLayer(photos)
        _setup(photos, "photo_id", "UuidGenerator", {}, default="uuid()", readonly=True, zh=zh)
        _setup(photos, "path", "ExternalResource", {
            "DocumentViewer": 1, "DocumentViewerHeight": 0, "DocumentViewerWidth": 0, "FileWidget": True,
            "FileWidgetButton": True, "FileWidgetFilter": "", "RelativeStorage": 1, "StorageMode": 0,
            "UseLink": False, "FullUrl": False, "PropertyCollection": {
                "name": None, "type": "collection", "properties": {"rootPath": {
                    "active": True, "type": 3, "expression": "@project_home || '/DCIM'"}}}}, zh=zh)
        _setup(photos, "taken", "DateTime", _datetime(), default="now()", zh=zh)
        _setup(photos, "note", "TextEdit", {"IsMultiline": True, "UseHtml": False}, zh=zh)
        _setup(photos, "layer", "Hidden", {}, zh=zh)
        for key in summary["editable"]:
            parent = lp.layer(key)
            try:
                from qgis.core import QgsRelationContext
                rel = QgsRelation(QgsRelationContext(qgs))
            except ImportError:  # pragma: no cover - QGIS < 3.12
                rel = QgsRelation()
            rel.setId(f"photos_{key}")
            rel.setName(("照片：" if zh else "Photos: ") + parent.name())
            rel.setReferencingLayer(photos.id())
            rel.setReferencedLayer(parent.id())
            rel.addFieldPair("feature_uuid", "uuid")
            rel.setStrength(enum_value("Qgis.RelationshipStrength.Composition", "QgsRelation.RelationStrength.Composition"))
            if rel.isValid():
                qgs.relationManager().addRelation(rel)
                summary["relations"].append(rel.id())
            else:
                log(f"photo relation of {key}: {rel.validationError() if hasattr(rel, 'validationError') else ''}", "Warning")
        # the child form: the parent picked through the first relation (read-only)
        if summary["relations"]:
            _setup(photos, "feature_uuid", "RelationReference", {
                "Relation": summary["relations"][0], "AllowNULL": False, "ReadOnly": True, "ShowForm": False,
                "ShowOpenFormButton": False, "MapIdentification": False, "OrderByValue": False,
                "AllowAddFeatures": False}, zh=zh)
        summary["photos"] = photos.id()
    else:
        log(f"{gpkg}: no {PHOTOS} table", "Warning")
    _relative_sources(qgs, gpkg)
    editable_ids = {lp.layer(k).id() for k in summary["editable"]} | ({summary["photos"]} if "photos" in summary else set())
    for lyr in qgs.mapLayers().values():
        if lyr.id() not in editable_ids and isinstance(lyr, QgsVectorLayer):
            lyr.setReadOnly(True)
            summary["readonly"].append(lyr.name())
    # QField: the project's home is the package folder (relative paths), its attachments under DCIM/
    qgs.setPresetHomePath("")
    qgs.writeEntry("QField", "attachmentDir", "DCIM")
    return summary
