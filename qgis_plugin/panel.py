"""The project panel (dock): create or open a survey project, load its layers, run the main steps.

Opening a GeoPackage project opens its QGIS project file ``<name>.qgz`` beside it, written first
when missing (:func:`.project_file.write_qgz`: native forms, styles, relative paths, the plugin's
link).  A ``.qgz`` opened any other way (File → Open, a double click, a new QGIS) restores the
panel, the automatic fields and the step buttons from that link (:meth:`ProjectDock.restore`);
Project → New resets the panel (:meth:`ProjectDock.reset`); opening a project that is already
open adopts its layers instead of adding them again; the map zooms to the unit grids.

Every step button opens the matching Processing algorithm's dialog with the project filled in
(``processing.execAlgorithmDialog('surveytools:grid_divide', {'PROJECT': path})``).  The dialog
runs the algorithm as a background task with progress and cancel; the algorithm runs the library
in a child process (surveytools/runner.py).  Pending edits of the project's layers are saved
first (the algorithm reads the file), and the layers are re-opened afterwards (the library
replaces the GeoPackage atomically).
"""
from __future__ import annotations

import os

from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsProviderRegistry
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surveytools.errors import SurveyError

from .compat import log, qt_enum, tr
from .layers import LoadedProject, open_project

#: step → (Processing algorithm id, button text)
STEPS = {
    "divide": ("surveytools:grid_divide", "Divide unit grids"),
    "code": ("surveytools:grid_code", "Code unit grids"),
    "intake": ("surveytools:components_intake", "Component intake"),
    "validate": ("surveytools:validate_run", "Validate"),
    "assign": ("surveytools:responsibility_assign", "Assign departments"),
    "export": ("surveytools:export_db", "Export database"),
    "manual": ("surveytools:export_manual", "Command manual"),
    "field_package": ("surveytools:field_package", "Field package (QField)"),
    "field_return": ("surveytools:field_return", "Field return"),
}
#: the acceptance (验收) group: plan (sample + checklist + check package), record, report
ACCEPTANCE_STEPS = {
    "acceptance_plan": ("surveytools:acceptance_plan", "Sampling plan"),
    "acceptance_record": ("surveytools:acceptance_record", "Record checks"),
    "acceptance_report": ("surveytools:acceptance_report", "Acceptance report"),
}


def _step_label(step: str) -> str:
    # explicit tr() calls so the strings are found for the translation file
    return {"divide": tr("Divide unit grids"), "code": tr("Code unit grids"), "intake": tr("Component intake"),
            "validate": tr("Validate"), "assign": tr("Assign departments"), "export": tr("Export database"),
            "manual": tr("Command manual"), "acceptance_plan": tr("Sampling plan"),
            "acceptance_record": tr("Record checks"), "acceptance_report": tr("Acceptance report"),
            "field_package": tr("Field package (QField)"), "field_return": tr("Field return")}[step]


def _exec_dialog(alg_id: str, params: dict):
    import processing

    return processing.execAlgorithmDialog(alg_id, params)


class ProjectDock(QDockWidget):
    """Dock widget of the project panel."""

    OBJECT_NAME = "SurveyToolsProjectDock"
    projectChanged = pyqtSignal()

    def __init__(self, iface=None, parent=None):
        super().__init__(tr("SurveyTools project"), parent)
        self.setObjectName(self.OBJECT_NAME)
        self.iface = iface
        self.project: LoadedProject | None = None
        #: replaced in tests; runs an algorithm dialog and returns its results (or None)
        self.exec_dialog = _exec_dialog
        self._watched = None
        self._build()

    # -- UI ---------------------------------------------------------------------------------------
    def _build(self):
        body = QWidget(self)
        lay = QVBoxLayout(body)
        self.title_label = QLabel(tr("No project open"), body)
        self.title_label.setWordWrap(True)
        self.title_label.setObjectName("surveytools_title")
        lay.addWidget(self.title_label)

        box = QGroupBox(tr("Survey project"), body)
        form = QFormLayout(box)
        self.profile_combo = QComboBox(box)
        try:
            from surveytools.profiles.light import list_profiles
            for p in list_profiles():
                title = p.get("title") or {}
                tip = title.get("zh" if _zh() else "en", "") if isinstance(title, dict) else str(title or "")
                self.profile_combo.addItem(f"{p['id']} — {p.get('edition', '')}".strip(" —"), p["id"])
                self.profile_combo.setItemData(self.profile_combo.count() - 1, tip, qt_enum("ItemDataRole.ToolTipRole"))
            self.profile_combo.setCurrentIndex(max(0, self.profile_combo.findData("cjt")))
        except Exception as exc:  # no standards folder: still a usable panel
            log(f"profiles: {exc}", "Warning")
        form.addRow(tr("Profile"), self.profile_combo)
        self.county_edit = QLineEdit(box)
        self.county_edit.setPlaceholderText(tr("6-digit county code, e.g. 360681"))
        self.county_edit.setMaxLength(6)
        form.addRow(tr("County"), self.county_edit)
        self.crs_widget = None
        try:
            from qgis.gui import QgsProjectionSelectionWidget
            self.crs_widget = QgsProjectionSelectionWidget(box)
            self.crs_widget.setOptionVisible(QgsProjectionSelectionWidget.CrsOption.CrsNotSet, True)
            self.crs_widget.setNotSetText(tr("County default (CGCS2000 3-degree zone)"))
            self.crs_widget.setCrs(QgsCoordinateReferenceSystem())
            form.addRow(tr("CRS"), self.crs_widget)
        except Exception as exc:  # pragma: no cover - very old QGIS
            log(f"CRS widget: {exc}", "Warning")
        row = QHBoxLayout()
        self.new_button = QPushButton(tr("New project…"), box)
        self.new_button.clicked.connect(lambda: self.new_project())
        self.open_button = QPushButton(tr("Open GeoPackage…"), box)
        self.open_button.clicked.connect(lambda: self.open_gpkg())
        row.addWidget(self.new_button)
        row.addWidget(self.open_button)
        form.addRow(row)
        pg = QHBoxLayout()
        self.pg_combo = QComboBox(box)
        self.pg_combo.setToolTip(tr("Saved PostgreSQL connections of QGIS"))
        self.refresh_connections()
        self.pg_schema = QLineEdit(box)
        self.pg_schema.setPlaceholderText(tr("schema"))
        self.pg_button = QPushButton(tr("Open PostGIS"), box)
        self.pg_button.clicked.connect(lambda: self.open_postgres())
        self.pg_new_button = QPushButton(tr("New PostGIS project…"), box)
        self.pg_new_button.setObjectName("surveytools_new_postgis")
        self.pg_new_button.setToolTip(tr("Create a survey project in this schema of the chosen connection"))
        self.pg_new_button.clicked.connect(lambda: self.new_postgres_project())
        pg.addWidget(self.pg_combo, 2)
        pg.addWidget(self.pg_schema, 1)
        pg.addWidget(self.pg_button)
        pg.addWidget(self.pg_new_button)
        form.addRow(pg)
        self.reload_button = QPushButton(tr("Reload layers"), box)
        self.reload_button.clicked.connect(lambda: self.reload())
        form.addRow(self.reload_button)
        lay.addWidget(box)

        steps = QGroupBox(tr("Steps"), body)
        grid = QGridLayout(steps)
        self.step_buttons = {}
        for i, step in enumerate(STEPS):
            b = QPushButton(_step_label(step), steps)
            b.setObjectName(f"surveytools_step_{step}")
            b.setToolTip(STEPS[step][0])
            b.clicked.connect(lambda _checked=False, s=step: self.run_step(s))
            grid.addWidget(b, i // 2, i % 2)
            self.step_buttons[step] = b
        lay.addWidget(steps)
        acceptance = QGroupBox(tr("Acceptance"), body)
        row = QHBoxLayout(acceptance)
        for step, (alg, _text) in ACCEPTANCE_STEPS.items():
            b = QPushButton(_step_label(step), acceptance)
            b.setObjectName(f"surveytools_step_{step}")
            b.setToolTip(alg)
            b.clicked.connect(lambda _checked=False, s=step: self.run_step(s))
            row.addWidget(b)
            self.step_buttons[step] = b
        lay.addWidget(acceptance)

        tools = QHBoxLayout()
        self.results_button = QPushButton(tr("Validation results"), body)
        self.deps_button = QPushButton(tr("Check dependencies"), body)
        tools.addWidget(self.results_button)
        tools.addWidget(self.deps_button)
        lay.addLayout(tools)
        field_tools = QHBoxLayout()
        self.conflicts_button = QPushButton(tr("Field conflicts"), body)
        self.conflicts_button.setObjectName("surveytools_field_conflicts")
        self.conflicts_button.setToolTip(tr("Conflicts of field returns: keep the project's version or take the field's"))
        field_tools.addWidget(self.conflicts_button)
        field_tools.addStretch(1)
        lay.addLayout(field_tools)
        self.status_label = QLabel("", body)
        self.status_label.setWordWrap(True)
        lay.addWidget(self.status_label)
        lay.addStretch(1)
        self.setWidget(body)
        self._update_buttons()

    def refresh_connections(self):
        self.pg_combo.clear()
        md = QgsProviderRegistry.instance().providerMetadata("postgres")
        try:
            names = sorted(md.connections()) if md is not None else []
        except Exception:
            names = []
        for n in names:
            self.pg_combo.addItem(n, n)

    def _update_buttons(self):
        runnable = self.project is not None and self.project.sp.is_project  # a GeoPackage or PostGIS project
        for b in self.step_buttons.values():
            b.setEnabled(runnable)
        self.reload_button.setEnabled(self.project is not None)
        self.pg_button.setEnabled(self.pg_combo.count() > 0)
        self.pg_new_button.setEnabled(self.pg_combo.count() > 0)

    def message(self, text: str, level_name: str = "Info"):
        self.status_label.setText(text)
        if self.iface is not None:
            from .compat import level
            self.iface.messageBar().pushMessage("SurveyTools", text, level(level_name), 8)

    # -- projects ---------------------------------------------------------------------------------
    # -- following the QGIS project ------------------------------------------------------------------
    def watch(self, qgs=None) -> None:
        """Restore the panel when a ``.qgz`` with the plugin's link is read, reset it when the
        QGIS project is cleared (Project → New, closing)."""
        qgs = qgs or QgsProject.instance()
        self.unwatch()
        qgs.readProject.connect(self._project_read)
        qgs.cleared.connect(self._project_cleared)
        self._watched = qgs

    def unwatch(self) -> None:
        if self._watched is None:
            return
        for sig, slot in ((self._watched.readProject, self._project_read),
                          (self._watched.cleared, self._project_cleared)):
            try:
                sig.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        self._watched = None

    def _project_read(self, *_args):
        try:
            self.restore()
        except Exception as exc:  # a broken link must never break opening a project
            log(f"restore: {type(exc).__name__}: {exc}", "Warning")

    def _project_cleared(self, *_args):
        try:
            self.reset()
        except RuntimeError:  # the dock is being deleted
            pass

    def reset(self) -> None:
        """No project: the panel as at start (the layers went with the cleared QGIS project)."""
        if self.project is not None:
            from .autofill import detach
            for lyr in self.project.layers():
                detach(lyr)
        self.project = None
        self.title_label.setText(tr("No project open"))
        self.status_label.setText("")
        self._update_buttons()
        self.projectChanged.emit()

    def restore(self, qgs=None) -> LoadedProject | None:
        """The survey project of the open QGIS project (its ``surveytools`` link), with its layers
        adopted, the automatic fields attached and the steps enabled; ``None`` when the QGIS
        project is not a survey project."""
        from .project_file import survey_link

        qgs = qgs or QgsProject.instance()
        link = survey_link(qgs)
        if not link:
            return None
        try:
            if link.get("kind") == "postgres":
                lp = open_project(None, qgs, connection=link.get("connection"), schema=link.get("schema"))
            else:
                lp = open_project(link.get("project"), qgs)
        except SurveyError as err:
            self.message(err.render() if hasattr(err, "render") else str(err), "Critical")
            return None
        self._set_project(lp)
        self.zoom_to_grids()
        return lp

    def zoom_to_grids(self) -> bool:
        """Zoom the map to the unit grids (not to the full extent, where one outlier would shrink
        everything to a dot)."""
        if self.iface is None or self.project is None:
            return False
        from .project_file import grids_extent

        hit = grids_extent(self.project)
        if hit is None:
            return False
        ext, crs = hit
        canvas = self.iface.mapCanvas()
        dest = canvas.mapSettings().destinationCrs()
        if dest.isValid() and crs.isValid() and dest != crs:
            try:
                ext = QgsCoordinateTransform(crs, dest, QgsProject.instance()).transformBoundingBox(ext)
            except Exception as exc:  # QgsCsException
                log(f"zoom: {exc}", "Warning")
                return False
        canvas.setExtent(ext)
        canvas.refresh()
        return True

    def _set_project(self, lp: LoadedProject):
        if self.project is not None and self.project.sp.source_id != lp.sp.source_id:
            self.project.unload()
        self.project = lp
        sp = lp.sp
        self.title_label.setText(f"<b>{sp.title}</b><br>{sp.source_id}<br>"
                                 + tr("Profile {profile}, county {county}, CRS {crs}").format(
                                     profile=sp.profile.id, county=sp.county, crs=sp.crs))
        i = self.profile_combo.findData(sp.profile.id)
        if i >= 0:
            self.profile_combo.setCurrentIndex(i)
        self.county_edit.setText(sp.county)
        if self.crs_widget is not None and sp.crs:
            self.crs_widget.setCrs(QgsCoordinateReferenceSystem(sp.crs))
        self._update_buttons()
        self.projectChanged.emit()

    def open_gpkg(self, path: str | None = None) -> LoadedProject | None:
        """Open a GeoPackage project through its ``.qgz`` (written first when missing); a
        project that is already open is not loaded again."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, tr("Open survey project"), "",
                                                  "GeoPackage / QGIS (*.gpkg *.qgz)")
            if not path:
                return None
        if str(path).lower().endswith((".qgz", ".qgs")):
            return self.open_qgz(path)
        from .project_file import survey_link, write_qgz

        qgs = QgsProject.instance()
        link = survey_link(qgs) or {}
        same = link.get("project") and os.path.exists(link["project"]) and os.path.exists(path) and \
            os.path.samefile(link["project"], path)
        qgz = os.path.splitext(str(path))[0] + ".qgz"
        try:
            if same or self.project is not None and self.project.sp.kind == "gpkg" and \
                    os.path.exists(path) and os.path.samefile(self.project.sp.path, path):
                lp = open_project(path, qgs)  # already open: adopt, never duplicate
            elif qgs.count() == 0 or self.confirm(tr("Open project"),
                                                  tr("Close the current QGIS project and open the survey project?")):
                if not os.path.exists(qgz):
                    write_qgz(str(path), qgz)
                return self.open_qgz(qgz, survey_path=str(path))
            else:
                return None
        except SurveyError as err:
            self.message(err.render() if hasattr(err, "render") else str(err), "Critical")
            return None
        self._set_project(lp)
        self.zoom_to_grids()
        self.message(tr("Opened {path}: {count} layers").format(path=path, count=len(lp.layer_ids)), "Success")
        return lp

    def open_qgz(self, qgz: str, survey_path: str | None = None) -> LoadedProject | None:
        """Read a ``.qgz`` into QGIS and restore the panel from its link."""
        qgs = QgsProject.instance()
        if self.iface is not None and hasattr(self.iface, "addProject"):
            ok = self.iface.addProject(qgz)
        else:
            ok = qgs.read(qgz)
        if not ok:
            self.message(tr("Could not open {path}").format(path=qgz), "Critical")
            return None
        lp = self.project if self.project is not None and self.project.qgs is qgs and \
            self.project.layers() else self.restore(qgs)
        if lp is None and survey_path:  # a .qgz without the link: load the layers into it
            try:
                lp = open_project(survey_path, qgs)
            except SurveyError as err:
                self.message(err.render(), "Critical")
                return None
            self._set_project(lp)
        if lp is not None:
            self.message(tr("Opened {path}: {count} layers").format(path=qgz, count=len(lp.layer_ids)), "Success")
        return lp

    def _pg_choice(self, connection: str | None, schema: str | None) -> tuple:
        """The PostgreSQL connection and schema given, else chosen in the panel; (None, None) with a
        warning when either is missing."""
        connection = connection or self.pg_combo.currentData()
        schema = schema or self.pg_schema.text().strip()
        if not connection or not schema:
            self.message(tr("Choose a PostgreSQL connection and a schema."), "Warning")
            return None, None
        return connection, schema

    def open_postgres(self, connection: str | None = None, schema: str | None = None) -> LoadedProject | None:
        connection, schema = self._pg_choice(connection, schema)
        if not connection:
            return None
        try:
            lp = open_project(None, connection=connection, schema=schema)
        except SurveyError as err:
            self.message(err.render() if hasattr(err, "render") else str(err), "Critical")
            return None
        from .project_file import write_link
        write_link(lp.qgs, lp.sp)  # a .qgz saved from this session restores the panel
        self._set_project(lp)
        self.zoom_to_grids()
        self.message(tr("Opened {path}: {count} layers").format(path=lp.sp.source_id, count=len(lp.layer_ids)),
                     "Success")
        return lp

    def new_project_params(self, path: str | None = None) -> dict:
        params = {"PROFILE": self.profile_combo.currentData() or "cjt", "COUNTY": self.county_edit.text().strip(),
                  "OVERWRITE": False}
        if self.crs_widget is not None and self.crs_widget.crs().isValid():
            params["CRS"] = self.crs_widget.crs()
        if path:
            params["PROJECT"] = path
        return params

    def new_project(self, path: str | None = None) -> LoadedProject | None:
        """Create a project with ``surveytools:project_init`` (its dialog, or directly when
        ``path`` is given) and open it."""
        params = self.new_project_params(path)
        if path is None:
            results = self.exec_dialog("surveytools:project_init", params)
        else:
            import processing
            from qgis.core import QgsProcessingFeedback
            try:
                results = processing.run("surveytools:project_init", params, feedback=QgsProcessingFeedback())
            except Exception as exc:  # QgsProcessingException: bilingual message
                self.message(str(exc), "Critical")
                return None
        target = (results or {}).get("PROJECT")
        if not target or not os.path.isfile(str(target)):
            return None
        return self.open_gpkg(str(target))

    def new_postgres_project(self, connection: str | None = None, schema: str | None = None) -> LoadedProject | None:
        """Create a project in ``schema`` of a saved PostgreSQL connection with
        ``surveytools:project_init`` (its dialog, the project URI filled in: the connection's
        ``postgresql://user@host:port/db?schema=NAME``, never its password, which the algorithm
        gives its child process in a temporary pgpass file) and open it."""
        from .pgconn import connection_url

        connection, schema = self._pg_choice(connection, schema)
        if not connection:
            return None
        try:
            url = connection_url(connection)
        except KeyError:
            self.message(tr("No PostgreSQL connection named {name}.").format(name=connection), "Critical")
            return None
        uri = url + ("&" if "?" in url else "?") + f"schema={schema}"
        results = self.exec_dialog("surveytools:project_init", self.new_project_params(uri))
        if not (results or {}).get("PROJECT"):
            return None
        return self.open_postgres(connection, schema)

    def reload(self):
        if self.project is None:
            return
        try:
            self.project.reload()
        except SurveyError as err:
            self.message(err.render(), "Critical")
            return
        self.projectChanged.emit()

    # -- steps ------------------------------------------------------------------------------------
    def step_params(self, step: str) -> dict:
        sp = self.project.sp
        params = {"PROJECT": sp.project_uri}
        if sp.kind == "gpkg":
            stem = os.path.splitext(sp.path)[0]
        else:  # a PostGIS project: the reports go to the user's home folder
            stem = os.path.join(os.path.expanduser("~"), f"surveytools_{sp.schema}")
        if step in ("validate", "manual", "field_package"):
            params["OUT"] = stem + {"validate": "_qc", "manual": "_manual", "field_package": "_field"}[step]
        elif step in ("acceptance_plan", "acceptance_report"):  # the plan's folder, its report inside
            params["OUT"] = stem + "_acceptance" if step == "acceptance_plan" else os.path.join(stem + "_acceptance", "report")
        return params

    def confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (replaced in tests)."""
        return QMessageBox.question(self, title, text, qt_std_buttons("Yes", "No")) == qt_std_button("Yes")

    def run_step(self, step: str):
        """Open the step's algorithm dialog for the current project; reload afterwards."""
        if self.project is None or not self.project.sp.is_project:
            self.message(tr("Open a GeoPackage project first."), "Warning")
            return None
        alg_id = (STEPS.get(step) or ACCEPTANCE_STEPS[step])[0]
        if self.project.modified_layers():
            if not self.confirm(tr("Save edits"), tr("Save the edits of the project's layers before running the step?")):
                return None
        failed = self.project.prepare_operation()
        if failed:
            self.message(tr("Could not save {layers}; the step was not run.").format(
                layers=", ".join(n for n, _ in failed)), "Critical")
            return None
        results = self.exec_dialog(alg_id, self.step_params(step))
        self.reload()
        return results


def _zh() -> bool:
    from .compat import is_chinese
    return is_chinese()


def qt_std_button(name: str):
    return getattr(QMessageBox.StandardButton, name)


def qt_std_buttons(*names):
    value = qt_std_button(names[0])
    for n in names[1:]:
        value = value | qt_std_button(n)
    return value


__all__ = ["ACCEPTANCE_STEPS", "ProjectDock", "STEPS", "qt_enum"]
