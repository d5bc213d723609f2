"""The project store is the only way into a project: no module outside ``surveytools/store``
opens a project's path with pyogrio, sqlite3 or psycopg.

The check is syntactic: a call of ``pyogrio.*``, ``sqlite3.connect``, ``sqlite_connect`` or
``psycopg.connect`` whose first argument is the ``.path`` of a project object (``proj``,
``project``, ``work`` …).  ``ALLOWED`` is the explicit allow-list of modules still doing so; it
is empty and may only stay so (a module that needs a new kind of access adds it to the store).
"""
import ast
from pathlib import Path

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
