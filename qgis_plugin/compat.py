"""Small helpers shared by the plugin: translation, QGIS locale, Qt5/Qt6 enum compatibility.

Only ``qgis.PyQt`` is imported (never PyQt5/PyQt6 directly) so the plugin loads in QGIS 3 (Qt5)
and QGIS 4 (Qt6).
"""
from __future__ import annotations

import os

from qgis import core as qgis_core
from qgis.core import Qgis, QgsMessageLog, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale

#: Translation context of every plugin-side string (see i18n/surveytools_zh_CN.ts).
TR_CONTEXT = "SurveyTools"
#: Tag used in the QGIS message log.
LOG_TAG = "SurveyTools"

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
ICON_PATH = os.path.join(PLUGIN_DIR, "icon.svg")


def tr(text: str) -> str:
    """Translate a plugin-side string (English source, Chinese in the .qm)."""
    return QCoreApplication.translate(TR_CONTEXT, text)


def qgis_locale() -> str:
    """QGIS's UI locale, e.g. ``zh_CN`` or ``en_US``."""
    loc = ""
    try:
        loc = QgsSettings().value("locale/userLocale", "") or ""
    except Exception:  # pragma: no cover - settings unavailable
        loc = ""
    if not isinstance(loc, str) or not loc:
        loc = QLocale().name()
    return str(loc)


#: Simplified Chinese locales (QGIS spells them zh_CN, zh-Hans, zh_Hans_CN, zh-CN, zh_SG …);
#: Traditional (zh_TW, zh_HK, zh-Hant) is not Simplified and falls back to English.
_TRADITIONAL = ("tw", "hk", "mo", "hant")


def simplified_chinese(locale: str) -> bool:
    """Whether a locale name means Simplified Chinese (which the plugin's zh_CN translation serves)."""
    parts = [p for p in str(locale or "").replace("-", "_").replace(".", "_").lower().split("_") if p]
    return bool(parts) and parts[0] == "zh" and not any(p in _TRADITIONAL for p in parts[1:])


def translation_locale(locale: str | None = None) -> str:
    """The plugin translation for a QGIS locale: ``zh_CN`` for every Simplified Chinese spelling,
    else the locale itself (``en_US`` …)."""
    locale = qgis_locale() if locale is None else locale
    return "zh_CN" if simplified_chinese(locale) else str(locale)


def is_chinese() -> bool:
    return simplified_chinese(qgis_locale())


def pick(text) -> str:
    """The Chinese or English half of a ``surveytools.i18n.Text`` for the QGIS locale."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.zh if is_chinese() else text.en


def enum_value(*paths: str):
    """The first of several dotted enum paths that exists in this QGIS.

    QGIS 4 / Qt6 (and QGIS >= 3.36) moved many enums into ``Qgis`` (``Qgis.ProcessingSourceType``);
    QGIS 3.22 has scoped enums on the classes (``QgsProcessing.SourceType.TypeVector``).  List
    the newest spelling first::

        enum_value("Qgis.ProcessingNumberParameterType.Integer",
                   "QgsProcessingParameterNumber.Type.Integer")
    """
    for path in paths:
        obj = qgis_core
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise AttributeError(f"none of these enums exists in this QGIS: {', '.join(paths)}")


def level(name: str):
    """``Qgis.MessageLevel`` member by name (``Info``, ``Warning``, ``Critical``, ``Success``)."""
    return enum_value(f"Qgis.MessageLevel.{name}", f"Qgis.{name}")


def log(message: str, level_name: str = "Info") -> None:
    QgsMessageLog.logMessage(message, LOG_TAG, level(level_name))


def geometry_type(name: str):
    """Geometry type (``Point``, ``Line``, ``Polygon``, ``Null``) as QGIS >= 3.30 / 4 names it
    (``Qgis.GeometryType.Point``), else the QGIS 3 ``QgsWkbTypes.GeometryType.PointGeometry``."""
    return enum_value(f"Qgis.GeometryType.{name}", f"QgsWkbTypes.GeometryType.{name}Geometry")


def layer_geometry_name(layer) -> str:
    """``point``, ``line``, ``polygon`` or ``none`` for a vector layer."""
    gt = layer.geometryType()
    for name in ("Point", "Line", "Polygon"):
        if gt == geometry_type(name):
            return name.lower()
    return "none"


def constraint(name: str):
    """``QgsFieldConstraints.Constraint.Constraint<name>`` (NotNull, Unique, Expression)."""
    return enum_value(f"QgsFieldConstraints.Constraint.Constraint{name}")


def constraint_strength(name: str):
    """``QgsFieldConstraints.ConstraintStrength.ConstraintStrength<name>`` (Hard, Soft)."""
    return enum_value(f"QgsFieldConstraints.ConstraintStrength.ConstraintStrength{name}")


def marker_shape(name: str):
    """Simple marker shape (``Circle``, ``Square``, ``Triangle`` …): ``Qgis.MarkerShape`` in
    QGIS >= 3.24, ``QgsSimpleMarkerSymbolLayerBase.Shape`` before."""
    return enum_value(f"Qgis.MarkerShape.{name}", f"QgsSimpleMarkerSymbolLayerBase.Shape.{name}")


def label_placement(name: str):
    """Label placement (``OverPoint``, ``Horizontal``, ``Line``, ``AroundPoint``)."""
    return enum_value(f"Qgis.LabelPlacement.{name}", f"QgsPalLayerSettings.Placement.{name}")


def task_flag(name: str):
    return enum_value(f"QgsTask.Flag.{name}")


def qt_enum(path: str):
    """A Qt enum member by its scoped path (``AlignmentFlag.AlignLeft``, ``ItemDataRole.UserRole``);
    works with PyQt5 (QGIS 3) and PyQt6 (QGIS 4)."""
    from qgis.PyQt import QtCore

    obj = QtCore.Qt
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


__all__ = ["tr", "qgis_locale", "is_chinese", "pick", "enum_value", "level", "log", "ICON_PATH",
           "PLUGIN_DIR", "Qgis", "geometry_type", "layer_geometry_name", "constraint", "constraint_strength",
           "marker_shape", "label_placement", "task_flag", "qt_enum"]
