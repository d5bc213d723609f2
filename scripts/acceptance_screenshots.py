"""Screenshots of an acceptance check package in QGIS for docs/acceptance.md: run with QGIS's Python,
e.g. ``QT_QPA_PLATFORM=offscreen python3 scripts/acceptance_screenshots.py DIR/check/survey.qgz docs/img``
(DIR from ``surveytools acceptance plan … --out DIR``).  Nothing is saved into the package: the
component's check is filled in the form only."""
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsGeometry,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayerUtils,
)
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
order = [n.layer() for n in qgs.layerTreeRoot().findLayers() if n.isVisible()]
pts = layers["component_point"]
feat = sorted(pts.getFeatures(), key=lambda f: f["item_no"])[0]
grid = next(g for g in layers["unit_grid"].getFeatures() if g.geometry().intersects(feat.geometry()))
# a measured position of the component and a missing component, in the edit buffers only (rolled back)
cp, miss = layers["check_points"], layers["check_missing"]
p = feat.geometry().asPoint()
for lyr, geom, values in ((cp, QgsGeometry.fromPointXY(QgsPointXY(p.x() - 1.2, p.y() - 1.3)),
                           {cp.fields().indexOf("feature_uuid"): feat["uuid"]}),
                          (miss, QgsGeometry.fromPointXY(QgsPointXY(p.x() - 6, p.y() + 5)),
                           {miss.fields().indexOf("class_code"): "0101"})):
    lyr.startEditing()
    lyr.addFeature(QgsVectorLayerUtils.createFeature(lyr, geom, values, lyr.createExpressionContext()))
ms = QgsMapSettings()
ms.setLayers(order)
ms.setDestinationCrs(qgs.crs())
ms.setExtent(QgsRectangle(p.x() - 25, p.y() - 17.5, p.x() + 25, p.y() + 17.5))  # 50 m around the component
ms.setOutputSize(QSize(1000, 700))
ms.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererParallelJob(ms)
job.start()
job.waitForFinished()
job.renderedImage().save(str(out / "acceptance_check_map.png"))
feat["check_result"] = "位置错误"
feat["offset_m"] = 1.8
feat["check_note"] = "井盖实际位于人行道内侧"
feat["checker"] = "张三"
pts.startEditing()  # the form as the checker sees it: the check fields editable, the delivery read-only
form = QgsAttributeForm(pts, feat, QgsAttributeEditorContext())
form.resize(720, 1300)
form.show()
app.processEvents()
form.grab().save(str(out / "acceptance_check_form.png"))
for lyr in (pts, cp, miss):
    lyr.rollBack()
print("ok")
