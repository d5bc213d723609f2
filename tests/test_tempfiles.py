"""Leftovers of killed runs are removed by the next run on the same target; a live writer's temporary file is
never touched; no temporary path is ever stored; and GBK exports report every value GBK cannot hold."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from export_fixture import assigned

from surveytools import tempfiles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    src, _info, _ = assigned()
    d = tmp_path_factory.mktemp("tempfiles")
    p = d / "p.gpkg"
    shutil.copyfile(src, p)
    return p


def _leftovers(folder: Path, target: str):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{target}.~st-"))


def test_names_say_whose_they_are(tmp_path):
    t = tmp_path / "release.gpkg"
    p = tempfiles.temp_path(t, ".gpkg")
    assert p.parent == tmp_path and p.name.startswith(".release.gpkg.~st-") and f"-{os.getpid()}-" in p.name
    assert p.name.endswith(".tmp.gpkg")


def test_dead_writer_removed_live_writer_kept(tmp_path):
    target = tmp_path / "out.gpkg"
    # a writer that is gone: a child that made its temp file and was killed
    code = ("import sys, time; from surveytools.tempfiles import temp_path; p = temp_path(sys.argv[1], '.gpkg'); "
            "p.write_bytes(b'x' * 1000); open(str(p) + '-wal', 'wb').write(b'w'); print(p, flush=True); time.sleep(60)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    dead = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    dead_path = Path(dead.stdout.readline().strip())
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    assert dead_path.exists() and Path(str(dead_path) + "-wal").exists()
    # a writer still running: making its own temporary path removed the dead writer's leftovers
    live = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    live_path = Path(live.stdout.readline().strip())
    assert not dead_path.exists() and not Path(str(dead_path) + "-wal").exists()
    # pid reuse: a leftover named after a live process that started after the file was written (pid 1, file from 1970)
    reused = tmp_path / tempfiles.temp_name("out.gpkg", ".gpkg").replace(f"-{os.getpid()}-", "-1-")
    reused.write_bytes(b"r")
    os.utime(reused, (1000, 1000))
    # another target's leftover and a user's file that merely looks alike are not touched
    other = tmp_path / tempfiles.temp_name("other.gpkg", ".gpkg")
    other.write_bytes(b"o")
    os.utime(other, (1000, 1000))
    mine = tmp_path / ".out.gpkg.notes.txt"
    mine.write_text("user")
    try:
        removed = tempfiles.clean_stale(target)
        assert set(removed) == {reused}
        assert live_path.exists() and other.exists() and mine.exists()
    finally:
        live.kill()
        live.wait()
    assert set(tempfiles.clean_stale(target)) == {live_path, Path(str(live_path) + "-wal")}


def test_killed_export_is_cleaned_by_the_next_run(project, tmp_path):
    """kill -9 in the middle of a real export: its temporary GeoPackage stays; the next export on the same
    target removes it (and the target is a complete release)."""
    out = tmp_path / "release.gpkg"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", "from surveytools.cli import main; main()", "export", "db",
                             str(project), "--to", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not _leftovers(tmp_path, "release.gpkg") and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _leftovers(tmp_path, "release.gpkg")
    if not left:
        pytest.skip("the export finished before it could be killed")
    assert not out.exists()
    from surveytools.export.ops import db

    db(str(project), to=str(out))
    assert _leftovers(tmp_path, "release.gpkg") == []
    assert out.exists()


def test_validation_summary_stores_the_project_path(project, tmp_path):
    import pyogrio

    from surveytools.errors import SurveyError
    from surveytools.validate.ops import run

    try:
        run(str(project), out=str(tmp_path / "qc"))
    except SurveyError as e:  # the sample project fails validation: the tables are written all the same
        assert e.code == "validation_failed" or "FAIL" in e.message.en
    s = pyogrio.read_dataframe(project, layer="validation_summary", read_geometry=False)
    stored = dict(zip(s["key"], s["value"]))["project"]
    assert stored == str(project) and "~st-" not in stored and ".tmp" not in stored
    assert _leftovers(project.parent, project.name) == []


# ----------------------------------------------------------------------------------------------
# GBK

def test_gbk_export_reports_every_value_gbk_cannot_hold(project, cli, tmp_path):
    import csv

    import pyogrio

    from surveytools import project as P

    p = tmp_path / "gbk.gpkg"
    shutil.copyfile(project, p)
    proj = P.Project.open(p)
    pts = pyogrio.read_dataframe(p, layer="components_point")
    emoji, extb = "井盖破损😀请修", "𠀀𪚥地块"  # an emoji; CJK Extension B characters
    pts.loc[pts.index[3], "Note"] = emoji
    pts.loc[pts.index[5], "ObjName"] = extb
    with proj.transaction() as work:
        P.write_project_layer(work, "component_point", pts)
    rc, so, se = cli(["export", "files", p, "--format", "shp", "--out", tmp_path / "shp"])
    assert rc == 0, se
    assert "unencodable_values.csv" in so + se and "--encoding utf-8" in so + se and "2 " in so + se
    with open(tmp_path / "shp" / "unencodable_values.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    got = {(r["table"], r["feature"], r["field"], r["value"]) for r in rows}
    assert got == {("components_point", "4", "Note", emoji), ("components_point", "6", "ObjName", extb)}
    assert all(r["id_field"] == "ObjID" and r["id"] for r in rows)
    assert "U+1F600" in next(r["characters"] for r in rows if r["field"] == "Note")
    shp = pyogrio.read_dataframe(tmp_path / "shp" / "components_point.shp", encoding="GBK")
    assert shp["Note"].iloc[3] == "井盖破损?请修"  # replaced visibly, not dropped
    # UTF-8 keeps them and reports nothing
    rc, so, se = cli(["export", "files", p, "--format", "shp", "--encoding", "utf-8", "--out", tmp_path / "utf8"])
    assert rc == 0 and not (tmp_path / "utf8" / "unencodable_values.csv").exists()
    shp = pyogrio.read_dataframe(tmp_path / "utf8" / "components_point.shp")
    assert shp["Note"].iloc[3] == emoji and shp["ObjName"].iloc[5] == extb
    # CSV in GBK: the same report, no crash
    rc, so, se = cli(["export", "files", p, "--format", "csv", "--encoding", "gbk", "--out", tmp_path / "csv", "--json"])
    assert rc == 0, se
    import json

    assert len(json.loads(so)["unencodable"]) == 2
