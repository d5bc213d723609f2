"""The ``surveytools`` Processing provider: one algorithm per registered library operation."""
from __future__ import annotations

import importlib
import traceback

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from surveytools import __version__, ops

from .algorithm import SurveyToolsAlgorithm
from .compat import ICON_PATH, log, tr

PROVIDER_ID = "surveytools"


def load_operations():
    """Import every operation module and return ``(registry, errors)``.

    This is :func:`surveytools.ops.load_all` with each module imported on its own, so that one
    broken module (a missing optional dependency, say) does not hide the other operations.
    ``errors`` is a list of ``(module, message)``; tracebacks go to the QGIS message log.
    """
    errors = []
    for mod in ops.operation_modules():
        try:
            importlib.import_module(mod)
        except Exception as exc:
            errors.append((mod, f"{type(exc).__name__}: {exc}"))
            log(f"{mod}:\n{traceback.format_exc()}", "Info")
    return ops.REGISTRY, errors


class SurveyToolsProvider(QgsProcessingProvider):
    def __init__(self):
        super().__init__()
        #: modules that failed to import at the last load, ``[(module, message)]``
        self.load_errors = []

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return tr("SurveyTools (digital urban management)")

    def longName(self) -> str:
        return tr("SurveyTools {version}: base data for digital urban management").format(version=__version__)

    def icon(self):
        return QIcon(ICON_PATH)

    def svgIconPath(self) -> str:
        return ICON_PATH

    def loadAlgorithms(self):
        registry, self.load_errors = load_operations()
        for mod, message in self.load_errors:
            log(tr("Could not load the operations in {module}: {message}").format(module=mod, message=message),
                "Warning")
        for op in sorted(registry.values(), key=lambda o: o.id):
            self.addAlgorithm(SurveyToolsAlgorithm(op))
