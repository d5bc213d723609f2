"""A corpus of failures caused by the environment, run through the CLI: read-only output folders, a folder
where a file is expected, a missing or file parent, a full disk.  Every case must exit 2 (never 3, the
code for our own bugs) with a bilingual message naming the path, print no traceback, leave no temporary
file and change no existing output.

Read-only folders and full disks are real: a tmpfs mounted read-only, or 1 MB in size (as root, as in
the test machine); without root a chmod 555 folder stands in for the read-only one and the full-disk cases
are skipped."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from export_fixture import assigned

ROOT = Path(__file__).resolve().parents[1]


def _run(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SURVEYTOOLS_DEBUG", None)
    return subprocess.run([sys.executable, "-c", "from surveytools.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def _mount(path: Path, opts: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only_dir(tmp_path: Path, content: Path | None = None):
    """A read-only folder (holding a copy of ``content`` when given)."""
    d = tmp_path / "ro"
    if _mount(d, "size=64m"):
        try:
            if content is not None:
                shutil.copyfile(content, d / content.name)
            subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True, capture_output=True)
            yield d
        finally:
            _umount(d)
        return
    if os.geteuid() == 0:
        pytest.skip("cannot mount a read-only tmpfs")
    d.mkdir()
    if content is not None:
        shutil.copyfile(content, d / content.name)
    d.chmod(0o555)
    try:
        yield d
    finally:
        d.chmod(0o755)


@contextlib.contextmanager
def full_disk(tmp_path: Path, size: str = "1m"):
    d = tmp_path / "full"
    if not _mount(d, f"size={size}"):
        pytest.skip("a tiny tmpfs needs root (mount -t tmpfs -o size=1m)")
    try:
        yield d
    finally:
        _umount(d)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until only ``leave`` bytes are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    if free > leave:
        with open(folder / "filler.bin", "wb") as f:
            f.write(b"\0" * (free - leave))


def _check(res, path, code=2):
    text = res.stdout + res.stderr
    assert res.returncode == code, text
    assert "Traceback" not in text and "内部错误" not in text and "Internal error" not in text, text
    assert str(path) in res.stderr, (str(path), res.stderr)
    assert "错误" in res.stderr and "Error" in res.stderr, res.stderr  # Chinese and English


def _no_temp(folder: Path):
    left = [p.name for p in folder.rglob("*") if ".tmp" in p.name or "~st-" in p.name]
    assert not left, left


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    src, _info, _ = assigned()
    d = tmp_path_factory.mktemp("corpus")
    p = d / "p.gpkg"
    shutil.copyfile(src, p)
    return p


# ----------------------------------------------------------------------------------------------
# read-only output folders

@pytest.mark.parametrize("case", ["validate", "export db", "export manual", "export files", "geocode batch",
                                  "project init", "components template", "departments export"])
def test_read_only_output_folder(project, tmp_path, case):
    before = _digest(project)
    with read_only_dir(tmp_path) as ro:
        args, named = {
            "validate": (["validate", project, "--out", ro / "qc", "--no-write-project"], ro / "qc"),
            "export db": (["export", "db", project, "--to", ro / "release.gpkg"], ro),
            "export manual": (["export", "manual", project, "--out", ro / "manual", "--formats", "xlsx"], ro),
            "export files": (["export", "files", project, "--format", "csv", "--out", ro / "files"], ro),
            "geocode batch": (["geocode", "batch", project, ROOT / "sample_data/guixi/survey/events.csv", "--column",
                               "Address", "--out", ro / "g.csv"], None),
            "project init": (["project", "init", ro / "new.gpkg", "--county", "360681"], ro),
            "components template": (["components", "template", ro / "t.xlsx", "--classes", "0101"], ro),
            "departments export": (["responsibility", "departments", project, "--export", ro / "d.xlsx"], ro),
        }[case]
        res = _run(*args)
        if case == "geocode batch":  # this project has no address base: refused before any output
            assert res.returncode == 2, res.stderr
        else:
            _check(res, named)
        assert list(ro.iterdir()) == []
    assert _digest(project) == before


def test_project_in_a_read_only_folder(project, tmp_path):
    """A change to a project in a read-only folder (the transaction's copy cannot be made) is exit 2
    naming the project; reading it still works."""
    with read_only_dir(tmp_path, content=project) as ro:
        p = ro / project.name
        before = _digest(p)
        res = _run("validate", p, "--out", tmp_path / "qc")
        _check(res, p)
        assert _digest(p) == before
        res = _run("project", "info", p)  # reading: works, or (a WAL-mode file) says the folder is read-only
        assert res.returncode == 0 or ("只读" in res.stderr and "read-only" in res.stderr and str(p) in res.stderr), res.stderr


# ----------------------------------------------------------------------------------------------
# a folder where a file is expected, and the reverse

def test_to_names_a_directory(project, tmp_path):
    d = tmp_path / "release.gpkg"
    d.mkdir()
    (d / "keep.txt").write_text("mine")
    res = _run("export", "db", project, "--to", d)
    _check(res, d)
    assert "文件夹" in res.stderr and "folder" in res.stderr
    assert (d / "keep.txt").read_text() == "mine"
    for args, named in ((["geocode", "batch", project, ROOT / "sample_data/guixi/survey/events.csv", "--column", "Address",
                          "--out", tmp_path / "g.csv"], tmp_path / "g.csv"),
                        (["components", "template", tmp_path / "t.xlsx", "--classes", "0101"], tmp_path / "t.xlsx"),
                        (["responsibility", "departments", project, "--export", tmp_path / "d.xlsx"], tmp_path / "d.xlsx")):
        named.mkdir()
        res = _run(*args)
        if args[0] != "geocode":
            _check(res, named)
        else:
            assert res.returncode == 2
    _no_temp(tmp_path)


def test_out_folder_is_a_file_or_parent_is_a_file(project, tmp_path):
    f = tmp_path / "qc"
    f.write_text("a file, not a folder")
    _check(_run("validate", project, "--out", f, "--no-write-project"), f)
    _check(_run("export", "manual", project, "--out", f, "--formats", "xlsx"), f)
    _check(_run("export", "files", project, "--format", "csv", "--out", f), f)
    assert f.read_text() == "a file, not a folder"
    _check(_run("export", "db", project, "--to", f / "release.gpkg"), f)
    _check(_run("export", "db", project, "--to", tmp_path / "missing" / "release.gpkg"), tmp_path / "missing")


def test_a_file_inside_the_out_folder_is_a_folder(project, tmp_path):
    out = tmp_path / "manual"
    (out / "manual.xlsx").mkdir(parents=True)
    res = _run("export", "manual", project, "--out", out, "--formats", "xlsx")
    _check(res, out / "manual.xlsx")
    _no_temp(tmp_path)


# ----------------------------------------------------------------------------------------------
# a full disk (ENOSPC)

@pytest.mark.parametrize("case", ["export db", "validate", "export manual", "export files"])
def test_full_disk(project, tmp_path, case):
    before = _digest(project)
    with full_disk(tmp_path) as full:
        old = full / "release.gpkg"
        old.write_bytes(b"SQLite format 3\x00" + b"\x00" * 1000)  # an earlier output that must survive
        _fill(full, leave=48 * 1024)
        args, named = {
            "export db": (["export", "db", project, "--to", full / "release.gpkg", "--replace-foreign"], full / "release.gpkg"),
            "validate": (["validate", project, "--out", full / "qc", "--no-write-project"], full / "qc"),
            "export manual": (["export", "manual", project, "--out", full / "manual", "--formats", "xlsx,html"], full / "manual"),
            "export files": (["export", "files", project, "--format", "shp", "--out", full / "files"], full / "files"),
        }[case]
        res = _run(*args)
        _check(res, named)
        assert "磁盘" in res.stderr and "disk" in res.stderr.lower(), res.stderr
        assert old.read_bytes()[:16] == b"SQLite format 3\x00" and old.stat().st_size == 1016
        _no_temp(full)
    assert _digest(project) == before


def test_full_disk_under_a_project_change(project, tmp_path):
    """The project's copy-on-write copy does not fit: exit 2 naming the project, the project unchanged."""
    size = project.stat().st_size
    with full_disk(tmp_path, size=f"{int(size * 1.5) // 1024}k") as full:
        p = full / project.name
        shutil.copyfile(project, p)
        _fill(full, leave=48 * 1024)
        before = _digest(p)
        res = _run("validate", p, "--out", tmp_path / "qc")
        _check(res, p)
        assert _digest(p) == before
        _no_temp(full)


def test_environment_error_mapping():
    """The central mapping itself: OS errors by errno, library errors by their text, others not."""
    import errno
    import sqlite3

    from surveytools.errors import environment_error

    e = environment_error(PermissionError(errno.EACCES, "Permission denied", "/x/y"))
    assert e.code == "permission_denied" and e.file == "/x/y" and e.exit_code == 2
    e = environment_error(OSError(errno.ENOSPC, "No space left on device"), path="/out/r.gpkg")
    assert e.code == "disk_full" and e.file == "/out/r.gpkg"
    e = environment_error(sqlite3.OperationalError("database or disk is full"), path="/p.gpkg")
    assert e.code == "disk_full" and e.file == "/p.gpkg"
    e = environment_error(IsADirectoryError(errno.EISDIR, "Is a directory", "/d"))
    assert e.code == "is_a_directory" and e.file == "/d"
    assert environment_error(ValueError("bad value")) is None
    assert environment_error(KeyError("x")) is None
    assert environment_error(FileNotFoundError(errno.ENOENT, "No such file", "/nope")) is None  # may be our bug


def test_a_10000_digit_number_in_an_address_is_no_internal_error(tmp_path):
    """A run of digits too long to be a door number is simply no door number (it used to be exit 3)."""
    import json

    res = _run("geocode", "parse", "贵溪市雄石路" + "9" * 10000 + "号", "--json")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    el = json.loads(res.stdout)["elements"]
    assert el["road"] == "雄石路" and el["number"] is None
    res = _run("geocode", "parse", "贵溪市雄石路12-14号3单元5层", "--json")
    el = json.loads(res.stdout)["elements"]
    assert (el["number"], el["number_end"], el["unit"], el["floor"]) == (12, 14, 3, 5)


@pytest.mark.parametrize("value", ["abc", ".nan", "[1, 2]", "true"])
def test_a_scheme_parameter_of_the_wrong_type(project, tmp_path, value):
    scheme = tmp_path / "scheme.yaml"
    scheme.write_text("id: bad\nprofile: cjt\nsteps:\n  - {rule: geometry.extent, params: {tolerance_m: " + value + "}}\n",
                      encoding="utf-8")
    res = _run("validate", project, "--out", tmp_path / "qc", "--scheme", scheme, "--no-write-project")
    _check(res, scheme)
    assert "tolerance_m" in res.stderr and "number" in res.stderr
    assert not (tmp_path / "qc").exists()
