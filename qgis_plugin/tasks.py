"""Background work: a ``QgsTask`` running a library operation out of process (the runner) with
progress and cancel, calling back on the main thread when done."""
from __future__ import annotations

import traceback

from qgis.core import QgsApplication, QgsTask

from surveytools.feedback import Feedback

from .compat import log, task_flag


class TaskFeedback(Feedback):
    """``surveytools.feedback.Feedback`` driven by a ``QgsTask``."""

    def __init__(self, task):
        super().__init__()
        self.task = task

    def is_canceled(self) -> bool:
        return self.task is not None and self.task.isCanceled()

    def _set_progress(self, percent: float) -> None:
        if self.task is not None:
            self.task.setProgress(percent)


class FunctionTask(QgsTask):
    """Runs ``func(feedback)`` in a worker thread; ``done(ok, result_or_exception)`` runs on the
    main thread."""

    def __init__(self, description: str, func, done=None):
        super().__init__(description, task_flag("CanCancel"))
        self.func = func
        self.done = done
        self.result = None
        self.exception = None

    def run(self):
        try:
            self.result = self.func(TaskFeedback(self))
            return True
        except Exception as exc:  # reported in finished()
            self.exception = exc
            log(traceback.format_exc(), "Info")
            return False

    def finished(self, ok):
        if self.done is not None:
            self.done(ok, self.result if ok else self.exception)


_RUNNING: set = set()


def start(description: str, func, done=None) -> FunctionTask:
    """Start a task in QGIS's task manager (kept alive until it finishes)."""
    task = FunctionTask(description, func, done)
    _RUNNING.add(task)
    task.taskCompleted.connect(lambda: _RUNNING.discard(task))
    task.taskTerminated.connect(lambda: _RUNNING.discard(task))
    QgsApplication.taskManager().addTask(task)
    return task


def run_now_or_start(description: str, func, done, wait: bool = False):
    """Run ``func(feedback)`` and hand its outcome to ``done(ok, result_or_error)``: at once when
    ``wait`` (returns the result, or None after a ``SurveyError``), else as a background task
    (returns None; ``done`` is called on the main thread when it ends)."""
    if not wait:
        start(description, func, done)
        return None
    from surveytools.errors import SurveyError

    try:
        result = func(None)
    except SurveyError as err:
        done(False, err)
        return None
    done(True, result)
    return result


def run_operation(op_id: str, kwargs: dict, feedback=None) -> dict:
    """Run a registered operation in a child Python (never in the QGIS process)."""
    from surveytools import ops
    from surveytools.runner import run_out_of_process

    from .deps import extra_paths
    from .pgconn import saved_passwords
    from .provider import load_operations

    registry, _ = load_operations()
    passwords = saved_passwords(kwargs.values())  # to the child in a temporary pgpass file, never in its argv
    return run_out_of_process(registry[op_id], kwargs, feedback, extra_paths=extra_paths(), pg_passwords=passwords) \
        if op_id in registry else run_out_of_process(ops.REGISTRY[op_id], kwargs, feedback, pg_passwords=passwords)
