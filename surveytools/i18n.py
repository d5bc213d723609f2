"""Bilingual text (zh_CN first, English beside it).

Everything a user sees is written in Chinese and English.  ``Text`` keeps both; how it is shown
is chosen by the ``SURVEYTOOLS_LANG`` environment variable: ``zh`` (Chinese only), ``en``
(English only) or ``both`` (the default: Chinese, then English).
"""
from __future__ import annotations

import os
from dataclasses import dataclass


def language() -> str:
    lang = os.environ.get("SURVEYTOOLS_LANG", "both").lower()
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("en"):
        return "en"
    return "both"


@dataclass(frozen=True)
class Text:
    """A message in Chinese and English."""

    zh: str
    en: str

    def format(self, **kw) -> "Text":
        return Text(self.zh.format(**kw), self.en.format(**kw))

    def render(self, lang: str | None = None, sep: str = " / ") -> str:
        lang = lang or language()
        if lang == "zh":
            return self.zh
        if lang == "en":
            return self.en
        return f"{self.zh}{sep}{self.en}" if self.zh != self.en else self.zh

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.render()

    def as_dict(self) -> dict:
        return {"zh": self.zh, "en": self.en}


def T(zh: str, en: str) -> Text:
    return Text(zh, en)
