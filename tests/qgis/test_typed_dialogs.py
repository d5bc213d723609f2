"""Typed dialogs: layer parameters filtered by geometry (never a table for a polygon parameter),
date widgets, schemes as a choice of the known schemes or a file, release targets as a file or a
saved PostgreSQL connection -- all from the operation registry (``Param.widget``)."""
import pytest


def _alg(alg_id):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById(alg_id)


def _types(alg_id, name):
    d = _alg(alg_id).parameterDefinition(name)
    return list(d.dataTypes()) if hasattr(d, "dataTypes") else [d.layerType()]


def test_layer_parameters_are_filtered_by_geometry(provider):
    from qgis.core import QgsProcessing

    assert _types("surveytools:grid_divide", "COMMUNITIES") == [QgsProcessing.TypeVectorPolygon]
    assert _types("surveytools:grid_divide", "LINES") == [QgsProcessing.TypeVectorLine]
    assert _types("surveytools:grid_divide", "WORKLOAD") == [QgsProcessing.TypeVectorAnyGeometry]
    assert _types("surveytools:validate_run", "CHECKPOINTS") == [QgsProcessing.TypeVectorPoint]
    assert _types("surveytools:components_intake", "SOURCE") == [QgsProcessing.TypeVector]  # CSV/XLSX too


def test_the_community_choice_offers_polygons_not_tables(provider, qgis_app):
    """What the grid-divide dialog lists for COMMUNITIES: the real widget of the real dialog."""
    from qgis.core import QgsProcessingContext, QgsProject, QgsVectorLayer
    from qgis.gui import QgsGui, QgsProcessingGui

    project = QgsProject.instance()
    layers = [QgsVectorLayer("Polygon?crs=EPSG:4548", "社区", "memory"),
              QgsVectorLayer("None?field=name:string", "departments", "memory"),
              QgsVectorLayer("LineString?crs=EPSG:4548", "道路", "memory")]
    project.addMapLayers(layers)
    try:
        param = _alg("surveytools:grid_divide").parameterDefinition("COMMUNITIES")
        wrapper = QgsGui.processingGuiRegistry().createParameterWidgetWrapper(param, QgsProcessingGui.Standard)
        context = QgsProcessingContext()
        context.setProject(project)
        widget = wrapper.createWrappedWidget(context)
        from qgis.PyQt.QtWidgets import QComboBox

        names = {c.itemText(i) for c in widget.findChildren(QComboBox) for i in range(c.count())}
        assert any("社区" in n for n in names)
        assert not any("departments" in n or "道路" in n for n in names)
        assert param.checkValueIsAcceptable(layers[0])
    finally:
        project.removeAllMapLayers()


def test_dates_are_date_widgets_and_reach_the_library_as_iso_text(provider):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingParameterDateTime
    from qgis.PyQt.QtCore import QDate, QDateTime

    alg = _alg("surveytools:grid_code")
    d = alg.parameterDefinition("DATE")
    assert isinstance(d, QgsProcessingParameterDateTime) and d.dataType() == QgsProcessingParameterDateTime.Date
    ctx, fb = QgsProcessingContext(), QgsProcessingFeedback()
    for value in (QDate(2024, 5, 1), QDateTime(QDate(2024, 5, 1)), "2024-05-01"):
        assert alg.library_kwargs({"PROJECT": "p.gpkg", "DATE": value}, ctx, fb)["date"] == "2024-05-01"
    assert alg.library_kwargs({"PROJECT": "p.gpkg"}, ctx, fb)["date"] is None  # the library's default: today


class _Dialog:
    """Stands for the Processing dialog a wrapper is created for."""


def test_scheme_choice_of_known_schemes_or_a_file(provider, qgis_app, tmp_path):
    from qgis_plugin.widgets import SchemeWidgetWrapper, known_schemes

    assert known_schemes()[0] == "default"
    param = _alg("surveytools:validate_run").parameterDefinition("SCHEME")
    assert param.metadata()["widget_wrapper"]["class"].endswith("widgets.SchemeWidgetWrapper")
    w = SchemeWidgetWrapper(param, _Dialog())
    items = [w.combo.itemData(i) for i in range(w.combo.count())]
    assert "default" in items
    assert w.value() == "default"  # the parameter's default
    yaml_file = str(tmp_path / "mine.yaml")
    w.setValue(yaml_file)
    assert w.value() == yaml_file


def test_release_target_offers_saved_postgres_connections(provider, qgis_app, tmp_path):
    from qgis.core import QgsSettings

    from qgis_plugin.widgets import ReleaseTargetWidgetWrapper, postgres_targets

    s = QgsSettings()  # what QGIS's "New PostGIS connection" dialog stores
    for key, value in {"host": "db.example", "port": "5433", "database": "city", "username": "survey",
                       "saveUsername": "true", "password": "secret", "savePassword": "true",
                       "service": "", "sslmode": "SslDisable", "authcfg": ""}.items():
        s.setValue(f"PostgreSQL/connections/城管发布库/{key}", value)
    try:
        targets = dict(postgres_targets())
        assert targets["城管发布库"] == "postgresql://survey@db.example:5433/city"  # never the password
        param = _alg("surveytools:export_db").parameterDefinition("TO")
        w = ReleaseTargetWidgetWrapper(param, _Dialog())
        i = [w.combo.itemData(k) for k in range(w.combo.count())].index("postgresql://survey@db.example:5433/city")
        w.combo.setCurrentIndex(i)
        assert w.value() == "postgresql://survey@db.example:5433/city"
        gpkg = str(tmp_path / "release.gpkg")
        w.setValue(gpkg)
        assert w.value() == gpkg
    finally:
        s.remove("PostgreSQL/connections/城管发布库")


def test_widget_metadata_is_checked_in_the_registry():
    from surveytools.i18n import Text
    from surveytools.ops import Param

    with pytest.raises(ValueError):
        Param("when", "int", Text("x", "x"), widget="date")
    with pytest.raises(ValueError):
        Param("layer", "layer_in", Text("x", "x"), widget="polygons")
    assert Param("layer", "layer_in", Text("x", "x"), widget="polygon").widget == "polygon"


def test_importing_the_widgets_imports_nothing_but_qgis():
    """Processing's WidgetWrapper is imported only when a dialog asks for a wrapper class."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys; sys.path.insert(0, %r); import qgis_plugin.widgets as w; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('processing', 'pandas', 'numpy', 'yaml')]; "
            "print(bad); assert not bad, bad; w.SchemeWidgetWrapper; assert 'processing.gui.wrappers' in sys.modules"
            % str(root))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_project_init_takes_a_postgis_uri_in_its_project_parameter(provider, qgis_app):
    """The dialog's project field (a file destination) passes a typed postgresql:// URI through
    unchanged (no .gpkg appended, no folder prepended) to the same library parameter."""
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback
    from qgis.gui import QgsGui, QgsProcessingGui
    from qgis.PyQt.QtWidgets import QLineEdit

    uri = "postgresql://survey@db.example:5433/city?schema=guixi"
    alg = _alg("surveytools:project_init")
    param = alg.parameterDefinition("PROJECT")
    assert "postgresql://" in param.description() and "postgresql://" in param.fileFilter()
    wrapper = QgsGui.processingGuiRegistry().createParameterWidgetWrapper(param, QgsProcessingGui.Standard)
    context = QgsProcessingContext()
    widget = wrapper.createWrappedWidget(context)
    edit = widget.findChildren(QLineEdit)[0]
    edit.setText(uri)
    edit.textEdited.emit(uri)
    assert wrapper.parameterValue() == uri
    kwargs = alg.library_kwargs({"PROJECT": wrapper.parameterValue(), "COUNTY": "360681"}, context,
                                QgsProcessingFeedback())
    assert kwargs["project"] == uri
