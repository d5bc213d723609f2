"""``surveytools export …`` operations (and the matching Processing algorithms)."""
from __future__ import annotations

from pathlib import Path

from ..errors import SurveyError
from ..feedback import Feedback
from ..i18n import Text
from ..ops import Param, Result, group, operation

group("export", Text("导出：案件系统数据库（GeoPackage、PostGIS）、交换文件（Shapefile、GeoJSON、CSV）和指挥手册（XLSX、HTML、PDF）",
                     "Export: the case-system database (GeoPackage, PostGIS), exchange files (Shapefile, GeoJSON, CSV) "
                     "and the command manual (XLSX, HTML, PDF)"))

P_PROJECT = Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                  positional=True, file_filter="GeoPackage (*.gpkg)")


def _is_pg(target: str) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


@operation("export", "db",
           help=Text("把项目发布为案件系统数据库：单元网格、工作网格和责任网格、街道社区、部件（按几何类型分表）、事件、分类字典、"
                     "部门、派遣矩阵、地理编码表（如有）、元数据（标准配置、结构版本、发布时间、县、坐标系）、空间索引和 QGIS 图层样式。"
                     "目标为 .gpkg 文件或 postgresql://USER@HOST:PORT/DB[?schema=NAME]；PostGIS 在一个事务中写入，失败或中断时保留上一版发布。"
                     "--incremental 只推送上次发布以来的变更（按变更日志，或按 --street / --community）。",
                     "Release the project as the case-system database: unit, work and responsibility grids, streets and "
                     "communities, components (one table per geometry type), events, class dictionaries, departments, the "
                     "dispatch matrix, geocoding tables when present, metadata (profile, schema version, release time, "
                     "county, CRS), spatial indexes and QGIS layer styles. The target is a .gpkg file or "
                     "postgresql://USER@HOST:PORT/DB[?schema=NAME]; PostGIS is written in one transaction, so a failed or "
                     "interrupted export leaves the previous release intact. --incremental pushes only what changed since "
                     "the last release (by the change log, or by --street / --community)."),
           params=[P_PROJECT,
                   Param("to", "string", Text("发布目标：OUT.gpkg 或 postgresql://USER@HOST:PORT/DB[?schema=NAME]",
                                              "Target: OUT.gpkg or postgresql://USER@HOST:PORT/DB[?schema=NAME]"), required=True, widget="release_target"),
                   Param("incremental", "bool", Text("增量发布（仅 PostGIS）", "Incremental release (PostGIS only)"), default=False),
                   Param("street", "string", Text("增量发布：只推送该街道（9 位代码）", "Incremental: push this street only (9-digit code)")),
                   Param("community", "string", Text("增量发布：只推送该社区（12 位代码）", "Incremental: push this community only (12-digit code)")),
                   Param("replace_foreign", "bool", Text("允许替换不属于本项目的发布目标（其他项目的发布，或不是发布的 .gpkg / 模式）；"
                                                         "即使这样也只删除本软件的发布表，用户的其他表保留",
                                                         "Allow replacing a target that is not a release of this project (another "
                                                         "project's release, or a .gpkg / schema that is no release); even then only "
                                                         "this product's release tables are dropped, a user's other tables are kept"),
                         default=False),
                   Param("photos", "dir_out", Text("PostGIS 发布：部件照片文件复制到的目录（照片表 photos 中的路径相对于它）；"
                                                   "GeoPackage 发布的照片总在发布文件旁的 <名称>_photos/ 目录",
                                                   "PostGIS release: the folder the component photo files are copied to (the "
                                                   "paths in table photos are relative to it); a GeoPackage release always puts "
                                                   "them in <name>_photos/ beside the release file"))])
def db(project, to, incremental=False, street=None, community=None, replace_foreign=False, photos=None,
       feedback=None) -> Result:
    from ..project import Project
    from .database import check_gpkg_target, check_target_path, plan, write_gpkg

    feedback = feedback or Feedback()
    from ..store.pg import check_address

    check_address(to)  # a misspelt scheme of the target is named before anything is opened
    proj = Project.open(project)
    if (street or community) and not incremental:
        raise SurveyError(Text("--street / --community 只用于 --incremental", "--street / --community go with --incremental"),
                          code="scope_without_incremental")
    if _is_pg(to):
        from .postgis import export_full, export_incremental, parse_url

        url, schema = parse_url(to)
        photo_dir = str(Path(photos).resolve()) if photos else ""
        if incremental:
            rel, counts, scope = export_incremental(proj, url, schema, street=street, community=community, feedback=feedback,
                                                    photo_folder=photo_dir)
        else:
            rel = plan(proj)
            rel.meta["photo_folder"] = photo_dir
            counts = export_full(rel, url, schema, feedback, replace_foreign=bool(replace_foreign))
            scope = ""
        copy_release_photos(rel, photos)
        where = Text(f"PostGIS 模式 {schema}", f"PostGIS schema {schema}")
        target = f"{url.split('?')[0]}?schema={schema}"
    else:
        if incremental:
            raise SurveyError(Text("增量发布只支持 PostGIS；GeoPackage 每次整库发布（写入临时文件后替换）",
                                   "incremental releases go to PostGIS only; a GeoPackage release is always whole (written "
                                   "to a temporary file, then renamed into place)"), code="incremental_gpkg", file=str(to))
        check_target_path(to)
        if photos:
            raise SurveyError(Text("--photos 只用于 PostGIS 发布；GeoPackage 发布的照片在发布文件旁的 <名称>_photos/ 目录",
                                   "--photos goes with a PostGIS release; a GeoPackage release puts its photos in "
                                   "<name>_photos/ beside the release file"), code="photos_gpkg", field="photos",
                              value=str(photos))
        rel = plan(proj)
        check_gpkg_target(rel, to, replace_foreign=bool(replace_foreign))
        from .photos import check_release_folder, gpkg_photo_folder, has_photos

        if has_photos(proj):
            check_release_folder(gpkg_photo_folder(to), bool(replace_foreign))
        counts = write_gpkg(rel, to, feedback)
        where = Text(f"GeoPackage {to}", f"GeoPackage {to}")
        target = str(to)
        scope = ""
    feedback.progress(100)
    for w in rel.warnings:  # said on the console too, not only in --json (no styles written, components without ID)
        if w not in getattr(feedback, "warnings", []):
            feedback.warning(w)
    n_photos = counts.get("photos", 0) if isinstance(counts.get("photos", 0), int) else 0
    spatial = {s.name: counts.get(s.name, 0) for s in rel.specs if s.geometry}
    comps = sum(v for k, v in counts.items() if k.startswith("components_"))
    kind = Text("增量发布", "incremental release") if incremental else Text("发布", "release")
    summary = Text(f"已{kind.zh}案件系统数据库到 {where.zh}（结构版本 {rel.meta['schema_version']}）：单元网格 {counts.get('unit_grids', 0)} 个，"
                   f"部件 {comps} 个，事件 {counts.get('events', 0)} 个，部门 {counts.get('departments', 0)} 个，派遣矩阵 "
                   f"{counts.get('dispatch_matrix', 0)} 行，{len(counts)} 个表" + (f"（{scope}）" if scope else "") + "。",
                   f"Wrote the case-system database {kind.en} to {where.en} (schema version {rel.meta['schema_version']}): "
                   f"{counts.get('unit_grids', 0)} unit grids, {comps} components, {counts.get('events', 0)} events, "
                   f"{counts.get('departments', 0)} departments, {counts.get('dispatch_matrix', 0)} matrix rows, "
                   f"{len(counts)} tables" + (f" ({scope})" if scope else "") + ".")
    return Result(summary, data={"target": target, "schema_version": int(rel.meta["schema_version"]),
                                 "release_id": rel.meta["release_id"], "tables": counts, "spatial": spatial,
                                 "incremental": bool(incremental), "scope": scope, "photos": n_photos,
                                 "photo_folder": rel.meta.get("photo_folder", "")},
                  outputs={"PROJECT": str(proj.path)} | ({} if _is_pg(to) else {"TO": str(to)}), warnings=rel.warnings)


def copy_release_photos(rel, photos) -> None:
    """The photo files of a PostGIS release into the folder ``photos`` (each file replaced atomically);
    without a folder, a warning when there are photos."""
    from ..gpkg import atomic_folder, move_into
    from .photos import fill_folder

    if not rel.photo_files:
        return
    if not photos:
        rel.warnings.append(Text(f"发布了 {len(rel.photo_files)} 张照片的照片表，但没有给出照片目录（--photos），照片文件未复制",
                                 f"the photo table of {len(rel.photo_files)} photos was released, but no photo folder "
                                 f"(--photos) was given, so the files were not copied"))
        return
    with atomic_folder(photos) as tmp:
        fill_folder(tmp, rel.photo_files)
        move_into(tmp, Path(photos))


@operation("export", "files",
           help=Text("导出交换文件：Shapefile（默认 GBK 编码并附 .cpg，可选 UTF-8；字段名按对照表截为 10 字节，见 field_mapping.csv）、"
                     "GeoJSON（RFC 7946，WGS 84 经纬度）或 CSV（WKT，点另有 X/Y）；部门、派遣矩阵和分类字典另存为 CSV。",
                     "Export exchange files: Shapefile (GBK with a .cpg by default, UTF-8 on request; field names cut to "
                     "10 bytes by a documented mapping, see field_mapping.csv), GeoJSON (RFC 7946, WGS 84 longitude/latitude) "
                     "or CSV (WKT, plus X/Y for points); departments, dispatch matrix and class dictionaries as CSV."),
           params=[P_PROJECT,
                   Param("format", "enum", Text("格式", "Format"), required=True, choices=("shp", "geojson", "csv")),
                   Param("out", "dir_out", Text("输出目录", "Output folder"), required=True),
                   Param("encoding", "enum", Text("字符编码（Shapefile 默认 gbk，其余默认 utf-8）；GBK 无法表示的字符（表情符号、扩展汉字）"
                                                  "逐个列入 unencodable_values.csv 并给出警告",
                                                  "Encoding (Shapefile: gbk by default; others: utf-8); characters GBK cannot hold "
                                                  "(emoji, CJK extensions) are each listed in unencodable_values.csv with a warning"),
                         choices=("gbk", "utf-8"))])
def files(project, format, out, encoding=None, feedback=None) -> Result:  # noqa: A002 - the CLI flag is --format
    from ..project import Project
    from .files import export_files

    feedback = feedback or Feedback()
    proj = Project.open(project)
    rep = export_files(proj, format, out, encoding, feedback)
    feedback.progress(100)
    spatial = [f for f in rep["files"] if not f.startswith("tables/") and f.endswith((".shp", ".geojson", ".csv"))
               and f not in ("field_mapping.csv", "unencodable_values.csv")]
    renamed = sum(1 for m in rep["field_mapping"] if m["renamed"])
    summary = Text(f"已导出 {len(spatial)} 个{format}图层和 {sum(1 for f in rep['files'] if f.startswith('tables/'))} 个属性表到 {out}"
                   f"（编码 {rep['encoding']}" + (f"，{renamed} 个字段名被截短，见 field_mapping.csv" if format == "shp" else "") + "）。",
                   f"Exported {len(spatial)} {format} layers and {sum(1 for f in rep['files'] if f.startswith('tables/'))} "
                   f"attribute tables to {out} (encoding {rep['encoding']}" +
                   (f"; {renamed} field names were cut, see field_mapping.csv" if format == "shp" else "") + ").")
    return Result(summary, data={"out": str(out), "format": format, "encoding": rep["encoding"], "files": rep["files"],
                                 "field_mapping": rep["field_mapping"], "photos": rep.get("photos", 0),
                                 "unencodable": [{k: str(v) for k, v in u.items()} for u in rep["unencodable"]]},
                  outputs={"PROJECT": str(proj.path), "OUT": str(out)}, warnings=rep["warnings"])


@operation("export", "manual",
           help=Text("生成指挥手册（manual.xlsx、manual.html、manual.pdf）：总体流程；每个部件和事件类别的代码、名称、立案条件、结案条件、"
                     "处置时限、各区域的主责和协办单位；责任单位、责任区域和工作网格一览；统计（各街道各类部件数、各社区网格数）；"
                     "总图和每个街道一幅标注网格编码的分图（中文字体嵌入 PDF）。",
                     "Generate the command manual (manual.xlsx, manual.html, manual.pdf): the overall workflow; for every "
                     "component and event class its code, name, filing and closing conditions, deadlines, lead and co-units "
                     "by area; departments, responsibility areas and work grids; statistics (components per class per "
                     "street, grids per community); an overview map and one map per street with grid codes (Chinese "
                     "fonts embedded in the PDF)."),
           params=[P_PROJECT,
                   Param("out", "dir_out", Text("输出目录", "Output folder"), required=True),
                   Param("formats", "string", Text("要生成的格式，逗号分隔（默认 xlsx,html,pdf）",
                                                   "Formats to write, comma-separated (default xlsx,html,pdf)"), default="xlsx,html,pdf")])
def manual(project, out, formats="xlsx,html,pdf", feedback=None) -> Result:
    from ..project import Project
    from .manual import build_manual

    feedback = feedback or Feedback()
    proj = Project.open(project)
    wanted = [f.strip().lower() for f in str(formats or "xlsx,html,pdf").split(",") if f.strip()]
    bad = [f for f in wanted if f not in ("xlsx", "html", "pdf")]
    if bad:
        raise SurveyError(Text(f"未知格式 {bad}（可用 xlsx、html、pdf）", f"unknown formats {bad} (xlsx, html, pdf)"),
                          code="bad_format", value=",".join(bad))
    rep = build_manual(proj, out, wanted, feedback)
    feedback.progress(100)
    summary = Text(f"已生成指挥手册到 {out}：{', '.join(rep['files'])}；部件类 {rep['component_classes']} 个，事件类 "
                   f"{rep['event_classes']} 个，地图 {rep['maps']} 幅" + (f"，PDF {rep['pdf_pages']} 页" if rep.get("pdf_pages") else "") + "。",
                   f"Wrote the command manual to {out}: {', '.join(rep['files'])}; {rep['component_classes']} component and "
                   f"{rep['event_classes']} event classes, {rep['maps']} maps" +
                   (f", {rep['pdf_pages']} PDF pages" if rep.get("pdf_pages") else "") + ".")
    return Result(summary, data=rep, outputs={"PROJECT": str(proj.path), "OUT": str(out)}, warnings=rep.get("warnings", []))


@operation("export", "migrate",
           help=Text("把旧版本结构的发布库（GeoPackage 或 PostGIS 模式）升级到当前结构版本，在一个事务中完成。",
                     "Upgrade a release (GeoPackage or PostGIS schema) of an older schema version to the current one, in one "
                     "transaction."),
           params=[Param("target", "string", Text("发布库：OUT.gpkg 或 postgresql://…[?schema=NAME]",
                                                  "Release: OUT.gpkg or postgresql://…[?schema=NAME]"),
                         required=True, positional=True, widget="release_target")])
def migrate(target, feedback=None) -> Result:
    from .schema import SCHEMA_VERSION

    if _is_pg(target):
        from .postgis import connect, migrate_pg, parse_url

        url, schema = parse_url(target)
        with connect(url) as con:
            done = migrate_pg(con.cursor(), schema)
            con.commit()
    else:
        from .migrate import migrate_gpkg

        done = migrate_gpkg(target)
    summary = Text(f"发布库 {target} 已是结构版本 {SCHEMA_VERSION}" + (f"（升级经过 {done}）" if done else "（无需升级）") + "。",
                   f"Release {target} is at schema version {SCHEMA_VERSION}" + (f" (migrated through {done})" if done else " (nothing to do)") + ".")
    return Result(summary, data={"target": str(target), "schema_version": SCHEMA_VERSION, "migrated": done})
