"""Field-return conflicts in the results panel (a tab of :class:`.results.ValidationDock`).

Lists the rows of the project's ``field_conflicts`` layer (written by ``surveytools field return``:
a component changed both in the field and in the project since packaging), filtered by status, and
for the selected conflict:

* **Zoom** to the field's version of the feature and flash it (the project's version is the
  component in its layer);
* **Keep project** / **Take field**: runs ``surveytools field resolve --conflict N --keep
  project|field`` out of process (the child runner, like every other step), then re-reads the
  project; the row becomes ``resolved``.

The tooltip of a row shows both versions of the fields that differ.  Only the standard library,
``qgis.PyQt`` and ``qgis`` are used here.
"""
from __future__ import annotations

import json

from qgis.core import QgsGeometry, QgsVectorLayer
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from surveytools.errors import SurveyError

from .compat import log, qt_enum, tr
from .results import zoom_to_geometry

TABLE = "field_conflicts"
FIELDS = ("conflict_id", "package_id", "layer", "feature_uuid", "component_id", "kind", "fields", "field_values",
          "project_values", "surveyor", "status", "created", "resolved", "resolution")
COLUMNS = ("conflict_id", "component_id", "layer", "kind", "fields", "surveyor", "status")


def _headers():
    return [tr("No."), tr("Component"), tr("Layer"), tr("Kind"), tr("Fields"), tr("Surveyor"), tr("Status")]


def kind_text(value: str) -> str:
    return {"both_changed": tr("Changed in the field and in the project"),
            "deleted_in_field": tr("Deleted in the field, changed in the project"),
            "gone_from_project": tr("Changed in the field, gone from the project"),
            "duplicate_id": tr("Several components hold this ID")}.get(value, value)


def status_text(value: str) -> str:
    return {"open": tr("Open"), "resolved": tr("Resolved")}.get(value, value)


def _str(v):
    if v is None or (hasattr(v, "isNull") and v.isNull()):
        return ""
    s = str(v)
    return "" if s == "NULL" else s


def read_conflict_rows(layer) -> list:
    """The rows of a ``field_conflicts`` layer: dicts of its columns plus ``_geom``, ``_crs``."""
    rows = []
    if layer is None or not layer.isValid():
        return rows
    names = [n for n in FIELDS if layer.fields().indexOf(n) >= 0]
    for f in layer.getFeatures():
        row = {n: _str(f[n]) for n in names}
        row.update(_geom=QgsGeometry(f.geometry()), _crs=layer.crs())
        rows.append(row)
    rows.sort(key=lambda r: int(float(r.get("conflict_id") or 0)))
    return rows


def describe(row: dict) -> str:
    """Both versions of the fields that differ (tooltip text)."""
    try:
        fv = json.loads(row.get("field_values") or "{}")
        pv = json.loads(row.get("project_values") or "{}")
    except ValueError:
        return ""
    names = [n for n in (row.get("fields") or "").split(",") if n] or sorted(set(fv) | set(pv))
    lines = [kind_text(row.get("kind", ""))]
    for n in names:
        lines.append(f"{n}: {tr('field')} = {fv.get(n)!s} · {tr('project')} = {pv.get(n)!s}")
    return "\n".join(lines)


class ConflictsPanel(QWidget):
    """The list of field-return conflicts with zoom and the two ways to resolve one."""

    #: emitted after a resolution re-read the project (the dock refreshes its other tab)
    changed = pyqtSignal()

    def __init__(self, iface=None, parent=None):
        super().__init__(parent)
        self.iface = iface
        self.project = None  # layers.LoadedProject
        self.all_rows: list = []
        self.visible_rows: list = []
        self._layer = None
        self._build()

    def _build(self):
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.status_combo = QComboBox(self)
        self.status_combo.setToolTip(tr("Status"))
        self.status_combo.addItem(tr("Open"), "open")
        self.status_combo.addItem(tr("Resolved"), "resolved")
        self.status_combo.addItem(tr("All statuses"), None)
        self.status_combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        top.addWidget(self.status_combo)
        top.addStretch(1)
        lay.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("surveytools_conflicts_table")
        self.table.setHorizontalHeaderLabels(_headers())
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _i: self.zoom_to())
        lay.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.buttons = {}
        for key, text, slot in (("zoom", tr("Zoom"), self.zoom_to),
                                ("project", tr("Keep project"), lambda: self.resolve(keep="project", wait=False)),
                                ("field", tr("Take field"), lambda: self.resolve(keep="field", wait=False)),
                                ("refresh", tr("Refresh"), self.refresh)):
            b = QPushButton(text, self)
            b.setObjectName(f"surveytools_conflicts_{key}")
            b.clicked.connect(lambda _c=False, s=slot: s())
            buttons.addWidget(b)
            self.buttons[key] = b
        self.buttons["project"].setToolTip(tr("Keep the project's version; the field's change is dropped"))
        self.buttons["field"].setToolTip(tr("Apply the field's version to the project component"))
        lay.addLayout(buttons)
        self.count_label = QLabel("", self)
        lay.addWidget(self.count_label)

    # -- data -------------------------------------------------------------------------------------
    def clear(self):
        self.all_rows, self.visible_rows = [], []
        self._layer = None
        self.table.setRowCount(0)

    def set_project(self, loaded_project):
        self.clear()
        self.project = loaded_project
        self.refresh()

    def _conflicts_layer(self):
        """The project's ``field_conflicts`` layer, opened afresh (a return may have just created it)."""
        if self.project is None:
            return None
        lyr = self.project.layer(TABLE)
        if lyr is not None and lyr.isValid():
            return lyr
        try:
            uri, provider = self.project.sp.uri(TABLE)
        except Exception as exc:  # a project kind without the table
            log(f"conflicts: {exc}", "Info")
            return None
        lyr = QgsVectorLayer(uri, TABLE, provider)
        return lyr if lyr.isValid() else None

    def refresh(self):
        kept = self.current_id()
        self._layer = self._conflicts_layer()
        self.all_rows = read_conflict_rows(self._layer)
        self.apply_filter()
        if kept is not None:
            self.select_id(kept)

    def apply_filter(self):
        want = self.status_combo.currentData()
        self.visible_rows = [r for r in self.all_rows if want is None or r.get("status") == want]
        self.table.setRowCount(len(self.visible_rows))
        for i, r in enumerate(self.visible_rows):
            tip = describe(r)
            for j, col in enumerate(COLUMNS):
                value = r.get(col, "")
                text = kind_text(value) if col == "kind" else status_text(value) if col == "status" else value
                item = QTableWidgetItem(text)
                item.setData(qt_enum("ItemDataRole.UserRole"), value)
                item.setToolTip(tip)
                self.table.setItem(i, j, item)
        n_open = sum(1 for r in self.all_rows if r.get("status") == "open")
        self.count_label.setText(tr("{open} open of {total} field conflicts").format(open=n_open,
                                                                                     total=len(self.all_rows)))

    def current_id(self):
        sel = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if sel and sel[0].row() < len(self.visible_rows):
            return self.visible_rows[sel[0].row()].get("conflict_id")
        return None

    def select_id(self, conflict_id) -> bool:
        for i, r in enumerate(self.visible_rows):
            if r.get("conflict_id") == str(conflict_id):
                self.table.selectRow(i)
                return True
        return False

    def current_row(self, row=None):
        if isinstance(row, dict):
            return row
        if isinstance(row, int):
            return self.visible_rows[row]
        sel = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if sel:
            return self.visible_rows[sel[0].row()]
        return self.visible_rows[0] if self.visible_rows else None

    # -- actions ----------------------------------------------------------------------------------
    def zoom_to(self, row=None):
        """Zoom the map to the field's version of the conflict's feature; the extent (canvas CRS)."""
        r = self.current_row(row)
        if r is None or r["_geom"] is None or r["_geom"].isEmpty():
            self._say(tr("This conflict has no geometry to zoom to."))
            return None
        return zoom_to_geometry(self.iface, r["_geom"], r["_crs"])

    def resolve(self, row=None, keep: str = "project", wait: bool = True):
        """Resolve the conflict with ``surveytools field resolve`` in the child process (``wait=False``:
        as a background task); the project and the list are re-read afterwards."""
        r = self.current_row(row)
        if r is None or self.project is None:
            return None
        if r.get("status") != "open":
            self._say(tr("This conflict is already resolved."))
            return None
        failed = self.project.prepare_operation()
        if failed:
            self._say(tr("Could not save {layers}; the step was not run.").format(
                layers=", ".join(n for n, _ in failed)))
            return None
        kwargs = {"project": self.project.sp.path, "conflict": int(float(r["conflict_id"])), "keep": keep}
        from .tasks import run_now_or_start, run_operation

        def done(ok, result):
            self._layer = None
            self.project.reload()
            self.refresh()
            self.changed.emit()
            if not ok:
                self._say(result.render() if isinstance(result, SurveyError) else str(result))
            else:
                self._say(tr("Conflict {n} resolved: {how}").format(
                    n=r["conflict_id"], how=tr("kept the project's version") if keep == "project"
                    else tr("took the field's version")))

        return run_now_or_start(tr("SurveyTools: resolve a field conflict"),
                                lambda fb: run_operation("field_resolve", kwargs, fb), done, wait)

    def _say(self, text: str):
        self.count_label.setText(text)
        if self.iface is not None:
            from .compat import level
            self.iface.messageBar().pushMessage("SurveyTools", text, level("Info"), 6)
        log(text)


__all__ = ["ConflictsPanel", "read_conflict_rows"]
