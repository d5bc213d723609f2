"""``components code``: classify and code the components already in the project.

Used after components were drawn or edited in QGIS (ClassCode set, no ObjID yet) or after an
intake with ``--no-code``.  Per record, in layer order (points, lines, polygons) then row order:

* an empty class code is taken from a well-formed ID of a known class (reported);
* a record without a known class cannot be coded (reported, left as it is);
* an empty name becomes the class's standard name (reported);
* IDs follow :mod:`.coding`: valid and unique ones are kept, the others get new serials after the
  highest ever used (the layers plus ``id_registry``).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..locate import COMPONENT_LAYERS
from . import store
from .coding import IdSpec, assign_ids, describe_bad_id, used_maxima
from .intake import class_names


def code_project(project, feedback=None) -> dict:
    from ..feedback import Feedback
    from ..project import Project

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    f = lambda role: prof.field("component", role)  # noqa: E731
    spec = IdSpec.of(prof, proj.county)
    names = class_names(prof)
    known = pa.array(sorted(names), pa.string())
    batch = "code " + store.now()
    report = []
    layers = {}
    for key in COMPONENT_LAYERS:
        layers[key] = store.read_component_table(proj, key)
    feedback.progress(20)
    all_ids, all_cls, owners = [], [], []
    unclassified = 0
    filled = {}
    for key, (t, g) in layers.items():
        n = t.num_rows
        ids = store.text(t.column(f("component_id"))) if f("component_id") in t.column_names else pa.nulls(n, pa.string())
        cls = store.text(t.column(f("class_code"))) if f("class_code") in t.column_names else pa.nulls(n, pa.string())
        from_id = pc.utf8_slice_codeunits(ids, spec.class_start, spec.class_start + spec.class_len)
        id_ok = pc.and_(pc.fill_null(pc.match_substring_regex(ids, rf"^[0-9]{{{spec.length}}}$"), False),
                        pc.is_in(from_id, value_set=known))
        take_id = pc.and_(pc.is_null(cls), id_ok)
        cls2 = pc.if_else(take_id, from_id, cls)
        filled[key] = np.asarray(take_id.to_numpy(zero_copy_only=False), dtype=bool)
        good = np.asarray(pc.fill_null(pc.is_in(cls2, value_set=known), False).to_numpy(zero_copy_only=False), dtype=bool)
        for i in np.flatnonzero(filled[key])[:20000]:
            report.append({"batch": batch, "layer": key, "source_row": int(i), "component_id": ids[int(i)].as_py(),
                           "severity": "info", "reason": "class_from_id", "field": f("class_code"),
                           "value": cls2[int(i)].as_py(),
                           "message_zh": "类别代码为空，已取自标识码", "message_en": "empty class code taken from the ID"})
        for i in np.flatnonzero(~good)[:20000]:
            report.append({"batch": batch, "layer": key, "source_row": int(i), "component_id": ids[int(i)].as_py(),
                           "severity": "error", "reason": "unclassified", "field": f("class_code"),
                           "value": cls2[int(i)].as_py(),
                           "message_zh": "类别代码为空或不在分类表中，无法编码",
                           "message_en": "the class code is empty or not in the class table; cannot code"})
        unclassified += int((~good).sum())
        layers[key] = (t, g, ids, cls2, good)
        gi = np.flatnonzero(good)
        all_ids.append(ids.take(pa.array(gi)))
        all_cls.append(cls2.take(pa.array(gi)))
        owners.append((key, gi))
    ids_cat = pa.concat_arrays(all_ids) if all_ids else pa.array([], pa.string())
    cls_cat = pa.concat_arrays(all_cls) if all_cls else pa.array([], pa.string())
    registry = store.read_registry(proj)
    everything = pa.concat_arrays([x[2] for x in layers.values()]) if layers else pa.array([], pa.string())
    for k, v in used_maxima(everything, None, spec).items():
        registry[(proj.county, k)] = max(registry.get((proj.county, k), 0), v)
    res = assign_ids(ids_cat, cls_cat, spec, prof, existing_ids=pa.array([], pa.string()), registry=registry)
    feedback.progress(50)
    changed_any = False
    start = 0
    to_write = {}
    for key, gi in owners:
        t, g, ids, cls2, good = layers[key]
        m = len(gi)
        new_ids = res.ids.slice(start, m)
        final = ids
        if m:
            pos = np.full(t.num_rows, -1, dtype=np.int64)
            pos[gi] = np.arange(m)
            final = pc.if_else(pa.array(pos >= 0), pc.take(new_ids, pa.array(np.maximum(pos, 0))), ids)
        for j in np.flatnonzero(np.array([r is not None for r in res.reasons[start:start + m]], dtype=bool)):
            r = res.reasons[start + j]
            msg = describe_bad_id(res.old[start + j].as_py(), r, prof, proj.county)
            report.append({"batch": batch, "layer": key, "source_row": int(gi[j]), "component_id": new_ids[int(j)].as_py(),
                           "severity": "warning", "reason": r, "field": f("component_id"),
                           "value": res.old[start + j].as_py(), "message_zh": msg.zh, "message_en": msg.en})
        start += m
        cols = {n: t.column(n) for n in t.column_names}
        cols[f("component_id")] = final
        cols[f("class_code")] = cls2
        nm = f("name")
        if nm in cols:
            old_name = store.text(cols[nm])
            enc = pc.dictionary_encode(cls2)
            std = pc.take(pa.array([names.get(c) for c in enc.dictionary.to_pylist()], pa.string()), enc.indices)
            empty = pc.and_(pc.is_null(old_name), pc.is_valid(std))
            for i in np.flatnonzero(np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool))[:20000]:
                report.append({"batch": batch, "layer": key, "source_row": int(i), "component_id": final[int(i)].as_py(),
                               "severity": "info", "reason": "name_filled", "field": nm,
                               "message_zh": "名称为空，已按类别写入", "message_en": "empty name filled from the class"})
            cols[nm] = pc.if_else(empty, std, old_name)
        changed = (np.asarray(pc.fill_null(pc.not_equal(final, ids), True).to_numpy(zero_copy_only=False), dtype=bool)
                   & np.asarray(pc.is_valid(final).to_numpy(zero_copy_only=False), dtype=bool)).any() \
            or filled[key].any() or (nm in cols and not cols[nm].equals(store.text(t.column(nm))))
        if changed:
            changed_any = True
            to_write[key] = (pa.table(cols), g)
    kept, new = int(res.kept.sum()), int(res.new.sum())
    if changed_any or report:
        with proj.transaction() as work:
            for key, (t, g) in to_write.items():
                store.write_component_table(work, key, t, g)
            store.write_report(work, report)
            store.write_registry(work, {(proj.county, k): v for k, v in res.maxima.items()})
    feedback.progress(100)
    return {"components": int(sum(layers[k][0].num_rows for k in layers)), "kept": kept, "new": new,
            "replaced": int(sum(r is not None for r in res.reasons)), "unclassified": unclassified,
            "layers_written": sorted(to_write)}
