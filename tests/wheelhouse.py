"""A folder of wheels for the plugin installer's tests (not a test module).

Built once with ``pip download`` from PyPI under the plugin's own constraints
(surveytools/data/constraints.txt) for the interpreter the plugin's child uses on Debian
(``/usr/bin/python3``), and cached outside the repository in
``~/.cache/surveytools/wheelhouse-<hash of the constraints and the interpreter>`` (override the
folder with ``SURVEYTOOLS_WHEELHOUSE_CACHE``).  A warm cache costs nothing; a cold one about
120 MB of downloads.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "surveytools" / "data" / "constraints.txt"
#: the plugin's child interpreter on Debian's QGIS (what runner.python_executable finds there)
CHILD_PYTHON = "/usr/bin/python3"


def required_lines() -> list:
    sys.path.insert(0, str(ROOT))
    from surveytools.selfcheck import read_constraints

    return [r.line for r in read_constraints(CONSTRAINTS) if not r.optional]


def wheelhouse(python: str = CHILD_PYTHON) -> Path:
    tag = subprocess.run([python, "-c", "import sys, platform; print(sys.implementation.cache_tag, platform.machine())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(CONSTRAINTS.read_bytes() + tag.encode()).hexdigest()[:12]
    base = Path(os.environ.get("SURVEYTOOLS_WHEELHOUSE_CACHE") or Path.home() / ".cache" / "surveytools")
    folder = base / f"wheelhouse-{key}"
    if (folder / ".complete").is_file():
        return folder
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f"{folder.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    res = subprocess.run([python, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
                          "-d", str(tmp), "-c", str(CONSTRAINTS), *required_lines()],
                         capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError("pip download of the test wheelhouse failed (is PyPI reachable?):\n" + res.stderr[-3000:])
    (tmp / ".complete").write_text(tag + "\n", encoding="utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:  # another test process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
