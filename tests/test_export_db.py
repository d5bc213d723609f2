"""The case-system release: GeoPackage and PostGIS, the documented query, migration, incremental release."""
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
from export_fixture import assigned, copy

from surveytools.errors import Cancelled
from surveytools.export import schema as sch
from surveytools.feedback import Feedback

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "schema.md"
PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")


def doc_sql(tag: str) -> str:
    m = re.search(r"```sql " + re.escape(tag) + r"\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert m, tag
    return m.group(1)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    src, info, _ = assigned()
    d = tmp_path_factory.mktemp("rel")
    p = copy(src, d)
    out = d / "release.gpkg"
    from surveytools.export.ops import db

    res = db(str(p), to=str(out))
    return p, out, res, info


def test_schema_doc_is_current():
    text = DOC.read_text(encoding="utf-8")
    part = re.search(r"<!-- BEGIN GENERATED -->\n(.*)\n<!-- END GENERATED -->", text, re.S).group(1)
    assert part == sch.schema_markdown(), "run: python -m surveytools.export.schema docs/schema.md"


def test_gpkg_release_tables_counts_meta_indexes_and_styles(release):
    proj, out, res, info = release
    layers = dict(pyogrio.list_layers(out))
    for spec in sch.tables():
        assert spec.name in layers, spec.name
    n = lambda path, layer: pyogrio.read_info(path, layer=layer)["features"]  # noqa: E731
    for t in ("unit_grids", "streets", "communities", "components_point", "components_line", "components_polygon",
              "events", "responsibility_areas"):
        assert n(out, t) == n(proj, t) > 0, t
    assert n(out, "components_point") == info["points"] and n(out, "departments") == 23
    con = sqlite3.connect(out)
    meta = dict(con.execute("SELECT key, value FROM release_meta"))
    assert meta["schema_version"] == "1" and meta["profile"] == "cjt" and meta["county"] == "360681"
    assert meta["crs"] == "EPSG:4548" and meta["srid"] == "4548" and meta["release_kind"] == "full"
    assert json.loads(meta["tables"])["components_point"] == info["points"]
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    for t in ("unit_grids", "components_point", "communities", "responsibility_areas"):
        assert f"rtree_{t}_geom" in names
    assert {"idx_components_point_ObjID", "idx_components_point_ClassCode", "idx_unit_grids_BGID"} <= names
    styles = con.execute("SELECT f_table_name, f_geometry_column, styleQML, styleSLD, useAsDefault FROM layer_styles").fetchall()
    spatial = [s.name for s in sch.tables() if s.geometry]
    assert sorted(r[0] for r in styles) == sorted(spatial)
    import xml.etree.ElementTree as ET

    for name, geomcol, qml, sld, default in styles:
        root = ET.fromstring(qml.split("\n", 1)[1])
        assert root.tag == "qgis" and root.find("renderer-v2") is not None and geomcol == "geom" and default == 1
        ET.fromstring(sld.split("\n", 1)[1])
    qml = dict((r[0], r[2]) for r in styles)
    assert 'type="categorizedSymbol"' in qml["components_point"] and "left(&#34;ClassCode&#34;, 2)" in qml["components_point"]
    assert 'fieldName="BGID"' in qml["unit_grids"]
    fields = con.execute("SELECT count(*) FROM release_fields WHERE table_name = 'components_point'").fetchone()[0]
    assert fields >= 20
    matrix_blank = con.execute("SELECT count(*) FROM dispatch_matrix WHERE deadline_unit IS NULL OR deadline_unit = '' "
                               "OR filing_condition = ''").fetchone()[0]
    assert matrix_blank == 0
    con.close()


QUERY_RUNNER = r'''
import json, sqlite3, struct, sys
db, mode, sql, sql2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
con = sqlite3.connect(db)
if mode == "spatialite":
    con.enable_load_extension(True)
    con.load_extension("mod_spatialite")
def xy(blob):
    env = (blob[3] >> 1) & 7
    off = 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]
    bo = "<" if blob[off] == 1 else ">"
    return struct.unpack(bo + "dd", blob[off + 5: off + 21])
out = []
for eid, code, blob in con.execute('SELECT "EventID", "ClassCode", geom FROM events ORDER BY fid'):
    x, y = xy(blob)
    p = dict(kind="event", code=code, x=x, y=y)
    if mode == "spatialite":
        rows = con.execute(sql, p).fetchall()
        out.append([eid, x, y, rows])
    else:
        cands = [r[0] for r in con.execute(sql, p).fetchall()]
        out.append([eid, x, y, cands, [list(con.execute(sql2, dict(p, grid_code=c)).fetchall()) for c in cands]])
print(json.dumps(out, ensure_ascii=False))
'''


def _run_query(out, mode):
    sql = doc_sql("gpkg-spatialite") if mode == "spatialite" else doc_sql("gpkg-plain-candidates")
    sql2 = doc_sql("gpkg-plain") if mode == "plain" else ""
    # a separate interpreter that imports only sqlite3 (mod_spatialite must not meet the GDAL wheel)
    r = subprocess.run([sys.executable, "-c", QUERY_RUNNER, str(out), mode, sql, sql2], capture_output=True, text=True,
                       check=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    return json.loads(r.stdout)


def _expected(proj):
    a = pyogrio.read_dataframe(proj, layer="responsibility_assignments")
    return a[a["kind"] == "event"].set_index("feature_id")


def test_documented_query_on_gpkg_with_spatialite_matches_the_library(release):
    proj, out, _, _ = release
    exp = _expected(proj)
    grids = pyogrio.read_dataframe(out, layer="unit_grids")
    from surveytools.locate import locate

    rows = _run_query(out, "spatialite")
    assert len(rows) == len(exp) == 60
    import shapely

    pts = shapely.points([[r[1], r[2]] for r in rows])
    gi = locate(pts, grids.geometry.values, grids["BGID"].to_numpy())
    checked = 0
    for (eid, x, y, res), g in zip(rows, gi):
        e = exp.loc[eid]
        if g < 0:
            assert res == []  # outside every grid: no answer
            continue
        assert len(res) == 1
        grid, street, sname, comm, cname, lead, lname, phone, co, conames, du, dn, unit, filing, closing = res[0]
        assert grid == grids["BGID"].iloc[g] and street == e["street_code"] and comm == e["community_code"]
        assert lead == e["lead_unit"] and lname == e["lead_unit_name"] and phone
        assert (co or "") == (e["co_units"] or "") and du == e["deadline_urgent"] and unit == e["deadline_unit"]
        assert sname.endswith("街道") and filing and closing and "@属地" not in (co or "")
        checked += 1
    assert checked >= 55


def test_documented_query_on_plain_sqlite(release):
    proj, out, _, _ = release
    exp = _expected(proj)
    import shapely

    grids = pyogrio.read_dataframe(out, layer="unit_grids").set_index("BGID")
    rows = _run_query(out, "plain")
    n = 0
    for eid, x, y, cands, results in rows:
        inside = [c for c in cands if shapely.intersects(grids.geometry[c], shapely.Point(x, y))]
        if not inside:
            continue
        res = results[cands.index(min(inside))]
        assert res[0][5] == exp.loc[eid, "lead_unit"] and res[0][10] == exp.loc[eid, "deadline_urgent"]
        n += 1
    assert n >= 55


def test_gpkg_migration_from_fake_v0(release, tmp_path):
    import shutil

    from surveytools.export.migrate import migrate_gpkg

    _, out, _, _ = release
    v0 = tmp_path / "v0.gpkg"
    shutil.copyfile(out, v0)
    con = sqlite3.connect(v0)
    before = con.execute("SELECT co_units, co_unit_names FROM dispatch_matrix ORDER BY fid").fetchall()
    with con:
        con.execute("ALTER TABLE dispatch_matrix DROP COLUMN co_unit_names")
        con.execute("ALTER TABLE release_meta RENAME TO release_info")
        con.execute("UPDATE gpkg_contents SET table_name = 'release_info' WHERE table_name = 'release_meta'")
        con.execute("UPDATE release_info SET value = '0' WHERE key = 'schema_version'")
    con.close()
    assert migrate_gpkg(v0) == [1]
    con = sqlite3.connect(v0)
    assert con.execute("SELECT value FROM release_meta WHERE key = 'schema_version'").fetchone()[0] == "1"
    assert con.execute("SELECT co_units, co_unit_names FROM dispatch_matrix ORDER BY fid").fetchall() == before
    assert con.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = 'release_meta'").fetchone()[0] == 1
    con.close()
    assert migrate_gpkg(v0) == []
    assert "release_meta" in [n for n, _ in pyogrio.list_layers(v0)]


def test_cli_db_json_and_errors(release, cli, tmp_path):
    proj, _, _, _ = release
    rc, out, err = cli(["export", "db", proj, "--to", tmp_path / "r.gpkg", "--json"])
    assert rc == 0 and json.loads(out)["schema_version"] == 1
    rc, out, err = cli(["export", "db", proj, "--to", tmp_path / "r.txt"])
    assert rc == 2 and "postgresql://" in err
    rc, out, err = cli(["export", "db", proj, "--to", tmp_path / "r.gpkg", "--incremental"])
    assert rc == 2 and "PostGIS" in err


# ----------------------------------------------------------------------------------------------
# PostGIS (a real server: scripts/run_tests.sh starts one and exports SURVEYTOOLS_PG_URL)

needs_pg = pytest.mark.skipif(not PG_URL, reason="SURVEYTOOLS_PG_URL is not set (no PostGIS server)")


def _pg():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


class CancelAt(Feedback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def is_canceled(self):
        return self._progress >= self.at


@needs_pg
def test_postgis_release_query_failure_and_incremental(release, tmp_path):

    from surveytools.export.ops import db

    proj, out, _, info = release
    schema = "st_test_release"
    url = f"{PG_URL}?schema={schema}"
    res = db(str(proj), to=url)
    assert res.data["tables"]["components_point"] == info["points"]
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f"SELECT count(*), min(ST_SRID(geom)) FROM {schema}.components_point")
        assert cur.fetchone() == (info["points"], 4548)
        cur.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexdef ILIKE '%%USING gist%%'", (schema,))
        assert cur.fetchone()[0] >= 10
        cur.execute("SELECT count(*) FROM public.layer_styles WHERE f_table_schema = %s AND useasdefault", (schema,))
        assert cur.fetchone()[0] == len([s for s in sch.tables() if s.geometry])
        cur.execute(f"SELECT value FROM {schema}.release_meta WHERE key = 'schema_version'")
        assert cur.fetchone()[0] == "1"
        # the documented query (no surveytools involved) gives what the GeoPackage query gives
        gp = {r[0]: r[3] for r in _run_query(out, "spatialite")}
        cur.execute(f"SET search_path TO {schema}, public")
        cur.execute('SELECT "EventID", "ClassCode", ST_X(geom), ST_Y(geom) FROM events ORDER BY fid')
        for eid, code, x, y in cur.fetchall():
            c2 = con.cursor()
            c2.execute(doc_sql("postgis"), dict(kind="event", code=code, x=x, y=y))
            assert [list(r) for r in c2.fetchall()] == gp[eid], eid
        cur.execute("SET search_path TO public")
    # a cancelled export leaves the previous release whole, and no staging schema
    with pytest.raises(Cancelled):
        db(str(proj), to=url, feedback=CancelAt(60))
    with _pg() as con:
        cur = con.cursor()
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (schema + "%",))
        assert [r[0] for r in cur.fetchall()] == [schema]
        cur.execute(f"SELECT count(*) FROM {schema}.components_point")
        assert cur.fetchone()[0] == info["points"]
    # incremental by street: five components of one street go, the street is pushed again
    p2 = copy(proj, tmp_path, "inc.gpkg")
    from surveytools.project import Project, read_layer, write_project_layer

    pr = Project.open(p2)
    pts = read_layer(pr, "component_point")
    street = "360681004"
    in_street = (pts["StreetCode"] == street).to_numpy()
    assert in_street.sum() > 100
    drop = pts.index[in_street][:5]
    with pr.transaction() as work:
        write_project_layer(work, "component_point", pts.drop(index=drop))
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f"SELECT count(*) FROM {schema}.components_point")
        before = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM {schema}.components_point WHERE \"StreetCode\" <> %s", (street,))
        others = cur.fetchone()[0]
    res = db(str(p2), to=url, incremental=True, street=street)
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f"SELECT count(*) FROM {schema}.components_point")
        after = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM {schema}.components_point WHERE \"StreetCode\" <> %s", (street,))
        assert cur.fetchone()[0] == others
        cur.execute(f"SELECT key, value FROM {schema}.release_meta WHERE key IN ('release_kind', 'incremental_scope')")
        m = dict(cur.fetchall())
    assert m == {"release_kind": "incremental", "incremental_scope": f"street {street}"}
    ch = res.data["tables"]["_changes"]["components_point"]
    assert after == before - 5 and ch["deleted"] == int(in_street.sum()) and ch["inserted"] == int(in_street.sum()) - 5
    with _pg() as con:
        con.cursor().execute(f"DROP SCHEMA {schema} CASCADE")


@needs_pg
def test_postgis_incremental_by_change_log_and_migration(release, tmp_path):
    import pandas as pd

    from surveytools.export.ops import db, migrate
    from surveytools.project import Project, read_layer, write_project_layer, write_table

    proj, _, _, info = release
    schema = "st_test_changes"
    url = f"{PG_URL}?schema={schema}"
    db(str(proj), to=url)
    # fake v0 in PostGIS, then an incremental release migrates it first
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f"ALTER TABLE {schema}.dispatch_matrix DROP COLUMN co_unit_names")
        cur.execute(f"ALTER TABLE {schema}.release_meta RENAME TO release_info")
        cur.execute(f"UPDATE {schema}.release_info SET value = '0' WHERE key = 'schema_version'")
        cur.execute(f"UPDATE {schema}.release_info SET value = '2000-01-01T00:00:00' WHERE key = 'release_time'")
    assert migrate(url).data["migrated"] == [1]
    # the release "happened" just before the change below (the project's edit log has every
    # earlier write, so an older release time would carry them all)
    import datetime as dt
    import time

    time.sleep(1.1)
    cut = dt.datetime.now().replace(microsecond=0)
    with _pg() as con:
        con.cursor().execute(f"UPDATE {schema}.release_meta SET value = %s WHERE key = 'release_time'", (cut.isoformat(),))
    time.sleep(1.1)
    p2 = copy(proj, tmp_path, "cl.gpkg")
    pr = Project.open(p2)
    pts = read_layer(pr, "component_point")
    changed = pts["ObjID"].iloc[:3].tolist()
    pts.loc[pts.index[:3], "ObjState"] = "破损"
    with pr.transaction() as work:
        write_project_layer(work, "component_point", pts)
        write_table(work, "change_log", pd.DataFrame({"ObjID": changed, "action": ["update"] * 3,
                                                       "changed_at": [(cut + dt.timedelta(seconds=1)).isoformat()] * 3}))
    res = db(str(p2), to=url, incremental=True)
    ch = res.data["tables"]["_changes"]["components_point"]
    assert ch["inserted"] == 3 and ch["deleted"] >= 3
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f'SELECT count(*) FROM {schema}.components_point WHERE "ObjID" = ANY(%s) AND "ObjState" = %s', (changed, "破损"))
        assert cur.fetchone()[0] >= 3
        cur.execute(f"SELECT count(*) FROM {schema}.components_point")
        assert cur.fetchone()[0] == info["points"]
        cur.execute(f"SELECT value FROM {schema}.release_meta WHERE key = 'schema_version'")
        assert cur.fetchone()[0] == "1"
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))


@needs_pg
def test_incremental_release_carries_a_real_merge(release, tmp_path):
    """End to end across areas: `components merge` writes the change log, `export db --incremental`
    pushes exactly those components to PostGIS."""
    import geopandas as gpd

    from surveytools.components.ops import merge
    from surveytools.export.ops import db
    from surveytools.project import Project, read_layer

    proj, _, _, _ = release
    p2 = copy(proj, tmp_path, "merge.gpkg")
    schema = "st_test_merge"
    url = f"{PG_URL}?schema={schema}"
    import time

    time.sleep(1.1)  # release_time has whole seconds: earlier writes must be in an earlier second
    db(str(p2), to=url)
    pts = read_layer(Project.open(p2), "component_point")
    lamps = pts[pts["ClassCode"] == "0118"].sort_values("ObjID").head(5)
    resurvey = gpd.GeoDataFrame({"ClassCode": lamps["ClassCode"].to_numpy(), "ObjName": lamps["ObjName"].to_numpy(),
                                 "ObjState": ["破损"] * len(lamps)},
                                geometry=lamps.geometry.translate(0.2, 0.0).to_numpy(), crs=pts.crs)
    src = tmp_path / "resurvey.gpkg"
    resurvey.to_file(src, layer="lamps")
    res = merge(str(p2), f"{src}:lamps")
    assert res.data  # the merge ran and logged its changes
    log = read_layer(Project.open(p2), "change_log")
    changed = set(log["component_id"].astype(str))
    assert set(lamps["ObjID"]) <= changed
    # the edit log also has the rows the merge normalised without a change_log entry ('' -> NULL)
    con = sqlite3.connect(p2)
    edited = {r[0] for r in con.execute("SELECT feature_id FROM edit_log WHERE batch = ? AND layer = 'components_point'",
                                        (res.data["batch"],))}
    con.close()
    out = db(str(p2), to=url, incremental=True)
    assert out.data["tables"]["_changes"]["components_point"]["inserted"] == len((changed | edited) & set(pts["ObjID"]))
    with _pg() as con:
        cur = con.cursor()
        cur.execute(f'SELECT "ObjID", "ObjState" FROM {schema}.components_point WHERE "ObjID" = ANY(%s)',
                    (list(lamps["ObjID"]),))
        assert dict(cur.fetchall()) == {i: "破损" for i in lamps["ObjID"]}
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))
