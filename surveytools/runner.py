"""Run an operation in a separate Python process through the CLI.

The QGIS plugin uses this: QGIS links its own GDAL, PROJ and GEOS, and the wheels the library
uses (pyogrio, pyproj, shapely) bundle other versions of the same libraries.  Loaded into one
process they clash (QGIS crashes on exit or in the middle of a write), so the plugin never
imports them: every algorithm runs the CLI (``surveytools GROUP NAME … --json``) with the
same parameters, reads progress from the child's stderr, and terminates the child on cancel
(the CLI turns SIGTERM into a cancel, and every output is written atomically, so nothing is
left half-written).

Progress protocol on stderr, one JSON object per line after the marker ``@@surveytools ``:
``{"progress": 42.0}``, ``{"info": {"zh": …, "en": …}}``, ``{"warning": {"zh": …, "en": …}}``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import Cancelled, SurveyError
from .i18n import Text
from .ops import Operation

MARKER = "@@surveytools "
#: ``python -c`` puts the working directory first on the import path (as ``-m`` does); drop it so
#: a ``surveytools/`` folder wherever QGIS was started from can never shadow the library
LAUNCHER = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
            "from surveytools.cli import main; main()")
PROGRESS_ENV = "SURVEYTOOLS_PROGRESS"


def cli_argv(op: Operation, kwargs: dict) -> list[str]:
    """The CLI arguments for ``op`` called with ``kwargs`` (the library's keyword arguments)."""
    argv = [op.group, op.name]
    known = {p.name: p for p in op.params}
    unknown = set(kwargs) - set(known)
    if unknown:
        raise TypeError(f"{op.id}: unknown parameters {sorted(unknown)}")
    for p in op.params:
        if p.name not in kwargs:
            continue
        value = kwargs[p.name]
        if value is None or (p.multiple and not value):
            continue
        values = list(value) if p.multiple else [value]
        if p.positional:
            argv += [str(v) for v in values]
        elif p.kind == "bool":
            argv.append(p.cli_flag if value else "--no-" + p.cli_flag[2:])
        else:
            for v in values:
                argv += [p.cli_flag, str(v)]
    return argv


#: the interpreter chosen in the QGIS plugin's settings (QgsSettings ``surveytools/python``; the
#: plugin sets this, see qgis_plugin/deps.py); ``$SURVEYTOOLS_PYTHON`` still wins
configured_python: str | None = None


def python_executable() -> str:
    """The interpreter that runs the library: ``$SURVEYTOOLS_PYTHON``, else
    :data:`configured_python`, else this one when it is a Python (not the QGIS binary embedding
    Python), else ``<sys.exec_prefix>/bin/python3`` (Debian/Ubuntu QGIS: ``/usr/bin/python3``) or
    ``<sys.exec_prefix>/python.exe`` (OSGeo4W: ``apps\\Python3x\\python.exe``), else ``python3`` on PATH."""
    env = os.environ.get("SURVEYTOOLS_PYTHON")
    if env:
        return env
    if configured_python:
        return configured_python
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python"):
        return exe
    for cand in (Path(sys.exec_prefix) / "bin" / "python3", Path(sys.exec_prefix) / "python.exe"):
        if cand.exists():
            return str(cand)
    return shutil.which("python3") or shutil.which("python") or "python3"


def _child_env(extra_paths=()) -> dict:
    env = dict(os.environ)
    env[PROGRESS_ENV] = "jsonl"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    paths = [pkg_parent, *map(str, extra_paths)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # the child is a plain Python: none of QGIS's library paths or preloads
    env.pop("LD_PRELOAD", None)
    return env


def run_out_of_process(op: Operation, kwargs: dict, feedback=None, *, python: str | None = None,
                       extra_paths=(), poll: float = 0.1) -> dict:
    """Run ``op`` in a child process; return the parsed ``--json`` result (a dict).

    Raises :class:`SurveyError` with the child's bilingual message on failure and
    :class:`Cancelled` when ``feedback`` asks to stop.
    """
    from .feedback import Feedback

    feedback = feedback or Feedback()
    cmd = [python or python_executable(), "-c", LAUNCHER, *cli_argv(op, kwargs), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=_child_env(extra_paths), text=True, encoding="utf-8", errors="replace")
    other_stderr: list[str] = []
    events: list[dict] = []
    lock = threading.Lock()

    def read_stderr():
        for line in proc.stderr:
            if line.startswith(MARKER):
                try:
                    with lock:
                        events.append(json.loads(line[len(MARKER):]))
                except json.JSONDecodeError:
                    other_stderr.append(line)
            else:
                other_stderr.append(line)

    out_chunks: list[str] = []
    t_err = threading.Thread(target=read_stderr, daemon=True)
    t_out = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    t_err.start()
    t_out.start()
    cancelled = False
    while proc.poll() is None:
        with lock:
            pending, events[:] = list(events), []
        _dispatch(pending, feedback)
        if feedback.is_canceled():
            cancelled = True
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck child
                proc.kill()
                proc.wait()
            break
        time.sleep(poll)
    t_err.join(timeout=5)
    t_out.join(timeout=5)
    _dispatch(events, feedback)
    if cancelled:
        raise Cancelled()
    stdout = "".join(out_chunks)
    try:
        data = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    if data is not None and (proc.returncode == 0 or data.get("completed")):
        return data  # a completed operation, also one with a negative outcome (validation FAIL)
    if proc.returncode == 130:
        raise Cancelled()
    err = (data or {}).get("error") or {}
    msg = err.get("message") or {}
    if msg:
        e = SurveyError(Text(msg.get("zh", ""), msg.get("en", "")), code=err.get("code", "error"),
                        file=err.get("file"), layer=err.get("layer"), feature=err.get("feature"),
                        field=err.get("field"), value=err.get("value"))
        hint = err.get("hint")
        if hint:
            e.hint = Text(hint.get("zh", ""), hint.get("en", ""))
        raise e
    tail = "".join(other_stderr[-20:]).strip()
    raise SurveyError(Text(f"surveytools 子进程异常退出（状态 {proc.returncode}）：{tail}",
                           f"the surveytools process failed (exit status {proc.returncode}): {tail}"),
                      code="child_failed",
                      hint=Text(f"检查 Python 环境：{cmd[0]} 是否安装了 surveytools 的依赖",
                                f"check that {cmd[0]} has surveytools' dependencies installed"))


def _dispatch(events, feedback) -> None:
    for ev in events:
        if "progress" in ev:
            feedback._set_progress(float(ev["progress"]))
        elif "info" in ev:
            feedback._info(Text(ev["info"].get("zh", ""), ev["info"].get("en", "")))
        elif "warning" in ev:
            feedback._warning(Text(ev["warning"].get("zh", ""), ev["warning"].get("en", "")))
