"""The project's ``id_registry`` seen from QGIS: the highest component serial ever issued per
county + class, so an ID that was deleted or retired is never issued again (the library's rule,
see surveytools/components/coding.py and store.py).

The plugin reads it when it issues an ID (:meth:`AutoFill.next_id`) and raises the maxima when a
component layer's edits are committed, including the IDs of deleted features (read from the data
provider before the commit removes them).  The table layout is the library's
(``county, class_code, max_serial, updated``); a GeoPackage without the table gets it, empty.
"""
from __future__ import annotations

import datetime as _dt
import sqlite3

from .compat import log

TABLE = "id_registry"
COLUMNS = ("county", "class_code", "max_serial", "updated")


def ensure_table(sp) -> bool:
    """Create the empty ``id_registry`` table in a GeoPackage project that lacks it (the layout
    the library writes).  Returns whether the table exists afterwards."""
    if sp.has(TABLE):
        return True
    if sp.kind != "gpkg":
        return False
    con = sqlite3.connect(sp.path, timeout=30)
    try:
        with con:
            exists = con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (TABLE,)).fetchone()
            if not exists:
                con.execute(f'CREATE TABLE IF NOT EXISTS "{TABLE}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                            'county TEXT, class_code TEXT, max_serial INTEGER, updated TEXT)')
                con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                            "VALUES (?, 'attributes', ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                            (TABLE, TABLE, "highest component serial issued per county and class"))
    except sqlite3.Error as exc:
        log(f"id_registry: {exc}", "Warning")
        return False
    finally:
        con.close()
    sp.refresh_tables()
    return sp.has(TABLE)


class IdRegistry:
    """Read and raise the maxima of one project's ``id_registry``."""

    def __init__(self, sp):
        self.sp = sp

    def _layer(self):
        if not self.sp.has(TABLE):
            return None
        try:
            return self.sp.layer(TABLE)
        except Exception as exc:  # noqa: BLE001 - a broken table must not stop digitising
            log(f"id_registry: {exc}", "Warning")
            return None

    def maxima(self) -> dict:
        """(county, class) → highest serial issued."""
        lyr = self._layer()
        out = {}
        if lyr is None:
            return out
        for f in lyr.getFeatures():
            try:
                key = (str(f["county"]), str(f["class_code"]))
                out[key] = max(out.get(key, 0), int(f["max_serial"]))
            except (TypeError, ValueError, KeyError):
                continue
        return out

    def max_serial(self, county: str, class_code: str) -> int:
        return self.maxima().get((str(county), str(class_code)), 0)

    def raise_to(self, maxima: dict) -> bool:
        """Raise the registry to at least ``maxima`` ((county, class) → serial); never lowers."""
        maxima = {k: int(v) for k, v in maxima.items() if v}
        if not maxima:
            return True
        if not ensure_table(self.sp):
            return False
        lyr = self._layer()
        if lyr is None:
            return False
        from qgis.core import QgsFeature

        now = _dt.datetime.now().replace(microsecond=0).isoformat()
        idx = {c: lyr.fields().indexOf(c) for c in COLUMNS}
        rows = {}
        for f in lyr.getFeatures():
            rows.setdefault((str(f["county"]), str(f["class_code"])), []).append(f)
        lyr.startEditing()
        for key, serial in maxima.items():
            existing = rows.get(key)
            if existing:
                for f in existing:
                    try:
                        old = int(f["max_serial"])
                    except (TypeError, ValueError):
                        old = 0
                    if serial > old:
                        lyr.changeAttributeValue(f.id(), idx["max_serial"], serial)
                        lyr.changeAttributeValue(f.id(), idx["updated"], now)
            else:
                feat = QgsFeature(lyr.fields())
                feat["county"], feat["class_code"], feat["max_serial"], feat["updated"] = key[0], key[1], serial, now
                lyr.addFeature(feat)
        if not lyr.commitChanges():
            log(f"id_registry: {lyr.commitErrors()}", "Warning")
            lyr.rollBack()
            return False
        return True


__all__ = ["IdRegistry", "ensure_table", "TABLE"]
