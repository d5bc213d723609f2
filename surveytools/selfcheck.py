"""Self-check of the Python that runs the library: ``surveytools env check``.

For every dependency pinned in ``surveytools/data/constraints.txt`` (generated from
pyproject.toml) it imports the module, reads the installed version and compares it with the pin;
then it runs a few real probes (write and read a GeoPackage through pyogrio, a CGCS2000
transformation through pyproj, load every operation of the library).  The report says exactly
what is missing, broken or the wrong version.

This module imports only the standard library (and the library's own stdlib-only modules), so it
runs even where the packages it checks are missing.  The QGIS plugin's installer
(``qgis_plugin/deps.py``) runs it in the child interpreter after every install::

    python3 -c "from surveytools.selfcheck import main; main()" --json

which prints the report (JSON) and exits 0 when every required dependency is usable, 2 when not.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from .errors import SurveyError
from .i18n import Text
from .ops import Param, Result, group, operation

CONSTRAINTS = Path(__file__).resolve().parent / "data" / "constraints.txt"
#: distribution name (canonical) → import name, where they differ
#: (psycopg-binary is psycopg's compiled implementation: it is imported through psycopg)
IMPORT_NAMES = {"pyyaml": "yaml", "pyahocorasick": "ahocorasick", "psycopg-binary": "psycopg"}

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*([^#;]*?)\s*(?:#\s*(.*))?$")
_SPEC = re.compile(r"^\s*(===|==|!=|<=|>=|~=|<|>)\s*([0-9][0-9A-Za-z.*+!-]*)\s*$")
_RELEASE = re.compile(r"^(?:\d+!)?(\d+(?:\.\d+)*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Requirement:
    name: str
    #: ``[(operator, version)]``
    specifiers: list
    optional: bool = False

    @property
    def spec(self) -> str:
        return ",".join(op + v for op, v in self.specifiers)

    @property
    def line(self) -> str:
        return self.name + self.spec

    @property
    def module(self) -> str:
        key = canonical(self.name)
        return IMPORT_NAMES.get(key, key.replace("-", "_"))


def read_constraints(path=None) -> list:
    """The requirements of a constraints file (``name>=1,<2  # optional`` per line)."""
    path = Path(path) if path else CONSTRAINTS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SurveyError(Text(f"无法读取依赖约束文件：{exc}", f"Cannot read the constraints file: {exc}"),
                          code="no_constraints", file=str(path)) from None
    out = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        specs = []
        if m:
            for part in filter(None, (p.strip() for p in m.group(2).split(","))):
                sm = _SPEC.match(part)
                if not sm:
                    m = None
                    break
                specs.append((sm.group(1), sm.group(2)))
        if not m:
            raise SurveyError(Text(f"第 {no} 行不是“包名>=版本”形式的约束", f"line {no} is not a 'name>=version' constraint"),
                              code="bad_constraints", file=str(path), value=raw)
        out.append(Requirement(m.group(1), specs, optional="optional" in (m.group(3) or "").lower()))
    return out


def _release(version: str) -> tuple:
    m = _RELEASE.match(version.strip())
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def _cmp(a: tuple, b: tuple) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def satisfies(version: str, specifiers) -> bool:
    """Whether ``version`` meets every ``(operator, version)`` (release numbers compared as
    PEP 440 does; pre-releases count as their release, so ``2.0.0rc1`` does not meet ``<2``)."""
    have = _release(version)
    if not have:
        return False
    for op, want in specifiers:
        if want.endswith(".*"):
            prefix = _release(want[:-2])
            same = have[:len(prefix)] + (0,) * max(0, len(prefix) - len(have)) == prefix
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        c = _cmp(have, _release(want))
        ok = {"==": c == 0, "===": version == want, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0,
              ">=": c >= 0}.get(op)
        if op == "~=":
            w = _release(want)
            ok = c >= 0 and _cmp(have[:len(w) - 1], w[:-1]) == 0
        if not ok:
            return False
    return True


def check_requirement(req: Requirement) -> dict:
    """``{name, module, spec, optional, version, location, status, error}``; status is ``ok``,
    ``missing``, ``import_error`` or ``wrong_version``."""
    row = {"name": req.name, "module": req.module, "spec": req.spec, "optional": req.optional,
           "version": None, "location": None, "status": "ok", "error": None}
    try:
        mod = importlib.import_module(req.module)
    except ModuleNotFoundError as exc:
        row["status"] = "missing" if (exc.name or "").split(".")[0] == req.module else "import_error"
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    except Exception as exc:  # a broken binary, a wrong numpy ABI …
        row["status"] = "import_error"
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["location"] = os.path.dirname(getattr(mod, "__file__", None) or "") or None
    try:
        row["version"] = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        row["version"] = str(getattr(mod, "__version__", "") or "") or None
    if row["version"] is None or not satisfies(row["version"], req.specifiers):
        row["status"] = "wrong_version"
        row["error"] = f"{req.name} {row['version']} does not meet {req.spec}"
    return row


def _probe(name: str, func) -> dict:
    try:
        return {"name": name, "ok": True, "detail": func()}
    except Exception as exc:
        return {"name": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=4)}


def _probe_gpkg() -> str:
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import Point

    with tempfile.TemporaryDirectory(prefix="surveytools-check-") as tmp:
        path = os.path.join(tmp, "check.gpkg")
        gdf = gpd.GeoDataFrame({"名称": ["检查"]}, geometry=[Point(117.21, 28.24)], crs="EPSG:4490")
        gdf.to_file(path, layer="check", driver="GPKG", engine="pyogrio")
        back = gpd.read_file(path, layer="check", engine="pyogrio")
        if len(back) != 1 or back["名称"].iloc[0] != "检查" or back.crs.to_epsg() != 4490:
            raise RuntimeError(f"GeoPackage round trip changed the data: {back.to_dict()}")
    return f"pyogrio {pyogrio.__version__}, GDAL {pyogrio.__gdal_version_string__}"


def _probe_pyproj() -> str:
    import pyproj

    t = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4549", always_xy=True)
    x, y = t.transform(120.0, 28.0)
    if not (abs(x - 500000.0) < 0.01 and 3_090_000 < y < 3_110_000):
        raise RuntimeError(f"EPSG:4490 → EPSG:4549 gave {x:.2f}, {y:.2f}")
    return f"pyproj {pyproj.__version__}, PROJ {pyproj.proj_version_str}"


def _probe_operations() -> str:
    from . import ops as _ops

    registry = _ops.load_all()
    return f"{len(registry)} operations"


def report(constraints=None, *, probes: bool = True) -> dict:
    """The self-check report of this interpreter (JSON-serialisable)."""
    from . import __version__

    reqs = read_constraints(constraints)
    deps = [check_requirement(r) for r in reqs]
    required_bad = [d for d in deps if d["status"] != "ok" and not d["optional"]]
    probe_rows = []
    if probes and not required_bad:
        probe_rows = [_probe("gpkg_roundtrip", _probe_gpkg), _probe("cgcs2000_transform", _probe_pyproj),
                      _probe("operations", _probe_operations)]
    return {
        "ok": not required_bad and all(p["ok"] for p in probe_rows),
        "python": sys.executable,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "surveytools": {"version": __version__, "location": str(Path(__file__).resolve().parent)},
        "constraints": str(Path(constraints) if constraints else CONSTRAINTS),
        "dependencies": deps,
        "missing": [d["name"] for d in deps if d["status"] == "missing" and not d["optional"]],
        "wrong_version": [f"{d['name']} {d['version']} ({d['spec']})" for d in deps
                          if d["status"] == "wrong_version" and not d["optional"]],
        "broken": [f"{d['name']}: {d['error']}" for d in deps if d["status"] == "import_error" and not d["optional"]],
        "optional_missing": [d["name"] for d in deps if d["status"] != "ok" and d["optional"]],
        "probes": probe_rows,
    }


def problems(rep: dict) -> Text:
    """What is wrong, in one bilingual sentence per kind (empty when nothing is)."""
    zh, en = [], []
    if rep.get("missing"):
        zh.append("缺少：" + "、".join(rep["missing"]))
        en.append("missing: " + ", ".join(rep["missing"]))
    if rep.get("wrong_version"):
        zh.append("版本不符：" + "、".join(rep["wrong_version"]))
        en.append("wrong version: " + ", ".join(rep["wrong_version"]))
    if rep.get("broken"):
        zh.append("无法导入：" + "；".join(rep["broken"]))
        en.append("cannot be imported: " + "; ".join(rep["broken"]))
    bad = [f"{p['name']}: {p['detail']}" for p in rep.get("probes", []) if not p["ok"]]
    if bad:
        zh.append("功能检查失败：" + "；".join(bad))
        en.append("failed probes: " + "; ".join(bad))
    return Text("；".join(zh), "; ".join(en))


group("env", Text("运行环境", "Runtime environment"))


@operation("env", "check", Text(
    "检查运行本工具的 Python：逐个导入 constraints.txt 中的依赖并与版本约束比较，再实际读写 GeoPackage、"
    "做一次 CGCS2000 坐标转换、加载全部操作。QGIS 插件安装依赖后用它证明子进程可用。",
    "Check the Python that runs the library: import every dependency pinned in constraints.txt and compare "
    "its version with the pin, then write and read a GeoPackage, transform a CGCS2000 coordinate and load "
    "every operation. The QGIS plugin runs it after installing the dependencies to prove the child works."),
    [Param("constraints", "file_in", Text("约束文件（默认为库自带的 data/constraints.txt）",
                                          "constraints file (default: the library's data/constraints.txt)"),
           file_filter="Text (*.txt)")],
    display=Text("检查运行环境", "Check the environment"))
def check(constraints=None, feedback=None) -> Result:
    rep = report(constraints)
    if not rep["ok"]:
        raise SurveyError(Text(f"Python 环境不完整（{rep['python']}）：{problems(rep).zh}",
                               f"The Python environment is incomplete ({rep['python']}): {problems(rep).en}"),
                          code="environment_incomplete", file=rep["constraints"],
                          hint=Text("在 QGIS 中：插件 → 数字城管 SurveyTools → 检查 Python 依赖 → 安装；"
                                    "或运行 python3 -m surveytools_plugin.deps install",
                                    "in QGIS: Plugins → SurveyTools → Check Python dependencies → Install; "
                                    "or run python3 -m surveytools_plugin.deps install"))
    n = len(rep["dependencies"])
    opt = rep["optional_missing"]
    summary = Text(f"Python {rep['python_version']}（{rep['python']}）：{n} 个依赖全部可用"
                   + (f"，可选依赖未安装：{'、'.join(opt)}" if opt else ""),
                   f"Python {rep['python_version']} ({rep['python']}): all {n} dependencies usable"
                   + (f"; optional, not installed: {', '.join(opt)}" if opt else ""))
    return Result(summary, data={"environment": rep})


def main(argv=None) -> None:
    """``python -c "from surveytools.selfcheck import main; main()" [--json] [--constraints FILE]``:
    exits 0 when every required dependency is usable, 2 when not."""
    ap = argparse.ArgumentParser(prog="surveytools-selfcheck", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--constraints", default=None, help="constraints file (default: data/constraints.txt)")
    ap.add_argument("--quick", action="store_true", help="imports and versions only, no probes")
    args = ap.parse_args(argv)
    try:
        rep = report(args.constraints, probes=not args.quick)
    except SurveyError as exc:
        print(json.dumps({"ok": False, "error": exc.as_dict()}, ensure_ascii=False) if args.json else exc.render())
        sys.exit(2)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=1))
    else:
        for d in rep["dependencies"]:
            print(f"{d['status']:>13}  {d['name']:<14} {d['version'] or '-':<10} {d['spec']:<12} {d['error'] or ''}")
        for p in rep["probes"]:
            print(f"{'ok' if p['ok'] else 'FAILED':>13}  {p['name']:<14} {p['detail']}")
        print(("OK" if rep["ok"] else problems(rep).render(sep="\n")))
    sys.exit(0 if rep["ok"] else 2)
