"""Run inside the real QGIS desktop (``qgis --code``) by test_plugin_clean_window.py.

The test copies this file with a first line ``CONFIG = "<path of a JSON file>"``: the QGIS process
gets no settings through its environment (the environment is as clean as a user's).  Phase 1
clicks the plugin's own Install button (offline, from the wheel folder in the QGIS setting
``surveytools/find_links``), opens the project in the panel, shows the toolbox, takes a
screenshot, saves the project as ``.qgz`` and quits QGIS.  Phase 2 (a new QGIS process, started
with the ``.qgz``) adds a component through the layer's edit buffer with the form's defaults and
reports what was filled.  Results go to the JSON report named in the config.
"""
import json
import os
import sys
import time
import traceback

from qgis.core import QgsApplication, QgsGeometry, QgsProject, QgsSettings, QgsVectorLayerUtils
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QPushButton
from qgis.utils import iface, plugins

PKG = "surveytools_plugin"
with open(CONFIG, encoding="utf-8") as _fh:  # noqa: F821 - CONFIG is the copied file's first line
    cfg = json.load(_fh)
report = {"phase": cfg["phase"], "errors": [], "messages": [], "steps": [],
          "env": {"PYTHONPATH": os.environ.get("PYTHONPATH"), "VIRTUAL_ENV": os.environ.get("VIRTUAL_ENV"),
                  "executable": sys.executable, "sys_path": list(sys.path)}}


def _on_message(message, tag, level):
    report["messages"].append({"tag": tag, "level": int(level), "message": message[:3000]})


QgsApplication.messageLog().messageReceived.connect(_on_message)


def _write():
    report["loaded_heavy_modules"] = sorted(m for m in ("pandas", "geopandas", "shapely", "pyogrio", "pyarrow", "pyproj",
                                                        "fiona") if m in sys.modules)
    tmp = cfg["report"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, cfg["report"])


def _fail(where):
    report["errors"].append(f"{where}: {traceback.format_exc()}")


def wait_for(cond, then, timeout, what, poll=250):
    """Call ``then()`` once ``cond()`` holds (polling on the Qt event loop), else record a timeout."""
    start = time.monotonic()

    def tick():
        try:
            ok = cond()
        except Exception:
            ok = False
        if ok:
            report["steps"].append(f"{what} ({time.monotonic() - start:.1f} s)")
            try:
                then()
            except Exception:
                _fail(what)
                finish()
        elif time.monotonic() - start > timeout:
            report["errors"].append(f"timeout: {what} after {timeout} s")
            finish()
        else:
            QTimer.singleShot(poll, tick)

    QTimer.singleShot(poll, tick)


def grab(path):
    iface.mainWindow().repaint()
    QgsApplication.processEvents()
    report.setdefault("screenshots", {})[os.path.basename(path)] = bool(iface.mainWindow().grab().save(path, "PNG"))


def finish(code=0):
    _write()
    try:
        QgsSettings().sync()
    except Exception:
        pass
    if cfg["phase"] == 1 and not report["errors"]:
        # QGIS quits as a user quits it (the project is saved: no question)
        report["dirty_before_exit"] = QgsProject.instance().isDirty()
        QTimer.singleShot(100, iface.actionExit().trigger)
        QTimer.singleShot(20000, _stuck)
    else:
        os._exit(code)


def _stuck():
    """QGIS did not quit: record what holds it (a modal dialog?), then leave."""
    from qgis.PyQt.QtWidgets import QApplication

    modal = QApplication.activeModalWidget()
    report["quit_blocked_by"] = {
        "modal": f"{type(modal).__name__}: {modal.windowTitle()}" if modal is not None else None,
        "windows": [f"{type(w).__name__}: {w.windowTitle()}" for w in QApplication.topLevelWidgets() if w.isVisible()],
        "texts": [lbl.text()[:300] for lbl in (modal.findChildren(__import__("qgis.PyQt.QtWidgets", fromlist=["QLabel"]).QLabel)
                                            if modal is not None else [])]}
    _write()
    os._exit(4)


def plugin():
    return plugins.get(PKG)


def size_window():
    """The Xvfb screen has no window manager (no maximise): fill the 1600x1000 screen."""
    w = iface.mainWindow()
    w.showNormal()
    w.setGeometry(0, 0, 1600, 1000)


# -- phase 1 ------------------------------------------------------------------------------------
def p1_loaded():
    p = plugin()
    report["plugin_class"] = type(p).__name__
    report["inert_details"] = getattr(p, "details", None)
    prov = QgsApplication.processingRegistry().providerById("surveytools")
    report["algorithms"] = sorted(a.id() for a in prov.algorithms()) if prov else []
    report["panel"] = getattr(p, "project_dock", None) is not None
    size_window()
    wait_for(lambda: _install_button() is not None, p1_click_install, 120, "install button offered")


def _install_button():
    for b in iface.mainWindow().findChildren(QPushButton, "surveytoolsInstallDeps"):
        if b.isVisible():
            return b
    return None


def p1_click_install():
    report["deps_offer"] = plugin().deps.last_message
    report["deps_before"] = plugin().deps.last_report
    _install_button().click()
    report["install_started"] = time.time()
    wait_for(lambda: plugin().deps.task is None and plugin().deps.last_report is not None
             and time.time() - report["install_started"] > 1, p1_installed, 900, "install finished")


def p1_installed():
    from surveytools_plugin import deps

    report["install_seconds"] = round(time.time() - report["install_started"], 1)
    report["deps_report"] = plugin().deps.last_report
    report["deps_outcome"] = plugin().deps.last_message
    report["deps_path"] = deps.deps_path()
    report["deps_on_qgis_path"] = any(os.path.abspath(p) == os.path.abspath(deps.deps_path()) for p in sys.path)
    p1_open()


def p1_open():
    p = plugin()
    dock = getattr(p, "project_dock", None)
    if dock is not None:
        try:
            p.show_panel()
            lp = dock.open_gpkg(cfg["project"])
            report["panel_layers"] = len(lp.layer_ids) if lp else 0
            report["panel_title"] = dock.title_label.text()
        except Exception:
            _fail("open in the panel")
    if not report.get("panel_layers"):
        # without the panel the harness still writes a .qgz with QGIS's own API (checks below)
        for table in ("unit_grids", "communities", "components_point"):
            iface.addVectorLayer(f"{cfg['project']}|layername={table}", table, "ogr")
        report["fallback_layers"] = True
    try:
        p.show_toolbox()
    except Exception:
        _fail("show toolbox")
    QTimer.singleShot(1500, p1_zoom)


def p1_zoom():
    try:
        grids = [lyr for lyr in QgsProject.instance().mapLayers().values() if "unit_grids" in lyr.source()]
        if grids:
            ext = grids[0].extent()
            ext.scale(0.3)
            iface.mapCanvas().setExtent(ext)
            iface.mapCanvas().refresh()
    except Exception:
        _fail("zoom")
    QTimer.singleShot(4000, p1_save)


def p1_save():
    grab(cfg["png"])
    prj = QgsProject.instance()
    report["saved"] = bool(prj.write(cfg["qgz"]))
    report["layer_count"] = len(prj.mapLayers())
    report["steps"].append("saved")
    finish()


# -- phase 2 ------------------------------------------------------------------------------------
def p2_opened():
    size_window()
    prj = QgsProject.instance()
    report["project_file"] = prj.fileName()
    report["layer_count"] = len(prj.mapLayers())
    report["invalid_layers"] = [lyr.name() for lyr in prj.mapLayers().values() if not lyr.isValid()]
    QTimer.singleShot(3000, p2_panel)


def p2_panel():
    p = plugin()
    report["plugin_class"] = type(p).__name__
    dock = getattr(p, "project_dock", None)
    report["panel"] = dock is not None
    if dock is not None:
        try:
            report["panel_project"] = dock.project is not None
            report["panel_title"] = dock.title_label.text()
            report["enabled_steps"] = [k for k, b in dock.step_buttons.items() if b.isEnabled()]
        except Exception:
            _fail("panel state")
    p2_add_component()


def p2_add_component():
    lyr = next((x for x in QgsProject.instance().mapLayers().values()
                if "layername=components_point" in x.source()), None)
    report["component_layer"] = lyr.name() if lyr else None
    if lyr is None:
        finish()
        return
    fields = cfg["fields"]
    idx = lyr.fields().indexOf(fields["class_code"])
    geom = QgsGeometry.fromWkt(cfg["point_wkt"])
    feat = QgsVectorLayerUtils.createFeature(lyr, geom, {idx: cfg["class_code"]}, lyr.createExpressionContext())
    report["created"] = {role: _value(feat[name]) for role, name in fields.items()}
    lyr.startEditing()
    report["added"] = bool(lyr.addFeature(feat))
    got = lyr.getFeature(feat.id())
    report["new_feature"] = {role: _value(got[name]) for role, name in fields.items()}
    try:
        lyr.selectByIds([feat.id()])
        canvas = iface.mapCanvas()
        canvas.setCenter(geom.asPoint())
        canvas.zoomScale(3000)
        canvas.refresh()
    except Exception:
        _fail("zoom to the new component")
    try:  # the new component's form, as the user sees it after adding the point
        dlg = iface.getFeatureForm(lyr, got)
        dlg.setGeometry(330, 120, 560, 760)
        dlg.show()
        report["_form"] = dlg
    except Exception:
        _fail("open the form")
    QTimer.singleShot(4000, lambda: p2_done(lyr))


def p2_done(lyr):
    dlg = report.pop("_form", None)
    if dlg is not None:  # the whole X screen: the main window and the form above it
        QgsApplication.processEvents()
        shot = QgsApplication.primaryScreen().grabWindow(0)
        report.setdefault("screenshots", {})[os.path.basename(cfg["png"])] = bool(shot.save(cfg["png"], "PNG"))
        dlg.close()
    else:
        grab(cfg["png"])
    lyr.rollBack()  # the project is left as it was
    finish()


def _value(v):
    if v is None:
        return None
    try:
        if v.isNull():
            return None
    except AttributeError:
        pass
    return str(v)


QTimer.singleShot(60000 * 20, lambda: (report["errors"].append("timeout inside QGIS"), _write(), os._exit(3)))
if cfg["phase"] == 1:
    wait_for(lambda: plugin() is not None, p1_loaded, 120, "plugin loaded")
else:
    wait_for(lambda: QgsProject.instance().fileName() and len(QgsProject.instance().mapLayers()) > 0
             and plugin() is not None, p2_opened, 120, "project opened")
