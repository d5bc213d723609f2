"""The project store: transactions in place, the project lock, the edit log — with real
processes (killed mid-write, two writers at once) on real GeoPackages."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from surveytools import project
from surveytools.errors import SurveyError

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _grids(n, x0=0.0):
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame({"BGID": [f"3606810010{i:05d}" for i in range(n)], "BGName": [f"网格{i}" for i in range(n)]},
                            geometry=[box(x0 + i * 10, 0, x0 + i * 10 + 9, 9) for i in range(n)], crs=4548)


def _count(path, table):
    con = sqlite3.connect(path)
    try:
        return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def empty(tmp_path) -> Path:
    p = tmp_path / "p.gpkg"
    project.init(project=str(p), county="360681")
    return p


@pytest.fixture
def lamps(components_grid_project, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    csv = tmp_path / "lamps.csv"
    pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3}).to_csv(csv, index=False)
    return p, csv


# ------------------------------------------------------------------------------------------------
# transactions in place

def test_a_write_changes_the_file_in_place_and_reads_see_the_operation_s_own_writes(empty):
    from surveytools.components import store
    from surveytools.gpkg import list_layers

    inode = os.stat(empty).st_ino
    prj = project.Project.open(empty)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(3))
        assert store.layer_count(w, "unit_grid") == 3  # the staged rows
        assert _count(empty, "unit_grids") == 0  # not committed yet: others see the old state
        store.append_table(w, "my_log", pd.DataFrame({"a": ["x"]}))
        store.append_table(w, "my_log", pd.DataFrame({"a": ["y"]}))
        assert list(store.read_table(w, "my_log")["a"]) == ["x", "y"]
        assert "my_log" in list_layers(w.path)
    assert os.stat(empty).st_ino == inode  # not a copy renamed over the project
    assert _count(empty, "unit_grids") == 3 and _count(empty, "my_log") == 2
    assert not list(empty.parent.glob(".p.stage-*"))  # the staging file is gone
    con = sqlite3.connect(empty)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT rtreecheck('rtree_unit_grids_geom')").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the R-tree came along: one entry per grid, with the grid's bounds
    assert con.execute("SELECT count(*), min(minx), max(maxx) FROM rtree_unit_grids_geom").fetchone() == (3, 0.0, 29.0)
    con.close()
    # GDAL reads it as a normal GeoPackage layer, spatial filter included
    df = pyogrio.read_dataframe(str(empty), layer="unit_grids", bbox=(9.5, 0, 19.5, 9))
    assert sorted(df["BGID"]) == ["360681001000001"]


HELPER_WRITE = """
import sys
import numpy as np, pyarrow as pa, shapely
from surveytools.gpkg import write_layer
n = int(sys.argv[2])
t = pa.table({"name": pa.array([f"lamp {i:07d} " * 4 for i in range(n)]),
              "geom": shapely.to_wkb(shapely.points(np.arange(n) * 0.5, np.arange(n) % 997))})
reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=5000))
write_layer(sys.argv[1], "surveytools_stage_test", reader, geometry_type="Point", crs="EPSG:4548",
            spatial_index=False, durable=True)
"""


def test_the_operation_folds_the_helper_s_write_ahead_log_while_it_writes(empty):
    """A helper process writing rows into the project leaves the write-ahead log to the operation's
    process (GDAL checkpoints only past HELPER_WAL_AUTOCHECKPOINT pages), which folds it into the
    file meanwhile with passive checkpoints: the rows are all there, the file is sound, the log
    ends fully folded and never grew past the bound."""
    import threading

    from surveytools.store.gpkg import HELPER_WAL_AUTOCHECKPOINT, WalFolder

    n = 60_000
    wal = str(empty) + "-wal"
    reader = sqlite3.connect(empty)  # a reader keeps the log open (as QGIS would)
    reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    biggest, done = [0], threading.Event()

    def watch():
        while not done.wait(0.005):
            if os.path.exists(wal):
                biggest[0] = max(biggest[0], os.path.getsize(wal))

    w = threading.Thread(target=watch)
    w.start()
    try:
        with WalFolder(empty, 0.01) as folder:
            subprocess.run([sys.executable, "-c", HELPER_WRITE, str(empty), str(n)], env=_env(), check=True,
                           capture_output=True, timeout=300)
    finally:
        done.set()
        w.join()
    assert folder.checkpoints > 0 and folder.folded > 0
    con = sqlite3.connect(empty)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute('SELECT count(*) FROM "surveytools_stage_test"').fetchone()[0] == n
    busy, frames, folded = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == folded
    con.close()
    reader.close()
    assert 0 < biggest[0] <= (HELPER_WAL_AUTOCHECKPOINT + 4000) * 4120  # the bound, plus one GDAL transaction


def test_append_continues_fids_and_the_r_tree(empty):
    from surveytools.components import store

    prj = project.Project.open(empty)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(2))
    with prj.transaction() as w:
        spec = prj.profile.layer("unit_grid")
        from surveytools.gpkg import write_layer

        tab = project.to_arrow(_grids(2, x0=1000), prj.profile.layer_fields("unit_grid"))
        write_layer(w.path, spec.table, tab, geometry_type="polygon", crs=prj.crs, append=True)
        assert store.layer_count(w, "unit_grid") == 4
    con = sqlite3.connect(empty)
    fids = [r[0] for r in con.execute("SELECT fid FROM unit_grids ORDER BY fid")]
    assert fids == [1, 2, 3, 4]
    assert con.execute("SELECT count(*) FROM rtree_unit_grids_geom WHERE minx >= 1000").fetchone()[0] == 2
    assert con.execute("SELECT max_x FROM gpkg_contents WHERE table_name = 'unit_grids'").fetchone()[0] == 1019
    con.close()
    df = pyogrio.read_dataframe(str(empty), layer="unit_grids", bbox=(1000, 0, 1009, 9))
    assert list(df["BGID"]) == ["360681001000000"]


def test_a_failed_operation_changes_nothing(empty):
    before = empty.read_bytes()
    prj = project.Project.open(empty)
    with pytest.raises(RuntimeError):
        with prj.transaction() as w:
            project.write_project_layer(w, "unit_grid", _grids(5))
            raise RuntimeError("boom")
    assert _count(empty, "unit_grids") == 0
    assert empty.read_bytes() == before
    assert not list(empty.parent.glob(".p.stage-*"))


KILLED_WRITER = textwrap.dedent("""
    import sys
    from surveytools.project import Project, write_project_layer
    sys.path.insert(0, sys.argv[2])
    from test_store import _grids
    prj = Project.open(sys.argv[1])
    with prj.transaction() as w:
        write_project_layer(w, "unit_grid", _grids(int(sys.argv[3])))
        write_project_layer(w, "component_point", _grids(0))
    print("done", flush=True)
""")


def test_kill_9_at_any_moment_leaves_the_project_as_before_or_as_after(empty, tmp_path):
    n = 30000
    cmd = [sys.executable, "-c", KILLED_WRITER, str(empty), str(ROOT / "tests"), str(n)]
    # an undisturbed run on a copy tells how long a write takes
    probe = tmp_path / "probe.gpkg"
    shutil.copy(empty, probe)
    t0 = time.monotonic()
    subprocess.run(cmd[:3] + [str(probe)] + cmd[4:], check=True, env=_env(), capture_output=True, timeout=300)
    span = time.monotonic() - t0
    outcomes = set()
    for frac in (0.3, 0.5, 0.65, 0.75, 0.85, 0.92, 0.97):
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(span * frac)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        con = sqlite3.connect(empty)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT count(*) FROM unit_grids").fetchone()[0]
        rtree = con.execute("SELECT count(*) FROM rtree_unit_grids_geom").fetchone()[0]
        logged = con.execute("SELECT coalesce(sum(coalesce(fid_last - feature_fid + 1, 1)), 0) FROM edit_log "
                             "WHERE layer = 'unit_grids' AND action = 'insert'").fetchone()[0]
        con.close()
        assert rows in (0, n) and rtree == rows, (frac, rows, rtree)
        assert logged % n == 0
        outcomes.add(rows)
        project.Project.open(empty)  # still a project
    # the next writer cleans up what the killed ones left behind
    prj = project.Project.open(empty)
    with prj.transaction() as w:
        project.write_project_layer(w, "unit_grid", _grids(2))
    assert _count(empty, "unit_grids") == 2
    assert not list(empty.parent.glob(".p.stage-*"))
    assert 0 in outcomes  # at least one kill hit the operation before its commit


# ------------------------------------------------------------------------------------------------
# the lock

HOLDER = textwrap.dedent("""
    import sys, time
    from surveytools.store.lock import project_lock
    with project_lock(sys.argv[1], operation="grid divide"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_waits_then_fails_naming_the_holder_and_a_dead_holder_is_recovered(empty):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(empty)], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        prj = project.Project.open(empty)
        t0 = time.monotonic()
        with pytest.raises(SurveyError) as e:
            with prj.transaction(timeout=1.0) as w:
                project.write_project_layer(w, "unit_grid", _grids(1))
        assert 0.9 < time.monotonic() - t0 < 10
        msg = e.value.render()
        assert e.value.code == "project_locked"
        assert "grid divide" in msg and str(holder.pid) in msg and "进程" in msg and "pid" in msg
        assert _count(empty, "unit_grids") == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without releasing: the lock is free again
    with prj.transaction(timeout=5) as w:
        project.write_project_layer(w, "unit_grid", _grids(1))
    assert _count(empty, "unit_grids") == 1


def test_the_lock_timeout_comes_from_the_environment(empty, monkeypatch):
    from surveytools.store.lock import lock_timeout

    monkeypatch.setenv("SURVEYTOOLS_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5
    assert lock_timeout(7) == 7.0


def test_cli_lock_error_is_bilingual_exit_2(empty, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(empty)], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        csv = tmp_path / "x.csv"
        pd.DataFrame({"部件名称": ["路灯"], "lon": [117.2210], "lat": [28.2930]}).to_csv(csv, index=False)
        r = subprocess.run([sys.executable, "-m", "surveytools.cli", "components", "intake", str(empty), str(csv)],
                           env=_env(SURVEYTOOLS_LOCK_TIMEOUT=0.5), capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "项目库正由另一个写入操作占用" in r.stderr and "locked by another writer" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_two_concurrent_intakes_both_land_with_distinct_batches(lamps, tmp_path):
    """Issue 13's two writers: two `components intake` processes on one project at once."""
    p, csv = lamps
    cmd = [sys.executable, "-m", "surveytools.cli", "components", "intake", str(p), str(csv), "--json"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [pr.communicate(timeout=300) for pr in procs]
    assert [pr.returncode for pr in procs] == [0, 0], outs
    batches = [json.loads(o)["batch"] for o, _ in outs]
    assert batches[0] != batches[1]
    df = pyogrio.read_dataframe(str(p), layer="components_point", read_geometry=False)
    assert len(df) == 6 and df["ObjID"].is_unique
    assert sorted(set(df["BatchID"])) == sorted(batches)
    logged = pyogrio.read_dataframe(str(p), layer="intake_batches", read_geometry=False)
    assert sorted(logged["batch_id"]) == sorted(batches)


# ------------------------------------------------------------------------------------------------
# the edit log

def _gdal_functions(con):
    """The geometry functions GDAL registers on its SQLite connections (for a plain client)."""
    import shapely

    def geom(blob):
        if blob is None:
            return None
        b = bytes(blob)
        size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(b[3] >> 1) & 7]
        return shapely.from_wkb(b[8 + size:])

    con.create_function("ST_IsEmpty", 1, lambda b: None if b is None else int(geom(b).is_empty))
    for i, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        con.create_function(name, 1, lambda b, i=i: None if b is None else float(geom(b).bounds[i]))


def test_every_edit_is_logged_with_its_source_and_old_values(lamps):
    from surveytools.components.intake import intake
    from surveytools.ops import load_all
    from surveytools.store.log import state_at

    p, csv = lamps
    data = load_all()["components_intake"].call(project=str(p), source=str(csv)).data
    con = sqlite3.connect(p)
    # the layer was empty: written whole, its insert is one row for the fid range
    rng = con.execute("SELECT action, source, operation, batch, feature_fid, fid_last FROM edit_log "
                      "WHERE layer = 'components_point' ORDER BY fid").fetchall()
    assert rng == [("insert", "surveytools", "components intake", data["batch"], 1, 3)]
    rows = [(None, None, None, None, r[0]) for r in con.execute("SELECT ObjID FROM components_point ORDER BY fid")]
    before_edit = con.execute("SELECT max(time) FROM edit_log").fetchone()[0]
    time.sleep(0.01)
    # an edit from outside (QGIS, any SQL client): no operation session
    oid = rows[0][4]
    _gdal_functions(con)  # GDAL's R-tree triggers call them; QGIS and GDAL provide them (tests/qgis)
    con.execute("UPDATE components_point SET ObjName = '改过的名字' WHERE ObjID = ?", (oid,))
    con.execute("DELETE FROM components_point WHERE ObjID = ?", (rows[1][4],))
    con.commit()
    log = con.execute("SELECT action, source, operation, old_values, old_geom IS NOT NULL FROM edit_log "
                      "WHERE source = 'qgis edit' ORDER BY fid").fetchall()
    con.close()
    assert [r[0] for r in log] == ["update", "delete"]
    assert log[0][2] is None and json.loads(log[0][3])["ObjName"] == "路灯" and log[0][4] == 1
    # the state before the hand edits: three lamps with their old names
    attrs, wkb = state_at(project.Project.open(p), "component_point", before_edit)
    assert attrs.num_rows == 3 and sorted(attrs.column("ObjName").to_pylist()) == ["路灯"] * 3
    assert all(w is not None for w in wkb.to_pylist())
    # the documented SQL gives the same (plain SQLite: runs in any client)
    from surveytools.store.log import state_at_sql

    con = sqlite3.connect(p)
    sql_rows = con.execute(state_at_sql(con, "components_point"), {"t": before_edit}).fetchall()
    names = [r[1] for r in con.execute("PRAGMA table_info(components_point)") if r[1] not in ("fid", "geom")]
    con.close()
    assert [r[0] for r in sql_rows] == attrs.column("fid").to_pylist()
    assert [r[1 + names.index("ObjName")] for r in sql_rows] == attrs.column("ObjName").to_pylist()
    # and before the intake: nothing
    attrs, _ = state_at(project.Project.open(p), "component_point", "2000-01-01")
    assert attrs.num_rows == 0
    con = sqlite3.connect(p)
    assert con.execute(state_at_sql(con, "components_point"), {"t": "2000-01-01"}).fetchall() == []
    con.close()
    # a second intake of the same lamps is logged with its own batch
    second = intake(str(p), str(csv))
    con = sqlite3.connect(p)
    assert con.execute("SELECT count(*) FROM edit_log WHERE batch = ?", (second["batch"],)).fetchone()[0] >= 3
    con.close()


def test_rewriting_a_layer_logs_only_the_rows_that_changed(lamps):
    from surveytools.components.intake import intake
    from surveytools.project import read_layer, write_project_layer

    p, csv = lamps
    intake(str(p), str(csv))
    prj = project.Project.open(p)
    con = sqlite3.connect(p)
    n0 = con.execute("SELECT max(fid) FROM edit_log").fetchone()[0]
    fids0 = dict(con.execute("SELECT ObjID, fid FROM components_point"))
    con.close()
    pts = read_layer(prj, "component_point")
    changed = pts["ObjID"].iloc[0]
    pts.loc[pts.index[0], "ObjState"] = "破损"
    with prj.transaction() as w:
        write_project_layer(w, "component_point", pts)
    con = sqlite3.connect(p)
    log = con.execute("SELECT action, feature_id, json_extract(old_values, '$.ObjState') FROM edit_log WHERE fid > ? "
                      "ORDER BY fid", (n0,)).fetchall()
    fids1 = dict(con.execute("SELECT ObjID, fid FROM components_point"))
    states = dict(con.execute("SELECT ObjID, ObjState FROM components_point"))
    n_rtree = con.execute("SELECT count(*) FROM rtree_components_point_geom").fetchone()[0]
    con.close()
    # the changed row was updated in place: same fid, an update with its old value in the log
    assert [(a, i) for a, i, _ in log] == [("update", changed)]
    assert log[0][2] != "破损" and states[changed] == "破损"
    assert fids1 == fids0
    assert n_rtree == 3
    df = pyogrio.read_dataframe(str(p), layer="components_point")
    assert len(df) == 3 and df.geometry.notna().all()


PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")


@pytest.mark.skipif(not PG_URL, reason="SURVEYTOOLS_PG_URL is not set (no PostGIS server)")
def test_incremental_release_carries_an_edit_made_outside_surveytools(lamps):
    import psycopg

    from surveytools.components.intake import intake
    from surveytools.export.ops import db

    p, csv = lamps
    intake(str(p), str(csv))
    schema = "st_test_editlog"
    url = f"{PG_URL}?schema={schema}"
    time.sleep(1.1)  # release_time has whole seconds (an edit in the same second is re-sent: harmless)
    db(str(p), to=url)
    con = sqlite3.connect(p)
    _gdal_functions(con)
    oid = con.execute("SELECT ObjID FROM components_point ORDER BY fid LIMIT 1").fetchone()[0]
    time.sleep(1.1)  # release_time has whole seconds
    con.execute("UPDATE components_point SET ObjName = '手工改名' WHERE ObjID = ?", (oid,))
    con.commit()
    con.close()
    res = db(str(p), to=url, incremental=True)
    ch = res.data["tables"]["_changes"]["components_point"]
    assert ch == {"deleted": 1, "inserted": 1}
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        cur = pg.cursor()
        cur.execute(f'SELECT "ObjName" FROM {schema}.components_point WHERE "ObjID" = %s', (oid,))
        assert cur.fetchone()[0] == "手工改名"
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))


def test_a_rewrite_refuses_when_the_layer_was_edited_elsewhere_meanwhile(lamps):
    from surveytools.components.intake import intake
    from surveytools.project import read_layer, write_project_layer

    p, csv = lamps
    intake(str(p), str(csv))
    prj = project.Project.open(p)
    with pytest.raises(SurveyError) as e:
        with prj.transaction() as w:
            pts = read_layer(w, "component_point")
            pts["ObjState"] = "完好"
            # meanwhile someone saves an edit in QGIS
            con = sqlite3.connect(p)
            _gdal_functions(con)
            con.execute("UPDATE components_point SET ObjName = 'QGIS 里改的' WHERE fid = 1")
            con.commit()
            con.close()
            write_project_layer(w, "component_point", pts)
    assert e.value.code == "edited_meanwhile" and e.value.layer == "components_point"
    assert "QGIS" in e.value.render() and "nothing was changed" in e.value.render()
    con = sqlite3.connect(p)
    assert con.execute("SELECT ObjName FROM components_point WHERE fid = 1").fetchone()[0] == "QGIS 里改的"
    assert con.execute("SELECT count(*) FROM components_point WHERE ObjState = '完好'").fetchone()[0] == 0
    con.close()
    # adding records is not a rewrite: an intake still lands
    assert intake(str(p), str(csv))["imported"]["component_point"] == 3


def test_project_history_command_writes_the_layer_as_it_was(lamps, tmp_path, cli):
    from surveytools.components.intake import intake

    p, csv = lamps
    intake(str(p), str(csv))
    con = sqlite3.connect(p)
    before = con.execute("SELECT max(time) FROM edit_log").fetchone()[0]
    time.sleep(0.01)
    _gdal_functions(con)
    con.execute("DELETE FROM components_point WHERE fid = 2")
    con.commit()
    con.close()
    out = tmp_path / "then.gpkg"
    rc, stdout, err = cli(["project", "history", p, "--at", before, "--out", out, "--json"])
    assert rc == 0, err
    assert json.loads(stdout)["features"] == 3
    then = pyogrio.read_dataframe(str(out), layer="components_point")
    assert len(then) == 3 and then.geometry.notna().all() and set(then["ObjName"]) == {"路灯"}
    rc, stdout, _ = cli(["project", "history", p, "--at", "2000-01-01", "--out", tmp_path / "empty.gpkg", "--json"])
    assert rc == 0 and json.loads(stdout)["features"] == 0
