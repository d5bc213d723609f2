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
        if keep == "field":
            cols = {n: pt.column(n).to_pylist() for n in pt.column_names}
            values = json.loads(row["field_values"] or "{}")
            for n, v in values.items():
                if n not in cols:
                    continue
                nv = _coerce(v, pt.schema.field(n).type)
                ov = cols[n][j]
                if C._norm(nv) != C._norm(ov):
                    cols[n][j] = nv
                    log.append({"time": now, "batch": None, "layer": key, "component_id": comp_id, "field": n,
                                "old": None if ov is None else str(ov), "new": None if nv is None else str(nv)})
            geoms = pg.copy()
            ng = g[i]
            if row["kind"] != "deleted_in_field" and ng is not None and C.rounded_wkb([ng]) != C.rounded_wkb([pg[j]]):
                log.append({"time": now, "batch": None, "layer": key, "component_id": comp_id, "field": "geometry",
                            "old": pg[j].wkt if pg[j] is not None else None, "new": ng.wkt})
                geoms[j] = ng
                loc = Locator(proj)
                idx = loc.locate(np.asarray([ng], dtype=object)) if loc.available else np.array([-1])
                for role, arr in loc.fields(np.asarray(idx, dtype=np.int64)).items():
                    if role in LOCATION_ROLES and f(role) in cols:
                        cols[f(role)][j] = arr.to_pylist()[0]
            if log and f("change_date") in cols:
                cols[f("change_date")][j] = day
            layer_out = (pa.table({n: pa.array(v, pt.schema.field(n).type) for n, v in cols.items()}), geoms)
            after = C.feature_hashes(layer_out[0].take(pa.array([j])), geoms[[j]], names)[0]
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
                    t2 = t2.set_column(t2.column_names.index(f("batch")), f("batch"), pa.array(b, pa.string()))
                store.write_component_table(work, key, t2, store.GeomColumn(geoms=geoms))
                store.write_change_log(work, [dict(r, batch=batch) for r in log])
                store.append_table(work, C.CHANGES_TABLE, pd.DataFrame([dict(r, batch=batch) for r in flog]))
            store.append_table(work, APPLIED_TABLE, pd.DataFrame([{
                "package_id": row["package_id"], "uuid": row["feature_uuid"], "layer": key, "feature_id": comp_id,
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
    return {"conflict": cid_int, "keep": keep, "component_id": comp_id, "changes": len(log)}
