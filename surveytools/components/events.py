"""``events intake``: an event table (class, location, description, time) into the project.

The event class dictionary of the profile is already a project table (``dict_event_classes``).
Fields and classes are mapped exactly as for components (:mod:`.prepare`, layer ``event``);
the event code is county + class (``codes.format_code("event_code", …)``); events are located
on the unit grids with the same rules as components and appended to the ``event`` layer.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..codes import format_code
from ..locate import Locator
from . import store
from .intake import batch_row, fill_class_fields, locate_part, unlocated_report
from .prepare import prepare


def intake_events(project, source, mapping=None, source_crs=None, coords=None, locate=True, feedback=None) -> dict:
    """Runs under the project lock from the first read (the batch ID and new IDs depend on what is
    there) to the commit."""
    from ..project import Project

    with Project.open(project).lock():
        return _intake_events(project, source, mapping=mapping, source_crs=source_crs, coords=coords, locate=locate,
                              feedback=feedback)


def _intake_events(project, source, mapping=None, source_crs=None, coords=None, locate=True, feedback=None) -> dict:
    from ..feedback import Feedback
    from ..project import Project

    feedback = feedback or Feedback()
    proj = Project.open(project)
    prof = proj.profile
    f = lambda role: prof.field("event", role)  # noqa: E731
    cmd = f"surveytools events intake {project} {source} --mapping {{file}}"
    prep = prepare(proj, source, mapping=mapping, source_crs=source_crs, coords=coords, group="event", command=cmd,
                   feedback=feedback)
    batch = store.next_batch_id(proj, "events")
    report = [dict(r, batch=batch) for r in prep.report]
    part = prep.parts.get("event")
    unlocated = 0
    level = None
    n = 0
    if part is not None:
        n = len(part)
        part.materialize()
        report.extend(dict(r, batch=batch) for r in part.report)
        fill_class_fields(part, prof, "event", report, batch)
        enc = pc.dictionary_encode(part.classes)
        codes = [format_code("event_code", prof, county=proj.county, class_code=c) for c in enc.dictionary.to_pylist()]
        if f("event_code"):
            part.columns[f("event_code")] = pc.take(pa.array(codes, pa.string()), enc.indices)
        if f("batch"):
            part.columns[f("batch")] = pa.array(np.full(n, batch, dtype=object), pa.string())
        if part.ids is not None and f("event_id"):
            part.columns[f("event_id")] = part.ids
        if locate:
            loc = Locator(proj)
            level = loc.level
            if loc.available:
                idx = locate_part(part, loc, prof, "event")
                unlocated = int((idx < 0).sum())
                report.extend(unlocated_report(part, idx, loc, batch, f("event_id")))
    feedback.progress(70)
    with proj.transaction() as work:
        written = {"event": store.add_rows(work, "event", pa.table(part.columns), part.geoms)} if n else {}
        for rj in prep.rejects:
            store.write_rejects(work, batch, rj["source"], rj["rows"], rj["reasons"], rj["messages_zh"],
                                rj["messages_en"], rj["classes"], rj["attrs"], rj["geoms"])
        store.write_report(work, report)
        store.record_batch(work, batch_row(batch, "events", source, prep, mapping=mapping, coords=coords,
                                           written=written, extra={"unlocated": unlocated, "located_on": level or ""}))
    feedback.progress(100)
    return {"batch": batch, "read": prep.read, "imported": n, "rejected": prep.rejected(), "unlocated": unlocated,
            "located_on": level, "sources": [i.as_dict() for i in prep.infos],
            "fields": {m.column: m.role for m in prep.field_matches}}
