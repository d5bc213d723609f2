"""Registry declarations of the ``field`` group (QField packages, returns, conflicts, photos)."""
from __future__ import annotations

from ..i18n import Text
from ..ops import Output, Param, Result, group, operation

#: package modes (the field-column sets of :data:`surveytools.field.common.MODES`), named here so
#: that declaring the operations imports nothing beyond the standard library; the ``check`` mode is
#: made by ``acceptance plan`` (from its sampling plan), not chosen here
MODES = ("survey",)

group("field", Text("外业调查（QField）：外业包、回收合并、冲突、照片", "Field survey (QField): packages, returns, conflicts, photos"))


@operation("field", "package",
           Text("按街道、社区或工作网格为每个作业区生成 QField 外业包（survey.gpkg、survey.qgz、manifest.json、DCIM/，并打成 ZIP）",
                "Make a QField package per work area (street, community or work grid): survey.gpkg, survey.qgz, "
                "manifest.json, DCIM/, and a ZIP of it"),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                         positional=True, file_filter="GeoPackage (*.gpkg)"),
                   Param("by", "enum", Text("作业区划分：street 街道、community 社区、work_grid 工作网格",
                                            "Work areas: street, community or work_grid"), required=True,
                         choices=("street", "community", "work_grid")),
                   Param("out", "dir_out", Text("输出目录（每个作业区一个子目录和一个 ZIP）",
                                                "Output folder (a subfolder and a ZIP per area)"), required=True),
                   Param("areas", "string", Text("只打包这些作业区（代码，逗号分隔；默认全部）",
                                                 "Only these areas (codes, comma-separated; default: all)")),
                   Param("basemap", "file_in", Text("离线底图（GeoPackage 栅格或 MBTiles），复制进外业包",
                                                    "Offline basemap (GeoPackage raster or MBTiles) copied into the package"),
                         file_filter="Basemap (*.gpkg *.mbtiles)"),
                   Param("surveyor", "string", Text("调查员（写入项目变量 @surveyor，表单默认值）",
                                                    "Surveyor (project variable @surveyor, the forms' default)")),
                   Param("mode", "enum", Text("外业包类型：survey 普查", "Package mode: survey"), default="survey",
                         choices=tuple(MODES)),
                   Param("qgz", "bool", Text("写出 QField 项目 survey.qgz（由 QGIS 的 qgis_process 写出）",
                                             "Write the QField project survey.qgz (written by QGIS's qgis_process)"),
                         default=True),
                   Param("overwrite", "bool", Text("覆盖已存在的外业包", "Replace existing packages"), default=False)])
def field_package(project, by, out, areas=None, basemap=None, surveyor=None, mode="survey", qgz=True, overwrite=False,
                  feedback=None) -> Result:
    from .package import package

    d = package(project, by, out, areas=areas, basemap=basemap, surveyor=surveyor, mode=mode, qgz=qgz,
                overwrite=overwrite, feedback=feedback)
    n = len(d["packages"])
    feats = sum(sum(p["features"].values()) for p in d["packages"])
    return Result(Text(f"已生成 {n} 个外业包（{feats} 个部件）：{out}", f"made {n} field packages ({feats} components) in {out}"),
                  data=d, outputs={"OUT": str(out)}, warnings=d.pop("warnings", []))


@operation("field", "return",
           Text("把 QField 外业包（文件夹或 ZIP）合并回项目库：新要素编码定位入库，外业修改更新，外业删除记为丢失，"
                "双方都改的进入冲突表；重复回收不产生变更",
                "Merge QField packages (folders or ZIPs) back into the project: new features coded, located and "
                "inserted, field edits applied, field deletions marked missing, features changed on both sides go to "
                "the conflicts table; returning a package twice changes nothing"),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                         positional=True, file_filter="GeoPackage (*.gpkg)"),
                   Param("packages", "file_in", Text("外业包（文件夹或 ZIP，可多个）", "Field packages (folders or ZIPs)"),
                         required=True, positional=True, multiple=True, file_filter="ZIP (*.zip)"),
                   Param("date", "string", Text("变更日期（默认今天）", "Change date (default today)"), widget="date")],
           outputs=[Output("conflicts", "number", Text("新冲突数", "New conflicts"))])
def field_return_op(project, packages, date=None, feedback=None) -> Result:
    from .returns import field_return

    d = field_return(project, packages, date=date, feedback=feedback)
    warnings = [w for p in d["packages"] for w in p.pop("warnings", [])]
    tot = {k: sum(p[k] for p in d["packages"]) for k in ("updated", "new", "deleted", "conflicts", "photos", "rejected",
                                                           "reclassified")}
    d["totals"] = tot
    return Result(Text(f"回收 {len(d['packages'])} 个外业包：新增 {tot['new']}，更新 {tot['updated']}，外业删除记为丢失 "
                       f"{tot['deleted']}，类别变更（旧部件注销、新编码）{tot['reclassified']}，冲突 {tot['conflicts']}，照片 {tot['photos']}，"
                       f"未入库 {tot['rejected']}",
                       f"returned {len(d['packages'])} packages: {tot['new']} new, {tot['updated']} updated, "
                       f"{tot['deleted']} deleted in the field (marked missing), {tot['reclassified']} reclassified (old one "
                       f"cancelled, new ID), {tot['conflicts']} conflicts, "
                       f"{tot['photos']} photos, {tot['rejected']} not taken in"),
                  data=d, outputs={"PROJECT": str(project), "CONFLICTS": tot["conflicts"]}, warnings=warnings)


@operation("field", "resolve",
           Text("处理外业回收冲突：保留项目版本（project）或采用外业版本（field）",
                "Resolve a field-return conflict: keep the project's version (project) or apply the field's (field)"),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                         positional=True, file_filter="GeoPackage (*.gpkg)"),
                   Param("conflict", "int", Text("冲突编号（field_conflicts 的 conflict_id）",
                                                 "Conflict number (conflict_id of field_conflicts)"), required=True,
                         minimum=1, maximum=2 ** 53),
                   Param("keep", "enum", Text("采用哪个版本", "Which version to keep"), required=True,
                         choices=("project", "field"))])
def field_resolve(project, conflict, keep, feedback=None) -> Result:
    from .resolve import resolve

    d = resolve(project, conflict, keep, feedback=feedback)
    return Result(Text(f"冲突 {d['conflict']} 已处理：{'采用外业版本' if keep == 'field' else '保留项目版本'}（{d['changes']} 处变更）",
                       f"conflict {d['conflict']} resolved: kept the {keep} version ({d['changes']} changes)"),
                  data=d, outputs={"PROJECT": str(project)})


@operation("field", "photos",
           Text("从按部件标识码命名的照片文件夹导入照片（照片表与项目照片目录）",
                "Take in photos from a folder of files named by component ID (photo table and the project's photo folder)"),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                         positional=True, file_filter="GeoPackage (*.gpkg)"),
                   Param("folder", "file_in", Text("照片文件夹", "Photo folder"), required=True, positional=True)])
def field_photos(project, folder, feedback=None) -> Result:
    from .photos import intake_folder

    d = intake_folder(project, folder, feedback=feedback)
    return Result(Text(f"读入 {d['read']} 个文件，导入照片 {d['photos']} 张到 {d['folder']}",
                       f"read {d['read']} files, took in {d['photos']} photos into {d['folder']}"),
                  data=d, outputs={"PROJECT": str(project)}, warnings=d.pop("warnings", []))
