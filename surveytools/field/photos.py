"""Photos as data: the project's 1:n photo table and folder.

The project table ``photos`` has one row per photo: ``photo_id``, the feature's UUID
(``feature_uuid``) and ID (``component_id``), ``layer``, ``path`` (relative to the project's
folder: ``<project>_photos/<ID>_<n>.<ext>``), ``original`` (the path in the package or folder it
came from), ``taken`` (EXIF DateTimeOriginal, else the package row's time), ``bearing`` (EXIF
GPSImgDirection, degrees, when the camera wrote it), ``sha256``, ``package_id`` and ``batch``.

Photos come from a returned package (its ``photos`` table, files under ``DCIM/``) or from a
folder of files named by component ID (``field photos``).  A file that is missing, that is not a
readable image, or whose content is already in the project (same SHA-256) is reported and not
copied.  Files are copied under temporary names and renamed into place only after the project
transaction committed.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import uuid as _uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import Text
from . import common as C

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".heic", ".webp", ".tif", ".tiff")


def photo_folder(project) -> Path:
    """``<project>_photos`` in the project's folder (:func:`surveytools.store.project_folder`:
    beside a GeoPackage; for a PostGIS project its configured folder)."""
    from .. import store

    return Path(store.project_folder(project)) / f"{store.project_name(project)}_photos"


@dataclass
class Plan:
    rows: list = field(default_factory=list)
    copies: list = field(default_factory=list)  # (source, temporary, final)


def exif(path) -> dict:
    """``{"taken": ISO text or None, "bearing": float or None}`` from a photo's EXIF; raises
    ``OSError``/``ValueError`` when the file is not a readable image."""
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        ex = im.getexif()
        taken = bearing = None
        try:
            sub = ex.get_ifd(0x8769)
            raw = sub.get(36867) or ex.get(306)
            if raw:
                taken = _dt.datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
        except (ValueError, KeyError, TypeError):
            taken = None
        try:
            gps = ex.get_ifd(0x8825)
            if 17 in gps:
                bearing = float(gps[17])
        except (ValueError, KeyError, TypeError, ZeroDivisionError):
            bearing = None
    return {"taken": taken, "bearing": bearing}


def _existing(proj):
    from ..components.store import read_table

    df = read_table(proj, C.PROJECT_PHOTOS)
    if not len(df):
        return set(), set(), {}
    per = df.groupby("component_id").size().to_dict() if "component_id" in df else {}
    return set(df["photo_id"].astype(str)), set(df["sha256"].astype(str)), per


def _add(plan, proj, src: Path, *, photo_id, uuid, key, cid, original, taken, package_id, seen_sha, per, folder,
         warnings, label) -> None:
    if not src.is_file():
        warnings.append(Text(f"照片文件不存在：{label}", f"photo file missing: {label}"))
        return
    try:
        info = exif(src)
    except Exception as exc:  # any decoder error means: not a readable image
        warnings.append(Text(f"照片无法读取（不是有效图像）：{label}（{type(exc).__name__}）",
                             f"photo unreadable (not a valid image): {label} ({type(exc).__name__})"))
        return
    sha = C.sha256_file(src)
    if sha in seen_sha:
        warnings.append(Text(f"照片重复（内容与已有照片相同），未复制：{label}",
                             f"duplicate photo (same content as one already taken in), not copied: {label}"))
        return
    seen_sha.add(sha)
    n = per.get(cid, 0) + 1
    per[cid] = n
    name = f"{cid}_{n}{src.suffix.lower()}"
    final = folder / name
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    plan.copies.append((src, tmp, final))
    plan.rows.append({"photo_id": photo_id, "feature_uuid": uuid, "component_id": cid, "layer": key,
                      "path": f"{folder.name}/{name}", "original": original,
                      "taken": info["taken"] or taken, "bearing": info["bearing"], "sha256": sha,
                      "package_id": package_id})


def plan(proj, pkg, uuid_to_id: dict, warnings: list) -> Plan:
    """The photos of a returned package to take in (nothing is copied yet)."""
    import pyogrio

    out = Plan()
    try:
        df = pyogrio.read_dataframe(str(pkg.gpkg), layer=C.PHOTO_TABLE, read_geometry=False)
    except Exception:
        return out
    if not len(df):
        return out
    ids, shas, per = _existing(proj)
    folder = photo_folder(proj)
    for r in df.to_dict("records"):
        pid = str(r.get("photo_id") or "").strip() or None
        rel = r.get("path")
        fu = r.get("feature_uuid")
        if not rel or not fu:
            continue
        if pid is None:  # QField's UUID default may be missing on an older client: the path is stable
            pid = str(_uuid.uuid5(_uuid.NAMESPACE_URL, f"{pkg.id}/{rel}"))
        if pid in ids:
            continue
        key, cid = uuid_to_id.get(fu, (None, None))
        if not cid:
            warnings.append(Text(f"照片 {rel} 所属的要素 {fu} 未入库，照片未导入", f"photo {rel}: its feature {fu} was not "
                                 "taken in; photo skipped"))
            continue
        src = (pkg.root / str(rel)).resolve()
        if pkg.root.resolve() not in src.parents:
            warnings.append(Text(f"照片路径不在外业包内：{rel}", f"photo path outside the package: {rel}"))
            continue
        taken = r.get("taken")
        _add(out, proj, src, photo_id=pid, uuid=fu, key=key, cid=cid, original=str(rel),
             taken=None if taken is None or taken != taken else str(taken), package_id=pkg.id, seen_sha=shas,
             per=per, folder=folder, warnings=warnings, label=f"{pkg.source}:{rel}")
    return out


def write(work, p: Plan, pkg_or_none, batch: str) -> None:
    """Copy the files under temporary names and append the rows (inside the transaction)."""
    import pandas as pd

    from ..components.store import append_table

    if not p.rows:
        return
    for src, tmp, _final in p.copies:
        tmp.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, tmp)
    append_table(work, C.PROJECT_PHOTOS, pd.DataFrame([dict(r, batch=batch) for r in p.rows]))


def finish(p: Plan) -> None:
    for _src, tmp, final in p.copies:
        if tmp.exists():
            os.replace(tmp, final)


def discard(p: Plan) -> None:
    for _src, tmp, _final in p.copies:
        if tmp.exists():
            tmp.unlink()


def _id_of_name(stem: str, pattern) -> str | None:
    m = pattern.match(stem)
    return m.group(1) if m else None


def intake_folder(project, folder, feedback=None) -> dict:
    """Photos from a folder whose file names start with the component ID (``<ID>.jpg``,
    ``<ID>_2.jpg``, ``<ID>-east.jpg``)."""
    from ..components import store
    from ..errors import SurveyError
    from ..locate import COMPONENT_LAYERS
    from ..project import Project

    proj = Project.open(project)
    src = Path(folder)
    if not src.is_dir():
        raise SurveyError(Text("照片文件夹不存在", "the photo folder does not exist"), code="not_found", file=str(src))
    n = proj.profile.codes["component_id"].length
    pattern = re.compile(rf"^(\d{{{n}}})(?:[_\-\s].*)?$")
    warnings = []
    with proj.lock():
        layer_of = {}
        for key in COMPONENT_LAYERS:
            i, _ = store.read_ids(proj, [key])
            for v in i.to_pylist():
                if v:
                    layer_of[v] = key
        _ids, shas, per = _existing(proj)
        from .package import read_registry

        reg = {(k, i): u for (k, i), u in read_registry(proj).items()}
        p = Plan()
        dest = photo_folder(proj)
        files = sorted(f for f in src.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        for f in files:
            cid = _id_of_name(f.stem, pattern)
            if cid is None or cid not in layer_of:
                warnings.append(Text(f"文件名不以项目中的部件标识码开头：{f.name}",
                                     f"the file name does not start with a component ID of the project: {f.name}"))
                continue
            key = layer_of[cid]
            pid = str(_uuid.uuid5(_uuid.NAMESPACE_URL, f"{cid}/{C.sha256_file(f)}"))
            _add(p, proj, f, photo_id=pid, uuid=reg.get((key, cid)), key=key, cid=cid, original=str(f),
                 taken=None, package_id=None, seen_sha=shas, per=per, folder=dest, warnings=warnings, label=str(f))
        if p.rows:
            try:
                with proj.transaction() as work:
                    batch = store.next_batch_id(work, "photos")
                    write(work, p, None, batch)
                    store.record_batch(work, {"batch_id": batch, "kind": "photos", "source": str(src),
                                              "time": store.now(), "read": len(files), "photos": len(p.rows)})
                finish(p)
            except BaseException:
                discard(p)
                raise
    return {"read": len(files), "photos": len(p.rows), "warnings": warnings,
            "folder": str(photo_folder(proj))}
