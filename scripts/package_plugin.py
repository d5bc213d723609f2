#!/usr/bin/env python3
"""Build the QGIS plugin ZIP: ``dist/surveytools_plugin-<version>.zip`` (``make package``).

Layout (installable with QGIS → Plugins → Install from ZIP)::

    surveytools_plugin/
      __init__.py, plugin.py, … (qgis_plugin/*.py), icon.svg
      metadata.txt                  copied from the repository root
      i18n/surveytools_zh_CN.ts     + the .qm built here with lrelease
      libs/surveytools/             the library (qgis_plugin/__init__.py puts libs/ on sys.path),
                                    with data/constraints.txt: the pins the installer obeys
      libs/standards/               the profiles (find_standards_dir() looks beside the package)

No caches, bytecode, tests, benchmarks, sample data (7 MB: not small) or other generated files.
The GDAL-linked dependencies are not vendored: the algorithms run the library in a child Python,
and the plugin installs them (qgis_plugin/deps.py, also ``python3 -m surveytools_plugin.deps``)
under ``surveytools/data/constraints.txt``.  That file is generated from pyproject.toml
(``[project].dependencies`` + ``[tool.surveytools.plugin]``) by ``--write-constraints``; the build
refuses to ship a stale one.
"""
from __future__ import annotations

import argparse
import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "surveytools_plugin"
EXCLUDE_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}
EXCLUDE_SUFFIXES = {".pyc", ".pyo", ".tmp", ".orig", ".rej", ".swp"}
CONSTRAINTS = ROOT / "surveytools" / "data" / "constraints.txt"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints_text(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``surveytools/data/constraints.txt`` as it must read for ``pyproject``: one line per
    ``[project].dependencies`` entry, narrowed by ``[tool.surveytools.plugin].child-constraints``,
    ``  # optional`` after the packages listed in ``optional``."""
    import tomllib

    data = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))
    plugin = data["tool"]["surveytools"]["plugin"]
    extra = {}
    for c in plugin.get("child-constraints", []):
        name, spec = _NAME.match(c).groups()
        extra[_canonical(name)] = spec.strip()
    optional = {_canonical(n) for n in plugin.get("optional", [])}
    lines = ["# Pins of the library's dependencies for the QGIS plugin's child Python (qgis_plugin/deps.py).",
             "# Generated from pyproject.toml by: python3 scripts/package_plugin.py --write-constraints",
             "# Do not edit; tests/test_plugin_deps.py checks that it agrees with pyproject.toml."]
    seen = set()
    for dep in data["project"]["dependencies"]:
        name, spec = _NAME.match(dep).groups()
        key = _canonical(name)
        seen.add(key)
        spec = ",".join(s for s in (spec.strip(), extra.get(key, "")) if s)
        lines.append(f"{name}{spec}" + ("  # optional" if key in optional else ""))
    unknown = (set(extra) | optional) - seen
    if unknown:
        raise SystemExit(f"[tool.surveytools.plugin] names packages that are not dependencies: {sorted(unknown)}")
    return "\n".join(lines) + "\n"


def _version() -> str:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(ROOT / "metadata.txt", encoding="utf-8")
    return cp["general"]["version"].strip()


def _files(src: Path):
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDE_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix in EXCLUDE_SUFFIXES or name.startswith(".") or name.endswith("~"):
                continue
            yield p


def _lrelease() -> str | None:
    for cand in ("lrelease", "lrelease-qt5", "/usr/lib/qt5/bin/lrelease", "lrelease6", "/usr/lib/qt6/bin/lrelease"):
        exe = shutil.which(cand) or (cand if os.path.isfile(cand) else None)
        if exe:
            return exe
    return None


def build(out_dir: Path) -> Path:
    if not CONSTRAINTS.is_file() or CONSTRAINTS.read_text(encoding="utf-8") != constraints_text():
        sys.exit(f"{CONSTRAINTS} does not agree with pyproject.toml: run "
                 "python3 scripts/package_plugin.py --write-constraints")
    version = _version()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{FOLDER}-{version}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        qm_dir = Path(tmp)
        lrelease = _lrelease()
        entries = []  # (source path, archive name)
        for p in _files(ROOT / "qgis_plugin"):
            rel = p.relative_to(ROOT / "qgis_plugin")
            if rel.parts[0] == "i18n" and p.suffix == ".qm":
                continue  # rebuilt from the .ts below
            if rel.parts[0] == "libs":
                continue
            entries.append((p, f"{FOLDER}/{rel.as_posix()}"))
        for ts in sorted((ROOT / "qgis_plugin" / "i18n").glob("*.ts")):
            qm = qm_dir / (ts.stem + ".qm")
            if lrelease:
                subprocess.run([lrelease, "-silent", str(ts), "-qm", str(qm)], check=True)
            elif ts.with_suffix(".qm").exists():
                shutil.copyfile(ts.with_suffix(".qm"), qm)
            else:
                sys.exit(f"lrelease not found and {ts.with_suffix('.qm')} missing: run scripts/setup_env.sh")
            entries.append((qm, f"{FOLDER}/i18n/{qm.name}"))
        entries.append((ROOT / "metadata.txt", f"{FOLDER}/metadata.txt"))
        for p in _files(ROOT / "surveytools"):
            entries.append((p, f"{FOLDER}/libs/surveytools/{p.relative_to(ROOT / 'surveytools').as_posix()}"))
        for p in _files(ROOT / "standards"):
            entries.append((p, f"{FOLDER}/libs/standards/{p.relative_to(ROOT / 'standards').as_posix()}"))
        tmp_zip = target.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
            for src, name in entries:
                zf.write(src, name)
        os.replace(tmp_zip, target)
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    ap.add_argument("--write-constraints", action="store_true",
                    help=f"only (re)write {CONSTRAINTS.relative_to(ROOT)} from pyproject.toml")
    args = ap.parse_args(argv)
    if args.write_constraints:
        tmp = CONSTRAINTS.with_suffix(".txt.tmp")
        tmp.write_text(constraints_text(), encoding="utf-8")
        os.replace(tmp, CONSTRAINTS)
        print(CONSTRAINTS)
        return 0
    path = build(Path(args.out))
    with zipfile.ZipFile(path) as zf:
        n = len(zf.namelist())
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {n} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
