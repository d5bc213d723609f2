"""``surveytools responsibility …`` operations (and the matching Processing algorithms)."""
from __future__ import annotations

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Param, Result, group, operation

group("responsibility", Text("责任单位：部门名录、派遣矩阵（主责、协办、处置时限、立案结案条件）、部件和事件的责任分配",
                             "Responsible units: department registry, dispatch matrix (lead and co-units, deadlines, "
                             "filing and closing conditions), assignment of components and events"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")
XLSX = "Excel (*.xlsx)"


def _places(proj):
    """(streets, communities, responsibility areas) frames with library column names (may be empty)."""
    import pandas as pd

    from ..gpkg import list_layers
    from ..project import read_layer

    prof = proj.profile
    sf = lambda r: prof.field("street", r)  # noqa: E731
    cf = lambda r: prof.field("community", r)  # noqa: E731
    s = read_layer(proj, "street")
    streets = pd.DataFrame({"street_code": s[sf("street_code")].astype(str), "street_name": s[sf("street_name")].astype(str)})
    c = read_layer(proj, "community")
    comms = pd.DataFrame({"community_code": c[cf("community_code")].astype(str),
                          "community_name": c[cf("community_name")].astype(str)})
    areas = pd.DataFrame({"area_code": [], "name": []})
    key = "responsibility_area"
    if key in prof.layers and prof.layer(key).table in list_layers(proj.path):
        a = read_layer(proj, key)
        areas = pd.DataFrame({"area_code": a[prof.field(key, "area_code")].astype(str),
                              "name": a[prof.field(key, "name")].astype(str)})
    return streets, comms, areas


def _area_codes(proj, streets, comms, areas) -> dict:
    from ..gpkg import list_layers
    from ..project import read_layer

    codes = {"street": set(streets["street_code"]), "community": set(comms["community_code"]),
             "responsibility_area": set(areas["area_code"])}
    if proj.profile.layer("responsibility_grid").table in list_layers(proj.path):
        g = read_layer(proj, "responsibility_grid", columns=[proj.profile.field("responsibility_grid", "grid_code")])
        codes["responsibility_area"] |= set(g.iloc[:, 0].astype(str))
    return codes


def load_inputs(proj, departments_file=None, matrix_file=None, *, reset_matrix=False):
    """(departments, matrix, issue rows, warnings) for a project: files override the project's tables;
    a project without a matrix gets the profile defaults."""
    from . import matrix as mx
    from . import registry as rg

    streets, comms, areas = _places(proj)
    issues, warnings = [], []
    if departments_file:
        depts, di, dw = rg.normalise(rg.read_table_file(departments_file), proj.profile, source=str(departments_file),
                                     streets=streets)
        issues += di
        warnings += dw
    else:
        depts = rg.read_departments(proj)
        if not len(depts):
            raise SurveyError(Text("项目中还没有部门名录；请用 --departments 给出部门表（XLSX）",
                                   "the project holds no department registry yet; give one with --departments (XLSX)"),
                              code="no_departments", file=str(proj.path), layer="departments",
                              hint=Text("示例：sample_data/guixi/survey/departments.xlsx", "example: sample_data/guixi/survey/departments.xlsx"))
        depts, _ = rg.infer_street_offices(depts, streets)
    names = mx.area_name_map(streets, comms, areas, proj.county, proj.meta.get("county_name", ""))
    if matrix_file:
        matrix = mx.from_xlsx(matrix_file, proj.profile, depts, names)
    else:
        matrix = None if reset_matrix else mx.read_matrix(proj)
        if matrix is None or not len(matrix):
            matrix, mi = mx.from_defaults(proj.profile, depts, proj.county)
            issues += mi
            warnings.append(Text(f"派遣矩阵取自标准配置 {proj.profile.id} 的默认值（{len(matrix)} 行，重建值，发布前请按本市指挥手册核对）",
                                 f"the dispatch matrix comes from the defaults of profile {proj.profile.id} ({len(matrix)} rows, "
                                 "reconstructions: check them against the city's command manual before a release)"))
        matrix = mx.derive(matrix, proj.profile, depts, names)
    issues += rg.street_issues(depts, streets)
    issues += mx.check(matrix, proj.profile, depts, proj.county, _area_codes(proj, streets, comms, areas))
    return depts, matrix, issues, warnings


@operation("responsibility", "departments",
           help=Text("部门名录（名称、统一社会信用代码或本地代码、角色 主管/权属/养护/处置、上级部门、联系人、电话、所辖街道）："
                     "从 XLSX 导入到项目库，或从项目库导出为 XLSX。",
                     "Department registry (name, unified social credit code or local code, role 主管/权属/养护/处置, "
                     "parent unit, contact, phone, street of a street office): import from XLSX into the project, or "
                     "export the project's registry to XLSX."),
           params=[P_PROJECT,
                   Param("import", "file_in", Text("要导入的部门表（XLSX 或 CSV）", "Department table to import (XLSX or CSV)"),
                         file_filter=XLSX),
                   Param("export", "file_out", Text("导出部门名录到此 XLSX", "Export the registry to this XLSX"), file_filter=XLSX)])
def departments(project, feedback=None, **kw) -> Result:
    from ..project import Project
    from . import registry as rg
    from .common import issues_frame

    feedback = feedback or Feedback()
    src, dst = kw.get("import"), kw.get("export")
    if not src and not dst:
        raise SurveyError(Text("请给出 --import 或 --export", "give --import or --export"), code="no_action")
    proj = Project.open(project)
    issues, warnings = [], []
    if src:
        streets, _, _ = _places(proj)
        depts, issues, warnings = rg.normalise(rg.read_table_file(src), proj.profile, source=str(src), streets=streets)
        issues += rg.street_issues(depts, streets)
        feedback.progress(50)
        with proj.transaction() as work:
            rg.write_departments(work, depts)
    else:
        depts = rg.read_departments(proj)
    if dst:
        rg.export_xlsx(depts, proj.profile, dst)
    feedback.progress(100)
    for i in issues:
        warnings.append(Text(i["message_zh"], i["message_en"]))
    offices = rg.street_offices(depts)
    summary = Text(f"部门名录 {len(depts)} 个部门（街道办事处 {len(offices)} 个）" + (f"，已导入自 {src}" if src else "") +
                   (f"，已导出到 {dst}" if dst else "") + f"；{len(issues)} 个问题。",
                   f"Department registry: {len(depts)} departments ({len(offices)} street offices)" +
                   (f", imported from {src}" if src else "") + (f", exported to {dst}" if dst else "") + f"; {len(issues)} issues.")
    outputs = {"PROJECT": str(proj.path)}
    if dst:
        outputs["EXPORT"] = str(dst)
    return Result(summary, data={"departments": len(depts), "street_offices": offices,
                                 "issues": issues_frame(issues).to_dict("records")},
                  outputs=outputs, warnings=warnings)


@operation("responsibility", "matrix",
           help=Text("派遣矩阵（每个部件/事件类别或大类在各区域的主责单位、协办单位、紧急/一般处置时限、立案条件、结案条件）："
                     "从 XLSX 导入、导出为 XLSX，或按标准配置的默认值重建。",
                     "Dispatch matrix (per component or event class or major class and area: lead unit, co-units, "
                     "urgent/normal deadlines, filing and closing conditions): import from XLSX, export to XLSX, or "
                     "rebuild from the profile's defaults."),
           params=[P_PROJECT,
                   Param("import", "file_in", Text("要导入的派遣矩阵（XLSX）", "Matrix to import (XLSX)"), file_filter=XLSX),
                   Param("export", "file_out", Text("导出派遣矩阵到此 XLSX", "Export the matrix to this XLSX"), file_filter=XLSX),
                   Param("reset", "bool", Text("按标准配置默认值重建", "Rebuild from the profile's defaults"), default=False)])
def matrix(project, feedback=None, reset=False, **kw) -> Result:
    from ..project import Project
    from . import matrix as mx
    from .common import issues_frame

    feedback = feedback or Feedback()
    src, dst = kw.get("import"), kw.get("export")
    proj = Project.open(project)
    depts, m, issues, warnings = load_inputs(proj, None, src, reset_matrix=reset)
    feedback.progress(50)
    existing = mx.read_matrix(proj)
    if src or reset or existing is None or not len(existing):
        with proj.transaction() as work:
            mx.write_matrix(work, m)
    if dst:
        mx.to_xlsx(m, proj.profile, dst)
    feedback.progress(100)
    n_err = sum(1 for i in issues if i["severity"] == "error")
    summary = Text(f"派遣矩阵 {len(m)} 行（部件 {int((m['kind'] == 'component').sum())}，事件 {int((m['kind'] == 'event').sum())}）"
                   + (f"，已导出到 {dst}" if dst else "") + f"；{len(issues)} 个问题（{n_err} 个错误）。",
                   f"Dispatch matrix: {len(m)} rows ({int((m['kind'] == 'component').sum())} component, "
                   f"{int((m['kind'] == 'event').sum())} event)" + (f", exported to {dst}" if dst else "") +
                   f"; {len(issues)} issues ({n_err} errors).")
    outputs = {"PROJECT": str(proj.path)}
    if dst:
        outputs["EXPORT"] = str(dst)
    return Result(summary, data={"rows": len(m), "issues": issues_frame(issues).to_dict("records")}, outputs=outputs,
                  warnings=warnings)


@operation("responsibility", "assign",
           help=Text("责任分配：部件的主管/权属/养护单位依次取自调查属性、责任区域面、类别默认值（派遣矩阵），都没有时由属地街道兜底；"
                     "事件按类别和所在街道（社区、责任区域）确定主责和协办单位及处置时限。冲突和缺漏写入 responsibility_issues 表。",
                     "Assign responsible units: a component's 主管/权属/养护 units come from its survey attributes, then "
                     "responsibility-area polygons, then the class default (dispatch matrix), else the street office "
                     "(属地兜底); events get lead and co-units and deadlines by class and street (community, "
                     "responsibility area). Conflicts and gaps go to the table responsibility_issues."),
           params=[P_PROJECT,
                   Param("matrix", "file_in", Text("派遣矩阵（XLSX），替换项目中的矩阵", "Dispatch matrix (XLSX) replacing the project's"),
                         file_filter=XLSX),
                   Param("departments", "file_in", Text("部门表（XLSX），替换项目中的部门名录", "Department table (XLSX) replacing the project's registry"),
                         file_filter=XLSX)])
def assign(project, matrix=None, departments=None, feedback=None) -> Result:
    import pandas as pd

    from ..gpkg import list_layers
    from ..project import Project, read_layer, write_project_layer
    from . import matrix as mx
    from . import registry as rg
    from .assign import Context, assign_components, assign_events
    from .common import ASSIGNMENTS_TABLE, ISSUES_TABLE, issues_frame

    feedback = feedback or Feedback()
    proj = Project.open(project)
    depts, m, issues, warnings = load_inputs(proj, departments, matrix)
    feedback.progress(10)
    ctx = Context(proj, depts, m)
    layers = set(list_layers(proj.path))
    out_layers, frames = {}, []
    keys = [k for k in ("component_point", "component_line", "component_polygon") if proj.table(k) in layers]
    for i, key in enumerate(keys):
        gdf = read_layer(proj, key)
        if len(gdf):
            new, rows, iss = assign_components(ctx, gdf, key)
            out_layers[key] = new
            frames.append(rows)
            issues += iss
        feedback.progress(10 + 60 * (i + 1) / max(1, len(keys)))
    if proj.table("event") in layers:
        ev = read_layer(proj, "event")
        if len(ev):
            new, rows, iss = assign_events(ctx, ev)
            out_layers["event"] = new
            frames.append(rows)
            issues += iss
    feedback.progress(75)
    table = pd.concat(frames, ignore_index=True) if frames else None
    issues_df = issues_frame(issues)
    with proj.transaction() as work:
        rg.write_departments(work, depts)
        mx.write_matrix(work, m)
        for key, gdf in out_layers.items():
            write_project_layer(work, key, gdf)
            feedback.progress(75 + 15 * (list(out_layers).index(key) + 1) / len(out_layers))
        _write_frame(work, ASSIGNMENTS_TABLE, table)
        _write_frame(work, ISSUES_TABLE, issues_df)
    feedback.progress(100)
    n_comp = int((table["kind"] == "component").sum()) if table is not None else 0
    n_ev = int((table["kind"] == "event").sum()) if table is not None else 0
    stats = {}
    if table is not None and len(table):
        stats = {k: {str(a): int(b) for a, b in v.items()} for k, v in
                 table.groupby("kind")["lead_source"].value_counts().unstack(fill_value=0).to_dict("index").items()}
    sev = issues_df["severity"].value_counts().to_dict()
    summary = Text(f"已分配 {n_comp} 个部件和 {n_ev} 个事件的责任单位（部门 {len(depts)} 个，派遣矩阵 {len(m)} 行）；"
                   f"问题 {len(issues_df)} 条（错误 {sev.get('error', 0)}，警告 {sev.get('warning', 0)}，提示 {sev.get('info', 0)}），"
                   f"见表 {ISSUES_TABLE}。",
                   f"Assigned responsible units to {n_comp} components and {n_ev} events ({len(depts)} departments, "
                   f"{len(m)} matrix rows); {len(issues_df)} issues ({sev.get('error', 0)} errors, {sev.get('warning', 0)} "
                   f"warnings, {sev.get('info', 0)} notes), see table {ISSUES_TABLE}.")
    return Result(summary, data={"components": n_comp, "events": n_ev, "departments": len(depts), "matrix_rows": len(m),
                                 "lead_sources": stats, "issues": issues_df.to_dict("records")},
                  outputs={"PROJECT": str(proj.path)}, warnings=warnings)


def _write_frame(work, name, df) -> None:
    """Write a report table through Arrow (fast for a million assignment rows)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from ..gpkg import write_layer

    if df is None:
        df = pd.DataFrame({"kind": pd.Series([], dtype=object)})
    cols = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_integer_dtype(s):
            cols[c] = pa.array(s.to_numpy(), pa.int64())
        elif pd.api.types.is_float_dtype(s):
            cols[c] = pa.array(s.to_numpy(dtype="float64"), pa.float64(), from_pandas=True)
        else:
            v = s.to_numpy(dtype=object)
            v = np.where(pd.isna(v), None, v)
            cols[c] = pa.array([None if x is None else str(x) for x in v], pa.string()) if len(v) < 50000 else \
                pa.array(pd.Series(v, dtype="string"), pa.string(), from_pandas=True)
    write_layer(work.path, name, pa.table(cols))
