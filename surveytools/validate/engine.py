"""Run a check scheme over a :class:`~.context.Context`: the error rows, each step's outcome and
the PASS/FAIL verdict.

Step outcomes: ``passed`` (no rows), ``failed`` (error rows that count), ``warnings`` (only
warning rows), ``ignored`` (rows, but on_fail is ignore), ``skipped`` (input absent; the reason
is reported), ``not_run`` (an earlier halt step failed).

Row status: ``open``; ``accepted`` (listed in the project's ``validation_accepted`` table: kept
in the outputs, left out of the counts and the verdict); ``ignored`` (from an on_fail: ignore
step).  The verdict is FAIL when an open row has severity ``error``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..feedback import Feedback
from ..i18n import Text
from .catalogue import Skip, empty_rows, finish_rows

ACCEPT_KEY = ["rule_id", "layer", "feature_id", "field"]
OUTCOME_NAMES = {
    "passed": Text("通过", "passed"), "failed": Text("不通过", "failed"), "warnings": Text("有警告", "warnings"),
    "ignored": Text("仅报告", "reported only"), "skipped": Text("跳过", "skipped"), "not_run": Text("未运行", "not run"),
}


@dataclass
class StepResult:
    index: int
    id: str
    rule_id: str
    category: str
    title: Text
    on_fail: str
    outcome: str = "not_run"
    errors: int = 0
    warnings: int = 0
    accepted: int = 0
    reason: Text | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"index": self.index, "id": self.id, "rule_id": self.rule_id, "category": self.category,
                "title_zh": self.title.zh, "title_en": self.title.en, "on_fail": self.on_fail, "outcome": self.outcome,
                "errors": self.errors, "warnings": self.warnings, "accepted": self.accepted,
                "reason_zh": self.reason.zh if self.reason else None, "reason_en": self.reason.en if self.reason else None,
                "seconds": round(self.seconds, 3)}


@dataclass
class ValidationResult:
    scheme: object
    errors: object  # GeoDataFrame: ROW_COLUMNS + step, status, geometry
    steps: list
    layers: pd.DataFrame
    verdict: str
    accuracy: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    @property
    def open(self):
        return self.errors[self.errors["status"] == "open"]

    def counts(self) -> dict:
        e = self.errors
        op = e[e["status"] == "open"]
        return {"errors": int((op["severity"] == "error").sum()), "warnings": int((op["severity"] == "warning").sum()),
                "accepted": int((e["status"] == "accepted").sum()), "ignored": int((e["status"] == "ignored").sum()),
                "rows": int(len(e))}

    def per_rule(self) -> pd.DataFrame:
        e = self.errors
        if e.empty:
            return pd.DataFrame(columns=["rule_id", "severity", "status", "count"])
        return (e.groupby(["rule_id", "severity", "status"]).size().rename("count").reset_index()
                .sort_values(["rule_id", "severity", "status"]).reset_index(drop=True))

    def per_layer(self) -> pd.DataFrame:
        e = self.errors
        if e.empty:
            return pd.DataFrame(columns=["layer", "severity", "status", "count"])
        return (e.groupby(["layer", "severity", "status"], dropna=False).size().rename("count").reset_index()
                .sort_values(["layer", "severity", "status"]).reset_index(drop=True))


def _accepted_keys(accepted) -> set:
    if accepted is None or len(accepted) == 0:
        return set()
    a = accepted.reindex(columns=ACCEPT_KEY).astype(object).where(accepted.reindex(columns=ACCEPT_KEY).notna(), "")
    return set(a.astype(str).agg("\x1f".join, axis=1))


def _row_keys(rows) -> pd.Series:
    a = rows[ACCEPT_KEY].astype(object).where(rows[ACCEPT_KEY].notna(), "")
    return a.astype(str).agg("\x1f".join, axis=1) if len(rows) else pd.Series([], dtype=object)


def run_scheme(ctx, scheme, catalogue, *, accepted=None, feedback: Feedback | None = None,
               start: float = 0.0, end: float = 100.0, chunk_size: int | None = None) -> ValidationResult:
    """Run ``scheme`` on ``ctx``.  ``chunk_size``: component layers of a project with more
    features than this are read in chunks of this many (:mod:`.chunks`; same rows); None or 0:
    every layer whole."""
    import geopandas as gpd

    from .chunks import raw_results
    from .context import COMPONENT_KEYS

    feedback = feedback or Feedback()
    pre = None
    plan = ctx.chunk_plan(COMPONENT_KEYS, chunk_size) if chunk_size else {}
    if plan:
        pre = raw_results(ctx, scheme.steps, catalogue, plan, int(chunk_size), feedback, start, start + (end - start) * 0.9)
        start = start + (end - start) * 0.9
    acc = _accepted_keys(accepted)
    results, frames = [], []
    halted = None
    n = max(len(scheme.steps), 1)
    extra = {"_crs": ctx.crs, "county": ctx.county, "profile": ctx.profile.id}
    for i, step in enumerate(scheme.steps):
        rule = catalogue[step.rule]
        sr = StepResult(i + 1, step.id, rule.id, rule.category, rule.title, step.on_fail)
        results.append(sr)
        feedback.progress(start + (end - start) * i / n)
        if halted is not None:
            sr.reason = Text(f"步骤 {halted} 发现错误且设为 halt，方案已停止", f"step {halted} found errors and is set to halt; the scheme stopped")
            continue
        params = {**rule.params, **step.params}
        t0 = time.perf_counter()
        try:
            if pre is None:
                raw = rule.func(ctx, params)
            else:
                raw, skip, secs = pre[step.id]
                t0 -= secs
                if skip is not None:
                    raise skip
        except Skip as s:
            sr.outcome, sr.reason = "skipped", s.reason
            sr.seconds = time.perf_counter() - t0
            feedback.info(Text(f"质检步骤 {step.id} 跳过：{s.reason.zh}", f"validation step {step.id} skipped: {s.reason.en}"))
            continue
        rows = finish_rows(rule, raw, step.severity or rule.severity, extra) if len(raw) else empty_rows()
        if step.severity and len(rows) and "severity" in raw.columns:
            rows["severity"] = step.severity  # the scheme's severity wins over row-level defaults
        rows["step"] = step.id
        status = np.full(len(rows), "ignored" if step.on_fail == "ignore" else "open", dtype=object)
        if acc and len(rows):
            status[_row_keys(rows).isin(acc).to_numpy()] = "accepted"
        rows["status"] = status
        sr.seconds = time.perf_counter() - t0
        sr.accepted = int((status == "accepted").sum())
        live = status != "accepted"
        sr.errors = int(((rows["severity"] == "error").to_numpy() & live).sum())
        sr.warnings = int(((rows["severity"] == "warning").to_numpy() & live).sum())
        if step.on_fail == "ignore":
            sr.outcome = "ignored" if (sr.errors or sr.warnings) else "passed"
        elif sr.errors:
            sr.outcome = "failed"
            if step.on_fail == "halt":
                halted = step.id
        elif sr.warnings:
            sr.outcome = "warnings"
        else:
            sr.outcome = "passed"
        if len(rows):
            frames.append(rows)
    feedback.progress(end)
    if frames:
        errors = pd.concat(frames, ignore_index=True)
        errors = gpd.GeoDataFrame(errors, geometry="geometry", crs=ctx.crs)
    else:
        errors = empty_rows()
        errors["step"] = pd.Series([], dtype=object)
        errors["status"] = pd.Series([], dtype=object)
        errors = errors.set_crs(ctx.crs, allow_override=True)
    verdict = "FAIL" if ((errors["status"] == "open") & (errors["severity"] == "error")).any() else "PASS"
    layers = layer_stats(ctx, errors)
    accuracy = ctx.cache.get("accuracy", (None, None, None))[1]
    return ValidationResult(scheme, errors, results, layers, verdict, accuracy)


def layer_stats(ctx, errors) -> pd.DataFrame:
    """Per checked layer: features, features with an open error, pass rate (合格率)."""
    rows = []
    live = errors[(errors["status"] == "open") & (errors["severity"] == "error")]
    sizes = {key: len(g) for key, g in ctx.frames.items() if g is not None}
    sizes.update(ctx.chunked)
    for key, n in sizes.items():
        table = ctx.table_name(key)
        e = live[(live["layer"] == table) & live["fid"].notna()]
        bad = int(e["fid"].nunique())
        title = ctx.profile.layer(key).title if key in ctx.profile.layers else Text(key, key)
        rows.append({"layer": table, "title_zh": title.zh, "title_en": title.en, "features": n,
                     "features_with_errors": bad, "rows": int((errors["layer"] == table).sum()),
                     "pass_rate": round((n - bad) / n, 6) if n else None})
    return pd.DataFrame(rows, columns=["layer", "title_zh", "title_en", "features", "features_with_errors", "rows",
                                       "pass_rate"]).sort_values("layer").reset_index(drop=True)
