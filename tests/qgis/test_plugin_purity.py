"""In QGIS's process the plugin imports the standard library, ``qgis.PyQt`` and ``qgis`` only.

Every module of the packaged plugin (the ZIP from scripts/package_plugin.py, with its vendored
library in ``libs/``) is imported in a fresh ``/usr/bin/python3 -I -S`` whose ``sys.path`` holds
only the standard library, a folder with links to QGIS's ``qgis`` and ``PyQt5`` packages, QGIS's
own plugins (``processing``) and the plugin folder — not Debian's dist-packages (numpy, yaml …),
not the venv.  Any other import fails there, and afterwards every loaded module must come from
one of those places.  The plugin object is then created through ``classFactory`` and its
Processing provider loaded (which imports the operation registry at call time).

:data:`PENDING` may list a module that still imports more than that, as
``xfail(strict=True)`` naming who fixes it (a clean module then XPASSes and fails, so the entry
must go).  It is empty: every in-process module is clean.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SRC = ROOT / "qgis_plugin"
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_SITE = Path("/usr/lib/python3/dist-packages")
QGIS_PLUGINS = Path("/usr/share/qgis/python/plugins")
PKG = "surveytools_plugin"

#: module → why it still fails (owner); see the module docstring
PENDING: dict = {}

CHILD = r"""
import json, os, sys, traceback
sys.path[:] = json.loads(sys.argv[1])
allowed = json.loads(sys.argv[2])
case, pkg, libs = sys.argv[3], sys.argv[4], sys.argv[5]
os.environ["QT_QPA_PLATFORM"] = "offscreen"
out = {"error": None}
try:
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    base = set(sys.modules)
    if case == "provider()":
        import importlib
        plugin = importlib.import_module(pkg).classFactory(None)
        out["plugin_class"] = type(plugin).__name__
        if out["plugin_class"] != "SurveyToolsPlugin":
            raise RuntimeError(getattr(plugin, "details", "inert plugin"))
        plugin.initProcessing()
        prov = QgsApplication.processingRegistry().providerById("surveytools")
        out["algorithms"] = sorted(a.id() for a in prov.algorithms())
        out["load_errors"] = prov.load_errors
    else:
        sys.path.insert(0, libs)  # what classFactory does before importing the plugin's modules
        __import__(pkg + "." + case)
except BaseException:
    out["error"] = traceback.format_exc()
real = [os.path.realpath(a) for a in allowed]
out["outside"] = sorted(
    f"{name}: {f}" for name, mod in list(sys.modules.items())
    for f in [getattr(mod, "__file__", None)]
    if f and not any(os.path.realpath(f).startswith(r + os.sep) or f.startswith(a + os.sep)
                     for a, r in zip(allowed, real)))
print("@@RESULT " + json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


def _modules() -> list:
    return sorted(p.stem for p in PLUGIN_SRC.glob("*.py") if p.stem != "__init__")


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory):
    if not (Path(SYSTEM_PYTHON).exists() and (QGIS_SITE / "qgis").is_dir()):
        pytest.skip("Debian's python3-qgis is not installed")
    tmp = tmp_path_factory.mktemp("purity")
    sys.path.insert(0, str(ROOT / "scripts"))
    import package_plugin

    z = package_plugin.build(tmp / "dist")
    plugins = tmp / "plugins"
    with zipfile.ZipFile(z) as zf:
        zf.extractall(plugins)
    qgis_only = tmp / "qgis-only"
    qgis_only.mkdir()
    for name in ("qgis", "PyQt5"):
        (qgis_only / name).symlink_to(QGIS_SITE / name)
    paths = subprocess.run([SYSTEM_PYTHON, "-I", "-S", "-c",
                            "import sysconfig, json; p = sysconfig.get_paths(); "
                            "print(json.dumps([p['stdlib'], p['platstdlib'], p['stdlib'] + '/lib-dynload']))"],
                           capture_output=True, text=True, check=True).stdout
    stdlib = list(dict.fromkeys(json.loads(paths)))
    path = [*stdlib, str(qgis_only), str(QGIS_PLUGINS), str(plugins)]
    allowed = [*stdlib, str(qgis_only), str(QGIS_PLUGINS), str(plugins / PKG)]
    return {"path": path, "allowed": allowed, "plugins": plugins, "libs": str(plugins / PKG / "libs")}


def _run(clean_env, case: str) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(clean_env["plugins"].parent), "LANG": "C.UTF-8",
           "XDG_RUNTIME_DIR": str(clean_env["plugins"].parent)}
    res = subprocess.run([SYSTEM_PYTHON, "-I", "-S", "-c", CHILD, json.dumps(clean_env["path"]),
                          json.dumps(clean_env["allowed"]), case, PKG, clean_env["libs"]],
                         capture_output=True, text=True, env=env, timeout=180, cwd=str(clean_env["plugins"]))
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("@@RESULT ")]
    assert lines, f"the child crashed (exit {res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return json.loads(lines[-1][len("@@RESULT "):])


def _case(name):
    if name in PENDING:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=PENDING[name]))
    return name


def test_the_check_sees_a_foreign_import(clean_env, tmp_path):
    """The clean path really hides Debian's numpy and yaml (else the test could not fail)."""
    mod = clean_env["plugins"] / PKG / "_purity_probe.py"
    mod.write_text("import yaml\n", encoding="utf-8")
    try:
        out = _run(clean_env, "_purity_probe")
    finally:
        mod.unlink()
    assert "ModuleNotFoundError: No module named 'yaml'" in out["error"]


@pytest.mark.parametrize("module", [_case(m) for m in _modules()])
def test_plugin_module_imports_only_stdlib_and_qgis(clean_env, module):
    out = _run(clean_env, module)
    assert out["error"] is None, out["error"]
    assert not out["outside"], out["outside"]


@pytest.mark.parametrize("case", [_case("provider()")])
def test_plugin_loads_every_operation_in_a_clean_qgis_python(clean_env, case):
    from surveytools import ops

    out = _run(clean_env, case)
    assert out["error"] is None, out["error"]
    assert out["plugin_class"] == "SurveyToolsPlugin" and not out["load_errors"], out
    assert out["algorithms"] == sorted(f"surveytools:{op.id}" for op in ops.load_all().values())
    assert not out["outside"], out["outside"]
