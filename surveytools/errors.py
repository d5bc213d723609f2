"""Errors a user can act on.

Every error raised on bad input is a :class:`SurveyError`: a bilingual message plus where the
problem is (file, layer, feature, field, value).  The CLI prints it and exits non-zero; the QGIS
plugin shows it in the Processing log.  A traceback is never the user's error message.
"""
from __future__ import annotations

import errno as _errno
from typing import Any

from .i18n import Text


class SurveyError(Exception):
    """Bad input or a failed operation, described for the user in Chinese and English."""

    #: process exit code used by the CLI for this kind of error
    exit_code = 2

    def __init__(self, message: Text, *, code: str = "error", file: str | None = None,
                 layer: str | None = None, feature: Any = None, field: str | None = None,
                 value: Any = None, hint: Text | None = None):
        self.message = message
        self.code = code
        self.file = None if file is None else str(file)
        self.layer = layer
        self.feature = feature
        self.field = field
        self.value = value
        self.hint = hint
        super().__init__(self.render("en"))

    def where(self, lang: str) -> str:
        zh = lang == "zh"
        parts = []
        if self.file:
            parts.append(("文件 " if zh else "file ") + self.file)
        if self.layer:
            parts.append(("图层 " if zh else "layer ") + str(self.layer))
        if self.feature is not None:
            parts.append(("要素 " if zh else "feature ") + str(self.feature))
        if self.field:
            parts.append(("字段 " if zh else "field ") + str(self.field))
        if self.value is not None:
            parts.append(("值 " if zh else "value ") + repr(self.value))
        return ", ".join(parts)

    def render(self, lang: str = "both") -> str:
        def one(lg: str) -> str:
            text = self.message.zh if lg == "zh" else self.message.en
            where = self.where(lg)
            out = f"{'错误' if lg == 'zh' else 'Error'}: {text}"
            if where:
                out += f" ({where})"
            if self.hint is not None:
                out += f"\n  {'提示' if lg == 'zh' else 'Hint'}: {self.hint.zh if lg == 'zh' else self.hint.en}"
            return out
        if lang in ("zh", "en"):
            return one(lang)
        return one("zh") + "\n" + one("en")

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message.as_dict(),
            "file": self.file,
            "layer": self.layer,
            "feature": None if self.feature is None else str(self.feature),
            "field": self.field,
            "value": None if self.value is None else str(self.value),
            "hint": None if self.hint is None else self.hint.as_dict(),
        }


class Cancelled(SurveyError):
    """The user cancelled a running operation; nothing was written."""

    exit_code = 130

    def __init__(self):
        super().__init__(Text("操作已取消，未写入任何输出。", "Operation cancelled; nothing was written."),
                         code="cancelled")


# ----------------------------------------------------------------------------------------------
# failures of the environment (permissions, full disk, a folder where a file is expected)

#: errno -> (code, zh, en): what the user can fix, so exit 2 and never "internal error"
_ENV_ERRNO = {
    _errno.EACCES: ("permission_denied", "没有权限（文件或文件夹只读，或属于其他用户）",
                    "permission denied (the file or folder is read-only or belongs to another user)"),
    _errno.EPERM: ("permission_denied", "操作不被允许（权限不足）", "operation not permitted (insufficient permissions)"),
    _errno.EROFS: ("read_only_fs", "文件系统是只读的", "the file system is read-only"),
    _errno.ENOSPC: ("disk_full", "磁盘已满，输出未写入（原有文件保持不变）",
                    "the disk is full; nothing was written (existing files are unchanged)"),
    _errno.EDQUOT: ("disk_full", "超出磁盘配额，输出未写入（原有文件保持不变）",
                    "the disk quota is exceeded; nothing was written (existing files are unchanged)"),
    _errno.EFBIG: ("file_too_big", "文件超出文件系统允许的大小", "the file is larger than the file system allows"),
    _errno.EISDIR: ("is_a_directory", "这里需要文件，但该路径是一个文件夹", "a file is expected here, but the path is a folder"),
    _errno.ENOTDIR: ("not_a_directory", "路径中的某一级不是文件夹", "a part of the path is not a folder"),
    _errno.ENAMETOOLONG: ("name_too_long", "文件名或路径太长", "the file name or path is too long"),
    _errno.EMFILE: ("too_many_files", "打开的文件太多（系统限制）", "too many open files (system limit)"),
    _errno.EXDEV: ("cross_device", "不能跨文件系统改名", "cannot rename across file systems"),
}
#: messages of GDAL, SQLite and other libraries that report the same conditions without an errno
_ENV_TEXT = (
    ("no space left on device", _errno.ENOSPC), ("disk is full", _errno.ENOSPC), ("database or disk is full", _errno.ENOSPC),
    ("disk quota exceeded", _errno.EDQUOT), ("free disk space", _errno.ENOSPC),
    ("read-only file system", _errno.EROFS), ("readonly database", _errno.EROFS),
    ("permission denied", _errno.EACCES), ("access is denied", _errno.EACCES),
    ("is a directory", _errno.EISDIR), ("not a directory", _errno.ENOTDIR),
)


#: a write that fails with less than this free on the output's file system is reported as a full disk
NEARLY_FULL = 2 * 1024 * 1024


def disk_nearly_full(path) -> bool:
    """Is the file system holding ``path`` (or its nearest existing parent) out of room?"""
    import os
    from pathlib import Path

    p = Path(str(path))
    for cand in (p, *p.parents):
        if cand.exists():
            try:
                st = os.statvfs(cand)
            except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
                return False
            return st.f_bavail * st.f_frsize < NEARLY_FULL
    return False


def environment_error(exc: BaseException, path=None) -> "SurveyError | None":
    """A :class:`SurveyError` (exit 2) for a failure caused by the environment — permissions, a read-only
    or full disk, a folder where a file is expected — naming the path; None for anything else (our bug).

    ``path`` names the output when the exception does not (SQLite and GDAL errors carry no file name)."""
    if isinstance(exc, SurveyError):
        return exc
    num = None
    fname = None
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNO:
        num = exc.errno
        fname = exc.filename if exc.filename is not None else None
        if exc.filename2 is not None and num in (_errno.EXDEV, _errno.EISDIR, _errno.ENOTDIR):
            fname = f"{exc.filename} -> {exc.filename2}"
    else:
        sqlstate = getattr(exc, "sqlstate", None)
        text = str(exc).lower()
        if sqlstate and str(sqlstate).startswith("53"):  # PostgreSQL: insufficient resources (disk full …)
            num = _errno.ENOSPC
        elif sqlstate == "42501":  # PostgreSQL: insufficient privilege (a role's grants, not a file's permissions)
            detail = str(exc).strip()
            return SurveyError(
                Text(f"PostgreSQL 拒绝访问，当前账号没有该表或模式的权限：{detail}",
                     f"PostgreSQL denied access: this account has no privilege on the table or schema: {detail}"),
                code="pg_permission_denied", file=None if path is None else str(path),
                hint=Text("请数据库管理员按 docs/store.md“中心共享编辑”授予角色权限（只读、编辑、所有者）",
                          "ask the database administrator to grant the roles of docs/store.md (shared editing at a "
                          "centre: reader, editor, owner)"))
        else:
            num = next((n for t, n in _ENV_TEXT if t in text), None)
        if num is None and path is not None and disk_nearly_full(path):
            # GDAL does not always say why a write failed ("no such table: gpkg_contents" when the file
            # could not be initialised): a write that fails on a file system with no room left is a full disk
            num = _errno.ENOSPC
        if num is None:
            return None
    code, zh, en = _ENV_ERRNO[num]
    where = fname if fname is not None else (None if path is None else str(path))
    detail = str(exc).strip()
    hint = {
        "permission_denied": Text("换一个有写权限的输出位置，或修改文件夹权限",
                                  "choose an output location you can write to, or change the folder's permissions"),
        "read_only_fs": Text("换一个可写的输出位置", "choose a writable output location"),
        "disk_full": Text("清理磁盘空间或换一个输出位置后重试", "free disk space or choose another output location, then run again"),
        "is_a_directory": Text("请给出文件名（例如 out/release.gpkg），而不是文件夹", "give a file name (e.g. out/release.gpkg), not a folder"),
    }.get(code)
    return SurveyError(Text(f"{zh}：{detail}", f"{en}: {detail}"), code=code, file=where, hint=hint)
