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


def is_chinese() -> bool:
    return qgis_locale().lower().startswith("zh")


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


__all__ = ["tr", "qgis_locale", "is_chinese", "pick", "enum_value", "level", "log", "ICON_PATH",
           "PLUGIN_DIR", "Qgis"]
