"""Two SQLite libraries in one process: Python's ``sqlite3`` (the system libsqlite3) and the SQLite
inside the pyogrio wheel's GDAL.  POSIX fcntl locks belong to the process, and closing any file
descriptor of a file drops all of the process's locks on it; SQLite's unix VFS only guards against
that within one library.  So while a ``sqlite3`` connection to a file is open, GDAL must not open
(and later close) the same file in the same process, and the reverse: the closing library drops
the other's locks, and in WAL mode may checkpoint and delete the ``-wal``/``-shm`` the other still
uses.

The guard: the demo pipeline (scripts/demo.sh's commands and a few more: intake, validate, export
db to GeoPackage, field package + return, acceptance, …) runs in-process with every ``sqlite3``
connection tracked (its main file and the files it attaches, until it is closed or collected) and
every GDAL entry point of pyogrio (read, open_arrow while its stream is open, write, write_arrow,
list_layers, read_info, read_bounds) tracked; it fails on any moment where both libraries have the
same file open.  The detector itself is tested on deliberate overlaps in both directions.
"""
from __future__ import annotations

import collections
import contextlib
import os
import re
import sqlite3
import threading
import traceback
import weakref
from pathlib import Path

import pytest

_ATTACH = re.compile(r"^\s*ATTACH\s+(?:DATABASE\s+)?(\?|'(?:[^']|'')*')\s+AS\s+\"?(\w+)\"?", re.I)
_DETACH = re.compile(r"^\s*DETACH\s+(?:DATABASE\s+)?\"?(\w+)\"?", re.I)


def _real(name) -> str | None:
    """The real path of a database name or GDAL path, None for memory, buffers and /vsi paths."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name or name == ":memory:" or name.startswith("/vsi"):
        return None
    if name.startswith("file:"):
        name = name[5:].split("?", 1)[0]
        if "mode=memory" in name or not name:
            return None
    return os.path.realpath(name)


class TwoLibraryTracker:
    """Records every moment when a ``sqlite3`` connection and GDAL have the same file open."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sqlite: dict = {}  # id -> {alias: real path}
        self.sqlite_where: dict = {}  # id -> where it was opened
        self.gdal: dict = {}  # token -> (real path, what, where)
        self.overlaps: list = []
        self.opened: collections.Counter = collections.Counter()  # (library, real path) -> opens

    # -- sqlite3 side ---------------------------------------------------------------------------
    def _open_sqlite(self, con, path) -> None:
        where = "".join(traceback.format_stack(limit=8)[:-2])
        with self.lock:
            self.sqlite[id(con)] = {"main": path}
            self.opened[("sqlite3", path)] += 1
            self.sqlite_where[id(con)] = where
            for p, what, gwhere in self.gdal.values():
                if p == path:
                    self.overlaps.append(f"sqlite3.connect({path}) while GDAL ({what}) has it open\n"
                                         f"GDAL opened it at:\n{gwhere}\nsqlite3 opened it at:\n{where}")
        weakref.finalize(con, self._closed, id(con))

    def _closed(self, key) -> None:
        with self.lock:
            self.sqlite.pop(key, None)
            self.sqlite_where.pop(key, None)

    def _attach(self, con, alias, path) -> None:
        if path is None:
            return
        with self.lock:
            if id(con) in self.sqlite:
                self.sqlite[id(con)][alias] = path
                self.opened[("sqlite3", path)] += 1
            for p, what, gwhere in self.gdal.values():
                if p == path:
                    self.overlaps.append(f"ATTACH {path} while GDAL ({what}) has it open\nGDAL opened it at:\n{gwhere}")

    def _detach(self, con, alias) -> None:
        with self.lock:
            self.sqlite.get(id(con), {}).pop(alias, None)

    # -- GDAL side ------------------------------------------------------------------------------
    def _gdal_enter(self, path, what):
        p = _real(path)
        if p is None:
            return None
        where = "".join(traceback.format_stack(limit=10)[:-3])
        token = object()
        with self.lock:
            for key, files in self.sqlite.items():
                if p in files.values():
                    self.overlaps.append(f"GDAL {what}({p}) while a sqlite3 connection to it is open\n"
                                         f"sqlite3 opened it at:\n{self.sqlite_where.get(key)}\nGDAL call at:\n{where}")
            self.gdal[token] = (p, what, where)
            self.opened[("gdal", p)] += 1
        return token

    def _gdal_exit(self, token) -> None:
        if token is not None:
            with self.lock:
                self.gdal.pop(token, None)

    # -- installing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def installed(self, monkeypatch):
        import pyogrio.core as core
        import pyogrio.raw as raw

        tracker = self

        class Tracked(sqlite3.Connection):
            def execute(self, sql, *args, **kw):
                m = _ATTACH.match(sql) if isinstance(sql, str) else None
                cur = super().execute(sql, *args, **kw)
                if m:
                    target = m.group(1)
                    if target == "?":
                        params = args[0] if args else kw.get("parameters", ())
                        target = params[0] if params else None
                    else:
                        target = target[1:-1].replace("''", "'")
                    tracker._attach(self, m.group(2), _real(target))
                elif isinstance(sql, str) and (d := _DETACH.match(sql)):
                    tracker._detach(self, d.group(1))
                return cur

            def close(self):
                tracker._closed(id(self))
                super().close()

        real_connect = sqlite3.connect

        def connect(database, *args, **kw):
            kw.setdefault("factory", Tracked)
            con = real_connect(database, *args, **kw)
            path = _real(database) if not (isinstance(database, str) and database.startswith("file:")
                                           and not kw.get("uri")) else None
            if path is not None and isinstance(con, Tracked):
                tracker._open_sqlite(con, path)
            return con

        monkeypatch.setattr(sqlite3, "connect", connect)

        def call(fn, what):
            def wrapped(path, *a, **kw):
                token = tracker._gdal_enter(path, what)
                try:
                    return fn(path, *a, **kw)
                finally:
                    tracker._gdal_exit(token)
            return wrapped

        def stream(fn):
            @contextlib.contextmanager
            def wrapped(path, *a, **kw):
                token = tracker._gdal_enter(path, "open_arrow")
                try:
                    with fn(path, *a, **kw) as s:
                        yield s
                finally:
                    tracker._gdal_exit(token)
            return wrapped

        for mod, name in ((raw, "ogr_read"), (raw, "ogr_write"), (raw, "ogr_write_arrow"),
                          (core, "ogr_list_layers"), (core, "ogr_read_info"), (core, "ogr_read_bounds")):
            monkeypatch.setattr(mod, name, call(getattr(mod, name), name[4:]))
        monkeypatch.setattr(raw, "ogr_open_arrow", stream(raw.ogr_open_arrow))
        yield self


@pytest.fixture
def tracker(monkeypatch):
    t = TwoLibraryTracker()
    with t.installed(monkeypatch):
        yield t


def _small_gpkg(path: Path) -> Path:
    import geopandas as gpd
    from shapely.geometry import Point

    gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=4490).to_file(path, layer="pts")
    return path


def test_the_guard_sees_gdal_touching_a_file_a_sqlite3_connection_holds(tracker, tmp_path):
    import pyogrio

    p = _small_gpkg(tmp_path / "a.gpkg")
    assert tracker.overlaps == []
    con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    con.execute("SELECT count(*) FROM pts").fetchone()
    pyogrio.read_info(p, layer="pts")
    assert len(tracker.overlaps) == 1 and "read_info" in tracker.overlaps[0]
    con.close()
    pyogrio.read_info(p, layer="pts")
    pyogrio.read_dataframe(p, layer="pts")
    assert len(tracker.overlaps) == 1  # closed first: no overlap


def test_the_guard_sees_a_connection_left_to_the_garbage_collector_and_an_attached_file(tracker, tmp_path):
    import pyogrio

    p, q = _small_gpkg(tmp_path / "a.gpkg"), _small_gpkg(tmp_path / "b.gpkg")

    def leaks():
        con = sqlite3.connect(str(p))
        con.execute("SELECT 1")
        return con  # not closed

    kept = leaks()
    pyogrio.list_layers(p)
    assert len(tracker.overlaps) == 1
    del kept  # collected: the file is no longer held
    pyogrio.list_layers(p)
    con = sqlite3.connect(":memory:")
    con.execute("ATTACH DATABASE ? AS other", (str(q),))
    pyogrio.read_arrow(q, layer="pts")
    assert len(tracker.overlaps) == 2
    con.execute("DETACH DATABASE other")
    pyogrio.read_arrow(q, layer="pts")
    con.close()
    assert len(tracker.overlaps) == 2


def test_the_guard_sees_sqlite3_opening_a_file_while_a_gdal_stream_is_open(tracker, tmp_path):
    import pyogrio

    p = _small_gpkg(tmp_path / "a.gpkg")
    with pyogrio.open_arrow(p, layer="pts", use_pyarrow=True) as (_meta, reader):
        con = sqlite3.connect(str(p))
        con.close()
        reader.read_all()
    assert len(tracker.overlaps) == 1 and "open_arrow" in tracker.overlaps[0]
    con = sqlite3.connect(str(p))
    con.close()
    assert len(tracker.overlaps) == 1


def test_the_demo_pipeline_never_has_one_file_open_in_both_sqlite_libraries(tracker, tmp_path, monkeypatch,
                                                                               components_grid_project):
    """The pipeline with the large-data paths taken on the small sample (every vector delivery
    streamed, validation in chunks), plus an intake into an empty layer (written in place by the
    helper process) of a delivery stored in the project file itself (loaded there in QGIS)."""
    import shutil

    import pyogrio
    from test_pipeline_backends import M, S, _pipeline

    from surveytools.components.intake import intake

    monkeypatch.setenv("SURVEYTOOLS_STREAM_MIN", "1")
    monkeypatch.setenv("SURVEYTOOLS_VALIDATE_CHUNK_ROWS", "3000")
    project = tmp_path / "guixi.gpkg"
    steps = _pipeline(str(project), tmp_path / "out")
    failed = {n: s["stderr"][-1500:] for n, s in steps.items() if s["exit"] not in (0, 2) or (s["exit"] == 2 and n != "validate")}
    assert not failed, f"pipeline steps failed: {failed}"
    fresh = tmp_path / "fresh.gpkg"
    shutil.copy(components_grid_project, fresh)
    meta, t = pyogrio.read_arrow(S / "components_a.gpkg", layer="points")
    pyogrio.write_arrow(t, fresh, layer="raw_delivery", driver="GPKG", geometry_name=meta["geometry_name"] or "geom",
                        geometry_type="Point", crs=meta["crs"])
    res = intake(str(fresh), f"{fresh}:raw_delivery", mapping=str(M / "components_a.yaml"))
    assert sum(res["imported"].values()) == 12480
    assert not tracker.overlaps, (f"{len(tracker.overlaps)} moments with one file open in both SQLite libraries:\n\n"
                                  + "\n\n".join(tracker.overlaps[:5]))
    # not vacuous: both libraries opened the project many times …
    real = os.path.realpath(project)
    assert tracker.opened[("sqlite3", real)] > 10 and tracker.opened[("gdal", real)] > 10, tracker.opened
    # … and the other GeoPackages the pipeline writes and keeps (release, field package, QC errors)
    both = {p for (lib, p) in tracker.opened if lib == "sqlite3" and ("gdal", p) in tracker.opened}
    assert len(both) >= 4, "\n".join(f"{k}: {v}" for k, v in sorted(tracker.opened.items()))
