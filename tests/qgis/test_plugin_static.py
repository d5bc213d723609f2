"""QGIS 4 readiness and the dependency settings: scoped enums only, qgis.PyQt only (see
test_processing_provider.py); the installer's settings reach the child (the installer itself:
tests/test_plugin_deps.py)."""
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "qgis_plugin"

#: classes whose enum members QGIS 4 / Qt6 only accept scoped (``Qt.AlignmentFlag.AlignLeft``)
ENUM_OWNERS = ("Qt", "QgsWkbTypes", "QgsMapLayer", "QgsFieldConstraints", "QgsProcessing", "QgsVectorFileWriter",
               "QMessageBox", "QDialogButtonBox", "QAbstractItemView", "QSizePolicy", "QHeaderView", "QFrame",
               "QgsAttributeEditorContext", "QgsEditFormConfig", "QgsPalLayerSettings", "QgsTask", "QgsUnitTypes",
               "QgsFeatureRequest", "QgsSimpleMarkerSymbolLayerBase", "QgsProcessingParameterNumber",
               "QgsProcessingParameterFile", "QgsProcessingParameterDefinition", "QgsCoordinateReferenceSystem",
               "QgsProjectionSelectionWidget", "QDockWidget", "QFont", "QComboBox")
#: ``Owner.Member`` that are not enum members (classes, functions, constants)
ALLOWED = {"Qt.ItemDataRole", "QgsProcessing.TEMPORARY_OUTPUT", "QMessageBox.StandardButton"}
ACCESS = re.compile(r"\b(" + "|".join(ENUM_OWNERS) + r")\.([A-Z][A-Za-z0-9_]*)\b(?!\s*[.(])")
STRING = re.compile(r"(\"[^\"\n]*\"|'[^'\n]*')")


def _code_lines(text: str) -> list:
    """The source with strings (docstrings included) and comments blanked, line by line."""
    import io
    import tokenize

    lines = text.splitlines()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError):
        return [STRING.sub('""', ln.split("#", 1)[0]) for ln in lines]
    for tok in reversed(toks):
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            (r0, c0), (r1, c1) = tok.start, tok.end
            if r0 == r1:
                ln = lines[r0 - 1]
                lines[r0 - 1] = ln[:c0] + '""' + ln[c1:]
            else:
                lines[r0 - 1] = lines[r0 - 1][:c0] + '""'
                for r in range(r0, r1 - 1):
                    lines[r] = ""
                lines[r1 - 1] = lines[r1 - 1][c1:]
    return lines


def unscoped_enum_uses(text: str) -> list:
    out = []
    for no, code in enumerate(_code_lines(text), 1):
        for m in ACCESS.finditer(code):
            if f"{m.group(1)}.{m.group(2)}" not in ALLOWED:
                out.append((no, m.group(0)))
    return out


def test_the_check_finds_unscoped_enums():
    assert unscoped_enum_uses("x = Qt.AlignLeft\ny = QgsWkbTypes.PointGeometry") == [
        (1, "Qt.AlignLeft"), (2, "QgsWkbTypes.PointGeometry")]
    assert unscoped_enum_uses("Qt.AlignmentFlag.AlignLeft; QgsWkbTypes.GeometryType.PointGeometry") == []
    assert unscoped_enum_uses('enum_value("QgsWkbTypes.PointGeometry")  # Qt.AlignLeft') == []


def test_plugin_uses_scoped_enums_only():
    bad = []
    for path in sorted(PLUGIN.rglob("*.py")):
        for no, use in unscoped_enum_uses(path.read_text(encoding="utf-8")):
            bad.append(f"{path.relative_to(ROOT)}:{no}: {use}")
    assert not bad, "use scoped enums (Qt.AlignmentFlag.AlignLeft) or compat.enum_value():\n" + "\n".join(bad)


def test_dependency_settings_reach_the_child(qgis_app, monkeypatch, tmp_path):
    """QgsSettings surveytools/deps_path and surveytools/python decide the folder and the
    interpreter of every child (check, install, algorithms); $SURVEYTOOLS_PYTHON wins."""
    from qgis.core import QgsSettings

    from qgis_plugin import algorithm, deps
    from surveytools import runner

    folder = tmp_path / "deps"
    (folder / "stfake_dep").mkdir(parents=True)
    (folder / "stfake_dep" / "__init__.py").write_text("", encoding="utf-8")
    settings = QgsSettings()
    monkeypatch.delenv("SURVEYTOOLS_PYTHON", raising=False)
    try:
        settings.setValue(deps.SETTINGS_KEY, str(folder))
        settings.setValue(deps.PYTHON_KEY, sys.executable)
        assert deps.extra_paths() == [str(folder)] == algorithm._deps_paths()
        assert deps.python_executable() == sys.executable == runner.python_executable()
        env = deps.child_env()
        assert env["PYTHONPATH"].split(os.pathsep)[1] == str(folder)
        rep = deps.check(quick=True)
        assert rep["ok"] and rep["python"] == sys.executable and rep["probes"] == [], deps.describe(rep)
        monkeypatch.setenv("SURVEYTOOLS_PYTHON", str(tmp_path / "no-python"))
        bad = deps.check()
        assert bad["ok"] is False and "no-python" in bad["python_error"]
        assert "pandas" in deps.missing(bad) and "no-python" in deps.describe(bad)["zh"]
    finally:
        settings.remove(deps.SETTINGS_KEY)
        settings.remove(deps.PYTHON_KEY)
        deps.configure_runner()
    assert runner.configured_python is None
    assert deps.deps_path() == os.path.join(qgis_app.qgisSettingsDirPath(), "python", "surveytools-deps")


def test_install_button_reports_a_failed_install(qgis_iface, monkeypatch, tmp_path):
    """The install task (pip in a child) ends with a message, and the folder is left alone."""
    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication

    from qgis_plugin import deps
    from qgis_plugin.deps_ui import DependencyManager

    monkeypatch.setenv("SURVEYTOOLS_PYTHON", sys.executable)
    empty = tmp_path / "wheels"
    empty.mkdir()
    settings = QgsSettings()
    settings.setValue(deps.SETTINGS_KEY, str(tmp_path / "deps"))
    settings.setValue(deps.WHEELS_KEY, str(empty))
    messages = []
    monkeypatch.setattr(qgis_iface.messageBar(), "pushMessage", lambda *a: messages.append(a), raising=False)
    try:
        mgr = DependencyManager(qgis_iface)
        task = mgr.install()
        import time

        t0 = time.time()
        while mgr.task is not None and time.time() - t0 < 120:
            QCoreApplication.processEvents()
            time.sleep(0.05)
        assert mgr.task is None, "the install task did not finish"
    finally:
        settings.remove(deps.SETTINGS_KEY)
        settings.remove(deps.WHEELS_KEY)
    assert task is not None and not (tmp_path / "deps").exists()
    assert messages and "pip" in messages[-1][1], messages
