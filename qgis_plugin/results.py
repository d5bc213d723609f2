"""The validation results panel (dock); :meth:`ValidationDock.show_conflicts` (the project panel's
**Field conflicts** button) opens a second tab listing the conflicts of field returns (:mod:`.conflicts`: zoom, keep the project's version or take the field's).

Lists the rows of the project's ``validation_errors_point/line/polygon`` layers (written by
``surveytools validate run``), filtered by rule, layer, severity and status, and for the selected
row:

* **Zoom** to the error geometry (the overlap, the gap, the misplaced point …) and flash it;
* **Open form** of the feature the error is about (``layer`` + ``feature_fid`` → the project layer →
  ``iface.openFeatureForm``);
* **Mark fixed**: the row's ``status`` becomes ``fixed`` in the project's error layer (the next
  validation run rewrites the error layers, so a row that is really fixed disappears and one that
  is not comes back as ``open``);
* **False positive** (误报): asks for the reason (required), then the row's key (rule_id, layer,
  feature_id, field) and the reason are appended to the project's ``validation_accepted`` table by
  ``surveytools validate accept`` (run out of process), and its status becomes ``accepted``; a later
  run lists the row as accepted and does not count it;
* **Re-run rule on the current layer**: a one-step check scheme (the selected rule, restricted to
  the active layer's field group when the rule has a ``layers`` parameter) is written to a
  temporary file and run with ``surveytools validate run --scheme FILE`` into a temporary folder
  without touching the project; the panel then shows that rule's fresh rows for that layer.

Severity, status and rule are shown in the interface language (rule titles from the run's
``validation_steps`` table, i.e. the rule catalogue); columns are resizable, the full text of a
cell is in its tooltip, and the selected row stays selected when the rows are read again.
"""
from __future__ import annotations

import os
import tempfile

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from surveytools.errors import SurveyError

from .compat import is_chinese, log, qt_enum, tr
from .projectdata import ERROR_TABLES, PROP_KEY

FIELDS = ("rule_id", "category", "severity", "layer", "feature_fid", "feature_id", "field", "value", "message_zh",
          "message_en", "step", "status")
#: (column key, header) of the table
COLUMNS = ("severity", "rule_id", "layer", "feature_id", "field", "message", "status")


def _headers():
    return [tr("Severity"), tr("Rule"), tr("Layer"), tr("Feature"), tr("Field"), tr("Message"), tr("Status")]


def severity_text(value: str) -> str:
    """A severity in the interface language."""
    return {"error": tr("Error"), "warning": tr("Warning")}.get(value, value)


def status_text(value: str) -> str:
    """A row status in the interface language."""
    return {"open": tr("Open"), "accepted": tr("Accepted (false positive)"), "fixed": tr("Fixed"),
            "ignored": tr("Reported only")}.get(value, value)


def row_key(r: dict) -> tuple:
    """What identifies an error row across re-reads and re-runs."""
    return (r.get("rule_id", ""), r.get("layer", ""), r.get("feature_id", ""), r.get("field", ""), r.get("step", ""))


def read_rule_titles(layer) -> dict:
    """``{rule_id: (title_zh, title_en)}`` from a ``validation_steps`` table (written by every run
    from the rule catalogue)."""
    titles = {}
    if layer is None or not layer.isValid():
        return titles
    names = layer.fields().names()
    if not {"rule_id", "title_zh", "title_en"} <= set(names):
        return titles
    for f in layer.getFeatures():
        titles.setdefault(_str(f["rule_id"]), (_str(f["title_zh"]), _str(f["title_en"])))
    return titles


def _str(v):
    if v is None or (hasattr(v, "isNull") and v.isNull()):
        return ""
    s = str(v)
    return "" if s == "NULL" else s


def read_error_rows(layer: QgsVectorLayer, source: str = "project") -> list:
    """The rows of one error layer: dicts of the error columns plus ``_layer``, ``_fid``, ``_geom``."""
    rows = []
    names = [n for n in FIELDS if layer.fields().indexOf(n) >= 0]
    for f in layer.getFeatures(QgsFeatureRequest()):
        row = {n: _str(f[n]) for n in names}
        row.update(_layer=layer, _fid=f.id(), _geom=QgsGeometry(f.geometry()), _source=source)
        rows.append(row)
    return rows



def zoom_to_geometry(iface, geometry, crs):
    """Zoom the map canvas to ``geometry`` (in ``crs``) with a margin and flash it; returns the
    extent (canvas CRS). Used by the validation results and the field conflicts."""
    canvas = iface.mapCanvas() if iface is not None else None
    geom = QgsGeometry(geometry)
    if canvas is not None:
        dest = canvas.mapSettings().destinationCrs()
        if dest.isValid() and crs.isValid() and dest != crs:
            geom.transform(QgsCoordinateTransform(crs, dest, QgsProject.instance()))
    box = QgsRectangle(geom.boundingBox())
    pad = max(box.width(), box.height()) * 0.5 or 0
    if pad == 0:
        pad = 30.0 if not (canvas and canvas.mapSettings().destinationCrs().isGeographic()) else 0.0003
    box.grow(pad)
    if canvas is not None:
        canvas.setExtent(box)
        canvas.refresh()
        try:
            canvas.flashGeometries([geom], canvas.mapSettings().destinationCrs())
        except Exception:  # pragma: no cover - headless canvases without a map
            pass
    return box

class ValidationDock(QDockWidget):
    OBJECT_NAME = "SurveyToolsValidationDock"

    def __init__(self, iface=None, parent=None):
        super().__init__(tr("SurveyTools validation results"), parent)
        self.setObjectName(self.OBJECT_NAME)
        self.iface = iface
        self.project = None  # layers.LoadedProject
        self.all_rows: list = []
        self.visible_rows: list = []
        #: (rule, table) → rows from a re-run (shown instead of the project's rows)
        self.overlay: dict = {}
        #: rule_id → (title_zh, title_en)
        self.rule_titles: dict = {}
        #: asks for the reason of a false positive: ``ask_reason(row) -> str | None`` (None: cancelled)
        self.ask_reason = self._ask_reason
        self._extra_layers: list = []
        #: the field conflicts tab (:class:`.conflicts.ConflictsPanel`), made on first use
        self.conflicts = None
        self.tabs = None
        self._build()

    # -- UI ---------------------------------------------------------------------------------------
    def _build(self):
        body = QWidget(self)
        lay = QVBoxLayout(body)
        filters = QHBoxLayout()
        self.rule_combo = QComboBox(body)
        self.layer_combo = QComboBox(body)
        self.severity_combo = QComboBox(body)
        self.status_combo = QComboBox(body)
        for combo, tip in ((self.rule_combo, tr("Rule")), (self.layer_combo, tr("Layer")),
                           (self.severity_combo, tr("Severity")), (self.status_combo, tr("Status"))):
            combo.setToolTip(tip)
            combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
            filters.addWidget(combo)
        lay.addLayout(filters)
        self.table = QTableWidget(0, len(COLUMNS), body)
        self.table.setHorizontalHeaderLabels(_headers())
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # the user drags column widths
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda _i: self.zoom_to())
        lay.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.buttons = {}
        for key, text, slot in (("zoom", tr("Zoom"), self.zoom_to), ("form", tr("Open form"), self.open_form),
                                ("fixed", tr("Mark fixed"), self.mark_fixed),
                                ("accept", tr("False positive"), lambda: self.accept(wait=False)),
                                ("rerun", tr("Re-run rule on current layer"), lambda: self.rerun_rule(wait=False)),
                                ("refresh", tr("Refresh"), self.refresh)):
            b = QPushButton(text, body)
            b.setObjectName(f"surveytools_results_{key}")
            b.clicked.connect(lambda _c=False, s=slot: s())
            buttons.addWidget(b)
            self.buttons[key] = b
        lay.addLayout(buttons)
        self.count_label = QLabel("", body)
        lay.addWidget(self.count_label)
        self._body = body
        self.setWidget(body)

    def show_conflicts(self):
        """The field conflicts tab (made on first use: the dock is then two tabs), shown and filled."""
        if self.conflicts is None:
            from .conflicts import ConflictsPanel

            self.tabs = QTabWidget(self)
            self.tabs.addTab(self._body, tr("Validation"))
            self.conflicts = ConflictsPanel(self.iface, self.tabs)
            self.conflicts.changed.connect(self.refresh)
            self.tabs.addTab(self.conflicts, tr("Field conflicts"))
            self.setWidget(self.tabs)
        self.conflicts.set_project(self.project)
        self.tabs.setCurrentWidget(self.conflicts)
        return self.conflicts

    # -- data -------------------------------------------------------------------------------------
    def clear(self):
        """Forget every row and layer reference (before the project's layers are removed)."""
        self.all_rows, self.visible_rows = [], []
        self.overlay.clear()
        self._extra_layers = []
        self.table.setRowCount(0)
        if self.conflicts is not None:
            self.conflicts.clear()

    def set_project(self, loaded_project):
        self.clear()
        self.project = loaded_project
        self.refresh()
        if self.conflicts is not None:
            self.conflicts.set_project(loaded_project)

    def _error_layers(self) -> list:
        out = []
        if self.project is None:
            return out
        for t in ERROR_TABLES:
            lyr = self.project.layer(t)
            if lyr is None and self.project.sp.has(t):
                lyr = self.project.sp.layer(t)
                self._extra_layers.append(lyr)
            if lyr is not None:
                out.append(lyr)
        return out

    def _read_titles(self) -> dict:
        if self.project is None or not self.project.sp.has("validation_steps"):
            return {}
        lyr = self.project.layer("validation_steps") or self.project.sp.layer("validation_steps")
        return read_rule_titles(lyr)

    def rule_title(self, rule_id: str) -> str:
        zh, en = self.rule_titles.get(rule_id, ("", ""))
        title = (zh or en) if is_chinese() else (en or zh)
        return f"{title} ({rule_id})" if title else rule_id

    def refresh(self):
        kept = self.current_key()
        self._extra_layers = []
        rows = []
        for lyr in self._error_layers():
            rows.extend(read_error_rows(lyr))
        for (rule, table), fresh in self.overlay.items():
            rows = [r for r in rows if not (r["rule_id"] == rule and r["layer"] == table)] + fresh
        self.all_rows = rows
        self.rule_titles = self._read_titles()
        self._fill_combos()
        self.apply_filter()
        if kept is not None:
            self.select_key(kept)

    def current_key(self):
        """The key of the selected row (None when nothing is selected)."""
        sel = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if sel and sel[0].row() < len(self.visible_rows):
            return row_key(self.visible_rows[sel[0].row()])
        return None

    def select_key(self, key) -> bool:
        """Select the row with ``key`` (see :func:`row_key`) if it is shown."""
        for i, r in enumerate(self.visible_rows):
            if row_key(r) == key:
                self.table.selectRow(i)
                return True
        return False

    def _fill_combos(self):
        for combo, key in ((self.rule_combo, "rule_id"), (self.layer_combo, "layer"),
                           (self.severity_combo, "severity"), (self.status_combo, "status")):
            cur = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem({"rule_id": tr("All rules"), "layer": tr("All layers"), "severity": tr("All severities"),
                           "status": tr("All statuses")}[key], None)
            shown = {"rule_id": self.rule_title, "severity": severity_text, "status": status_text}.get(key, str)
            for v in sorted({r.get(key, "") for r in self.all_rows}):
                combo.addItem(shown(v) if v else "—", v)
            i = combo.findData(cur) if cur is not None else 0
            combo.setCurrentIndex(max(i, 0))
            combo.blockSignals(False)

    def set_filter(self, rule=None, layer=None, severity=None, status=None):
        for combo, value in ((self.rule_combo, rule), (self.layer_combo, layer), (self.severity_combo, severity),
                             (self.status_combo, status)):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(combo.findData(value), 0) if value is not None else 0)
            combo.blockSignals(False)
        self.apply_filter()

    def apply_filter(self):
        want = {"rule_id": self.rule_combo.currentData(), "layer": self.layer_combo.currentData(),
                "severity": self.severity_combo.currentData(), "status": self.status_combo.currentData()}
        self.visible_rows = [r for r in self.all_rows
                             if all(v is None or r.get(k, "") == v for k, v in want.items())]
        kept = self.current_key()
        zh = is_chinese()
        msg_key = "message_zh" if zh else "message_en"
        shown = {"severity": severity_text, "status": status_text, "rule_id": self.rule_title}
        self.table.setRowCount(len(self.visible_rows))
        for i, r in enumerate(self.visible_rows):
            message = r.get(msg_key, "") or r.get("message_en" if zh else "message_zh", "")
            tip = "\n".join(t for t in (self.rule_title(r.get("rule_id", "")), message,
                                        r.get("message_en" if zh else "message_zh", ""),
                                        (tr("Value") + ": " + r["value"]) if r.get("value") else "") if t)
            for j, col in enumerate(COLUMNS):
                value = message if col == "message" else r.get(col, "")
                item = QTableWidgetItem(shown[col](value) if col in shown and value else value)
                item.setData(qt_enum("ItemDataRole.UserRole"), value)
                item.setToolTip(tip if col in ("message", "rule_id") else (item.text() + "\n" + tip))
                self.table.setItem(i, j, item)
        if kept is not None:
            self.select_key(kept)
        self.count_label.setText(tr("{shown} of {total} rows").format(shown=len(self.visible_rows),
                                                                      total=len(self.all_rows)))

    def current_row(self, row=None):
        if isinstance(row, dict):
            return row
        if isinstance(row, int):
            return self.visible_rows[row]
        sel = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if sel:
            return self.visible_rows[sel[0].row()]
        if self.visible_rows:
            return self.visible_rows[0]
        return None

    def select(self, index: int):
        self.table.selectRow(index)

    # -- actions ----------------------------------------------------------------------------------
    def zoom_to(self, row=None):
        """Zoom the map canvas to the error geometry; returns the extent (canvas CRS) or None."""
        r = self.current_row(row)
        if r is None or r["_geom"] is None or r["_geom"].isEmpty():
            return None
        return zoom_to_geometry(self.iface, r["_geom"], r["_layer"].crs())

    def target(self, row=None):
        """``(layer, feature)`` the error row is about (or ``(None, None)``)."""
        r = self.current_row(row)
        if r is None or self.project is None:
            return None, None
        lyr = self.project.layer_for_table(r.get("layer", ""))
        if lyr is None or not r.get("feature_fid"):
            return lyr, None
        try:
            fid = int(float(r["feature_fid"]))
        except ValueError:
            return lyr, None
        f = lyr.getFeature(fid)
        return lyr, (f if f.isValid() else None)

    def open_form(self, row=None):
        lyr, feature = self.target(row)
        if feature is None:
            self._say(tr("The feature of this row is not in the project any more."))
            return None
        if self.iface is not None and hasattr(self.iface, "openFeatureForm"):
            self.iface.setActiveLayer(lyr) if hasattr(self.iface, "setActiveLayer") else None
            self.iface.openFeatureForm(lyr, feature)
        return feature

    def _set_status(self, r: dict, status: str) -> bool:
        lyr = r["_layer"]
        idx = lyr.fields().indexOf("status")
        if idx < 0 or r.get("_source") != "project":
            return False
        ok = lyr.dataProvider().changeAttributeValues({r["_fid"]: {idx: status}})
        if ok:
            r["status"] = status
            lyr.triggerRepaint()
        return ok

    def mark_fixed(self, row=None) -> bool:
        r = self.current_row(row)
        if r is None:
            return False
        ok = self._set_status(r, "fixed")
        self.apply_filter()
        return ok

    def _ask_reason(self, r: dict):
        text, ok = QInputDialog.getText(
            self, tr("False positive"),
            tr("Why is this not an error? (stored with the acceptance)") + "\n" + self.rule_title(r.get("rule_id", ""))
            + " · " + (r.get("feature_id") or ""), QLineEdit.EchoMode.Normal, "")
        return text if ok else None

    def accept(self, row=None, note: str = "", wait: bool = True):
        """Record the row as a false positive (``validation_accepted``) with its reason: ``note``, or
        asked for (a false positive without a reason is not accepted); ``wait=False`` runs it as a
        background task."""
        r = self.current_row(row)
        if r is None or self.project is None:
            return None
        while not (note or "").strip():
            note = self.ask_reason(r)
            if note is None:  # cancelled
                return None
            if not note.strip():
                self._say(tr("A false positive needs a reason."))
        self._set_status(r, "accepted")
        self.project.prepare_operation()
        kwargs = {"project": self.project.sp.path, "rule": r["rule_id"], "layer": r["layer"],
                  "feature_id": r.get("feature_id") or None, "field": r.get("field") or None,
                  "note": note or None}
        from .tasks import run_now_or_start, run_operation

        def done(ok, result):
            if not ok:
                self._say(_error_text(result))
            self.project.reload()
            self.refresh()

        return run_now_or_start(tr("SurveyTools: accept a false positive"),
                                lambda fb: run_operation("validate_accept", kwargs, fb), done, wait)

    def current_layer_table(self) -> str | None:
        lyr = self.iface.activeLayer() if self.iface is not None else None
        if lyr is None or self.project is None:
            return None
        key = lyr.customProperty(PROP_KEY)
        prof = self.project.sp.profile
        return prof.layers[key].table if key in prof.layers else key

    def rerun_rule(self, rule: str | None = None, table: str | None = None, wait: bool = True):
        """Re-run one rule on one layer (default: the selected row's rule on the active layer)."""
        r = self.current_row()
        rule = rule or self.rule_combo.currentData() or (r or {}).get("rule_id")
        table = table or self.current_layer_table() or (r or {}).get("layer")
        if not rule or not table or self.project is None:
            self._say(tr("Choose a rule (a row or the rule filter) and a layer."))
            return None
        scheme_dir = tempfile.mkdtemp(prefix="surveytools-rerun-")
        scheme = os.path.join(scheme_dir, "scheme.yaml")
        write_one_step_scheme(scheme, rule, _field_group_of_table(self.project.sp.profile, table))
        out = os.path.join(scheme_dir, "out")
        kwargs = {"project": self.project.sp.path, "out": out, "scheme": scheme, "write_project": False}
        self.project.prepare_operation()
        from .tasks import run_now_or_start, run_operation

        def work(fb=None):
            try:
                run_operation("validate_run", kwargs, fb)
            except SurveyError as err:
                if getattr(err, "code", "") != "validation_failed":  # FAIL still writes the outputs
                    raise
            return os.path.join(out, "errors.gpkg")

        def done(ok, result):
            if not ok:
                self._say(_error_text(result))
                return
            fresh = []
            for name in ("errors_point", "errors_line", "errors_polygon", "errors_table"):
                lyr = QgsVectorLayer(f"{result}|layername={name}", name, "ogr")
                if lyr.isValid():
                    self._extra_layers.append(lyr)
                    fresh += [x for x in read_error_rows(lyr, "rerun") if x["rule_id"] == rule and x["layer"] == table]
            self.overlay[(rule, table)] = fresh
            self.refresh()
            self._say(tr("Rule {rule} on {layer}: {count} rows").format(rule=rule, layer=table, count=len(fresh)))

        path = run_now_or_start(tr("SurveyTools: re-run a rule"), work, done, wait)
        return self.overlay.get((rule, table)) if path is not None else None

    def _say(self, text: str):
        self.count_label.setText(text)
        if self.iface is not None:
            from .compat import level
            self.iface.messageBar().pushMessage("SurveyTools", text, level("Info"), 6)
        log(text)


def _error_text(err) -> str:
    if isinstance(err, SurveyError):
        return err.render()
    return str(err)


def _field_group_of_table(profile, table: str) -> str | None:
    from surveytools.profiles.light import field_group

    for key, spec in profile.layers.items():
        if spec.table == table:
            return field_group(key)
    return None


def write_one_step_scheme(path: str, rule: str, group: str | None) -> dict:
    """A check scheme with one step running ``rule`` (on ``group`` when the rule has a ``layers``
    parameter)."""
    import json

    from surveytools.profiles.light import find_standards_dir, read_yaml  # standard library only

    step = {"rule": rule, "on_fail": "warn"}
    try:
        cat = read_yaml(find_standards_dir() / "rules" / "catalogue.yaml")
        rules = cat.get("rules", cat) if isinstance(cat, dict) else cat
        spec = next((x for x in rules if isinstance(x, dict) and x.get("id") == rule), None)
        if spec and "layers" in (spec.get("params") or {}) and group:
            step["params"] = {"layers": [group]}
    except Exception as exc:  # the scheme still runs the rule on every layer
        log(f"catalogue: {exc}", "Info")
    scheme = {"id": "plugin_rerun", "title": {"zh": f"重新运行 {rule}", "en": f"re-run {rule}"}, "steps": [step]}
    with open(path, "w", encoding="utf-8") as fh:  # JSON is YAML: the scheme reader takes it as it is
        json.dump(scheme, fh, ensure_ascii=False, indent=2)
    return scheme


__all__ = ["ValidationDock", "read_error_rows", "write_one_step_scheme", "qt_enum"]
