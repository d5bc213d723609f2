"""``field resolve``: decide a conflict of ``field_conflicts`` — keep the project's version or
apply the field's (the same rules as a return: location follows the geometry, change date and
batch set, change log written)."""
from __future__ import annotations

import datetime as _dt
import json

import numpy as np
import pyarrow as pa

from ..errors import SurveyError
from ..i18n import Text
from . import common as C
from .returns import APPLIED_TABLE, DELETED, LOCATION_ROLES


def _coerce(v, typ):
    if v is None:
        return None
    if pa.types.is_date(typ):
        return v if isinstance(v, _dt.date) else _dt.date.fromisoformat(str(v)[:10])
    if pa.types.is_timestamp(typ):
        return v if isinstance(v, _dt.datetime) else _dt.datetime.fromisoformat(str(v))
    if pa.types.is_integer(typ):
        return int(v)
    if pa.types.is_floating(typ):
        return float(v)
    return str(v)


def resolve(project, conflict, keep, feedback=None) -> dict:
    import pandas as pd
    import shapely

    from ..components import store
    from ..gpkg import write_layer
    from ..locate import Locator
    from ..project import Project, field_group

    if keep not in ("field", "project"):
        raise SurveyError(Text("--keep 应为 field（采用外业版本）或 project（保留项目版本）",
                               "--keep must be field (apply the field's version) or project (keep the project's)"),
                          code="bad_value", field="keep", value=keep)
    proj = Project.open(project)
    prof = proj.profile
    with proj.lock():
        t, g = C.read_layer(proj.path, C.CONFLICTS_LAYER) if store.table_exists(proj, C.CONFLICTS_LAYER) else (None, None)
        ids = t.column("conflict_id").to_pylist() if t is not None else []
        try:
            cid_int = int(conflict)
        except (TypeError, ValueError):
            cid_int = None
        if cid_int not in ids:
            raise SurveyError(Text("没有这个冲突编号", "no conflict with this number"), code="not_found",
                              file=str(proj.path), layer=C.CONFLICTS_LAYER, field="conflict_id", value=conflict)
        i = ids.index(cid_int)
        row = {c: t.column(c)[i].as_py() for c in t.column_names}
        if row["status"] != "open":
            raise SurveyError(Text(f"冲突已处理（{row['resolution']}）", f"the conflict is already resolved ({row['resolution']})"),
                              code="resolved", file=str(proj.path), layer=C.CONFLICTS_LAYER, feature=cid_int)
        if keep == "field" and row["kind"] == "duplicate_id":
            raise SurveyError(Text("这个标识码被多个部件使用，无法确定外业改的是哪一个；请先处理重号（codes.duplicate）再采用外业版本",
                                   "several components hold this ID, so which one the field changed is unknown; fix the "
                                   "duplicate (codes.duplicate) before applying the field's version"),
                              code="duplicate_id", file=str(proj.path), layer=C.CONFLICTS_LAYER, feature=cid_int,
                              value=row["component_id"])
        key, comp_id = row["layer"], row["component_id"]
        grp = field_group(key)
        f = lambda role: prof.field(grp, role)  # noqa: E731
        pt, pg = C.read_layer(proj.path, proj.table(key))
        pids = [None if v is None else str(v) for v in pt.column(f("component_id")).to_pylist()]
        j = pids.index(comp_id) if comp_id in pids else None
        if keep == "field" and j is None:
            raise SurveyError(Text("项目中已没有这个部件，无法采用外业版本", "the component is no longer in the project; "
                                   "the field's version cannot be applied"), code="gone", file=str(proj.path),
                              layer=proj.table(key), feature=comp_id)
        now = C.now()
        day = _dt.date.today()
        names = C.hashed_fields(prof, key)
        log, flog = [], []
        layer_out = None
        reclass = None
        if keep == "field":
            cols = {n: pt.column(n).to_pylist() for n in pt.column_names}
            values = json.loads(row["field_values"] or "{}")
            geoms = np.asarray(pg, dtype=object).copy()
            ccf = f("class_code")
            target, target_id = j, comp_id
            if ccf and ccf in cols and values.get(ccf) is not None and row["kind"] != "deleted_in_field" and \
                    C._norm(values[ccf]) != C._norm(cols[ccf][j]):
                # the field changed the class (part of the ID): the old component is cancelled and a copy of it
                # becomes the new component of the new class, which takes the field's values (as a return does)
                reclass = _plan_reclass(proj, key, str(values.pop(ccf)), row, cid_int)
                for n in cols:
                    cols[n].append(cols[n][j])
                geoms = np.append(geoms, np.array([None], dtype=object))
                geoms[-1] = geoms[j]
                target, target_id = len(geoms) - 1, reclass["new_id"]
            for n, v in values.items():
                if n not in cols:
                    continue
                nv = _coerce(v, pt.schema.field(n).type)
                ov = cols[n][target]
                if C._norm(nv) != C._norm(ov):
                    cols[n][target] = nv
                    log.append({"time": now, "batch": None, "layer": key, "component_id": target_id, "field": n,
                                "old": None if ov is None else str(ov), "new": None if nv is None else str(nv)})
            ng = g[i]
            moved = False
            if row["kind"] != "deleted_in_field" and ng is not None and C.rounded_wkb([ng]) != C.rounded_wkb([pg[j]]):
                log.append({"time": now, "batch": None, "layer": key, "component_id": target_id, "field": "geometry",
                            "old": pg[j].wkt if pg[j] is not None else None, "new": ng.wkt})
                geoms[target] = ng
                moved = True
            if moved or reclass is not None:
                loc = Locator(proj)
                idx = loc.locate(np.asarray([geoms[target]], dtype=object)) if loc.available else np.array([-1])
                for role, arr in loc.fields(np.asarray(idx, dtype=np.int64)).items():
                    if role in LOCATION_ROLES and f(role) in cols:
                        cols[f(role)][target] = arr.to_pylist()[0]
            if reclass is not None:
                _finish_reclass(proj, key, cols, j, reclass, log, now)
            if log and f("change_date") in cols:
                cols[f("change_date")][j] = day
                cols[f("change_date")][target] = day
            layer_out = (pa.table({n: pa.array(v, pt.schema.field(n).type) for n, v in cols.items()}), geoms)
            after = C.feature_hashes(layer_out[0].take(pa.array([target])), geoms[[target]], names)[0]
        else:
            after = C.feature_hashes(pt.take(pa.array([j])), pg[[j]], names)[0] if j is not None else None
        for r in log:
            flog.append(dict(r, package_id=row["package_id"], surveyor=row["surveyor"], feature_uuid=row["feature_uuid"],
                             action="resolve_field"))
        with proj.transaction() as work:
            batch = store.next_batch_id(work, "resolve")
            if layer_out is not None and log:
                t2, geoms = layer_out
                if f("batch") in t2.column_names:
                    b = t2.column(f("batch")).to_pylist()
                    b[j] = batch
                    if reclass is not None:
                        b[-1] = batch
                    t2 = t2.set_column(t2.column_names.index(f("batch")), f("batch"), pa.array(b, pa.string()))
                store.write_component_table(work, key, t2, store.GeomColumn(geoms=geoms))
                store.write_change_log(work, [dict(r, batch=batch) for r in log])
                if reclass is not None:
                    from .returns import _relink

                    store.write_registry(work, {(proj.county, k): v for k, v in reclass["maxima"].items()})
                    to_new = {row["feature_uuid"]: reclass["new_id"]}
                    _relink(work, C.FEATURES_TABLE, "uuid", "feature_id", to_new)
                    _relink(work, C.PROJECT_PHOTOS, "feature_uuid", "component_id", to_new)
                store.append_table(work, C.CHANGES_TABLE, pd.DataFrame([dict(r, batch=batch) for r in flog]))
            store.append_table(work, APPLIED_TABLE, pd.DataFrame([{
                "package_id": row["package_id"], "uuid": row["feature_uuid"], "layer": key,
                "feature_id": reclass["new_id"] if reclass is not None else comp_id,
                "field_hash": row["field_hash"] or DELETED, "project_hash": after, "time": now}]))
            # the layer has an R-tree: rewritten whole (a few rows) instead of an SQL update
            cols = {c: t.column(c).to_pylist() for c in t.column_names}
            cols["status"][i], cols["resolved"][i], cols["resolution"][i] = "resolved", now, keep
            ct = pa.table({c: pa.array(v, t.schema.field(c).type) for c, v in cols.items()})
            wkb = shapely.to_wkb(np.asarray(g, dtype=object), output_dimension=2)
            ct = ct.append_column("geom", pa.array(list(wkb), pa.binary()))
            write_layer(work.path, C.CONFLICTS_LAYER, ct, geometry_type="Unknown", crs=work.crs,
                        description="外业回收冲突 / field return conflicts")
            store.record_batch(work, {"batch_id": batch, "kind": "resolve", "source": f"conflict {cid_int}",
                                      "time": now, "keep": keep})
    return {"conflict": cid_int, "keep": keep, "component_id": comp_id, "changes": len(log),
            "new_id": reclass["new_id"] if reclass is not None else None}


def _plan_reclass(proj, key: str, new_cls: str, row: dict, conflict: int) -> dict:
    """The new ID of a reclassified component (the class checked; the registry maxima to write)."""
    from ..components import store
    from ..components.coding import IdSpec, assign_ids
    from ..locate import COMPONENT_LAYERS

    prof = proj.profile
    cls = prof.component_classes
    geom_of = dict(zip(cls["code"].astype(str), cls["geometry"].astype(str))) if "geometry" in cls else {}
    kind = key.rsplit("_", 1)[-1]
    if new_cls not in set(cls["code"].astype(str)) or geom_of.get(new_cls, kind) != kind:
        raise SurveyError(Text(f"外业版本的类别 {new_cls} 不在分类表中或几何类型不符，无法采用外业版本；请保留项目版本后在内业处理",
                               f"the field's class {new_cls} is not in the class table or has another geometry type, so "
                               f"the field's version cannot be applied; keep the project's version and recode it in "
                               f"the office"), code="bad_class", file=str(proj.path), layer=C.CONFLICTS_LAYER,
                          feature=conflict, field="class_code", value=new_cls)
    existing_ids, _ = store.read_ids(proj, COMPONENT_LAYERS)
    res = assign_ids(None, pa.array([new_cls], pa.string()), IdSpec.of(prof, proj.county), prof,
                     existing_ids=existing_ids, registry=store.read_registry(proj))
    return {"new_id": res.ids.to_pylist()[0], "maxima": res.maxima, "new_class": new_cls, "old_id": row["component_id"]}


def _finish_reclass(proj, key: str, cols: dict, j: int, rc: dict, log: list, now: str) -> None:
    """Row ``j`` cancelled (the profile's removed state, a note naming the new ID); the last row, its
    successor, gets the new class, ID, class name and a note naming the old ID; both logged."""
    from ..components.intake import class_names
    from ..project import field_group

    prof = proj.profile
    grp = field_group(key)
    f = lambda role: prof.field(grp, role)  # noqa: E731
    old_id, new_id, new_cls = rc["old_id"], rc["new_id"], rc["new_class"]
    cols[f("class_code")][-1] = new_cls
    cols[f("component_id")][-1] = new_id
    if f("name") in cols:
        cols[f("name")][-1] = class_names(prof).get(new_cls)
    state = f("state")
    removed = prof.defaults.get("component_state_removed", "移除")
    if state in cols and cols[state][j] != removed:
        log.append({"time": now, "batch": None, "layer": key, "component_id": old_id, "field": state,
                    "old": cols[state][j], "new": removed})
        cols[state][j] = removed
    note = f("note")
    if note in cols:
        add_old = f"类别变更为 {new_cls}，注销，新标识码 {new_id} / reclassified as {new_cls}, cancelled, new ID {new_id}"
        old_note = cols[note][j]
        cols[note][j] = add_old if not old_note else f"{old_note}；{add_old}"
        log.append({"time": now, "batch": None, "layer": key, "component_id": old_id, "field": note,
                    "old": old_note, "new": cols[note][j]})
        add_new = f"由 {old_id} 变更类别 / reclassified from {old_id}"
        cols[note][-1] = add_new if not cols[note][-1] or cols[note][-1] == old_note else f"{cols[note][-1]}；{add_new}"
    log.append({"time": now, "batch": None, "layer": key, "component_id": new_id, "field": "*", "old": old_id,
                "new": f"类别变更 reclassified → {new_cls}：{old_id} 注销 cancelled, 新标识码 new ID {new_id}"})
