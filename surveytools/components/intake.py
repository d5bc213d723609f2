"""``components intake``: a delivery into the project's component layers, in one transaction.

1. read and map the delivery (:mod:`.prepare`): nothing is imported while a column or class
   value is unmapped;
2. code: keep valid delivered IDs, issue new ones after the highest serial ever used
   (:mod:`.coding`);
3. locate: grid, community and street codes and names (:mod:`surveytools.locate`);
4. write each component layer once, record the batch (``intake_batches``), the report
   (``intake_report``), the records that could not be imported (``intake_rejects``) and the
   issued maxima (``id_registry``).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..i18n import Text
from ..locate import COMPONENT_LAYERS, Locator
from . import store
from .coding import IdSpec, assign_ids, describe_bad_id
from .prepare import Part, prepare


def class_names(profile, group: str = "component") -> dict:
    t = profile.event_classes if group == "event" else profile.component_classes
    return dict(zip(t["code"].astype(str), t["name"]))


def fill_class_fields(part: Part, profile, group: str, report: list, batch: str) -> None:
    """ClassCode from the resolved class; the name becomes the class's standard name (a delivered
    name that differs is reported, never silently dropped)."""
    f = lambda role: profile.field(group, role)  # noqa: E731
    names = class_names(profile, group)
    enc = pc.dictionary_encode(part.classes)
    d = enc.dictionary.to_pylist()
    std_names = pa.array([names.get(c) for c in d], pa.string())
    std = pc.take(std_names, enc.indices)
    if f("class_code"):
        part.columns[f("class_code")] = part.classes
    nf = f("name")
    if nf:
        old = part.column(nf)
        if old is not None:
            differ = pc.fill_null(pc.not_equal(old, std), True)
            idx = np.flatnonzero(np.asarray(differ.to_numpy(zero_copy_only=False), dtype=bool))
            for i in idx[:20000]:
                o = old[int(i)].as_py()
                report.append({"batch": batch, "source": part.source[i], "source_row": int(part.rows[i]),
                               "severity": "info", "reason": "name_filled" if o is None else "name_normalised",
                               "field": nf, "value": o,
                               "message_zh": f"名称{'为空' if o is None else f'“{o}”'}，已按类别 {part.classes[int(i)].as_py()} 写为“{std[int(i)].as_py()}”",
                               "message_en": f"name {'empty' if o is None else repr(o)}; written as the class "
                                             f"{part.classes[int(i)].as_py()} name '{std[int(i)].as_py()}'"})
        # kept dictionary-encoded (the class's index a record), decoded chunk by chunk when written
        part.columns[nf] = pa.DictionaryArray.from_arrays(enc.indices, std_names)


def locate_part(part: Part, loc: Locator, profile, group: str) -> np.ndarray:
    """Fill the location fields of a whole part; returns the grid index of each record (-1: none)."""
    idx = loc.locate(part.geoms)
    for role, arr in loc.fields(idx).items():
        name = profile.field(group, role)
        if name:
            part.columns[name] = arr
    return idx


def unlocated_report(part: Part, idx, loc: Locator, batch: str, id_field: str | None, offset: int = 0,
                     ids=None) -> list:
    rows = []
    where = {"unit_grid": ("单元网格", "unit grid"), "community": ("社区", "community"), "street": ("街道", "street")}[loc.level]
    if ids is None and id_field:
        ids = part.columns.get(id_field)
    for k in np.flatnonzero(idx < 0)[:20000]:
        i = offset + int(k)
        rows.append({"batch": batch, "source": part.source[i], "source_row": int(part.rows[i]), "layer": part.key,
                     "component_id": ids[int(k)].as_py() if ids is not None else None, "severity": "warning",
                     "reason": "unlocated",
                     "message_zh": f"不在任何{where[0]}内（位置越界？），所在网格、社区、街道为空",
                     "message_en": f"lies in no {where[1]} (outside the area?); grid, community and street left empty"})
    return rows


CHUNK = 131_072


def output_batches(part: Part, fields, profile, group: str, loc: Locator | None, batch: str, report: list,
                   counter: dict):
    """The records of a part as Arrow record batches in the layer's schema (cast, located)."""
    from .store import conform, schema_for

    schema = schema_for(fields)
    id_field = profile.field(group, "component_id" if group == "component" else "event_id")
    n = len(part)
    part.geoms.point_xy()  # decode 2-D points once (cached; chunks take slices)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        cols = part.chunk(start, m)
        g = part.geoms.slice(start, m)
        if loc is not None and loc.available:
            idx = loc.locate(g)
            for role, arr in loc.fields(idx).items():
                name = profile.field(group, role)
                if name:
                    cols[name] = arr
            counter["unlocated"] += int((idx < 0).sum())
            report.extend(unlocated_report(part, idx, loc, batch, id_field, offset=start, ids=cols.get(id_field)))
        t = conform(cols, fields, m).append_column("geom", g.wkb)
        yield from t.cast(schema).to_batches()


def intake(project, source, mapping=None, source_crs=None, coords=None, code=True, locate=True,
           feedback=None) -> dict:
    """Library entry point of ``components intake`` (see the module docstring).  Returns the
    result data; raises :class:`~.prepare.UnmappedError` when the mapping is incomplete."""
    from ..feedback import Feedback
    from ..project import Project
    from .streamwrite import StreamWriter

    feedback = feedback or Feedback()
    proj = Project.open(project)
    # the helper process starts now and imports while the delivery is read; it writes the rows
    # of the biggest layer while the next chunk is located
    writer = StreamWriter.maybe()
    try:
        # the lock covers the reads that decide the batch ID and the new component IDs
        with proj.lock():
            return _intake(proj, project, source, mapping, source_crs, coords, code, locate, feedback, writer)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _intake(proj, project, source, mapping, source_crs, coords, code, locate, feedback, writer) -> dict:
    import time

    prof = proj.profile
    clock = [time.perf_counter()]
    timings = {}

    def lap(name):
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    feedback.progress(2)
    cmd = f"surveytools components intake {project} {source}"
    prep = prepare(proj, source, mapping=mapping, source_crs=source_crs, coords=coords, group="component",
                   command=cmd + " --mapping {file}", feedback=feedback, stream=True)
    feedback.progress(35)
    lap("read_map")
    f = lambda role: prof.field("component", role)  # noqa: E731
    batch = store.next_batch_id(proj, "intake")
    report = [dict(r, batch=batch) for r in prep.report]
    parts = [prep.parts[k] for k in COMPONENT_LAYERS if k in prep.parts]
    for p in parts:
        fill_class_fields(p, prof, "component", report, batch)
        # one value: dictionary-encoded (1 byte a record), decoded chunk by chunk when written
        p.columns[f("batch")] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(p), np.int8)),
                                                               pa.array([batch], pa.string()))
    # IDs across all layers at once (unique per county and class whatever the geometry)
    id_stats = {"kept": 0, "new": 0, "replaced": 0}
    maxima = None
    if code and parts:
        spec = IdSpec.of(prof, proj.county)
        registry = store.read_registry(proj)
        all_ids = pa.concat_arrays([p.ids if p.ids is not None else pa.nulls(len(p), pa.string()) for p in parts])
        all_cls = pa.concat_arrays([p.classes for p in parts])
        # a small delivery asks the ID index; a big one reads every ID once (faster than as many look-ups)
        existing = store.relevant_ids(proj, COMPONENT_LAYERS, all_ids, all_cls, spec) \
            if len(all_cls) <= store.APPEND_MAX else None
        if existing is None:
            existing, _ = store.read_ids(proj, COMPONENT_LAYERS)
        res = assign_ids(all_ids, all_cls, spec, prof, existing_ids=existing, registry=registry)
        maxima = res.maxima
        replaced = np.not_equal(res.reasons, None)
        id_stats = {"kept": int(res.kept.sum()), "new": int(res.new.sum()), "replaced": int(replaced.sum())}
        start = 0
        for p in parts:
            sl = slice(start, start + len(p))
            p.columns[f("component_id")] = res.ids.slice(start, len(p))
            for i in np.flatnonzero(replaced[sl]):
                j = start + i
                old = res.old[j].as_py()
                msg = describe_bad_id(old, res.reasons[j], prof, proj.county)
                report.append({"batch": batch, "source": p.source[i], "source_row": int(p.rows[i]), "layer": p.key,
                               "component_id": res.ids[j].as_py(), "severity": "warning", "reason": res.reasons[j],
                               "field": f("component_id"), "value": old, "message_zh": msg.zh, "message_en": msg.en})
            start += len(p)
        del res, all_ids, all_cls, existing, replaced  # whole-delivery copies: not kept through the write
    elif parts:
        for p in parts:
            if p.ids is not None:
                p.columns[f("component_id")] = p.ids
    feedback.progress(45)
    lap("classify_code")
    loc = _locator(proj, parts) if locate and parts else None
    level = loc.level if loc is not None else None
    counter = {"unlocated": 0}
    written = {}
    info0 = prep.infos[0]
    fields = prof.layer_fields("component")
    # the largest part goes through the helper process when its layer is still empty
    big = max(parts, key=len) if parts else None
    lap("grids")
    with proj.transaction() as work:
        lap("copy")
        for i, p in enumerate(parts):
            spec = prof.layer(p.key)
            if writer is not None and p is big and store.layer_count(work, p.key) == 0:
                written[p.key] = _stream(work, p, spec, fields, prof, loc, batch, report, counter, writer, feedback)
                writer = None
            else:
                bs = list(output_batches(p, fields, prof, "component", loc, batch, report, counter))
                t = pa.Table.from_batches(bs, schema=store.schema_for(fields))
                written[p.key] = store.add_rows(work, p.key, t.drop(["geom"]), store.GeomColumn(t.column("geom")))
            feedback.progress(45 + 45 * (i + 1) / max(len(parts), 1))
        lap("locate_write")
        for p in parts:
            p.close()
            report.extend(dict(r, batch=batch) for r in p.report)
        for rj in prep.rejects:
            store.write_rejects(work, batch, rj["source"], rj["rows"], rj["reasons"], rj["messages_zh"],
                                rj["messages_en"], rj["classes"], rj["attrs"], rj["geoms"])
        store.write_report(work, report)
        if maxima is not None:
            store.write_registry(work, {(proj.county, k): v for k, v in maxima.items()})
        row = batch_row(batch, "intake", source, prep, mapping=mapping, coords=coords, written=written,
                        extra={"ids_kept": id_stats["kept"], "ids_new": id_stats["new"],
                               "ids_replaced": id_stats["replaced"], "unlocated": counter["unlocated"],
                               "located_on": level or "", "coded": bool(code), "located": bool(locate)})
        store.record_batch(work, row)
        lap("reports")
    lap("commit")
    if writer is not None:
        writer.close()
    feedback.progress(100)
    reasons = {}
    for r in report:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"batch": batch, "sources": [i.as_dict() for i in prep.infos], "read": prep.read,
            "imported": {k: int(v) for k, v in written.items()}, "rejected": prep.rejected(),
            "ids": id_stats, "unlocated": counter["unlocated"], "located_on": level, "report": reasons,
            "encoding": info0.encoding, "encoding_detected": info0.encoding_detected, "source_crs": info0.crs,
            "coords": coords, "mapping": mapping, "timings": timings,
            "fields": {m.column: m.role for m in prep.field_matches}}


def _locator(proj, parts) -> Locator:
    """The location frame; for a small delivery only the unit grids around it (read through the
    grid layer's R-tree), so that a one-row intake does not read a city's grids."""
    from ..store import is_postgres, read_dataframe

    if sum(len(p) for p in parts) <= store.APPEND_MAX and not is_postgres(proj.path) \
            and store.table_exists(proj, proj.table("unit_grid")):
        import shapely

        b = shapely.total_bounds(np.concatenate([np.asarray(p.geoms.shapely(), dtype=object) for p in parts]))
        if np.all(np.isfinite(b)):
            grids = read_dataframe(proj.path, proj.table("unit_grid"), use_arrow=True, bbox=tuple(float(v) for v in b))
            if len(grids):  # none around: the whole layer decides (and says the records lie in no grid)
                return Locator(proj, grids)
    return Locator(proj)


def _stream(work, p, spec, fields, prof, loc, batch, report, counter, writer, feedback) -> int:
    """Write part ``p`` into the project through the helper process (rows and R-tree), while
    this process locates the next chunk."""
    from ..store import active, write_target

    desc = f"{spec.title.zh} / {spec.title.en}"
    tx = active(work.path)
    boxes = None
    if hasattr(tx, "direct_target"):  # a GeoPackage: the rows go straight into the project, R-tree at commit
        target, layer, boxes = tx.direct_target(spec.table)
    else:  # the operation's staging file
        target, _ = write_target(work.path, spec.table, False)
        layer = spec.table
    writer.begin(target, layer, store.schema_for(fields), geometry_type=spec.geometry, crs=work.crs,
                 description=desc, spatial_index=boxes is None, in_place=boxes is not None)
    done = 0
    # in place: this process folds the helper's write-ahead log into the project while it writes --
    # unless it reads the delivery from the project file itself meanwhile: GDAL's SQLite and Python's
    # are two libraries in this process, and POSIX locks are per process, so GDAL closing the file
    # would drop the locks of the folding connection
    fold = boxes is not None and not _reads_file(p, work.path)
    folding = tx.fold_wal_while_writing() if fold else contextlib.nullcontext()
    with folding:
        for b in output_batches(p, fields, prof, "component", loc, batch, report, counter):
            writer.write(b)
            if boxes is not None:
                boxes.add_geometries(done + 1, store.GeomColumn(b.column("geom")))
            done += b.num_rows
            feedback.progress(45 + 45 * done / max(len(p), 1))
        p.release()  # every row is sent: the delivery's arrays are not needed any more
        if boxes is not None:
            boxes.prepare()  # the R-tree is packed while the helper process finishes writing
        return writer.finish()


def _reads_file(part, path) -> bool:
    """Whether part ``part`` still reads its delivery from the file ``path`` (a layer of the project)."""
    src = getattr(getattr(part, "src", None), "path", None)
    try:
        return src is not None and os.path.exists(src) and os.path.samefile(src, path)
    except OSError:
        return True


def batch_row(batch, kind, source, prep, *, mapping, coords, written, extra=None) -> dict:
    info = prep.infos[0]
    return {"batch_id": batch, "kind": kind, "source": str(source),
            "layers": ",".join(i.layer or "" for i in prep.infos if i.layer) or None,
            "driver": info.driver, "encoding": info.encoding, "encoding_detected": str(bool(info.encoding_detected)).lower(),
            "source_crs": info.crs, "crs_how": info.crs_how, "coords": coords or "", "mapping": mapping or "",
            "time": store.now(), "read": int(prep.read), "rejected": int(prep.rejected()),
            "written": {k: int(v) for k, v in written.items()}, **(extra or {})}


def summary_text(data: dict) -> Text:
    imp = data["imported"]
    n = sum(imp.values())
    per_zh = "，".join(f"{_LAYER_ZH[k]} {v}" for k, v in imp.items()) or "无"
    per_en = ", ".join(f"{_LAYER_EN[k]} {v}" for k, v in imp.items()) or "none"
    enc = data.get("encoding")
    enc_zh = f"；编码 {enc}{'（自动识别）' if data.get('encoding_detected') else ''}" if enc else ""
    enc_en = f"; encoding {enc}{' (detected)' if data.get('encoding_detected') else ''}" if enc else ""
    coords = f"；{data['coords'].upper()} 坐标已转换为 WGS-84" if data.get("coords") else ""
    coords_en = f"; {data['coords'].upper()} coordinates converted to WGS-84" if data.get("coords") else ""
    ids = data["ids"]
    return Text(
        f"批次 {data['batch']}：读入 {data['read']} 条，导入 {n} 条（{per_zh}），{data['rejected']} 条未导入（见 intake_rejects）；"
        f"标识码保留 {ids['kept']}、新编 {ids['new']}（其中 {ids['replaced']} 个原标识码无效或重复，已重编）；"
        f"{data['unlocated']} 条不在任何网格内{enc_zh}；源坐标系 {data['source_crs']}{coords}。详见 intake_report 表。",
        f"Batch {data['batch']}: read {data['read']}, imported {n} ({per_en}), {data['rejected']} not imported (see "
        f"intake_rejects); IDs kept {ids['kept']}, new {ids['new']} ({ids['replaced']} delivered IDs were invalid or "
        f"duplicated and were replaced); {data['unlocated']} lie in no grid{enc_en}; source CRS {data['source_crs']}"
        f"{coords_en}. See table intake_report.")


_LAYER_ZH = {"component_point": "点", "component_line": "线", "component_polygon": "面", "event": "事件"}
_LAYER_EN = {"component_point": "points", "component_line": "lines", "component_polygon": "polygons", "event": "events"}


def today(date=None) -> _dt.date:
    from ..dates import parse_date

    return parse_date(date)
