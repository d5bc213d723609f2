"""The real QGIS desktop under Xvfb: the packaged plugin is installed in a fresh profile, loads
without error, opens the sample project in its panel, and a screenshot is saved to
out/plugin_panel.png."""
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from plugin_support import copy_project

ROOT = Path(__file__).resolve().parents[2]
QGIS = "/usr/bin/qgis"
OUT = ROOT / "out"


@pytest.mark.skipif(not (Path(QGIS).exists() and shutil.which("xvfb-run")), reason="qgis or xvfb-run not installed")
def test_qgis_desktop_loads_the_plugin_and_shows_the_panel(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package_plugin.py"), "--out", str(dist)], check=True,
                   capture_output=True, timeout=300)
    profiles = tmp_path / "profiles"
    prof = profiles / "profiles" / "default"
    plugins = prof / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(next(dist.glob("surveytools_plugin-*.zip"))) as zf:
        zf.extractall(plugins)
    (prof / "QGIS").mkdir()
    (prof / "QGIS" / "QGIS3.ini").write_text(
        "[PythonPlugins]\nsurveytools_plugin=true\nprocessing=true\n"
        "[locale]\noverrideFlag=true\nuserLocale=zh_CN\nglobalLocale=zh_CN\n"
        "[qgis]\nshowTips=false\ncheckVersion=false\n", encoding="utf-8")
    project = copy_project(tmp_path, "贵溪.gpkg")
    OUT.mkdir(exist_ok=True)
    png = OUT / "plugin_panel.png"
    for old in (png, OUT / "plugin_panel_dock.png"):
        if old.exists():
            old.unlink()
    report = tmp_path / "report.json"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, QGIS_PLUGINPATH=str(plugins), PYTHONPATH=os.pathsep.join(site.getsitepackages()),
               XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path),
               SURVEYTOOLS_PYTHON=str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"),
               SMOKE_PROJECT=str(project), SMOKE_PNG=str(png), SMOKE_REPORT=str(report), LANG="zh_CN.UTF-8")
    env.pop("QT_QPA_PLATFORM", None)  # a real X display (Xvfb)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", QGIS, "--profiles-path", str(profiles), "--profile",
           "default", "--noversioncheck", "--nologo", "--code", str(ROOT / "tests" / "qgis" / "smoke_qgis_panel.py")]
    proc = subprocess.Popen(cmd, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # QGIS and Xvfb
        out, _ = proc.communicate()
        pytest.fail("QGIS did not finish within 90 s:\n" + out.decode(errors="replace")[-3000:])
    log = out.decode(errors="replace")
    assert report.is_file(), log[-3000:]
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert not rep["errors"], rep["errors"]
    assert rep["plugin_class"] == "SurveyToolsPlugin", rep  # not the inert stand-in
    assert rep["provider"] and rep["layers"] >= 15 and rep["result_rows"] > 0 and rep["panel_visible"]
    # Chinese UI (the plugin's zh_CN translation) and the project's Chinese title
    assert "网格" in rep["group_names"] and "单元网格划分" in rep["step_labels"], rep
    bad = [m for m in rep["messages"] if m["tag"] in ("SurveyTools", "Python error", "Python warning")
           and m["level"] >= 2 and "surveytools" in (m["message"] + m["tag"]).lower()]
    assert not bad, bad
    assert rep["screenshot"] and png.is_file() and png.stat().st_size > 20000
