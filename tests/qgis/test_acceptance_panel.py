"""The panel's acceptance group: plan, record and report open the Processing dialogs with the
project (and the output folders) filled in; run as the dialog runs them, they sample, write the
checklist and the check package, read the package back after a check made in QGIS, and grade."""
from pathlib import Path

from plugin_support import copy_project, sql


def test_acceptance_buttons_run_plan_record_and_report(provider, qgis_iface, editors, clean_qgs, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback, QgsVectorLayer

    from qgis_plugin.panel import ACCEPTANCE_STEPS, ProjectDock

    p = copy_project(tmp_path)
    dock = ProjectDock(qgis_iface)
    dock.open_gpkg(str(p))
    dock.confirm = lambda *a: True
    buttons = {s: dock.step_buttons[s] for s in ACCEPTANCE_STEPS}
    assert all(b.isEnabled() for b in buttons.values())
    assert buttons["acceptance_plan"].parent().title() in ("Acceptance", "验收")
    ids = {a.id() for a in provider.algorithms()}
    assert {alg for alg, _ in ACCEPTANCE_STEPS.values()} <= ids
    calls, extra = [], {}

    def dialog(alg_id, params):  # what the dialog does when the user fills the rest and presses Run
        calls.append((alg_id, dict(params)))
        return processing.run(alg_id, dict(params, **extra), feedback=QgsProcessingFeedback())

    dock.exec_dialog = dialog
    extra.update(RATE=0.03, SEED=9, QGZ=False, CHECKER="赵六")
    res = dock.run_step("acceptance_plan")
    alg, params = calls[-1]
    stem = str(p)[:-5] + "_acceptance"
    assert alg == "surveytools:acceptance_plan" and params == {"PROJECT": dock.project.sp.path, "OUT": stem}
    folder = Path(stem) / "check"
    assert res and (Path(stem) / "checklist.xlsx").is_file() and (folder / "survey.gpkg").is_file()
    assert sql(p, "SELECT count(*) FROM acceptance_sample")[0][0] > 0
    # the checker's results, edited in QGIS on the package
    pkg = QgsVectorLayer(f"{folder / 'survey.gpkg'}|layername=components_point", "check", "ogr")
    fids = sorted(f.id() for f in pkg.getFeatures())[:3]
    i = pkg.fields().indexOf("check_result")
    assert pkg.startEditing()
    for fid, r in zip(fids, ("正确", "正确", "属性错误")):
        assert pkg.changeAttributeValue(fid, i, r)
    assert pkg.commitChanges(), pkg.commitErrors()
    del pkg
    extra.clear()
    extra.update(CHECKS=str(folder / "manifest.json"))  # the dialog's file picker picks a file of the folder
    buttons["acceptance_record"].click()
    assert calls[-1] == ("surveytools:acceptance_record", {"PROJECT": dock.project.sp.path})
    assert sql(p, "SELECT result, count(*) FROM acceptance_checks GROUP BY result ORDER BY result") == [
        ("属性错误", 1), ("正确", 2)]
    extra.clear()
    buttons["acceptance_report"].click()
    alg, params = calls[-1]
    assert alg == "surveytools:acceptance_report" and params["OUT"] == str(Path(stem) / "report")
    assert (Path(stem) / "report" / "report.html").is_file()
