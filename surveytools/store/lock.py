"""The project lock: one writer at a time, a clear message for the second.

A GeoPackage project is locked with ``flock`` on a small file beside it (``PROJECT.gpkg.lock``);
the holder writes who it is into that file (operation, host, pid, user, since).  The kernel
releases the lock when the holder's process ends in any way (``kill -9`` included), so a dead
holder never blocks the project: the next writer takes the lock and overwrites the stale note.

A second writer waits up to ``timeout`` seconds (``$SURVEYTOOLS_LOCK_TIMEOUT``, default 60),
polling, then fails with a bilingual :class:`~surveytools.errors.SurveyError` (code
``project_locked``) naming the holder.  Readers never take this lock: SQLite's write-ahead log
lets them read the last committed state while a writer works.

The lock is re-entrant inside one process (an operation that locks early, then opens a
transaction, holds it once).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import getpass
import json
import os
import socket
import threading
import time
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text

DEFAULT_TIMEOUT = 60.0
POLL = 0.1



class Holds:
    """The writer locks this process holds, by key (a GeoPackage's lock file, a PostGIS project's
    schema), each with its resource and depth: a lock taken again in the same process (an operation
    that locks early, then opens a transaction) is entered once more, not waited for.  One for each
    backend (:data:`HELD` here, ``pg.HELD``)."""

    def __init__(self):
        self._held: dict = {}  # key -> [resource, depth]
        self._guard = threading.RLock()

    def __contains__(self, key) -> bool:
        return key in self._held

    @contextlib.contextmanager
    def hold(self, key, acquire):
        """The block under the lock ``key``: one level deeper when this process holds it already,
        else inside ``acquire()``, a context manager that takes the lock (waiting, or failing with
        the holder's name), yields its resource and releases it at its end."""
        with self._guard:
            held = self._held.get(key)
            if held is not None:
                held[1] += 1
        if held is not None:
            try:
                yield
            finally:
                with self._guard:
                    held[1] -= 1
            return
        with acquire() as resource:
            with self._guard:
                self._held[key] = [resource, 1]
            try:
                yield
            finally:
                with self._guard:
                    self._held.pop(key, None)


HELD = Holds()


def holder_note(operation: str | None = None) -> dict:
    """What a lock's holder writes about itself: operation, host, pid, user, since."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = str(os.getuid())
    return {"operation": operation or current_operation(), "host": socket.gethostname(), "pid": os.getpid(),
            "user": user, "since": _dt.datetime.now().replace(microsecond=0).isoformat()}


def lock_timeout(timeout=None) -> float:
    if timeout is not None:
        return float(timeout)
    env = os.environ.get("SURVEYTOOLS_LOCK_TIMEOUT", "").strip()
    try:
        return float(env) if env else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def lock_path(project_path) -> Path:
    p = Path(project_path)
    return p.with_name(p.name + ".lock")


def current_operation() -> str:
    from ..ops import current_operation as cur

    return cur() or "surveytools"


def holder(project_path) -> dict | None:
    """Who holds (or last held) the lock of a project: the note its holder wrote, or None."""
    lp = lock_path(project_path)
    for _ in range(5):
        try:
            text = lp.read_text(encoding="utf-8")
        except OSError:
            return None
        if text.strip():
            try:
                return json.loads(text)
            except ValueError:
                pass
        time.sleep(0.02)  # the holder is writing its note right now
    return None


def is_locked(project_path) -> bool:
    """True when some process holds the project's writer lock now."""
    lp = lock_path(project_path)
    if str(lp) in HELD:
        return True
    if not lp.exists():
        return False
    fd = os.open(str(lp), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _busy_error(project_path, who: dict | None, waited: float) -> SurveyError:
    who = who or {}
    op, host, pid, since = (who.get("operation", "?"), who.get("host", "?"), who.get("pid", "?"),
                            who.get("since", "?"))
    user = who.get("user", "?")
    return SurveyError(
        Text(f"项目库正由另一个写入操作占用（{op}，主机 {host}，进程 {pid}，用户 {user}，开始于 {since}），"
             f"已等待 {waited:.0f} 秒；本次操作未做任何修改",
             f"the project is locked by another writer ({op}, host {host}, pid {pid}, user {user}, since {since}); "
             f"waited {waited:.0f} s; nothing was changed"),
        code="project_locked", file=str(project_path),
        hint=Text("等该操作结束后重试，或用环境变量 SURVEYTOOLS_LOCK_TIMEOUT（秒）延长等待时间",
                  "retry when it has finished, or wait longer with SURVEYTOOLS_LOCK_TIMEOUT (seconds)"))


@contextlib.contextmanager
def project_lock(project_path, *, operation: str | None = None, timeout=None):
    """Hold the writer lock of ``project_path`` for the block (see the module docstring)."""
    key = str(lock_path(project_path))
    with HELD.hold(key, lambda: _flock(project_path, key, operation, timeout)):
        yield


@contextlib.contextmanager
def _flock(project_path, key: str, operation, timeout):
    """Take the lock file ``key`` (waiting up to the timeout), write the holder's note, yield its fd."""
    limit = lock_timeout(timeout)
    try:
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise SurveyError(Text(f"无法创建项目锁文件：{e.strerror}", f"cannot create the project lock file: {e.strerror}"),
                          code="lock_failed", file=key) from None
    start = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                waited = time.monotonic() - start
                if waited >= limit:
                    raise _busy_error(project_path, holder(project_path), waited) from None
                time.sleep(POLL)
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_note(operation), ensure_ascii=False).encode("utf-8"), 0)
        yield fd
    finally:
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
