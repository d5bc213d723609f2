"""``surveytools acceptance …`` operations (and the matching Processing algorithms).

``acceptance plan``    stratified random sample of unit grids; the ``acceptance_sample`` layer,
                       DIR/checklist.xlsx and the check package DIR/check/ (+ DIR/check.zip)
``acceptance record``  read the filled checklist or the returned check package into the project
                       (validated, all or nothing)
``acceptance report``  error, omission and position-error rates, RMS, per class and street, the
                       grade; DIR/report.html, report.xlsx, report.pdf
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Param, Result, group, operation

group("acceptance", Text("验收：分层随机抽样单元网格、现场检查记录、错误率/遗漏率/精度误差率和评级报告",
                         "Acceptance (验收): a stratified sample of unit grids, field check records, error / omission / "
                         "position-error rates and a graded report"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")


@operation("acceptance", "plan",
           help=Text("按街道分层随机抽取单元网格（每个街道至少 --min-per-street 个，按 --rate 比例；部件很少的类别也至少抽到一个网格），"
                     "同一种子结果相同。抽中网格写入项目的 acceptance_sample 图层，抽中部件清单写入 acceptance_items 表，"
                     "并在输出目录写出现场检查记录表 checklist.xlsx（检查记录、遗漏部件两个工作表）和抽中网格的 QField 检查包 check/"
                     "（及 check.zip：检查结果、偏差、实测检查点、遗漏部件图层；survey.qgz 需要 QGIS）。新方案会清空旧方案的检查记录。",
                     "Draw a stratified random sample of unit grids (per street at least --min-per-street, --rate of them; "
                     "a class with few components still gets a grid), reproducible with --seed. Writes the sampled grids "
                     "as the project's acceptance_sample layer, the sampled components as the acceptance_items table, and "
                     "the field checklist DIR/checklist.xlsx (sheets 检查记录 and 遗漏部件) and the QField check package of "
                     "the sampled grids DIR/check/ (and check.zip: result, offset, measured check points, missing "
                     "components; its survey.qgz needs QGIS). A new plan clears the check records of the old one."),
           params=[P_PROJECT,
                   Param("rate", "float", Text("抽样比例（0–1，如 0.1 = 10% 的单元网格）", "Sampling rate (0-1, e.g. 0.1 = 10 % of the unit grids)"),
                         required=True, minimum=0.0001, maximum=1.0),
                   Param("min_per_street", "int", Text("每个街道至少抽取的网格数", "Minimum grids per street"), default=1,
                         minimum=0, maximum=10000),
                   Param("seed", "int", Text("随机种子（不给则随机生成并记录）", "Random seed (drawn and recorded when not given)"),
                         minimum=0, maximum=2 ** 31 - 1),
                   Param("out", "dir_out", Text("输出目录（写 checklist.xlsx 和检查包 check/）",
                                                "Output folder (for checklist.xlsx and the check package check/)"), required=True),
                   Param("overwrite", "bool", Text("替换已有的抽样方案（其检查记录将被清空）",
                                                   "Replace an existing plan (its check records are cleared)"), default=False),
                   Param("package", "bool", Text("同时生成 QField 检查包（check/ 和 check.zip）",
                                                 "Also write the QField check package (check/ and check.zip)"), default=True),
                   Param("checker", "string", Text("检查员（检查包的项目变量 @surveyor，表单默认值）",
                                                   "Checker (the check package's project variable @surveyor, the forms' default)")),
                   Param("qgz", "bool", Text("检查包中写出 QField 项目 survey.qgz（需要 QGIS 的 qgis_process；找不到时只写 GeoPackage 和清单）",
                                             "Write the check package's QField project survey.qgz (needs QGIS's qgis_process; "
                                             "without it only the GeoPackage and the manifest are written)"), default=True)])
def plan(project, rate, out, min_per_street=1, seed=None, overwrite=False, package=True, checker=None, qgz=True,
         feedback=None) -> Result:
    from ..project import Project

    feedback = feedback or Feedback()
    proj = Project.open(project)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise SurveyError(Text("输出路径不是目录", "the output path is not a folder"), code="not_dir", file=str(out_dir))
    with proj.lock():  # what is read decides what is written: no other writer in between
        return _plan(proj, rate, out_dir, min_per_street, seed, overwrite, feedback, package, checker, qgz)


def _plan(proj, rate, out_dir, min_per_street, seed, overwrite, feedback, package=True, checker=None, qgz=True) -> Result:
    from ..gpkg import list_layers
    from .checklist import write_checklist
    from .record import CHECKS_TABLE
    from .sample import PLAN_TABLE, make_plan, write_plan

    names = set(list_layers(proj.path))
    if PLAN_TABLE in names and not overwrite:
        from .. import store

        recorded = CHECKS_TABLE in names and store.feature_count(proj.path, CHECKS_TABLE) > 0
        if recorded:
            raise SurveyError(Text("项目中已有验收抽样方案及其检查记录；如确需重新抽样（旧检查记录将被清空），请加 --overwrite",
                                   "the project already has an acceptance plan with check records; to draw a new one "
                                   "(clearing those records) add --overwrite"), code="plan_exists", file=str(proj.path),
                              layer=PLAN_TABLE)
    feedback.progress(5)
    p = make_plan(proj, rate, min_per_street, seed)
    feedback.progress(50)
    if p.unlocated:
        feedback.warning(Text(f"{p.unlocated} 个部件不在任何单元网格内，不参与抽样",
                              f"{p.unlocated} components lie in no unit grid and cannot be sampled"))
    out_dir.mkdir(parents=True, exist_ok=True)
    # the workbook first (atomic), then the project (one transaction): a failure leaves the project as it was
    write_checklist(out_dir / "checklist.xlsx", p.items, proj.profile.component_classes, p.meta, proj.meta.get("crs", ""))
    feedback.progress(60)
    warnings, pkg = [], None
    if package:  # the check package before the plan: a failure leaves the project without the new plan
        from ..field.package import package as field_package
        from ..qgisproject import find_qgis_process
        from .checkpkg import CheckScope

        use_qgz = bool(qgz) and find_qgis_process() is not None
        if qgz and not use_qgz:
            warnings.append(Text("找不到 QGIS（qgis_process）：检查包只有 survey.gpkg 和 manifest.json，没有 survey.qgz；"
                                 "可在装有 QGIS 的电脑上运行 surveytools project qgis check/survey.gpkg 补写",
                                 "QGIS (qgis_process) was not found: the check package holds survey.gpkg and manifest.json "
                                 "but no survey.qgz; write it on a computer with QGIS: surveytools project qgis "
                                 "check/survey.gpkg"))
        d = field_package(str(proj.path), "street", str(out_dir), surveyor=checker, mode="check", qgz=use_qgz,
                          overwrite=True, feedback=feedback.step(60, 90),
                          check=CheckScope(p.meta["plan_id"], p.grids, p.items))
        pkg = dict(d["packages"][0], qgz=use_qgz)
        pkg.pop("tmp", None)
    feedback.progress(90)
    with proj.transaction() as work:
        write_plan(work, p)
    feedback.progress(100)
    m = p.meta
    summary = Text(f"已抽样：{m['grids_sampled']}/{m['grids_total']} 个单元网格（{m['streets']} 个街道，"
                   f"其中 {m['grids_for_classes']} 个为覆盖稀有类别而加抽），"
                   f"{m['components_sampled']}/{m['components_total']} 个部件，{m['classes_sampled']}/{m['classes_total']} 个类别；"
                   f"种子 {m['seed']}，方案 {m['plan_id']}；检查记录表 {out_dir / 'checklist.xlsx'}",
                   f"Sampled {m['grids_sampled']}/{m['grids_total']} unit grids ({m['streets']} streets; {m['grids_for_classes']} added "
                   f"to cover rare classes), {m['components_sampled']}/{m['components_total']} components, "
                   f"{m['classes_sampled']}/{m['classes_total']} classes; seed {m['seed']}, plan {m['plan_id']}; checklist "
                   f"{out_dir / 'checklist.xlsx'}")
    if pkg is not None:
        summary = Text(summary.zh + f"；检查包 {pkg['folder']}（{pkg['zip']}）", summary.en + f"; check package {pkg['folder']} "
                       f"({pkg['zip']})")
    grids = sorted(p.grids["BGID"].astype(str))
    outputs = {"PROJECT": str(proj.path), "CHECKLIST": str(out_dir / "checklist.xlsx")}
    if pkg is not None:
        outputs.update(CHECK_PACKAGE=pkg["folder"], CHECK_ZIP=pkg["zip"])
    return Result(summary, data={**m, "grids": grids, "unlocated": p.unlocated, "package": pkg},
                  outputs=outputs, warnings=warnings)


@operation("acceptance", "record",
           help=Text("把填好的检查记录表（acceptance plan 生成的 checklist.xlsx）或返回的 QField 检查包（check/ 文件夹或 ZIP）"
                     "导入项目的 acceptance_checks 和 acceptance_missing 表。"
                     "未知标识码、不在抽样中的部件、列表外的检查结果、缺少或错误的坐标、错误的数字都会报错（指出工作表、行、列和值），"
                     "此时不导入任何内容。",
                     "Read the filled checklist (checklist.xlsx of acceptance plan) or the returned QField check package "
                     "(the check/ folder or its ZIP) into the project's acceptance_checks and "
                     "acceptance_missing tables. Unknown IDs, components outside the sample, results outside the list, "
                     "missing or bad coordinates and bad numbers are errors naming sheet, row, column and value; then nothing "
                     "is imported."),
           params=[P_PROJECT,
                   Param("checks", "file_in", Text("填好的检查记录表（.xlsx），或返回的检查包（ZIP、文件夹，或其中的 survey.gpkg / manifest.json）",
                                                   "Filled checklist (.xlsx), or the returned check package (ZIP, folder, or "
                                                   "its survey.gpkg / manifest.json)"), required=True,
                         positional=True, file_filter="Check records (*.xlsx *.zip *.gpkg *.json)")])
def record(project, checks, feedback=None) -> Result:
    from ..project import Project
    from .record import record as do_record

    feedback = feedback or Feedback()
    proj = Project.open(project)
    with proj.lock():  # the plan read for validation cannot change before the records are written
        rep = do_record(proj, checks, feedback)
    feedback.progress(100)
    r = rep["results"]
    summary = Text(f"已导入检查记录：检查 {rep['checked']} 个（正确 {r['正确']}、属性错误 {r['属性错误']}、位置错误 {r['位置错误']}、多余 {r['多余']}），"
                   f"遗漏 {rep['missing']} 个，未检查 {rep['unchecked'] + rep['not_listed']} 个（抽样 {rep['sampled']} 个）。",
                   f"Recorded the checks: {rep['checked']} checked (correct {r['正确']}, attribute errors {r['属性错误']}, "
                   f"position errors {r['位置错误']}, superfluous {r['多余']}), {rep['missing']} missing, "
                   f"{rep['unchecked'] + rep['not_listed']} not checked (of {rep['sampled']} sampled).")
    warnings = []
    if rep["unchecked"] + rep["not_listed"]:
        warnings.append(Text(f"{rep['unchecked'] + rep['not_listed']} 个抽样部件没有检查结果",
                             f"{rep['unchecked'] + rep['not_listed']} sampled components have no result"))
    return Result(summary, data=rep, outputs={"PROJECT": str(proj.path)}, warnings=warnings)


@operation("acceptance", "report",
           help=Text("计算验收结果：错误率 =（属性错误 + 多余）/ 检查数，遗漏率 = 遗漏 /（检查数 + 遗漏），精度误差率 =（位置错误或偏差超过该类别"
                     "位置精度等级的限差）/ 检查数，实测偏差的 RMS，按类别和街道分列；按 standards/acceptance/grading.yaml 的阈值"
                     "（本项目重建，城市可覆盖）评定 优/良/合格/不合格。在输出目录写出 report.html、report.xlsx、report.pdf（含抽样网格图）。",
                     "Compute the acceptance: error rate = (attribute errors + superfluous) / checked, omission rate = "
                     "missing / (checked + missing), position-error rate = (位置错误 or an offset beyond the tolerance of "
                     "the class's accuracy grade) / checked, the RMS of the measured offsets, per class and per street; "
                     "the grade 优/良/合格/不合格 from the thresholds of standards/acceptance/grading.yaml (our "
                     "reconstruction; a city overrides them). Writes report.html, report.xlsx and report.pdf (with a map "
                     "of the sampled grids) into the output folder."),
           params=[P_PROJECT,
                   Param("out", "dir_out", Text("输出目录", "Output folder"), required=True),
                   Param("thresholds", "file_in", Text("评级阈值文件（YAML，覆盖默认和本市配置中的阈值）",
                                                       "Grading thresholds (YAML; overrides the defaults and the city profile's)"),
                         file_filter="YAML (*.yaml *.yml)")])
def report(project, out, thresholds=None, feedback=None) -> Result:
    from ..gpkg import list_layers
    from ..project import Project
    from .rates import compute, load_thresholds
    from .record import CHECKS_TABLE, read_records
    from .report import build_report
    from .sample import read_plan, read_sample_grids

    feedback = feedback or Feedback()
    proj = Project.open(project)
    meta, items = read_plan(proj)
    if CHECKS_TABLE not in set(list_layers(proj.path)):
        raise SurveyError(Text("项目中还没有检查记录；请先运行 surveytools acceptance record",
                               "the project has no check records yet; run surveytools acceptance record first"),
                          code="no_checks", file=str(proj.path), layer=CHECKS_TABLE)
    th = load_thresholds(proj.profile, thresholds)
    checks, missing = read_records(proj)
    feedback.progress(10)
    res = compute(checks, missing, items, proj.profile, th)
    feedback.progress(30)
    rep = build_report(proj, out, res, th, meta, read_sample_grids(proj), items, missing, feedback)
    feedback.progress(100)
    o = res["overall"]

    def rnd(v):
        return None if v is None else round(float(v), 6)

    pct = lambda v: "—" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    rms = "—" if o["rms_m"] is None else f"{o['rms_m']:.3f}"
    summary = Text(f"验收评级：{o['grade']}；检查 {o['checked']} 个，错误率 {pct(o['error_rate'])}，遗漏率 {pct(o['omission_rate'])}，"
                   f"精度误差率 {pct(o['position_error_rate'])}，偏差 RMS {rms} 米；"
                   f"报告 {Path(out) / 'report.html'}",
                   f"Acceptance grade: {o['grade']} ({o['en']}); {o['checked']} checked, error rate {pct(o['error_rate'])}, "
                   f"omission rate {pct(o['omission_rate'])}, position-error rate {pct(o['position_error_rate'])}, offset RMS "
                   f"{rms} m; report {Path(out) / 'report.html'}")
    by_class = res["by_class"].where(res["by_class"].notna(), None).to_dict("records") if len(res["by_class"]) else []
    by_street = res["by_street"].where(res["by_street"].notna(), None).to_dict("records") if len(res["by_street"]) else []
    data = {"error_rate": rnd(o["error_rate"]), "omission_rate": rnd(o["omission_rate"]),
            "position_error_rate": rnd(o["position_error_rate"]), "checked": o["checked"], "grade": o["grade"],
            "grade_en": o["en"], "missing": o["missing"], "rms_m": rnd(o["rms_m"]), "overall": o,
            "by_class": by_class, "by_street": by_street, "thresholds": th["sources"], "plan_id": meta.get("plan_id", ""),
            "files": rep["files"], "pdf_pages": rep["pdf_pages"]}
    outputs = {"PROJECT": str(proj.path), "REPORT_HTML": str(Path(out) / "report.html"),
               "REPORT_XLSX": str(Path(out) / "report.xlsx"), "REPORT_PDF": str(Path(out) / "report.pdf")}
    return Result(summary, data=data, outputs=outputs)
