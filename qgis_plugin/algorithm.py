"""One generic Processing algorithm per ``surveytools`` operation.

The algorithm is a thin wrapper: it turns the Processing parameter values into the keyword
arguments the CLI would pass (strings, numbers, bools, lists), runs the CLI in a child process and
returns ``result.outputs`` plus the ``RESULT`` JSON string (what ``surveytools … --json`` prints).
No domain logic lives here.

Parameter mapping (``Param.kind`` → Processing parameter, value passed to the library):

=============  ==========================================  ==========================================
kind           Processing parameter                        value given to the operation
=============  ==========================================  ==========================================
project        File (extension gpkg)                       path string
project_new    FileDestination (a .gpkg, or a typed           path string or postgresql://…?schema=NAME
               postgresql://…?schema=NAME)
layer_in       VectorLayer of the ``widget`` geometry          ``PATH[:LAYER]`` (non-file layers are
                                                           first written to a temporary GeoPackage)
file_in        File (``Param.file_filter``)                path string
file_out       FileDestination                             path string
dir_out        FolderDestination                           path string
string         String (``widget`` date: DateTime of type       string (``None`` when empty and optional;
               Date; scheme / release_target: a string     dates as ``YYYY-MM-DD``)
               with this plugin's choice-or-file widget)
int / float    Number (Integer / Double)                   int / float
bool           Boolean                                     bool
enum           Enum with static strings                    the chosen string, never the index
crs            Crs                                         authid (``EPSG:4549``) or WKT2
multiple=True  MultipleLayers (layers/files),              list of the above
               Enum(allowMultiple), or a multi-line String
=============  ==========================================  ==========================================
"""
from __future__ import annotations

import json
import os
import re
import traceback

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDateTime,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QIcon

from surveytools.errors import SurveyError
from surveytools.feedback import Feedback
from surveytools.i18n import Text
from surveytools.ops import GROUPS, Operation, group_title, op_title
from surveytools.runner import run_out_of_process

from .compat import ICON_PATH, enum_value, log, pick

#: Name of the generic output holding the operation's result as JSON (like ``--json``).
RESULT_OUTPUT = "RESULT"

GPKG_FILTER = "GeoPackage (*.gpkg)"
#: the project parameter: a GeoPackage, or a PostGIS project's URI typed in (postgresql://…?schema=NAME)
PROJECT_FILTER = "GeoPackage (*.gpkg);;PostGIS: postgresql://user@host:port/db?schema=NAME (*)"

# File formats whose path alone names exactly one layer.
_SINGLE_LAYER_EXT = {".shp", ".geojson", ".json", ".csv", ".tab", ".kml", ".fgb", ".geojsonl"}


def _number_type(kind: str):
    member = "Integer" if kind == "int" else "Double"
    return enum_value(f"Qgis.ProcessingNumberParameterType.{member}",
                      f"QgsProcessingParameterNumber.Type.{member}",
                      f"QgsProcessingParameterNumber.{member}")


def _file_behavior():
    return enum_value("Qgis.ProcessingFileParameterBehavior.File",
                      "QgsProcessingParameterFile.Behavior.File",
                      "QgsProcessingParameterFile.File")


def _source_type(member: str):
    """``member`` is the QGIS 4 name (``Vector``, ``File``)."""
    return enum_value(f"Qgis.ProcessingSourceType.{member}",
                      f"QgsProcessing.SourceType.Type{member}",
                      f"QgsProcessing.Type{member}")


#: ``Param.widget`` of a layer parameter → the Processing source type (QGIS 4 member name)
LAYER_TYPES = {"point": "VectorPoint", "line": "VectorLine", "polygon": "VectorPolygon",
               "any": "VectorAnyGeometry", "table": "Vector", "": "Vector"}


def _layer_type(p):
    return _source_type(LAYER_TYPES[p.widget or ""])


def _date_type():
    return enum_value("Qgis.ProcessingDateTimeParameterDataType.Date",
                      "QgsProcessingParameterDateTime.Type.Date", "QgsProcessingParameterDateTime.Date")


#: ``Param.widget`` of a string parameter → its dialog widget in :mod:`.widgets` (imported by
#: Processing only when it builds a dialog)
WRAPPERS = {"scheme": "SchemeWidgetWrapper", "release_target": "ReleaseTargetWidgetWrapper"}


def _wrapper_metadata(widget: str) -> dict:
    """Processing metadata naming this plugin's dialog widget for a string parameter."""
    return {"widget_wrapper": {"class": f"{__package__}.widgets.{WRAPPERS[widget]}"}}


def _wkt2():
    return enum_value("Qgis.CrsWktVariant.Wkt2_2019",
                      "QgsCoordinateReferenceSystem.WktVariant.WKT2_2019",
                      "QgsCoordinateReferenceSystem.WKT2_2019")


def _optional_flag():
    return enum_value("Qgis.ProcessingParameterFlag.Optional",
                      "QgsProcessingParameterDefinition.Flag.FlagOptional",
                      "QgsProcessingParameterDefinition.FlagOptional")


def _writer_no_error():
    return enum_value("QgsVectorFileWriter.WriterError.NoError", "QgsVectorFileWriter.NoError")


def internal_error_text(exc: BaseException) -> Text:
    return Text(f"内部错误：{type(exc).__name__}: {exc}。输出未被修改；请在 QGIS 日志（SurveyTools）中查看详情并报告此问题。",
                f"Internal error: {type(exc).__name__}: {exc}. Outputs were left unchanged; see the QGIS "
                "message log (SurveyTools) for details and report the problem.")


class ProcessingFeedbackAdapter(Feedback):
    """``surveytools.feedback.Feedback`` on top of a ``QgsProcessingFeedback``."""

    def __init__(self, qgis_feedback):
        super().__init__()
        self.qgis_feedback = qgis_feedback
        self.warnings: list = []

    def is_canceled(self) -> bool:
        return bool(self.qgis_feedback is not None and self.qgis_feedback.isCanceled())

    def _set_progress(self, percent: float) -> None:
        if self.qgis_feedback is not None:
            self.qgis_feedback.setProgress(percent)

    def _info(self, text: Text) -> None:
        if self.qgis_feedback is not None:
            self.qgis_feedback.pushInfo(text.render())

    def _warning(self, text: Text) -> None:
        self.warnings.append(text)
        fb = self.qgis_feedback
        if fb is None:
            return
        if hasattr(fb, "pushWarning"):  # QGIS >= 3.16
            fb.pushWarning(text.render())
        else:  # pragma: no cover
            fb.reportError(text.render(), False)


class SurveyToolsAlgorithm(QgsProcessingAlgorithm):
    """A Processing algorithm generated from one :class:`surveytools.ops.Operation`."""

    def __init__(self, op: Operation):
        super().__init__()
        self._op = op

    # -- identity ---------------------------------------------------------------------------
    @property
    def operation(self) -> Operation:
        return self._op

    def flags(self):
        flags = super().flags()
        if getattr(self._op, "in_qgis", False):  # builds layers and a QgsProject: the main thread
            flags |= enum_value("Qgis.ProcessingAlgorithmFlag.NoThreading", "QgsProcessingAlgorithm.Flag.FlagNoThreading",
                                "QgsProcessingAlgorithm.FlagNoThreading")
        return flags

    def createInstance(self):
        return SurveyToolsAlgorithm(self._op)

    def name(self) -> str:
        return self._op.id

    def _title(self) -> Text:
        return op_title(self._op)  # at most 40 characters; the full help is in the help panel

    def displayName(self) -> str:
        return pick(self._title())

    def group(self) -> str:
        return pick(group_title(self._op.group))

    def groupId(self) -> str:
        return self._op.group

    def tags(self):
        title = self._title()
        g = GROUPS.get(self._op.group)
        tags = [self._op.group, self._op.name, self._op.id, "surveytools", title.zh, title.en,
                "数字城管", "digital urban management"]
        if g is not None:
            tags += [g.zh, g.en]
        return [t for t in tags if t]

    def icon(self):
        return QIcon(ICON_PATH)

    def svgIconPath(self) -> str:
        return ICON_PATH

    def shortHelpString(self) -> str:
        op = self._op

        def para(text: str) -> str:
            return "<p>" + text.replace("\n", "<br>") + "</p>"

        items = "".join(f"<li><b>{p.qgis_name}</b> (<code>{p.cli_flag}</code>): {p.help.zh} / {p.help.en}</li>"
                        for p in op.params)
        outs = "".join(f"<li><b>{o.qgis_name}</b>: {o.help.zh} / {o.help.en}</li>" for o in op.outputs)
        if outs:
            outs = f"<p>输出 / Outputs:</p><ul>{outs}</ul>"
        return (para(op.help.zh) + para(op.help.en)
                + f"<p>命令行 / CLI: <code>surveytools {op.cli}</code></p><ul>{items}</ul>" + outs)

    def helpString(self) -> str:
        return self.shortHelpString()

    # -- parameters ---------------------------------------------------------------------------
    def initAlgorithm(self, config=None):
        declared_outputs = set()
        for p in self._op.params:
            definition = self._definition(p)
            self.addParameter(definition)
            if p.kind in ("project_new", "file_out", "dir_out") and not p.multiple:
                declared_outputs.add(p.qgis_name)
        # An existing project that the operation updates is also an output (for model chaining).
        for p in self._op.params:
            if p.kind == "project" and not p.multiple and p.qgis_name not in declared_outputs:
                self.addOutput(QgsProcessingOutputFile(p.qgis_name, pick(p.help)))
                declared_outputs.add(p.qgis_name)
        for o in self._op.outputs:  # declared outputs: verdict, counts, error layers … (model chaining)
            if o.qgis_name not in declared_outputs:
                self.addOutput(_OUTPUT_CLASSES[o.kind](o.qgis_name, pick(o.help)))
                declared_outputs.add(o.qgis_name)
        if RESULT_OUTPUT not in declared_outputs:
            self.addOutput(QgsProcessingOutputString(
                RESULT_OUTPUT, pick(Text("结果（JSON）", "Result (JSON)"))))

    @staticmethod
    def _optional(p) -> bool:
        return (not p.required) and p.default in (None, (), [])

    def _definition(self, p):
        name, desc, optional, default = p.qgis_name, pick(p.help), self._optional(p), p.default
        if p.multiple and default in ((), []):
            default = None
        kind = p.kind
        if kind == "enum":
            d = QgsProcessingParameterEnum(name, desc, options=[str(c) for c in p.choices],
                                           allowMultiple=p.multiple, defaultValue=default,
                                           optional=optional)
            d.setUsesStaticStrings(True)
            return d
        if p.multiple:
            if kind == "layer_in":
                return QgsProcessingParameterMultipleLayers(name, desc, _layer_type(p),
                                                            defaultValue=default, optional=optional)
            if kind in ("file_in", "project"):
                return QgsProcessingParameterMultipleLayers(name, desc, _source_type("File"),
                                                            defaultValue=default, optional=optional)
            # anything else: one value per line
            if isinstance(default, (list, tuple)):
                default = "\n".join(str(v) for v in default)
            return QgsProcessingParameterString(name, desc + " " + pick(Text("（每行一个）", "(one per line)")),
                                                defaultValue=default, multiLine=True, optional=optional)
        if kind == "project":
            # a .gpkg path or a postgresql://…?schema=NAME URI: no extension check (the library checks)
            return QgsProcessingParameterFile(name, desc, _file_behavior(), "", default, optional, PROJECT_FILTER)
        if kind == "project_new":
            return QgsProcessingParameterFileDestination(name, desc, p.file_filter or GPKG_FILTER,
                                                         default, optional)
        if kind == "layer_in":  # filtered by geometry: never a table for a polygon parameter
            return QgsProcessingParameterVectorLayer(name, desc, [_layer_type(p)], default, optional)
        if kind == "file_in":
            return QgsProcessingParameterFile(name, desc, _file_behavior(), "", default, optional,
                                              p.file_filter or "")
        if kind == "file_out":
            return QgsProcessingParameterFileDestination(name, desc, p.file_filter or "", default, optional)
        if kind == "dir_out":  # an optional folder is not made up (no temporary folder) when left empty
            return QgsProcessingParameterFolderDestination(name, desc, default, optional, not optional)
        if kind in ("int", "float"):
            # the registry's range (checked again in the child, for every face); QGIS's own limits otherwise
            lo = -1.7976931348623157e308 if p.minimum is None else p.minimum
            hi = 1.7976931348623157e308 if p.maximum is None else p.maximum
            return QgsProcessingParameterNumber(name, desc, _number_type(kind), default, optional, lo, hi)
        if kind == "bool":
            return QgsProcessingParameterBoolean(name, desc, bool(default), False)
        if kind == "crs":
            return QgsProcessingParameterCrs(name, desc, default, optional)
        if p.widget == "date":
            return QgsProcessingParameterDateTime(name, desc, _date_type(), default, optional)
        d = QgsProcessingParameterString(name, desc, default, False, optional)
        if p.widget in ("scheme", "release_target"):
            d.setMetadata(_wrapper_metadata(p.widget))
        return d

    # -- running ------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        """Run the operation in a child Python process through the CLI (see
        :mod:`surveytools.runner`: QGIS's own GDAL/PROJ/GEOS must never meet the wheels')."""
        adapter = ProcessingFeedbackAdapter(feedback)
        try:
            kwargs = self.library_kwargs(parameters, context, feedback)
            if getattr(self._op, "in_qgis", False):  # needs QGIS itself: the plugin's implementation
                from .project_file import run_in_qgis
                data = run_in_qgis(self._op, kwargs, adapter)
            else:
                data = run_out_of_process(self._op, kwargs, adapter, extra_paths=_deps_paths(),
                                          pg_passwords=_saved_passwords(kwargs))
        except SurveyError as err:
            raise QgsProcessingException(err.render())
        except QgsProcessingException:
            raise
        except Exception as exc:  # never a raw traceback as the user's message
            log(f"{self._op.id}: {traceback.format_exc()}", "Critical")
            if feedback is not None:
                feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(internal_error_text(exc).render("both", sep="\n"))
        summary = data.get("summary") or {}
        if feedback is not None and summary:
            text = Text(summary.get("zh", ""), summary.get("en", "")).render(sep="\n")
            if data.get("ok") is False:  # a negative outcome (validation FAIL) is a result, not an error
                feedback.reportError(text, False)
            else:
                feedback.pushInfo(text)
        outputs = {str(k).upper(): v for k, v in (data.get("outputs") or {}).items()}
        for o in self._op.outputs:
            value = outputs.get(o.qgis_name)
            if o.kind == "number" and value not in (None, ""):
                outputs[o.qgis_name] = float(value) if "." in str(value) else int(value)
            elif o.kind == "vector" and value and context is not None:
                _load_on_completion(value, o, context)
        outputs.setdefault(RESULT_OUTPUT, json.dumps(data, ensure_ascii=False, default=str))
        return outputs

    def library_kwargs(self, parameters, context, feedback) -> dict:
        """The keyword arguments the CLI would pass for these Processing parameter values."""
        kwargs = {}
        for p in self._op.params:
            kwargs[p.name] = self._value(p, parameters, context, feedback)
        return kwargs

    def _unset(self, p):
        if p.multiple:
            return list(p.default or [])
        return p.default

    def _value(self, p, parameters, context, feedback):
        name = p.qgis_name
        raw = parameters.get(name)
        definition = self.parameterDefinition(name)
        if raw is None and definition.defaultValue() is None:
            return self._unset(p)
        kind = p.kind
        if kind == "enum":
            if p.multiple:
                return list(self.parameterAsEnumStrings(parameters, name, context))
            value = self.parameterAsEnumString(parameters, name, context)
            return value if value != "" else self._unset(p)
        if p.multiple:
            if kind == "layer_in":
                layers = self.parameterAsLayerList(parameters, name, context)
                return [layer_to_path(lyr, context, feedback) for lyr in layers]
            if kind in ("file_in", "project"):
                return list(self.parameterAsFileList(parameters, name, context))
            text = self.parameterAsString(parameters, name, context)
            items = [s.strip() for s in text.splitlines() if s.strip()]
            if kind == "int":
                return [int(s) for s in items]
            if kind == "float":
                return [float(s) for s in items]
            return items
        if kind in ("project", "file_in"):
            value = self.parameterAsFile(parameters, name, context)
            return value or self._unset(p)
        if kind in ("project_new", "file_out"):
            value = self.parameterAsFileOutput(parameters, name, context)
            return value or self._unset(p)
        if kind == "dir_out":
            value = self.parameterAsString(parameters, name, context)
            return value or self._unset(p)
        if kind == "layer_in":
            layer = self.parameterAsVectorLayer(parameters, name, context)
            if layer is None:
                if definition.flags() & _optional_flag():
                    return self._unset(p)
                raise QgsProcessingException(pick(Text(f"无法打开图层 {name}", f"Could not open layer {name}")))
            return layer_to_path(layer, context, feedback)
        if kind == "int":
            return self.parameterAsInt(parameters, name, context)
        if kind == "float":
            return self.parameterAsDouble(parameters, name, context)
        if kind == "bool":
            return bool(self.parameterAsBoolean(parameters, name, context))
        if kind == "crs":
            crs = self.parameterAsCrs(parameters, name, context)
            return crs_to_string(crs) if crs.isValid() else self._unset(p)
        if p.widget == "date":
            when = self.parameterAsDateTime(parameters, name, context)
            return when.date().toString("yyyy-MM-dd") if when.isValid() else self._unset(p)
        value = self.parameterAsString(parameters, name, context)
        return value if value != "" else self._unset(p)


_OUTPUT_CLASSES = {"string": QgsProcessingOutputString, "number": QgsProcessingOutputNumber,
                   "vector": QgsProcessingOutputVectorLayer, "file": QgsProcessingOutputFile,
                   "folder": QgsProcessingOutputFolder}


def _load_on_completion(uri: str, output, context) -> None:
    """Let the Processing dialog add a non-empty vector output to the map (its default style comes
    from the GeoPackage's ``layer_styles``)."""
    layer = QgsVectorLayer(uri, output.name, "ogr")
    if not layer.isValid() or layer.featureCount() == 0:
        return
    details = QgsProcessingContext.LayerDetails(pick(output.help), context.project(), output.qgis_name)
    context.addLayerToLoadOnCompletion(uri, details)


def _saved_passwords(kwargs: dict) -> list:
    """The passwords the saved PostgreSQL connections hold for the ``postgresql://`` arguments (the
    child gets them in a temporary pgpass file, never in its command line)."""
    try:
        from .pgconn import saved_passwords
        return saved_passwords(kwargs.values())
    except Exception:  # never stop an algorithm because of the settings: libpq's own sources remain
        log(traceback.format_exc(), "Info")
        return []


def _deps_paths() -> list:
    """The dependency folder installed by the plugin (QgsSettings ``surveytools/deps_path``)."""
    try:
        from .deps import extra_paths
        return extra_paths()
    except Exception:  # never stop an algorithm because of the settings
        return []


def crs_to_string(crs: QgsCoordinateReferenceSystem) -> str:
    """``EPSG:xxxx`` when the CRS has an authority id, WKT2 otherwise."""
    return crs.authid() or crs.toWkt(_wkt2())


def layer_to_path(layer: QgsVectorLayer, context, feedback=None) -> str:
    """The library's ``PATH[:LAYER]`` for a QGIS vector layer.

    File-based OGR layers are referenced directly.  Everything else (memory, PostGIS, delimited
    text, a layer with a filter or unsaved edits …) is first written to a temporary GeoPackage so
    the library sees exactly what the user sees.
    """
    if layer.providerType() == "ogr" and not layer.subsetString() and not layer.isModified():
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        path = parts.get("path") or ""
        layer_name = parts.get("layerName")
        if path and os.path.isfile(path) and not parts.get("subset"):
            if layer_name:
                return f"{path}:{layer_name}"
            if os.path.splitext(path)[1].lower() in _SINGLE_LAYER_EXT:
                return path
            sublayers = layer.dataProvider().subLayers() if layer.dataProvider() else []
            if len(sublayers) <= 1 and parts.get("layerId") in (None, 0, "0"):
                return path
    return _export_temp_gpkg(layer, context, feedback)


def _export_temp_gpkg(layer: QgsVectorLayer, context, feedback=None) -> str:
    safe = re.sub(r"[^0-9A-Za-z_]+", "_", layer.name() or "layer").strip("_") or "layer"
    target = QgsProcessingUtils.generateTempFilename(f"{safe}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = safe
    options.fileEncoding = "UTF-8"
    res = QgsVectorFileWriter.writeAsVectorFormatV3(layer, target, context.transformContext(), options)
    if res[0] != _writer_no_error():
        raise QgsProcessingException(pick(Text(f"无法将图层 {layer.name()} 写入临时 GeoPackage：{res[1]}",
                                               f"Could not write layer {layer.name()} to a temporary "
                                               f"GeoPackage: {res[1]}")))
    written = res[2] or target
    if feedback is not None:
        feedback.pushInfo(pick(Text(f"图层 {layer.name()} 已写入临时文件 {written}",
                                    f"Layer {layer.name()} written to temporary file {written}")))
    return f"{written}:{res[3] or safe}"
