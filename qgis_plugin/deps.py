"""Python dependencies of the library, checked and installed **outside** the QGIS process.

The GDAL/PROJ/GEOS wheels (geopandas, pyogrio, shapely, pyproj) must never be imported inside
QGIS (see surveytools/runner.py), so the check runs ``python -c "import …"`` in the interpreter the
algorithms use (:func:`surveytools.runner.python_executable`), with the dependency folder on its
``PYTHONPATH``.  Missing packages are installed with one click by::

    python -m pip install --target <QGIS profile>/python/surveytools-deps <requirements>

and that folder (QgsSettings ``surveytools/deps_path``) is put on the PYTHONPATH of every child
process the algorithms start.
"""
from __future__ import annotations

import json
import os
import subprocess

from qgis.core import QgsApplication, QgsSettings

from surveytools.runner import _child_env, python_executable

SETTINGS_KEY = "surveytools/deps_path"

#: import name → pip requirement (pins as in pyproject.toml; a test keeps them in step)
REQUIREMENTS = {
    "numpy": "numpy>=1.26,<2",
    "pandas": "pandas>=2.1",
    "geopandas": "geopandas>=1.0",
    "shapely": "shapely>=2.0",
    "pyogrio": "pyogrio>=0.9",
    "pyarrow": "pyarrow>=15",
    "pyproj": "pyproj>=3.6",
    "openpyxl": "openpyxl>=3.1",
    "jinja2": "jinja2>=3.1",
    "click": "click>=8.1",
    "yaml": "PyYAML>=6",
    "ahocorasick": "pyahocorasick>=2.0",
    "rapidfuzz": "rapidfuzz>=3.0",
}
#: needed only by some tools (the PDF command manual); reported, never required
OPTIONAL = {"weasyprint": "weasyprint>=61"}


def default_deps_path() -> str:
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "surveytools-deps")


def deps_path() -> str:
    """The dependency folder: the ``surveytools/deps_path`` setting, else the default."""
    value = QgsSettings().value(SETTINGS_KEY, "") or ""
    return str(value) if value else default_deps_path()


def extra_paths() -> list:
    """Folders to add to the child's PYTHONPATH (the dependency folder when it exists)."""
    p = deps_path()
    return [p] if os.path.isdir(p) else []


CHECK_CODE = ("import importlib, json, sys\n"
              "out = {}\n"
              "for m in sys.argv[1:]:\n"
              "    try:\n"
              "        importlib.import_module(m)\n"
              "        out[m] = None\n"
              "    except Exception as e:\n"
              "        out[m] = type(e).__name__ + ': ' + str(e)\n"
              "print(json.dumps(out))\n")


def check(modules=None, *, python: str | None = None, timeout: float = 120) -> dict:
    """``{module: None | error}`` from the child interpreter (``{"__python__": error}`` when the
    interpreter itself cannot run)."""
    mods = list(modules or [*REQUIREMENTS, *OPTIONAL])
    exe = python or python_executable()
    try:
        proc = subprocess.run([exe, "-c", CHECK_CODE, *mods], capture_output=True, text=True, timeout=timeout,
                              env=_child_env(extra_paths()), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"__python__": f"{exe}: {type(exc).__name__}: {exc}"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"__python__": f"{exe}: {proc.stderr.strip()[-500:]}"}


def missing(result: dict) -> list:
    """Pip requirements of the required modules that failed to import."""
    if "__python__" in result:
        return list(REQUIREMENTS.values())
    return [REQUIREMENTS[m] for m, err in result.items() if err and m in REQUIREMENTS]


def install_command(requirements, *, python: str | None = None, target: str | None = None) -> list:
    return [python or python_executable(), "-m", "pip", "install", "--disable-pip-version-check",
            "--upgrade", "--target", target or deps_path(), *requirements]


def install(requirements, *, python: str | None = None, target: str | None = None, feedback=None,
            timeout: float = 1800) -> tuple:
    """Run pip; returns ``(ok, output)`` and remembers the folder in the settings."""
    target = target or deps_path()
    os.makedirs(target, exist_ok=True)
    cmd = install_command(requirements, python=python, target=target)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=_child_env())
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if feedback is not None and feedback(line):
            proc.terminate()
            break
    proc.wait(timeout=timeout)
    if proc.returncode == 0:
        QgsSettings().setValue(SETTINGS_KEY, target)
    return proc.returncode == 0, "".join(lines)
