"""The QGIS plugin object: registers the Processing provider and a menu entry, unloads cleanly."""
from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QDockWidget

try:  # Qt6 (QGIS 4) has QAction in QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt5
    from qgis.PyQt.QtWidgets import QAction

from .compat import ICON_PATH, PLUGIN_DIR, level, log, qgis_locale, qt_enum, tr, translation_locale
from .provider import PROVIDER_ID, SurveyToolsProvider


def install_translator():
    """Install the plugin's translator for the QGIS locale; returns it (or ``None``)."""
    locale = translation_locale(qgis_locale())  # zh-Hans, zh_Hans_CN, zh-CN … → zh_CN
    candidates = [locale] if locale == "zh_CN" else [locale, locale[:2]]
    for loc in candidates:
        path = os.path.join(PLUGIN_DIR, "i18n", f"surveytools_{loc}.qm")
        if os.path.exists(path):
            translator = QTranslator()
            if translator.load(path):
                QCoreApplication.installTranslator(translator)
                return translator
    return None


class SurveyToolsPlugin:
    MENU = "&SurveyTools"

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        self.toolbar_actions = []
        self.project_dock = None
        self.results_dock = None
        from . import deps
        from .deps_ui import DependencyManager

        deps.configure_runner()  # the interpreter set in the settings (surveytools/python)
        self.deps = DependencyManager(iface)
        self.translator = install_translator()

    # -- Processing ---------------------------------------------------------------------------
    def initProcessing(self):
        """Called by QGIS (also by ``qgis_process``, where ``iface`` is ``None``)."""
        if self.provider is not None:
            return
        registry = QgsApplication.processingRegistry()
        if registry.providerById(PROVIDER_ID) is not None:
            # another copy of the plugin is already registered; never replace or remove it
            return
        provider = SurveyToolsProvider()
        if registry.addProvider(provider):
            self.provider = provider
            if provider.load_errors and self.iface is not None:
                mods = ", ".join(m for m, _ in provider.load_errors)
                self.iface.messageBar().pushMessage(
                    "SurveyTools", tr("Some tools could not be loaded ({modules}); see the message log.")
                    .format(modules=mods), level("Warning"), 10)

    # -- GUI ----------------------------------------------------------------------------------
    def initGui(self):
        self.initProcessing()
        if self.iface is None:
            return
        menu = tr(self.MENU)
        main = self.iface.mainWindow()
        for name, text, slot in (
                ("surveytoolsShowPanel", tr("Project panel"), self.show_panel),
                ("surveytoolsShowResults", tr("Validation results"), self.show_results),
                ("surveytoolsMapping", tr("Field and class mapping") + "…", self.show_mapping),
                ("surveytoolsCheckDeps", tr("Check Python dependencies"), lambda: self.check_dependencies(True)),
                ("surveytoolsShowToolbox", tr("Show SurveyTools in the Processing Toolbox"), self.show_toolbox)):
            action = QAction(QIcon(ICON_PATH), text, main)
            action.setObjectName(name)
            action.triggered.connect(lambda _checked=False, f=slot: f())
            self.iface.addPluginToMenu(menu, action)
            self.actions.append((menu, action))
            if name == "surveytoolsShowPanel":
                self.iface.addToolBarIcon(action)
                self.toolbar_actions.append(action)
        try:
            self._create_docks()
        except Exception as exc:  # the Processing tools still work without the panels
            import traceback
            log(f"panels: {type(exc).__name__}: {exc}\n{traceback.format_exc()}", "Critical")
        self.check_dependencies(False)

    def show_mapping(self):
        """The field and class mapping dialog for the open project (or one chosen in the dialog)."""
        from .mapping_dialog import open_mapping_dialog

        loaded = getattr(getattr(self, "project_dock", None), "project", None)
        sp = getattr(loaded, "sp", None)
        project = sp.path if sp is not None and getattr(sp, "kind", "") == "gpkg" else None
        return open_mapping_dialog(self.iface.mainWindow() if self.iface is not None else None, project)

    # -- panels -------------------------------------------------------------------------------
    def _create_docks(self):
        from .panel import ProjectDock
        from .results import ValidationDock

        main = self.iface.mainWindow()
        self.project_dock = ProjectDock(self.iface, main)
        self.results_dock = ValidationDock(self.iface, main)
        self.project_dock.projectChanged.connect(self._project_changed)
        self.project_dock.results_button.clicked.connect(self.show_results)
        self.project_dock.conflicts_button.clicked.connect(self.show_conflicts)
        self.project_dock.deps_button.clicked.connect(lambda: self.check_dependencies(True))
        self.iface.addDockWidget(qt_enum("DockWidgetArea.RightDockWidgetArea"), self.project_dock)
        self.iface.addDockWidget(qt_enum("DockWidgetArea.BottomDockWidgetArea"), self.results_dock)
        self.results_dock.hide()
        # a .qgz read later (or already open) restores the panel; Project → New resets it
        self.project_dock.watch()
        self.project_dock._project_read()

    def _project_changed(self):
        if self.results_dock is not None and self.project_dock is not None:
            self.results_dock.set_project(self.project_dock.project)

    def show_panel(self):
        if self.project_dock is not None:
            self.project_dock.show()
            self.project_dock.raise_()

    def show_conflicts(self):
        """The results panel on its field conflicts tab."""
        self.show_results()
        if self.results_dock is not None:
            self.results_dock.show_conflicts()

    def show_results(self):
        if self.results_dock is not None:
            if self.project_dock is not None and self.results_dock.project is not self.project_dock.project:
                self.results_dock.set_project(self.project_dock.project)
            else:
                self.results_dock.refresh()
            self.results_dock.show()
            self.results_dock.raise_()

    # -- dependencies -------------------------------------------------------------------------
    def check_dependencies(self, report_ok: bool = False):
        """Self-check of the child interpreter (a background task, never an import in QGIS); offers
        the one-click install when something is missing (see deps_ui.py)."""
        return self.deps.check(report_ok)

    def install_dependencies(self, *_args):
        return self.deps.install()

    def show_toolbox(self):
        """Open the Processing Toolbox and filter it to this plugin's algorithms."""
        toolbox = None
        main = self.iface.mainWindow() if self.iface is not None else None
        if main is not None:
            toolbox = main.findChild(QDockWidget, "ProcessingToolbox")
        if toolbox is None:
            self.iface.messageBar().pushMessage(
                "SurveyTools", tr("Enable the Processing plugin to use the SurveyTools tools."),
                level("Warning"), 5)
            return
        toolbox.setVisible(True)
        toolbox.raise_()
        search = getattr(toolbox, "searchBox", None)
        if search is not None:
            search.setText("surveytools")

    def unload(self):
        self.deps.unload()
        for action in self.toolbar_actions:
            if self.iface is not None:
                self.iface.removeToolBarIcon(action)
        self.toolbar_actions = []
        if self.project_dock is not None:
            self.project_dock.unwatch()
        for dock in (self.project_dock, self.results_dock):
            if dock is not None:
                if self.iface is not None:
                    self.iface.removeDockWidget(dock)
                dock.deleteLater()
        if self.project_dock is not None and self.project_dock.project is not None:
            from .autofill import detach
            for lyr in self.project_dock.project.layers():
                detach(lyr)
        self.project_dock = self.results_dock = None
        for menu, action in self.actions:
            if self.iface is not None:
                self.iface.removePluginMenu(menu, action)
            action.deleteLater()
        self.actions = []
        if self.provider is not None:
            registry = QgsApplication.processingRegistry()
            if registry.providerById(PROVIDER_ID) is self.provider:
                registry.removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
