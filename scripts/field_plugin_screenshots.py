"""Screenshots of the plugin's field survey UI for docs/field.md (QGIS's Python, offscreen): the project
panel's steps and the Field conflicts tab of the results panel, in Chinese.
``QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/field_plugin_screenshots.py . PROJECT.gpkg docs/img``
(a project with conflicts: scripts/field_conflicts_demo.py)."""
import sys
from pathlib import Path


def main(root: str, project: str, out: Path) -> None:
    sys.path[:0] = [root]
    from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication, QTranslator

    app = QgsApplication([], True)
    app.initQgis()
    from qgis.gui import QgsGui, QgsMapCanvas

    QgsGui.editorWidgetRegistry().initEditors()
    QgsSettings().setValue("locale/userLocale", "zh_CN")
    translator = QTranslator()
    assert translator.load(str(Path(root) / "qgis_plugin/i18n/surveytools_zh_CN.qm"))
    QCoreApplication.installTranslator(translator)
    from qgis_plugin.layers import open_project
    from qgis_plugin.panel import ProjectDock
    from qgis_plugin.results import ValidationDock

    class Bar:
        def pushMessage(self, *args):
            pass

    class Iface:
        def __init__(self):
            self.canvas = QgsMapCanvas()
            self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4548"))

        def mapCanvas(self):
            return self.canvas

        def messageBar(self):
            return Bar()

    dock = ValidationDock(Iface())
    dock.set_project(open_project(project))
    panel = dock.show_conflicts()
    panel.status_combo.setCurrentIndex(panel.status_combo.findData(None))
    dock.resize(1100, 330)
    dock.show()
    panel.table.resizeColumnsToContents()
    panel.table.selectRow(0)
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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
