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


# ------------------------------------------------------------------------------------------------
# PostgreSQL passwords: never in the child's command line (visible to every user in the process list
# and in logs); a temporary pgpass file only this user can read, named by PGPASSFILE in its environment

def _pg_urls(value) -> list:
    values = value if isinstance(value, (list, tuple)) else [value]  # (no store import: the plugin imports this)
    return [v for v in values if isinstance(v, str) and v.lower().startswith(("postgresql://", "postgres://"))]


def without_password(url: str) -> tuple[str, tuple | None]:
    """(``url`` without its password, its pgpass entry (host, port, database, user, password) or None)."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    netloc = (user + "@" if user else "") + netloc
    entry = (parts.hostname or "localhost", str(parts.port or "*"), unquote(parts.path.lstrip("/")) or "*",
             unquote(parts.username or "") or "*", unquote(parts.password))
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), entry


def strip_passwords(kwargs: dict) -> tuple[dict, list]:
    """(``kwargs`` with every PostgreSQL URL's password taken out, the pgpass entries of those passwords)."""
    out, entries = {}, []
    for k, v in kwargs.items():
        if not _pg_urls(v):
            out[k] = v
            continue
        if isinstance(v, (list, tuple)):
            vals = []
            for x in v:
                if isinstance(x, str):
                    x, e = without_password(x)
                    if e:
                        entries.append(e)
                vals.append(x)
            out[k] = type(v)(vals)
        else:
            out[k], e = without_password(v)
            if e:
                entries.append(e)
    return out, entries


def _pgpass_field(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace(":", "\\:")


def _user_pgpass() -> str:
    """The pgpass file libpq would read without us (``$PGPASSFILE``, else the user's default)."""
    if os.environ.get("PGPASSFILE"):
        return os.environ["PGPASSFILE"]
    if os.name == "nt":
        return os.path.join(os.environ.get("APPDATA", ""), "postgresql", "pgpass.conf")
    return os.path.join(os.path.expanduser("~"), ".pgpass")


def write_pgpass(entries, folder: str) -> str:
    """A pgpass file (mode 0600) in ``folder`` with ``entries`` ((host, port, database, user,
    password)), followed by the user's own pgpass lines (they still apply to other servers)."""
    path = os.path.join(folder, "pgpass")
    lines = [":".join(_pgpass_field(f) for f in e) for e in entries]
    try:
        with open(_user_pgpass(), encoding="utf-8") as f:
            lines += [ln.rstrip("\n") for ln in f]
    except OSError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_out_of_process(op: Operation, kwargs: dict, feedback=None, *, python: str | None = None,
                       extra_paths=(), poll: float = 0.1, pg_passwords=()) -> dict:
    """Run ``op`` in a child process; return the parsed ``--json`` result (a dict).

    A password in a ``postgresql://`` argument, and those of ``pg_passwords`` ((host, port,
    database, user, password), e.g. from a saved QGIS connection), reach the child only through a
    temporary pgpass file (0600, removed afterwards) named by ``PGPASSFILE`` in its environment:
    never on its command line.

    Raises :class:`SurveyError` with the child's bilingual message on failure and
    :class:`Cancelled` when ``feedback`` asks to stop.
    """
    import tempfile

    kwargs, entries = strip_passwords(kwargs)
    entries += [tuple(str(f) for f in e) for e in pg_passwords]
    secrets = tempfile.mkdtemp(prefix="surveytools-pg-") if entries else None
    try:
        env = _child_env(extra_paths)
        if secrets:
            env["PGPASSFILE"] = write_pgpass(entries, secrets)
        return _run_child(op, kwargs, feedback, python=python, env=env, poll=poll)
    finally:
        if secrets:
            shutil.rmtree(secrets, ignore_errors=True)


def _run_child(op: Operation, kwargs: dict, feedback, *, python, env, poll) -> dict:
    from .feedback import Feedback

    feedback = feedback or Feedback()
    cmd = [python or python_executable(), "-c", LAUNCHER, *cli_argv(op, kwargs), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env, text=True, encoding="utf-8", errors="replace")
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
