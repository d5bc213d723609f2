"""Temporary outputs that say whose they are, and the clean-up of those a killed run left behind.

Every output is first written under a temporary name beside its target and renamed into place at the end
(see :func:`surveytools.gpkg.atomic_output`).  A run killed with ``kill -9`` (or a power cut) cannot remove
its temporary file, and those can be hundreds of MB.  So temporary names are recognisable and tied to
their target and their writer::

    .<target name>.~st-<host>-<pid>-<random>.tmp<suffix>

and :func:`clean_stale` — called whenever a new temporary path for the same target is made — removes
every such leftover whose writer is gone: the process ``<pid>`` on this host does not exist any more, or
it started after the leftover was last written (so it is another process that reuses the number).  A
leftover of a live writer, or of another machine sharing the folder, is never touched.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

_TAG = "~st"
_RE = re.compile(r"^\.(?P<target>.+)\." + re.escape(_TAG) + r"-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-z]+\.tmp")
_SIDECARS = ("-journal", "-wal", "-shm")


def host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def temp_name(target_name: str, suffix: str = "") -> str:
    return f".{target_name}.{_TAG}-{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}"


def temp_path(target, suffix: str = "", *, clean: bool = True) -> Path:
    """A fresh temporary path beside ``target`` (nothing is created); stale leftovers of the same target
    are removed first unless ``clean`` is false."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if clean:
        clean_stale(target)
    return parent / temp_name(target.name, suffix)


def temp_dir(target) -> Path:
    """A new empty temporary folder beside ``target`` (for outputs that are folders)."""
    p = temp_path(target)
    p.mkdir()
    return p


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None if that cannot be told.  Raises
    ProcessLookupError when there is no such process."""
    if os.name == "nt":
        return _win_process_start(pid)
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except FileNotFoundError:
            raise ProcessLookupError(pid) from None
        except OSError:
            return None
        fields = text.rsplit(")", 1)[1].split()
        boot = _boot_time()
        if boot is None:
            return None
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise
    except PermissionError:
        return None
    return None


def _win_process_start(pid: int) -> float | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    k32 = ctypes.windll.kernel32
    h = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not h:
        if ctypes.get_last_error() == 5:  # access denied: it exists
            return None
        raise ProcessLookupError(pid)
    try:
        code = wintypes.DWORD()
        if k32.GetExitCodeProcess(h, ctypes.byref(code)) and code.value != 259:  # STILL_ACTIVE
            raise ProcessLookupError(pid)
        times = [wintypes.FILETIME() for _ in range(4)]
        if not k32.GetProcessTimes(h, *[ctypes.byref(t) for t in times]):
            return None
        ft = (times[0].dwHighDateTime << 32) | times[0].dwLowDateTime
        return ft / 1e7 - 11644473600.0
    finally:
        k32.CloseHandle(h)


def writer_alive(pid: int, written: float) -> bool:
    """Is the process that wrote a file last modified at ``written`` still running?"""
    if pid == os.getpid():
        return True
    try:
        start = process_start(pid)
    except ProcessLookupError:
        return False
    except Exception:
        return True  # cannot tell: keep the file
    if start is None:
        return True
    return start <= written + 2.0  # a process that started after the file was written did not write it


def stale_leftovers(target) -> list:
    """The temporary files and folders of ``target`` left by writers that are gone."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    prefix = f".{target.name}.{_TAG}-"
    host = host_tag()
    out = []
    try:
        names = os.listdir(parent)
    except OSError:
        return out
    for name in names:
        if not name.startswith(prefix):
            continue
        m = _RE.match(name)
        if m is None or m.group("target") != target.name or m.group("host") != host:
            continue
        p = parent / name
        try:
            written = p.lstat().st_mtime
        except OSError:
            continue
        if not writer_alive(int(m.group("pid")), written):
            out.append(p)
    return out


def clean_stale(target) -> list:
    """Remove the leftovers of killed runs on ``target``; return the paths removed."""
    removed = []
    for p in stale_leftovers(target):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            continue  # not ours to force (permissions); the next run tries again
    return removed


def remove(path) -> None:
    """Remove a temporary file or folder and its SQLite side files, quietly."""
    p = Path(path)
    for extra in (p, *(Path(str(p) + s) for s in _SIDECARS)):
        try:
            if extra.is_dir() and not extra.is_symlink():
                shutil.rmtree(extra, ignore_errors=True)
            elif extra.exists() or extra.is_symlink():
                extra.unlink()
        except OSError:
            pass


__all__ = ["temp_path", "temp_dir", "clean_stale", "stale_leftovers", "remove", "writer_alive"]
