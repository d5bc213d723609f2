"""The PostGIS project backend: init, reads, transactions in place (kill -9 included), the
advisory lock with two real processes, the edit log by PL/pgSQL triggers, history and export —
against the real PostGIS that scripts/run_tests.sh starts (SURVEYTOOLS_PG_URL)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from surveytools import project
from surveytools.errors import SurveyError

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")

if not PG_URL:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("CI=true but SURVEYTOOLS_PG_URL is not set: the PostGIS backend tests must run in CI")
    pytest.skip("SURVEYTOOLS_PG_URL is not set (no PostGIS server; scripts/run_tests.sh starts one)",
                allow_module_level=True)


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _pg():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


def _sql(sql, params=()):
    with _pg() as con:
        cur = con.cursor()
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def _grids(n, x0=0.0):
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame({"BGID": [f"3606810010{i:05d}" for i in range(n)], "BGName": [f"网格{i}" for i in range(n)]},
                            geometry=[box(x0 + i * 10, 0, x0 + i * 10 + 9, 9) for i in range(n)], crs=4548)


@pytest.fixture
def schema():
    name = "st_" + uuid.uuid4().hex[:10]
    yield name
    _sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def empty(schema) -> str:
    uri = f"{PG_URL}?schema={schema}"
    project.init(project=uri, county="360681")
    return uri


@pytest.fixture
def grid_project(schema, components_grid_project) -> str:
    """The components fixture's unit grids, communities and streets in a PostGIS project."""
    from surveytools.project import read_layer, write_project_layer

    uri = f"{PG_URL}?schema={schema}"
    project.init(project=uri, county="360681")
    src = project.Project.open(components_grid_project)
    prj = project.Project.open(uri)
    with prj.transaction() as w:
        for key in ("unit_grid", "community", "street"):
            write_project_layer(w, key, read_layer(src, key))
    return uri


# ------------------------------------------------------------------------------------------------
# A. init, open, reads

def test_init_creates_the_schema_with_typed_layers_indexes_and_bookkeeping(empty, schema):
    prj = project.Project.open(empty)
    assert prj.is_postgres and prj.meta["county"] == "360681" and prj.profile.id == "cjt"
    assert "@" in prj.label and "password" not in prj.label
    rows = dict(_sql("SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = %s", (schema,)))
    assert rows["components_point"] == 4548 and rows["unit_grids"] == 4548
    idx = {r[0] for r in _sql("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    assert {"components_point_pkey", "components_point_geom_idx", "unit_grids_geom_idx"} <= idx
    trig = {r[0] for r in _sql("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                               "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                               "AND t.tgname = 'surveytools_log'", (schema,))}
    assert {"components_point", "components_line", "components_polygon", "events", "unit_grids", "geo_doorplates"} <= trig
    assert _sql(f"SELECT count(*) FROM {schema}.dict_component_classes")[0][0] == len(prj.profile.component_classes)
    assert _sql(f"SELECT count(*) FROM {schema}.edit_log")[0][0] == 0  # init is no edit
    info = project.info(empty).data
    assert info["layers"]["components_point"] == {"features": 0, "geometry": "Point"}
    assert info["layers"]["dict_component_classes"]["geometry"] is None


def test_init_refuses_a_schema_that_is_not_ours_and_overwrite_keeps_a_user_table(empty, schema):
    other = "st_" + uuid.uuid4().hex[:10]
    _sql(f"CREATE SCHEMA {other}; CREATE TABLE {other}.mine (a int)")
    try:
        with pytest.raises(SurveyError) as e:
            project.init(project=f"{PG_URL}?schema={other}", county="360681")
        assert e.value.code == "foreign_schema" and "mine" in e.value.render()
        assert _sql(f"SELECT count(*) FROM {other}.mine")[0][0] == 0
    finally:
        _sql(f"DROP SCHEMA {other} CASCADE")
    with pytest.raises(SurveyError) as e:
        project.init(project=empty, county="360681")
    assert e.value.code == "exists"
    _sql(f"CREATE TABLE {schema}.user_notes (a int); INSERT INTO {schema}.user_notes VALUES (7)")
    project.init(project=empty, county="360681", overwrite=True)
    assert _sql(f"SELECT a FROM {schema}.user_notes")[0][0] == 7  # never drops a table that is not ours
    assert project.Project.open(empty).meta["county"] == "360681"


def test_a_password_in_the_uri_is_never_shown(empty):
    prj = project.Project.open(empty)
    secret = project.Project(empty.replace("postgres@", "postgres:s3cret@"), prj.meta, prj.profile)
    assert "s3cret" not in str(secret.display_path) and "s3cret" not in secret.label
    assert secret.label.endswith("?schema=" + empty.rsplit("=", 1)[1])


def test_a_schema_without_a_project_is_a_clear_error(schema):
    _sql(f"CREATE SCHEMA {schema}")
    with pytest.raises(SurveyError) as e:
        project.Project.open(f"{PG_URL}?schema={schema}")
    assert e.value.code == "not_project"


def test_reads_columns_where_bbox_in_fid_order_with_the_gpkg_dtypes(empty, tmp_path):
    from surveytools import store
    from surveytools.project import read_layer

    prj = project.Project.open(empty)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(5))
    meta, tab = store.read_arrow(empty, "unit_grids", columns=["BGID"], where="\"BGID\" > '360681001000001'")
    assert tab.column_names == ["BGID", "geom"] and tab.column("BGID").to_pylist() == [
        "360681001000002", "360681001000003", "360681001000004"]
    assert meta["geometry_name"] == "geom" and meta["crs"] == "EPSG:4548"
    _, tab = store.read_arrow(empty, "unit_grids", bbox=(9.5, 0, 19.5, 9), read_geometry=False)
    assert tab.column("BGID").to_pylist() == ["360681001000001"]  # as GDAL's spatial filter on a GeoPackage
    df = read_layer(prj, "unit_grid")
    assert df.crs.to_epsg() == 4548 and df.geometry.area.sum() == 5 * 81
    # the same frame as from a GeoPackage project
    gp_path = tmp_path / "same.gpkg"
    project.init(project=str(gp_path), county="360681")
    gp = project.Project.open(gp_path)
    with gp.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(5))
    for kw in ({"read_geometry": False}, {"read_geometry": False, "use_arrow": True}, {"fid_as_index": True}):
        ref = store.read_dataframe(gp.path, "unit_grids", **kw)
        got = store.read_dataframe(empty, "unit_grids", **kw)
        assert list(got.columns) == list(ref.columns)
        assert {c: str(t) for c, t in got.dtypes.items()} == {c: str(t) for c, t in ref.dtypes.items()}, kw
        assert list(got.index) == list(ref.index)
        assert got.drop(columns="geometry", errors="ignore").astype(str).equals(
            ref.drop(columns="geometry", errors="ignore").astype(str))
    assert store.feature_count(empty, "unit_grids") == 5
    assert store.table_exists(empty, "unit_grids") and not store.table_exists(empty, "nope")
    assert "BGID" in store.field_names(empty, "unit_grids")


# ------------------------------------------------------------------------------------------------
# B. transactions

def test_a_transaction_is_one_postgres_transaction_and_reads_see_its_own_writes(empty, schema):
    from surveytools.components import store as cstore
    from surveytools.gpkg import list_layers, write_layer
    from surveytools.store import pg as store_pg

    prj = project.Project.open(empty)
    stamp0 = store_pg.change_stamp(empty)
    _sql(f"CREATE ROLE st_reader_{schema} NOLOGIN")
    try:
        _sql(f"GRANT SELECT ON {schema}.unit_grids TO st_reader_{schema}")
        with prj.transaction() as w:
            project.write_project_layer(w, "unit_grid", _grids(3))
            assert cstore.layer_count(w, "unit_grid") == 3
            assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 0  # others: the old state
            cstore.append_table(w, "my_log", pd.DataFrame({"a": ["x"]}))
            cstore.append_table(w, "my_log", pd.DataFrame({"a": ["y"]}))
            assert list(cstore.read_table(w, "my_log")["a"]) == ["x", "y"]
            assert "my_log" in list_layers(w.path)
        assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 3
        assert [r[0] for r in _sql(f"SELECT a FROM {schema}.my_log ORDER BY fid")] == ["x", "y"]
        stamp1 = store_pg.change_stamp(empty)
        assert stamp1 != stamp0  # every commit changes the stamp (cache keys)
        _sql(f"UPDATE {schema}.unit_grids SET \"BGName\" = 'x' WHERE fid = 3")  # so does an edit elsewhere
        assert store_pg.change_stamp(empty) != stamp1
        # the replaced table kept its grants, indexes and trigger
        assert _sql("SELECT has_table_privilege(%s, %s, 'SELECT')", (f"st_reader_{schema}", f"{schema}.unit_grids"))[0][0]
        # append continues the fids
        with prj.transaction() as w:
            spec = prj.profile.layer("unit_grid")
            more = _grids(2, x0=1000).assign(BGID=["360681001000010", "360681001000011"])
            tab = project.to_arrow(more, prj.profile.layer_fields("unit_grid"))
            write_layer(w.path, spec.table, tab, geometry_type="polygon", crs=prj.crs, append=True)
            assert cstore.layer_count(w, "unit_grid") == 5
        assert [r[0] for r in _sql(f"SELECT fid FROM {schema}.unit_grids ORDER BY fid")] == [1, 2, 3, 4, 5]
        # keyed updates and deletes
        from surveytools import store

        with prj.transaction() as w:
            store.update_rows(w, "unit_grids", "BGID", [{"BGID": "360681001000000", "BGName": "改名"}])
            store.delete_rows(w, "unit_grids", "BGID", ["360681001000001"])
        names = dict(_sql(f'SELECT "BGID", "BGName" FROM {schema}.unit_grids'))
        assert names["360681001000000"] == "改名" and "360681001000001" not in names and len(names) == 4
        # a failure changes nothing
        with pytest.raises(RuntimeError):
            with prj.transaction() as w:
                project.write_project_layer(w, "unit_grid", _grids(9))
                raise RuntimeError("boom")
        assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 4
    finally:
        _sql(f"DROP OWNED BY st_reader_{schema}; DROP ROLE st_reader_{schema}")


KILLED_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from surveytools.project import Project, write_project_layer
    from test_store_postgis import _grids
    prj = Project.open(sys.argv[1])
    with prj.transaction() as w:
        write_project_layer(w, "unit_grid", _grids(int(sys.argv[3])))
        write_project_layer(w, "component_point", _grids(0))
    print("done", flush=True)
""")


def test_kill_9_at_any_moment_leaves_the_schema_as_before_or_as_after(empty, schema):
    n = 20000
    cmd = [sys.executable, "-c", KILLED_WRITER, empty, str(ROOT / "tests"), str(n)]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, env=_env(), capture_output=True, timeout=300)
    span = time.monotonic() - t0
    project.Project.open(empty)
    with project.Project.open(empty).transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(0))
    outcomes = set()
    for frac in (0.3, 0.5, 0.7, 0.8, 0.9, 0.97):
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(span * frac)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for _ in range(100):  # the server notices the dead client and rolls back
            if not _sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                        "state LIKE 'idle in transaction%%' OR (state = 'active' AND query LIKE 'COPY%%')")[0][0]:
                break
            time.sleep(0.1)
        rows = _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0]
        assert rows in (0, n), (frac, rows)
        outcomes.add(rows)
        project.Project.open(empty)
    assert 0 in outcomes
    with project.Project.open(empty).transaction(timeout=30) as w:
        project.write_project_layer(w, "unit_grid", _grids(2))
    assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 2


# ------------------------------------------------------------------------------------------------
# C. the lock

HOLDER = textwrap.dedent("""
    import sys, time
    from surveytools.store import project_lock
    with project_lock(sys.argv[1], operation="grid divide"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_waits_then_fails_naming_the_holder_and_a_dead_holder_is_recovered(empty, schema):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, empty], env=_env(), stdout=subprocess.PIPE, text=True)
    prj = project.Project.open(empty)
    try:
        assert holder.stdout.readline().strip() == "locked"
        from surveytools import store

        assert store.is_locked(empty) and store.holder(empty)["pid"] == holder.pid
        t0 = time.monotonic()
        with pytest.raises(SurveyError) as e:
            with prj.transaction(timeout=1.0) as w:
                project.write_project_layer(w, "unit_grid", _grids(1))
        assert 0.9 < time.monotonic() - t0 < 10
        msg = e.value.render()
        assert e.value.code == "project_locked"
        assert "grid divide" in msg and str(holder.pid) in msg and "进程" in msg and "pid" in msg
        login = _sql("SELECT session_user")[0][0]
        assert store.holder(empty)["user"].startswith(f"{login} (")  # the database login, then the OS user
        assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder's session died: PostgreSQL released its advisory lock
    with prj.transaction(timeout=10) as w:
        project.write_project_layer(w, "unit_grid", _grids(1))
    assert _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0] == 1


def test_two_concurrent_intakes_both_land_with_distinct_batches(grid_project, schema, tmp_path):
    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3}).to_csv(csv, index=False)
    cmd = [sys.executable, "-m", "surveytools.cli", "components", "intake", grid_project, str(csv), "--json"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [pr.communicate(timeout=300) for pr in procs]
    assert [pr.returncode for pr in procs] == [0, 0], outs
    batches = [json.loads(o)["batch"] for o, _ in outs]
    assert batches[0] != batches[1]
    rows = _sql(f'SELECT "ObjID", "BatchID" FROM {schema}.components_point')
    assert len(rows) == 6 and len({r[0] for r in rows}) == 6
    assert sorted({r[1] for r in rows}) == sorted(batches)


# ------------------------------------------------------------------------------------------------
# D. the edit log

def test_every_edit_is_logged_with_its_source_and_old_values_and_history_works(grid_project, schema, tmp_path):
    from surveytools.store.log import state_at

    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3}).to_csv(csv, index=False)
    from surveytools.ops import load_all

    data = load_all()["components_intake"].call(project=grid_project, source=str(csv)).data
    rng = _sql(f"SELECT action, source, operation, batch, feature_fid, fid_last FROM {schema}.edit_log "
               "WHERE layer = 'components_point' ORDER BY fid")
    assert rng == [("insert", "surveytools", "components intake", data["batch"], 1, 3)]
    ids = [r[0] for r in _sql(f'SELECT "ObjID" FROM {schema}.components_point ORDER BY fid')]
    before_edit = _sql(f"SELECT max(time) FROM {schema}.edit_log")[0][0]
    time.sleep(0.01)
    # a hand edit in another session (QGIS, psql): no operation settings
    _sql(f"UPDATE {schema}.components_point SET \"ObjName\" = '改过的名字' WHERE \"ObjID\" = %s", (ids[0],))
    _sql(f"DELETE FROM {schema}.components_point WHERE \"ObjID\" = %s", (ids[1],))
    log = _sql(f"SELECT action, source, operation, old_values, old_geom IS NOT NULL, feature_id FROM {schema}.edit_log "
               "WHERE source = 'qgis edit' ORDER BY fid")
    assert [r[0] for r in log] == ["update", "delete"] and [r[5] for r in log] == ids[:2]
    assert log[0][2] is None and json.loads(log[0][3])["ObjName"] == "路灯" and log[0][4]
    attrs, wkb = state_at(project.Project.open(grid_project), "component_point", before_edit)
    assert attrs.num_rows == 3 and sorted(attrs.column("ObjName").to_pylist()) == ["路灯"] * 3
    assert all(w is not None for w in wkb.to_pylist())
    attrs, _ = state_at(project.Project.open(grid_project), "component_point", "2000-01-01")
    assert attrs.num_rows == 0
    out = tmp_path / "then.gpkg"
    r = project.history(grid_project, at=before_edit, out=str(out))
    assert r.data["features"] == 3
    # an operation rewriting the layer logs only the rows that changed (update in place)
    from surveytools.project import read_layer, write_project_layer

    prj = project.Project.open(grid_project)
    n0 = _sql(f"SELECT max(fid) FROM {schema}.edit_log")[0][0]
    pts = read_layer(prj, "component_point")
    pts.loc[pts.index[0], "ObjState"] = "破损"
    with prj.transaction() as w:
        write_project_layer(w, "component_point", pts)
    log = _sql(f"SELECT action, feature_id, source FROM {schema}.edit_log WHERE fid > %s ORDER BY fid", (n0,))
    assert log == [("update", pts["ObjID"].iloc[0], "surveytools")]


def test_a_rewrite_refuses_when_the_layer_was_edited_elsewhere_meanwhile(grid_project, schema, tmp_path):
    from surveytools.components.intake import intake
    from surveytools.project import read_layer, write_project_layer

    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 2, "lon": [117.2210, 117.2211], "lat": [28.2930] * 2}).to_csv(csv, index=False)
    intake(grid_project, str(csv))
    prj = project.Project.open(grid_project)
    with pytest.raises(SurveyError) as e:
        with prj.transaction() as w:
            pts = read_layer(w, "component_point")
            _sql(f"UPDATE {schema}.components_point SET \"ObjName\" = 'x' WHERE fid = 1")
            pts["ObjState"] = "完好"
            write_project_layer(w, "component_point", pts)
    assert e.value.code == "edited_meanwhile"
    assert _sql(f"SELECT \"ObjName\" FROM {schema}.components_point WHERE fid = 1")[0][0] == "x"


# ------------------------------------------------------------------------------------------------
# E. export db from a PostGIS project

def test_export_db_from_postgis_to_geopackage_and_to_postgis(grid_project, schema, tmp_path):
    import pyogrio

    from surveytools.export.ops import db

    out = tmp_path / "release.gpkg"
    db(grid_project, to=str(out))
    n = _sql(f"SELECT count(*) FROM {schema}.unit_grids")[0][0]
    assert n > 0 and len(pyogrio.read_dataframe(str(out), layer="unit_grids", read_geometry=False)) == n
    target = "st_" + uuid.uuid4().hex[:10]
    try:
        db(grid_project, to=f"{PG_URL}?schema={target}")
        assert _sql(f"SELECT count(*) FROM {target}.unit_grids")[0][0] == n
    finally:
        _sql(f"DROP SCHEMA IF EXISTS {target} CASCADE")
        _sql("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (target,))


def test_incremental_release_from_postgis_carries_an_edit_made_in_another_session(grid_project, schema, tmp_path):
    from surveytools.components.intake import intake
    from surveytools.export.ops import db

    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 2, "lon": [117.2210, 117.2211], "lat": [28.2930] * 2}).to_csv(csv, index=False)
    intake(grid_project, str(csv))
    target = "st_" + uuid.uuid4().hex[:10]
    url = f"{PG_URL}?schema={target}"
    try:
        time.sleep(1.1)  # release_time has whole seconds
        db(grid_project, to=url)
        oid = _sql(f'SELECT "ObjID" FROM {schema}.components_point ORDER BY fid LIMIT 1')[0][0]
        time.sleep(1.1)
        _sql(f"UPDATE {schema}.components_point SET \"ObjName\" = '手工改名' WHERE \"ObjID\" = %s", (oid,))
        res = db(grid_project, to=url, incremental=True)
        assert res.data["tables"]["_changes"]["components_point"] == {"deleted": 1, "inserted": 1}
        assert _sql(f'SELECT "ObjName" FROM {target}.components_point WHERE "ObjID" = %s', (oid,))[0][0] == "手工改名"
    finally:
        _sql(f"DROP SCHEMA IF EXISTS {target} CASCADE")
        _sql("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (target,))


def _role_sql(schema: str, names: dict) -> tuple[list, list]:
    """The two SQL blocks of docs/store.md's role set-up (before and after ``project init``), with the
    role, login and schema names made unique for the test and no passwords (the test server trusts)."""
    import re
    from urllib.parse import urlsplit

    doc = (ROOT / "docs" / "store.md").read_text(encoding="utf-8")
    section = doc.split("中心的共享库这样设置角色", 1)[1].split("<a id=\"english\">", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "docs/store.md: the role set-up is two SQL blocks (before and after project init)"

    def stmts(block):
        text = " ".join(line.split("--")[0].strip() for line in block.splitlines())
        out = []
        for stmt in text.split(";"):
            stmt = " ".join(stmt.replace(" PASSWORD '…'", "").split())
            if not stmt:
                continue
            for old, new in names.items():
                stmt = re.sub(rf"\b{old}\b", new, stmt)
            stmt = re.sub(r"\bDATABASE cgis\b", f"DATABASE {urlsplit(PG_URL).path.lstrip('/')}", stmt)
            out.append(stmt.replace(" city.", f" {schema}.").replace("SCHEMA city", f"SCHEMA {schema}")
                       .replace(" city ", f" {schema} "))
        return out

    return stmts(blocks[0]), stmts(blocks[1])


def _as(login: str, schema: str) -> str:
    from urllib.parse import urlsplit

    u = urlsplit(PG_URL)
    return u._replace(netloc=f"{login}@{u.hostname}:{u.port}").geturl() + f"?schema={schema}"


def test_the_documented_roles_owner_group_runs_operations_editor_edits_reader_reads(schema, tmp_path):
    """docs/store.md's three steps as a centre runs them: the administrator's SQL, ``project init`` by
    a staff login in the owner group, operations by another such login (tables stay the owner's; a table
    an operation creates later is readable by the reader role), a QGIS-style edit by an editor-only
    login logged with its name, and a clear exit 2 for a read-only or editor-only login that runs an
    operation."""
    import psycopg

    tag = schema[3:]
    names = {r: f"{r}_{tag}" for r in ("city_owner", "city_editor", "city_reader", "case_system", "zhang_san", "li_si")}
    before, after = _role_sql(schema, names)
    assert any("FOR ROLE" in x for x in before) and any("AUTHORIZATION" in x for x in before)
    assert any("REVOKE" in x for x in after)
    owner, editor = names["city_owner"], names["city_editor"]
    staff, qgis_user, system = names["zhang_san"], names["li_si"], names["case_system"]
    try:
        for x in before:
            _sql(x)
        project.init(project=_as(staff, schema), county="360681")
        for x in after:
            _sql(x)
        # an operation by a second member of the owner group: replaces unit_grids, creates new tables
        _sql(f"CREATE ROLE op2_{tag} LOGIN IN ROLE {editor}, {owner}")
        env = _env(SURVEYTOOLS_LANG="both")
        src = ROOT / "sample_data" / "guixi" / "survey" / "departments.xlsx"
        uri2 = _as(f"op2_{tag}", schema)
        from surveytools.project import write_project_layer

        prj = project.Project.open(uri2)
        with prj.transaction() as w:
            write_project_layer(w, "unit_grid", _grids(5))
        r = subprocess.run([sys.executable, "-m", "surveytools.cli", "responsibility", "departments", uri2, "--import",
                            str(src)], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        owners = dict(_sql("SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,)))
        assert set(owners.values()) == {owner}, owners
        assert "departments" in owners
        # the reader reads every table, the ones operations created after init included, and writes none
        with psycopg.connect(_as(system, schema).split("?")[0], autocommit=True) as con:
            cur = con.cursor()
            for t in ("unit_grids", "departments", "edit_log"):
                cur.execute(f"SELECT count(*) FROM {schema}.{t}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute(f'UPDATE {schema}.unit_grids SET "BGName" = %s WHERE fid = 1', ("x",))
        # an editor-only login edits a feature as QGIS does: logged by the trigger with its login
        with psycopg.connect(_as(qgis_user, schema).split("?")[0], autocommit=True) as con:
            cur = con.cursor()
            cur.execute(f'UPDATE {schema}.unit_grids SET "BGName" = %s WHERE fid = 1', ("编辑员改",))
            cur.execute(f'SELECT action, source, "user", old_values FROM {schema}.edit_log ORDER BY fid DESC LIMIT 1')
            action, source, user, old = cur.fetchone()
            assert (action, source, user) == ("update", "qgis edit", qgis_user) and json.loads(old)["BGName"].startswith("网格")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute(f"INSERT INTO {schema}.edit_log (time, layer, action, source) VALUES ('x', 'x', 'x', 'x')")
        # an operation by a login outside the owner group: exit 2 naming the login and the owner role, nothing written
        n_log = _sql(f"SELECT count(*) FROM {schema}.edit_log")[0][0]
        for login in (system, qgis_user):
            r = subprocess.run([sys.executable, "-m", "surveytools.cli", "responsibility", "departments", _as(login, schema),
                                "--import", str(src), "--json"], env=env, capture_output=True, text=True, timeout=300)
            assert r.returncode == 2, r.stdout + r.stderr
            assert "Traceback" not in r.stderr and "内部错误" not in r.stderr
            err = json.loads(r.stdout)["error"]
            assert err["code"] == "pg_read_only" and err["value"] == login
            assert owner in err["message"]["zh"] and owner in err["message"]["en"]
        assert _sql(f"SELECT count(*) FROM {schema}.edit_log")[0][0] == n_log
        # the read-only login exports a release
        r = subprocess.run([sys.executable, "-m", "surveytools.cli", "export", "db", _as(system, schema), "--to",
                            str(tmp_path / "rel.gpkg")], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        # a staff login publishes to PostGIS: the release is the owner's, the case system reads it, and it still
        # does after a second whole release (grants kept) and after incremental ones carrying hand edits
        release = f"{schema}_release"
        rel_uri = _as(f"op2_{tag}", release)

        def publish(*extra):
            r = subprocess.run([sys.executable, "-m", "surveytools.cli", "export", "db", uri2, "--to", rel_uri, *extra],
                               env=env, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr

        def case_system_reads(sql):
            with psycopg.connect(_as(system, schema).split("?")[0], autocommit=True) as con:
                return con.execute(sql).fetchone()[0]

        publish()
        _sql(f"GRANT SELECT ON {release}.unit_grids TO {editor}")  # a grant the administrator gave by hand
        publish()
        assert _sql("SELECT has_table_privilege(%s, %s, 'SELECT')", (editor, f"{release}.unit_grids"))[0][0]
        assert {r[0] for r in _sql("SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
                                   "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (release,))} == {owner}
        assert case_system_reads(f"SELECT count(*) FROM {release}.unit_grids") == 5
        with psycopg.connect(_as(qgis_user, schema).split("?")[0], autocommit=True) as con:  # a component added in QGIS, no ID
            con.execute(f"INSERT INTO {schema}.components_point (\"ClassCode\", \"ObjName\", geom) "
                        "VALUES ('0102', '手工新增', ST_SetSRID(ST_MakePoint(5, 5), 4548))")
        publish("--incremental")
        publish("--incremental")  # twice: the ID-less component is replaced, not duplicated
        assert case_system_reads(f"SELECT count(*) FROM {release}.components_point WHERE \"ObjName\" = '手工新增'") == 1
    finally:
        _sql(f"DROP SCHEMA IF EXISTS {schema}_release CASCADE")
        if _sql("SELECT to_regclass('public.layer_styles')")[0][0]:
            _sql("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (f"{schema}_release",))
        _sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for r in (*names.values(), f"op2_{tag}"):
            _sql(f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}') THEN "
                 f"EXECUTE 'DROP OWNED BY {r}'; EXECUTE 'DROP ROLE {r}'; END IF; END $$")


# ------------------------------------------------------------------------------------------------
# F. the ID index: a small delivery asks PostGIS for the IDs it needs

def test_small_delivery_codes_through_the_id_index_on_postgis_like_a_full_read(grid_project, schema, tmp_path,
                                                                                monkeypatch):
    """As the GeoPackage test in test_components.py: the commit indexes the standard ID of the
    logged layers; the IDs looked up through it give the same codes as reading every ID, and the
    intake of a small delivery never reads every ID."""
    import pyarrow as pa

    from surveytools.components import store as cstore
    from surveytools.components.coding import IdSpec, assign_ids
    from surveytools.components.intake import intake
    from surveytools.locate import COMPONENT_LAYERS

    idx = {r[0] for r in _sql("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    assert {"idx_components_point_ObjID", "idx_components_line_ObjID", "idx_components_polygon_ObjID",
            "idx_unit_grids_BGID"} <= idx, "made with the layers"
    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3}).to_csv(csv, index=False)
    intake(grid_project, str(csv))
    # hand edits (QGIS, psql): a higher serial the registry never saw, a too-long ID, a neighbouring
    # county's ID and one with a letter, all sorting above it
    for oid in ("3606810118000040", "36068101180000999", "3606820118000777", "360681011800005X"):
        _sql(f'INSERT INTO {schema}.components_point ("ObjID", geom) SELECT %s, geom FROM {schema}.components_point '
             "LIMIT 1", (oid,))
    proj = project.Project.open(grid_project)
    spec = IdSpec.of(proj.profile, proj.county)
    delivered = pa.array(["3606810118000002", None, "3606810118000041"], pa.string())
    classes = pa.array(["0118", "0118", "0118"], pa.string())
    every, _ = cstore.read_ids(proj, COMPONENT_LAYERS)
    few = cstore.relevant_ids(proj, COMPONENT_LAYERS, delivered, classes, spec)
    assert few is not None and len(few) < len(every)
    assert set(few.to_pylist()) == {"3606810118000002", "3606810118000040"}
    a = assign_ids(delivered, classes, spec, proj.profile, existing_ids=every, registry={})
    b = assign_ids(delivered, classes, spec, proj.profile, existing_ids=few, registry={})
    assert a.ids.to_pylist() == b.ids.to_pylist() == ["3606810118000042", "3606810118000043", "3606810118000041"]
    assert a.maxima["0118"] == b.maxima["0118"] == 43
    # without the index (dropped by hand) the look-up says so (the caller reads every ID) and the next
    # commit makes it again
    _sql(f'DROP INDEX {schema}."idx_components_point_ObjID"')
    assert cstore.relevant_ids(proj, COMPONENT_LAYERS, delivered, classes, spec) is None  # no index: read all

    # the operation itself never reads every ID for a small delivery
    def no_full_read(*a, **k):
        raise AssertionError("read every ID")

    intake(grid_project, str(csv))
    assert "idx_components_point_ObjID" in {r[0] for r in _sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    monkeypatch.setattr(cstore, "read_ids", no_full_read)
    res = intake(grid_project, str(csv))
    assert res["ids"]["new"] == 3
    ids = [r[0] for r in _sql(f'SELECT "ObjID" FROM {schema}.components_point')]
    assert len(ids) == 13 and len(set(ids)) == 13
    assert {"3606810118000044", "3606810118000045", "3606810118000046"} <= set(ids)


# ------------------------------------------------------------------------------------------------
# G. edit-log times: local time of the project's zone, as in a GeoPackage, whatever the session's TimeZone

def test_log_times_are_local_whatever_the_session_time_zone_and_history_agrees(schema, components_grid_project,
                                                                                tmp_path, monkeypatch):
    import datetime as dt

    import psycopg

    from surveytools.components.intake import intake
    from surveytools.project import read_layer, write_project_layer
    from surveytools.store.log import state_at

    monkeypatch.setenv("TZ", "Asia/Shanghai")  # this machine's zone (the GeoPackage log's 'localtime')
    time.tzset()
    monkeypatch.setenv("PGTZ", "Pacific/Chatham")  # our own sessions' TimeZone: +12:45/+13:45
    try:
        uri = f"{PG_URL}?schema={schema}"
        project.init(project=uri, county="360681")
        prj = project.Project.open(uri)
        assert prj.meta["log_timezone"] == "Asia/Shanghai"
        src = project.Project.open(components_grid_project)
        with prj.transaction() as w:
            for key in ("unit_grid", "community", "street"):
                write_project_layer(w, key, read_layer(src, key))
        csv = tmp_path / "lamps.csv"
        pd.DataFrame({"部件名称": ["路灯"] * 2, "lon": [117.2210, 117.2211], "lat": [28.2930] * 2}).to_csv(csv, index=False)
        t0 = dt.datetime.now()
        intake(uri, str(csv))
        time.sleep(1.2)
        between = dt.datetime.now().isoformat(timespec="milliseconds")
        time.sleep(1.2)
        # a QGIS user whose session runs in another zone edits a lamp
        with psycopg.connect(PG_URL, autocommit=True) as con:
            cur = con.cursor()
            cur.execute("SET TimeZone = 'America/Los_Angeles'")
            cur.execute(f'UPDATE {schema}.components_point SET "ObjName" = %s WHERE fid = 1', ("手工改名",))
        t1 = dt.datetime.now()
        times = [dt.datetime.fromisoformat(r[0]) for r in _sql(f"SELECT time FROM {schema}.edit_log ORDER BY fid")]
        assert len(times) >= 3
        for t in times:  # the local time of this machine, as the GeoPackage triggers write it
            assert t0 - dt.timedelta(seconds=2) <= t <= t1 + dt.timedelta(seconds=2), (t, t0, t1)
        attrs, _ = state_at(project.Project.open(uri), "component_point", between)
        assert sorted(attrs.column("ObjName").to_pylist()) == ["路灯", "路灯"]
        attrs, _ = state_at(project.Project.open(uri), "component_point", t1.isoformat(timespec="milliseconds"))
        assert sorted(attrs.column("ObjName").to_pylist()) == ["手工改名", "路灯"]
        attrs, _ = state_at(project.Project.open(uri), "component_point", t0.isoformat(timespec="milliseconds"))
        assert attrs.num_rows == 0
        r = project.history(uri, at=between, out=str(tmp_path / "then.gpkg"))
        assert r.data["features"] == 2
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_project_from_before_log_zones_gets_one_at_its_next_write(empty, schema):
    """A PostGIS project made when log times followed the session's TimeZone (no ``log_timezone``
    in its metadata) gets the zone and the new log functions with its next operation."""
    from surveytools.store.pg import local_zone

    _sql(f"DELETE FROM {schema}.surveytools_meta WHERE key = 'log_timezone'")
    _sql(f"CREATE OR REPLACE FUNCTION {schema}.surveytools_now() RETURNS text LANGUAGE sql AS $$ SELECT 'old' $$")
    prj = project.Project.open(empty)
    assert "log_timezone" not in prj.meta
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(2))
    assert project.Project.open(empty).meta["log_timezone"] == local_zone()
    assert _sql(f"SELECT {schema}.surveytools_now()")[0][0] != "old"
    _sql(f'UPDATE {schema}.unit_grids SET "BGName" = %s WHERE fid = 1', ("x",))
    assert _sql(f"SELECT time FROM {schema}.edit_log ORDER BY fid DESC LIMIT 1")[0][0][:4].isdigit()


# ------------------------------------------------------------------------------------------------
# H. passwords: never in a child's command line, never in what we print

def test_a_password_reaches_the_child_in_a_private_pgpass_file_never_in_its_argv_or_output(empty, schema, monkeypatch,
                                                                                          tmp_path):
    import stat

    import psycopg

    from surveytools import runner
    from surveytools.ops import load_all

    secret = "s3:cr\\et-pw"  # a colon and a backslash: pgpass escapes both
    quoted = "s3%3Acr%5Cet-pw"
    with_pw = empty.replace("postgres@", f"postgres:{quoted}@")
    seen = []
    real_popen = runner.subprocess.Popen

    def spy(cmd, *a, **kw):
        env = kw.get("env") or {}
        path = env.get("PGPASSFILE")
        text = Path(path).read_text(encoding="utf-8") if path else ""
        seen.append({"argv": list(cmd), "pgpass": path, "text": text,
                     "mode": stat.S_IMODE(os.stat(path).st_mode) if path else None})
        return real_popen(cmd, *a, **kw)

    monkeypatch.setattr(runner.subprocess, "Popen", spy)
    (tmp_path / "mine.pgpass").write_text("otherhost:5432:*:someone:theirs\n", encoding="utf-8")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "mine.pgpass"))
    ops = load_all()
    data = runner.run_out_of_process(ops["project_info"], {"project": with_pw})
    assert data["ok"] and "components_point" in json.dumps(data, ensure_ascii=False)
    got = seen[-1]
    assert not any(secret in a or quoted in a for a in got["argv"])
    assert empty in got["argv"]  # the same project, its URI without the password
    assert got["mode"] == 0o600 and not Path(got["pgpass"]).exists()  # private, and gone afterwards
    assert "otherhost:5432:*:someone:theirs" in got["text"]  # the user's own entries still apply
    assert secret not in json.dumps(data, ensure_ascii=False) and quoted not in json.dumps(data, ensure_ascii=False)
    # libpq reads that file as meant: the stripped URI connects with the password
    folder = tmp_path / "pgpass"
    folder.mkdir()
    entries = runner.strip_passwords({"project": with_pw})[1]
    monkeypatch.setenv("PGPASSFILE", runner.write_pgpass(entries, str(folder)))
    with psycopg.connect(PG_URL) as con:
        assert con.info.password == secret
    # passwords given by the caller (a saved QGIS connection) go the same way
    host, port = PG_URL.split("@", 1)[1].split("/")[0].split(":")
    runner.run_out_of_process(ops["project_info"], {"project": empty},
                              pg_passwords=[(host, port, "gis", "postgres", "from-qgis")])
    assert "from-qgis" in seen[-1]["text"] and not any("from-qgis" in a for a in seen[-1]["argv"])
    # an error names the project without its password
    with pytest.raises(SurveyError) as e:
        runner.run_out_of_process(ops["project_info"], {"project": with_pw.replace(schema, schema + "_nope")})
    assert secret not in e.value.render() and quoted not in e.value.render()


def test_the_cli_never_prints_a_password_given_in_a_uri(empty, schema):
    quoted = "pw%40very-secret"
    with_pw = empty.replace("postgres@", f"postgres:{quoted}@")
    for args in (["project", "info", with_pw, "--json"], ["project", "info", with_pw],
                 ["project", "info", with_pw.replace(schema, schema + "_nope"), "--json"],
                 ["project", "init", with_pw, "--county", "360681", "--json"]):  # exists: an error naming it
        res = subprocess.run([sys.executable, "-m", "surveytools.cli", *args], env=_env(), capture_output=True,
                             text=True, timeout=300)
        assert "very-secret" not in res.stdout + res.stderr, args
        assert res.returncode in (0, 2) and ("?schema=" in res.stdout + res.stderr), (args, res.stderr[-500:])


def test_an_append_never_collides_with_features_inserted_meanwhile_in_qgis(empty, schema):
    """Staff insert features (fids from the sequence, as QGIS does) while an operation appends a large batch:
    both land.  The append used to read the highest fid and copy after it, so an insert committed in between
    took the batch's first fid: duplicate key, an internal error for every intake run during editing."""
    import threading

    from surveytools.gpkg import write_layer

    prj = project.Project.open(empty)
    spec = prj.profile.layer("unit_grid")
    n = 40_000
    grids = _grids(n)
    tab = project.to_arrow(grids, prj.profile.layer_fields("unit_grid"))
    stop = threading.Event()
    inserted = []

    def staff():
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as con:
            while not stop.is_set():
                con.execute(f'INSERT INTO {schema}.unit_grids ("BGID", geom) VALUES (%s, '
                            "ST_SetSRID(ST_MakeEnvelope(0, 0, 1, 1), 4548))", (f"hand{len(inserted)}",))
                inserted.append(1)

    t = threading.Thread(target=staff)
    t.start()
    try:
        while not inserted:
            time.sleep(0.01)
        with prj.transaction() as w:
            write_layer(w.path, spec.table, tab, geometry_type="polygon", crs=prj.crs, append=True)
        time.sleep(0.2)
    finally:
        stop.set()
        t.join()
    hand, batch, distinct = _sql(f"SELECT count(*) FILTER (WHERE \"BGID\" LIKE 'hand%%'), count(*) FILTER (WHERE \"BGID\" "
                                 f"NOT LIKE 'hand%%'), count(DISTINCT fid) FROM {schema}.unit_grids")[0]
    assert batch == n and hand == len(inserted) and distinct == hand + batch
    # the batch keeps its order (fids ascending with the staged rows)
    ids = [r[0] for r in _sql(f"SELECT \"BGID\" FROM {schema}.unit_grids WHERE \"BGID\" NOT LIKE 'hand%%' ORDER BY fid")]
    assert ids == list(grids["BGID"])
