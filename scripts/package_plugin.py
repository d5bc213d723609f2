#!/usr/bin/env python3
"""Build the QGIS plugin ZIP: ``dist/surveytools_plugin-<version>.zip`` (``make package``).

Layout (installable with QGIS → Plugins → Install from ZIP)::

    surveytools_plugin/
      __init__.py, plugin.py, … (qgis_plugin/*.py), icon.svg
      metadata.txt                  copied from the repository root
      i18n/surveytools_zh_CN.ts     + the .qm built here with lrelease
      libs/surveytools/             the library (qgis_plugin/__init__.py puts libs/ on sys.path)
      libs/standards/               the profiles (find_standards_dir() looks beside the package)

No caches, bytecode, tests, benchmarks, sample data (7 MB: not small) or other generated files.
The GDAL-linked dependencies are not vendored: the algorithms run the library in a child Python,
and the plugin offers to install missing packages (qgis_plugin/deps.py).
"""
from __future__ import annotations

import argparse
import configparser
import os
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
    args = ap.parse_args(argv)
    path = build(Path(args.out))
    with zipfile.ZipFile(path) as zf:
        n = len(zf.namelist())
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {n} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
