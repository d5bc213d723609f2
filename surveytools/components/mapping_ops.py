"""``surveytools components mapping``: the proposed field and class mapping of a survey file, as
data for the QGIS mapping dialog and as the YAML ``components intake --mapping`` reads.

It is the first half of intake (read, match exactly, rank suggestions) without importing
anything: every source column with its profile field (exact matches filled in, the rest
``UNMAPPED`` with ranked suggestions), every distinct class value with its class, and the lists
of the profile's fields and classes a person may choose from.
"""
from __future__ import annotations

from ..i18n import Text
from ..ops import Output, Param, Result, operation
from .ops import P_MAPPING, P_PROJECT, P_SOURCE


@operation("components", "mapping",
           help=Text("字段与类别对照建议：读取普查数据，列出每个源字段对应的标准字段和每个类别值对应的类别（完全一致的已填写，"
                     "其余为 UNMAPPED 并按相似度给出建议），写出 components intake --mapping 使用的对照表 YAML，不导入任何数据。"
                     "QGIS 中由“字段与类别对照”对话框显示和编辑。",
                     "Proposed field and class mapping: read the survey data and list the profile field of every "
                     "source column and the class of every class value (exact matches filled in, the rest UNMAPPED "
                     "with ranked suggestions); writes the mapping YAML that components intake --mapping reads and "
                     "imports nothing. In QGIS the 'Field and class mapping' dialog shows and edits it."),
           display=Text("字段与类别对照建议", "Propose the field and class mapping"),
           outputs=[Output("unmapped", "number", Text("未对应的字段和类别值", "Unmapped columns and class values"))],
           params=[P_PROJECT, P_SOURCE,
                   Param("out", "file_out", Text("对照表（YAML）", "Mapping file (YAML)"), file_filter="YAML (*.yaml)"),
                   P_MAPPING,
                   Param("layer", "enum", Text("部件或事件", "Components or events"), choices=("component", "event"),
                         default="component")])
def mapping(project, source, out=None, mapping=None, layer="component", feedback=None) -> Result:
    from ..project import Project
    from .mapping import COORD_ROLES, SKIP, _class_table, proposal_path, write_proposal
    from .prepare import prepare

    proj = Project.open(project)
    prop = prepare(proj, source, mapping=mapping, group=layer, feedback=feedback, propose_only=True)
    prof = proj.profile
    import shlex

    path = out or proposal_path(proj, prop["path"])
    cmd = (f"surveytools {'components' if layer == 'component' else 'events'} intake {shlex.quote(str(proj.path))} "
           f"{shlex.quote(str(source))} --mapping {shlex.quote(str(path))}")
    write_proposal(path, source=str(source), profile=prof, group=layer, field_matches=prop["matches"],
                   class_rows=prop["class_rows"], command=cmd)
    fields = prof.layer_fields(layer)
    table = _class_table(prof, layer)
    names = dict(zip(table["code"].astype(str), table["name"].astype(str)))
    field_rows = [{"column": m.column, "role": m.role, "how": m.how,
                   "suggestions": [{"role": r, "score": s, "why": w} for r, s, w in m.suggestions]}
                  for m in prop["matches"]]
    class_rows = [{"value": r["value"], "column": r["column"], "count": r["count"], "code": r["code"], "how": r["how"],
                   "suggestions": [{"code": c, "name": names.get(c, ""), "score": s, "why": w}
                                   for c, s, w in r["suggestions"]]}
                  for r in prop["class_rows"]]
    unmapped = sum(1 for f in field_rows if not f["role"]) + sum(1 for c in class_rows if not c["code"])
    data = {"profile": prof.id, "layer": layer, "source": str(source), "mapping": str(path),
            "fields": field_rows, "classes": class_rows, "unmapped": unmapped,
            "targets": {"fields": [{"role": r, "name": n, "alias_zh": z, "alias_en": e}
                                   for r, n, z, e in zip(fields["role"], fields["name"], fields["alias_zh"],
                                                         fields["alias_en"])]
                        + [{"role": r, "name": r, "alias_zh": "坐标列", "alias_en": "coordinate column"}
                           for r in sorted(COORD_ROLES)],
                        "classes": [{"code": c, "name": n} for c, n in names.items()],
                        "skip": SKIP}}
    return Result(Text(f"对照表建议稿：{path}（{unmapped} 项未对应）", f"proposed mapping: {path} ({unmapped} unmapped)"),
                  data=data, outputs={"OUT": str(path), "UNMAPPED": unmapped})
