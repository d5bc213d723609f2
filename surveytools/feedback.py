"""Progress and cancellation, shared by the CLI and the QGIS Processing wrappers.

Library operations take a ``feedback`` argument.  The CLI passes a :class:`Feedback` that
writes to stderr; the QGIS plugin passes an adapter around ``QgsProcessingFeedback``.
"""
from __future__ import annotations

import json
import os
import sys

from .errors import Cancelled
from .i18n import Text


class Feedback:
    """Base feedback: silent, never cancelled.  Subclasses override the ``_`` hooks."""

    def __init__(self):
        self._progress = 0.0

    # -- to be called by library code ------------------------------------------------------
    def progress(self, percent: float) -> None:
        """Report progress (0–100) and raise :class:`Cancelled` if the user asked to stop."""
        self._progress = max(0.0, min(100.0, float(percent)))
        self._set_progress(self._progress)
        self.check()

    def info(self, text: Text | str) -> None:
        self._info(text if isinstance(text, Text) else Text(text, text))

    def warning(self, text: Text | str) -> None:
        self._warning(text if isinstance(text, Text) else Text(text, text))

    def check(self) -> None:
        if self.is_canceled():
            raise Cancelled()

    def step(self, start: float, end: float) -> "SubFeedback":
        """A feedback for a sub-step mapping its 0–100 onto ``start``–``end`` of this one."""
        return SubFeedback(self, start, end)

    # -- hooks ----------------------------------------------------------------------------
    def is_canceled(self) -> bool:
        return False

    def _set_progress(self, percent: float) -> None:
        pass

    def _info(self, text: Text) -> None:
        pass

    def _warning(self, text: Text) -> None:
        pass


class SubFeedback(Feedback):
    def __init__(self, parent: Feedback, start: float, end: float):
        super().__init__()
        self.parent, self.start, self.end = parent, start, end

    def is_canceled(self) -> bool:
        return self.parent.is_canceled()

    def _set_progress(self, percent: float) -> None:
        self.parent._set_progress(self.start + (self.end - self.start) * percent / 100.0)

    def _info(self, text: Text) -> None:
        self.parent._info(text)

    def _warning(self, text: Text) -> None:
        self.parent._warning(text)


class ConsoleFeedback(Feedback):
    """Messages to stderr (stdout stays clean for ``--json``).

    With ``SURVEYTOOLS_PROGRESS=jsonl`` (set by :mod:`surveytools.runner` for the QGIS plugin)
    progress, information and warnings go to stderr as ``@@surveytools {json}`` lines.
    """

    def __init__(self, quiet: bool = False, stream=None):
        super().__init__()
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.warnings: list[Text] = []
        self.jsonl = os.environ.get("SURVEYTOOLS_PROGRESS") == "jsonl"
        self._last = -1.0

    def _emit(self, obj: dict) -> None:
        print("@@surveytools " + json.dumps(obj, ensure_ascii=False), file=self.stream, flush=True)

    def _set_progress(self, percent: float) -> None:
        if self.jsonl and (percent - self._last >= 0.5 or percent >= 100):
            self._last = percent
            self._emit({"progress": round(percent, 2)})

    def _info(self, text: Text) -> None:
        if self.jsonl:
            self._emit({"info": text.as_dict()})
        elif not self.quiet:
            print(text.render(), file=self.stream)

    def _warning(self, text: Text) -> None:
        self.warnings.append(text)
        if self.jsonl:
            self._emit({"warning": text.as_dict()})
        elif not self.quiet:
            print("警告/Warning: " + text.render(), file=self.stream)
