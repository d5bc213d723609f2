"""The operation registry: one declaration per operation, two faces.

Every user-facing operation is a library function registered here with its parameters.  The CLI
(:mod:`surveytools.cli`) builds one command per operation from this registry, and the QGIS
plugin builds one Processing algorithm per operation from the same registry, so both faces have
the same names and parameters by construction:

=====================  ==============================  ==========================
library function       CLI                             Processing algorithm
=====================  ==============================  ==========================
``project.init``       ``surveytools project init``    ``surveytools:project_init``
parameter ``county``   ``--county``                    ``COUNTY``
=====================  ==============================  ==========================
"""
from __future__ import annotations

import contextvars
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .i18n import Text

#: Modules that register operations; imported by :func:`load_all`.
OPERATION_MODULES = [
    "surveytools.project",
    "surveytools.profiles.ops",
    "surveytools.codes_ops",
    "surveytools.sample.ops",
    "surveytools.grid.ops",
    "surveytools.components.ops",
    "surveytools.geocode.ops",
    "surveytools.acceptance.ops",
    "surveytools.validate.ops",
    "surveytools.responsibility.ops", "surveytools.export.ops",
    "surveytools.components.mapping_ops",
    "surveytools.qgisproject",
    "surveytools.field.ops",
    "surveytools.selfcheck",
]

#: Parameter kinds understood by the CLI and the Processing wrapper.
#:  project      an existing survey project (GeoPackage)
#:  project_new  a survey project to create
#:  layer_in     an input vector layer, ``PATH[:LAYER]``
#:  file_in      an input file (CSV, XLSX, YAML …)
#:  file_out     an output file
#:  dir_out      an output folder
#:  string, int, float, bool, enum (with ``choices``), crs (EPSG code, WKT or PROJ string)
KINDS = {"project", "project_new", "layer_in", "file_in", "file_out", "dir_out",
         "string", "int", "float", "bool", "enum", "crs"}

#: ``Param.widget`` values per kind, used by the Processing dialogs:
#:  layer_in  point / line / polygon: only layers of that geometry; any: any vector layer;
#:            table: a table (any layer, geometry not needed)
#:  string    date: a date picker (value ``YYYY-MM-DD``); scheme: a known check scheme or a YAML file;
#:            release_target: a file path or a saved PostgreSQL connection (``postgresql://…``)
WIDGETS = {"layer_in": ("point", "line", "polygon", "any", "table"),
           "string": ("date", "scheme", "release_target")}

#: Kinds of declared outputs (:class:`Output`): what Processing shows and graphical models chain.
OUTPUT_KINDS = {"string", "number", "vector", "file", "folder"}


@dataclass
class Param:
    name: str
    kind: str
    help: Text
    required: bool = False
    default: Any = None
    choices: tuple = ()
    multiple: bool = False
    positional: bool = False
    #: file filter for file/layer parameters, e.g. "GeoPackage (*.gpkg)"
    file_filter: str = ""
    #: what the dialog offers (see :data:`WIDGETS`): for ``layer_in`` the geometry
    #: (``point``/``line``/``polygon``/``any``/``table``), for ``string`` ``date``, ``scheme`` or
    #: ``release_target``; the CLI ignores it
    widget: str = ""
    #: int/float parameters: the accepted range (inclusive), checked by :meth:`Operation.call` for the
    #: CLI and Processing alike; every numeric parameter declares both (tests/test_params.py)
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.widget and self.widget not in WIDGETS.get(self.kind, ()):
            raise ValueError(f"parameter {self.name}: widget {self.widget!r} does not fit kind {self.kind!r}")

    @property
    def qgis_name(self) -> str:
        return self.name.upper()

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class Output:
    """A declared output of an operation (beyond its ``file_out``/``dir_out``/``project``
    parameters): ``Result.outputs[name.upper()]`` holds its value.  ``vector`` outputs are
    ``PATH|layername=LAYER`` strings QGIS opens directly."""

    name: str
    kind: str
    help: Text

    def __post_init__(self):
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {self.kind!r}")

    @property
    def qgis_name(self) -> str:
        return self.name.upper()


@dataclass
class Result:
    """What an operation returns: data for ``--json`` and a summary for people.

    ``failure`` marks a completed operation whose outcome is negative (a validation FAIL): the
    outputs are written and returned like any result; only the CLI turns it into an error
    message and exit status (``failure.exit_code``), Processing returns it as outputs."""

    summary: Text
    data: dict = field(default_factory=dict)
    #: output name -> path, e.g. {"PROJECT": "out/project.gpkg"}
    outputs: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    #: a SurveyError describing the negative outcome, or None
    failure: Any = None

    @property
    def exit_code(self) -> int:
        return int(self.failure.exit_code) if self.failure is not None else 0

    def as_dict(self) -> dict:
        doc = {"ok": self.failure is None, "completed": True, "summary": self.summary.as_dict(), **self.data,
               "outputs": {k: str(v) for k, v in self.outputs.items()},
               "warnings": [w.as_dict() if isinstance(w, Text) else w for w in self.warnings]}
        if self.failure is not None:
            doc["error"] = self.failure.as_dict()
        return doc


@dataclass
class Operation:
    group: str
    name: str
    func: Callable[..., Result]
    params: list
    help: Text
    #: the Processing group shown in the toolbox
    display: Text | None = None
    #: declared outputs besides the file/folder/project parameters
    outputs: list = field(default_factory=list)
    #: the operation needs QGIS itself: the Processing algorithm runs it in QGIS's process (the
    #: plugin's own implementation), the CLI runs that algorithm through ``qgis_process``
    in_qgis: bool = False

    @property
    def id(self) -> str:
        return f"{self.group}_{self.name}".replace("-", "_")

    @property
    def cli(self) -> str:
        return f"{self.group} {self.name}"

    def call(self, feedback=None, **kwargs) -> Result:
        known = {p.name for p in self.params}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"{self.id}: unknown parameters {sorted(unknown)}")
        for p in self.params:
            v = kwargs.get(p.name)
            if p.required and (v is None or (isinstance(v, (str, list, tuple)) and not (v.strip() if isinstance(v, str) else v))):
                from .errors import SurveyError

                label = p.qgis_name if p.positional else f"{p.cli_flag} ({p.qgis_name})"
                raise SurveyError(Text(f"缺少必需的参数 {label}", f"the required parameter {label} is missing"),
                                  code="parameter_missing", value=v)
            if p.kind in ("int", "float") and v is not None:
                kwargs[p.name] = check_number(p, kwargs[p.name])
        token = _CURRENT.set(self.cli)
        try:
            return self.func(feedback=feedback, **kwargs)
        finally:
            _CURRENT.reset(token)


_CURRENT = contextvars.ContextVar("surveytools_operation", default=None)


def current_operation() -> str | None:
    """The command running now (``components intake`` …): named in the project lock and the edit log."""
    return _CURRENT.get()


def check_number(p: Param, value):
    """``value`` as the parameter's number type, finite and within its declared range; otherwise a
    bilingual error naming the parameter and the value."""
    import math

    from .errors import SurveyError

    label = p.qgis_name if p.positional else f"{p.cli_flag} ({p.qgis_name})"

    def bad(zh: str, en: str):
        return SurveyError(Text(f"参数 {label} {zh}", f"parameter {label} {en}"), code="parameter_range", value=value)

    values = value if p.multiple and isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        try:
            x = float(str(v).strip()) if isinstance(v, str) else float(v)
        except (TypeError, ValueError, OverflowError):
            raise bad("应为数字", "must be a number") from None
        if not math.isfinite(x):
            raise bad("应为有限的数字（不能是 NaN 或无穷大）", "must be a finite number (not NaN or infinity)")
        if p.kind == "int":
            if not x.is_integer():
                raise bad("应为整数", "must be a whole number")
            x = int(x)
        lo, hi = p.minimum, p.maximum
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            rng = f"{lo:g} – {hi:g}" if lo is not None and hi is not None else (f"≥ {lo:g}" if lo is not None else f"≤ {hi:g}")
            raise bad(f"超出允许范围 {rng}", f"is outside the allowed range {rng}")
        out.append(x)
    return out if p.multiple and isinstance(value, (list, tuple)) else out[0]


REGISTRY: dict[str, Operation] = {}
GROUPS: dict[str, Text] = {}
#: group -> the command that runs when the group is given a non-command argument
#: (``surveytools validate P.gpkg`` = ``surveytools validate run P.gpkg``)
DEFAULT_COMMANDS: dict[str, str] = {}


def group(name: str, help: Text, default: str | None = None) -> None:
    GROUPS[name] = help
    if default:
        DEFAULT_COMMANDS[name] = default


def operation(group: str, name: str, help: Text, params: list, display: Text | None = None,
              outputs: list = (), in_qgis: bool = False):
    """Register ``func`` as operation ``group name``.  The function takes the parameters as
    keyword arguments plus ``feedback`` and returns a :class:`Result`."""

    def deco(func):
        op = Operation(group, name, func, list(params), help, display, list(outputs), in_qgis)
        if op.id in REGISTRY and REGISTRY[op.id].func is not func:
            raise ValueError(f"operation {op.id} registered twice")
        REGISTRY[op.id] = op
        func.operation = op
        return func

    return deco


def operation_modules() -> list:
    """The built-in operation modules plus ``$SURVEYTOOLS_EXTRA_OPS`` (comma-separated module
    names: a city's own operations, or test operations), which the QGIS plugin's child
    processes import too."""
    import os

    extra = [m.strip() for m in os.environ.get("SURVEYTOOLS_EXTRA_OPS", "").split(",") if m.strip()]
    return OPERATION_MODULES + [m for m in extra if m not in OPERATION_MODULES]


def load_all() -> dict:
    for mod in operation_modules():
        importlib.import_module(mod)
    return REGISTRY


#: longest algorithm or group name shown in the Processing toolbox
TITLE_LIMIT = 40
_CUTS = ("，", "（", "(", ", ", " (", " — ", " - ")


def short_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """A name for the toolbox from a help text: its first sentence, cut at a comma or bracket and
    at last at a word boundary (with "…") until it fits ``limit`` characters.

    >>> short_title("Divide communities into unit grids, along roads. Long help")
    'Divide communities into unit grids'
    """
    import re

    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    m = re.match(r"(.+?)(?:[。；;：]|[.:](?=\s|$))", text)
    title = (m.group(1) if m else text).strip()
    while len(title) > limit:
        cuts = [pos for pos in (title.find(c) for c in _CUTS) if pos >= 4]
        if not cuts:
            break
        title = title[:min(cuts)].strip()
    if len(title) > limit:
        head = title[:limit - 1]
        space = head.rfind(" ")
        title = (head[:space] if space >= limit // 2 else head).rstrip(" ,;-") + "…"
    return title


def op_title(op: Operation) -> Text:
    """The short bilingual name of an operation (``display`` or the start of its help)."""
    src = op.display or op.help
    return Text(short_title(src.zh) or op.cli, short_title(src.en) or op.cli)


def group_title(name: str) -> Text:
    """The short bilingual name of an operation group (the part of its help before the colon)."""
    g = GROUPS.get(name, Text(name, name))
    return Text(short_title(g.zh) or name, short_title(g.en) or name)
