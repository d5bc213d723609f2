"""The dependency check and the one-click installer in QGIS (the work is :mod:`.deps`).

Both run as ``QgsTask``s: the check and pip run in child processes, never in QGIS's Python.  The
install shows a progress bar with a Cancel button in the message bar (the task manager shows
and cancels it too), and ends with the child's self-check: success only when the child really
imports every pinned package at the right version and passes the probes.
"""
from __future__ import annotations

from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QLabel, QProgressBar, QPushButton

from . import deps
from .compat import is_chinese, level, log, tr
from .tasks import start


def _text(m: dict) -> str:
    return m["zh"] if is_chinese() else m["en"]


def _log_report(rep: dict) -> None:
    rows = [f"{d['status']:>13}  {d['name']} {d['version'] or '-'} ({d['spec']}) {d['error'] or ''}"
            for d in rep.get("dependencies", [])]
    rows += [f"{'ok' if p['ok'] else 'FAILED':>13}  {p['name']}: {p['detail']}" for p in rep.get("probes", [])]
    log(f"Python: {rep.get('python')} {rep.get('python_version', '')}\n" + "\n".join(rows)
        + (f"\n{rep['python_error']}" if rep.get("python_error") else ""), "Info")


class DependencyManager:
    """Owned by the plugin: ``check(report_ok)``, ``install()``, ``unload()``."""

    def __init__(self, iface):
        self.iface = iface
        self.task = None
        self.last_report = None
        #: the last message shown: ``(level name, text)`` (the offer, the outcome)
        self.last_message = None
        self._bar_item = None
        self._offer = None

    # -- check ------------------------------------------------------------------------------
    def check(self, report_ok: bool = False):
        """Self-check of the child interpreter in the background (imports and versions on start-up,
        with the probes when the user asks); offers the install when something is missing."""
        if self.task is not None:
            return self.task
        quick = not report_ok

        def done(ok, result):
            self.task = None
            if not ok or not isinstance(result, dict):
                log(f"dependency check failed: {result}", "Warning")
                return
            self.last_report = result
            _log_report(result)
            if not result.get("ok"):
                self._offer_install(result)
            elif report_ok and self.iface is not None:
                self.iface.messageBar().pushMessage(
                    "SurveyTools", tr("All Python dependencies are installed ({python}).").format(
                        python=result.get("python")), level("Success"), 6)

        self.task = start(tr("SurveyTools: check Python dependencies"), lambda fb: deps.check(quick=quick), done)
        return self.task

    def _offer_install(self, rep: dict):
        if self.iface is None:
            return
        bar = self.iface.messageBar()
        text = tr("SurveyTools needs Python packages in {python}: {problems}. Install them into {folder}?").format(
            python=rep.get("python"), problems=_text(deps.describe(rep)), folder=deps.deps_path())
        self.last_message = ("Warning", text)
        widget = bar.createMessage("SurveyTools", text)
        button = QPushButton(tr("Install"), widget)
        button.setObjectName("surveytoolsInstallDeps")
        # popWidget deletes the message with the button in it: never inside the button's own clicked
        # signal (a use-after-free that crashed QGIS), but once the signal has returned; and the slot is a
        # bound method, not a lambda (a lambda slot still crashed QGIS under Xvfb once the panels grew)
        self._offer = (bar, widget)
        button.clicked.connect(self._install_clicked)
        widget.layout().addWidget(button)
        bar.pushWidget(widget, level("Warning"), 0)

    def _install_clicked(self, _checked=False):
        bar, widget = self._offer or (None, None)
        self._offer = None
        if bar is not None:
            QTimer.singleShot(0, lambda: bar.popWidget(widget))
        QTimer.singleShot(0, self.install)

    # -- install ----------------------------------------------------------------------------
    def install(self, find_links=(), index_url=None):
        """Install the pinned packages (pip in a child), then prove the child works."""
        if self.task is not None:
            try:
                self.task.cancel()
            except RuntimeError:
                pass
            self.task = None
        state = {"message": deps.msg("准备安装", "Preparing the installation")}
        progress_bar = label = None
        if self.iface is not None:
            bar = self.iface.messageBar()
            widget = bar.createMessage("SurveyTools", tr("Installing the Python dependencies"))
            label = QLabel(widget)
            progress_bar = QProgressBar(widget)
            progress_bar.setRange(0, 100)
            progress_bar.setMinimumWidth(160)
            cancel = QPushButton(tr("Cancel"), widget)
            cancel.setObjectName("surveytoolsCancelInstall")
            cancel.clicked.connect(lambda: self.task is not None and self.task.cancel())
            for w in (label, progress_bar, cancel):
                widget.layout().addWidget(w)
            self._bar_item = bar.pushWidget(widget, level("Info"), 0)

        def work(fb):
            def progress(pct, m):
                state["message"] = m
                fb._set_progress(pct)

            try:
                return deps.install(find_links=find_links, index_url=index_url, progress=progress,
                                    is_canceled=fb.is_canceled)
            except deps.Cancelled:
                return {"ok": False, "cancelled": True}
            except deps.InstallError as exc:
                return {"ok": False, "message": exc.message}

        def done(ok, result):
            self.task = None
            self._close_bar()
            if not ok or not isinstance(result, dict):
                self._push(tr("Installing the dependencies failed; see the message log (SurveyTools)."), "Critical")
                log(f"install: {result}", "Critical")
                return
            if result.get("cancelled"):
                self._push(tr("Installation cancelled; nothing was changed."), "Info")
                return
            if result.get("check"):
                self.last_report = result["check"]
                _log_report(result["check"])
            if result.get("log"):
                log(result["log"][-20000:], "Info")
            if result.get("ok"):
                deps.remember(result["target"])
                self._push(_text(result["message"]), "Success")
            else:
                self._push(_text(result["message"]), "Critical")

        self.task = start(tr("SurveyTools: install Python dependencies"), work, done)
        if progress_bar is not None:
            def update(pct):
                try:
                    progress_bar.setValue(int(pct))
                    label.setText(_text(state["message"]))
                except RuntimeError:  # the message was closed
                    pass
            self.task.progressChanged.connect(update)
        return self.task

    def _push(self, text: str, level_name: str):
        self.last_message = (level_name, text)
        if self.iface is not None:
            self.iface.messageBar().pushMessage("SurveyTools", text, level(level_name),
                                                0 if level_name == "Critical" else 10)

    def _close_bar(self):
        if self._bar_item is not None and self.iface is not None:
            try:
                self.iface.messageBar().popWidget(self._bar_item)
            except RuntimeError:
                pass
        self._bar_item = None

    def unload(self):
        if self.task is not None:
            try:
                self.task.done = None
                self.task.cancel()
            except RuntimeError:  # already deleted by the task manager
                pass
            self.task = None
        self._close_bar()
