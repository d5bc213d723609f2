"""Screenshots of the plugin's field survey UI (QGIS python, offscreen): the panel's steps and the
Field conflicts tab of the results panel."""
import sys
from pathlib import Path
sys.path[:0] = [sys.argv[1]]
project, out = sys.argv[2], Path(sys.argv[3])
from qgis.core import QgsApplication, QgsCoordinateReferenceSystem
from qgis.PyQt.QtCore import QCoreApplication, QTranslator, QSettings
app = QgsApplication([], True)
app.initQgis()
from qgis.gui import QgsGui, QgsMapCanvas
QgsGui.editorWidgetRegistry().initEditors()
QSettings().setValue("locale/userLocale", "zh_CN")
from qgis.core import QgsSettings
QgsSettings().setValue("locale/userLocale", "zh_CN")
tr = QTranslator()
assert tr.load(str(Path(sys.argv[1]) / "qgis_plugin/i18n/surveytools_zh_CN.qm"))
QCoreApplication.installTranslator(tr)
from qgis_plugin.layers import open_project
from qgis_plugin.results import ValidationDock
from qgis_plugin.panel import ProjectDock

class Iface:
    def __init__(self):
        self.canvas = QgsMapCanvas()
        self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4548"))
    def mapCanvas(self):
        return self.canvas
    def messageBar(self):
        class B:
            def pushMessage(self, *a): pass
        return B()

iface = Iface()
lp = open_project(project)
dock = ValidationDock(iface)
dock.set_project(lp)
dock.show_conflicts()
dock.conflicts.status_combo.setCurrentIndex(dock.conflicts.status_combo.findData(None))
dock.resize(1100, 330)
dock.show()
dock.conflicts.table.resizeColumnsToContents()
dock.conflicts.table.selectRow(0)
app.processEvents()
dock.grab().save(str(out / "field_conflicts_panel.png"))
pd = ProjectDock(None)
pd.confirm = lambda *a: True
pd.open_gpkg(project)
pd.resize(420, 560)
pd.show()
app.processEvents()
pd.grab().save(str(out / "field_panel_steps.png"))
print("ok")
