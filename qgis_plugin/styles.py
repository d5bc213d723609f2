"""Layer styles generated from the profile.

* Grids, streets, communities, responsibility areas, events and geocoding layers reuse the QML the
  export writes into a release (:mod:`surveytools.export.styles`, one definition for both), loaded
  with ``importNamedStyle``; a plain outline is used if that module or jinja2 is unavailable.
* Component layers are styled here with the QGIS API because the map needs more than the release's
  colours: every major class gets its own colour **and**, for points, its own marker shape (so two
  classes stay distinguishable in black-and-white print and for colour-blind users), and the minor
  code is labelled at large scales (1:1 – 1:2,000).
* Validation error layers: rule-based (open errors red, open warnings orange, accepted / fixed /
  ignored rows grey).
"""
from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsSimpleMarkerSymbolLayer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtXml import QDomDocument

from .compat import is_chinese, label_placement, layer_geometry_name, log, marker_shape, tr

#: point marker shapes, one per major class (cycled); distinguishable without colour
SHAPES = ("Circle", "Square", "Diamond", "Triangle", "Pentagon", "Hexagon", "Star", "CrossFill",
          "EquilateralTriangle", "ArrowHeadFilled", "SemiCircle", "HalfSquare", "Octagon", "Cross2")
#: the release styles' major-class palette (kept in one place: surveytools.export.styles.PALETTE)
FALLBACK_PALETTE = [(31, 120, 180), (227, 26, 28), (51, 160, 44), (255, 127, 0), (106, 61, 154), (177, 89, 40),
                    (166, 206, 227), (251, 154, 153), (178, 223, 138), (253, 191, 111), (202, 178, 214),
                    (255, 255, 153)]
#: label scale limits (scale denominators): minor class codes, grid codes
MINOR_LABEL_MAX_SCALE = 2000
GRID_LABEL_MAX_SCALE = 10000
#: export style id per profile layer key
EXPORT_STYLE = {"street": "streets", "community": "communities", "unit_grid": "unit_grids",
                "unit_grid_history": "unit_grids", "work_grid": "work_grids",
                "responsibility_grid": "responsibility_grids", "responsibility_area": "responsibility_areas",
                "event": "events"}


def palette():
    try:
        from surveytools.export.styles import PALETTE
        return PALETTE
    except Exception:  # pragma: no cover - export module missing in a trimmed install
        return FALLBACK_PALETTE


def majors(profile) -> list:
    """``[(major_code, major_name)]`` of the profile's component classes, in code order."""
    return [(major, name) for major, name, _ in profile.class_tree()]


def _marker(rgb, shape: str, size: float = 2.6) -> QgsMarkerSymbol:
    sym = QgsMarkerSymbol()
    sl = QgsSimpleMarkerSymbolLayer()
    try:
        sl.setShape(marker_shape(shape))
    except AttributeError:  # shape missing in this QGIS
        sl.setShape(marker_shape("Circle"))
    sl.setColor(QColor(*rgb))
    sl.setStrokeColor(QColor(40, 40, 40))
    sl.setStrokeWidth(0.2)
    sl.setSize(size)
    sym.changeSymbolLayer(0, sl)
    return sym


def _symbol(geometry: str, rgb, shape: str = "Circle"):
    if geometry == "point":
        return _marker(rgb, shape)
    if geometry == "line":
        return QgsLineSymbol.createSimple({"line_color": "%d,%d,%d,255" % rgb, "line_width": "0.7"})
    return QgsFillSymbol.createSimple({"color": "%d,%d,%d,90" % rgb, "outline_color": "%d,%d,%d,255" % rgb,
                                       "outline_width": "0.4"})


def _text_format(size: float, rgb=(40, 40, 40)) -> QgsTextFormat:
    fmt = QgsTextFormat()
    fmt.setFont(QFont("Noto Sans CJK SC"))
    fmt.setSize(size)
    fmt.setColor(QColor(*rgb))
    buf = QgsTextBufferSettings()
    buf.setEnabled(True)
    buf.setSize(0.7)
    buf.setColor(QColor(255, 255, 255))
    fmt.setBuffer(buf)
    return fmt


def _labels(layer, expression: str, max_scale: int, size: float = 7.5, placement: str = "OverPoint"):
    """Label ``expression`` at scales larger than 1:``max_scale``."""
    s = QgsPalLayerSettings()
    s.fieldName = expression
    s.isExpression = True
    s.setFormat(_text_format(size))
    s.placement = label_placement(placement)
    if placement in ("AroundPoint", "OrderedPositionsAroundPoint"):
        s.dist = 1.0  # mm beside the marker, never over it
    s.scaleVisibility = True
    s.minimumScale = max_scale  # most zoomed-out scale at which labels show
    s.maximumScale = 1
    layer.setLabeling(QgsVectorLayerSimpleLabeling(s))
    layer.setLabelsEnabled(True)


def component_style(layer, profile) -> None:
    """Categorised by major class (colour; marker shape for points) with the minor code labelled
    at large scales."""
    geometry = layer_geometry_name(layer)
    cf = profile.field("component", "class_code")
    spec = profile.codes["class"]
    major_len, minor_len = spec.part_length("major"), spec.part_length("minor")
    cats = []
    pal = palette()
    for i, (code, name) in enumerate(majors(profile)):
        sym = _symbol(geometry, tuple(pal[i % len(pal)]), SHAPES[i % len(SHAPES)])
        cats.append(QgsRendererCategory(code, sym, f"{code} {name}"))
    cats.append(QgsRendererCategory(None, _symbol(geometry, (150, 150, 150), "Cross2"), tr("other / no class")))
    layer.setRenderer(QgsCategorizedSymbolRenderer(f'left("{cf}", {major_len})', cats))
    placement = {"point": "OrderedPositionsAroundPoint", "line": "Line",
                 "polygon": "Horizontal"}.get(geometry, "OrderedPositionsAroundPoint")
    _labels(layer, f'substr("{cf}", {major_len + 1}, {minor_len})', MINOR_LABEL_MAX_SCALE, 6.5, placement)


def error_style(layer) -> None:
    """Rule-based by status and severity (the classes of :data:`surveytools.export.styles.ERROR_CLASSES`,
    the same as the ``layer_styles`` the library writes): report-only rows are switched off."""
    from surveytools.export.styles import ERROR_CLASSES

    geometry = layer_geometry_name(layer)
    root = QgsRuleBasedRenderer.Rule(None)
    for label, expr, rgb, visible in ERROR_CLASSES:
        strong = visible and rgb[0] > 200
        if geometry == "point":
            sym = _marker(rgb, "Cross2" if strong else "Circle", 4.0 if strong else 2.4)
            sym.symbolLayer(0).setStrokeColor(QColor(*rgb))
            sym.symbolLayer(0).setStrokeWidth(0.6 if strong else 0.2)
        elif geometry == "line":
            sym = QgsLineSymbol.createSimple({"line_color": "%d,%d,%d,255" % rgb,
                                              "line_width": "1.2" if strong else "0.6"})
        else:
            sym = QgsFillSymbol.createSimple({"color": "%d,%d,%d,%d" % (*rgb, 60 if strong else 30),
                                              "outline_color": "%d,%d,%d,255" % rgb,
                                              "outline_width": "0.8" if strong else "0.3"})
        zh, _, en = label.partition(" / ")
        rule = QgsRuleBasedRenderer.Rule(sym, 0, 0, expr, zh if is_chinese() else (en or zh))
        rule.setActive(visible)
        root.appendChild(rule)
    layer.setRenderer(QgsRuleBasedRenderer(root))


def export_qml(key: str, layer, profile) -> str | None:
    """The release's QML for a profile layer key (or ``None``)."""
    from surveytools.profiles.light import field_group

    style = EXPORT_STYLE.get(key)
    spec = profile.layers.get(key)
    if style is None and key.startswith("geocode_") and spec is not None:
        style = "geocode_point" if (spec.geometry or "").endswith("point") else "geocode_other"
    if style is None or spec is None:
        return None
    from surveytools.export.styles import render_qml, style_params

    group = field_group(key)
    params = style_params(style, spec.geometry or "polygon", profile, lambda role: profile.field(group, role))
    if params.get("label") and key in ("unit_grid", "unit_grid_history", "work_grid", "responsibility_grid"):
        # grid codes at 1:1 – 1:GRID_LABEL_MAX_SCALE
        params["label"]["max_scale"] = GRID_LABEL_MAX_SCALE if key != "work_grid" else 20000
    return render_qml(params)


def _fix_label_scales(layer, key: str) -> None:
    """Labels of grid codes at 1:1 – 1:GRID_LABEL_MAX_SCALE (set through the API: the QML's
    scaleMin/scaleMax attributes are easy to swap, and swapped they hide the labels at every scale)."""
    labeling = layer.labeling()
    if labeling is None or not hasattr(labeling, "settings"):
        return
    s = QgsPalLayerSettings(labeling.settings())
    limit = max(s.minimumScale, s.maximumScale)
    if key in ("unit_grid", "unit_grid_history", "responsibility_grid"):
        limit = GRID_LABEL_MAX_SCALE
    if not s.scaleVisibility or limit <= 1:
        return
    s.minimumScale = limit  # most zoomed-out scale showing labels
    s.maximumScale = 1
    layer.setLabeling(QgsVectorLayerSimpleLabeling(s))


def apply_style(layer, key: str, profile) -> str:
    """Style a project layer; returns how (``components``, ``errors``, ``export``, ``plain``)."""
    if key.startswith("component_"):
        component_style(layer, profile)
        return "components"
    if key.startswith("validation_errors_"):
        error_style(layer)
        return "errors"
    try:
        qml = export_qml(key, layer, profile)
    except Exception as exc:  # jinja2 missing, template error: keep QGIS's default style
        log(f"style of {key}: {type(exc).__name__}: {exc}", "Warning")
        qml = None
    if qml:
        doc = QDomDocument()
        doc.setContent(qml)
        ok, err = layer.importNamedStyle(doc)
        if ok:
            _fix_label_scales(layer, key)
            return "export"
        log(f"style of {key}: {err}", "Warning")
    return "plain"
