"""``components merge``: a re-survey of an area merged into the project (maintenance updates).

Rules (docs/components.md):

1. the re-survey is read and mapped like an intake (:mod:`.prepare`);
2. **matching**, per class: first by ID (a valid delivered ID of an existing component of the
   same class), then by position — mutual nearest neighbours within the tolerance (``--tolerance``,
   else the class's accuracy grade through the profile's ``match_tolerance_m``: A 0.5 m, B 1 m,
   C 10 m); points by distance, lines and polygons by Hausdorff distance;
3. a matched component **keeps its ID**; fields the re-survey gives (non-empty values) and the
   geometry replace the old ones when they differ; the change date (变更日期) and batch are then
   set, and a component found again while marked lost or removed gets the state the re-survey
   gives (else the profile's ``component_state_new``);
4. unmatched records are **new** components (IDs as in intake);
5. the **re-surveyed area** is the union of the unit grids holding at least one record of the
   re-survey (the convex hull of the records, widened by the largest tolerance, when the project
   has no unit grids); existing components *of the classes the re-survey contains* in that area
   that were not found get the profile's ``component_state_missing`` (丢失) and the change date —
   they are never deleted;
6. every change is a row of ``change_log`` (time, batch, layer, component ID, field, old → new).

A merge that changes nothing writes nothing, so running the same merge twice changes nothing
the second time.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..i18n import Text
from ..locate import COMPONENT_LAYERS, Locator
from . import store
from .coding import IdSpec, _class_ints, assign_ids, parse_ids
from .intake import batch_row, fill_class_fields, locate_part, today
from .prepare import prepare

#: fields never copied from a re-survey onto a matched component
NOT_COMPARED = {"component_id", "class_code", "name", "batch", "change_date", "grid_code", "street_code",
                "street_name", "community_code", "community_name"}
LOCATION_ROLES = ("grid_code", "street_code", "street_name", "community_code", "community_name")


def class_tolerances(profile, classes, tolerance=None) -> dict:
    """class → match tolerance in metres."""
    if tolerance is not None:
        return {c: float(tolerance) for c in classes}
    table = profile.defaults.get("match_tolerance_m") or {}
    grades = profile.accuracy_grades or {}
    acc = dict(zip(profile.component_classes["code"].astype(str), profile.component_classes["accuracy"]))
    out = {}
    for c in classes:
        g = acc.get(c, "")
        t = table.get(g)
        if t is None:
            t = (grades.get(g) or {}).get("max_error_m", 1.0)
        out[c] = float(t)
    return out


def match(new_geoms, new_cls, old_geoms, old_cls, tol: dict, *, rounds: int = 6):
    """Mutual-nearest matching of new to old records of the same class within ``tol[class]``.
    Returns (new index, old index, distance) arrays."""
    import shapely

    n_new, n_old = len(new_geoms), len(old_geoms)
    if n_new == 0 or n_old == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    tree = shapely.STRtree(old_geoms)
    tmax = max(tol.values()) if tol else 1.0
    ni, oi = tree.query(new_geoms, predicate="dwithin", distance=tmax)
    same = new_cls[ni] == old_cls[oi]
    ni, oi = ni[same], oi[same]
    if len(ni) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pts = (shapely.get_type_id(new_geoms[ni]) == 0) & (shapely.get_type_id(old_geoms[oi]) == 0)
    d = np.where(pts, shapely.distance(new_geoms[ni], old_geoms[oi]), 0.0)
    if (~pts).any():
        d[~pts] = shapely.hausdorff_distance(new_geoms[ni][~pts], old_geoms[oi][~pts])
    lim = np.array([tol.get(c, tmax) for c in new_cls[ni]], dtype=float)
    ok = d <= lim + 1e-9
    ni, oi, d = ni[ok], oi[ok], d[ok]
    mn, mo, md = [], [], []
    free_n = np.ones(n_new, dtype=bool)
    free_o = np.ones(n_old, dtype=bool)
    for _ in range(rounds):
        live = free_n[ni] & free_o[oi]
        a, b, dd = ni[live], oi[live], d[live]
        if len(a) == 0:
            break
        # best old for each new (distance, then old index) and best new for each old
        o1 = np.lexsort((b, dd, a))
        first_a = np.ones(len(o1), dtype=bool)
        first_a[1:] = a[o1][1:] != a[o1][:-1]
        best_old = dict(zip(a[o1][first_a], b[o1][first_a]))
        o2 = np.lexsort((a, dd, b))
        first_b = np.ones(len(o2), dtype=bool)
        first_b[1:] = b[o2][1:] != b[o2][:-1]
        best_new = dict(zip(b[o2][first_b], a[o2][first_b]))
        pairs = [(x, y) for x, y in best_old.items() if best_new.get(y) == x]
        if not pairs:
            break
        px = np.array([p[0] for p in pairs], dtype=np.int64)
        py = np.array([p[1] for p in pairs], dtype=np.int64)
        key = dict(zip(zip(a.tolist(), b.tolist()), dd.tolist()))
        mn.append(px)
        mo.append(py)
        md.append(np.array([key[(x, y)] for x, y in zip(px.tolist(), py.tolist())]))
        free_n[px] = False
        free_o[py] = False
    if not mn:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(mn), np.concatenate(mo), np.concatenate(md)


def _wkt(g) -> str | None:
    import shapely

    if g is None:
        return None
    s = shapely.to_wkt(g, rounding_precision=3)
    return s if len(s) <= 2000 else s[:1990] + " …"


def _as_text(v):
    if v is None:
        return None
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def merge(project, source, tolerance=None, mapping=None, source_crs=None, coords=None, date=None, feedback=None) -> dict:
    """Runs under the project lock from the first read (the batch ID and new IDs depend on what is
    there) to the commit."""
    from ..project import Project

    with Project.open(project).lock():
        return _merge(project, source, tolerance=tolerance, mapping=mapping, source_crs=source_crs, coords=coords,
                      date=date, feedback=feedback)


class _Run:
    """What the steps of one merge share: the project and profile, the prepared re-survey, the
    batch, the locator and the re-surveyed area (grids covered, else a hull), the tolerances, the
    change log and the counters."""

    updated_n = 0
    missing_n = 0


def _merge(project, source, tolerance=None, mapping=None, source_crs=None, coords=None, date=None, feedback=None) -> dict:
    """The steps of a merge (module docstring): prepare, then per component layer match / update /
    mark missing, then the new components, then one write."""
    from ..feedback import Feedback

    feedback = feedback or Feedback()
    run = _start(project, source, tolerance, mapping, source_crs, coords, date, feedback)
    feedback.progress(55)
    existing_ids, _ = store.read_ids(run.proj, COMPONENT_LAYERS)
    updated, new_parts = {}, {}
    for key in COMPONENT_LAYERS:
        changed, unmatched = _merge_layer(run, key)
        if changed is not None:
            updated[key] = changed
        if unmatched is not None:
            new_parts[key] = unmatched
    feedback.progress(75)
    layer_out, new_n, maxima = _new_components(run, new_parts, existing_ids)
    updated_n, missing_n = run.updated_n, run.missing_n
    changes = updated_n + new_n + missing_n
    if changes:
        _write(run, updated, layer_out, maxima, new_n, source, mapping, coords)
    prep, parts, log, tol, loc, covered, batch = run.prep, run.parts, run.log, run.tol, run.loc, run.covered, run.batch
    feedback.progress(100)
    return {"batch": batch if changes else None, "read": prep.read, "matched": int(sum(
        len(p) for p in parts.values())) - new_n, "updated": updated_n, "new": new_n, "missing": missing_n,
        "rejected": prep.rejected(), "changes": len(log), "tolerance": tol,
        "area": {"kind": "unit_grids" if loc.level == "unit_grid" else "convex_hull", "grids": len(covered)},
        "sources": [i.as_dict() for i in prep.infos]}


def _start(project, source, tolerance, mapping, source_crs, coords, date, feedback) -> _Run:
    """Read and map the re-survey (:mod:`.prepare`), classify and locate its records, and find the
    re-surveyed area and the tolerances."""
    import shapely

    from ..project import Project

    proj = Project.open(project)
    prof = proj.profile
    day = today(date)
    f = lambda role: prof.field("component", role)  # noqa: E731
    cmd = f"surveytools components merge {project} {source} --mapping {{file}}"
    prep = prepare(proj, source, mapping=mapping, source_crs=source_crs, coords=coords, group="component",
                   command=cmd, feedback=feedback)
    batch = store.next_batch_id(proj, "merge", day)
    report = [dict(r, batch=batch) for r in prep.report]
    loc = Locator(proj)
    spec = IdSpec.of(prof, proj.county)
    state_missing = prof.defaults.get("component_state_missing", "丢失")
    state_removed = prof.defaults.get("component_state_removed", "移除")
    state_new = prof.defaults.get("component_state_new", "完好")
    gone = {state_missing, state_removed}
    parts = {k: prep.parts[k] for k in COMPONENT_LAYERS if k in prep.parts}
    src_classes = set()
    covered = set()
    hull = None
    for p in parts.values():
        p.materialize()
        report.extend(dict(r, batch=batch) for r in p.report)
        fill_class_fields(p, prof, "component", report, batch)
        src_classes |= set(p.classes.to_pylist())
        if loc.available:
            idx = locate_part(p, loc, prof, "component")
            if loc.level == "unit_grid":
                covered |= set(idx[idx >= 0].tolist())
    tol = class_tolerances(prof, src_classes, tolerance)
    if loc.level != "unit_grid" and parts:
        allg = np.concatenate([p.geoms.shapely() for p in parts.values()])
        hull = shapely.buffer(shapely.convex_hull(shapely.union_all(allg)), max(tol.values()) if tol else 1.0)
    run = _Run()
    run.proj, run.prof, run.day, run.f, run.prep, run.batch, run.report = proj, prof, day, f, prep, batch, report
    run.loc, run.spec, run.parts, run.src_classes, run.covered, run.hull = loc, spec, parts, src_classes, covered, hull
    run.state_missing, run.state_new, run.gone, run.tol = state_missing, state_new, gone, tol
    run.now, run.log = store.now(), []
    return run


def _merge_layer(run: _Run, key: str):
    """One component layer: match the re-survey's records (by ID, then by position), update the
    matched components, mark the ones not found in the re-surveyed area.  Returns (the layer's
    table and geometries when something changed, else None; (part, unmatched rows) or None)."""
    proj, f, parts, day, batch = run.proj, run.f, run.parts, run.day, run.batch
    t, g = store.read_component_table(proj, key)
    fields = store.layer_fields(proj, key)
    t = store.conform({n: t.column(n) for n in t.column_names}, fields, t.num_rows)
    old_ids = store.text(t.column(f("component_id")))
    old_cls = np.asarray(store.text(t.column(f("class_code"))).to_numpy(zero_copy_only=False), dtype=object)
    p = parts.get(key)
    cols = {n: t.column(n) for n in t.column_names}
    geoms_old = g.shapely() if t.num_rows else np.zeros(0, dtype=object)
    new_geoms_old = geoms_old.copy()
    changed_rows = np.zeros(t.num_rows, dtype=bool)
    matched_old = np.zeros(t.num_rows, dtype=bool)
    unmatched_new = np.ones(len(p) if p is not None else 0, dtype=bool)
    if p is not None and t.num_rows:
        pg = p.geoms.shapely()
        pc_np = np.asarray(p.classes.to_numpy(zero_copy_only=False), dtype=object)
        a_all, b_all = _match_layer(run, p, pg, pc_np, old_ids, old_cls, geoms_old, matched_old, unmatched_new)
        if len(a_all):
            _update_matched(run, key, p, pg, t, cols, fields, old_ids, geoms_old, new_geoms_old, changed_rows,
                            a_all, b_all)
    _mark_missing(run, key, t, g, cols, old_ids, old_cls, geoms_old, matched_old, changed_rows)
    changed = unmatched = None
    if changed_rows.any():
        mask = pa.array(changed_rows)
        if f("change_date"):
            cols[f("change_date")] = pc.if_else(mask, pa.scalar(day, pa.date32()), cols[f("change_date")])
        if f("batch"):
            cols[f("batch")] = pc.if_else(mask, pa.scalar(batch), store.text(cols[f("batch")]))
        changed = (pa.table(cols), new_geoms_old)
    if p is not None and unmatched_new.any():
        unmatched = (p, np.flatnonzero(unmatched_new))
    return changed, unmatched


def _match_layer(run: _Run, p, pg, pc_np, old_ids, old_cls, geoms_old, matched_old, unmatched_new):
    """Matched pairs (new record, old component): by a valid delivered ID of the same class, then
    by position among the rest (:func:`match`).  Marks ``matched_old`` and ``unmatched_new``."""
    spec, src_classes, tol = run.spec, run.src_classes, run.tol
    # 1. by ID
    a_list, b_list = [], []
    if p.ids is not None:
        pid = parse_ids(p.ids, spec)
        ok = pid.ok & (pid.county == int(spec.county)) & (pid.cls == _class_ints(p.classes))
        pos = {v: i for i, v in enumerate(old_ids.to_pylist()) if v is not None}
        used = set()
        for i in np.flatnonzero(ok):
            j = pos.get(p.ids[int(i)].as_py())
            if j is not None and j not in used and old_cls[j] == pc_np[i]:
                a_list.append(int(i))
                b_list.append(j)
                used.add(j)
    a_id = np.array(a_list, dtype=np.int64)
    b_id = np.array(b_list, dtype=np.int64)
    unmatched_new[a_id] = False
    matched_old[b_id] = True
    # 2. by position among the rest
    rn = np.flatnonzero(unmatched_new)
    ro = np.flatnonzero(~matched_old & np.isin(old_cls, list(src_classes)))
    a2, b2, _ = match(pg[rn], pc_np[rn], geoms_old[ro], old_cls[ro], tol)
    a_all = np.concatenate([a_id, rn[a2]])
    b_all = np.concatenate([b_id, ro[b2]])
    unmatched_new[a_all] = False
    matched_old[b_all] = True
    return a_all, b_all


def _update_matched(run: _Run, key, p, pg, t, cols, fields, old_ids, geoms_old, new_geoms_old, changed_rows, a_all,
                    b_all) -> None:
    """Fields and geometries the re-survey changes on matched components (``cols`` and
    ``new_geoms_old`` in place), each change logged; location fields follow a moved geometry; a
    component found again while lost or removed gets the re-survey's state, else "new"."""
    import shapely

    f, gone, state_new, log, now, batch = run.f, run.gone, run.state_new, run.log, run.now, run.batch
    take_new = pa.array(a_all)
    take_old = pa.array(b_all)
    ch = np.zeros(len(a_all), dtype=bool)
    updates = {}
    for role, name in zip(fields["role"], fields["name"]):
        if role in NOT_COMPARED or name not in p.columns:
            continue
        nv = p.columns[name].take(take_new)
        ov = cols[name].take(take_old)
        if nv.type != ov.type:
            nv = nv.cast(ov.type)
        diff = np.asarray(pc.and_(pc.is_valid(nv), pc.fill_null(pc.not_equal(nv, ov), True))
                          .to_numpy(zero_copy_only=False), dtype=bool)
        if diff.any():
            updates[name] = (nv, diff)
            ch |= diff
    # a component found again while lost or removed: the re-survey's state, else "new"
    sname = f("state")
    if sname:
        ov = store.text(cols[sname].take(take_old))
        gv = p.columns[sname].take(take_new) if sname in p.columns else pa.nulls(len(a_all), pa.string())
        restore = np.isin(np.asarray(ov.to_numpy(zero_copy_only=False), dtype=object), list(gone)) & \
            np.asarray(gv.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if restore.any():
            nv, diff = updates.get(sname, (gv, np.zeros(len(a_all), dtype=bool)))
            nv = pc.if_else(pa.array(restore), pa.scalar(state_new), nv)
            updates[sname] = (nv, diff | restore)
            ch |= restore
    gnew = pg[a_all]
    gold = geoms_old[b_all]
    gdiff = ~shapely.equals_exact(gnew, gold, tolerance=1e-3)
    ch |= gdiff
    rows_old = b_all[ch]
    for name, (nv, diff) in updates.items():
        sel = np.flatnonzero(diff)
        idx_full = np.full(t.num_rows, -1, dtype=np.int64)
        idx_full[b_all[sel]] = sel
        col = cols[name]
        repl = pc.take(nv, pa.array(np.maximum(idx_full, 0)))
        old_vals = col.take(pa.array(b_all[sel])).to_pylist()
        new_vals = nv.take(pa.array(sel)).to_pylist()
        cols[name] = pc.if_else(pa.array(idx_full >= 0), repl, col)
        for j, o, nw in zip(b_all[sel], old_vals, new_vals):
            log.append({"time": now, "batch": batch, "layer": key, "component_id": old_ids[int(j)].as_py(),
                        "field": name, "old": _as_text(o), "new": _as_text(nw)})
    for k in np.flatnonzero(gdiff):
        j = int(b_all[k])
        new_geoms_old[j] = gnew[k]
        log.append({"time": now, "batch": batch, "layer": key, "component_id": old_ids[j].as_py(),
                    "field": "geometry", "old": _wkt(gold[k]), "new": _wkt(gnew[k])})
    if gdiff.any():  # location fields follow the geometry
        for role in LOCATION_ROLES:
            name = f(role)
            if name and name in p.columns:
                sel = np.flatnonzero(gdiff)
                idx_full = np.full(t.num_rows, -1, dtype=np.int64)
                idx_full[b_all[sel]] = a_all[sel]
                repl = pc.take(p.columns[name], pa.array(np.maximum(idx_full, 0)))
                cols[name] = pc.if_else(pa.array(idx_full >= 0), repl, cols[name])
    changed_rows[rows_old] = True
    run.updated_n += int(ch.sum())


def _mark_missing(run: _Run, key, t, g, cols, old_ids, old_cls, geoms_old, matched_old, changed_rows) -> None:
    """Existing components of the re-survey's classes inside the re-surveyed area that were not
    found get the state "missing" (never deleted), each logged."""
    import shapely

    f, src_classes, loc, covered, hull = run.f, run.src_classes, run.loc, run.covered, run.hull
    gone, state_missing, log, now, batch = run.gone, run.state_missing, run.log, run.now, run.batch
    if t.num_rows and src_classes:
        cand = ~matched_old & np.isin(old_cls, list(src_classes))
        if cand.any():
            ci = np.flatnonzero(cand)
            if loc.level == "unit_grid":
                xy = g.take(ci).point_xy()
                gi = loc.locate(x=xy[0], y=xy[1]) if xy is not None else loc.locate(geoms_old[ci])
                inside = np.isin(gi, list(covered)) if covered else np.zeros(len(ci), dtype=bool)
            elif hull is not None:
                inside = shapely.intersects(hull, shapely.point_on_surface(geoms_old[ci]))
            else:
                inside = np.zeros(len(ci), dtype=bool)
            sname = f("state")
            states = store.text(cols[sname]).take(pa.array(ci)).to_pylist() if sname else [None] * len(ci)
            lost = np.array([ins and s not in gone for ins, s in zip(inside, states)], dtype=bool)
            if lost.any() and sname:
                li = ci[lost]
                mask = np.zeros(t.num_rows, dtype=bool)
                mask[li] = True
                cols[sname] = pc.if_else(pa.array(mask), pa.scalar(state_missing), store.text(cols[sname]))
                for j, s in zip(li, np.array(states, dtype=object)[lost]):
                    log.append({"time": now, "batch": batch, "layer": key, "component_id": old_ids[int(j)].as_py(),
                                "field": sname, "old": s, "new": state_missing})
                changed_rows[li] = True
                run.missing_n += int(lost.sum())


def _new_components(run: _Run, new_parts: dict, existing_ids):
    """IDs for the unmatched records (as in intake); returns ({layer: (table, geometries)}, count,
    the registry maxima or None)."""
    proj, prof, spec, f, batch, log, now = run.proj, run.prof, run.spec, run.f, run.batch, run.log, run.now
    layer_out = {}
    new_n = 0
    maxima = None
    if new_parts:
        ids_list, cls_list = [], []
        for key, (p, sel) in new_parts.items():
            ids_list.append(p.ids.take(pa.array(sel)) if p.ids is not None else pa.nulls(len(sel), pa.string()))
            cls_list.append(p.classes.take(pa.array(sel)))
        res = assign_ids(pa.concat_arrays(ids_list), pa.concat_arrays(cls_list), spec, prof,
                         existing_ids=existing_ids, registry=store.read_registry(proj))
        maxima = res.maxima
        start = 0
        for key, (p, sel) in new_parts.items():
            m = len(sel)
            cols = {n: a.take(pa.array(sel)) for n, a in p.columns.items()}
            cols[f("component_id")] = res.ids.slice(start, m)
            if f("batch"):
                cols[f("batch")] = pa.array([batch] * m, pa.string())
            for cid, c in zip(res.ids.slice(start, m).to_pylist(), cols[f("class_code")].to_pylist()):
                log.append({"time": now, "batch": batch, "layer": key, "component_id": cid, "field": "*",
                            "old": None, "new": f"新增 new {c}"})
            start += m
            new_n += m
            layer_out[key] = (pa.table(cols), p.geoms.take(sel))
    return layer_out, new_n, maxima


def _write(run: _Run, updated, layer_out, maxima, new_n, source, mapping, coords) -> None:
    """One transaction: the changed layers, rejects, report, change log, registry and batch row."""
    proj, prep, batch, report, log, loc = run.proj, run.prep, run.batch, run.report, run.log, run.loc
    updated_n, missing_n = run.updated_n, run.missing_n
    written = {}
    with proj.transaction() as work:
        for key in COMPONENT_LAYERS:
            if key not in updated and key not in layer_out:
                continue
            fields = store.layer_fields(work, key)
            if key in updated:
                t, geoms = updated[key]
                gcol = store.GeomColumn(geoms=geoms)
            else:
                t, gcol = store.read_component_table(work, key)
                t = store.conform({n: t.column(n) for n in t.column_names}, fields, t.num_rows)
            if key in layer_out:
                nt, ng = layer_out[key]
                nt = store.conform({n: nt.column(n) for n in nt.column_names}, fields, nt.num_rows)
                t = pa.concat_tables([t, nt])
                gcol = store.GeomColumn.concat([gcol, ng])
            written[key] = store.write_component_table(work, key, t, gcol)
        for rj in prep.rejects:
            store.write_rejects(work, batch, rj["source"], rj["rows"], rj["reasons"], rj["messages_zh"],
                                rj["messages_en"], rj["classes"], rj["attrs"], rj["geoms"])
        store.write_report(work, report)
        store.write_change_log(work, log)
        if maxima is not None:
            store.write_registry(work, {(proj.county, k): v for k, v in maxima.items()})
        store.record_batch(work, batch_row(batch, "merge", source, prep, mapping=mapping, coords=coords,
                                           written=written, extra={"updated": updated_n, "new": new_n,
                                                                   "missing": missing_n,
                                                                   "area": "unit_grids" if loc.level == "unit_grid"
                                                                   else "convex_hull"}))


def summary_text(d: dict) -> Text:
    if not d["changes"]:
        return Text(f"读入 {d['read']} 条，与项目完全一致，没有任何变更（未写入）。",
                    f"Read {d['read']} records; they agree with the project: no change (nothing written).")
    return Text(f"批次 {d['batch']}：读入 {d['read']} 条，匹配 {d['matched']} 个部件，其中 {d['updated']} 个有变化；新增 {d['new']} 个；"
                f"{d['missing']} 个在重新普查区域内未找到，已标为丢失；{d['rejected']} 条未导入；变更记录 {d['changes']} 行（change_log 表）。",
                f"Batch {d['batch']}: read {d['read']}, matched {d['matched']} components ({d['updated']} changed); "
                f"{d['new']} new; {d['missing']} in the re-surveyed area were not found and are marked missing; "
                f"{d['rejected']} not imported; {d['changes']} change-log rows (table change_log).")
