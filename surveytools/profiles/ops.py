"""CLI / Processing operations for standard profiles: ``profile list``, ``profile show`` and
``profile import-classes``."""
from __future__ import annotations

from .. import ops
from ..i18n import Text
from ..lazy import lazy_function
from ..ops import Param, Result, operation
from .light import list_profiles

# imported when an operation runs, never when the registry loads (the QGIS plugin loads it in QGIS)
class_origins = lazy_function("surveytools.profiles.extend", "class_origins")
import_classes = lazy_function("surveytools.profiles.importer", "import_classes")
summary_text = lazy_function("surveytools.profiles.importer", "summary_text")
load_profile = lazy_function("surveytools.profiles.loader", "load_profile")

ops.group("profile", Text("标准配置", "Standard profiles"))


@operation("profile", "list", Text("列出可用的标准配置（行业标准、国家标准、城市配置）",
                                   "List the available standard profiles (industry, national, city)"), params=[])
def profile_list(feedback=None) -> Result:
    items = list_profiles()
    rows = [{"id": p["id"], "status": p["status"], "edition": p["edition"], "extends": p["extends"],
             "title": p["title"], "path": p["path"]} for p in items]
    zh = "\n".join(f"{r['id']:<10} {r['status']:<14} {r['edition']}" + (f"（继承 {r['extends']}）" if r["extends"] else "")
                   for r in rows)
    en = "\n".join(f"{r['id']:<10} {r['status']:<14} {r['edition']}" + (f" (extends {r['extends']})" if r["extends"] else "")
                   for r in rows)
    return Result(summary=Text(f"{len(rows)} 个标准配置：\n{zh}", f"{len(rows)} profiles:\n{en}"), data={"profiles": rows})


@operation("profile", "show", Text("显示一个标准配置：编码结构、分类数量及来源、提示",
                                   "Show a profile: code structures, class counts by provenance, notice"),
           params=[Param("id", "string", Text("标准配置 id 或文件夹", "profile id or folder"), required=True,
                         positional=True)])
def profile_show(id: str, feedback=None) -> Result:
    p = load_profile(id)
    data = p.summary()
    data["component_origin"] = class_origins(p, "component")["origin"]
    data["event_origin"] = class_origins(p, "event")["origin"]
    data["notice"] = p.notice.as_dict() if p.notice else None
    codes_zh = "\n".join(f"  {k}: " + " + ".join(f"{n} {width}" for n, width in v.parts) + f" = {v.length}（{v.provenance}）"
                         for k, v in p.codes.items())
    codes_en = "\n".join(f"  {k}: " + " + ".join(f"{n} {width}" for n, width in v.parts) + f" = {v.length} ({v.provenance})"
                         for k, v in p.codes.items())

    def prov(d):
        return ", ".join(f"{k} {v}" for k, v in d.items())

    zh = (f"{p.id}：{p.title.zh}\n版本：{p.edition}；状态：{p.status}" + (f"；继承：{' -> '.join(p.chain[1:])}" if p.chain[1:] else "")
          + f"\n编码结构：\n{codes_zh}\n部件类别 {len(p.component_classes)} 个（{prov(data['component_provenance'])}）"
          + f"\n事件类别 {len(p.event_classes)} 个（{prov(data['event_provenance'])}）")
    en = (f"{p.id}: {p.title.en}\nedition: {p.edition}; status: {p.status}" + (f"; extends: {' -> '.join(p.chain[1:])}" if p.chain[1:] else "")
          + f"\ncode structures:\n{codes_en}\ncomponent classes: {len(p.component_classes)} ({prov(data['component_provenance'])})"
          + f"\nevent classes: {len(p.event_classes)} ({prov(data['event_provenance'])})")
    if p.notice:
        zh += f"\n提示：{p.notice.zh}"
        en += f"\nnotice: {p.notice.en}"
    return Result(summary=Text(zh, en), data=data)


@operation("profile", "import-classes",
           Text("导入本市正式的部件或事件分类表（XLSX 或 CSV，UTF-8/GBK），生成继承基础配置的城市配置和映射报告",
                "Import the city's official component or event class table (XLSX or CSV, UTF-8/GBK) into a city "
                "profile extending a base profile, with a mapping report"),
           params=[Param("source", "file_in", Text("正式分类表（XLSX 或 CSV）", "official class table (XLSX or CSV)"),
                         required=True, file_filter="分类表 / Class table (*.xlsx *.csv)"),
                   Param("base", "string", Text("基础标准配置", "base profile"), default="cjt"),
                   Param("kind", "enum", Text("分类表种类", "kind of table"), default="component",
                         choices=("component", "event")),
                   Param("out", "dir_out", Text("新城市配置的文件夹", "folder of the new city profile"), required=True),
                   Param("id", "string", Text("城市配置 id，如 guixi", "city profile id, e.g. guixi"), required=True),
                   Param("sheet", "string", Text("工作表名（XLSX，可选）", "sheet name (XLSX, optional)")),
                   Param("skip_invalid", "bool", Text("跳过无效行，只导入有效行", "skip invalid rows and import the valid ones"),
                         default=False)])
def profile_import_classes(source, out, id, base="cjt", kind="component", sheet=None, skip_invalid=False,
                           feedback=None) -> Result:
    res = import_classes(source, base=base, kind=kind, out=out, profile_id=id, sheet=sheet or None,
                         skip_invalid=bool(skip_invalid))
    data = {"profile_dir": str(res.profile_dir), "profile_id": id, "counts": res.counts, "written": res.written,
            "encoding": res.encoding, "sheet": res.sheet, "columns": res.columns,
            "report": res.report.fillna("").astype(str).to_dict(orient="records")}
    warnings = []
    if res.counts["invalid"]:
        warnings.append(Text(f"跳过了 {res.counts['invalid']} 行无效数据，见 mapping_report.csv",
                             f"skipped {res.counts['invalid']} invalid rows; see mapping_report.csv"))
    return Result(summary=summary_text(res), data=data,
                  outputs={"PROFILE": res.profile_dir, "REPORT": res.report_files[0] if res.report_files else ""},
                  warnings=warnings)
