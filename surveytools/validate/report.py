"""Outputs of a validation run: error layers (GeoPackage), the HTML and XLSX reports, and the
validation tables written into the project for the QGIS plugin's results panel.

Error layers are split by geometry type: ``errors_point``, ``errors_line``, ``errors_polygon``
and ``errors_table`` (rows without geometry).  Columns: rule_id, category, severity, layer,
feature_fid (the feature's GeoPackage fid), feature_id (its code, else the fid), field, value,
message_zh, message_en, step, status (open / accepted / ignored).
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..i18n import Text
from ..issues import VALIDATE
from .engine import OUTCOME_NAMES

KINDS = {"point": (0, 4), "line": (1, 5), "polygon": (3, 6)}
ERROR_COLUMNS = list(VALIDATE.columns)  # the one issue row, in validation's column names
HTML_ROW_LIMIT = 2000


def split_by_geometry(errors) -> dict:
    """{"point"|"line"|"polygon"|"table": rows} by the type of the error geometry (rows without
    geometry, and geometry collections, go to "table")."""
    import shapely

    geoms = np.asarray(errors.geometry.values, dtype=object)
    tid = shapely.get_type_id(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    out = {kind: errors[np.isin(tid, ids) & ~empty] for kind, ids in KINDS.items()}
    out["table"] = errors[empty | ~np.isin(tid, (0, 1, 3, 4, 5, 6))]
    return out


def _arrow(rows, geometry: bool, multi: bool = False) -> pa.Table:
    import shapely

    attrs = VALIDATE.table(pd.DataFrame(rows.drop(columns="geometry", errors="ignore")))
    cols = {c: attrs.column(c) for c in attrs.column_names}
    if geometry:
        g = np.asarray(rows.geometry.values, dtype=object)
        if multi:
            single = np.isin(shapely.get_type_id(g), (0, 1, 3))
            if single.any():
                g = g.copy()
                tid = shapely.get_type_id(g[single])
                fn = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}
                conv = np.empty(single.sum(), dtype=object)
                for t, f in fn.items():
                    m = tid == t
                    if m.any():
                        conv[m] = f(g[single][m], indices=np.arange(int(m.sum())))
                g[single] = conv
        cols["geom"] = pa.array(shapely.to_wkb(g), pa.binary())
    return pa.table(cols)


GEOM_TYPES = {"point": ("point", "multipoint"), "line": ("line", "multiline"), "polygon": ("polygon", "multipolygon")}


def write_error_layers(path, errors, crs, prefix: str = "errors_") -> dict:
    """Write the four error layers into the GeoPackage ``path``; returns {layer: rows}."""
    import shapely

    from ..gpkg import write_layer

    parts = split_by_geometry(errors)
    counts = {}
    for kind in ("point", "line", "polygon"):
        rows = parts[kind]
        multi = bool(len(rows)) and bool((shapely.get_type_id(np.asarray(rows.geometry.values, dtype=object)) >= 4).any())
        gtype = GEOM_TYPES[kind][1 if multi else 0]
        write_layer(path, prefix + kind, _arrow(rows, True, multi), geometry_type=gtype, crs=crs,
                    description=f"质检错误（{kind}）/ Validation errors ({kind})")
        counts[prefix + kind] = int(len(rows))
    write_layer(path, prefix + "table", _arrow(parts["table"], False))
    counts[prefix + "table"] = int(len(parts["table"]))
    write_error_styles(path, prefix)
    return counts


def write_error_styles(path, prefix: str = "errors_") -> None:
    """The QGIS default styles of the error layers (``layer_styles``): open errors red, open
    warnings orange, fixed green, accepted grey, report-only rows hidden."""
    from ..export.styles import error_style_rows, write_gpkg_styles

    write_gpkg_styles(path, error_style_rows({prefix + k: k for k in ("point", "line", "polygon")}))


def summary_rows(result, project_path, extra: dict) -> list[tuple[str, str]]:
    c = result.counts()
    return [("verdict", result.verdict), ("scheme", result.scheme.id), ("scheme_path", result.scheme.path),
            ("project", str(project_path)), ("errors", str(c["errors"])), ("warnings", str(c["warnings"])),
            ("accepted", str(c["accepted"])), ("ignored", str(c["ignored"])), *[(k, str(v)) for k, v in extra.items()]]


def steps_frame(result) -> pd.DataFrame:
    return pd.DataFrame([s.as_dict() for s in result.steps])


def write_project_tables(work, result, extra: dict) -> None:
    """validation_errors_{point,line,polygon,table}, validation_steps, validation_layers,
    validation_summary (inside the caller's project transaction)."""
    from ..project import write_table

    write_error_layers(work.path, result.errors, work.crs, prefix="validation_errors_")
    write_table(work, "validation_steps", steps_frame(result))
    write_table(work, "validation_layers", result.layers)
    # the project's own path, never the transaction's temporary copy
    s = summary_rows(result, extra.get("project", work.path), {k: v for k, v in extra.items() if k != "project"})
    write_table(work, "validation_summary", pd.DataFrame({"key": [k for k, _ in s], "value": [v for _, v in s]}))


# ----------------------------------------------------------------------------------------------
# HTML

HTML = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>质检报告 Validation report — {{ project_name }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eee}.PASS{color:#fff;background:#2e7d32;padding:.2em .8em}.FAIL{color:#fff;background:#c62828;padding:.2em .8em}
.failed{color:#c62828}.passed{color:#2e7d32}.num{text-align:right}.small{color:#666;font-size:.9em}
</style></head><body>
<h1>质检报告 / Validation report</h1>
<p>结论 / Verdict: <span class="{{ verdict }}">{{ verdict }}</span></p>
<table>
<tr><th>项目 / Project</th><td>{{ project }}</td></tr>
<tr><th>标准配置 / Profile</th><td>{{ profile }}</td></tr>
<tr><th>检查方案 / Scheme</th><td>{{ scheme_title.zh }} / {{ scheme_title.en }} <span class="small">({{ scheme_path }})</span></td></tr>
<tr><th>时间 / Time</th><td>{{ time }}</td></tr>
<tr><th>错误 / Errors</th><td class="num">{{ counts.errors }}</td></tr>
<tr><th>警告 / Warnings</th><td class="num">{{ counts.warnings }}</td></tr>
<tr><th>已接受 / Accepted</th><td class="num">{{ counts.accepted }}</td></tr>
<tr><th>仅报告 / Reported only (ignore)</th><td class="num">{{ counts.ignored }}</td></tr>
</table>
<h2>检查步骤 / Scheme steps</h2>
<table><tr><th>#</th><th>步骤 / Step</th><th>规则 / Rule</th><th>失败时 / On fail</th><th>结果 / Outcome</th>
<th>错误 / Errors</th><th>警告 / Warnings</th><th>已接受 / Accepted</th><th>说明 / Note</th><th>秒 / s</th></tr>
{% for s in steps %}<tr><td>{{ s.index }}</td><td>{{ s.id }}</td><td>{{ s.title_zh }}<br><span class="small">{{ s.title_en }}</span></td>
<td>{{ s.on_fail }}</td><td class="{{ s.outcome }}">{{ outcome_names[s.outcome].zh }} / {{ outcome_names[s.outcome].en }}</td>
<td class="num">{{ s.errors }}</td><td class="num">{{ s.warnings }}</td><td class="num">{{ s.accepted }}</td>
<td>{% if s.reason_zh %}{{ s.reason_zh }}<br><span class="small">{{ s.reason_en }}</span>{% endif %}</td><td class="num">{{ s.seconds }}</td></tr>
{% endfor %}</table>
<h2>各图层合格率 / Pass rate per layer</h2>
<p class="small">合格率 = 没有错误（严重程度 error，未接受）的要素数 / 要素数。Pass rate = features without an open error / features.</p>
<table><tr><th>图层 / Layer</th><th>要素 / Features</th><th>有错误的要素 / With errors</th><th>记录 / Rows</th><th>合格率 / Pass rate</th></tr>
{% for l in layers %}<tr><td>{{ l.layer }} <span class="small">{{ l.title_zh }} / {{ l.title_en }}</span></td><td class="num">{{ l.features }}</td>
<td class="num">{{ l.features_with_errors }}</td><td class="num">{{ l.rows }}</td>
<td class="num">{{ "%.2f%%"|format(l.pass_rate * 100) if l.pass_rate is not none else "–" }}</td></tr>
{% endfor %}</table>
<h2>按规则统计 / Counts per rule</h2>
<table><tr><th>规则 / Rule</th><th>严重程度 / Severity</th><th>状态 / Status</th><th>数量 / Count</th></tr>
{% for r in per_rule %}<tr><td>{{ r.rule_id }}</td><td>{{ r.severity }}</td><td>{{ r.status }}</td><td class="num">{{ r.count }}</td></tr>
{% endfor %}</table>
<h2>按图层统计 / Counts per layer</h2>
<table><tr><th>图层 / Layer</th><th>严重程度 / Severity</th><th>状态 / Status</th><th>数量 / Count</th></tr>
{% for r in per_layer %}<tr><td>{{ r.layer }}</td><td>{{ r.severity }}</td><td>{{ r.status }}</td><td class="num">{{ r.count }}</td></tr>
{% endfor %}</table>
{% if accuracy %}<h2>位置精度 / Position accuracy</h2>
<table><tr><th>等级 / Grade</th><th>检查点 / Points</th><th>中误差 / RMS (m)</th><th>最大误差 / Max (m)</th><th>限差 / Limit (m)</th><th>结果 / Result</th></tr>
{% for a in accuracy %}<tr><td>{{ a.grade }}</td><td class="num">{{ a.n }}</td>
<td class="num">{{ "%.3f"|format(a.rms) }}</td><td class="num">{{ "%.3f"|format(a.max_error) }}</td>
<td class="num">{{ a.limit }}</td><td>{% if not a.judged %}点数不足 / too few points{% elif a.passed %}合格 / pass{% else %}不合格 / fail{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
<h2>错误清单 / Error list</h2>
{% if rows_truncated %}<p class="small">仅列出前 {{ rows|length }} 条，共 {{ total_rows }} 条；完整清单见 errors.gpkg 和 report.xlsx。
Only the first {{ rows|length }} of {{ total_rows }} rows are listed; see errors.gpkg and report.xlsx for all.</p>{% endif %}
<table><tr><th>规则 / Rule</th><th>严重程度 / Severity</th><th>状态 / Status</th><th>图层 / Layer</th><th>fid</th>
<th>要素 / Feature</th><th>字段 / Field</th><th>值 / Value</th><th>说明 / Message</th></tr>
{% for r in rows %}<tr><td>{{ r.rule_id }}</td><td>{{ r.severity }}</td><td>{{ r.status }}</td>
<td>{{ r.layer }}</td><td>{{ r.feature_fid }}</td><td>{{ r.feature_id }}</td><td>{{ r.field }}</td>
<td>{{ r.value }}</td><td>{{ r.message_zh }}<br><span class="small">{{ r.message_en }}</span></td></tr>
{% endfor %}</table>
<p class="small">surveytools {{ version }} · 规则目录 / catalogue: standards/rules/catalogue.yaml</p>
</body></html>
"""


def _display_name(project_path) -> str:
    """The report's title: the GeoPackage's file name, or a PostGIS project's schema."""
    from .. import store

    return store.project_name(project_path) if store.is_postgres(project_path) else Path(str(project_path)).name


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in df.to_dict("records")]


def report_context(result, project_path, profile_id) -> dict:
    from .. import __version__

    e = result.errors
    listed = e.drop(columns="geometry").rename(columns={"fid": "feature_fid"})
    order = {"open": 0, "ignored": 1, "accepted": 2}
    listed = listed.assign(_o=listed["status"].map(order), _s=(listed["severity"] != "error").astype(int))
    listed = listed.sort_values(["_o", "_s", "rule_id"], kind="stable").drop(columns=["_o", "_s"])
    return {
        "project": str(project_path), "project_name": _display_name(project_path), "profile": profile_id,
        "scheme_title": result.scheme.title, "scheme_path": result.scheme.path, "verdict": result.verdict,
        "time": _dt.datetime.now().replace(microsecond=0).isoformat(), "counts": result.counts(),
        "steps": [s.as_dict() for s in result.steps], "outcome_names": OUTCOME_NAMES,
        "layers": _records(result.layers),
        "per_rule": _records(result.per_rule()), "per_layer": _records(result.per_layer().fillna("")),
        "accuracy": _records(result.accuracy) if result.accuracy is not None else None,
        "rows": _records(listed.head(HTML_ROW_LIMIT)), "rows_truncated": len(listed) > HTML_ROW_LIMIT,
        "total_rows": len(listed), "version": __version__,
    }


def write_html(path, result, project_path, profile_id) -> None:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(HTML).render(**report_context(result, project_path, profile_id))
    Path(path).write_text(html, encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# XLSX

XLSX_ROW_LIMIT = 100_000


def write_xlsx(path, result, project_path, profile_id) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "结论 Summary"
    bold = Font(bold=True)
    c = result.counts()
    for row in [("项目 Project", str(project_path)), ("标准配置 Profile", profile_id),
                ("检查方案 Scheme", f"{result.scheme.title.zh} / {result.scheme.title.en}"),
                ("方案文件 Scheme file", result.scheme.path), ("结论 Verdict", result.verdict),
                ("错误 Errors", c["errors"]), ("警告 Warnings", c["warnings"]), ("已接受 Accepted", c["accepted"]),
                ("仅报告 Reported only", c["ignored"])]:
        ws.append(list(row))
        ws.cell(ws.max_row, 1).font = bold
    v = ws.cell(5, 2)
    v.font = Font(bold=True, color="FFFFFF")
    v.fill = PatternFill("solid", fgColor="2E7D32" if result.verdict == "PASS" else "C62828")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60

    def sheet(title, df: pd.DataFrame, headers: dict | None = None, limit=None):
        s = wb.create_sheet(title)
        cols = list(df.columns)
        s.append([headers.get(col, col) if headers else col for col in cols])
        for cell in s[1]:
            cell.font = bold
        data = df if limit is None else df.head(limit)
        for rec in data.itertuples(index=False):
            s.append([None if (isinstance(x, float) and x != x) else (x if isinstance(x, (int, float, str)) or x is None else str(x))
                      for x in rec])
        s.freeze_panes = "A2"
        return s

    steps = steps_frame(result)
    sheet("步骤 Steps", steps, {"index": "#", "id": "步骤 step", "rule_id": "规则 rule", "title_zh": "名称", "title_en": "title",
                                "on_fail": "失败时 on_fail", "outcome": "结果 outcome", "errors": "错误 errors",
                                "warnings": "警告 warnings", "accepted": "已接受 accepted", "reason_zh": "说明",
                                "reason_en": "note", "seconds": "秒 s"})
    sheet("图层 Layers", result.layers,
          {"layer": "图层 layer", "title_zh": "名称", "title_en": "title", "features": "要素 features",
           "features_with_errors": "有错误的要素 with errors", "rows": "记录 rows", "pass_rate": "合格率 pass rate"})
    sheet("按规则 Per rule", result.per_rule(), {"rule_id": "规则 rule", "severity": "严重程度 severity",
                                               "status": "状态 status", "count": "数量 count"})
    sheet("按图层 Per layer", result.per_layer(), {"layer": "图层 layer", "severity": "严重程度 severity",
                                                "status": "状态 status", "count": "数量 count"})
    if result.accuracy is not None:
        sheet("精度 Accuracy", result.accuracy)
    e = VALIDATE.frame(pd.DataFrame(result.errors.drop(columns="geometry")))
    e["feature_fid"] = e["feature_fid"].astype(object).where(e["feature_fid"].notna(), None)
    s = sheet("错误 Errors", e, limit=XLSX_ROW_LIMIT)
    if len(e) > XLSX_ROW_LIMIT:
        s.append([f"仅列出前 {XLSX_ROW_LIMIT} 条，共 {len(e)} 条；完整清单见 errors.gpkg",
                  f"only the first {XLSX_ROW_LIMIT} of {len(e)} rows; see errors.gpkg for all"])
    from ..tabular import save_workbook

    save_workbook(wb, path, atomic=False)  # path is the caller's temporary file


def counts_json(result) -> str:
    return json.dumps({"verdict": result.verdict, **result.counts()}, ensure_ascii=False)


def verdict_text(result) -> Text:
    c = result.counts()
    return Text(f"质检结论：{'通过' if result.verdict == 'PASS' else '不通过'}（{result.verdict}）——错误 {c['errors']} 条，警告 {c['warnings']} 条，"
                f"已接受 {c['accepted']} 条，仅报告 {c['ignored']} 条",
                f"validation verdict: {result.verdict} — {c['errors']} errors, {c['warnings']} warnings, "
                f"{c['accepted']} accepted, {c['ignored']} reported only")
