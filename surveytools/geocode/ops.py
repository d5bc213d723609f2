"""``surveytools geocode …`` operations (and the matching Processing algorithms)."""
from __future__ import annotations

from ..dates import parse_date
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Param, Result, group, operation

group("geocode", Text("地理编码（CJ/T 215）：标准地址库、地址解析、正向/逆向/批量地理编码",
                      "Geocoding (CJ/T 215): standard address base, address parsing, forward, reverse and batch geocoding"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")
LAYER_KEYS = {"road": "geocode_road", "doorplate": "geocode_doorplate", "poi": "geocode_poi", "place": "geocode_place"}


def _fmt(r: dict) -> Text:
    if not r.get("level"):
        return Text(f"未匹配：{r.get('reason')}", f"not matched: {r.get('reason')}")
    return Text(f"{r['level']}（得分 {r['score']}）：{r.get('address') or r.get('matched')}  x={r['x']} y={r['y']}  "
                f"网格 {r.get('grid_code')}  {r.get('street_name') or ''} {r.get('community_name') or ''}",
                f"{r['level']} (score {r['score']}): {r.get('address') or r.get('matched')}  x={r['x']} y={r['y']}  "
                f"grid {r.get('grid_code')}  {r.get('street_name') or ''} {r.get('community_name') or ''}")


@operation("geocode", "parse",
           help=Text("把中文地址解析为要素：省、市、县、街道、社区、街巷、门牌号（号、号之一、附号、范围）、楼栋、单元、楼层、"
                     "房间、兴趣点；容忍缺级、全角数字、中文数字、空格和噪声（电话、括号）。不需要项目库。",
                     "Parse a Chinese address into its elements: province, city, county, street, community, road, door "
                     "number (号, 号之一, 附号, ranges), building, unit, floor, room, POI; tolerates missing levels, "
                     "full-width digits, Chinese numerals, spaces and noise (phone numbers, brackets). No project needed."),
           params=[Param("address", "string", Text("地址", "Address"), required=True, positional=True),
                   Param("county", "string", Text("上下文县级代码（6 位），用于消除重名（如鼓楼区）",
                                                  "Context county code (6 digits) to resolve ambiguous names (e.g. 鼓楼区)"))])
def parse_op(address, county=None, feedback=None) -> Result:
    from .parse import ELEMENTS, parse
    from .standardize import standard_address

    el = parse(address, context=county)
    el["standard_address"] = standard_address(el)
    shown = [f"{k}={el[k]}" for k in ELEMENTS if el.get(k) is not None]
    if el.get("ambiguous"):
        shown.append(f"ambiguous={','.join(el['ambiguous'])}")
    line = "  ".join(shown)
    return Result(Text(f"解析结果：{line}\n标准地址：{el['standard_address']}", f"Elements: {line}\nStandard address: "
                       f"{el['standard_address']}"), data={"elements": el})


@operation("geocode", "build",
           help=Text("由项目的街道、社区、单元网格和输入的门牌、道路、地片、兴趣点（GeoPackage/Shapefile/OSM）建立标准地址库"
                     "（行政区域、地片、街巷、门（楼）牌、兴趣点图层），并报告重复和冲突（同一门牌相距很远、同名道路不相连）。",
                     "Build the standard address base (areas, places, roads, door plates, POIs) from the project's "
                     "streets, communities and unit grids and from door plates, roads, places and POIs in the inputs "
                     "(GeoPackage, Shapefile, OSM); duplicates and conflicts (one plate at two distant places, one "
                     "road name on disconnected lines) are reported."),
           params=[P_PROJECT,
                   Param("from", "file_in", Text("门牌/道路/地片/兴趣点输入（PATH[:LAYER] 或 .osm），可多次给出",
                                                 "Door plate / road / place / POI input (PATH[:LAYER] or .osm); repeatable"),
                         multiple=True, file_filter="GIS (*.gpkg *.shp *.geojson *.osm)"),
                   Param("date", "string", Text("启用日期 YYYY-MM-DD（默认今天）", "Valid-from date YYYY-MM-DD (default today)"), widget="date")])
def build(project, feedback=None, date=None, **kw) -> Result:
    from ..project import Project
    from .base import build_base, check_sources, input_paths, read_sources
    from .settings import settings

    feedback = feedback or Feedback()
    paths = input_paths(kw.get("from"))
    proj = Project.open(project)
    today = parse_date(date)
    sources = read_sources(paths, proj.crs, feedback)
    check_sources(sources, paths)
    feedback.progress(5)
    with proj.transaction() as work:
        counts = build_base(work, sources, settings(proj.profile), today=today, feedback=feedback.step(5, 95))
    feedback.progress(100)
    conf = counts["conflicts"]
    ctext = ", ".join(f"{k} {v}" for k, v in conf.items()) or "0"
    warnings = []
    if conf:
        warnings.append(Text(f"发现重复或冲突 {sum(conf.values())} 处（见表 geo_conflicts）：{ctext}",
                             f"{sum(conf.values())} duplicates or conflicts (table geo_conflicts): {ctext}"))
    return Result(Text(f"已建立标准地址库：行政区域 {counts['geocode_area']}，街巷 {counts['geocode_road']}，门牌 "
                       f"{counts['geocode_doorplate']}，地片 {counts['geocode_place']}，兴趣点 {counts['geocode_poi']}；"
                       f"冲突 {ctext}",
                       f"Built the address base: {counts['geocode_area']} areas, {counts['geocode_road']} roads, "
                       f"{counts['geocode_doorplate']} door plates, {counts['geocode_place']} places, "
                       f"{counts['geocode_poi']} POIs; conflicts: {ctext}"),
                  data={"counts": counts}, outputs={"PROJECT": str(proj.path)}, warnings=warnings)


@operation("geocode", "forward",
           help=Text("正向地理编码：地址 → 坐标（项目坐标系）、单元网格、街道、社区。依次尝试门牌精确匹配、别名、模糊匹配、"
                     "按门牌号沿道路内插（分单双号），再退到道路、地片、社区、街道。",
                     "Forward geocoding: address → point (project CRS), unit grid, street and community. Tries the exact "
                     "door plate, aliases, fuzzy match, interpolation along the road by number (odd/even sides), then "
                     "falls back to road, place, community, street."),
           params=[P_PROJECT, Param("address", "string", Text("地址", "Address"), required=True, positional=True)])
def forward_op(project, address, feedback=None) -> Result:
    from ..project import Project
    from .index import load_index
    from .match import forward

    idx = load_index(Project.open(project))
    r = forward(idx, address)
    return Result(_fmt(r), data={"result": r})


@operation("geocode", "reverse",
           help=Text("逆向地理编码：点（项目坐标系 X Y）→ 搜索半径内最近的门牌或标志物、所在道路及其左右侧、社区、街道和单元网格。",
                     "Reverse geocoding: point (X Y in the project CRS) → the nearest door plate or landmark within a "
                     "radius, the road and its side, community, street and unit grid."),
           params=[P_PROJECT,
                   Param("x", "float", Text("X（项目坐标系）", "X (project CRS)"), required=True, positional=True,
                         minimum=-1e8, maximum=1e8),
                   Param("y", "float", Text("Y（项目坐标系）", "Y (project CRS)"), required=True, positional=True,
                         minimum=-1e8, maximum=1e8),
                   Param("radius", "float", Text("搜索半径（米，默认见 geocode.yaml）", "Search radius (m, default in geocode.yaml)"),
                         minimum=0.1, maximum=100_000)])
def reverse_op(project, x, y, radius=None, feedback=None) -> Result:
    from ..project import Project
    from .index import load_index
    from .reverse import reverse

    idx = load_index(Project.open(project))
    r = reverse(idx, x, y, radius)
    near = r.get(r["nearest"]) if r.get("nearest") else None
    road = r.get("road") or {}
    zh = (f"{r['address']}；最近：{near['name'] + '（' + str(near['distance']) + ' m）' if near else '无'}；道路："
          f"{road.get('name', '无')}{(' ' + road['side'] + '侧') if road else ''}；网格 {r.get('grid_code')}；"
          f"{r.get('street_name') or ''} {r.get('community_name') or ''}")
    en = (f"{r['address']}; nearest: {near['name'] + ' (' + str(near['distance']) + ' m)' if near else 'none'}; road: "
          f"{road.get('name', 'none')}{(' ' + road['side_en'] + ' side') if road else ''}; grid {r.get('grid_code')}; "
          f"{r.get('street_name') or ''} {r.get('community_name') or ''}")
    return Result(Text(zh, en), data={"result": r})


@operation("geocode", "batch",
           help=Text("批量地理编码：对 CSV 或 XLSX 文件的一列地址逐行编码，输出原表加匹配级别、得分、坐标、网格、街道、社区和"
                     "未匹配原因。",
                     "Batch geocoding: geocode one column of a CSV or XLSX file; the output is the input plus match "
                     "level, score, coordinates, grid, street, community and the reason for unmatched rows."),
           params=[P_PROJECT,
                   Param("file", "file_in", Text("输入 CSV 或 XLSX 文件", "Input CSV or XLSX file"), required=True,
                         positional=True, file_filter="Tables (*.csv *.xlsx)"),
                   Param("column", "string", Text("地址所在列名", "Name of the address column"), required=True),
                   Param("out", "file_out", Text("输出文件（.csv 或 .xlsx）", "Output file (.csv or .xlsx)"), required=True,
                         file_filter="Tables (*.csv *.xlsx)"),
                   Param("overwrite", "bool", Text("覆盖已存在的输出文件", "Replace an existing output file"), default=False)])
def batch_op(project, file, column, out, overwrite=False, feedback=None) -> Result:
    from ..project import Project
    from .batch import geocode_frame, read_table, write_table_file
    from .index import load_index

    feedback = feedback or Feedback()
    df = read_table(file)  # the input file's checks first: they need no address base
    idx = load_index(Project.open(project))
    feedback.progress(5)
    res = geocode_frame(idx, df, column, feedback=feedback, file=str(file))
    write_table_file(res, out, overwrite=overwrite)
    feedback.progress(100)
    levels = res["match_level"].fillna("unmatched").value_counts().to_dict()
    um = res[res["match_level"].isna()]
    unmatched = [{"row": int(i) + 2, "address": a, "reason": r} for i, a, r in
                 zip(um.index, um[column], um["reason"])][:1000]
    ltext = ", ".join(f"{k} {v}" for k, v in levels.items())
    return Result(Text(f"已编码 {len(res)} 行（{ltext}），未匹配 {len(um)} 行，输出 {out}",
                       f"Geocoded {len(res)} rows ({ltext}); {len(um)} unmatched; written to {out}"),
                  data={"rows": int(len(res)), "levels": levels, "unmatched": unmatched}, outputs={"OUT": str(out)})


@operation("geocode", "rename",
           help=Text("地名更名：街巷、门牌、地片或兴趣点改用新的标准名称，旧名作为曾用名保留（含停用日期），可继续用于匹配。",
                     "Rename a road, place or POI: the new standard name takes effect on a date; the old name is kept "
                     "as a former name with its dates and still matches."),
           params=[P_PROJECT,
                   Param("layer", "enum", Text("图层", "Layer"), choices=("road", "place", "poi"), default="road"),
                   Param("name", "string", Text("现用名称", "Current name"), required=True),
                   Param("new_name", "string", Text("新名称", "New name"), required=True),
                   Param("date", "string", Text("更名日期 YYYY-MM-DD（默认今天）", "Date of the rename YYYY-MM-DD (default today)"), widget="date")])
def rename_op(project, name, new_name, layer="road", date=None, feedback=None) -> Result:
    from ..project import Project
    from .history import rename

    proj = Project.open(project)
    day = parse_date(date)
    with proj.transaction() as work:
        info = rename(work, LAYER_KEYS[layer], name, new_name, day)
    return Result(Text(f"已将 {name} 更名为 {new_name}（{day}），旧名保留为曾用名；更新门牌 {info['plates']} 个",
                       f"Renamed {name} to {new_name} on {day}; the old name is kept as a former name; "
                       f"{info['plates']} door plates updated"), data=info, outputs={"PROJECT": str(proj.path)})
