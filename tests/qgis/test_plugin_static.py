"""QGIS 4 readiness and the dependency check: scoped enums only, qgis.PyQt only (see
test_processing_provider.py), every library dependency known to the installer."""
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


def test_the_installer_knows_every_library_dependency():
    import tomllib

    from qgis_plugin import deps

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = {re.split(r"[<>=!~\[ ]", d, 1)[0].lower() for d in pyproject["project"]["dependencies"]}
    known = {re.split(r"[<>=!~\[ ]", r, 1)[0].lower() for r in [*deps.REQUIREMENTS.values(), *deps.OPTIONAL.values()]}
    assert names <= known, names - known


def test_dependency_check_runs_in_the_child_interpreter(qgis_app, monkeypatch, tmp_path):
    from qgis.core import QgsSettings

    from qgis_plugin import algorithm, deps

    monkeypatch.setenv("SURVEYTOOLS_PYTHON", sys.executable)
    res = deps.check(["yaml", "surely_not_a_module_xyz"])
    assert res["yaml"] is None and "ModuleNotFoundError" in res["surely_not_a_module_xyz"]
    full = deps.check()
    assert deps.missing(full) == [], full
    # the folder the one-click install writes to reaches the child processes
    folder = tmp_path / "deps"
    (folder / "stfake_dep").mkdir(parents=True)
    (folder / "stfake_dep" / "__init__.py").write_text("", encoding="utf-8")
    settings = QgsSettings()
    try:
        settings.setValue(deps.SETTINGS_KEY, str(folder))
        assert deps.extra_paths() == [str(folder)] == algorithm._deps_paths()
        assert deps.check(["stfake_dep"]) == {"stfake_dep": None}
        cmd = deps.install_command(["rapidfuzz>=3.0"])
        assert cmd[1:4] == ["-m", "pip", "install"] and cmd[cmd.index("--target") + 1] == str(folder)
    finally:
        settings.remove(deps.SETTINGS_KEY)
    assert deps.deps_path().endswith("surveytools-deps")
    bad = deps.check(["yaml"], python=str(tmp_path / "no-python"))
    assert "__python__" in bad and deps.missing(bad) == list(deps.REQUIREMENTS.values())
