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


class _Return:
    """What the steps of :func:`apply_package` share: the project, the package, the profile's states
    and classes, and what the steps collect (change log, field changes, conflicts, applied states,
    accuracy rows, warnings, the edited layers and the new features, the counts)."""

    def __init__(self, proj, pkg: Package, date):
        from ..components import store
        from ..components.coding import IdSpec
        from ..components.intake import class_names
        from ..locate import Locator

        prof = self.prof = proj.profile
        self.proj, self.pkg = proj, pkg
        self.day = date or _dt.date.today()
        self.now = C.now()
        self.applied = applied_state(proj)
        self.seen_conflicts = conflict_keys(proj)
        self.batch = store.next_batch_id(proj, "field", self.day)
        self.loc = Locator(proj)
        self.spec = IdSpec.of(prof, proj.county)
        self.state_missing = prof.defaults.get("component_state_missing", "丢失")
        self.state_new = prof.defaults.get("component_state_new", "完好")
        # a component whose class changes is cancelled (注销): the profile's state for a removed component
        self.state_removed = prof.defaults.get("component_state_removed", "移除")
        cls_tab = prof.component_classes
        self.class_geom = dict(zip(cls_tab["code"].astype(str), cls_tab["geometry"].astype(str))) \
            if "geometry" in cls_tab else {}
        self.geom_of_layer = {k: k.rsplit("_", 1)[-1] for k in C.EDITABLE}
        self.source_default = prof.defaults.get("data_source_survey")
        self.valid_classes = set(cls_tab["code"].astype(str))
        self.names_of = class_names(prof)
        self.reclass = {}  # UUID -> the cancelled component (see _reclassified)
        self.log, self.flog, self.conflicts, self.new_applied, self.accuracy, self.warnings = [], [], [], [], [], []
        self.layers_out = {}  # key -> (table, geometries) of an edited layer
        self.new_rows = {}  # key -> list of (pkg row index, uuid, surveyor)
        self.new_tables = {}  # key -> (table, geometries) of its new features
        self.uuid_to_id = {}
        self.pk_tables = {}
        self.maxima = None  # the ID registry's new maxima when new features got IDs
        self.counts = {"updated": 0, "new": 0, "deleted": 0, "conflicts": 0, "unchanged": 0, "rejected": 0,
                       "reclassified": 0}

    def first_conflict(self, ck: tuple) -> bool:
        """True the first time a conflict (package, UUID, field hash) is met (never reported twice)."""
        if ck in self.seen_conflicts:
            return False
        self.seen_conflicts.add(ck)
        return True

    def logged(self, key, cid, field, old, new) -> None:
        """A row of change_log (this batch)."""
        self.log.append({"time": self.now, "batch": self.batch, "layer": key, "component_id": cid, "field": field,
                         "old": old, "new": new})

    def field_change(self, surveyor, key, uuid, cid, action, field, old, new) -> None:
        """A row of field_changes (this package)."""
        self.flog.append({"time": self.now, "package_id": self.pkg.id, "surveyor": surveyor, "layer": key,
                          "feature_uuid": uuid, "component_id": cid, "action": action, "field": field, "old": old,
                          "new": new})


class _Layer:
    """One editable layer being merged: the project's rows (``pt``, ``pg``) and the package's (``kt``,
    ``kg``), project rows by ID, the version hashes, and the edits (``cols``, ``geoms``, ``changed``,
    ``moved``, ``pending``: rows applied, their project hash computed after the edits)."""

    def __init__(self, r: _Return, key: str, lay: dict):
        from ..project import field_group

        prof = r.prof
        self.key, self.lay, self.prof = key, lay, prof
        self.grp = field_group(key)
        self.names = C.hashed_fields(prof, key)
        lf = prof.layer_fields(self.grp)
        self.applied_fields = [n for n, role in zip(lf["name"], lf["role"]) if role not in NOT_APPLIED]
        self.pt, self.pg = C.read_layer(r.proj.path, r.proj.table(key))
        self.kt, self.kg = C.read_layer(r.pkg.gpkg, lay["table"])
        r.pk_tables[key] = (self.kt, self.kg)
        self.pids = _text(self.pt.column(self.f("component_id"))) if self.pt.num_rows else []
        self.pos = {v: j for j, v in enumerate(self.pids) if v}
        # an ID held by several components cannot say which one the field changed: a conflict
        counts_by_id = {}
        for v in self.pids:
            counts_by_id[v] = counts_by_id.get(v, 0) + 1
        self.ambiguous = {v for v, n in counts_by_id.items() if v and n > 1}
        self.kuu = _text(self.kt.column(C.UUID))
        self.feats = lay.get("features") or {}
        # hashes only of the project rows this package refers to
        pos = self.pos
        ref_rows = sorted({pos[v["id"]] for v in self.feats.values() if v.get("id") in pos} |
                          {pos[a[2]] for (pk, u), a in r.applied.items() if pk == r.pkg.id and a[2] in pos})
        self.proj_hash = dict(zip(ref_rows, C.feature_hashes(self.pt.take(pa.array(ref_rows, pa.int64())),
                                                             self.pg[ref_rows], self.names)))
        self.pk_hash = C.feature_hashes(self.kt, self.kg, self.names)
        self.cols = None
        self.geoms = self.pg.copy()
        self.changed = np.zeros(self.pt.num_rows, dtype=bool)
        self.moved = np.zeros(self.pt.num_rows, dtype=bool)
        self.pending = []
        self.present = set()

    def f(self, role: str):
        return self.prof.field(self.grp, role)

    def columns(self) -> dict:
        """The project's columns as lists, made editable on first use."""
        if self.cols is None:
            self.cols = {n: self.pt.column(n).to_pylist() for n in self.pt.column_names}
        return self.cols


def apply_package(proj, pkg: Package, *, date=None, feedback=None) -> dict:
    """Merge one checked package into the project (one transaction); the counts.

    The steps: per editable layer, each packaged feature compared with the project's copy (the
    field's edit applied, or a conflict kept) and the features deleted in the field marked; new
    features checked, coded and located; the cancelled component of a reclassification annotated;
    the photos planned; then everything written in one transaction (nothing when nothing changed).
    """
    from . import photos as P

    r = _Return(proj, pkg, date)
    for key in C.EDITABLE:
        lay = pkg.manifest["layers"].get(key)
        if lay:
            _merge_layer(r, _Layer(r, key, lay))
    _insert_new(r)
    for lay in pkg.manifest["layers"].values():
        for u, v in (lay.get("features") or {}).items():
            r.uuid_to_id.setdefault(u, (None, v.get("id")))
    _note_cancelled(r)
    photo_plan = P.plan(proj, pkg, r.uuid_to_id, r.warnings)
    counts = r.counts
    counts["conflicts"] = len(r.conflicts)
    counts["photos"] = len(photo_plan.rows)
    changes = bool(r.layers_out or r.new_tables or r.conflicts or photo_plan.rows or any(
        a["field_hash"] == DELETED for a in r.new_applied) or
        [a for a in r.new_applied if (a["package_id"], a["uuid"]) not in r.applied])
    result = dict(counts, batch=None, package_id=pkg.id, area=pkg.manifest.get("area"), source=str(pkg.source),
                  warnings=r.warnings)
    if not changes:
        return result
    try:
        _commit(r, photo_plan)
        P.finish(photo_plan)
    except BaseException:
        P.discard(photo_plan)
        raise
    result["batch"] = r.batch
    return result


def _merge_layer(r: _Return, L: _Layer) -> None:
    """One layer: the field's version of every packaged feature, the deletions, the edited table."""
    for i, u in enumerate(L.kuu):
        _merge_feature(r, L, i, u)
    _deleted_in_field(r, L)
    _finish_layer(r, L)


def _merge_feature(r: _Return, L: _Layer, i: int, u) -> None:
    """Package row ``i`` (UUID ``u``): new, unchanged, a conflict, or the field's edit applied."""
    pkg = r.pkg
    if not u:
        r.warnings.append(Text(f"{L.lay['table']} 第 {i + 1} 个要素没有 UUID，未处理",
                               f"{L.lay['table']} feature {i + 1} has no UUID; skipped"))
        r.counts["rejected"] += 1
        return
    L.present.add(u)
    if (pkg.id, u) in r.applied:
        fbase, pbase, cid, _ = r.applied[(pkg.id, u)]
    elif u in L.feats:
        fbase = pbase = L.feats[u]["hash"]
        cid = L.feats[u]["id"]
    else:
        r.new_rows.setdefault(L.key, []).append((i, u, _pkg_surveyor(pkg, L.kt, i)))
        return
    r.uuid_to_id[u] = (L.key, cid)
    if L.pk_hash[i] == fbase:
        r.counts["unchanged"] += 1
        return
    j = L.pos.get(cid) if cid not in L.ambiguous else None
    ph = L.proj_hash.get(j) if j is not None else None
    if j is None or ph != pbase:
        _edit_conflict(r, L, i, u, cid, j, ph)
        return
    _apply_edit(r, L, i, u, cid, j)


def _edit_conflict(r: _Return, L: _Layer, i, u, cid, j, ph) -> None:
    """Changed in the field and in the project (or gone from it, or its ID ambiguous): a conflict with
    both versions of the fields that differ; nothing applied."""
    if not r.first_conflict((r.pkg.id, u, L.pk_hash[i])):
        return
    kt = L.kt
    # the class too: a conflict resolved with the field's class is a reclassification
    shown = L.applied_fields + [n for n in (L.f("class_code"),) if n and n in kt.column_names]
    fv = C.values_of(kt, shown, i)
    pv = C.values_of(L.pt, shown, j) if j is not None else {}
    diff = [n for n in shown if fv.get(n) != pv.get(n)]
    r.conflicts.append({"package_id": r.pkg.id, "layer": L.key, "feature_uuid": u, "component_id": cid,
                        "kind": "both_changed" if j is not None else (
                            "duplicate_id" if cid in L.ambiguous else "gone_from_project"),
                        "fields": ",".join(diff), "field_values": _js(fv), "project_values": _js(pv),
                        "field_hash": L.pk_hash[i], "project_hash": ph, "surveyor": _pkg_surveyor(r.pkg, kt, i),
                        "geom": L.kg[i]})


def _apply_edit(r: _Return, L: _Layer, i, u, cid, j) -> None:
    """The field's values and geometry onto project row ``j`` (a changed class: a reclassification)."""
    kt, pkg = L.kt, r.pkg
    cols = L.columns()
    surveyor = _pkg_surveyor(pkg, kt, i)
    if _reclassified(r, L, i, u, cid, j, surveyor):
        return
    for n in L.applied_fields:
        if n not in kt.column_names or n not in cols:
            continue
        nv = kt.column(n)[i].as_py()
        ov = cols[n][j]
        if C._norm(nv) != C._norm(ov):
            cols[n][j] = nv
            old, new = None if ov is None else str(ov), None if nv is None else str(nv)
            r.logged(L.key, cid, n, old, new)
            r.field_change(surveyor, L.key, u, cid, "update", n, old, new)
    og, ng = L.pg[j], L.kg[i]
    if C.rounded_wkb([og]) != C.rounded_wkb([ng]):
        L.geoms[j] = ng
        L.moved[j] = True
        old, new = None if og is None else og.wkt, None if ng is None else ng.wkt
        r.logged(L.key, cid, "geometry", old, new)
        r.field_change(surveyor, L.key, u, cid, "update", "geometry", old, new)
    L.changed[j] = True
    r.counts["updated"] += 1
    L.pending.append((j, u, L.pk_hash[i]))
    r.accuracy.append(_accuracy_row(kt, i, L.key, cid, pkg, r.batch))


def _reclassified(r: _Return, L: _Layer, i, u, cid, j, surveyor) -> bool:
    """A class changed in the field.  The class is part of the ID: a known class of the layer's
    geometry cancels the old component (state 移除) and queues a new one of the new class with a new
    ID at the field geometry (inserted with the new features): True.  Another class is reported and
    the rest of the edit applied: False."""
    import shapely

    kt, kg, cols, ccf = L.kt, L.kg, L.cols, L.f("class_code")
    if not (ccf and ccf in kt.column_names and ccf in cols and C._norm(kt.column(ccf)[i].as_py()) != C._norm(cols[ccf][j])):
        return False
    new_cls = kt.column(ccf)[i].as_py()
    if new_cls in r.valid_classes and r.class_geom.get(new_cls, r.geom_of_layer[L.key]) == r.geom_of_layer[L.key] \
            and kg[i] is not None and not shapely.is_empty(kg[i]):
        sname = L.f("state")
        old_state = cols[sname][j] if sname else None
        if sname and old_state != r.state_removed:
            cols[sname][j] = r.state_removed
            r.logged(L.key, cid, sname, old_state, r.state_removed)
        L.changed[j] = True
        r.reclass[u] = {"key": L.key, "row": j, "old_id": cid, "old_class": cols[ccf][j], "new_class": new_cls,
                        "surveyor": surveyor, "old_state": old_state}
        r.new_rows.setdefault(L.key, []).append((i, u, surveyor))
        return True
    # an unknown class (or one of another geometry type) cannot be coded: reported, the rest applied
    r.warnings.append(Text(f"部件 {cid} 在外业改成的类别 {new_cls} 不在分类表中或几何类型不符，类别决定标识码，"
                           f"未采用；请在内业核实后重新编码",
                           f"component {cid} got the class {new_cls} in the field, which is not in the class "
                           f"table or has another geometry type; the class is part of the ID, so it was not "
                           f"applied: check it in the office and recode"))
    return False


def _deleted_in_field(r: _Return, L: _Layer) -> None:
    """Packaged features missing from the returned package: the missing state, never a delete (a
    conflict where the project changed the feature meanwhile or its ID is ambiguous)."""
    pkg, sname, missing = r.pkg, L.f("state"), r.state_missing
    for u, meta in L.feats.items():
        if u in L.present:
            continue
        prev = r.applied.get((pkg.id, u))
        if prev is not None and prev[0] == DELETED:
            continue
        j = L.pos.get(meta["id"])
        if j is None:
            continue
        if meta["id"] in L.ambiguous:
            if r.first_conflict((pkg.id, u, DELETED)):
                r.conflicts.append({"package_id": pkg.id, "layer": L.key, "feature_uuid": u, "component_id": meta["id"],
                                    "kind": "duplicate_id", "fields": sname, "field_values": _js({sname: missing}),
                                    "project_values": "{}", "field_hash": DELETED, "project_hash": None,
                                    "surveyor": pkg.manifest.get("surveyor") or "", "geom": None})
            continue
        pbase = prev[1] if prev else meta["hash"]
        cur_state = (L.cols[sname][j] if L.cols is not None else L.pt.column(sname)[j].as_py()) if sname else None
        if L.proj_hash.get(j) != pbase:
            if cur_state == missing:
                continue
            if r.first_conflict((pkg.id, u, DELETED)):
                r.conflicts.append({"package_id": pkg.id, "layer": L.key, "feature_uuid": u, "component_id": meta["id"],
                                    "kind": "deleted_in_field", "fields": sname, "field_values": _js({sname: missing}),
                                    "project_values": _js(C.values_of(L.pt, [sname], j)), "field_hash": DELETED,
                                    "project_hash": L.proj_hash.get(j), "surveyor": pkg.manifest.get("surveyor") or "",
                                    "geom": L.pg[j]})
            continue
        cols = L.columns()
        if sname and cur_state != missing:
            cols[sname][j] = missing
            r.logged(L.key, meta["id"], sname, cur_state, missing)
            r.field_change(pkg.manifest.get("surveyor") or "", L.key, u, meta["id"], "deleted_in_field", sname,
                           cur_state, missing)
            L.changed[j] = True
            r.counts["deleted"] += 1
        L.pending.append((j, u, DELETED))


def _finish_layer(r: _Return, L: _Layer) -> None:
    """The edited table (moved rows located again, change date and batch stamped) and the applied
    state of every row applied (its project hash after the edits)."""
    cols = L.cols
    if cols is not None and L.changed.any():
        if L.moved.any():
            idx = r.loc.locate(L.geoms[L.moved]) if r.loc.available else np.full(int(L.moved.sum()), -1)
            for role, arr in r.loc.fields(np.asarray(idx, dtype=np.int64)).items():
                n = L.f(role)
                if n and n in cols:
                    for j, v in zip(np.flatnonzero(L.moved), arr.to_pylist()):
                        cols[n][int(j)] = v
        for role, val in (("change_date", r.day), ("batch", r.batch)):
            n = L.f(role)
            if n and n in cols:
                for j in np.flatnonzero(L.changed):
                    cols[n][int(j)] = val
        t = pa.table({n: pa.array(v, L.pt.schema.field(n).type) for n, v in cols.items()})
        r.layers_out[L.key] = (t, L.geoms)
        rows = [p[0] for p in L.pending]
        after = dict(zip(rows, C.feature_hashes(t.take(pa.array(rows, pa.int64())), L.geoms[rows], L.names)))
    else:
        after = L.proj_hash
    for j, u, fh in L.pending:
        r.new_applied.append({"package_id": r.pkg.id, "uuid": u, "layer": L.key, "feature_id": L.pids[j],
                              "field_hash": fh, "project_hash": after.get(j), "time": r.now})


def _insert_new(r: _Return) -> None:
    """New features (and the new components of reclassifications): checked, coded after the
    project's and the registry's largest IDs, and built layer by layer."""
    from ..components import store
    from ..components.coding import assign_ids
    from ..locate import COMPONENT_LAYERS

    if not r.new_rows:
        return
    existing_ids, _ = store.read_ids(r.proj, COMPONENT_LAYERS)
    order, classes = _accepted_new_rows(r)
    if not classes:
        return
    res = assign_ids(None, pa.array(classes, pa.string()), r.spec, r.prof, existing_ids=existing_ids,
                     registry=store.read_registry(r.proj))
    ids = res.ids.to_pylist()
    r.maxima = res.maxima
    k = 0
    for key, ok_rows in order:
        if not ok_rows:
            continue
        my_ids = ids[k:k + len(ok_rows)]
        k += len(ok_rows)
        t, g, sub = _new_table(r, key, ok_rows, my_ids)
        r.new_tables[key] = (t, g)
        _record_new(r, key, ok_rows, my_ids, t, g, sub)


def _accepted_new_rows(r: _Return):
    """The new rows with a known class and a geometry, per layer, and their classes in order; the
    others are reported and rejected."""
    import shapely

    from ..project import field_group

    order, classes = [], []
    for key, rows in r.new_rows.items():
        kt, kg = r.pk_tables[key]
        ccf = r.prof.field(field_group(key), "class_code")
        ok_rows = []
        for i, u, sv in rows:
            c = kt.column(ccf)[i].as_py() if ccf in kt.column_names else None
            g = kg[i]
            if c not in r.valid_classes or g is None or shapely.is_empty(g):
                why = (f"类别代码 {c!r} 不在分类表中" if c not in r.valid_classes else "没有几何") + "，未入库"
                why_en = (f"class code {c!r} is not in the class table" if c not in r.valid_classes else "no geometry") + \
                    "; not inserted"
                area = r.pkg.manifest['area']['code']
                r.warnings.append(Text(f"外业包 {area} 图层 {key} 新要素 {u}：{why}",
                                       f"package {area} layer {key} new feature {u}: {why_en}"))
                r.counts["rejected"] += 1
                continue
            ok_rows.append((i, u, sv, c))
            classes.append(c)
        order.append((key, ok_rows))
    return order, classes


def _new_table(r: _Return, key: str, ok_rows: list, my_ids: list):
    """The new features of one layer as a project table: their IDs and classes, class name, default
    state, data source, initial and change dates, batch, location fields; a reclassification's new
    component names the ID it replaces.  Returns (table, geometries, the package rows)."""
    from ..gpkg import ARROW_TYPES
    from ..project import field_group

    grp = field_group(key)
    f = lambda role: r.prof.field(grp, role)  # noqa: E731
    kt, kg = r.pk_tables[key]
    fields = r.prof.layer_fields(grp)
    sub = kt.take(pa.array([q[0] for q in ok_rows], pa.int64()))
    g = kg[[q[0] for q in ok_rows]]
    m = len(ok_rows)
    cols = {n: sub.column(n).to_pylist() if n in sub.column_names else [None] * m for n in fields["name"]}
    cols[f("component_id")] = my_ids
    cols[f("class_code")] = [q[3] for q in ok_rows]
    if f("name"):
        cols[f("name")] = [r.names_of.get(q[3]) for q in ok_rows]
    if f("state"):
        cols[f("state")] = [v or r.state_new for v in cols[f("state")]]
    if f("data_source") and r.source_default:
        cols[f("data_source")] = [v or r.source_default for v in cols[f("data_source")]]
    if f("init_date"):
        st = sub.column("survey_time").to_pylist() if "survey_time" in sub.column_names else [None] * m
        cols[f("init_date")] = [v or (s.date() if s else r.day) for v, s in zip(cols[f("init_date")], st)]
    if f("change_date"):
        cols[f("change_date")] = [r.day if q[1] in r.reclass else None for q in ok_rows]
    if f("batch"):
        cols[f("batch")] = [r.batch] * m
    idx = r.loc.locate(g) if r.loc.available else np.full(m, -1)
    for role, arr in r.loc.fields(np.asarray(idx, dtype=np.int64)).items():
        if f(role):
            cols[f(role)] = arr.to_pylist()
    for q, row in enumerate(ok_rows):
        rc = r.reclass.get(row[1])
        if rc is None:
            continue
        rc["new_id"] = my_ids[q]
        if f("note"):
            # the new component of a reclassification names the ID it replaces
            notes = cols[f("note")]
            add = f"由 {rc['old_id']} 变更类别 / reclassified from {rc['old_id']}"
            notes[q] = add if not notes[q] else f"{notes[q]}；{add}"
    t = pa.table({n: pa.array(cols[n], ARROW_TYPES[typ]) for n, typ in zip(fields["name"], fields["type"])})
    return t, g, sub


def _record_new(r: _Return, key: str, ok_rows: list, my_ids: list, t, g, sub) -> None:
    """The applied state, change log, field changes and accuracy rows of one layer's new features."""
    from ..project import field_group

    after = C.feature_hashes(t, g, C.hashed_fields(r.prof, key))
    pk_h = C.feature_hashes(sub, g, C.hashed_fields(r.prof, key))
    kt = r.pk_tables[key][0]
    for row, cid, ah, fh in zip(ok_rows, my_ids, after, pk_h):
        i, u, sv, c = row
        r.uuid_to_id[u] = (key, cid)
        r.new_applied.append({"package_id": r.pkg.id, "uuid": u, "layer": key, "feature_id": cid,
                              "field_hash": fh, "project_hash": ah, "time": r.now})
        rc = r.reclass.get(u)
        if rc is None:
            r.logged(key, cid, "*", None, f"新增 new {c}")
            r.field_change(sv, key, u, cid, "insert", "*", None, c)
        else:
            note = (f"类别变更 reclassified {rc['old_class']} → {c}：{rc['old_id']} 注销 cancelled, "
                    f"新标识码 new ID {cid}")
            r.logged(key, cid, "*", rc["old_id"], note)
            r.field_change(sv, key, u, cid, "reclassify_insert", "*", rc["old_id"], note)
            r.field_change(sv, key, u, rc["old_id"], "reclassify_cancel",
                           r.prof.field(field_group(key), "state") or "*", rc["old_state"],
                           f"{r.state_removed}（{note}）")
        r.accuracy.append(_accuracy_row(kt, i, key, cid, r.pkg, r.batch))
    n_re = sum(1 for row in ok_rows if row[1] in r.reclass)
    r.counts["new"] += len(ok_rows) - n_re
    r.counts["reclassified"] += n_re


def _note_cancelled(r: _Return) -> None:
    """The cancelled component of a reclassification names the ID that replaces it."""
    from ..project import field_group

    for u, rc in r.reclass.items():
        key, j, new_id = rc["key"], rc["row"], rc.get("new_id")
        nf = r.prof.field(field_group(key), "note")
        if not new_id or key not in r.layers_out or not nf:
            continue
        t, g = r.layers_out[key]
        notes = t.column(nf).to_pylist()
        add = f"类别变更为 {rc['new_class']}，注销，新标识码 {new_id} / reclassified as {rc['new_class']}, cancelled, new ID {new_id}"
        old = notes[j]
        notes[j] = add if not old else f"{old}；{add}"
        r.layers_out[key] = (t.set_column(t.column_names.index(nf), nf, pa.array(notes, t.schema.field(nf).type)), g)
        r.logged(key, rc["old_id"], nf, old, notes[j])


def _commit(r: _Return, photo_plan) -> None:
    """Everything in one transaction: the edited and extended layers, change log, relinked UUIDs,
    field changes, applied states, new UUIDs, accuracy, conflicts, ID registry, photos, batch and
    the return's row."""
    import pandas as pd

    from ..components import store
    from . import photos as P

    proj, pkg, counts, now = r.proj, r.pkg, r.counts, r.now
    surveyors = sorted({x["surveyor"] for x in r.flog if x.get("surveyor")} | ({pkg.manifest.get("surveyor")} - {None, ""}))
    with proj.transaction() as work:
        for key in C.EDITABLE:
            if key in r.layers_out or key in r.new_tables:
                _write_layer(r, work, key)
        store.write_change_log(work, r.log)
        relinks = [{"feature_uuid": u, "component_id": rc["new_id"]} for u, rc in r.reclass.items() if rc.get("new_id")]
        if relinks:
            # the UUID now names the new component: the registry and the photos follow it (rewritten
            # before the appends below, which read these tables as this transaction sees them)
            to_new = {x["feature_uuid"]: x["component_id"] for x in relinks}
            _relink(work, C.FEATURES_TABLE, "uuid", "feature_id", to_new)
            _relink(work, C.PROJECT_PHOTOS, "feature_uuid", "component_id", to_new)
        if r.flog:
            store.append_table(work, C.CHANGES_TABLE, pd.DataFrame(r.flog))
        if r.new_applied:
            store.append_table(work, APPLIED_TABLE, pd.DataFrame(r.new_applied))
        packaged = {u for lay in pkg.manifest["layers"].values() for u in (lay.get("features") or {})}
        fresh = [{"uuid": a["uuid"], "layer": a["layer"], "feature_id": a["feature_id"], "created": now,
                  "package_id": pkg.id, "hash": a["project_hash"]} for a in r.new_applied
                 if a["feature_id"] and (a["package_id"], a["uuid"]) not in r.applied and a["uuid"] not in packaged]
        if fresh:
            store.append_table(work, C.FEATURES_TABLE, pd.DataFrame(fresh))
        acc = [a for a in r.accuracy if a is not None]
        if acc:
            store.append_table(work, C.ACCURACY_TABLE, pd.DataFrame(acc))
        if r.conflicts:
            write_conflicts(work, r.conflicts, now)
        if r.maxima is not None:
            store.write_registry(work, {(proj.county, k): v for k, v in r.maxima.items()})
        P.write(work, photo_plan, pkg, r.batch)
        store.record_batch(work, {"batch_id": r.batch, "kind": "field", "source": str(pkg.source), "time": now,
                                  "read": sum(len(v[0]) for v in r.pk_tables.values()) if r.pk_tables else 0,
                                  "updated": counts["updated"], "new": counts["new"], "deleted": counts["deleted"],
                                  "conflicts": counts["conflicts"], "package_id": pkg.id})
        store.append_table(work, C.RETURNS_TABLE, pd.DataFrame([{
            "package_id": pkg.id, "batch": r.batch, "time": now, "source": str(pkg.source),
            "area": (pkg.manifest.get("area") or {}).get("code"), "surveyors": ",".join(surveyors),
            "updated": counts["updated"], "new": counts["new"], "deleted": counts["deleted"],
            "conflicts": counts["conflicts"], "photos": counts["photos"]}]))


def _write_layer(r: _Return, work, key: str) -> None:
    """One component layer in the transaction: its edited rows (or the current ones) and its new features."""
    from ..components import store

    fields = store.layer_fields(work, key)
    if key in r.layers_out:
        t, g = r.layers_out[key]
    else:
        t, gc = store.read_component_table(work, key)
        g = gc.shapely()
    t = store.conform({n: t.column(n) for n in t.column_names}, fields, t.num_rows)
    gcol = store.GeomColumn(geoms=np.asarray(g, dtype=object))
    if key in r.new_tables:
        nt, ng = r.new_tables[key]
        nt = store.conform({n: nt.column(n) for n in nt.column_names}, fields, nt.num_rows)
        t = pa.concat_tables([t, nt])
        gcol = store.GeomColumn(geoms=np.concatenate([np.asarray(g, dtype=object), np.asarray(ng, dtype=object)]))
    store.write_component_table(work, key, t, gcol)


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
