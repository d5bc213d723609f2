"""``surveytools validate …`` operations (and the matching Processing algorithms).

``validate run``     run a check scheme: errors.gpkg, report.html, report.xlsx in --out, the
                     validation tables in the project; exit code 2 on FAIL
``validate accept``  accept a false positive: later runs keep it out of the verdict
``validate rules``   list the rule catalogue and a profile's scheme
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Output, Param, Result, group, operation

group("validate", Text("质检：按检查方案运行规则目录中的规则，输出错误图层和合格报告",
                       "Validation (质检): run the rules of a check scheme; error layers and a pass/fail report"),
      default="run")

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")
ACCEPTED_TABLE = "validation_accepted"
#: environment variable: features per chunk of a large component layer (0: whole layers)
CHUNK_ENV = "SURVEYTOOLS_VALIDATE_CHUNK_ROWS"


@operation("validate", "run",
           help=Text("按检查方案（默认：标准配置的 default 方案）检查调查项目库：编码、属性、几何、拓扑、空间关系和位置精度。"
                     "在输出目录写出错误图层 errors.gpkg（点、线、面和无几何的表，带真实的错误几何）、report.html 和 "
                     "report.xlsx（按规则和图层统计、各图层合格率、各步骤结果、通过/不通过结论），并把结果写入项目库的 "
                     "validation_* 表。结论为不通过时以状态 2 退出。",
                     "Check a survey project with a check scheme (default: the profile's default scheme): codes, "
                     "attributes, geometry, topology, spatial relations and position accuracy. Writes the error layers "
                     "errors.gpkg (points, lines, polygons and a table for rows without geometry, with the real error "
                     "geometry), report.html and report.xlsx (counts per rule and layer, pass rate per layer, step "
                     "outcomes, PASS/FAIL verdict) into the output folder, and the results into the project's "
                     "validation_* tables. A FAIL verdict is a result: the outputs are written and returned (in "
                     "Processing as the outputs VERDICT, ERRORS_POINT … usable in graphical models); only the command "
                     "line exits with status 2 on FAIL."),
           display=Text("质检（运行检查方案）", "Validate (run a check scheme)"),
           outputs=[
               Output("verdict", "string", Text("结论（PASS 通过 / FAIL 不通过）", "Verdict (PASS / FAIL)")),
               Output("error_count", "number", Text("未接受的错误数", "Open errors")),
               Output("warning_count", "number", Text("未接受的警告数", "Open warnings")),
               Output("errors", "file", Text("错误图层 GeoPackage（errors.gpkg）", "Error layers GeoPackage (errors.gpkg)")),
               Output("errors_point", "vector", Text("点状错误", "Point errors")),
               Output("errors_line", "vector", Text("线状错误", "Line errors")),
               Output("errors_polygon", "vector", Text("面状错误", "Polygon errors")),
               Output("errors_table", "vector", Text("无几何的错误", "Errors without geometry")),
               Output("report_html", "file", Text("质检报告（HTML）", "Report (HTML)")),
               Output("report_xlsx", "file", Text("质检报告（XLSX）", "Report (XLSX)")),
           ],
           params=[
               P_PROJECT,
               Param("out", "dir_out", Text("输出目录", "Output folder"), required=True),
               Param("scheme", "string", Text("检查方案：名称（在标准配置的 schemes/ 中查找）或 YAML 文件路径",
                                              "Check scheme: a name (looked up in the profile's schemes/) or a YAML file"),
                     default="default", widget="scheme"),
               Param("checkpoints", "layer_in", Text("检查点图层（独立测量的点，带部件标识码），用于位置精度检查",
                                                     "Check points (independently measured, with the component ID) for the "
                                                     "position accuracy check"), widget="point"),
               Param("checkpoint_id_field", "string", Text("检查点的部件标识码字段（默认自动识别）",
                                                           "Component ID field of the check points (detected by default)")),
               Param("write_project", "bool", Text("把结果写入项目库的 validation_* 表", "Write the results into the project's validation_* tables"),
                     default=True),
           ])
def run(project, out, scheme="default", checkpoints=None, checkpoint_id_field=None, write_project=True,
        feedback=None) -> Result:
    from ..gpkg import atomic_output
    from ..project import Project
    from .accept import read_accepted
    from .catalogue import load_catalogue
    from .context import Context
    from .engine import run_scheme
    from .report import counts_json, verdict_text, write_error_layers, write_html, write_project_tables, write_xlsx
    from .rules.accuracy import checkpoint_id_column
    from .scheme import load_scheme

    feedback = feedback or Feedback()
    proj = Project.open(project)
    catalogue = load_catalogue()
    sch = load_scheme(scheme, proj.profile, catalogue)
    cp = None
    if checkpoints:
        from ..io import read_vector

        cp, _src = read_vector(checkpoints, to_crs=proj.crs)
    ctx = Context.from_project(proj, checkpoints=cp)
    if cp is not None:
        ctx.cache["checkpoint_id_field"] = checkpoint_id_column(ctx, cp, checkpoint_id_field)
    feedback.progress(2)
    result = run_scheme(ctx, sch, catalogue, accepted=read_accepted(proj), feedback=feedback, start=2, end=85,
                        chunk_size=chunk_rows())
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise SurveyError(Text("输出路径不是目录", "the output path is not a folder"), code="not_dir", file=str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_dir / "errors.gpkg", overwrite=True) as tmp:
        layer_counts = write_error_layers(tmp, result.errors, proj.crs)
    feedback.progress(90)
    for name, writer, suffix in (("report.html", write_html, ".html"), ("report.xlsx", write_xlsx, ".xlsx")):
        with atomic_output(out_dir / name, overwrite=True, suffix=suffix) as tmp:
            writer(tmp, result, proj.path, proj.profile.id)
    feedback.progress(94)
    extra = {"profile": proj.profile.id, "out": str(out_dir)}
    if write_project:
        with proj.transaction() as work:
            write_project_tables(work, result, {**extra, "project": str(proj.path)})
    feedback.progress(100)
    counts = result.counts()
    errors_gpkg = str(out_dir / "errors.gpkg")
    outputs = {"ERRORS": errors_gpkg, "REPORT_HTML": str(out_dir / "report.html"),
               "REPORT_XLSX": str(out_dir / "report.xlsx"), "PROJECT": str(proj.path), "VERDICT": result.verdict,
               "ERROR_COUNT": counts["errors"], "WARNING_COUNT": counts["warnings"],
               **{name.upper(): f"{errors_gpkg}|layername={name}" for name in layer_counts}}
    data = {"verdict": result.verdict, "counts": counts, "scheme": {"id": sch.id, "path": sch.path},
            "steps": [s.as_dict() for s in result.steps], "layers": result.layers.to_dict("records"),
            "per_rule": result.per_rule().to_dict("records"), "error_layers": layer_counts}
    summary = verdict_text(result)
    summary = Text(summary.zh + f"；报告：{out_dir / 'report.html'}", summary.en + f"; report: {out_dir / 'report.html'}")
    failure = None
    if result.verdict == "FAIL":  # a result, not an exception: the CLI alone turns it into exit status 2
        failure = SurveyError(summary, code="validation_failed", file=str(out_dir / "report.html"),
                              value=counts_json(result),
                              hint=Text("错误图层见 errors.gpkg；误报可用 surveytools validate accept 接受",
                                        "see the error layers in errors.gpkg; accept false positives with "
                                        "surveytools validate accept"))
    return Result(summary, data=data, outputs=outputs, failure=failure)


def chunk_rows() -> int:
    """Features per chunk of a large component layer (:mod:`.chunks`): ``$SURVEYTOOLS_VALIDATE_CHUNK_ROWS``
    (0: every layer whole) or 500,000."""
    from .chunks import DEFAULT_CHUNK_ROWS

    try:
        return max(int(os.environ.get(CHUNK_ENV) or DEFAULT_CHUNK_ROWS), 0)
    except ValueError:
        return DEFAULT_CHUNK_ROWS


@operation("validate", "accept",
           help=Text("接受一条误报：把（规则、图层、要素、字段）和理由记入项目库的 validation_accepted 表，以后的质检仍列出它，"
                     "但标为“已接受”，不计入结论。",
                     "Accept a false positive: record (rule, layer, feature, field) and the reason in the project's "
                     "validation_accepted table; later runs still list it, marked accepted, and leave it out of the "
                     "verdict."),
           params=[
               P_PROJECT,
               Param("rule", "string", Text("规则标识（如 geometry.duplicate）", "Rule id (e.g. geometry.duplicate)"), required=True),
               Param("layer", "string", Text("图层（表名，如 components_point）", "Layer (table name, e.g. components_point)"),
                     required=True),
               Param("feature_id", "string", Text("要素标识（错误记录中的 feature_id）", "Feature id (feature_id of the error row)")),
               Param("field", "string", Text("字段（错误记录中的 field）", "Field (field of the error row)")),
               Param("note", "string", Text("接受理由（必填，与记录一起保存）", "Why it is accepted (required, stored with the row)"),
                     required=True),
           ])
def accept(project, rule, layer, feature_id=None, field=None, note=None, feedback=None) -> Result:
    from ..project import Project
    from .accept import add_accepted
    from .catalogue import load_catalogue

    if not (note or "").strip():
        raise SurveyError(Text("接受误报必须说明理由", "a false positive needs a reason"), code="reason_missing",
                          field="note", value=note or "", hint=Text("用 --note 写明为什么这不是错误",
                                                                  "say with --note why this is not an error"))
    proj = Project.open(project)
    if rule not in load_catalogue():
        raise SurveyError(Text("规则不在规则目录中", "the rule is not in the catalogue"), code="unknown_rule", field="rule",
                          value=rule)
    n = add_accepted(proj, rule, layer, feature_id, field, note, user=os.environ.get("USER", ""))
    return Result(Text(f"已接受：{rule} {layer} {feature_id or ''} {field or ''}（共 {n} 条已接受记录）",
                       f"accepted: {rule} {layer} {feature_id or ''} {field or ''} ({n} accepted rows in all)"),
                  data={"accepted": n}, outputs={"PROJECT": str(proj.path)})


@operation("validate", "rules",
           help=Text("列出质检规则目录，以及某个标准配置的检查方案中的步骤。",
                     "List the validation rule catalogue and the steps of a profile's check scheme."),
           params=[
               Param("profile", "string", Text("标准配置", "Profile"), default="cjt"),
               Param("scheme", "string", Text("检查方案名称或文件", "Check scheme name or file"), default="default", widget="scheme"),
           ])
def rules(profile="cjt", scheme="default", feedback=None) -> Result:
    from ..profiles import load_profile
    from .catalogue import load_catalogue
    from .scheme import load_scheme

    prof = load_profile(profile)
    cat = load_catalogue()
    sch = load_scheme(scheme, prof, cat)
    lines_zh = [f"规则目录（{len(cat)} 条规则）；检查方案 {sch.id}（{sch.path}）："]
    lines_en = [f"Rule catalogue ({len(cat)} rules); scheme {sch.id} ({sch.path}):"]
    for i, s in enumerate(sch.steps, 1):
        r = cat[s.rule]
        lines_zh.append(f"  {i:>2}. {s.id:<34} {s.on_fail:<6} {s.severity or r.severity:<7} {r.title.zh}")
        lines_en.append(f"  {i:>2}. {s.id:<34} {s.on_fail:<6} {s.severity or r.severity:<7} {r.title.en}")
    return Result(Text("\n".join(lines_zh), "\n".join(lines_en)),
                  data={"rules": [{"id": r.id, "category": r.category, "severity": r.severity, "title": r.title.as_dict(),
                                   "params": r.params, "definition": r.definition} for r in cat.values()],
                        "scheme": {"id": sch.id, "path": sch.path,
                                   "steps": [{"id": s.id, "rule": s.rule, "on_fail": s.on_fail, "params": s.params,
                                              "severity": s.severity} for s in sch.steps]}})
