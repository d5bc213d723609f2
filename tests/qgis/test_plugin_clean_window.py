"""The plugin as a new user gets it: the real QGIS window (Xvfb), a clean environment.

``make package``'s ZIP is unzipped into a fresh profile (``--profiles-path``) and enabled in its
QGIS3.ini; QGIS starts with ``env -i``-style environment (HOME, DISPLAY, LANG, XDG_RUNTIME_DIR,
PATH only: no PYTHONPATH, no venv).  Phase 1 clicks the plugin's own Install button, which
installs the dependencies offline from a wheel folder the test prepares (tests/wheelhouse.py,
cached in ~/.cache/surveytools) and proves them with the self-check in the child; the panel opens
the sample project, every algorithm is listed, the project is saved as ``.qgz`` and QGIS quits.
Phase 2 is a new QGIS process opening the ``.qgz``: a component added through the layer's edit
buffer with the form's defaults must get its ID, grid, street and community.

Screenshots: ``out/clean_window_*.png``; with ``SURVEYTOOLS_DOCS_SCREENSHOTS=1`` also
``docs/img/plugin_clean_*.png`` (the ones docs/plugin.md shows).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from plugin_support import copy_project

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from wheelhouse import CHILD_PYTHON, wheelhouse  # noqa: E402

QGIS = "/usr/bin/qgis"
PKG = "surveytools_plugin"
OUT = ROOT / "out"
DOCS_IMG = ROOT / "docs" / "img"

#: computed in a child Python (no geopandas in this QGIS test process): a point inside one unit
#: grid of the sample project, and that grid's, street's and community's codes
PROBE = r"""
import json, sqlite3, sys
import geopandas as gpd
from surveytools.profiles import load_profile

p = sys.argv[1]
prof = load_profile("cjt")
grids = gpd.read_file(p, layer="unit_grids", engine="pyogrio")
row = grids.sort_values(prof.field("unit_grid", "grid_code")).iloc[len(grids) // 3]
pt = row.geometry.representative_point()
def code_at(layer, role):
    g = gpd.read_file(p, layer=layer, engine="pyogrio")
    hit = g[g.contains(pt)]
    return str(hit.iloc[0][prof.field(layer.rstrip("s") if layer != "communities" else "community", role)]) if len(hit) else None
con = sqlite3.connect(p)
cls = con.execute("SELECT code FROM dict_component_classes WHERE geometry = 'point' ORDER BY code LIMIT 1").fetchone()[0]
f = lambda r: prof.field("component", r)
print(json.dumps({
    "point_wkt": pt.wkt, "class_code": cls,
    "grid": str(row[prof.field("unit_grid", "grid_code")]),
    "street": code_at("streets", "street_code"), "community": code_at("communities", "community_code"),
    "fields": {"component_id": f("component_id"), "class_code": f("class_code"), "grid_code": f("grid_code"),
               "street_code": f("street_code"), "community_code": f("community_code")},
}))
"""


def _qgis(tmp, profiles, script, phase, cfg, extra_args=(), timeout=1200):
    cfg = dict(cfg, phase=phase, report=str(tmp / f"report{phase}.json"), png=str(OUT / f"clean_window_{phase}.png"))
    cfg_path = tmp / f"config{phase}.json"
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    code = tmp / f"clean_window_{phase}.py"
    code.write_text(f"CONFIG = {str(cfg_path)!r}\n" + script, encoding="utf-8")
    runtime = tmp / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    # a user's environment: nothing of the venv or of this test process
    # TMPDIR: QGIS counts layers under the temp folder as temporary and asks before quitting; a
    # user's project is not in /tmp, this test's is
    env = {"HOME": str(tmp / "home"), "LANG": "zh_CN.UTF-8", "XDG_RUNTIME_DIR": str(runtime),
           "PATH": "/usr/local/bin:/usr/bin:/bin", "TMPDIR": str(tmp / "home" / "tmp")}
    (tmp / "home" / "tmp").mkdir(parents=True, exist_ok=True)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", QGIS, "--profiles-path", str(profiles),
           "--profile", "default", "--noversioncheck", "--nologo", "--code", str(code), *extra_args]
    proc = subprocess.Popen(cmd, env=env, cwd=str(tmp / "home"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"QGIS phase {phase} did not finish within {timeout} s:\n" + out.decode(errors="replace")[-3000:])
    log = out.decode(errors="replace")
    (tmp / f"qgis{phase}.log").write_text(log, encoding="utf-8")
    rep_path = Path(cfg["report"])
    assert rep_path.is_file(), f"phase {phase}: no report (exit {proc.returncode}, {tmp}/qgis{phase}.log):\n" + \
        log.split("gdb returned")[0][-5000:]
    rep = json.loads(rep_path.read_text(encoding="utf-8"))
    rep["returncode"] = proc.returncode
    rep["log_tail"] = log[-4000:]
    return rep


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    if not (Path(QGIS).exists() and shutil.which("xvfb-run") and Path(CHILD_PYTHON).exists()):
        pytest.skip("qgis, xvfb-run or /usr/bin/python3 not installed")
    tmp = tmp_path_factory.mktemp("clean_window")
    wheels = wheelhouse()
    sys.path.insert(0, str(ROOT / "scripts"))
    import package_plugin

    zpath = package_plugin.build(tmp / "dist")
    profiles = tmp / "profiles"
    prof = profiles / "profiles" / "default"
    plugins = prof / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(plugins)
    (prof / "QGIS").mkdir()
    (prof / "QGIS" / "QGIS3.ini").write_text(
        "[PythonPlugins]\nsurveytools_plugin=true\nprocessing=true\n"
        "[locale]\noverrideFlag=true\nuserLocale=zh_CN\nglobalLocale=zh_CN\n"
        "[qgis]\nshowTips=false\ncheckVersion=false\n"
        f"[surveytools]\nfind_links={wheels}\n", encoding="utf-8")
    project = copy_project(tmp, "贵溪.gpkg")
    probe = subprocess.run([sys.executable, "-c", PROBE, str(project)], capture_output=True, text=True, timeout=300,
                           cwd=str(ROOT))
    assert probe.returncode == 0, probe.stderr[-3000:]
    expected = json.loads(probe.stdout)
    OUT.mkdir(exist_ok=True)
    script = (Path(__file__).parent / "clean_window_script.py").read_text(encoding="utf-8")
    qgz = tmp / "贵溪.qgz"
    cfg = {"project": str(project), "qgz": str(qgz), **expected}
    rep1 = _qgis(tmp, profiles, script, 1, cfg)
    rep2 = _qgis(tmp, profiles, script, 2, cfg, extra_args=["--project", str(qgz)]) if qgz.is_file() else None
    if os.environ.get("SURVEYTOOLS_DOCS_SCREENSHOTS"):
        for phase in (1, 2):
            png = OUT / f"clean_window_{phase}.png"
            if png.is_file():
                shutil.copyfile(png, DOCS_IMG / f"plugin_clean_{phase}.png")
    return {"rep1": rep1, "rep2": rep2, "expected": expected, "qgz": qgz, "prof": prof}


def test_qgis_runs_without_pythonpath_or_venv(session):
    rep = session["rep1"]
    assert rep["env"]["PYTHONPATH"] is None and rep["env"]["VIRTUAL_ENV"] is None
    assert not [p for p in rep["env"]["sys_path"] if ".venv" in p or "site-packages" in p], rep["env"]["sys_path"]
    assert rep["plugin_class"] == "SurveyToolsPlugin", rep.get("inert_details")
    assert not rep["loaded_heavy_modules"], rep["loaded_heavy_modules"]


def test_install_button_installs_offline_and_proves_the_child(session):
    rep = session["rep1"]
    assert not [e for e in rep["errors"] if "install" in e], rep["errors"]
    # the start-up check offered the install, saying what Debian's python3 lacks (in Chinese)
    level, text = rep["deps_offer"]
    assert level == "Warning" and "pyogrio" in text and "安装到" in text, rep["deps_offer"]
    assert rep["deps_before"]["ok"] is False and "pyogrio" in rep["deps_before"]["missing"]
    dr = rep["deps_report"]
    assert dr and dr["ok"], (dr, rep["deps_outcome"])
    assert dr["python"] == CHILD_PYTHON and all(p["ok"] for p in dr["probes"]) and len(dr["probes"]) == 3
    target = str(session["prof"] / "python" / "surveytools-deps")
    assert rep["deps_path"] == target and not rep["deps_on_qgis_path"]
    rows = {d["name"]: d for d in dr["dependencies"]}
    assert rows["numpy"]["version"].startswith("1.") and rows["pandas"]["location"].startswith(target)
    assert rep["deps_outcome"][0] == "Success" and "自检通过" in rep["deps_outcome"][1], rep["deps_outcome"]
    assert not [m for m in rep["messages"] if m["tag"] in ("Python error", "Python warning")
                and "surveytools_plugin/deps" in m["message"]], rep["messages"]


def test_project_saved_as_qgz_and_reopened_in_a_new_qgis(session):
    rep1, rep2 = session["rep1"], session["rep2"]
    assert rep1.get("saved") and session["qgz"].is_file(), rep1["errors"]
    assert rep1["returncode"] == 0, ("QGIS did not quit by itself", rep1.get("quit_blocked_by"), rep1["log_tail"])
    assert rep2 is not None and not rep2["errors"], rep2 and rep2["errors"]
    assert rep2["project_file"] == str(session["qgz"]) and rep2["layer_count"] >= 3 and not rep2["invalid_layers"]
    assert rep2["plugin_class"] == "SurveyToolsPlugin"
    for phase, rep in ((1, rep1), (2, rep2)):
        assert rep["screenshots"][f"clean_window_{phase}.png"], rep
        assert (OUT / f"clean_window_{phase}.png").stat().st_size > 20000


def test_panel_appears_with_every_algorithm(session):
    from surveytools import ops

    rep = session["rep1"]
    assert rep["panel"] and rep.get("panel_layers", 0) >= 15 and not rep.get("fallback_layers"), rep
    assert rep["algorithms"] == sorted(f"surveytools:{op.id}" for op in ops.load_all().values())


def test_reopened_qgz_restores_the_panel(session):
    rep = session["rep2"]
    assert rep["panel"] and rep["panel_project"] and rep["enabled_steps"], rep


def test_new_component_gets_id_grid_street_community(session):
    rep, exp = session["rep2"], session["expected"]
    assert rep["added"], rep
    got = rep["new_feature"]
    assert got["class_code"] == exp["class_code"]
    assert got["grid_code"] == exp["grid"] and got["street_code"] == exp["street"] \
        and got["community_code"] == exp["community"], (got, exp)
    assert got["component_id"] and got["component_id"].startswith("360681" + exp["class_code"]), got
