"""Validation output that reads right: error layers styled from ``layer_styles`` (report-only rows
hidden), the results panel in Chinese (severity, status, rule titles), resizable columns, the full
text in tooltips, a reason for every false positive, the selection kept; zh-Hans loads zh_CN."""
import shutil
import subprocess
from pathlib import Path

import pytest
from plugin_support import sql

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "qgis_plugin"


@pytest.fixture
def chinese(qgis_app, tmp_path):
    """The QGIS locale zh-Hans (as QGIS writes it) with the plugin's translator installed."""
    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication

    lrelease = shutil.which("lrelease") or "/usr/lib/qt5/bin/lrelease"
    if not Path(lrelease).exists():
        pytest.skip("lrelease not installed")
    qm = PLUGIN_DIR / "i18n" / "surveytools_zh_CN.qm"
    subprocess.run([lrelease, "-silent", str(PLUGIN_DIR / "i18n" / "surveytools_zh_CN.ts"), "-qm", str(qm)],
                   check=True)
    settings = QgsSettings()
    old = settings.value("locale/userLocale", "")
    settings.setValue("locale/userLocale", "zh-Hans")
    from qgis_plugin.plugin import install_translator

    translator = install_translator()
    assert translator is not None  # zh-Hans is Simplified Chinese: the zh_CN translation loads
    yield
    QCoreApplication.removeTranslator(translator)
    settings.setValue("locale/userLocale", old)


@pytest.mark.parametrize("locale,zh", [("zh_CN", True), ("zh-Hans", True), ("zh_Hans_CN", True), ("zh-CN", True),
                                       ("zh", True), ("zh_TW", False), ("zh-Hant", False), ("zh_HK", False),
                                       ("en_US", False), ("", False)])
def test_simplified_chinese_locales(locale, zh):
    from qgis_plugin.compat import simplified_chinese, translation_locale

    assert simplified_chinese(locale) is zh
    assert (translation_locale(locale) == "zh_CN") is zh


def test_panel_in_chinese_with_rule_titles_tooltips_and_resizable_columns(chinese, results_dock):
    from qgis.PyQt.QtWidgets import QHeaderView

    from qgis_plugin.results import COLUMNS

    p, _, d = results_dock
    d.refresh()
    titles = dict(sql(p, "SELECT rule_id, title_zh FROM validation_steps"))
    sev, rule, status, msg = (COLUMNS.index(c) for c in ("severity", "rule_id", "status", "message"))
    seen_sev = {d.table.item(i, sev).text() for i in range(d.table.rowCount())}
    seen_status = {d.table.item(i, status).text() for i in range(d.table.rowCount())}
    assert seen_sev <= {"错误", "警告"} and "错误" in seen_sev
    assert seen_status <= {"未处理", "已接受（误报）", "已修复", "仅报告"} and "未处理" in seen_status
    r0 = d.visible_rows[0]
    assert d.table.item(0, rule).text() == f"{titles[r0['rule_id']]} ({r0['rule_id']})"
    # the whole message (Chinese and English) and the rule title in the tooltip
    tip = d.table.item(0, msg).toolTip()
    assert r0["message_zh"] in tip and r0["message_en"] in tip and titles[r0["rule_id"]] in tip
    # filters show the same words; filtering still works on the stored values
    assert d.severity_combo.findText("错误") > 0 and d.status_combo.findText("未处理") > 0
    d.set_filter(severity="error")
    assert {r["severity"] for r in d.visible_rows} == {"error"}
    header = d.table.horizontalHeader()
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.Interactive


def test_selection_is_kept_when_the_rows_are_read_again(results_dock):
    from qgis_plugin.results import row_key

    _, _, d = results_dock
    d.select(3)
    key = row_key(d.visible_rows[3])
    d.refresh()
    assert d.current_key() == key
    d.set_filter(rule=key[0])  # still there after filtering
    assert d.current_key() == key


def test_a_false_positive_needs_a_reason(results_dock):
    p, _, d = results_dock
    asked = []
    d.ask_reason = lambda r: asked.append(r["rule_id"]) or None  # the user cancels
    row = d.visible_rows[0]
    assert d.accept(row) is None and asked == [row["rule_id"]]
    assert row["status"] != "accepted"
    assert sql(p, "SELECT count(*) FROM sqlite_master WHERE name = 'validation_accepted'")[0][0] == 0
    answers = iter(["  ", "路灯已迁移，现场核实"])  # an empty reason is asked again
    d.ask_reason = lambda r: next(answers)
    d.accept(row)
    assert sql(p, "SELECT rule_id, feature_id, note FROM validation_accepted") == [
        (row["rule_id"], row["feature_id"], "路灯已迁移，现场核实")]


def test_error_layers_open_styled_by_severity_with_report_only_rows_hidden(provider, results_dock, tmp_path):
    import processing
    import yaml
    from qgis.core import QgsProcessingFeedback, QgsVectorLayer

    p, _, _ = results_dock
    scheme = tmp_path / "s.yaml"
    scheme.write_text(yaml.safe_dump({"id": "t", "steps": [{"rule": "codes.format"},
                                                           {"rule": "geometry.duplicate", "on_fail": "ignore"}]}),
                      encoding="utf-8")
    res = processing.run("surveytools:validate_run", {"PROJECT": str(p), "OUT": str(tmp_path / "qc"),
                                                      "SCHEME": str(scheme), "WRITE_PROJECT": False},
                         feedback=QgsProcessingFeedback())
    layer = QgsVectorLayer(res["ERRORS_POINT"], "e", "ogr")  # QGIS applies the default style by itself
    assert layer.isValid()
    renderer = layer.renderer()
    assert renderer.type() == "RuleRenderer"
    rules = {r.filterExpression(): r for r in renderer.rootRule().children()}
    assert rules["\"status\" = 'ignored'"].active() is False
    assert rules["\"status\" = 'open' AND \"severity\" = 'error'"].active() is True
    ignored = [f for f in layer.getFeatures() if f["status"] == "ignored"]
    assert ignored  # report-only rows are there, just not drawn


def test_component_labels_sit_beside_the_markers(qgis_app):
    from qgis.core import QgsPalLayerSettings, QgsVectorLayer

    from qgis_plugin.styles import _labels

    layer = QgsVectorLayer("Point?crs=EPSG:4548&field=ClassCode:string", "c", "memory")
    _labels(layer, '"ClassCode"', 2000, placement="OrderedPositionsAroundPoint")
    s = layer.labeling().settings()
    assert s.placement == QgsPalLayerSettings.Placement.OrderedPositionsAroundPoint and s.dist > 0
