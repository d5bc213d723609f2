"""The project store is the only way into a project: no module outside ``surveytools/store``
opens a project's path with pyogrio, sqlite3 or psycopg.

The check is syntactic: a call of ``pyogrio.*``, ``sqlite3.connect``, ``sqlite_connect`` or
``psycopg.connect`` whose first argument is the ``.path`` of a project object (``proj``,
``project``, ``work`` …).  ``ALLOWED`` is the explicit allow-list of modules still doing so; it
is empty and may only stay so (a module that needs a new kind of access adds it to the store).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "surveytools"
PROJECT_NAMES = {"proj", "project", "work", "p", "self.proj", "self.project", "prj", "ctx"}
OPENERS = {("pyogrio", None), ("sqlite3", "connect"), ("psycopg", "connect")}
#: module -> number of direct opens of a project path still allowed (none left)
ALLOWED = {}


def _opener(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id in ("sqlite_connect",)
    if isinstance(f, ast.Attribute):
        base = f.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if isinstance(base, ast.Name):
            return (base.id, None) in OPENERS or (base.id, f.attr) in OPENERS
    return False


def _is_project_path(node) -> bool:
    text = ast.unparse(node)
    for name in PROJECT_NAMES:
        if f"{name}.path" in text.replace("str(", "").replace(")", ""):
            return True
    return False


def direct_opens() -> dict:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("surveytools/store/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        n = 0
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _opener(node) and node.args and _is_project_path(node.args[0]):
                n += 1
        if n:
            out[rel] = n
    return out


def test_no_module_outside_the_store_opens_a_project_path_except_the_shrinking_allow_list():
    found = direct_opens()
    new = {m: n for m, n in found.items() if n > ALLOWED.get(m, 0)}
    assert not new, f"open the project through surveytools.store instead: {new}"
    stale = sorted(m for m in ALLOWED if m not in found)
    assert not stale, f"remove from ALLOWED (migrated): {stale}"


def test_the_check_sees_a_direct_open():
    src = "import pyogrio\ndef f(proj):\n    return pyogrio.read_dataframe(str(proj.path), layer='x')\n"
    call = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call) and _opener(n))
    assert _is_project_path(call.args[0])


# ------------------------------------------------------------------------------------------------
# no file-path operations on a project's address: a PostGIS project (postgresql://…?schema=…) has no
# folder, stem or suffix; what operations need of that kind comes from the store (project_folder,
# project_name, change_stamp, is_project_file)

#: file-path operations: Path/os.path calls and pathlib attributes
PATH_CALLS = {"Path", "PurePath", "open"}
OS_PATH = {"exists", "isfile", "isdir", "getmtime", "getsize", "dirname", "basename", "splitext", "abspath",
           "realpath"}
PATH_ATTRS = {"parent", "stem", "suffix", "name", "with_suffix", "with_name", "exists", "is_file", "resolve",
              "stat", "unlink", "open", "read_bytes", "parents"}
#: module -> number of file-path operations on a project's address still allowed: the GeoPackage side
#: of Project.open and of the transaction (their PostGIS side dispatches before)
PATH_ALLOWED = {"surveytools/project.py": 3}


def _strip_str(node):
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" and node.args:
        node = node.args[0]
    return node


def _is_project_address(node) -> bool:
    """``proj.path``, ``work.path``, ``self.path`` of a Project … (exactly, str() around it allowed)."""
    node = _strip_str(node)
    return isinstance(node, ast.Attribute) and node.attr == "path" and \
        ast.unparse(node.value) in PROJECT_NAMES | {"self", "rel.proj", "release.proj"}


def _path_ops(tree, module: str) -> int:
    n = 0
    in_project_class = set()
    if module == "surveytools/project.py":  # self.path is a project's address only in Project's methods
        for node in ast.walk(tree):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and (
                    getattr(node, "name", "") in ("Project", "_transaction", "_lock")):
                in_project_class |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        hit = None
        if isinstance(node, ast.Call) and node.args:
            f = node.func
            if isinstance(f, ast.Name) and f.id in PATH_CALLS:
                hit = node.args[0]
            elif isinstance(f, ast.Attribute) and f.attr in OS_PATH and ast.unparse(f.value) == "os.path":
                hit = node.args[0]
        elif isinstance(node, ast.Attribute) and node.attr in PATH_ATTRS:
            hit = node.value
        elif isinstance(node, ast.JoinedStr):  # f"{proj.path}-wal": a sidecar file name
            vals = [v for v in node.values if isinstance(v, ast.FormattedValue)]
            if len(node.values) > 1 and any(_is_project_address(v.value) for v in vals) and any(
                    isinstance(v, ast.Constant) and str(v.value).startswith(("-", ".")) for v in node.values):
                hit = next(v.value for v in vals if _is_project_address(v.value))
        if hit is None or not _is_project_address(hit):
            continue
        if ast.unparse(_strip_str(hit)).startswith("self.") and module != "surveytools/project.py":
            if ast.unparse(_strip_str(hit)) == "self.path":
                continue  # self.path of another class (a source file, a context …)
        if ast.unparse(_strip_str(hit)) == "self.path" and id(node) not in in_project_class:
            continue
        n += 1
    return n


def path_operations() -> dict:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("surveytools/store/"):
            continue
        n = _path_ops(ast.parse(path.read_text(encoding="utf-8")), rel)
        if n:
            out[rel] = n
    return out


def test_no_module_treats_a_project_address_as_a_file_path():
    found = path_operations()
    new = {m: n for m, n in found.items() if n > PATH_ALLOWED.get(m, 0)}
    assert not new, f"ask surveytools.store (project_folder, project_name, change_stamp, is_project_file): {new}"
    stale = sorted(m for m in PATH_ALLOWED if m not in found)
    assert not stale, f"remove from PATH_ALLOWED (migrated): {stale}"


@pytest.mark.parametrize("src", [
    "def f(proj):\n    return Path(proj.path).parent\n",
    "def f(work):\n    return work.path.stem\n",
    "import os\ndef f(proj):\n    return os.path.getmtime(str(proj.path))\n",
    "def f(proj):\n    return f'{proj.path}-wal'\n",
    "def f(project):\n    return project.path.with_suffix('.qgz')\n",
    "def f(rel, p):\n    return p.resolve() == Path(rel.proj.path).resolve()\n",
])
def test_the_check_sees_a_path_operation(src):
    assert _path_ops(ast.parse(src), "surveytools/x.py") == 1


@pytest.mark.parametrize("src", [
    "def f(proj):\n    return store.read_arrow(proj.path, 'x')\n",
    "def f(proj):\n    return f'project {proj.path}'\n",
    "class S:\n    def f(self):\n        return Path(self.path).stem\n",
    "def f(source):\n    return Path(source.path).stem\n",
])
def test_the_check_leaves_reads_through_the_store_and_other_paths_alone(src):
    assert _path_ops(ast.parse(src), "surveytools/x.py") == 0


def test_the_project_folder_and_name_of_both_backends(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from surveytools import store
    from surveytools.components.mapping import proposal_path
    from surveytools.field.photos import photo_folder

    g = SimpleNamespace(path=tmp_path / "city.gpkg", meta={})
    assert store.project_folder(g) == tmp_path and store.project_name(g) == "city"
    assert photo_folder(g) == tmp_path / "city_photos"
    assert proposal_path(g, "/x/lamps.csv") == tmp_path / "city.mapping-lamps.yaml"
    (tmp_path / "city.gpkg").write_bytes(b"")
    assert store.is_project_file(g, tmp_path / "." / "city.gpkg") and not store.is_project_file(g, tmp_path / "o.gpkg")

    uri = "postgresql://staff@db.example:5433/cities?schema=guixi"
    shared = tmp_path / "share"
    pg = SimpleNamespace(path=uri, meta={"folder": str(shared)})
    assert store.project_name(pg) == "guixi" and store.project_folder(pg) == shared and shared.is_dir()
    assert photo_folder(pg) == shared / "guixi_photos"
    assert not store.is_project_file(pg, tmp_path / "guixi")
    monkeypatch.setenv("SURVEYTOOLS_PROJECT_FOLDER", str(tmp_path / "env"))
    assert store.project_folder(SimpleNamespace(path=uri, meta={})) == tmp_path / "env" / "guixi"
    monkeypatch.delenv("SURVEYTOOLS_PROJECT_FOLDER")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert store.project_folder(uri) == tmp_path / "data/surveytools/projects/db.example_5433_cities/guixi"
