"""The rule catalogue: rule definitions from ``standards/rules/catalogue.yaml`` plus the functions
that implement them (registered with :func:`implements`).

A rule function takes ``(ctx, params)`` and returns a DataFrame of error rows with the columns
of :data:`ROW_COLUMNS` that it knows (at least ``layer`` and ``geometry``) plus the placeholders
of its message templates; the engine adds the rule id, severity and the formatted messages.
It raises :class:`Skip` when its input is absent (no departments table, no check points …).

A rule's ``scope`` says how it runs on a project whose component layers are read in chunks
(:mod:`.chunks`): ``rows`` — it judges every record on its own, so it runs on each chunk and once
on the rest of the project; ``rest`` — it reads no component records (grids, communities, layer
sizes), so it runs once on the rest; ``whole`` — it compares records across a layer (duplicates,
serial gaps, check points): a compact implementation in :mod:`.chunks` or, without one, the rule
on whole layers.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import SurveyError
from ..i18n import Text

CATEGORIES = ("completeness", "codes", "attributes", "geometry", "topology", "relations", "accuracy")
SEVERITIES = ("error", "warning")
#: columns of an error row (besides geometry)
ROW_COLUMNS = ["rule_id", "category", "severity", "layer", "fid", "feature_id", "field", "value",
               "message_zh", "message_en"]


class Skip(Exception):
    """A rule cannot run on this project (its input is absent); the reason is reported."""

    def __init__(self, reason: Text):
        super().__init__(reason.en)
        self.reason = reason


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    title: Text
    params: dict
    messages: dict  # variant -> Text
    definition: str = ""
    func: object = field(default=None, compare=False, repr=False)
    scope: str = "whole"


_FUNCS: dict = {}
_SCOPES: dict = {}
SCOPES = ("rows", "rest", "whole")


def implements(rule_id: str, scope: str = "whole"):
    """Register the function implementing ``rule_id`` (``scope``: see the module docstring)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")

    def deco(func):
        _FUNCS[rule_id] = func
        _SCOPES[rule_id] = scope
        return func
    return deco


def catalogue_path() -> Path:
    from ..profiles.light import find_standards_dir

    return find_standards_dir() / "rules" / "catalogue.yaml"


def _load_impls() -> None:
    from .rules import accuracy, attributes, codes, completeness, geometry, topology  # noqa: F401 (registration)


def load_catalogue(path=None) -> dict:
    """{rule id: :class:`Rule`} in catalogue order, each with its implementing function."""
    p = Path(path) if path else catalogue_path()
    return dict(_load_cached(str(p), p.stat().st_mtime if p.exists() else 0.0))


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: float) -> tuple:
    p = Path(path)
    if not p.exists():
        raise SurveyError(Text("找不到质检规则目录", "the validation rule catalogue is missing"), code="no_catalogue", file=path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SurveyError(Text(f"规则目录格式错误：{e}", f"the rule catalogue is malformed: {e}"), code="bad_catalogue",
                          file=path) from None
    _load_impls()
    out = []
    for i, r in enumerate(data.get("rules") or []):
        rid = str(r.get("id", ""))
        where = dict(file=path, field=f"rules[{i}]", value=rid)
        if r.get("category") not in CATEGORIES:
            raise SurveyError(Text(f"规则 {rid} 的类别应为 {CATEGORIES} 之一", f"rule {rid}: category must be one of {CATEGORIES}"),
                              code="bad_catalogue", **where)
        if r.get("severity") not in SEVERITIES:
            raise SurveyError(Text(f"规则 {rid} 的严重程度应为 error 或 warning", f"rule {rid}: severity must be error or warning"),
                              code="bad_catalogue", **where)
        msgs = {k: Text(v["zh"], v["en"]) for k, v in (r.get("messages") or {}).items()}
        if "default" not in msgs:
            raise SurveyError(Text(f"规则 {rid} 缺少默认消息", f"rule {rid} lacks a default message"), code="bad_catalogue", **where)
        if rid not in _FUNCS:
            raise SurveyError(Text(f"规则 {rid} 没有实现", f"rule {rid} has no implementation"), code="bad_catalogue", **where)
        t = r.get("title") or {}
        out.append((rid, Rule(rid, r["category"], r["severity"], Text(t.get("zh", rid), t.get("en", rid)),
                              dict(r.get("params") or {}), msgs, str(r.get("definition", "")).strip(), _FUNCS[rid],
                              _SCOPES.get(rid, "whole"))))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# message formatting over whole columns

def _as_text(s: pd.Series, spec: str) -> pd.Series:
    if spec:
        return s.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else format(v, spec)).astype("str")
    if pd.api.types.is_float_dtype(s):
        return s.round(3).astype("str").str.replace(r"\.0$", "", regex=True).fillna("")
    return s.astype("str").fillna("")


def format_messages(template: str, rows: pd.DataFrame, extra: dict) -> pd.Series:
    """``template`` filled per row from the columns of ``rows`` (or the scalars of ``extra``)."""
    n = len(rows)
    out = pd.Series([""] * n, index=rows.index, dtype="str")
    for literal, name, spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is None:
            continue
        if name in rows.columns:
            col = rows[name]
            if col.dtype == object or pd.api.types.is_string_dtype(col):
                col = col.where(col.notna(), "")
            out = out + _as_text(col, spec or "")
        elif name in extra:
            v = extra[name]
            out = out + (format(v, spec) if spec else str(v))
        else:
            out = out + "{" + name + "}"
    return out


def finish_rows(rule: Rule, rows: pd.DataFrame, severity: str, extra: dict):
    """Add rule id, category, severity and messages to a rule's raw rows."""
    import geopandas as gpd

    n = len(rows)
    rows = rows.reset_index(drop=True)
    variant = rows["variant"].fillna("default") if "variant" in rows.columns else pd.Series(["default"] * n, dtype=object)
    zh = pd.Series([""] * n, dtype="str")
    en = pd.Series([""] * n, dtype="str")
    for v in pd.unique(variant):
        m = (variant == v).to_numpy()
        tpl = rule.messages.get(v, rule.messages["default"])
        sub = rows[m]
        zh[m] = format_messages(tpl.zh, sub, extra).to_numpy()
        en[m] = format_messages(tpl.en, sub, extra).to_numpy()
    sev = rows["severity"].fillna(severity) if "severity" in rows.columns else pd.Series([severity] * n, dtype=object)
    out = pd.DataFrame({
        "rule_id": rule.id, "category": rule.category, "severity": sev.astype(object).to_numpy(),
        "layer": rows["layer"].astype(object).to_numpy() if "layer" in rows else None,
        "fid": pd.array(rows["fid"], dtype="Int64") if "fid" in rows else pd.array([None] * n, dtype="Int64"),
        "feature_id": _str_col(rows, "feature_id", n), "field": _str_col(rows, "field", n),
        "value": _str_col(rows, "value", n),
        "message_zh": zh.to_numpy(dtype=object), "message_en": en.to_numpy(dtype=object)}, index=range(n))
    geom = rows["geometry"].to_numpy(dtype=object) if "geometry" in rows else np.full(n, None, dtype=object)
    geom = np.where(pd.isna(geom), None, geom)  # NaN from concatenated frames -> no geometry
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geom, index=range(n)), crs=extra.get("_crs"))


def _str_col(rows, name, n):
    if name not in rows:
        return np.full(n, None, dtype=object)
    s = rows[name]
    txt = s.astype(object)
    return txt.where(s.notna(), None).map(lambda v: v if v is None or isinstance(v, str) else str(v)).to_numpy(dtype=object)


def empty_rows():
    import geopandas as gpd

    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in ROW_COLUMNS})
    df["fid"] = pd.array([], dtype="Int64")
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([]))
