"""``surveytools components …`` and ``surveytools events …`` (and the Processing algorithms).

No geopandas, shapely, pyogrio or pyproj import at module level: the QGIS plugin imports this
module to list the operations (tests/test_registry_light.py).
"""
from __future__ import annotations

from ..i18n import Text
from ..ops import Param, Result, group, operation

group("components", Text("部件：普查数据入库（字段与类别对照）、分类编码、定位、维护更新、采集模板",
                         "Components: survey intake (field and class mapping), coding, location, maintenance "
                         "updates, survey templates"))
group("events", Text("事件：事件数据入库、编码与定位", "Events: intake, coding and location"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")
P_SOURCE = Param("source", "layer_in", Text("普查数据：GeoPackage、Shapefile、GeoJSON、CSV 或 XLSX（PATH[:LAYER]）",
                                            "Survey data: GeoPackage, Shapefile, GeoJSON, CSV or XLSX (PATH[:LAYER])"),
                 required=True, positional=True, widget="table")
P_MAPPING = Param("mapping", "file_in", Text("字段与类别对照表（YAML）；缺省时遇到无法对应的值会写出建议稿并停止",
                                             "Field and class mapping (YAML); without it, unmapped values stop the "
                                             "import and a proposed mapping is written"),
                  file_filter="YAML (*.yaml *.yml)")
P_SOURCE_CRS = Param("source_crs", "crs", Text("源数据坐标系（数据未声明或声明错误时；经纬度列默认 EPSG:4326）",
                                               "Source CRS (when the data declare none or a wrong one; lon/lat columns "
                                               "default to EPSG:4326)"))
P_COORDS = Param("coords", "enum", Text("坐标是手机或网络地图的 GCJ-02（高德、腾讯）或 BD-09（百度），先转换为 WGS-84",
                                        "The coordinates are GCJ-02 (高德, 腾讯) or BD-09 (百度) from a phone or web map; "
                                        "convert them to WGS-84 first"), choices=("gcj02", "bd09"))


@operation("components", "intake",
           help=Text("普查数据入库：读取 GeoPackage、Shapefile（GBK/UTF-8 自动识别）、GeoJSON、CSV、XLSX，按对照表把字段和类别"
                     "对应到标准配置（只有完全一致的才自动对应，其余写出对照表建议稿并停止），检查几何类型，保留有效标识码并为其余"
                     "部件编码，落入单元网格并填写街道社区，在一个事务内追加到项目的部件图层，记录批次。",
                     "Survey intake: read GeoPackage, Shapefile (GBK/UTF-8 detected), GeoJSON, CSV or XLSX, map fields "
                     "and classes to the profile (only exact matches are automatic; otherwise a proposed mapping is "
                     "written and nothing is imported), check geometry types, keep valid IDs and code the rest, locate "
                     "grids, streets and communities, and append to the project's component layers in one transaction, "
                     "recording the batch."),
           params=[P_PROJECT, P_SOURCE, P_MAPPING, P_SOURCE_CRS, P_COORDS,
                   Param("code", "bool", Text("编码（标识码）", "Assign IDs"), default=True),
                   Param("locate", "bool", Text("定位（所在网格、街道、社区）", "Locate (grid, street, community)"), default=True)])
def intake(project, source, mapping=None, source_crs=None, coords=None, code=True, locate=True, feedback=None) -> Result:
    from .intake import intake as run
    from .intake import summary_text

    data = run(project, source, mapping=mapping, source_crs=source_crs, coords=coords, code=code, locate=locate,
               feedback=feedback)
    warnings = []
    for info in data["sources"]:
        if info.get("encoding_detected") and info.get("driver") == "ESRI Shapefile":
            warnings.append(Text(f"{info['path']} 没有 .cpg，按字节内容识别为 {info['encoding']} 编码",
                                 f"{info['path']} has no .cpg; its bytes read as {info['encoding']}"))
        for n in info.get("notes", []):
            warnings.append(Text(n["zh"], n["en"]) if isinstance(n, dict) else n)
    if data["rejected"]:
        warnings.append(Text(f"{data['rejected']} 条记录未导入（几何类型不符、无类别或对照表指定跳过），见图层 intake_rejects",
                             f"{data['rejected']} records were not imported (geometry type, no class or skipped by the "
                             "mapping); see layer intake_rejects"))
    return Result(summary_text(data), data=data, outputs={"PROJECT": str(project)}, warnings=warnings)


@operation("components", "code",
           help=Text("为项目中的部件编码：由标识码补齐类别代码，有效且唯一的标识码保留，其余（缺失、无效、重复）按县和类别接续"
                     "历史最大顺序码编新码，已终止的编码不再使用；报告写入 intake_report 表。",
                     "Code the project's components: fill the class code from the ID where missing, keep valid unique "
                     "IDs, give the others (missing, invalid, duplicate) new serials after the highest ever used per "
                     "county and class (retired IDs are never reused); the report goes to table intake_report."),
           params=[P_PROJECT])
def code(project, feedback=None) -> Result:
    from .recode import code_project

    data = code_project(project, feedback=feedback)
    return Result(Text(f"已检查 {data['components']} 个部件：保留标识码 {data['kept']} 个，新编 {data['new']} 个"
                       f"（其中 {data['replaced']} 个原标识码无效或重复），{data['unclassified']} 个无法确定类别。",
                       f"Checked {data['components']} components: {data['kept']} IDs kept, {data['new']} new "
                       f"({data['replaced']} were invalid or duplicated), {data['unclassified']} without a class."),
                  data=data, outputs={"PROJECT": str(project)})


@operation("components", "locate",
           help=Text("重新定位项目中的全部部件：按单元网格填写所在网格、社区和街道的代码与名称（点在网格边上取编码最小的网格，"
                     "线和面取所含部分最大的网格）。",
                     "Locate every component of the project again: fill the grid, community and street codes and "
                     "names from the unit grids (a point on a grid edge goes to the smallest code, a line or polygon "
                     "to the grid holding its larger part)."),
           params=[P_PROJECT])
def locate(project, feedback=None) -> Result:
    from ..errors import SurveyError
    from ..locate import Locator, relocate_components
    from ..project import Project

    proj = Project.open(project)
    with proj.transaction() as work:
        loc = Locator(work)
        if not loc.available:
            raise SurveyError(Text("项目中没有单元网格、社区或街道，无法定位", "the project has no unit grids, communities or streets to locate on"),
                              code="no_grids", file=str(proj.path))
        counts = relocate_components(work, None, feedback=feedback)
    n = sum(c["features"] for c in counts.values())
    ch = sum(c["changed"] for c in counts.values())
    un = sum(c["unlocated"] for c in counts.values())
    return Result(Text(f"已定位 {n} 个部件（按{_LEVEL[loc.level][0]}）：{ch} 个的位置字段有变化，{un} 个不在任何网格内。",
                       f"Located {n} components (on {_LEVEL[loc.level][1]}): {ch} changed, {un} lie in no grid."),
                  data={"layers": counts, "located_on": loc.level}, outputs={"PROJECT": str(project)})


_LEVEL = {"unit_grid": ("单元网格", "unit grids"), "community": ("社区", "communities"), "street": ("街道", "streets")}


@operation("components", "merge",
           help=Text("把某一区域的重新普查数据合并进项目：与项目中同类别部件在容差内匹配（默认按类别精度等级），保留标识码，"
                     "更新变化的属性和几何并写变更日期；未匹配的新记录编新码；区域内（数据覆盖的单元网格）未找到的同类部件标为"
                     "丢失，从不删除；每项变更写入 change_log 表。重复运行同一合并不会再有变化。",
                     "Merge a re-survey of an area into the project: match the new records to existing components of "
                     "the same class within a tolerance (default from the class's accuracy grade), keep the ID, update "
                     "changed attributes and geometry and set the change date; unmatched records get new IDs; "
                     "components of the re-surveyed classes in the area (the unit grids the data cover) that were not "
                     "found are marked missing, never deleted; every change goes to table change_log. Running the same "
                     "merge twice changes nothing the second time."),
           params=[P_PROJECT, P_SOURCE,
                   Param("tolerance", "float", Text("匹配容差（米）；默认按类别精度等级（A 0.5、B 1、C 10 米）",
                                                    "Match tolerance (m); default from the class's accuracy grade "
                                                    "(A 0.5, B 1, C 10 m)"), minimum=0.001, maximum=1000),
                   P_MAPPING, P_SOURCE_CRS, P_COORDS,
                   Param("date", "string", Text("变更日期 YYYY-MM-DD（默认今天）", "Change date YYYY-MM-DD (default today)"), widget="date")])
def merge(project, source, tolerance=None, mapping=None, source_crs=None, coords=None, date=None, feedback=None) -> Result:
    from .merge import merge as run
    from .merge import summary_text

    data = run(project, source, tolerance=tolerance, mapping=mapping, source_crs=source_crs, coords=coords, date=date,
               feedback=feedback)
    return Result(summary_text(data), data=data, outputs={"PROJECT": str(project)})


@operation("components", "template",
           help=Text("生成普查采集 Excel 模板：所选类别的一个工作簿，类别、状态和部门有下拉列表，表头冻结，附中英文填写说明；"
                     "填好的模板可直接用 components intake 无损导入。",
                     "Write an Excel survey template: one workbook for the chosen classes with drop-down lists for "
                     "class, state and departments, frozen headers and an instructions sheet in Chinese and English; "
                     "a filled workbook imports back losslessly with components intake."),
           params=[Param("out", "file_out", Text("输出 Excel 文件（.xlsx）", "Output Excel file (.xlsx)"), required=True,
                         positional=True, file_filter="Excel (*.xlsx)"),
                   Param("classes", "string", Text("类别代码，逗号分隔（如 0101,0102,0305）", "Class codes, comma-separated (e.g. 0101,0102,0305)"),
                         required=True),
                   Param("profile", "string", Text("标准配置（给出 --project 时取项目的配置）", "Profile (the project's when --project is given)"),
                         default="cjt"),
                   Param("project", "string", Text("调查项目库：部门下拉列表取自其部门表",
                                                   "Survey project: the department lists come from its department table")),
                   Param("overwrite", "bool", Text("覆盖已存在的文件", "Replace an existing file"), default=False)])
def template(out, classes, profile="cjt", project=None, overwrite=False, feedback=None) -> Result:
    from .template import write_template

    data = write_template(out, classes, profile=profile, project=project, overwrite=overwrite)
    return Result(Text(f"已生成采集模板 {out}：{len(data['classes'])} 个类别，{len(data['columns'])} 列，"
                       f"部门下拉{'取自项目部门表（' + str(data['departments']) + ' 个）' if data['departments'] else '为自由填写'}。",
                       f"Survey template written to {out}: {len(data['classes'])} classes, {len(data['columns'])} columns; "
                       f"departments {'from the project table (' + str(data['departments']) + ')' if data['departments'] else 'free text'}."),
                  data=data, outputs={"OUT": str(out)})


@operation("events", "intake",
           help=Text("事件数据入库：读取 CSV、XLSX 或 GIS 数据（类别、位置、描述、时间），按对照表对应字段和事件类别，"
                     "生成事件代码（县级代码 + 类别），落入单元网格并填写街道社区，追加到项目的事件图层。",
                     "Event intake: read CSV, XLSX or GIS data (class, location, description, time), map fields and "
                     "event classes, build the event code (county + class), locate grids, streets and communities and "
                     "append to the project's event layer."),
           params=[P_PROJECT, P_SOURCE, P_MAPPING, P_SOURCE_CRS, P_COORDS,
                   Param("locate", "bool", Text("定位（所在网格、街道、社区）", "Locate (grid, street, community)"), default=True)])
def events_intake(project, source, mapping=None, source_crs=None, coords=None, locate=True, feedback=None) -> Result:
    from .events import intake_events

    data = intake_events(project, source, mapping=mapping, source_crs=source_crs, coords=coords, locate=locate,
                         feedback=feedback)
    return Result(Text(f"批次 {data['batch']}：读入 {data['read']} 条事件，导入 {data['imported']} 条，{data['rejected']} 条未导入，"
                       f"{data['unlocated']} 条不在任何网格内。",
                       f"Batch {data['batch']}: read {data['read']} events, imported {data['imported']}, "
                       f"{data['rejected']} not imported, {data['unlocated']} lie in no grid."),
                  data=data, outputs={"PROJECT": str(project)})
