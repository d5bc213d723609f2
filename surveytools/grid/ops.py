"""``surveytools grid …`` operations (and the matching Processing algorithms): declarations only.

The work is in the grid modules: :mod:`.build` (divide, code), :mod:`.importing` (import),
:mod:`.recode` (recode) and :mod:`.aggregate` (aggregate), each imported when its operation runs
(the QGIS plugin loads this registry in QGIS's own process)."""
from __future__ import annotations

from ..i18n import Text
from ..ops import Param, Result, group, operation

group("grid", Text("单元网格：划分、编码、导入、重划后保持编码稳定、聚合为工作网格和责任网格",
                   "Unit grids: divide, code, import, keep codes stable when redrawn, aggregate into work and "
                   "responsibility grids"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")


@operation("grid", "divide",
           help=Text("按社区边界和道路、河流、铁路、围墙等线状地物划分单元网格草图，过大的块按面积（或工作量）均衡切分，"
                     "过小的块并入同社区相邻块；随后编码并写入项目库，附面积分布报告。",
                     "Divide communities into a draft of unit grids along roads, rivers, railways and walls; blocks "
                     "that are too big are cut into balanced pieces (by area or workload), pieces too small merge "
                     "with a neighbour in the same community; then code them and write them to the project, with an "
                     "area report."),
           params=[
               P_PROJECT,
               Param("communities", "layer_in", Text("社区面图层（含 12 位社区代码）", "Community polygons (with 12-digit codes)"),
                     required=True, widget="polygon"),
               Param("lines", "layer_in", Text("线状地物图层（道路中心线、河流、铁路、围墙…），可多次给出",
                                              "Linear features (road centre lines, rivers, railways, walls …); repeatable"),
                     multiple=True, widget="line"),
               Param("target_area", "float", Text("目标网格面积（m²）", "Target grid area (m²)"), minimum=100, maximum=1e7),
               Param("min_area", "float", Text("最小网格面积（m²）", "Minimum grid area (m²)"), minimum=1, maximum=1e7),
               Param("max_area", "float", Text("最大网格面积（m²）", "Maximum grid area (m²)"), minimum=100, maximum=1e8),
               Param("workload", "layer_in", Text("工作量图层（部件或建筑），用于负载均衡",
                                                  "Workload layer (components or buildings) to balance load"), widget="any"),
               Param("code_field", "string", Text("社区代码字段（默认自动识别）", "Community code field (detected by default)")),
               Param("name_field", "string", Text("社区名称字段（默认自动识别）", "Community name field (detected by default)")),
               Param("date", "string", Text("初始日期 YYYY-MM-DD（默认今天）", "Initial date YYYY-MM-DD (default today)"), widget="date"),
               Param("repair", "bool", Text("修复无效的社区面（否则报错）", "Repair invalid community polygons (otherwise an error)"), default=False),
               Param("overwrite", "bool", Text("替换项目中已有的单元网格", "Replace unit grids already in the project"), default=False),
           ])
def divide(project, communities, lines=None, target_area=None, min_area=None, max_area=None, workload=None,
           code_field=None, name_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    from .build import divide_project

    return divide_project(project=project, communities=communities, lines=lines, target_area=target_area,
                          min_area=min_area, max_area=max_area, workload=workload, code_field=code_field,
                          name_field=name_field, date=date, repair=repair, overwrite=overwrite, feedback=feedback)


@operation("grid", "code",
           help=Text("为项目中的单元网格编码：按所在社区，从北到南分行、每行从西到东编顺序码，并填写面积和初始日期。"
                     "规划人员编辑草图后运行。",
                     "Code the project's unit grids: serials per community in rows from north to south, west to east "
                     "within a row; fill area and initial date. Run it after editing the draft."),
           params=[
               P_PROJECT,
               Param("keep_existing", "bool", Text("保留已有的有效编码，新网格接续编号", "Keep valid existing codes; new grids continue the serials"),
                     default=False),
               Param("target_area", "float", Text("目标网格面积（m²），决定分行高度", "Target grid area (m²); sets the row height"),
                     minimum=100, maximum=1e7),
               Param("date", "string", Text("新网格的初始日期 YYYY-MM-DD（默认今天）", "Initial date of new grids YYYY-MM-DD (default today)"), widget="date"),
           ])
def code(project, keep_existing=False, target_area=None, date=None, feedback=None) -> Result:
    from .build import code_project

    return code_project(project=project, keep_existing=keep_existing, target_area=target_area, date=date,
                        feedback=feedback)


# ----------------------------------------------------------------------------------------------
# import


@operation("grid", "import",
           help=Text("导入城市已有的已编码单元网格：保留编码，按标准配置和所在社区逐个检查，报告不符合的网格。"
                     "项目中没有社区边界时，由网格编码生成社区和街道边界。",
                     "Import a city's existing coded unit grids: keep the codes, check each against the profile and "
                     "its community, and report what does not fit. When the project has no community boundaries, "
                     "they are built from the grid codes."),
           params=[
               P_PROJECT,
               Param("source", "layer_in", Text("已编码的单元网格图层", "Layer of coded unit grids"), required=True,
                     positional=True, widget="polygon"),
               Param("code_field", "string", Text("网格编码字段（默认自动识别）", "Grid code field (detected by default)")),
               Param("date", "string", Text("缺少初始日期时使用的日期 YYYY-MM-DD（默认今天）",
                                            "Date used where the initial date is missing, YYYY-MM-DD (default today)"), widget="date"),
               Param("repair", "bool", Text("修复无效的网格面", "Repair invalid grid polygons"), default=False),
               Param("overwrite", "bool", Text("替换项目中已有的单元网格", "Replace unit grids already in the project"), default=False),
           ])
def import_(project, source, code_field=None, date=None, repair=False, overwrite=False, feedback=None) -> Result:
    from .importing import import_project

    return import_project(project=project, source=source, code_field=code_field, date=date, repair=repair,
                          overwrite=overwrite, feedback=feedback)


# ----------------------------------------------------------------------------------------------
# recode


@operation("grid", "recode",
           help=Text("网格重划后保持编码稳定：与原网格按重叠匹配，基本不变的网格保留编码，拆分、合并和新增的网格取新顺序码，"
                     "终止的编码写入终止日期并永不复用；输出变更报告（表和图层），并把部件重新落入新网格。",
                     "Keep codes stable when grids are redrawn: match the redrawn grids to the old ones by overlap; a "
                     "grid that is essentially unchanged keeps its code, split, merged and new grids get new serials, "
                     "retired codes get their end date and are never reused; a change report (table and layer); "
                     "components are re-located to the new grids."),
           params=[
               P_PROJECT,
               Param("redrawn", "layer_in", Text("重划后的单元网格图层", "The redrawn unit grids"), required=True, widget="polygon"),
               Param("date", "string", Text("变更日期 YYYY-MM-DD（默认今天）", "Change date YYYY-MM-DD (default today)"), widget="date"),
               Param("keep_iou", "float", Text("视为不变的最小重叠度（交并比）", "Minimum overlap (IoU) to count as unchanged"), default=0.95,
                     minimum=0.5, maximum=1.0),
               Param("min_share", "float", Text("计入匹配的最小重叠比例", "Minimum overlap share that counts as a match"), default=0.05,
                     minimum=0.001, maximum=0.5),
               Param("force", "bool", Text("即使重划的网格有缝隙、重叠或终止的编码过多也继续（问题作为警告报告）",
                                           "Go on even when the redrawn grids leave gaps, overlap or retire too many codes "
                                           "(the problems are reported as warnings)"), default=False),
           ])
def recode(project, redrawn, date=None, keep_iou=0.95, min_share=0.05, force=False, feedback=None) -> Result:
    from .recode import recode_project

    return recode_project(project=project, redrawn=redrawn, date=date, keep_iou=keep_iou, min_share=min_share,
                          force=force, feedback=feedback)


# ----------------------------------------------------------------------------------------------
# aggregate


@operation("grid", "aggregate",
           help=Text("由整个单元网格聚合成监督员工作网格或责任网格：成员来自规划人员绘制的范围面，或单元网格编码到聚合编码的对照表；"
                     "检查成员连片、没有单元网格被切分。",
                     "Build work grids or responsibility grids from whole unit grids: members come from areas drawn by "
                     "planners, or from a table of unit grid code → aggregate code; checks that members are contiguous "
                     "and that no unit grid is split."),
           params=[
               P_PROJECT,
               Param("kind", "enum", Text("聚合类型：work 工作网格，responsibility 责任网格",
                                          "Kind: work grids or responsibility grids"), choices=("work", "responsibility"),
                     required=True),
               Param("members", "layer_in", Text("范围面图层或对照表（含聚合编码）", "Area polygons or a table (with the aggregate codes)"),
                     required=True, widget="table"),
               Param("code_field", "string", Text("聚合编码字段（默认自动识别）", "Aggregate code field (detected by default)")),
               Param("name_field", "string", Text("聚合名称字段", "Aggregate name field")),
               Param("grid_field", "string", Text("对照表中的单元网格编码字段", "Unit grid code field of a table")),
           ])
def aggregate(project, kind, members, code_field=None, name_field=None, grid_field=None, feedback=None) -> Result:
    from .aggregate import aggregate_project

    return aggregate_project(project=project, kind=kind, members=members, code_field=code_field, name_field=name_field,
                             grid_field=grid_field, feedback=feedback)
