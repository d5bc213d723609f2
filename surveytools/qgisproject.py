"""``surveytools project qgis``: the survey project as a QGIS project file (``.qgz``).

The ``.qgz`` is written by QGIS itself (layers, styles, native forms, relations, default-value
expressions: see ``qgis_plugin/project_file.py``), so this operation runs in QGIS: the Processing
algorithm ``surveytools:project_qgis`` runs it inside QGIS's process, and the CLI runs that
algorithm through ``qgis_process`` (the library itself never imports ``qgis``).

``qgis_process`` is found as ``$SURVEYTOOLS_QGIS_PROCESS``, else ``qgis_process`` on ``PATH``
(on Debian the real binary ``/usr/bin/qgis_process.bin`` is used: the shell wrapper drops
arguments), else ``qgis_process-qgis.bat`` / ``qgis_process-qgis-ltr.bat`` (OSGeo4W).  The plugin
is loaded from ``$SURVEYTOOLS_QGIS_PLUGIN`` (a plugin folder), else from the folder this library
was installed in by the plugin ZIP, else from this checkout's ``qgis_plugin/``; it runs with a
temporary QGIS profile, so the user's own profile is never changed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import SurveyError
from .i18n import Text
from .ops import Param, Result, operation

PLUGIN_NAME = "surveytools_plugin"


def find_qgis_process() -> str | None:
    env = os.environ.get("SURVEYTOOLS_QGIS_PROCESS")
    if env:
        return env if os.path.exists(env) or shutil.which(env) else None
    for name in ("qgis_process", "qgis_process-qgis.bat", "qgis_process-qgis-ltr.bat", "qgis_process-qgis-dev.bat"):
        found = shutil.which(name)
        if found:
            real = found + ".bin"
            return real if name == "qgis_process" and os.path.exists(real) else found
    return None


def _plugin_source() -> tuple:
    """``(folder, is_plugin_folder)``: a ready plugin folder, or the checkout's ``qgis_plugin``."""
    env = os.environ.get("SURVEYTOOLS_QGIS_PLUGIN")
    if env:
        return Path(env), True
    here = Path(__file__).resolve().parent  # .../surveytools
    zipped = here.parent.parent  # <plugin>/libs/surveytools in the ZIP layout
    if (zipped / "metadata.txt").exists() and (zipped / "project_file.py").exists():
        return zipped, True
    checkout = here.parent
    if (checkout / "qgis_plugin" / "project_file.py").exists() and (checkout / "metadata.txt").exists():
        return checkout / "qgis_plugin", False
    return None, False


def _plugin_folder(tmp: Path) -> Path:
    src, ready = _plugin_source()
    if src is None:
        raise SurveyError(Text("找不到 SurveyTools QGIS 插件（设置 SURVEYTOOLS_QGIS_PLUGIN 为插件目录）",
                               "the SurveyTools QGIS plugin was not found (set SURVEYTOOLS_QGIS_PLUGIN to its folder)"),
                          code="no_plugin")
    if ready:
        return src
    folder = tmp / "plugins" / PLUGIN_NAME
    folder.mkdir(parents=True)
    for item in src.iterdir():
        if item.name != "__pycache__":
            try:
                (folder / item.name).symlink_to(item)
            except OSError:  # no symlinks (Windows without the privilege)
                (shutil.copytree if item.is_dir() else shutil.copyfile)(item, folder / item.name)
    shutil.copyfile(src.parent / "metadata.txt", folder / "metadata.txt")
    return folder


def _run(cmd, env, timeout=600):
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SurveyError(Text(f"无法运行 qgis_process：{exc}", f"could not run qgis_process: {exc}"),
                          code="qgis_process_failed", file=str(cmd[0])) from None


@operation("project", "qgis",
           Text("把调查项目写成 QGIS 项目文件（.qgz）：专题分组、样式、相对路径、原生表单（类别大类→小类、值域、部门、日期、约束、"
                "所在单元网格/街道/社区和标识码的默认值表达式），无需插件也能使用",
                "Write the survey project as a QGIS project file (.qgz): theme groups, styles, relative paths, native "
                "forms (class major → minor, domains, departments, dates, constraints, default-value expressions for "
                "the unit grid, street, community and ID) that work without the plugin"),
           params=[Param("project", "project", Text("调查项目库（.gpkg）", "Survey project (.gpkg)"), required=True,
                         positional=True),
                   Param("out", "file_out", Text("QGIS 项目文件（.qgz，默认与项目库同名）",
                                                 "QGIS project file (.qgz; default: beside the project, same name)"),
                         file_filter="QGIS project (*.qgz)")],
           in_qgis=True)
def project_qgis(project, out=None, feedback=None) -> Result:
    """Run ``surveytools:project_qgis`` through ``qgis_process`` (see the module docstring)."""
    from . import store

    if store.is_postgres(project):
        # the .qgz is written by the plugin from a GeoPackage; a PostGIS project opens in QGIS through a saved
        # connection (its layers' sources then carry the connection, never a password written into a file).
        # The child QGIS took the URI for a file name ("the project file does not exist: <cwd>/postgresql:/…")
        store.open_project(project)  # a bad address or no project: that error first
        raise SurveyError(Text("project qgis 只为 GeoPackage 项目库写出 .qgz；PostGIS 项目库请在 QGIS 中用项目面板的"
                               "“打开 PostGIS”（选择已保存的 PostgreSQL 连接和模式）打开，再用 QGIS 的“项目 → 另存为”保存",
                               "project qgis writes a .qgz for a GeoPackage project; open a PostGIS project in QGIS with "
                               "the project panel's 'Open PostGIS' (a saved PostgreSQL connection and the schema), then "
                               "'Project → Save As'"),
                          code="not_for_postgis", file=store.display(project),
                          hint=Text("见 docs/plugin.md 与 docs/store.md", "see docs/plugin.md and docs/store.md"))
    else:
        project = str(Path(project).resolve())
        if not os.path.isfile(project):
            raise SurveyError(Text("项目库文件不存在", "the project file does not exist"), code="not_found", file=project)
        default = Path(os.path.splitext(project)[0] + ".qgz")
    out = str(Path(out).resolve()) if out else str(default)
    exe = find_qgis_process()
    if exe is None:
        raise SurveyError(Text("未安装 QGIS（找不到 qgis_process）：请安装 QGIS 3.22 或更新版本，或在 QGIS 的处理工具箱中运行"
                               "“SurveyTools → 写出 QGIS 项目”；也可用 SURVEYTOOLS_QGIS_PROCESS 指定 qgis_process 的路径",
                               "QGIS is not installed (qgis_process not found): install QGIS 3.22 or later, or run "
                               "'SurveyTools → project qgis' from QGIS's Processing Toolbox; SURVEYTOOLS_QGIS_PROCESS "
                               "may name the qgis_process executable"), code="no_qgis")
    if feedback is not None:
        feedback.info(Text(f"运行 {exe}", f"running {exe}"))
    with tempfile.TemporaryDirectory(prefix="st-qgz-") as tmp:
        tmp = Path(tmp)
        folder = _plugin_folder(tmp)
        (tmp / "runtime").mkdir(mode=0o700)
        env = dict(os.environ, QGIS_PLUGINPATH=str(folder.parent), QGIS_CUSTOM_CONFIG_PATH=str(tmp / "profile"),
                   XDG_RUNTIME_DIR=str(tmp / "runtime"), SURVEYTOOLS_PYTHON=os.environ.get("SURVEYTOOLS_PYTHON",
                                                                                           sys.executable))
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        if _plugin_source()[1] is False:  # a checkout: the plugin imports surveytools from beside it
            root = str(Path(__file__).resolve().parent.parent)
            env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        enable = _run([exe, "plugins", "enable", folder.name], env, timeout=180)
        if enable.returncode != 0:
            raise SurveyError(Text(f"qgis_process 无法启用插件：{(enable.stderr or enable.stdout)[-500:]}",
                                   f"qgis_process could not enable the plugin: {(enable.stderr or enable.stdout)[-500:]}"),
                              code="qgis_process_failed", file=exe)
        run = _run([exe, "run", "surveytools:project_qgis", "--json", f"--PROJECT={project}", f"--OUT={out}"], env)
    data = None
    try:
        data = json.loads(run.stdout[run.stdout.index("{"):]) if "{" in run.stdout else None
    except ValueError:
        data = None
    if run.returncode != 0 or not data or "RESULT" not in (data.get("results") or {}):
        tail = (run.stderr or run.stdout or "").strip()[-1500:]
        raise SurveyError(Text(f"写出 QGIS 项目失败：{tail}", f"writing the QGIS project failed: {tail}"),
                          code="qgis_process_failed", file=out)
    inner = json.loads(data["results"]["RESULT"])
    summary = inner.get("summary") or {}
    return Result(Text(summary.get("zh", ""), summary.get("en", "")),
                  data={"layers": inner.get("layers"), "forms": inner.get("forms", []), "qgis_process": exe},
                  outputs={"OUT": out})
