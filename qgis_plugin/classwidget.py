"""The cascading class-code editor: one widget, two drop-downs (major class → minor class).

The profile stores the component class in **one** field (``class_code``: major + minor, e.g.
``0102``).  QGIS's native cascading (a ValueRelation filtered by ``current_value('major')``) needs
an editable major field the standard does not have, so the plugin registers an editor widget
``SurveyToolsClassCode`` with a major drop-down that filters the minor drop-down and writes the full
code.  Without the plugin QGIS shows the field as plain text (the stored value is unchanged).
"""
from __future__ import annotations

from qgis.gui import QgsEditorConfigWidget, QgsEditorWidgetFactory, QgsEditorWidgetWrapper, QgsGui
from qgis.PyQt.QtCore import QVariant
from qgis.PyQt.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from surveytools.profiles import load_profile

from .compat import tr

WIDGET_TYPE = "SurveyToolsClassCode"


def class_table(profile_id: str):
    """``[(major, major_name, [(code, name)])]`` of the profile's component classes."""
    prof = load_profile(profile_id)
    cc = prof.component_classes.sort_values("code")
    out = []
    for major, grp in cc.groupby("major_code", sort=True):
        out.append((str(major), str(grp["major_name"].iloc[0]),
                    list(zip(grp["code"].astype(str), grp["name"].astype(str)))))
    return out


def _null():
    try:
        from qgis.core import NULL
        return NULL
    except ImportError:  # pragma: no cover
        return QVariant()


class ClassCodeWrapper(QgsEditorWidgetWrapper):
    def __init__(self, vl, field_idx, editor, parent):
        super().__init__(vl, field_idx, editor, parent)
        #: kept on the Python side: ``layer()`` may dangle once the layer is gone
        self.layer_id = vl.id() if vl is not None else None
        self._major = None
        self._minor = None
        self._table = []
        self._loading = False

    # -- widget -----------------------------------------------------------------------------------
    def createWidget(self, parent):  # noqa: N802 - QGIS API
        w = QWidget(parent)
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        major = QComboBox(w)
        major.setObjectName("surveytools_major")
        major.setToolTip(tr("Major class"))
        minor = QComboBox(w)
        minor.setObjectName("surveytools_minor")
        minor.setToolTip(tr("Minor class"))
        lay.addWidget(major, 1)
        lay.addWidget(minor, 2)
        return w

    def initWidget(self, editor):  # noqa: N802 - QGIS API
        self._major = editor.findChild(QComboBox, "surveytools_major")
        self._minor = editor.findChild(QComboBox, "surveytools_minor")
        if self._major is None:
            return
        cfg = self.config() or {}
        self._table = class_table(cfg.get("profile") or "cjt")
        self._loading = True
        self._major.addItem(tr("(major class)"), None)
        for major, name, _ in self._table:
            self._major.addItem(f"{major} {name}", major)
        self._loading = False
        self._major.currentIndexChanged.connect(self._major_changed)
        self._minor.currentIndexChanged.connect(self._minor_changed)
        self._fill_minors(None)

    def valid(self):
        return self._major is not None and self._minor is not None

    def setEnabled(self, enabled):  # noqa: N802 - QGIS API
        if self._major is not None:
            self._major.setEnabled(enabled)
            self._minor.setEnabled(enabled)

    # -- values -----------------------------------------------------------------------------------
    def value(self):
        code = self._minor.currentData() if self._minor is not None else None
        return code if code else _null()

    def updateValues(self, value, additional_values=None):  # noqa: N802 - QGIS API
        self._set_code(None if value is None or value == _null() or str(value) in ("", "NULL") else str(value))

    def setValue(self, value):  # noqa: N802 - QGIS < 3.10 API
        self.updateValues(value)

    def showIndeterminateState(self):  # noqa: N802 - QGIS API
        self._set_code(None)

    def _set_code(self, code):
        if self._major is None:
            return
        self._loading = True
        try:
            major = None
            for m, _, items in self._table:
                if code and any(c == code for c, _ in items):
                    major = m
                    break
            idx = self._major.findData(major) if major else 0
            self._major.setCurrentIndex(max(idx, 0))
            self._fill_minors(major)
            if code:
                i = self._minor.findData(code)
                if i < 0:  # a code the profile lacks: keep it visible
                    self._minor.addItem(f"{code} ?", code)
                    i = self._minor.count() - 1
                self._minor.setCurrentIndex(i)
        finally:
            self._loading = False

    def _fill_minors(self, major):
        self._minor.blockSignals(True)
        self._minor.clear()
        self._minor.addItem(tr("(minor class)"), None)
        for m, _, items in self._table:
            if m == major:
                for code, name in items:
                    self._minor.addItem(f"{code} {name}", code)
        self._minor.blockSignals(False)

    def _major_changed(self, _index):
        if self._loading:
            return
        self._fill_minors(self._major.currentData())
        self.emitValueChanged()

    def _minor_changed(self, _index):
        if not self._loading:
            self.emitValueChanged()

    # helpers for tests and the panel
    def majors(self) -> list:
        return [self._major.itemData(i) for i in range(1, self._major.count())]

    def minors(self) -> list:
        return [self._minor.itemData(i) for i in range(1, self._minor.count())]

    def choose(self, major: str, code: str | None = None):
        self._major.setCurrentIndex(self._major.findData(major))
        if code is not None:
            self._minor.setCurrentIndex(self._minor.findData(code))


class ClassCodeConfig(QgsEditorConfigWidget):
    def __init__(self, vl, field_idx, parent):
        super().__init__(vl, field_idx, parent)
        self._config = {}
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(tr("Major and minor class drop-downs from the project's profile."), self))

    def config(self):
        return self._config

    def setConfig(self, config):  # noqa: N802 - QGIS API
        self._config = dict(config or {})


class ClassCodeFactory(QgsEditorWidgetFactory):
    def __init__(self):
        super().__init__(tr("Component class (major → minor)"))

    def create(self, vl, field_idx, editor, parent):
        wrapper = ClassCodeWrapper(vl, field_idx, editor, parent)
        # PyQt does not hand a wrapper created in Python over to C++: keep it alive until Qt
        # destroys it with its parent (the attribute form)
        _LIVE.add(wrapper)
        wrapper.destroyed.connect(lambda *_a, w=wrapper: _LIVE.discard(w))
        return wrapper

    def configWidget(self, vl, field_idx, parent):  # noqa: N802 - QGIS API
        return ClassCodeConfig(vl, field_idx, parent)

    def fieldScore(self, vl, field_idx):  # noqa: N802 - QGIS API: never chosen automatically
        return 0


_FACTORY = None
_LIVE: set = set()


def wrappers_for(layer) -> list:
    """The live class-code editors of ``layer`` (newest last)."""
    return [w for w in list(_LIVE) if getattr(w, "layer_id", None) == layer.id()]


def register() -> bool:
    """Register the editor widget once per QGIS session (QGIS 3 cannot unregister one)."""
    global _FACTORY
    registry = QgsGui.editorWidgetRegistry()
    if WIDGET_TYPE in registry.factories():
        return True
    factory = ClassCodeFactory()
    if registry.registerWidget(WIDGET_TYPE, factory):
        _FACTORY = factory  # keep the Python side alive
        return True
    return False
