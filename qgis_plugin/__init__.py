"""QGIS plugin 数字城管基础数据 SurveyTools.

``classFactory`` never breaks QGIS start-up: if the plugin or the ``surveytools`` library cannot
be imported, an inert plugin is returned that reports the problem in the message bar and the
message log and does nothing else.

A packaged plugin ZIP may vendor the library (and pure-Python dependencies) in a ``libs/``
folder beside this file; it is put first on ``sys.path``.
"""
import os
import sys
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBS = os.path.join(_HERE, "libs")


def _add_libs_path():
    if os.path.isdir(_LIBS) and _LIBS not in sys.path:
        sys.path.insert(0, _LIBS)


class InertPlugin:
    """Stands in for the plugin when it cannot be loaded: reports why, does nothing else."""

    def __init__(self, iface, error, details):
        self.iface = iface
        self.error = error
        self.details = details
        self._log()

    def _message(self):
        try:
            from qgis.PyQt.QtCore import QCoreApplication
            text = QCoreApplication.translate(
                "SurveyTools", "SurveyTools could not be loaded: {error}. See the message log for details.")
        except Exception:  # pragma: no cover
            text = "SurveyTools could not be loaded: {error}. See the message log for details."
        return text.format(error=f"{type(self.error).__name__}: {self.error}")

    def _log(self):
        try:
            from qgis.core import Qgis, QgsMessageLog
            critical = getattr(getattr(Qgis, "MessageLevel", Qgis), "Critical")
            QgsMessageLog.logMessage(self._message() + "\n" + self.details, "SurveyTools", critical)
        except Exception:  # pragma: no cover
            sys.stderr.write(self.details)

    def initProcessing(self):
        pass

    def initGui(self):
        if self.iface is None:
            return
        try:
            from qgis.core import Qgis
            critical = getattr(getattr(Qgis, "MessageLevel", Qgis), "Critical")
            self.iface.messageBar().pushMessage("SurveyTools", self._message(), critical, 0)
        except Exception:  # pragma: no cover
            pass

    def unload(self):
        pass


def classFactory(iface):  # noqa: N802 - QGIS API
    _add_libs_path()
    try:
        from .plugin import SurveyToolsPlugin
        return SurveyToolsPlugin(iface)
    except Exception as exc:  # never break QGIS start-up
        return InertPlugin(iface, exc, traceback.format_exc())
