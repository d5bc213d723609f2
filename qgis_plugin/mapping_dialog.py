"""The field and class mapping dialog (like QGIS's Refactor Fields): source fields → profile
fields and source class values → classes, saved as the YAML ``components intake --mapping`` reads.

The proposal comes from the ``components mapping`` operation, run in the child process (reading
the survey file, exact matching and ranked suggestions are library work); this dialog only shows
and edits it.  Exact matches are preselected; suggestions are listed first in each choice, best
first, and never applied by themselves; everything else starts as *unmapped*.  A contractor never
edits YAML by hand.
"""
from __future__ import annotations

import json
import os

from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
)

from .compat import is_chinese, qt_enum, tr

UNMAPPED = "UNMAPPED"
SKIP = "skip"


def _q(text) -> str:
    """A YAML scalar that YAML reads back as exactly this text (JSON strings are YAML)."""
    return json.dumps(str(text), ensure_ascii=False)


def mapping_yaml(profile: str, layer: str, source: str, fields: dict, classes: dict) -> str:
    """The mapping file text: ``fields`` column → role | skip | UNMAPPED, ``classes`` value → code |
    skip | UNMAPPED (the format of :mod:`surveytools.components.mapping`)."""
    lines = ["# surveytools 字段与类别对照表 / field and class mapping (QGIS)",
             f"# 来源 source: {source}", "", f"profile: {_q(profile)}", f"layer: {_q(layer)}", "fields:"]
    lines += [f"  {_q(c)}: {_q(r)}" for c, r in fields.items()] or ["  {}"]
    lines.append("classes:")
    lines += [f"  {_q(v)}: {_q(c)}" for v, c in classes.items()] or ["  {}"]
    return "\n".join(lines) + "\n"


class MappingDialog(QDialog):
    """Shows and edits one proposal (the data of ``components mapping``)."""

    def __init__(self, proposal: dict, path: str | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("SurveyToolsMappingDialog")
        self.proposal = proposal
        self.path = path or proposal.get("mapping")
        self.setWindowTitle(tr("Field and class mapping") + " — " + os.path.basename(str(proposal.get("source", ""))))
        targets = proposal.get("targets", {})
        self._roles = targets.get("fields", [])
        self._classes = targets.get("classes", [])
        self._role_label = {t["role"]: self._field_text(t) for t in self._roles}
        self._class_label = {c["code"]: f"{c['code']} {c['name']}" for c in self._classes}
        self._build()

    # -- building ---------------------------------------------------------------------------------
    @staticmethod
    def _field_text(t: dict) -> str:
        alias = t.get("alias_zh") if is_chinese() else (t.get("alias_en") or t.get("alias_zh"))
        return f"{alias} ({t['name']})" if alias and alias != t["name"] else str(t["name"])

    def _build(self):
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget(self)
        self.fields_table = self._table([tr("Source field"), tr("Profile field"), tr("How it matched")])
        self.classes_table = self._table([tr("Source value"), tr("Column"), tr("Records"), tr("Class")])
        for i, f in enumerate(self.proposal.get("fields", [])):
            self.fields_table.insertRow(i)
            self.fields_table.setItem(i, 0, self._item(f["column"]))
            self.fields_table.setCellWidget(i, 1, self._field_combo(f))
            how = f.get("how") or "; ".join(f"{s['role']} {s['score']:.2f} {s['why']}" for s in f.get("suggestions", []))
            self.fields_table.setItem(i, 2, self._item(how))
        for i, c in enumerate(self.proposal.get("classes", [])):
            self.classes_table.insertRow(i)
            self.classes_table.setItem(i, 0, self._item(c["value"]))
            self.classes_table.setItem(i, 1, self._item(c["column"]))
            self.classes_table.setItem(i, 2, self._item(str(c["count"])))
            self.classes_table.setCellWidget(i, 3, self._class_combo(c))
        self.tabs.addTab(self.fields_table, tr("Fields"))
        self.tabs.addTab(self.classes_table, tr("Classes"))
        lay.addWidget(self.tabs, 1)
        row = QHBoxLayout()
        self.only_unmapped = QCheckBox(tr("Show only unmapped rows"), self)
        self.only_unmapped.toggled.connect(lambda _on: self._apply_filter())
        row.addWidget(self.only_unmapped)
        self.status = QLabel("", self)
        row.addWidget(self.status, 1)
        lay.addLayout(row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.buttons.accepted.connect(self._save_clicked)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.resize(820, 560)
        self._update_status()

    def _table(self, headers) -> QTableWidget:
        t = QTableWidget(0, len(headers), self)
        t.setHorizontalHeaderLabels(headers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        t.horizontalHeader().setStretchLastSection(True)
        return t

    @staticmethod
    def _item(text) -> QTableWidgetItem:
        it = QTableWidgetItem(str(text))
        it.setToolTip(str(text))
        return it

    def _combo(self, current, suggestions, labels: dict) -> QComboBox:
        """Current choice first (when set), then the suggestions best first, then unmapped, skip
        and every other target."""
        combo = QComboBox(self)
        combo.setObjectName("surveytools_mapping_choice")
        seen = set()

        def add(value, text):
            if value not in seen:
                seen.add(value)
                combo.addItem(text, value)

        if current and current not in (UNMAPPED,):
            add(current, tr("Do not import") if current == SKIP else "✓ " + labels.get(current, current))
        for value, score, why in suggestions:
            add(value, f"{labels.get(value, value)} · {tr('suggestion')} {score:.2f}")
            combo.setItemData(combo.count() - 1, why, qt_enum("ItemDataRole.ToolTipRole"))
        add(UNMAPPED, "— " + tr("unmapped") + " —")
        add(SKIP, tr("Do not import"))
        for value, text in labels.items():
            add(value, text)
        combo.setCurrentIndex(combo.findData(current) if current else combo.findData(UNMAPPED))
        combo.currentIndexChanged.connect(lambda _i: self._update_status())
        return combo

    def _field_combo(self, f: dict) -> QComboBox:
        sugg = [(s["role"], s["score"], s["why"]) for s in f.get("suggestions", [])]
        return self._combo(f.get("role"), sugg, self._role_label)

    def _class_combo(self, c: dict) -> QComboBox:
        sugg = [(s["code"], s["score"], s["why"]) for s in c.get("suggestions", [])]
        return self._combo(c.get("code"), sugg, self._class_label)

    # -- state ------------------------------------------------------------------------------------
    def field_combo(self, column: str) -> QComboBox | None:
        for i in range(self.fields_table.rowCount()):
            if self.fields_table.item(i, 0).text() == column:
                return self.fields_table.cellWidget(i, 1)
        return None

    def class_combo(self, value: str) -> QComboBox | None:
        for i in range(self.classes_table.rowCount()):
            if self.classes_table.item(i, 0).text() == value:
                return self.classes_table.cellWidget(i, 3)
        return None

    def set_field(self, column: str, role: str) -> None:
        combo = self.field_combo(column)
        combo.setCurrentIndex(combo.findData(role))

    def set_class(self, value: str, code: str) -> None:
        combo = self.class_combo(value)
        combo.setCurrentIndex(combo.findData(code))

    def choices(self) -> tuple:
        """``(fields, classes)``: column → role/skip/UNMAPPED, value → code/skip/UNMAPPED."""
        fields = {self.fields_table.item(i, 0).text(): self.fields_table.cellWidget(i, 1).currentData()
                  for i in range(self.fields_table.rowCount())}
        classes = {self.classes_table.item(i, 0).text(): self.classes_table.cellWidget(i, 3).currentData()
                   for i in range(self.classes_table.rowCount())}
        return fields, classes

    def unmapped(self) -> int:
        fields, classes = self.choices()
        return sum(v == UNMAPPED for v in fields.values()) + sum(v == UNMAPPED for v in classes.values())

    def _update_status(self):
        n = self.unmapped()
        self.status.setText(tr("{count} unmapped").format(count=n) if n else tr("Everything is mapped."))
        if self.only_unmapped.isChecked() if hasattr(self, "only_unmapped") else False:
            self._apply_filter()

    def _apply_filter(self):
        only = self.only_unmapped.isChecked()
        for table, col in ((self.fields_table, 1), (self.classes_table, 3)):
            for i in range(table.rowCount()):
                table.setRowHidden(i, only and table.cellWidget(i, col).currentData() != UNMAPPED)

    # -- saving -----------------------------------------------------------------------------------
    def yaml_text(self) -> str:
        fields, classes = self.choices()
        p = self.proposal
        return mapping_yaml(p.get("profile", ""), p.get("layer", "component"), p.get("source", ""), fields, classes)

    def save(self, path: str | None = None) -> str:
        """Write the mapping file (atomically) and return its path."""
        path = path or self.path
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.yaml_text())
        os.replace(tmp, path)
        self.path = path
        return path

    def _save_clicked(self):
        if not self.path:
            path, _ = QFileDialog.getSaveFileName(self, tr("Save the mapping"), "", "YAML (*.yaml)")
            if not path:
                return
            self.path = path
        n = self.unmapped()
        if n and QMessageBox.question(
                self, tr("Field and class mapping"),
                tr("{count} rows are still unmapped; intake stops until they are mapped or skipped. Save anyway?")
                .format(count=n)) != QMessageBox.StandardButton.Yes:
            return
        self.save()
        self.accept()


def propose(project: str, source: str, layer: str = "component", mapping: str | None = None,
            out: str | None = None, feedback=None) -> dict:
    """Run ``components mapping`` in the child process; returns its data (the proposal)."""
    from .tasks import run_operation

    kwargs = {"project": project, "source": source, "layer": layer, "mapping": mapping, "out": out}
    return run_operation("components_mapping", kwargs, feedback)


def open_mapping_dialog(parent=None, project: str | None = None, source: str | None = None,
                        layer: str = "component"):
    """Ask for what is missing (project, survey file), propose, show the dialog; returns the saved
    mapping path or None."""
    from surveytools.errors import SurveyError

    if not project:
        project, _ = QFileDialog.getOpenFileName(parent, tr("Survey project"), "", "GeoPackage (*.gpkg)")
    if project and not source:
        source, _ = QFileDialog.getOpenFileName(
            parent, tr("Survey data"), os.path.dirname(project),
            "GeoPackage, Shapefile, GeoJSON, CSV, XLSX (*.gpkg *.shp *.geojson *.json *.csv *.xlsx)")
    if not project or not source:
        return None
    try:
        data = propose(project, source, layer)
    except SurveyError as err:
        QMessageBox.warning(parent, tr("Field and class mapping"), err.render())
        return None
    dlg = MappingDialog(data, data.get("mapping"), parent)
    return dlg.path if dlg.exec() else None
