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
