"""`pip install .` gives a working library: every subpackage, the package data and the standards."""
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "surveytools").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_wheel_carries_the_standards_and_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("surveytools-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in ("surveytools/_standards/cjt/profile.yaml", "surveytools/_standards/gbt47678/component_classes.csv",
                 "surveytools/_standards/rules/catalogue.yaml", "surveytools/data/admin/streets.csv",
                 "surveytools/export/templates/manual.html.j2", "surveytools/cli.py"):
        assert must in names, must
