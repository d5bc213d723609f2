"""Run inside the real QGIS desktop (``qgis --code smoke_qgis_panel.py``) by test_plugin_smoke.py.

Opens the sample project in the SurveyTools panel, shows the validation results, grabs a
screenshot of the main window, writes a JSON report and quits.  Settings come from the
environment: SMOKE_PROJECT, SMOKE_PNG, SMOKE_REPORT.
"""
import json
import os
import traceback

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

report = {"messages": [], "errors": [], "steps": []}
REPORT = os.environ["SMOKE_REPORT"]


def _on_message(message, tag, level):
    report["messages"].append({"tag": tag, "level": int(level), "message": message[:2000]})


QgsApplication.messageLog().messageReceived.connect(_on_message)


def _write():
    with open(REPORT, "w", encoding="utf-8") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)


def _finish():
    try:
        win = iface.mainWindow()
        pix = win.grab()
        report["screenshot"] = bool(pix.save(os.environ["SMOKE_PNG"], "PNG"))
        dock = plugins["surveytools_plugin"].project_dock
        report["panel_png"] = bool(dock.grab().save(os.environ["SMOKE_PNG"].replace(".png", "_dock.png"), "PNG"))
        report["steps"].append("grabbed")
    except Exception:
        report["errors"].append(traceback.format_exc())
    _write()
    os._exit(0)  # no "save project?" questions


def _run():
    try:
        plugin = plugins.get("surveytools_plugin")
        report["plugin_class"] = type(plugin).__name__ if plugin is not None else None
        report["provider"] = QgsApplication.processingRegistry().providerById("surveytools") is not None
        dock = plugin.project_dock
        plugin.show_panel()
        lp = dock.open_gpkg(os.environ["SMOKE_PROJECT"])
        report["layers"] = len(lp.layer_ids) if lp else 0
        report["panel_title"] = dock.title_label.text()
        report["group_names"] = [g.name() for g in lp.group.findGroups()] if lp else []
        report["step_labels"] = [b.text() for b in dock.step_buttons.values()]
        plugin.show_results()
        report["result_rows"] = len(plugin.results_dock.all_rows)
        report["panel_visible"] = dock.isVisible()
        iface.mainWindow().showMaximized()
        report["steps"].append("opened")
    except Exception:
        report["errors"].append(traceback.format_exc())
    QTimer.singleShot(1500, _zoom)


def _zoom():
    try:
        lp = plugins["surveytools_plugin"].project_dock.project
        canvas = iface.mapCanvas()
        ext = lp.layer("unit_grid").extent()
        ext.scale(0.25)  # the town centre: grid codes and component symbols readable
        canvas.setExtent(ext)
        canvas.refresh()
    except Exception:
        report["errors"].append(traceback.format_exc())
    QTimer.singleShot(5000, _finish)


QTimer.singleShot(1500, _run)
QTimer.singleShot(45000, lambda: (report["errors"].append("timeout inside QGIS"), _write(), os._exit(3)))
