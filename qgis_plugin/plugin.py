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

from .compat import ICON_PATH, PLUGIN_DIR, level, qgis_locale, tr
from .provider import PROVIDER_ID, SurveyToolsProvider


def install_translator():
    """Install the plugin's translator for the QGIS locale; returns it (or ``None``)."""
    locale = qgis_locale()
    candidates = [locale, locale[:2]]
    if locale.lower().startswith("zh"):
        candidates.append("zh_CN")
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
        action = QAction(QIcon(ICON_PATH), tr("Show SurveyTools in the Processing Toolbox"),
                         self.iface.mainWindow())
        action.setObjectName("surveytoolsShowToolbox")
        action.triggered.connect(self.show_toolbox)
        self.iface.addPluginToMenu(menu, action)
        self.actions.append((menu, action))

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
