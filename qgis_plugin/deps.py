"""The Python packages of the library's child process: check, install, prove.

The GDAL/PROJ/GEOS wheels (geopandas, pyogrio, shapely, pyproj) must never be imported inside
QGIS (see surveytools/runner.py).  The algorithms run the library in a child Python with a
dependency folder on its ``PYTHONPATH``; this module fills that folder and proves the child works.

**Pure standard library** (QGIS's process imports it; ``qgis`` is only consulted, lazily, when
QGIS is already loaded), and runnable headless, for IT staff and offline centres::

    cd <QGIS profile>/python/plugins
    python3 -m surveytools_plugin.deps check   [--python EXE] [--target DIR] [--json]
    python3 -m surveytools_plugin.deps install [--find-links WHEELS] [--python EXE] [--target DIR]
                                               [--optional] [--json]

(or ``python3 <plugin folder>/deps.py …``).  ``install``

1. runs ``EXE -m pip install --target <staging folder> --constraint constraints.txt <packages>``
   where ``constraints.txt`` is ``surveytools/data/constraints.txt`` shipped in the plugin ZIP
   (generated from pyproject.toml, numpy<2 etc.; nothing outside those pins is installed);
   ``--find-links DIR`` installs from a wheel folder without any index (offline);
2. runs the self-check (``surveytools.selfcheck``: import + version of every pinned package, a
   GeoPackage round trip, a CGCS2000 transformation, loading every operation) **in the child
   interpreter** against the staging folder;
3. only when that passes, replaces the dependency folder with the staging folder (the old folder
   stays untouched on failure or cancel: never a half-installed folder).

Progress goes to a callback (percent, bilingual message); cancelling terminates pip.

**The child interpreter** (:func:`python_executable`, the same one the algorithms use):

1. the environment variable ``SURVEYTOOLS_PYTHON``;
2. the QGIS setting ``surveytools/python`` (QgsSettings; ``--python`` on the command line);
3. the Python QGIS embeds: ``<sys.exec_prefix>/bin/python3`` — ``/usr/bin/python3`` for Debian's
   and Ubuntu's QGIS — or ``<sys.exec_prefix>/python.exe`` — ``C:\\OSGeo4W\\apps\\Python3x\\python.exe``
   for OSGeo4W and the QGIS standalone installer on Windows;
4. ``python3`` / ``python`` on ``PATH``.

**The dependency folder** (:func:`deps_path`): the QGIS setting ``surveytools/deps_path``, else
``<QGIS profile>/python/surveytools-deps``.  The install button installs from the wheel folder in
the QGIS setting ``surveytools/find_links`` when it is set (offline), else from PyPI (or the
index pip is configured for).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
SETTINGS_KEY = "surveytools/deps_path"
PYTHON_KEY = "surveytools/python"
#: a folder of wheels the install button installs from without an index (offline centres)
WHEELS_KEY = "surveytools/find_links"
DEPS_FOLDER = "surveytools-deps"

#: run in the child: the self-check of surveytools/selfcheck.py (pure stdlib at import)
SELFCHECK = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
             "from surveytools.selfcheck import main; main()")


class Cancelled(Exception):
    """The user cancelled the installation; the dependency folder was left as it was."""


def msg(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


# -- where things are --------------------------------------------------------------------------
def library_root() -> str:
    """The folder holding the ``surveytools`` package the child runs: the ZIP's ``libs/``, or the
    checkout (``qgis_plugin/..``)."""
    libs = os.path.join(PLUGIN_DIR, "libs")
    if os.path.isdir(os.path.join(libs, "surveytools")):
        return libs
    return os.path.dirname(PLUGIN_DIR)


def _ensure_library():
    root = library_root()
    if root not in sys.path:
        sys.path.insert(0, root)


def constraints_file() -> str:
    return os.path.join(library_root(), "surveytools", "data", "constraints.txt")


def requirements(optional: bool = False, constraints: str | None = None) -> list:
    """``[selfcheck.Requirement]`` of the constraints file (optional ones only when asked)."""
    _ensure_library()
    from surveytools.selfcheck import read_constraints

    return [r for r in read_constraints(constraints or constraints_file()) if optional or not r.optional]


def _in_qgis() -> bool:
    return "qgis.core" in sys.modules


def _setting(key: str) -> str:
    if not _in_qgis():
        return ""
    from qgis.core import QgsSettings

    value = QgsSettings().value(key, "") or ""
    return str(value) if value else ""


def default_deps_path() -> str:
    """``<QGIS profile>/python/surveytools-deps`` (found from QGIS when it is loaded, else from
    where this plugin is installed: ``<profile>/python/plugins/<plugin>``)."""
    if _in_qgis():
        from qgis.core import QgsApplication

        return os.path.join(QgsApplication.qgisSettingsDirPath(), "python", DEPS_FOLDER)
    plugins = os.path.dirname(PLUGIN_DIR)
    if os.path.basename(plugins) == "plugins" and os.path.basename(os.path.dirname(plugins)) == "python":
        return os.path.join(os.path.dirname(plugins), DEPS_FOLDER)
    return os.path.join(os.path.expanduser("~"), ".local", "share", "surveytools", DEPS_FOLDER)


def deps_path() -> str:
    """The dependency folder: the ``surveytools/deps_path`` setting, else the default."""
    return _setting(SETTINGS_KEY) or default_deps_path()


def extra_paths() -> list:
    """Folders to add to the child's PYTHONPATH (the dependency folder when it exists)."""
    p = deps_path()
    return [p] if os.path.isdir(p) else []


def configure_runner() -> None:
    """Hand the ``surveytools/python`` setting to :mod:`surveytools.runner` (which every
    algorithm uses to start its child)."""
    _ensure_library()
    from surveytools import runner

    runner.configured_python = _setting(PYTHON_KEY) or None


def python_executable() -> str:
    configure_runner()
    from surveytools.runner import python_executable as _exe

    return _exe()


def child_env(target: str | None = None) -> dict:
    """The environment of the algorithms' child processes, with ``target`` as dependency folder."""
    _ensure_library()
    from surveytools.runner import _child_env

    target = deps_path() if target is None else target
    return _child_env([target] if target and os.path.isdir(target) else [])


# -- check -------------------------------------------------------------------------------------
def check(*, python: str | None = None, target: str | None = None, quick: bool = False,
          timeout: float = 300) -> dict:
    """The self-check report (``surveytools.selfcheck.report``) from the child interpreter with
    ``target`` (default: the dependency folder) on its path.  When the child cannot run at all:
    ``{"ok": False, "python_error": …}``."""
    exe = python or python_executable()
    cmd = [exe, "-c", SELFCHECK, "--json"] + (["--quick"] if quick else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout, env=child_env(target), stdin=subprocess.DEVNULL,
                              cwd=tempfile.gettempdir(), **_no_window())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"ok": False, "python": exe, "python_error": f"{type(exc).__name__}: {exc}"}
    try:
        rep = json.loads(proc.stdout)
    except ValueError:
        return {"ok": False, "python": exe,
                "python_error": f"exit status {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-1500:]}"}
    if "error" in rep and "dependencies" not in rep:
        err = rep["error"]
        return {"ok": False, "python": exe, "python_error": f"{err.get('message', {}).get('en', err)}"}
    rep.setdefault("python", exe)
    return rep


def describe(rep: dict) -> dict:
    """What is wrong, ``{"zh": …, "en": …}`` (empty strings when nothing is)."""
    if rep.get("python_error"):
        return msg(f"无法运行 Python（{rep.get('python')}）：{rep['python_error']}",
                   f"Cannot run Python ({rep.get('python')}): {rep['python_error']}")
    zh, en = [], []
    if rep.get("missing"):
        zh.append("缺少 " + "、".join(rep["missing"]))
        en.append("missing: " + ", ".join(rep["missing"]))
    if rep.get("wrong_version"):
        zh.append("版本不符 " + "、".join(rep["wrong_version"]))
        en.append("wrong version: " + ", ".join(rep["wrong_version"]))
    if rep.get("broken"):
        zh.append("无法导入 " + "；".join(rep["broken"]))
        en.append("cannot be imported: " + "; ".join(rep["broken"]))
    bad = [f"{p['name']}: {p['detail']}" for p in rep.get("probes", []) if not p.get("ok")]
    if bad:
        zh.append("功能检查失败 " + "；".join(bad))
        en.append("failed checks: " + "; ".join(bad))
    return msg("；".join(zh), "; ".join(en))


def missing(rep: dict) -> list:
    """Names of the required packages that are missing, broken or the wrong version (every
    required package when the child cannot run)."""
    if rep.get("python_error"):
        try:
            return [r.name for r in requirements()]
        except Exception:
            return []
    return [d["name"] for d in rep.get("dependencies", []) if d["status"] != "ok" and not d.get("optional")]


# -- install -----------------------------------------------------------------------------------
def _no_window() -> dict:
    """Keep Windows from opening a console window for each child."""
    flag = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    return {"creationflags": flag} if flag else {}


def _pip_env() -> dict:
    env = dict(os.environ)
    for key in ("PYTHONPATH", "LD_PRELOAD", "PYTHONSTARTUP"):
        env.pop(key, None)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    env["PIP_NO_INPUT"] = "1"
    return env


def pip_launcher(python: str, find_links=()) -> list:
    """``[python, "-m", "pip"]``, or ``[python, <pip wheel>/pip]`` when this Python has no pip but a
    wheel folder has a pip wheel (pip runs from its own wheel)."""
    try:
        ok = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, timeout=120,
                            env=_pip_env(), stdin=subprocess.DEVNULL, **_no_window()).returncode == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(msg(f"无法运行 Python：{python}（{exc}）。请在设置 surveytools/python 或环境变量 "
                               "SURVEYTOOLS_PYTHON 中指定 Python 解释器。",
                               f"Cannot run Python: {python} ({exc}). Set the interpreter in the "
                               "surveytools/python setting or the SURVEYTOOLS_PYTHON environment variable.")) from None
    if ok:
        return [python, "-m", "pip"]
    for folder in find_links:
        wheels = sorted(f for f in os.listdir(folder) if re.match(r"pip-[0-9.]+-py3-none-any\.whl$", f))
        if wheels:
            return [python, os.path.join(folder, wheels[-1], "pip")]
    raise InstallError(msg(f"{python} 没有 pip。Debian/Ubuntu：sudo apt install python3-pip；或把 pip 的 wheel "
                           "（pip-*.whl）放进 --find-links 指定的文件夹。",
                           f"{python} has no pip. Debian/Ubuntu: sudo apt install python3-pip; or put a pip "
                           "wheel (pip-*.whl) into the --find-links folder."))


class InstallError(Exception):
    def __init__(self, message: dict):
        super().__init__(message["en"])
        self.message = message


def pip_command(launcher: list, target: str, names: list, constraints: str, find_links=(),
                index_url: str | None = None) -> list:
    cmd = [*launcher, "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
           "--prefer-binary", "--target", target, "--constraint", constraints]
    if find_links and not index_url:
        cmd.append("--no-index")
    for folder in find_links:
        cmd += ["--find-links", folder]
    if index_url:
        cmd += ["--index-url", index_url]
    return cmd + list(names)


_STEP = re.compile(r"^\s*(Collecting|Processing|Obtaining)\s+(\S+)")


def install(*, python: str | None = None, target: str | None = None, find_links=(), index_url: str | None = None,
            optional: bool = False, progress=None, is_canceled=None, log=None, timeout: float = 3600) -> dict:
    """Install the pinned packages into ``target`` and prove the child works (see the module
    docstring).  ``progress(percent, message_dict)``, ``is_canceled() -> bool`` and ``log(line)``
    are optional callbacks.  Returns ``{"ok", "target", "python", "check", "message", "log"}``;
    raises :class:`Cancelled` when cancelled and :class:`InstallError` when the installation
    could not run."""
    progress = progress or (lambda pct, m: None)
    is_canceled = is_canceled or (lambda: False)
    log = log or (lambda line: None)
    exe = python or python_executable()
    target = os.path.abspath(target or deps_path())
    if not find_links and _setting(WHEELS_KEY):
        find_links = [_setting(WHEELS_KEY)]
    find_links = [os.path.abspath(f) for f in find_links]
    for folder in find_links:
        if not os.path.isdir(folder):
            raise InstallError(msg(f"wheel 文件夹不存在：{folder}", f"The wheel folder does not exist: {folder}"))
    constraints = constraints_file()
    reqs = requirements(optional)
    progress(1, msg(f"检查 {exe} 的 pip", f"Checking pip of {exe}"))
    launcher = pip_launcher(exe, find_links)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=os.path.basename(target) + ".new-", dir=parent)
    lines = []
    try:
        cmd = pip_command(launcher, staging, [r.line for r in reqs], constraints, find_links, index_url)
        log(" ".join(cmd))
        progress(3, msg("pip 正在下载和安装依赖", "pip is downloading and installing the dependencies"))
        rc = _run_pip(cmd, lines, len(reqs), progress, is_canceled, log, timeout)
        if rc != 0:
            tail = "".join(lines[-25:]).strip()
            return {"ok": False, "target": target, "python": exe, "check": None, "log": "".join(lines),
                    "message": msg(f"pip 安装失败（退出状态 {rc}）：{tail[-800:]}",
                                   f"pip failed (exit status {rc}): {tail[-800:]}")}
        if is_canceled():
            raise Cancelled()
        progress(88, msg("在子进程中自检", "Self-check in the child process"))
        rep = check(python=exe, target=staging)
        if is_canceled():
            raise Cancelled()
        if not rep.get("ok"):
            d = describe(rep)
            return {"ok": False, "target": target, "python": exe, "check": rep, "log": "".join(lines),
                    "message": msg(f"安装后自检未通过（未替换 {target}）：{d['zh']}",
                                   f"The self-check after the installation failed ({target} left unchanged): {d['en']}")}
        _replace(staging, target)
        rep = _relocate(rep, staging, target)
        staging = None
        progress(100, msg("依赖已安装并通过自检", "Dependencies installed and checked"))
        n = len(rep.get("dependencies", []))
        return {"ok": True, "target": target, "python": exe, "check": rep, "log": "".join(lines),
                "message": msg(f"已安装到 {target}，子进程自检通过（Python {rep.get('python_version')}，{n} 个依赖）",
                               f"Installed into {target}; the child process passed the self-check "
                               f"(Python {rep.get('python_version')}, {n} dependencies)")}
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _run_pip(cmd, lines, n_reqs, progress, is_canceled, log, timeout) -> int:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, encoding="utf-8", errors="replace", env=_pip_env(), **_no_window())
    seen = set()
    expected = max(2 * n_reqs, 1)

    def reader():
        for line in proc.stdout:
            lines.append(line)
            log(line.rstrip("\n"))
            m = _STEP.match(line)
            if m:
                name = re.split(r"[-<>=!~\[ ]", os.path.basename(m.group(2)), 1)[0]
                seen.add(name.lower())
                n = len(seen)
                progress(3 + 60 * min(n / max(expected, n + 1), 0.98),
                         msg(f"已获取 {n} 个包：{name}", f"{n} packages collected: {name}"))
            elif line.startswith("Installing collected packages"):
                progress(66, msg("pip 正在安装已获取的包", "pip is installing the collected packages"))
            elif line.startswith("Successfully installed"):
                progress(85, msg("pip 安装完成", "pip finished"))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    start = time.monotonic()
    while proc.poll() is None:
        if is_canceled() or time.monotonic() - start > timeout:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            t.join(timeout=5)
            proc.stdout.close()
            if is_canceled():
                raise Cancelled()
            lines.append(f"timeout after {timeout:.0f} s\n")
            return -1
        time.sleep(0.2)
    t.join(timeout=10)
    proc.stdout.close()
    return proc.returncode


def _replace(staging: str, target: str) -> None:
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=os.path.basename(target) + ".old-", dir=os.path.dirname(target))
        os.rmdir(old)
        try:
            os.replace(target, old)
        except OSError as exc:
            raise InstallError(msg(f"无法替换 {target}（{exc}）：请关闭正在运行的 SurveyTools 工具后重试。",
                                   f"Cannot replace {target} ({exc}): close running SurveyTools tools and "
                                   "try again.")) from None
    os.replace(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _relocate(rep: dict, staging: str, target: str) -> dict:
    """The staging folder's report with its paths pointing at the final folder."""
    return json.loads(json.dumps(rep).replace(json.dumps(staging)[1:-1], json.dumps(target)[1:-1]))


def remember(target: str, python: str | None = None) -> None:
    """Store the folder (and the interpreter, when given) in the QGIS settings."""
    if not _in_qgis():
        return
    from qgis.core import QgsSettings

    settings = QgsSettings()
    settings.setValue(SETTINGS_KEY, target)
    if python:
        settings.setValue(PYTHON_KEY, python)


# -- command line ------------------------------------------------------------------------------
def _print(text: str, stream=None) -> None:
    stream = stream or sys.stdout
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:  # a console that cannot show Chinese
        stream.write(text.encode("ascii", "replace").decode("ascii") + "\n")
    stream.flush()


def _both(m: dict) -> str:
    return f"{m['zh']}\n{m['en']}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m surveytools_plugin.deps",
        description="安装并检查 SurveyTools 子进程的 Python 依赖 / Install and check the Python dependencies "
                    "of SurveyTools' child process")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("check", "自检 / self-check"), ("install", "安装并自检 / install, then self-check")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--python", help="子进程的 Python 解释器 / the child's interpreter "
                                         "(default: $SURVEYTOOLS_PYTHON, the Python beside QGIS, python3)")
        sp.add_argument("--target", help=f"依赖文件夹 / dependency folder (default: {default_deps_path()})")
        sp.add_argument("--json", action="store_true", help="JSON 输出 / print JSON")
        if name == "install":
            sp.add_argument("--find-links", action="append", default=[], metavar="DIR",
                            help="离线安装：wheel 文件夹（不访问索引）/ offline: a folder of wheels (no index)")
            sp.add_argument("--index-url", help="PyPI 镜像 / a package index mirror, e.g. "
                                                "https://pypi.tuna.tsinghua.edu.cn/simple")
            sp.add_argument("--optional", action="store_true",
                            help="同时安装可选依赖（weasyprint，PDF 指挥手册）/ also the optional ones (weasyprint)")
    args = ap.parse_args(argv)
    target = os.path.abspath(args.target) if args.target else None
    if args.command == "check":
        rep = check(python=args.python, target=target)
        if args.json:
            _print(json.dumps(rep, ensure_ascii=False, indent=1))
        else:
            for d in rep.get("dependencies", []):
                _print(f"{d['status']:>13}  {d['name']:<14} {d['version'] or '-':<10} {d['spec']:<12} "
                       f"{d['error'] or ''}")
            _print(_both(describe(rep)) if not rep.get("ok") else
                   f"OK: {rep.get('python')} (Python {rep.get('python_version')})")
        return 0 if rep.get("ok") else 2

    def progress(pct, m):
        if not args.json:
            _print(f"[{pct:5.1f}%] {m['zh']} / {m['en']}", sys.stderr)

    try:
        res = install(python=args.python, target=target, find_links=args.find_links, index_url=args.index_url,
                      optional=args.optional, progress=progress)
    except Cancelled:
        _print("已取消，依赖文件夹未改变 / Cancelled; the dependency folder was left unchanged", sys.stderr)
        return 130
    except KeyboardInterrupt:
        _print("已取消，依赖文件夹未改变 / Cancelled; the dependency folder was left unchanged", sys.stderr)
        return 130
    except InstallError as exc:
        if args.json:
            _print(json.dumps({"ok": False, "message": exc.message}, ensure_ascii=False, indent=1))
        _print(_both(exc.message), sys.stderr)
        return 2
    if args.json:
        _print(json.dumps({k: v for k, v in res.items() if k != "log"}, ensure_ascii=False, indent=1))
    else:
        if not res["ok"]:
            _print(res["log"][-3000:], sys.stderr)
        _print(_both(res["message"]))
    return 0 if res["ok"] else 2


if __name__ == "__main__":
    sys.exit(main())
