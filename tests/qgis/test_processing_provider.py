"""The QGIS face: the Processing provider wraps every library operation, and the plugin loads.

The ``selftest`` operations below are registered only for these tests; they exercise every
parameter kind, cancellation and internal errors without depending on the library's domain code.
"""
import configparser
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "qgis_plugin"
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")


# --------------------------------------------------------------------------------------------
# static checks (no QGIS needed)
# --------------------------------------------------------------------------------------------
def test_plugin_imports_only_qgis_pyqt():
    bad = []
    for path in PLUGIN_DIR.rglob("*.py"):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"\s*(from|import)\s+PyQt[56]\b", line) or re.search(r"\bsip\b.*import|import\s+sip\b", line):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not bad, "use qgis.PyQt, never PyQt5/PyQt6/sip directly:\n" + "\n".join(bad)


def test_metadata_has_mandatory_and_recommended_keys():
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(ROOT / "metadata.txt", encoding="utf-8")
    meta = cp["general"]
    for key in ("name", "qgisMinimumVersion", "qgisMaximumVersion", "description", "about", "version",
                "author", "email", "repository", "tracker", "homepage", "tags", "category", "icon",
                "experimental", "hasProcessingProvider", "supportsQt6", "changelog"):
        assert meta.get(key, "").strip(), f"metadata.txt: {key} missing or empty"
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta["supportsQt6"] == "True"
    assert HAN.search(meta["description"]) and LATIN_WORD.search(meta["description"])
    assert HAN.search(meta["about"]) and LATIN_WORD.search(meta["about"])
    assert (PLUGIN_DIR / meta["icon"]).is_file()
    from surveytools import __version__
    assert meta["version"] == __version__


# --------------------------------------------------------------------------------------------
# test operations
# --------------------------------------------------------------------------------------------
@pytest.fixture
def selftest_ops(provider, monkeypatch):
    """Register the ``selftest`` operations here and in the child processes, reload the provider,
    remove them afterwards."""
    import importlib
    import os
    import sys

    from surveytools import ops

    here = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("SURVEYTOOLS_EXTRA_OPS", "selftest_ops")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(here)
    importlib.import_module("selftest_ops")
    provider.refreshAlgorithms()
    yield {}
    for name in ("selftest_echo", "selftest_loop", "selftest_boom"):
        ops.REGISTRY.pop(name, None)
    ops.GROUPS.pop("selftest", None)
    sys.modules.pop("selftest_ops", None)


def _run(alg_id, params, feedback=None):
    import processing
    from qgis.core import QgsProcessingFeedback

    return processing.run(alg_id, params, feedback=feedback or QgsProcessingFeedback())


# --------------------------------------------------------------------------------------------
# (1) one algorithm per operation, same parameter names as the CLI
# --------------------------------------------------------------------------------------------
def test_provider_lists_one_algorithm_per_operation(provider, selftest_ops):
    from qgis.core import QgsApplication

    from surveytools import cli, ops

    algs = {a.id(): a for a in provider.algorithms()}
    assert set(algs) == {f"surveytools:{op.id}" for op in ops.REGISTRY.values()}
    for op in ops.REGISTRY.values():
        alg = QgsApplication.processingRegistry().algorithmById(f"surveytools:{op.id}")
        assert alg is not None
        names = [d.name() for d in alg.parameterDefinitions()]
        cli_names = [p.name.upper() for p in cli._make_command(op).params if p.name not in ("as_json", "quiet")]
        assert names == cli_names == [p.name.upper() for p in op.params]
        assert alg.displayName() and alg.group() and alg.shortHelpString()
        assert HAN.search(alg.shortHelpString()) and LATIN_WORD.search(alg.shortHelpString())


def test_numeric_parameters_carry_the_registry_range(provider):
    from qgis.core import QgsApplication

    from surveytools import ops

    for op in ops.REGISTRY.values():
        alg = QgsApplication.processingRegistry().algorithmById(f"surveytools:{op.id}")
        for p in op.params:
            if p.kind in ("int", "float"):
                d = alg.parameterDefinition(p.qgis_name)
                assert (d.minimum(), d.maximum()) == (p.minimum, p.maximum), f"{op.id}.{p.name}"
    merge = QgsApplication.processingRegistry().algorithmById("surveytools:components_merge")
    assert not merge.parameterDefinition("TOLERANCE").checkValueIsAcceptable(-5)


def test_all_operation_modules_load(provider):
    assert provider.load_errors == [], f"operation modules failed to import: {provider.load_errors}"


def test_display_name_follows_qgis_locale(provider, selftest_ops):
    from qgis.core import QgsApplication, QgsSettings

    alg = QgsApplication.processingRegistry().algorithmById("surveytools:selftest_echo")
    settings = QgsSettings()
    old = settings.value("locale/userLocale", "")
    try:
        settings.setValue("locale/userLocale", "zh_CN")
        assert alg.displayName() == "回显参数" and alg.group() == "自测"
        settings.setValue("locale/userLocale", "en_US")
        assert alg.displayName() == "Echo the parameters" and alg.group() == "Self test"
    finally:
        settings.setValue("locale/userLocale", old)


# --------------------------------------------------------------------------------------------
# parameter mapping
# --------------------------------------------------------------------------------------------
def _memory_layer():
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    layer = QgsVectorLayer("Point?crs=EPSG:4490&field=name:string", "临时 points", "memory")
    f = QgsFeature(layer.fields())
    f.setAttribute("name", "井盖")
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(117.2, 28.3)))
    layer.dataProvider().addFeatures([f])
    return layer


def test_parameter_values_reach_the_library_as_the_cli_would_pass_them(provider, selftest_ops, tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem

    out = tmp_path / "echo.json"
    layer = _memory_layer()
    res = _run("surveytools:selftest_echo", {
        "LAYER": layer, "COUNT": 7, "RATIO": 2.5, "FLAG": True, "MODE": "beta", "NAME": "x",
        "CRS": QgsCoordinateReferenceSystem("EPSG:4547"), "TAGS": "a\nb\n", "OUT": str(out)})
    kw = json.loads(out.read_text(encoding="utf-8"))
    assert kw["count"] == 7 and isinstance(kw["count"], int)
    assert kw["ratio"] == 2.5 and kw["flag"] is True
    assert kw["mode"] == "beta"  # the string, not the index
    assert kw["name"] == "x" and kw["crs"] == "EPSG:4547" and kw["tags"] == ["a", "b"]
    path, _, lname = kw["layer"].rpartition(":")
    assert path.endswith(".gpkg") and Path(path).is_file() and lname  # memory layer → temp GPKG
    assert res["OUT"] == str(out)
    summary = json.loads(res["RESULT"])
    assert summary["ok"] is True and summary["n"] == 1 and summary["outputs"] == {"OUT": str(out)}
    del layer


def test_unset_optional_parameters_get_the_cli_defaults(provider, selftest_ops, tmp_path):
    out = tmp_path / "echo.json"
    _run("surveytools:selftest_echo", {"LAYER": _memory_layer(), "OUT": str(out)})
    kw = json.loads(out.read_text(encoding="utf-8"))
    assert kw["count"] == 3 and kw["ratio"] == 0.5 and kw["flag"] is False and kw["mode"] == "alpha"
    assert kw["name"] is None and kw["crs"] is None and kw["tags"] == []


def test_file_layers_are_passed_as_path_and_layer(qgis_app, tmp_path):
    from qgis.core import QgsProcessingContext, QgsVectorFileWriter, QgsVectorLayer

    from qgis_plugin.algorithm import layer_to_path

    mem = _memory_layer()
    gpkg = str(tmp_path / "data.gpkg")
    opts = QgsVectorFileWriter.SaveVectorOptions()
    opts.driverName, opts.layerName = "GPKG", "parts"
    ctx = QgsProcessingContext()
    assert QgsVectorFileWriter.writeAsVectorFormatV3(mem, gpkg, ctx.transformContext(), opts)[0] == 0
    opts.layerName = "other"
    opts.actionOnExistingFile = QgsVectorFileWriter.CreateOrOverwriteLayer
    assert QgsVectorFileWriter.writeAsVectorFormatV3(mem, gpkg, ctx.transformContext(), opts)[0] == 0
    layer = QgsVectorLayer(f"{gpkg}|layername=other", "other", "ogr")
    assert layer.isValid()
    assert layer_to_path(layer, ctx) == f"{gpkg}:other"
    shp = str(tmp_path / "pts.shp")
    opts2 = QgsVectorFileWriter.SaveVectorOptions()
    opts2.driverName = "ESRI Shapefile"
    QgsVectorFileWriter.writeAsVectorFormatV3(mem, shp, ctx.transformContext(), opts2)
    shp_layer = QgsVectorLayer(shp, "pts", "ogr")
    assert layer_to_path(shp_layer, ctx) == shp
    # a filtered layer is exported, so the library sees what the user sees
    layer.setSubsetString("\"name\" = 'none'")
    exported = layer_to_path(layer, ctx)
    assert exported != f"{gpkg}:other" and ".gpkg:" in exported
    del layer, shp_layer, mem


# --------------------------------------------------------------------------------------------
# (2) and (3) project init through processing.run
# --------------------------------------------------------------------------------------------
def _project_init():
    from qgis_plugin.provider import load_operations

    registry, errors = load_operations()
    assert "project_init" in registry, (
        "operation 'project init' (surveytools/project.py) is not registered; "
        f"registered: {sorted(registry)}; import errors: {errors}")
    return registry["project_init"]


def test_project_init_writes_a_valid_project(provider, tmp_path):
    from qgis.core import QgsVectorLayer

    op = _project_init()
    profile = next(p for p in op.params if p.name == "profile")
    target = tmp_path / "贵溪 project.gpkg"
    res = _run("surveytools:project_init", {
        "PROJECT": str(target), "PROFILE": profile.default or profile.choices[0], "COUNTY": "360681",
        "CRS": "EPSG:4547", "OVERWRITE": False})
    assert Path(res["PROJECT"]) == target and target.is_file()
    from osgeo import ogr
    ds = ogr.Open(str(target))
    names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
    ds = None
    assert names, "project.gpkg has no layers"
    spatial = 0
    for name in names:
        layer = QgsVectorLayer(f"{target}|layername={name}", name, "ogr")
        assert layer.isValid(), name
        if layer.isSpatial():
            spatial += 1
            assert layer.crs().authid() == "EPSG:4547", (name, layer.crs().authid())
        del layer
    assert spatial, "project.gpkg has no spatial layer"


def test_bad_county_raises_bilingual_processing_exception(provider, tmp_path):
    from qgis.core import QgsProcessingException

    op = _project_init()
    profile = next(p for p in op.params if p.name == "profile")
    target = tmp_path / "bad.gpkg"
    with pytest.raises(QgsProcessingException) as exc:
        _run("surveytools:project_init", {"PROJECT": str(target),
                                          "PROFILE": profile.default or profile.choices[0],
                                          "COUNTY": "12AB", "OVERWRITE": False})
    msg = str(exc.value)
    assert HAN.search(msg) and LATIN_WORD.search(msg), msg
    assert "Traceback" not in msg
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# errors and cancellation
# --------------------------------------------------------------------------------------------
def test_survey_error_becomes_processing_exception(provider, selftest_ops, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as exc:
        _run("surveytools:selftest_echo", {"LAYER": _memory_layer(), "NAME": "bad",
                                           "OUT": str(tmp_path / "x.json")})
    msg = str(exc.value)
    assert "名称不合法" in msg and "invalid name" in msg
    assert not (tmp_path / "x.json").exists()


def test_internal_error_is_bilingual_without_traceback(provider, selftest_ops, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as exc:
        _run("surveytools:selftest_boom", {"OUT": str(tmp_path / "x.txt")})
    msg = str(exc.value)
    assert "内部错误" in msg and "Internal error" in msg and "something internal broke" in msg
    assert "Traceback" not in msg


def test_cancel_stops_the_operation_and_writes_nothing(provider, selftest_ops, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p >= 30 else None)
    out = tmp_path / "loop.txt"
    with pytest.raises(QgsProcessingException) as exc:
        _run("surveytools:selftest_loop", {"OUT": str(out), "STEPS": 100}, feedback)
    assert "取消" in str(exc.value) and "cancelled" in str(exc.value)
    step = int((tmp_path / "loop.txt.step").read_text())
    assert 30 <= step < 60, step  # the child stopped soon after the cancel
    assert not out.exists()


def test_library_warnings_and_info_reach_the_processing_log(qgis_app):
    from qgis.core import QgsProcessingFeedback

    from qgis_plugin.algorithm import ProcessingFeedbackAdapter
    from surveytools.i18n import Text

    fb = QgsProcessingFeedback()
    progress = []
    fb.progressChanged.connect(progress.append)
    adapter = ProcessingFeedbackAdapter(fb)
    adapter.info(Text("信息", "info"))
    adapter.warning(Text("警告", "warn"))
    adapter.step(50, 100).progress(50)
    assert progress == [75.0]
    assert adapter.warnings == [Text("警告", "warn")]
    assert "警告" in fb.textLog() and "info" in fb.textLog()


# --------------------------------------------------------------------------------------------
# (5) the plugin object
# --------------------------------------------------------------------------------------------
def test_class_factory_init_gui_and_unload(qgis_iface, qgis_processing):
    from qgis.core import QgsApplication

    import qgis_plugin
    from qgis_plugin.plugin import SurveyToolsPlugin
    from surveytools import ops

    registry = QgsApplication.processingRegistry()
    plugin = qgis_plugin.classFactory(qgis_iface)
    assert isinstance(plugin, SurveyToolsPlugin)
    try:
        plugin.initProcessing()
        plugin.initGui()
        prov = registry.providerById("surveytools")
        assert prov is plugin.provider
        assert {a.name() for a in prov.algorithms()} == set(ops.REGISTRY)
        assert not prov.icon().isNull()
        assert plugin.actions
        plugin.show_toolbox()  # no Processing toolbox under the test iface: a message, no error
    finally:
        plugin.unload()
    assert registry.providerById("surveytools") is None
    assert not plugin.actions


def test_class_factory_without_iface_registers_processing_only(qgis_processing):
    """``qgis_process`` calls classFactory(None) and initProcessing()."""
    from qgis.core import QgsApplication

    import qgis_plugin

    registry = QgsApplication.processingRegistry()
    plugin = qgis_plugin.classFactory(None)
    try:
        plugin.initProcessing()
        plugin.initGui()
        assert registry.providerById("surveytools") is not None
    finally:
        plugin.unload()
    assert registry.providerById("surveytools") is None


def test_second_plugin_copy_never_removes_the_registered_provider(provider):
    """Loading the plugin while a provider with the same id exists must not remove that one."""
    from qgis.core import QgsApplication

    import qgis_plugin

    plugin = qgis_plugin.classFactory(None)
    plugin.initProcessing()
    assert plugin.provider is None
    plugin.unload()
    assert QgsApplication.processingRegistry().providerById("surveytools") is provider


def test_broken_import_gives_an_inert_plugin(qgis_iface, monkeypatch):
    from qgis.core import Qgis

    import qgis_plugin

    monkeypatch.setitem(__import__("sys").modules, "qgis_plugin.plugin", None)  # import fails
    plugin = qgis_plugin.classFactory(qgis_iface)
    assert isinstance(plugin, qgis_plugin.InertPlugin)
    qgis_iface.messageBar().clear_messages()
    plugin.initProcessing()
    plugin.initGui()
    messages = qgis_iface.messageBar().get_messages(Qgis.Critical)
    assert any("SurveyTools" in m for m in messages), messages
    plugin.unload()


def test_translation_compiles_and_translates(qgis_app, tmp_path):
    import shutil
    import subprocess

    from qgis.PyQt.QtCore import QCoreApplication, QTranslator

    from qgis_plugin.compat import tr

    lrelease = shutil.which("lrelease") or shutil.which("lrelease-qt5")
    if lrelease is None:
        pytest.skip("lrelease not installed")
    qm = tmp_path / "surveytools_zh_CN.qm"
    subprocess.run([lrelease, "-silent", str(PLUGIN_DIR / "i18n" / "surveytools_zh_CN.ts"), "-qm", str(qm)],
                   check=True)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    try:
        assert tr("SurveyTools (digital urban management)") == "数字城管基础数据 SurveyTools"
    finally:
        QCoreApplication.removeTranslator(translator)
    # every tr("…") string in the plugin has a translation
    ts = (PLUGIN_DIR / "i18n" / "surveytools_zh_CN.ts").read_text(encoding="utf-8")
    sources = set()
    for path in PLUGIN_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        sources |= set(re.findall(r'\btr\("([^"]+)"\)', text))
        sources |= set(re.findall(r'translate\(\s*"SurveyTools",\s*"([^"]+)"', text))
    sources.add("&SurveyTools")  # SurveyToolsPlugin.MENU
    missing = [s for s in sources if f"<source>{s.replace('&', '&amp;')}</source>" not in ts]
    assert not missing, missing


# --------------------------------------------------------------------------------------------
# the real host: qgis_process loads the plugin from a plugin folder and runs project init
# --------------------------------------------------------------------------------------------
QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the Debian wrapper /usr/bin/qgis_process is broken


def _plugin_folder(tmp_path: Path) -> Path:
    """A plugin folder as the packaged ZIP lays it out: qgis_plugin/* plus metadata.txt."""
    folder = tmp_path / "plugins" / "surveytools_plugin"
    folder.mkdir(parents=True)
    for item in PLUGIN_DIR.iterdir():
        if item.name != "__pycache__":
            (folder / item.name).symlink_to(item)
    (folder / "metadata.txt").write_bytes((ROOT / "metadata.txt").read_bytes())
    return folder


@pytest.mark.skipif(not Path(QGIS_PROCESS).exists(), reason="qgis_process.bin not installed")
def test_qgis_process_runs_project_init(tmp_path):
    """The real host.  qgis_process.bin links Debian's GDAL 3.6 and PROJ 9.1; the wheels bundle
    others, and both in one process crash.  The plugin therefore never imports them: it runs the
    operation in a child Python (surveytools.runner), here the test's interpreter."""
    import os
    import site
    import subprocess
    import sys

    folder = _plugin_folder(tmp_path)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(folder.parent),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"),
               PYTHONPATH=os.pathsep.join([str(ROOT), *site.getsitepackages()]),
               XDG_RUNTIME_DIR=str(tmp_path / "runtime"), SURVEYTOOLS_PYTHON=sys.executable)
    (tmp_path / "runtime").mkdir(mode=0o700)
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", folder.name], env=env,
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0, enable.stdout[-2000:] + enable.stderr[-2000:]
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "surveytools:project_init" in listing.stdout, listing.stdout[-2000:] + listing.stderr[-2000:]
    target = tmp_path / "qp.gpkg"
    run = subprocess.run([QGIS_PROCESS, "run", "surveytools:project_init", "--json", f"--PROJECT={target}",
                          "--COUNTY=360681", "--CRS=EPSG:4547"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and target.is_file(), run.stdout[-2000:] + run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["results"]["PROJECT"] == str(target)
    assert json.loads(out["results"]["RESULT"])["ok"] is True
    assert sys.executable  # the test interpreter's packages were on PYTHONPATH
