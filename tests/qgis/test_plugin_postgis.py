"""The project panel opens a release in PostGIS through one of QGIS's saved connections (a real
server: the test environment's throwaway PostGIS)."""
import os
import subprocess
import sys
import uuid
from urllib.parse import urlparse

import pytest
from plugin_support import copy_project, sql

PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="no PostGIS server (SURVEYTOOLS_PG_URL is unset)")


def test_panel_opens_a_postgis_release_from_a_saved_connection(qgis_iface, qgis_app, tmp_path):
    from qgis.core import QgsDataSourceUri, QgsProject, QgsProviderRegistry

    from qgis_plugin.panel import ProjectDock

    p = copy_project(tmp_path)
    schema = f"panel_{uuid.uuid4().hex[:8]}"
    # the export runs in a child Python (the library's wheels never load into QGIS's process)
    run = subprocess.run([sys.executable, "-m", "surveytools.cli", "export", "db", str(p), "--to",
                          f"{PG_URL}?schema={schema}", "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    u = urlparse(PG_URL)
    uri = QgsDataSourceUri()
    uri.setConnection(u.hostname, str(u.port), u.path.lstrip("/"), u.username or "postgres", "")
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    conn = md.createConnection(uri.uri(False), {})
    md.saveConnection(conn, "surveytools-test")
    try:
        dock = ProjectDock(qgis_iface)
        lp = dock.open_postgres(connection="surveytools-test", schema=schema)
        assert lp is not None and lp.sp.kind == "postgres"
        assert lp.sp.county == "360681"
        layers = [QgsProject.instance().mapLayer(i) for i in lp.layer_ids.values()]
        assert layers and all(lyr is not None and lyr.isValid() for lyr in layers)
        assert all(lyr.providerType() == "postgres" for lyr in layers)
        grids = lp.layer("unit_grid")
        assert grids.featureCount() == sql(p, "SELECT count(*) FROM unit_grids")[0][0]
        points = lp.layer("component_point")
        assert points.featureCount() == sql(p, "SELECT count(*) FROM components_point")[0][0]
        # a schema that is not a release is refused with a clear message, not a traceback
        assert dock.open_postgres(connection="surveytools-test", schema="public") is None
    finally:
        md.deleteConnection("surveytools-test")
        QgsProject.instance().clear()
