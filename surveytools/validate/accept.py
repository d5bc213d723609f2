"""Accepted false positives (误报): the project table ``validation_accepted``.

Columns: rule_id, layer, feature_id, field (the key a run matches error rows on; empty matches
empty), note, accepted_by, accepted_at.
"""
from __future__ import annotations

import datetime as _dt

import pandas as pd

TABLE = "validation_accepted"
COLUMNS = ["rule_id", "layer", "feature_id", "field", "note", "accepted_by", "accepted_at"]


def read_accepted(project) -> pd.DataFrame | None:
    from .. import store

    if TABLE not in store.list_layers(project.path):
        return None
    return store.read_dataframe(project.path, TABLE, read_geometry=False)


def add_accepted(project, rule, layer, feature_id=None, field=None, note=None, user="") -> int:
    from ..project import write_table

    cur = read_accepted(project)
    cur = pd.DataFrame(columns=COLUMNS) if cur is None else cur.reindex(columns=COLUMNS)
    row = {"rule_id": rule, "layer": layer, "feature_id": feature_id or "", "field": field or "", "note": note or "",
           "accepted_by": user, "accepted_at": _dt.datetime.now().replace(microsecond=0).isoformat()}
    key = ["rule_id", "layer", "feature_id", "field"]
    cur = cur.astype(object).where(cur.notna(), "")
    dup = (cur[key] == pd.Series({k: row[k] for k in key})).all(axis=1)
    cur = pd.concat([cur[~dup], pd.DataFrame([row])], ignore_index=True)
    with project.transaction() as work:
        write_table(work, TABLE, cur)
    return len(cur)
