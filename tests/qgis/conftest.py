"""Fixtures for the QGIS-side tests (pytest-qgis: ``qgis_app``, ``qgis_processing``, ``qgis_iface``).

Run with ``QT_QPA_PLATFORM=offscreen python -m pytest -p no:cacheprovider --qgis_disable_gui tests/qgis``.
"""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def provider(qgis_processing):
    """The SurveyTools provider registered in the Processing registry for one test."""
    from qgis.core import QgsApplication

    from qgis_plugin.provider import PROVIDER_ID, SurveyToolsProvider

    registry = QgsApplication.processingRegistry()
    assert registry.providerById(PROVIDER_ID) is None, "a SurveyTools provider is still registered"
    prov = SurveyToolsProvider()
    assert registry.addProvider(prov)
    yield prov
    registry.removeProvider(prov)  # deletes the C++ object


@pytest.fixture
def editors(qgis_app):
    """QGIS's editor widget registry with its widgets (a headless QGIS starts without them)."""
    from qgis.gui import QgsGui

    reg = QgsGui.editorWidgetRegistry()
    if "ValueMap" not in reg.factories():
        reg.initEditors()
    return reg


@pytest.fixture
def clean_qgs(qgis_app, editors):
    """The QGIS project, empty for one test: edits a test left open are rolled back and the project
    cleared after it."""
    from qgis.core import QgsProject

    QgsProject.instance().clear()
    yield QgsProject.instance()
    for lyr in QgsProject.instance().mapLayers().values():
        if lyr.isEditable():
            lyr.rollBack()
    QgsProject.instance().clear()


@pytest.fixture
def results_dock(qgis_app, qgis_iface, editors, tmp_path):
    """The validation results panel on a copy of the sample project (validated): (path, loaded project, dock)."""
    from plugin_support import copy_project
    from qgis.core import QgsProject

    from qgis_plugin.layers import open_project
    from qgis_plugin.results import ValidationDock

    p = copy_project(tmp_path)
    lp = open_project(str(p))
    d = ValidationDock(qgis_iface)
    d.set_project(lp)
    yield p, lp, d
    d.clear()
    d.project = None
    QgsProject.instance().clear()
    d.deleteLater()
