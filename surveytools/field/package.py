"""``field package``: one QField package per work area (street, community or work grid).

Per area a folder ``OUT/<code>/`` and a ZIP ``OUT/<code>.zip`` of it, holding:

``survey.gpkg``    the area's unit grids, streets, communities (and work grids), its components with
                   their IDs and the field columns (:data:`~.common.SURVEY_COLUMNS`: UUID, surveyor,
                   survey time, GNSS accuracy and fix quality), its events (for reference),
                   background layers (roads, door plates, places, areas) around it, the dictionary
                   tables the forms need, the ``photos`` table (1:n, by feature UUID) and the
                   ``field_package`` metadata table;
``survey.qgz``     the QGIS/QField project with native forms, written by QGIS (``surveytools
                   project qgis`` on the package's survey.gpkg: ``qgis_plugin/field_project.py``);
``manifest.json``  area, package ID, project ID, profile, creation time and, for every packaged
                   feature, its UUID, ID and version hash (:func:`~.common.feature_hashes`);
``DCIM/``          where QField stores the photos (relative paths);
``basemap.*``      the optional offline basemap (GeoPackage raster or MBTiles).

Packaging records in the project: its ID (``surveytools_meta.project_id``), the UUID of every
packaged component (``field_features``) and the package (``field_packages``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid as _uuid
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import SurveyError
from ..gpkg import ARROW_TYPES, write_layer
from ..i18n import Text
from . import common as C

BY = ("street", "community", "work_grid")
BACKGROUND = ("geocode_road", "geocode_doorplate", "geocode_place", "geocode_area", "geocode_poi")
DICT_TABLES = ("dict_component_classes", "dict_event_classes", "dict_domains", "dict_fields", "departments",
               "id_registry")
#: background features within this distance (m) of the area are packaged
MARGIN_M = 50.0
BASEMAP_SUFFIXES = (".gpkg", ".mbtiles")


def _text(arr) -> list:
    return [None if v is None else str(v) for v in arr.to_pylist()]


def areas_of(proj, by: str) -> list:
    """``[{"code", "name", "grids": set of unit grid codes, "geom"}]`` of the project's areas."""
    import shapely

    prof = proj.profile
    ug = prof.codes["unit_grid"]
    clen = ug.length - ug.part_length("serial")
    slen = clen - ug.part_length("community")
    gt, gg = C.read_layer(proj.path, proj.table("unit_grid"))
    gcodes = np.array(_text(gt.column(prof.field("unit_grid", "grid_code"))), dtype=object)
    out = []
    if by in ("street", "community"):
        n = slen if by == "street" else clen
        key = "street_code" if by == "street" else "community_code"
        name_role = "street_name" if by == "street" else "community_name"
        t, g = C.read_layer(proj.path, proj.table(by))
        codes = _text(t.column(prof.field(by, key))) if t.num_rows else []
        names = _text(t.column(prof.field(by, name_role))) if t.num_rows else []
        known = dict(zip(codes, names))
        prefixes = sorted({c[:n] for c in gcodes if isinstance(c, str) and len(c) >= n} | set(c for c in codes if c))
        for code in prefixes:
            sel = np.array([isinstance(c, str) and c[:n] == code for c in gcodes], dtype=bool)
            out.append({"code": code, "name": known.get(code) or "", "grids": set(gcodes[sel]),
                        "geom": shapely.union_all(gg[sel]) if sel.any() else None})
    else:
        t, g = C.read_layer(proj.path, proj.table("work_grid"))
        if t.num_rows:
            codes = _text(t.column(prof.field("work_grid", "grid_code")))
            names = _text(t.column(prof.field("work_grid", "name"))) if prof.field("work_grid", "name") else [""] * len(codes)
            members = _text(t.column(prof.field("work_grid", "members"))) if prof.field("work_grid", "members") \
                else [None] * len(codes)
            rp = shapely.point_on_surface(gg) if len(gg) else np.zeros(0, dtype=object)
            for code, name, mem, geom in zip(codes, names, members, g):
                if mem:
                    grids = {m for m in re.split(r"[\s,;，；、]+", mem) if m}
                else:
                    grids = set(gcodes[shapely.within(rp, geom)]) if geom is not None and len(rp) else set()
                out.append({"code": code, "name": name or "", "grids": grids, "geom": geom})
    return out


def _empty(columns: dict) -> dict:
    return {n: pa.array([], ARROW_TYPES[t]) for n, t in columns.items()}


def _select(t: pa.Table, mask: np.ndarray) -> pa.Table:
    return t.filter(pa.array(mask, pa.bool_()))


def _wkb(geoms) -> pa.Array:
    import shapely

    return pa.array(list(shapely.to_wkb(np.asarray(geoms, dtype=object), output_dimension=2)) if len(geoms) else [],
                    pa.binary())


def _copy_table(src, dst, name) -> bool:
    from ..store import table_exists

    if not table_exists(src, name):
        return False
    from ..store import read_arrow

    _, t = read_arrow(str(src), name)
    write_layer(dst, name, t if t.num_columns else pa.table({"empty": pa.array([], pa.string())}))
    return True


def _meta_rows(proj, extra: dict) -> pa.Table:
    meta = {k: v for k, v in proj.meta.items()}
    meta.update(extra)
    return pa.table({"key": pa.array(list(meta), pa.string()), "value": pa.array([str(v) for v in meta.values()],
                                                                                  pa.string())})


def read_registry(proj) -> dict:
    """(layer, component ID) -> UUID from the project's ``field_features``."""
    from ..store import table_exists

    if not table_exists(proj.path, C.FEATURES_TABLE):
        return {}
    from ..store import read_arrow

    _, t = read_arrow(str(proj.path), C.FEATURES_TABLE)
    return {(lyr, i): u for lyr, i, u in zip(_text(t.column("layer")), _text(t.column("feature_id")),
                                         _text(t.column("uuid"))) if i}


def project_id(proj) -> str:
    return proj.meta.get("project_id") or ""


class _Packing:
    """What the steps of :func:`package` share: the project, the options, the project's layers read
    once, the UUID registry (new UUIDs collected) and the rows of the packages written."""

    def __init__(self, proj, by, mode, surveyor, qgz, basemap, check):
        prof = self.prof = proj.profile
        self.proj, self.by, self.mode, self.surveyor, self.qgz, self.basemap, self.check = \
            proj, by, mode, surveyor, qgz, basemap, check
        self.extra_cols = C.MODES[mode]
        self.pid = project_id(proj) or str(_uuid.uuid4())
        self.registry = read_registry(proj)
        self.created = C.now()
        self.grid_t, self.grid_g = C.read_layer(proj.path, proj.table("unit_grid"))
        self.grid_codes = np.array(_text(self.grid_t.column(prof.field("unit_grid", "grid_code"))), dtype=object)
        self.comps = {key: C.read_layer(proj.path, proj.table(key)) for key in C.EDITABLE}
        self.new_uuids = []
        self.pkg_rows = []

    def write(self, gpkg, key_or_spec, table, geoms) -> None:
        """A layer of the package: ``table`` with its geometries, as the profile describes the layer."""
        spec = self.prof.layer(key_or_spec) if isinstance(key_or_spec, str) else key_or_spec
        write_layer(gpkg, spec.table, table.append_column("geom", _wkb(geoms)), geometry_type=spec.geometry,
                    crs=self.proj.crs, description=f"{spec.title.zh} / {spec.title.en}")


def package(project, by, out, areas=None, basemap=None, surveyor=None, mode="survey", qgz=True, overwrite=False,
            feedback=None, check=None) -> dict:
    """Write the packages (see the module docstring).

    ``mode="check"`` (the acceptance check, run by ``acceptance plan``) needs ``check``: a
    :class:`CheckScope` of the plan; the one package then covers exactly the sampled grids and
    components (``by`` and ``areas`` are not used).

    The steps: the arguments checked; the areas chosen; each area's package written into a
    temporary folder; the project records the UUIDs and the packages (one transaction); then the
    folders take their final names and are zipped."""
    from ..feedback import Feedback
    from ..project import Project

    feedback = feedback or Feedback()
    proj = Project.open(project)
    out = Path(out)
    _check_arguments(by, mode, out, basemap, check)
    chosen = _chosen_areas(proj, by, areas, check)
    for a in chosen:
        for target in (out / a["code"], out / f"{a['code']}.zip"):
            if target.exists() and not overwrite:
                raise SurveyError(Text("外业包已存在；如需覆盖请使用 --overwrite", "the package already exists; use --overwrite"),
                                  code="exists", file=str(target))
    pk = _Packing(proj, by, mode, surveyor, qgz, basemap, check)
    results = []
    tmp_dirs = []
    try:
        for n_area, area in enumerate(chosen):
            feedback.progress(5 + 85 * n_area / len(chosen))
            tmp = out / f".{area['code']}.tmp-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            tmp_dirs.append(tmp)
            results.append(_write_package(pk, area, tmp, out))
        _record(pk)
        feedback.progress(92)
        for r in results:
            tmp = r.pop("tmp")
            final = out / r["area"]
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            tmp_dirs.remove(tmp)
            write_zip(final, out / f"{r['area']}.zip")
    finally:
        for tmp in tmp_dirs:
            shutil.rmtree(tmp, ignore_errors=True)
    feedback.progress(100)
    return {"project_id": pk.pid, "by": by, "packages": results}


def _check_arguments(by, mode, out: Path, basemap, check) -> None:
    """The partition, the mode, the output folder and the basemap file are usable."""
    if by not in BY:
        raise SurveyError(Text(f"分区方式应为 {'、'.join(BY)} 之一", f"--by must be one of {', '.join(BY)}"),
                          code="bad_value", field="by", value=by)
    if mode not in C.MODES:
        raise SurveyError(Text(f"外业包类型应为 {'、'.join(C.MODES)} 之一", f"the mode must be one of {', '.join(C.MODES)}"),
                          code="bad_value", field="mode", value=mode)
    if not out.is_dir():
        raise SurveyError(Text("输出目录不存在", "the output folder does not exist"), code="not_found", file=str(out))
    if basemap:
        bp = Path(basemap)
        if not bp.is_file():
            raise SurveyError(Text("底图文件不存在", "the basemap file does not exist"), code="not_found", file=str(bp),
                              field="basemap")
        if bp.suffix.lower() not in BASEMAP_SUFFIXES:
            raise SurveyError(Text("离线底图应为 GeoPackage 栅格（.gpkg）或 MBTiles（.mbtiles）",
                                   "the offline basemap must be a GeoPackage raster (.gpkg) or MBTiles (.mbtiles)"),
                              code="bad_basemap", file=str(bp), field="basemap")
    if mode == "check" and check is None:
        raise SurveyError(Text("检查模式的外业包由 acceptance plan 按抽样方案生成",
                               "a check-mode package is made by acceptance plan, from its sampling plan"),
                          code="bad_value", field="mode", value=mode)


def _chosen_areas(proj, by, areas, check) -> list:
    """The areas to package: the check's one area, the ones named (each must exist), or every area
    with unit grids."""
    all_areas = areas_of(proj, by) if check is None else []
    known = {a["code"]: a for a in all_areas}
    if check is not None:
        chosen = [check.area()]
    elif areas:
        wanted = [a.strip() for a in (areas if isinstance(areas, (list, tuple)) else str(areas).split(",")) if a.strip()]
        bad = [a for a in wanted if a not in known]
        if bad:
            raise SurveyError(Text(f"项目中没有这个{ {'street': '街道', 'community': '社区', 'work_grid': '工作网格'}[by] }：{bad[0]}"
                                   f"（共有 {len(known)} 个：{'、'.join(list(known)[:10])}）",
                                   f"the project has no {by} {bad[0]} (it has {len(known)}: {', '.join(list(known)[:10])})"),
                              code="unknown_area", file=str(proj.path), field="areas", value=bad[0])
        chosen = [known[a] for a in wanted]
    else:
        chosen = [a for a in all_areas if a["grids"]]
    if not chosen:
        raise SurveyError(Text("项目中没有可打包的区域（没有单元网格）", "the project has no area to package (no unit grids)"),
                          code="no_areas", file=str(proj.path), layer=proj.table("unit_grid"))
    return chosen


def _write_package(pk: _Packing, area: dict, tmp: Path, out: Path) -> dict:
    """One area's package in the folder ``tmp``: its layers, tables, metadata, basemap, QGIS project
    and manifest; the package's row is collected; returns its result."""
    import shapely

    code, grids = area["code"], area["grids"]
    pkg_id = str(_uuid.uuid4())
    (tmp / C.PHOTO_DIR).mkdir()
    gpkg = tmp / C.GPKG
    gmask = np.isin(pk.grid_codes, list(grids)) if len(pk.grid_codes) else np.zeros(0, dtype=bool)
    area_geom = area["geom"] if area["geom"] is not None else (
        shapely.union_all(pk.grid_g[gmask]) if gmask.any() else None)
    _write_context(pk, gpkg, code, gmask, area_geom)
    manifest_layers = {key: _write_components(pk, gpkg, key, grids, pkg_id) for key in C.EDITABLE}
    # events of the area, for reference
    t, g = C.read_layer(pk.proj.path, pk.prof.layer("event").table)
    m = np.isin(np.array(_text(t.column(pk.prof.field("event", "grid_code"))), dtype=object), list(grids)) \
        if t.num_rows and pk.check is None else np.zeros(t.num_rows, dtype=bool)
    pk.write(gpkg, "event", _select(t, m), g[m])
    background = _write_background(pk, gpkg, area_geom)
    for name in DICT_TABLES:
        _copy_table(pk.proj.path, gpkg, name)
    if pk.check is None:
        write_layer(gpkg, C.PHOTO_TABLE, pa.table(_empty(C.PHOTO_COLUMNS)))
    else:
        pk.check.write_layers(gpkg, pk.proj.crs)
    info = _write_meta(pk, gpkg, area, pkg_id)
    bm = None
    if pk.basemap:
        bm = "basemap" + Path(pk.basemap).suffix.lower()
        shutil.copyfile(pk.basemap, tmp / bm)
    if pk.qgz:  # written by QGIS itself (qgis_process), as `surveytools project qgis` does
        from ..qgisproject import project_qgis

        project_qgis(str(gpkg), out=str(tmp / C.QGZ))
    manifest = dict(info, basemap=bm, background=background, photo_dir=C.PHOTO_DIR, gpkg=C.GPKG,
                    qgz=C.QGZ if pk.qgz else None, layers=manifest_layers, extra_columns=list(pk.extra_cols))
    (tmp / C.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    counts = {k: len(v["features"]) for k, v in manifest_layers.items()}
    pk.pkg_rows.append({"package_id": pkg_id, "area_by": pk.by, "area_code": code, "area_name": area["name"],
                        "mode": pk.mode, "surveyor": pk.surveyor or "", "created": pk.created,
                        "features": int(sum(counts.values())), "folder": str((out / code).resolve())})
    return {"package_id": pkg_id, "area": code, "name": area["name"], "grids": len(grids), "features": counts,
            "folder": str(out / code), "zip": str(out / f"{code}.zip"), "tmp": tmp}


def _write_context(pk: _Packing, gpkg, code: str, gmask, area_geom) -> None:
    """The area's unit grids, and the streets, communities and work grids over it."""
    import shapely

    prof = pk.prof
    pk.write(gpkg, "unit_grid", _select(pk.grid_t, gmask), pk.grid_g[gmask])
    for key in ("street", "community", "work_grid"):
        t, g = C.read_layer(pk.proj.path, prof.layer(key).table)
        if t.num_rows and area_geom is not None:
            m = np.asarray(shapely.intersects(g, shapely.buffer(area_geom, -0.5)), dtype=bool)
            if key == "work_grid" and pk.by == "work_grid":
                m = np.array(_text(t.column(prof.field("work_grid", "grid_code")))) == code
        else:
            m = np.zeros(t.num_rows, dtype=bool)
        pk.write(gpkg, key, _select(t, m), g[m])


def _write_components(pk: _Packing, gpkg, key: str, grids, pkg_id: str) -> dict:
    """The components of layer ``key`` in the area (a check: exactly the plan's items) with their
    UUIDs and the field columns; returns the layer's manifest entry (UUID -> ID, version hash)."""
    from ..project import field_group

    prof, check = pk.prof, pk.check
    t, g = pk.comps[key]
    idf = prof.field(field_group(key), "component_id")
    gf = prof.field(field_group(key), "grid_code")
    if check is not None:  # exactly the plan's items (located by geometry when sampled)
        item_no = check.items_of(key, _text(t.column(idf)) if t.num_rows else [], g)
        m = item_no > 0
    elif t.num_rows:
        m = np.isin(np.array(_text(t.column(gf)), dtype=object), list(grids))
    else:
        m = np.zeros(0, dtype=bool)
    st, sg = _select(t, m), g[m]
    ids = _text(st.column(idf))
    uu = _uuids(pk, key, ids, pkg_id)
    hashes = C.feature_hashes(st, sg, C.hashed_fields(prof, key))
    cols = {n: st.column(n) for n in st.column_names}
    for col, (typ, _zh, _en) in pk.extra_cols.items():
        cols[col] = pa.array(uu, pa.string()) if col == C.UUID else pa.nulls(st.num_rows, ARROW_TYPES[typ])
    if check is not None:
        cols["item_no"] = pa.array(item_no[m], pa.int64())
    pk.write(gpkg, key, pa.table(cols), sg)
    entry = {"table": prof.layer(key).table, "id_field": idf,
             "features": {u: {"id": i, "hash": h} for u, i, h in zip(uu, ids, hashes)}}
    if check is not None:
        for u, k in zip(uu, item_no[m].tolist()):
            entry["features"][u]["item_no"] = int(k)
    return entry


def _uuids(pk: _Packing, key: str, ids: list, pkg_id: str) -> list:
    """The UUID of each component: the one the project gave it before, else a new one (recorded)."""
    uu = []
    seen = set()
    for i in ids:
        # a duplicate ID (a validation error) gets its own UUID: one UUID, one feature
        u = pk.registry.get((key, i)) if i and i not in seen else None
        if i in seen:
            u = "{" + str(_uuid.uuid4()) + "}"
        seen.add(i)
        if u is None:
            u = "{" + str(_uuid.uuid4()) + "}"
            if i:
                pk.registry[(key, i)] = u
                pk.new_uuids.append({"uuid": u, "layer": key, "feature_id": i, "created": pk.created,
                                     "package_id": pkg_id, "hash": None})
        uu.append(u)
    return uu


def _write_background(pk: _Packing, gpkg, area_geom) -> list:
    """The background layers (addresses, roads, places) within :data:`MARGIN_M` of the area; their tables."""
    import shapely

    background = []
    if area_geom is None:
        return background
    near = shapely.buffer(area_geom, MARGIN_M)
    for key in BACKGROUND:
        spec = pk.prof.layers.get(key)
        if spec is None:
            continue
        t, g = C.read_layer(pk.proj.path, spec.table)
        if not t.num_rows:
            continue
        m = np.asarray(shapely.intersects(g, near), dtype=bool)
        if m.any():
            pk.write(gpkg, spec, _select(t, m), g[m])
            background.append(spec.table)
    return background


def _write_meta(pk: _Packing, gpkg, area: dict, pkg_id: str) -> dict:
    """The package's metadata tables (field_package, surveytools_meta); returns the manifest's header."""
    proj, check, surveyor = pk.proj, pk.check, pk.surveyor
    info = {"format": C.FORMAT, "format_version": C.FORMAT_VERSION, "package_id": pkg_id, "project_id": pk.pid,
            "project_title": proj.meta.get("title", ""), "profile": pk.prof.id, "county": proj.county,
            "mode": pk.mode, "area": {"by": pk.by, "code": area["code"], "name": area["name"], "grids": len(area["grids"])},
            "surveyor": surveyor or "", "created": pk.created, "crs": proj.meta.get("crs", "")}
    if check is not None:
        info["check"] = {"plan_id": check.plan_id, "items": check.n_items}
    write_layer(gpkg, C.PACKAGE_META, pa.table({
        "key": pa.array(["package_id", "project_id", "area_by", "area_code", "area_name", "mode", "surveyor",
                         "created", "plan_id"], pa.string()),
        "value": pa.array([pkg_id, pk.pid, pk.by, area["code"], area["name"], pk.mode, surveyor or "", pk.created,
                           check.plan_id if check is not None else ""], pa.string())}))
    write_layer(gpkg, "surveytools_meta", _meta_rows(proj, {"project_id": pk.pid, "field_package": pkg_id}))
    return info


def _record(pk: _Packing) -> None:
    """The project remembers its ID, the new UUIDs and the packages (one transaction)."""
    import pandas as pd

    from ..components.store import append_table
    from ..store import active

    with pk.proj.transaction() as work:
        if not project_id(pk.proj):
            active(work.path).meta["project_id"] = pk.pid
        if pk.new_uuids:
            append_table(work, C.FEATURES_TABLE, pd.DataFrame(pk.new_uuids))
        append_table(work, C.PACKAGES_TABLE, pd.DataFrame(pk.pkg_rows))


def write_zip(folder: Path, target: Path) -> None:
    """ZIP ``folder`` (its files under the folder's name) atomically."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for root, _dirs, files in os.walk(folder):
                for f in sorted(files):
                    p = Path(root) / f
                    z.write(p, str(Path(folder.name) / p.relative_to(folder)).replace(os.sep, "/"))
                if not files and Path(root) != folder:
                    z.writestr(str(Path(folder.name) / Path(root).relative_to(folder)).replace(os.sep, "/") + "/", "")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
