"""``make package`` builds a plugin ZIP that installs like QGIS's "Install from ZIP" and loads in
the real host (qgis_process.bin) with the vendored library and standards."""
import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "package_plugin.py"), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    from surveytools import __version__

    zpath = out / f"surveytools_plugin-{__version__}.zip"
    assert zpath.is_file()
    return zpath


def test_zip_layout_and_no_generated_files(package):
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        meta = zf.read("surveytools_plugin/metadata.txt")
    assert all(n.startswith("surveytools_plugin/") for n in names)
    for required in ("__init__.py", "plugin.py", "panel.py", "results.py", "forms.py", "icon.svg", "metadata.txt",
                     "i18n/surveytools_zh_CN.ts", "i18n/surveytools_zh_CN.qm", "libs/surveytools/__init__.py",
                     "libs/surveytools/ops.py", "libs/standards/cjt/profile.yaml",
                     "libs/standards/rules/catalogue.yaml"):
        assert f"surveytools_plugin/{required}" in names, required
    assert meta == (ROOT / "metadata.txt").read_bytes()
    bad = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo", ".tmp")) or "/tests/" in n
           or ".egg-info" in n or "/." in n]
    assert not bad, bad
    assert not any("sample_data" in n for n in names)
    # the vendored library finds the vendored standards (find_standards_dir: standards/ beside the package)
    assert {"surveytools_plugin/libs/surveytools/profiles/loader.py", "surveytools_plugin/libs/standards/gbt47678/profile.yaml"} <= set(names)


@pytest.mark.skipif(not Path(QGIS_PROCESS).exists(), reason="qgis_process.bin not installed")
def test_installed_zip_loads_in_qgis_process(package, tmp_path):
    plugins = tmp_path / "profile" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(plugins)
    (tmp_path / "runtime").mkdir(mode=0o700)
    # the venv's site-packages (pandas, yaml …) as plain PYTHONPATH entries, so that the checkout's
    # editable-install finder (a .pth hook) stays off and the library comes from the ZIP's libs/;
    # the child is the base interpreter of the venv with the same PYTHONPATH
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(plugins),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"), PYTHONPATH=os.pathsep.join(site.getsitepackages()),
               XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
               SURVEYTOOLS_PYTHON=str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"))
    env.pop("SURVEYTOOLS_STANDARDS", None)
    # cwd: not the checkout (``python -m`` puts the working directory first on sys.path)
    kw = dict(env=env, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "surveytools_plugin"], **kw)
    assert enable.returncode == 0, enable.stdout[-2000:] + enable.stderr[-2000:]
    listing = subprocess.run([QGIS_PROCESS, "list"], **kw)
    assert listing.returncode == 0, listing.stderr[-2000:]
    for alg in ("surveytools:project_init", "surveytools:grid_divide", "surveytools:validate_run"):
        assert alg in listing.stdout, listing.stdout[-2000:] + listing.stderr[-2000:]
    target = tmp_path / "zip.gpkg"
    run = subprocess.run([QGIS_PROCESS, "run", "surveytools:project_init", "--json", f"--PROJECT={target}",
                          "--COUNTY=360681", "--PROFILE=gbt47678"], **kw)
    assert run.returncode == 0 and target.is_file(), run.stdout[-2000:] + run.stderr[-3000:]
    res = json.loads(json.loads(run.stdout)["results"]["RESULT"])
    assert res["ok"] is True
    # the child ran the vendored library with the vendored standards
    assert str(plugins / "surveytools_plugin" / "libs" / "standards") in res["meta"]["profile_path"]
