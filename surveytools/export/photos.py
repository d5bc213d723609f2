"""Component photos in the release and the exchange files.

The project keeps its photos as data (:mod:`surveytools.field.photos`): the table ``photos`` (1:n,
one row per photo) and the files in ``<project>_photos/``.  A release carries both:

* the release table ``photos`` (:data:`PHOTO_FIELDS`): photo ID, component ID, the release table
  the component is in (``components_point`` …), the feature UUID, ``path``, time taken, bearing,
  SHA-256 and size;
* the files, copied under their project names (``<component ID>_<n>.<ext>``):

  - GeoPackage release ``OUT.gpkg``: the folder ``OUT_photos/`` beside it; ``path`` is relative to
    that folder and ``release_meta.photo_folder`` names it (relative to the release file's folder);
  - PostGIS: the folder given by ``--photos DIR``; ``path`` is relative to it and
    ``release_meta.photo_folder`` holds it (empty when no folder was given: the table is written,
    the files are not copied, a warning says so);
  - exchange files: ``photos/`` in the export folder and ``tables/photos.csv``, ``path`` relative to
    the export folder (``photos/<name>``).

A photo row whose file is missing from the project's photo folder, or whose content no longer has
its recorded SHA-256, is left out and reported.  Files are hard-linked when the file system allows
(same content, no copy), else copied.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..i18n import Text

TABLE = "photos"
PHOTO_FIELDS = [
    ("photo_id", "text", "照片标识", "Photo ID", "UUID"),
    ("component_id", "text", "部件标识码", "Component ID", "the component's ID (ObjID / GLBJBSM …)"),
    ("table_name", "text", "部件表", "Component table", "components_point | components_line | components_polygon"),
    ("feature_uuid", "text", "要素 UUID", "Feature UUID", "the key of the feature in field packages"),
    ("path", "text", "照片文件", "Photo file",
     "relative path: to the photo folder of the release (release_meta.photo_folder) or, in exchange files, to the "
     "export folder (photos/<name>)"),
    ("taken", "text", "拍摄时间", "Time taken", "ISO 8601 (EXIF DateTimeOriginal, else the survey time)"),
    ("bearing", "real", "拍摄方向", "Bearing", "degrees from north (EXIF GPSImgDirection) when the camera wrote it"),
    ("sha256", "text", "SHA-256", "SHA-256", "of the file's content"),
    ("size_bytes", "integer", "文件大小", "File size", "bytes"),
]
#: marks a photo folder written by a release (a folder without it is never replaced)
MARKER = ".surveytools-release-photos"


def release_table_of(proj) -> dict:
    """Project layer key -> release table name of the component layers."""
    from .schema import COMPONENT_TABLES, tables

    return {s.layer_key: s.name for s in tables() if s.layer_key in COMPONENT_TABLES}


def photo_rows(proj, warnings: list, prefix: str = ""):
    """``(DataFrame of PHOTO_FIELDS, [(source file, name in the photo folder)])`` of the project's photos
    whose files are there and intact; ``path`` gets ``prefix`` in front of the file name."""
    import pandas as pd

    from ..field.common import PROJECT_PHOTOS, sha256_file
    from ..field.photos import photo_folder
    from ..store import read_dataframe, table_exists

    cols = [f[0] for f in PHOTO_FIELDS]
    if not table_exists(proj.path, PROJECT_PHOTOS):
        return pd.DataFrame(columns=cols), []
    df = read_dataframe(proj.path, PROJECT_PHOTOS, read_geometry=False, use_arrow=True)
    folder = photo_folder(proj.path)
    base = folder.parent  # the project's folder (beside a GeoPackage; a PostGIS project's side-file folder)
    tables = release_table_of(proj)
    rows, files, seen = [], [], set()
    for r in df.to_dict("records"):
        rel = r.get("path")
        if not rel or not isinstance(rel, str):
            continue
        src = (base / rel).resolve()
        label = f"{PROJECT_PHOTOS}: photo_id={r.get('photo_id')} path={rel}"
        if folder.resolve() not in src.parents or not src.is_file():
            warnings.append(Text(f"照片文件不在项目照片目录中，未发布：{label}",
                                 f"photo file missing from the project's photo folder; not released: {label}"))
            continue
        sha = r.get("sha256")
        if sha and isinstance(sha, str) and sha256_file(src) != sha:
            warnings.append(Text(f"照片文件内容与记录的 SHA-256 不符（文件被改过），未发布：{label}",
                                 f"photo file content differs from its recorded SHA-256 (the file was changed); "
                                 f"not released: {label}"))
            continue
        if src.name in seen:
            continue
        seen.add(src.name)
        files.append((src, src.name))
        bearing = r.get("bearing")
        rows.append({"photo_id": r.get("photo_id"), "component_id": r.get("component_id"),
                     "table_name": tables.get(r.get("layer"), r.get("layer")), "feature_uuid": r.get("feature_uuid"),
                     "path": prefix + src.name, "taken": r.get("taken"),
                     "bearing": None if bearing is None or bearing == "" else bearing, "sha256": sha,
                     "size_bytes": src.stat().st_size})
    return pd.DataFrame(rows, columns=cols), files


def has_photos(proj) -> bool:
    from ..field.common import PROJECT_PHOTOS
    from ..store import feature_count, table_exists

    return table_exists(proj.path, PROJECT_PHOTOS) and feature_count(proj.path, PROJECT_PHOTOS) > 0


def place(src: Path, dst: Path) -> None:
    """``dst`` holds ``src``'s content: a hard link when possible, else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def fill_folder(folder: Path, files) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for src, name in files:
        place(src, folder / name)


def gpkg_photo_folder(out) -> Path:
    p = Path(out)
    return p.parent / f"{p.stem}_photos"


def check_release_folder(folder: Path, replace_foreign: bool) -> None:
    """Refuse to replace a folder that a release did not write (unless ``replace_foreign``)."""
    from ..errors import SurveyError

    if not folder.exists() or replace_foreign:
        return
    if not folder.is_dir() or not (folder / MARKER).is_file():
        raise SurveyError(Text("发布照片目录已存在且不是本软件的发布照片目录，未作任何改动",
                               "the release's photo folder exists and was not written by a release of this product; "
                               "nothing was changed"), code="foreign_target", file=str(folder),
                          hint=Text("换一个发布文件名，或移走该目录；确要替换时加 --replace-foreign",
                                    "choose another release file name or move the folder away; to replace it anyway add "
                                    "--replace-foreign"))


def swap_in_folder(tmp: Path, folder: Path) -> None:
    """Put the new photo folder ``tmp`` in place of ``folder`` (the old one removed after the rename)."""
    old = None
    if folder.exists():
        old = folder.parent / f".{folder.name}.old-{os.getpid()}"
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
