"""The panel on a PostGIS *project* (not a release): layers from a saved connection with the
"postgres" provider, step buttons enabled, the project URI passed to the algorithms, which run on
PostGIS; edits from QGIS sessions are logged as 'qgis edit' (real server: SURVEYTOOLS_PG_URL)."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="no PostGIS server (SURVEYTOOLS_PG_URL is unset)")
ROOT = Path(__file__).resolve().parents[2]

BUILD = r"""
import sys
sys.path[:0] = [sys.argv[3]]
from surveytools import project
from surveytools.project import read_layer, write_project_layer
uri = sys.argv[1]
project.init(project=uri, county="360681")
src = project.Project.open(sys.argv[2])
prj = project.Project.open(uri)
with prj.transaction() as w:
    for key in ("unit_grid", "community", "street"):
        write_project_layer(w, key, read_layer(src, key))
print("ok")
"""


def _pg(query, params=()):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as con:
        cur = con.cursor()
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


def test_panel_runs_steps_on_a_postgis_project_and_qgis_edits_are_logged(provider, qgis_iface, qgis_app, tmp_path):
    import processing
    from plugin_support import sample_project
    from qgis.core import (
        QgsDataSourceUri,
        QgsFeature,
        QgsGeometry,
        QgsPointXY,
        QgsProcessingFeedback,
        QgsProject,
        QgsProviderRegistry,
        QgsVectorLayer,
    )

    from qgis_plugin.panel import ProjectDock

    schema = f"pp_{uuid.uuid4().hex[:8]}"
    uri = f"{PG_URL}?schema={schema}"
    res = subprocess.run([sys.executable, "-c", BUILD, uri, str(sample_project()), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    u = urlparse(PG_URL)
    ds = QgsDataSourceUri()
    ds.setConnection(u.hostname, str(u.port), u.path.lstrip("/"), u.username or "postgres", "")
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    md.saveConnection(md.createConnection(ds.uri(False), {}), "surveytools-project-test")
    try:
        dock = ProjectDock(qgis_iface)
        lp = dock.open_postgres(connection="surveytools-project-test", schema=schema)
        assert lp is not None and lp.sp.kind == "postgres" and lp.sp.is_project
        assert all(b.isEnabled() for b in dock.step_buttons.values())
        params = dock.step_params("intake")
        assert params["PROJECT"].startswith("postgresql://") and params["PROJECT"].endswith(f"?schema={schema}")
        grids = lp.layer("unit_grid")
        assert grids.providerType() == "postgres" and grids.featureCount() == _pg(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] > 0
        # a step through Processing: the algorithm takes the URI and runs on PostGIS (in the child process)
        csv = tmp_path / "lamps.csv"
        csv.write_text("部件名称,lon,lat\n路灯,117.2210,28.2930\n路灯,117.2211,28.2930\n", encoding="utf-8")
        calls = []

        def dialog(alg_id, p):
            calls.append(alg_id)
            return processing.run(alg_id, dict(p, SOURCE=str(csv)), feedback=QgsProcessingFeedback())

        dock.exec_dialog = dialog
        dock.confirm = lambda *a: True
        dock.step_buttons["intake"].click()
        assert calls == ["surveytools:components_intake"]
        assert _pg(f"SELECT count(*) FROM {schema}.components_point")[0][0] == 2
        pts = lp.layer("component_point")
        assert pts.featureCount() == 2
        # two QGIS sessions (two layers, two connections) edit at once; both edits land and are logged
        other = QgsVectorLayer(pts.source(), "other", "postgres")
        assert other.isValid() and other.featureCount() == 2
        assert sorted(f.id() for f in other.getFeatures()) == sorted(f.id() for f in pts.getFeatures())
        fid0, fid1 = sorted(f.id() for f in pts.getFeatures())
        pts.startEditing()
        other.startEditing()
        name = pts.fields().indexOf("ObjName")
        assert pts.changeAttributeValue(fid0, name, "一号")
        assert other.changeAttributeValue(fid1, name, "二号")
        f = QgsFeature(pts.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(519989.0, 3130131.5)))
        f["ClassCode"] = "0102"
        assert other.addFeature(f)
        assert pts.commitChanges(), "\n".join(pts.commitErrors())
        assert other.commitChanges(), "\n".join(other.commitErrors())
        names = dict(_pg(f'SELECT fid, "ObjName" FROM {schema}.components_point'))
        assert names[fid0] == "一号" and names[fid1] == "二号" and len(names) == 3
        log = _pg(f"SELECT action, source, operation FROM {schema}.edit_log WHERE source = 'qgis edit' ORDER BY fid")
        assert sorted(a for a, _, _ in log) == ["insert", "update", "update"] and all(o is None for _, _, o in log)
        assert _pg(f"SELECT count(*) FROM {schema}.edit_log WHERE operation = 'components intake'")[0][0] >= 1
    finally:
        md.deleteConnection("surveytools-project-test")
        QgsProject.instance().clear()
        _pg(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_panel_creates_a_postgis_project_through_processing_and_the_saved_password_stays_out_of_argv(
        provider, qgis_iface, qgis_app, monkeypatch):
    """Issue 12 point 4: 'New PostGIS project' runs surveytools:project_init with the connection's
    URI + schema as PROJECT (the same parameter as a .gpkg path), then opens the project; the
    connection's saved password reaches the child only in a temporary 0600 pgpass file."""
    import stat

    import processing
    from qgis.core import QgsDataSourceUri, QgsProcessingFeedback, QgsProject, QgsProviderRegistry

    from qgis_plugin.panel import ProjectDock
    from surveytools import runner

    schema = f"pn_{uuid.uuid4().hex[:8]}"
    secret = "pan3l-s3cret"
    u = urlparse(PG_URL)
    ds = QgsDataSourceUri()
    ds.setConnection(u.hostname, str(u.port), u.path.lstrip("/"), u.username or "postgres", secret)
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    md.saveConnection(md.createConnection(ds.uri(False), {"saveUsername": True, "savePassword": True}), "surveytools-new-test")
    seen = []
    real_popen = runner.subprocess.Popen

    def spy(cmd, *a, **kw):
        path = (kw.get("env") or {}).get("PGPASSFILE")
        seen.append({"argv": list(cmd), "pgpass": path,
                     "text": Path(path).read_text(encoding="utf-8") if path else "",
                     "mode": stat.S_IMODE(os.stat(path).st_mode) if path else None})
        return real_popen(cmd, *a, **kw)

    monkeypatch.setattr(runner.subprocess, "Popen", spy)
    messages = []
    try:
        from qgis_plugin.pgconn import connection_url, saved_passwords

        assert secret not in connection_url("surveytools-new-test")
        dock = ProjectDock(qgis_iface)
        dock.message = lambda text, level="Info": messages.append(text)
        dock.refresh_connections()
        dock._update_buttons()
        assert dock.pg_new_button.isEnabled()
        dock.county_edit.setText("360681")
        given = {}

        def dialog(alg_id, p):
            given.update(p, alg=alg_id)
            return processing.run(alg_id, p, feedback=QgsProcessingFeedback())

        dock.exec_dialog = dialog
        lp = dock.new_postgres_project(connection="surveytools-new-test", schema=schema)
        assert given["alg"] == "surveytools:project_init"
        assert given["PROJECT"] == f"postgresql://{u.username}@{u.hostname}:{u.port}{u.path}?schema={schema}"
        assert lp is not None and lp.sp.kind == "postgres" and lp.sp.is_project and lp.sp.schema == schema
        assert _pg(f"SELECT value FROM {schema}.surveytools_meta WHERE key = 'county'")[0][0] == "360681"
        assert all(b.isEnabled() for b in dock.step_buttons.values())
        # the password: in the private pgpass file only, never in argv, the parameters or the messages
        init = next(s for s in seen if "init" in s["argv"])
        assert not any(secret in a for a in init["argv"]) and given["PROJECT"] in init["argv"]
        assert init["mode"] == 0o600 and secret in init["text"] and not Path(init["pgpass"]).exists()
        assert secret not in lp.sp.project_uri and secret not in json.dumps(given, default=str)
        assert not any(secret in m for m in messages)
        assert saved_passwords([lp.sp.project_uri]) == [(u.hostname, str(u.port), u.path.lstrip("/"),
                                                         u.username, secret)]
        # a step on it: the same (the project URI from the panel carries no password)
        res = processing.run("surveytools:project_info", dock.step_params("intake") | {"PROJECT": lp.sp.project_uri},
                             feedback=QgsProcessingFeedback())
        assert schema in res["RESULT"] and secret not in res["RESULT"]
        assert secret in seen[-1]["text"] and not any(secret in a for a in seen[-1]["argv"])
    finally:
        md.deleteConnection("surveytools-new-test")
        QgsProject.instance().clear()
        _pg(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
