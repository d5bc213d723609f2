"""``field return``: packages edited in QField merged back into the project.

Per returned package (a folder or its ZIP), after **every** package given has been checked (a
damaged or foreign package is refused before anything is applied):

* a feature whose UUID the package did not carry and the project does not know is **new**: its
  class is checked, it gets an ID (after the largest of the project and ``id_registry``), its unit
  grid, street and community from its position, its class name, the default state, data source and
  initial date, and is inserted;
* a packaged feature whose version hash changed in the field while the project's copy kept the
  hash it had when packaged is **updated** (the values the field gives, the geometry; location
  fields follow the geometry; change date and batch set);
* a packaged feature missing from the returned package was **deleted in the field**: it is never
  deleted; it gets the profile's ``component_state_missing`` (丢失) and the change date;
* where the project's copy changed too, **nothing is applied**: the pair goes to the layer
  ``field_conflicts`` (open until ``field resolve`` decides);
* every change is a row of ``change_log`` (batch) and of ``field_changes`` (package, surveyor,
  time, UUID, action);
* what was applied is remembered per package and UUID (``field_applied``: the field's and the
  project's version hashes after it), so the same package returned twice changes nothing, and
  packages may come back in any order;
* photos: see :mod:`.photos`; GNSS accuracy: ``component_accuracy``.

A return that changes nothing writes nothing.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import SurveyError
from ..i18n import Text
from ..issues import FIELD_CONFLICTS
from . import common as C

APPLIED_TABLE = "field_applied"
DELETED = "deleted"
#: roles never copied from the field onto a project component (the project decides them)
NOT_APPLIED = {"component_id", "batch", "change_date", "grid_code", "street_code", "street_name", "community_code",
               "community_name", "class_code", "name"}
LOCATION_ROLES = ("grid_code", "street_code", "street_name", "community_code", "community_name")


def _damaged(path, why_zh, why_en, **kw) -> SurveyError:
    return SurveyError(Text(f"外业包已损坏或不完整，未做任何修改：{why_zh}", f"the field package is damaged or incomplete; "
                            f"nothing was applied: {why_en}"), code="bad_package", file=str(path), **kw)


@dataclass
class Package:
    source: Path
    root: Path
    manifest: dict
    gpkg: Path
    meta: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.manifest["package_id"]


def open_package(path, workdir: Path) -> Package:
    """Check and open a returned package (folder or ZIP); ZIPs are extracted into ``workdir``."""
    src = Path(path)
    if not src.exists():
        raise SurveyError(Text("外业包不存在", "the field package does not exist"), code="not_found", file=str(src))
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise _damaged(src, "既不是文件夹也不是 ZIP 文件", "neither a folder nor a ZIP file")
        try:
            with zipfile.ZipFile(src) as z:
                bad = z.testzip()
                if bad is not None:
                    raise _damaged(src, f"ZIP 中的文件 {bad} 校验失败", f"the ZIP member {bad} fails its CRC check", value=bad)
                for name in z.namelist():
                    if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                        raise _damaged(src, f"ZIP 中有不安全的路径 {name}", f"the ZIP holds an unsafe path {name}", value=name)
                dest = Path(tempfile.mkdtemp(prefix="pkg-", dir=workdir))
                z.extractall(dest)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise _damaged(src, f"无法解压：{exc}", f"cannot extract: {exc}") from None
        found = sorted(dest.rglob(C.MANIFEST), key=lambda p: len(p.parts))
        if not found:
            raise _damaged(src, f"缺少 {C.MANIFEST}", f"{C.MANIFEST} is missing")
        root = found[0].parent
    else:
        root = src
    mpath = root / C.MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _damaged(src, f"缺少 {C.MANIFEST}", f"{C.MANIFEST} is missing") from None
    except (ValueError, OSError) as exc:
        raise _damaged(src, f"{C.MANIFEST} 无法读取：{exc}", f"{C.MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != C.FORMAT:
        raise _damaged(src, f"{C.MANIFEST} 不是 surveytools 外业包清单", f"{C.MANIFEST} is not a surveytools package manifest")
    for k in ("package_id", "project_id", "layers"):
        if not manifest.get(k):
            raise _damaged(src, f"清单缺少 {k}", f"the manifest lacks {k}", field=k)
    gpkg = root / (manifest.get("gpkg") or C.GPKG)
    if not gpkg.is_file():
        raise _damaged(src, f"缺少 {gpkg.name}", f"{gpkg.name} is missing", value=gpkg.name)
    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise _damaged(gpkg, f"数据库检查失败：{ok[0] if ok else ''}", f"the database check fails: {ok[0] if ok else ''}")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if C.PACKAGE_META not in tables:
                raise _damaged(gpkg, f"缺少表 {C.PACKAGE_META}", f"the table {C.PACKAGE_META} is missing", layer=C.PACKAGE_META)
            meta = dict(con.execute(f'SELECT key, value FROM "{C.PACKAGE_META}"').fetchall())
            for key, lay in manifest["layers"].items():
                t = lay.get("table")
                if t not in tables:
                    raise _damaged(gpkg, f"缺少图层 {t}", f"the layer {t} is missing", layer=t)
                cols = {r[1] for r in con.execute(f'PRAGMA table_info("{t}")')}
                if C.UUID not in cols:
                    raise _damaged(gpkg, f"图层缺少 {C.UUID} 字段", f"the layer has no {C.UUID} field", layer=t, field=C.UUID)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise _damaged(gpkg, f"不是可读的 GeoPackage：{exc}", f"not a readable GeoPackage: {exc}") from None
    if meta.get("package_id") != manifest["package_id"]:
        raise _damaged(gpkg, "GeoPackage 与清单的外业包标识不一致", "the GeoPackage and the manifest name different packages",
                       field="package_id", value=meta.get("package_id"))
    return Package(src, root, manifest, gpkg, meta)


def _text(arr) -> list:
    return [None if v is None else str(v) for v in arr.to_pylist()]


def _read(work, name):
    from ..components.store import read_table

    return read_table(work, name)


def applied_state(work) -> dict:
    """(package ID, UUID) -> (field hash, project hash, component ID, layer) of the last applied
    state."""
    df = _read(work, APPLIED_TABLE)
    out = {}
    for r in df.itertuples(index=False):
        out[(r.package_id, r.uuid)] = (r.field_hash, r.project_hash, r.feature_id, r.layer)
    return out


def conflict_keys(work) -> set:
    df = _read(work, C.CONFLICTS_LAYER)
    return set() if not len(df) else set(zip(df["package_id"], df["feature_uuid"], df["field_hash"]))


def _js(d) -> str:
    return json.dumps(d, ensure_ascii=False, default=str, sort_keys=True)


def _pkg_surveyor(pkg: Package, table: pa.Table, i: int) -> str:
    v = table.column("surveyor")[i].as_py() if "surveyor" in table.column_names else None
    return v or pkg.manifest.get("surveyor") or ""


def apply_package(proj, pkg: Package, *, date=None, feedback=None) -> dict:
    """Merge one checked package into the project (one transaction); the counts."""
    import pandas as pd
    import shapely

    from ..components import store
    from ..components.coding import IdSpec, assign_ids
    from ..components.intake import class_names
    from ..locate import COMPONENT_LAYERS, Locator
    from ..project import field_group
    from . import photos as P

    prof = proj.profile
    day = date or _dt.date.today()
    now = C.now()
    applied = applied_state(proj)
    seen_conflicts = conflict_keys(proj)
    batch = store.next_batch_id(proj, "field", day)
    loc = Locator(proj)
    spec = IdSpec.of(prof, proj.county)
    state_missing = prof.defaults.get("component_state_missing", "丢失")
    state_new = prof.defaults.get("component_state_new", "完好")
    # a component whose class changes is cancelled (注销): the profile's state for a removed component
    state_removed = prof.defaults.get("component_state_removed", "移除")
    cls_tab = prof.component_classes
    class_geom = dict(zip(cls_tab["code"].astype(str), cls_tab["geometry"].astype(str))) if "geometry" in cls_tab else {}
    geom_of_layer = {k: k.rsplit("_", 1)[-1] for k in C.EDITABLE}
    reclass = {}  # UUID -> the cancelled component (see the update branch)
    source_default = prof.defaults.get("data_source_survey")
    valid_classes = set(prof.component_classes["code"].astype(str))
    names_of = class_names(prof)
    log, flog, conflicts, new_applied, accuracy, warnings = [], [], [], [], [], []
    layers_out = {}
    new_rows = {}  # key -> list of (pkg row index, uuid, surveyor)
    uuid_to_id = {}
    counts = {"updated": 0, "new": 0, "deleted": 0, "conflicts": 0, "unchanged": 0, "rejected": 0, "reclassified": 0}
    pk_tables = {}
    for key in C.EDITABLE:
        lay = pkg.manifest["layers"].get(key)
        if not lay:
            continue
        grp = field_group(key)
        f = lambda role: prof.field(grp, role)  # noqa: E731
        names = C.hashed_fields(prof, key)
        applied_fields = [n for n, r in zip(prof.layer_fields(grp)["name"], prof.layer_fields(grp)["role"])
                          if r not in NOT_APPLIED]
        pt, pg = C.read_layer(proj.path, proj.table(key))
        kt, kg = C.read_layer(pkg.gpkg, lay["table"])
        pk_tables[key] = (kt, kg)
        idf = f("component_id")
        pids = _text(pt.column(idf)) if pt.num_rows else []
        pos = {v: j for j, v in enumerate(pids) if v}
        # an ID held by several components cannot say which one the field changed: a conflict
        counts_by_id = {}
        for v in pids:
            counts_by_id[v] = counts_by_id.get(v, 0) + 1
        ambiguous = {v for v, n in counts_by_id.items() if v and n > 1}
        kuu = _text(kt.column(C.UUID))
        feats = lay.get("features") or {}
        # hashes only of the project rows this package refers to
        ref_rows = sorted({pos[v["id"]] for v in feats.values() if v.get("id") in pos} |
                          {pos[a[2]] for (pk, u), a in applied.items() if pk == pkg.id and a[2] in pos})
        proj_hash = dict(zip(ref_rows, C.feature_hashes(pt.take(pa.array(ref_rows, pa.int64())), pg[ref_rows], names)))
        pk_hash = C.feature_hashes(kt, kg, names)
        cols = None
        geoms = pg.copy()
        changed = np.zeros(pt.num_rows, dtype=bool)
        moved = np.zeros(pt.num_rows, dtype=bool)
        pending = []  # (row, uuid, field hash) applied: project hash computed after the edits
        present = set()
        for i, u in enumerate(kuu):
            if not u:
                warnings.append(Text(f"{lay['table']} 第 {i + 1} 个要素没有 UUID，未处理", f"{lay['table']} feature {i + 1} has no UUID; skipped"))
                counts["rejected"] += 1
                continue
            present.add(u)
            if (pkg.id, u) in applied:
                fbase, pbase, cid, _ = applied[(pkg.id, u)]
            elif u in feats:
                fbase = pbase = feats[u]["hash"]
                cid = feats[u]["id"]
            else:
                new_rows.setdefault(key, []).append((i, u, _pkg_surveyor(pkg, kt, i)))
                continue
            uuid_to_id[u] = (key, cid)
            if pk_hash[i] == fbase:
                counts["unchanged"] += 1
                continue
            j = pos.get(cid) if cid not in ambiguous else None
            ph = proj_hash.get(j) if j is not None else None
            if j is None or ph != pbase:
                ck = (pkg.id, u, pk_hash[i])
                if ck not in seen_conflicts:
                    seen_conflicts.add(ck)
                    # the class too: a conflict resolved with the field's class is a reclassification
                    shown = applied_fields + [n for n in (f("class_code"),) if n and n in kt.column_names]
                    fv = C.values_of(kt, shown, i)
                    pv = C.values_of(pt, shown, j) if j is not None else {}
                    diff = [n for n in shown if fv.get(n) != pv.get(n)]
                    conflicts.append({"package_id": pkg.id, "layer": key, "feature_uuid": u, "component_id": cid,
                                      "kind": "both_changed" if j is not None else (
                                          "duplicate_id" if cid in ambiguous else "gone_from_project"),
                                      "fields": ",".join(diff), "field_values": _js(fv), "project_values": _js(pv),
                                      "field_hash": pk_hash[i], "project_hash": ph, "surveyor": _pkg_surveyor(pkg, kt, i),
                                      "geom": kg[i]})
                continue
            if cols is None:
                cols = {n: pt.column(n).to_pylist() for n in pt.column_names}
            surveyor = _pkg_surveyor(pkg, kt, i)
            ccf = f("class_code")
            if ccf and ccf in kt.column_names and ccf in cols and C._norm(kt.column(ccf)[i].as_py()) != C._norm(cols[ccf][j]):
                new_cls = kt.column(ccf)[i].as_py()
                if new_cls in valid_classes and class_geom.get(new_cls, geom_of_layer[key]) == geom_of_layer[key] \
                        and kg[i] is not None and not shapely.is_empty(kg[i]):
                    # the class is part of the ID: the old component is cancelled, a new one of the new class
                    # with a new ID takes its place at the field geometry (inserted with the new features)
                    sname = f("state")
                    old_state = cols[sname][j] if sname else None
                    if sname and old_state != state_removed:
                        cols[sname][j] = state_removed
                        log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": sname,
                                    "old": old_state, "new": state_removed})
                    changed[j] = True
                    reclass[u] = {"key": key, "row": j, "old_id": cid, "old_class": cols[ccf][j], "new_class": new_cls,
                                  "surveyor": surveyor, "old_state": old_state}
                    new_rows.setdefault(key, []).append((i, u, surveyor))
                    continue
                # an unknown class (or one of another geometry type) cannot be coded: reported, the rest applied
                warnings.append(Text(f"部件 {cid} 在外业改成的类别 {new_cls} 不在分类表中或几何类型不符，类别决定标识码，"
                                     f"未采用；请在内业核实后重新编码",
                                     f"component {cid} got the class {new_cls} in the field, which is not in the class "
                                     f"table or has another geometry type; the class is part of the ID, so it was not "
                                     f"applied: check it in the office and recode"))
            for n in applied_fields:
                if n not in kt.column_names or n not in cols:
                    continue
                nv = kt.column(n)[i].as_py()
                ov = cols[n][j]
                if C._norm(nv) != C._norm(ov):
                    cols[n][j] = nv
                    log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": n,
                                "old": None if ov is None else str(ov), "new": None if nv is None else str(nv)})
                    flog.append({"time": now, "package_id": pkg.id, "surveyor": surveyor, "layer": key,
                                 "feature_uuid": u, "component_id": cid, "action": "update", "field": n,
                                 "old": None if ov is None else str(ov), "new": None if nv is None else str(nv)})
            og, ng = pg[j], kg[i]
            if C.rounded_wkb([og]) != C.rounded_wkb([ng]):
                geoms[j] = ng
                moved[j] = True
                log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": "geometry",
                            "old": None if og is None else og.wkt, "new": None if ng is None else ng.wkt})
                flog.append({"time": now, "package_id": pkg.id, "surveyor": surveyor, "layer": key, "feature_uuid": u,
                             "component_id": cid, "action": "update", "field": "geometry",
                             "old": None if og is None else og.wkt, "new": None if ng is None else ng.wkt})
            changed[j] = True
            counts["updated"] += 1
            pending.append((j, u, pk_hash[i]))
            accuracy.append(_accuracy_row(kt, i, key, cid, pkg, batch))
        # deleted in the field: the state, never a delete
        sname = f("state")
        for u, meta in feats.items():
            if u in present:
                continue
            prev = applied.get((pkg.id, u))
            if prev is not None and prev[0] == DELETED:
                continue
            j = pos.get(meta["id"])
            if j is None:
                continue
            if meta["id"] in ambiguous:
                ck = (pkg.id, u, DELETED)
                if ck not in seen_conflicts:
                    seen_conflicts.add(ck)
                    conflicts.append({"package_id": pkg.id, "layer": key, "feature_uuid": u, "component_id": meta["id"],
                                      "kind": "duplicate_id", "fields": sname, "field_values": _js({sname: state_missing}),
                                      "project_values": "{}", "field_hash": DELETED, "project_hash": None,
                                      "surveyor": pkg.manifest.get("surveyor") or "", "geom": None})
                continue
            pbase = prev[1] if prev else meta["hash"]
            cur_state = (cols[sname][j] if cols is not None else pt.column(sname)[j].as_py()) if sname else None
            if proj_hash.get(j) != pbase:
                if cur_state == state_missing:
                    continue
                ck = (pkg.id, u, DELETED)
                if ck not in seen_conflicts:
                    seen_conflicts.add(ck)
                    conflicts.append({"package_id": pkg.id, "layer": key, "feature_uuid": u, "component_id": meta["id"],
                                      "kind": "deleted_in_field", "fields": sname, "field_values": _js({sname: state_missing}),
                                      "project_values": _js(C.values_of(pt, [sname], j)), "field_hash": DELETED,
                                      "project_hash": proj_hash.get(j), "surveyor": pkg.manifest.get("surveyor") or "",
                                      "geom": pg[j]})
                continue
            if cols is None:
                cols = {n: pt.column(n).to_pylist() for n in pt.column_names}
            if sname and cur_state != state_missing:
                cols[sname][j] = state_missing
                log.append({"time": now, "batch": batch, "layer": key, "component_id": meta["id"], "field": sname,
                            "old": cur_state, "new": state_missing})
                flog.append({"time": now, "package_id": pkg.id, "surveyor": pkg.manifest.get("surveyor") or "",
                             "layer": key, "feature_uuid": u, "component_id": meta["id"], "action": "deleted_in_field",
                             "field": sname, "old": cur_state, "new": state_missing})
                changed[j] = True
                counts["deleted"] += 1
            pending.append((j, u, DELETED))
        if cols is not None and changed.any():
            if moved.any():
                idx = loc.locate(geoms[moved]) if loc.available else np.full(int(moved.sum()), -1)
                for role, arr in loc.fields(np.asarray(idx, dtype=np.int64)).items():
                    n = f(role)
                    if n and n in cols:
                        for j, v in zip(np.flatnonzero(moved), arr.to_pylist()):
                            cols[n][int(j)] = v
            for role, val in (("change_date", day), ("batch", batch)):
                n = f(role)
                if n and n in cols:
                    for j in np.flatnonzero(changed):
                        cols[n][int(j)] = val
            t = pa.table({n: pa.array(v, pt.schema.field(n).type) for n, v in cols.items()})
            layers_out[key] = (t, geoms)
            after = dict(zip([p[0] for p in pending], C.feature_hashes(t.take(pa.array([p[0] for p in pending], pa.int64())),
                                                                        geoms[[p[0] for p in pending]], names)))
        else:
            after = proj_hash
        for j, u, fh in pending:
            new_applied.append({"package_id": pkg.id, "uuid": u, "layer": key, "feature_id": pids[j],
                                "field_hash": fh, "project_hash": after.get(j), "time": now})
    # new features
    new_tables = {}
    if new_rows:
        existing_ids, _ = store.read_ids(proj, COMPONENT_LAYERS)
        order, cls_all = [], []
        for key, rows in new_rows.items():
            kt, kg = pk_tables[key]
            grp = field_group(key)
            ccf = prof.field(grp, "class_code")
            ok_rows = []
            for i, u, sv in rows:
                c = kt.column(ccf)[i].as_py() if ccf in kt.column_names else None
                g = kg[i]
                if c not in valid_classes or g is None or shapely.is_empty(g):
                    why = (f"类别代码 {c!r} 不在分类表中" if c not in valid_classes else "没有几何") + "，未入库"
                    why_en = (f"class code {c!r} is not in the class table" if c not in valid_classes else "no geometry") + \
                        "; not inserted"
                    warnings.append(Text(f"外业包 {pkg.manifest['area']['code']} 图层 {key} 新要素 {u}：{why}",
                                         f"package {pkg.manifest['area']['code']} layer {key} new feature {u}: {why_en}"))
                    counts["rejected"] += 1
                    continue
                ok_rows.append((i, u, sv, c))
                cls_all.append(c)
            order.append((key, ok_rows))
        if cls_all:
            res = assign_ids(None, pa.array(cls_all, pa.string()), spec, prof, existing_ids=existing_ids,
                             registry=store.read_registry(proj))
            ids = res.ids.to_pylist()
            maxima = res.maxima
            k = 0
            for key, ok_rows in order:
                if not ok_rows:
                    continue
                grp = field_group(key)
                f = lambda role: prof.field(grp, role)  # noqa: E731
                kt, kg = pk_tables[key]
                fields = prof.layer_fields(grp)
                take = pa.array([r[0] for r in ok_rows], pa.int64())
                sub = kt.take(take)
                g = kg[[r[0] for r in ok_rows]]
                cols = {}
                m = len(ok_rows)
                for n, typ in zip(fields["name"], fields["type"]):
                    cols[n] = sub.column(n).to_pylist() if n in sub.column_names else [None] * m
                my_ids = ids[k:k + m]
                k += m
                cols[f("component_id")] = my_ids
                cols[f("class_code")] = [r[3] for r in ok_rows]
                if f("name"):
                    cols[f("name")] = [names_of.get(r[3]) for r in ok_rows]
                if f("state"):
                    cols[f("state")] = [v or state_new for v in cols[f("state")]]
                if f("data_source") and source_default:
                    cols[f("data_source")] = [v or source_default for v in cols[f("data_source")]]
                if f("init_date"):
                    st = sub.column("survey_time").to_pylist() if "survey_time" in sub.column_names else [None] * m
                    cols[f("init_date")] = [v or (s.date() if s else day) for v, s in zip(cols[f("init_date")], st)]
                if f("change_date"):
                    cols[f("change_date")] = [day if r[1] in reclass else None for r in ok_rows]
                if f("batch"):
                    cols[f("batch")] = [batch] * m
                idx = loc.locate(g) if loc.available else np.full(m, -1)
                for role, arr in loc.fields(np.asarray(idx, dtype=np.int64)).items():
                    if f(role):
                        cols[f(role)] = arr.to_pylist()
                from ..gpkg import ARROW_TYPES

                t = pa.table({n: pa.array(cols[n], ARROW_TYPES[typ]) for n, typ in zip(fields["name"], fields["type"])})
                if f("note"):
                    # the new component of a reclassification names the ID it replaces
                    notes = cols[f("note")]
                    for q, r in enumerate(ok_rows):
                        rc = reclass.get(r[1])
                        if rc is not None:
                            rc["new_id"] = my_ids[q]
                            add = f"由 {rc['old_id']} 变更类别 / reclassified from {rc['old_id']}"
                            notes[q] = add if not notes[q] else f"{notes[q]}；{add}"
                for q, r in enumerate(ok_rows):
                    if r[1] in reclass:
                        reclass[r[1]]["new_id"] = my_ids[q]
                t = pa.table({n: pa.array(cols[n], ARROW_TYPES[typ]) for n, typ in zip(fields["name"], fields["type"])})
                new_tables[key] = (t, g)
                after = C.feature_hashes(t, g, C.hashed_fields(prof, key))
                pk_h = C.feature_hashes(sub, g, C.hashed_fields(prof, key))
                for r, cid, ah, fh in zip(ok_rows, my_ids, after, pk_h):
                    i, u, sv, c = r
                    uuid_to_id[u] = (key, cid)
                    new_applied.append({"package_id": pkg.id, "uuid": u, "layer": key, "feature_id": cid,
                                        "field_hash": fh, "project_hash": ah, "time": now})
                    rc = reclass.get(u)
                    if rc is None:
                        log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": "*",
                                    "old": None, "new": f"新增 new {c}"})
                        flog.append({"time": now, "package_id": pkg.id, "surveyor": sv, "layer": key, "feature_uuid": u,
                                     "component_id": cid, "action": "insert", "field": "*", "old": None, "new": c})
                    else:
                        note = (f"类别变更 reclassified {rc['old_class']} → {c}：{rc['old_id']} 注销 cancelled, "
                                f"新标识码 new ID {cid}")
                        log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": "*",
                                    "old": rc["old_id"], "new": note})
                        flog.append({"time": now, "package_id": pkg.id, "surveyor": sv, "layer": key, "feature_uuid": u,
                                     "component_id": cid, "action": "reclassify_insert", "field": "*",
                                     "old": rc["old_id"], "new": note})
                        flog.append({"time": now, "package_id": pkg.id, "surveyor": sv, "layer": key, "feature_uuid": u,
                                     "component_id": rc["old_id"], "action": "reclassify_cancel",
                                     "field": f("state") or "*", "old": rc["old_state"],
                                     "new": f"{state_removed}（{note}）"})
                    accuracy.append(_accuracy_row(kt, i, key, cid, pkg, batch))
                n_re = sum(1 for r in ok_rows if r[1] in reclass)
                counts["new"] += m - n_re
                counts["reclassified"] += n_re
        else:
            maxima = None
    else:
        maxima = None
    for lay in pkg.manifest["layers"].values():
        for u, v in (lay.get("features") or {}).items():
            uuid_to_id.setdefault(u, (None, v.get("id")))
    # the cancelled component of a reclassification names the ID that replaces it
    for u, rc in reclass.items():
        key, j, new_id = rc["key"], rc["row"], rc.get("new_id")
        nf = prof.field(field_group(key), "note")
        if not new_id or key not in layers_out or not nf:
            continue
        t, g = layers_out[key]
        notes = t.column(nf).to_pylist()
        add = f"类别变更为 {rc['new_class']}，注销，新标识码 {new_id} / reclassified as {rc['new_class']}, cancelled, new ID {new_id}"
        old = notes[j]
        notes[j] = add if not old else f"{old}；{add}"
        layers_out[key] = (t.set_column(t.column_names.index(nf), nf, pa.array(notes, t.schema.field(nf).type)), g)
        log.append({"time": now, "batch": batch, "layer": key, "component_id": rc["old_id"], "field": nf,
                    "old": old, "new": notes[j]})
    photo_plan = P.plan(proj, pkg, uuid_to_id, warnings)
    counts["conflicts"] = len(conflicts)
    counts["photos"] = len(photo_plan.rows)
    changes = bool(layers_out or new_tables or conflicts or photo_plan.rows or any(
        a["field_hash"] == DELETED for a in new_applied) or [a for a in new_applied if (a["package_id"], a["uuid"]) not in applied])
    result = dict(counts, batch=None, package_id=pkg.id, area=pkg.manifest.get("area"), source=str(pkg.source),
                  warnings=warnings)
    if not changes:
        return result
    surveyors = sorted({r["surveyor"] for r in flog if r.get("surveyor")} | ({pkg.manifest.get("surveyor")} - {None, ""}))
    try:
        with proj.transaction() as work:
            for key in C.EDITABLE:
                if key not in layers_out and key not in new_tables:
                    continue
                fields = store.layer_fields(work, key)
                if key in layers_out:
                    t, g = layers_out[key]
                else:
                    t, gc = store.read_component_table(work, key)
                    g = gc.shapely()
                t = store.conform({n: t.column(n) for n in t.column_names}, fields, t.num_rows)
                gcol = store.GeomColumn(geoms=np.asarray(g, dtype=object))
                if key in new_tables:
                    nt, ng = new_tables[key]
                    nt = store.conform({n: nt.column(n) for n in nt.column_names}, fields, nt.num_rows)
                    t = pa.concat_tables([t, nt])
                    gcol = store.GeomColumn(geoms=np.concatenate([np.asarray(g, dtype=object), np.asarray(ng, dtype=object)]))
                store.write_component_table(work, key, t, gcol)
            store.write_change_log(work, log)
            relinks = [{"feature_uuid": u, "component_id": rc["new_id"]} for u, rc in reclass.items() if rc.get("new_id")]
            if relinks:
                # the UUID now names the new component: the registry and the photos follow it (rewritten
                # before the appends below, which read these tables as this transaction sees them)
                to_new = {r["feature_uuid"]: r["component_id"] for r in relinks}
                _relink(work, C.FEATURES_TABLE, "uuid", "feature_id", to_new)
                _relink(work, C.PROJECT_PHOTOS, "feature_uuid", "component_id", to_new)
            if flog:
                store.append_table(work, C.CHANGES_TABLE, pd.DataFrame(flog))
            if new_applied:
                store.append_table(work, APPLIED_TABLE, pd.DataFrame(new_applied))
            fresh = [{"uuid": a["uuid"], "layer": a["layer"], "feature_id": a["feature_id"], "created": now,
                      "package_id": pkg.id, "hash": a["project_hash"]} for a in new_applied
                     if a["feature_id"] and (a["package_id"], a["uuid"]) not in applied and a["uuid"] not in
                     {u for lay in pkg.manifest["layers"].values() for u in (lay.get("features") or {})}]
            if fresh:
                store.append_table(work, C.FEATURES_TABLE, pd.DataFrame(fresh))
            acc = [a for a in accuracy if a is not None]
            if acc:
                store.append_table(work, C.ACCURACY_TABLE, pd.DataFrame(acc))
            if conflicts:
                write_conflicts(work, conflicts, now)
            if maxima is not None:
                store.write_registry(work, {(proj.county, k): v for k, v in maxima.items()})
            P.write(work, photo_plan, pkg, batch)
            store.record_batch(work, {"batch_id": batch, "kind": "field", "source": str(pkg.source), "time": now,
                                      "read": sum(len(v[0]) for v in pk_tables.values()) if pk_tables else 0,
                                      "updated": counts["updated"], "new": counts["new"], "deleted": counts["deleted"],
                                      "conflicts": counts["conflicts"], "package_id": pkg.id})
            store.append_table(work, C.RETURNS_TABLE, pd.DataFrame([{
                "package_id": pkg.id, "batch": batch, "time": now, "source": str(pkg.source),
                "area": (pkg.manifest.get("area") or {}).get("code"), "surveyors": ",".join(surveyors),
                "updated": counts["updated"], "new": counts["new"], "deleted": counts["deleted"],
                "conflicts": counts["conflicts"], "photos": counts["photos"]}]))
        P.finish(photo_plan)
    except BaseException:
        P.discard(photo_plan)
        raise
    result["batch"] = batch
    return result


def _relink(work, name: str, key: str, col: str, mapping: dict) -> None:
    """Set ``col`` to ``mapping[key]`` in the rows of table ``name`` whose ``key`` is mapped."""
    from ..components import store
    from ..project import write_table

    df = store.read_table(work, name)
    if not len(df) or key not in df.columns or col not in df.columns:
        return
    hit = df[key].isin(list(mapping))
    if hit.any():
        df.loc[hit, col] = df.loc[hit, key].map(mapping)
        write_table(work, name, df)


def _accuracy_row(kt, i, key, cid, pkg, batch) -> dict | None:
    vals = {c: kt.column(c)[i].as_py() if c in kt.column_names else None
            for c in ("gnss_hacc", "gnss_vacc", "gnss_quality", "gnss_sats", "surveyor", "survey_time")}
    if vals["gnss_hacc"] is None and vals["gnss_quality"] is None:
        return None
    return {"component_id": cid, "layer": key, "h_accuracy": vals["gnss_hacc"], "v_accuracy": vals["gnss_vacc"],
            "fix_quality": vals["gnss_quality"], "satellites": vals["gnss_sats"],
            "surveyor": vals["surveyor"] or pkg.manifest.get("surveyor") or "",
            "survey_time": None if vals["survey_time"] is None else str(vals["survey_time"]),
            "package_id": pkg.id, "batch": batch}


def write_conflicts(work, rows: list, now: str) -> None:
    """Append conflicts to the layer ``field_conflicts`` (any geometry: the field's version)."""
    import shapely

    from ..gpkg import write_layer
    from ..store import table_exists

    exists = table_exists(work.path, C.CONFLICTS_LAYER)
    start = 1
    if exists:
        df = _read(work, C.CONFLICTS_LAYER)
        if len(df):
            start = int(pd_max(df["conflict_id"])) + 1
    rows = [dict(r, conflict_id=start + k, status="open", created=now, resolved=None, resolution=None)
            for k, r in enumerate(rows)]
    t = FIELD_CONFLICTS.table(rows)
    wkb = shapely.to_wkb(np.asarray([r.get("geom") for r in rows], dtype=object), output_dimension=2)
    t = t.append_column("geom", pa.array(list(wkb), pa.binary()))
    write_layer(work.path, C.CONFLICTS_LAYER, t, geometry_type="Unknown", crs=work.crs, append=exists,
                description="外业回收冲突 / field return conflicts")


def pd_max(s):
    import pandas as pd

    v = pd.to_numeric(s, errors="coerce").max()
    return 0 if v != v else v


def field_return(project, packages, date=None, feedback=None) -> dict:
    """Check every package, then merge them one after the other (see the module docstring)."""
    from .. import store as project_store
    from ..dates import parse_date
    from ..feedback import Feedback
    from ..project import Project

    feedback = feedback or Feedback()
    proj = Project.open(project)
    day = parse_date(date, "date") if date else None
    if isinstance(packages, (str, os.PathLike)):
        packages = [packages]
    if not packages:
        raise SurveyError(Text("没有给出外业包", "no field package given"), code="missing_parameter", field="packages")
    out = []
    with tempfile.TemporaryDirectory(prefix=".field-return-", dir=str(project_store.project_folder(proj))) as tmp:
        with proj.lock():
            pid = proj.meta.get("project_id")
            opened = []
            for p in packages:
                pkg = open_package(p, Path(tmp))
                if not pid or pkg.manifest["project_id"] != pid:
                    raise SurveyError(Text("外业包不属于这个项目库，未做任何修改", "the field package belongs to another project; "
                                           "nothing was applied"), code="foreign_package", file=str(p), field="project_id",
                                      value=pkg.manifest["project_id"])
                if pkg.manifest.get("mode", "survey") != "survey":  # an acceptance check records, never edits
                    raise SurveyError(Text("这是验收检查包，不是普查外业包；请用 surveytools acceptance record 导入检查记录",
                                           "this is an acceptance check package, not a survey package; read it with "
                                           "surveytools acceptance record"), code="not_survey_package", file=str(p),
                                      field="mode", value=pkg.manifest.get("mode"))
                opened.append(pkg)
            for n, pkg in enumerate(opened):
                feedback.progress(100 * n / len(opened))
                proj = Project.open(project)
                out.append(apply_package(proj, pkg, date=day, feedback=feedback))
    feedback.progress(100)
    return {"packages": out}
