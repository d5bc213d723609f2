"""Errors a user can act on.

Every error raised on bad input is a :class:`SurveyError`: a bilingual message plus where the
problem is (file, layer, feature, field, value).  The CLI prints it and exits non-zero; the QGIS
plugin shows it in the Processing log.  A traceback is never the user's error message.
"""
from __future__ import annotations

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
