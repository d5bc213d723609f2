"""Screenshots of a field package in QGIS for docs/field.md: run with QGIS's Python, e.g.
``QT_QPA_PLATFORM=offscreen python3 scripts/field_screenshots.py PKG/survey.qgz docs/img``."""
import sys
from pathlib import Path

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsMapSettings, QgsProject, QgsVectorLayerUtils
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

qgz, out = Path(sys.argv[1]), Path(sys.argv[2])
app = QgsApplication([], True)
app.initQgis()
from qgis.gui import QgsAttributeEditorContext, QgsAttributeForm, QgsGui  # noqa: E402

QgsGui.editorWidgetRegistry().initEditors()
qgs = QgsProject.instance()
assert qgs.read(str(qgz))
layers = {lyr.customProperty("surveytools/key"): lyr for lyr in qgs.mapLayers().values()}
order = [node.layer() for node in qgs.layerTreeRoot().findLayers() if node.isVisible()]
ms = QgsMapSettings()
ms.setLayers(order)
ms.setDestinationCrs(qgs.crs())
ext = layers["component_point"].extent()
ext.scale(0.6)
ms.setExtent(ext)
ms.setOutputSize(QSize(1000, 700))
ms.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererParallelJob(ms)
job.start()
job.waitForFinished()
job.renderedImage().save(str(out / "field_package_map.png"))
pts = layers["component_point"]
grid = next(layers["unit_grid"].getFeatures())
feat = QgsVectorLayerUtils.createFeature(pts, grid.geometry().pointOnSurface(),
                                         {pts.fields().indexOf("ClassCode"): "0103"}, pts.createExpressionContext())
ctx = QgsAttributeEditorContext()
form = QgsAttributeForm(pts, feat, ctx)
form.resize(720, 1100)
form.show()
app.processEvents()
form.grab().save(str(out / "field_package_form.png"))
print("ok")
