"""The one issue row (问题记录) that every check and report writes.

An :class:`Issue` says which rule found what, where: rule, severity, layer, feature (fid and
ID), field, value, the message in Chinese and English, and optionally the offending geometry.
Checks return such rows; the writers turn them into error layers, report tables and exit codes.

Each writer keeps the column names its users already rely on (docs/validation.md: ``rule_id``,
``feature_fid`` …; the intake report: ``reason``, ``component_id`` …).  It declares them as an
:class:`IssueColumns`: which output column holds which :class:`Issue` field, plus the writer's own
extra columns, so that the core fields have one meaning and one type everywhere::

    VALIDATE.table(rows)            # Arrow, ERROR_COLUMNS of validate's error layers
    VALIDATE.frame(rows)            # the same as a DataFrame (empty rows: the columns alone)
    [Issue(...).as_dict()]          # a check's rows in the core names
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pyarrow as pa

from .i18n import Text

#: the core fields of an issue row, in order, with their Arrow types (``geometry`` apart)
ISSUE_FIELDS = {"rule": pa.string(), "severity": pa.string(), "layer": pa.string(), "fid": pa.int64(),
                "feature_id": pa.string(), "field": pa.string(), "value": pa.string(), "message_zh": pa.string(),
                "message_en": pa.string()}
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Issue:
    """One finding of a check (see the module docstring)."""

    rule: str
    severity: str
    message_zh: str
    message_en: str
    layer: str | None = None
    fid: int | None = None
    feature_id: str | None = None
    field: str | None = None
    value: object = None
    geometry: object = None

    @classmethod
    def of(cls, rule: str, severity: str, text: Text, **where) -> "Issue":
        return cls(rule, severity, text.zh, text.en, **where)

    def as_dict(self, geometry: bool = False) -> dict:
        d = asdict(self)
        if not geometry:
            d.pop("geometry")
        return d


@dataclass(frozen=True)
class IssueColumns:
    """How one writer names the issue fields: ``columns`` is its output order; ``names`` maps an
    :class:`Issue` field to the output column holding it (fields not named keep their own name
    when listed in ``columns``); other columns are the writer's own (text unless ``types`` says)."""

    columns: tuple
    names: dict = field(default_factory=dict)
    types: dict = field(default_factory=dict)

    def type_of(self, column: str) -> pa.DataType:
        if column in self.types:
            return self.types[column]
        core = {v: k for k, v in self.names.items()}.get(column, column)
        return ISSUE_FIELDS.get(core, pa.string())

    def rename_core(self, df):
        """``df`` with core field names (``rule``, ``fid`` …) renamed to this writer's columns."""
        return df.rename(columns={k: v for k, v in self.names.items() if k in df.columns and v not in df.columns})

    def frame(self, rows):
        """A DataFrame of exactly :attr:`columns` (core names renamed; missing columns empty)."""
        import pandas as pd

        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(
            [r.as_dict() if isinstance(r, Issue) else r for r in rows], dtype=object)  # 123 stays "123"
        return self.rename_core(df).reindex(columns=list(self.columns))

    def table(self, rows) -> pa.Table:
        """The rows as Arrow, typed column by column (``fid``-like columns int64, text as text:
        a number typed as a value is written as its text)."""
        import pandas as pd

        df = self.frame(rows)
        cols = {}
        for c in self.columns:
            t = self.type_of(c)
            s = df[c]
            if pa.types.is_integer(t):
                cols[c] = pa.array(pd.to_numeric(s, errors="coerce").astype("Int64"), t, from_pandas=True)
            elif pa.types.is_floating(t):
                cols[c] = pa.array(pd.to_numeric(s, errors="coerce").astype("float64"), t, from_pandas=True)
            else:
                cols[c] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                    for v in s.tolist()], t)
        return pa.table(cols)


#: validation (质检) error rows: the error layers, report.xlsx and the HTML report (docs/validation.md)
VALIDATE = IssueColumns(
    columns=("rule_id", "category", "severity", "layer", "feature_fid", "feature_id", "field", "value", "message_zh",
             "message_en", "step", "status"),
    names={"rule": "rule_id", "fid": "feature_fid"})

#: components / events intake report (table intake_report)
INTAKE = IssueColumns(
    columns=("batch", "source", "source_row", "layer", "component_id", "severity", "reason", "field", "value",
             "message_zh", "message_en"),
    names={"rule": "reason", "feature_id": "component_id"})

#: code checks (:func:`surveytools.codes.check_codes`): ``index`` is the checked value's position
CODES = IssueColumns(columns=("index", "severity", "reason", "message_zh", "message_en", "part"),
                     names={"fid": "index", "rule": "reason"})

#: grid import report (table report_grid_import): ``feature`` is the source feature, ``code`` its grid code
GRID_IMPORT = IssueColumns(columns=("feature", "code", "severity", "reason", "message_zh", "message_en"),
                           names={"fid": "feature", "feature_id": "code", "rule": "reason"})

#: grid aggregate report (tables report_work_grids, report_responsibility_grids)
GRID_AGGREGATE = IssueColumns(columns=("unit_grid", "aggregate", "severity", "reason", "message_zh", "message_en"),
                              names={"feature_id": "unit_grid", "rule": "reason"})

#: responsibility issues (table responsibility_issues)
RESPONSIBILITY = IssueColumns(
    columns=("rule_id", "severity", "problem", "kind", "class_code", "class_name", "area_type", "area_code", "field",
             "count", "features", "message_zh", "message_en"),
    names={"rule": "rule_id"}, types={"count": pa.int64()})

#: problems of acceptance check records (``SurveyError.problems`` of ``acceptance record``): ``sheet``, ``row``
#: and ``column`` of the workbook (or layer, feature and field of a check package)
ACCEPTANCE_RECORDS = IssueColumns(columns=("rule", "severity", "sheet", "row", "column", "value", "message_zh", "message_en"),
                                  names={"layer": "sheet", "fid": "row", "field": "column"})

#: field-return conflicts (layer field_conflicts, read by the plugin's conflicts tab and ``field resolve``):
#: ``kind`` is the rule, ``component_id`` the feature, ``fields`` the differing fields; the rest is the
#: conflict's own state (both versions, hashes, status)
FIELD_CONFLICTS = IssueColumns(
    columns=("conflict_id", "package_id", "layer", "feature_uuid", "component_id", "kind", "fields", "field_values",
             "project_values", "field_hash", "project_hash", "surveyor", "status", "created", "resolved", "resolution"),
    names={"rule": "kind", "feature_id": "component_id", "field": "fields"}, types={"conflict_id": pa.int64()})

#: geocoding base conflicts (table geo_conflicts, docs/geocoding.md): ``kind`` is the rule, ``name`` the
#: place or plate, ``detail`` the message in both languages, ``x``/``y`` where (project CRS)
GEO_CONFLICTS = IssueColumns(columns=("kind", "layer", "name", "detail", "x", "y"),
                             names={"rule": "kind", "feature_id": "name"},
                             types={"x": pa.float64(), "y": pa.float64()})


def bilingual(zh: str, en: str) -> str:
    """One text column holding both languages (``zh / en``), as geo_conflicts' ``detail``."""
    return f"{zh} / {en}"
