"""What a field package and its return share.

* the **field columns** every editable layer of a package carries besides the profile's fields
  (:data:`SURVEY_COLUMNS`): the feature's UUID (the key QField keeps across edits), the surveyor,
  the survey time and the GNSS quality of the position.  A package *mode* is a set of such columns
  (:data:`MODES`): ``survey`` (the census) and ``check`` (the acceptance check of issue 15:
  :data:`CHECK_COLUMNS`, plus the ``check_points`` and ``check_missing`` layers of
  :data:`CHECK_LAYERS`; the components themselves are not edited);
* the **version hash** of a feature (:func:`feature_hashes`): SHA-256 of its profile fields and its
  geometry rounded to a millimetre, computed the same way on the project and on a returned package,
  so "changed since packaging" is a comparison of two hashes;
* the project's **UUID registry** ``field_features`` (UUID ↔ layer and component ID), so that the
  same component keeps its UUID in every package and a feature inserted from one return is known
  when the same package comes back again.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json

import numpy as np
import pyarrow as pa

#: the editable layers of a package (project layer keys)
EDITABLE = ("component_point", "component_line", "component_polygon")
UUID = "uuid"
#: columns of the survey mode: name -> (type, alias zh, alias en)
SURVEY_COLUMNS = {
    UUID: ("text", "要素 UUID", "Feature UUID"),
    "surveyor": ("text", "调查员", "Surveyor"),
    "survey_time": ("datetime", "调查时间", "Survey time"),
    "gnss_hacc": ("real", "水平精度（米）", "Horizontal accuracy (m)"),
    "gnss_vacc": ("real", "垂直精度（米）", "Vertical accuracy (m)"),
    "gnss_quality": ("text", "定位质量", "Fix quality"),
    "gnss_sats": ("integer", "卫星数", "Satellites"),
}
#: columns of the check mode (acceptance, 验收): the item number of the plan, the result and offset
#: recorded by the checker; the profile fields and the geometry stay as delivered
CHECK_RESULTS = ("正确", "属性错误", "位置错误", "多余")
CHECK_COLUMNS = {
    UUID: ("text", "要素 UUID", "Feature UUID"),
    "item_no": ("integer", "序号", "Item number"),
    "check_result": ("text", "检查结果", "Check result"),
    "offset_m": ("real", "偏差米", "Offset (m)"),
    "check_note": ("text", "备注", "Note"),
    "checker": ("text", "检查员", "Checker"),
    "check_time": ("datetime", "检查时间", "Check time"),
}
#: layers only a check package has: name -> (geometry, {column: (type, alias zh, alias en)}, title zh, title en)
CHECK_POINTS = "check_points"
CHECK_MISSING = "check_missing"
CHECK_LAYERS = {
    CHECK_POINTS: ("point", {
        UUID: ("text", "要素 UUID", "Feature UUID"),
        "feature_uuid": ("text", "所检部件", "Checked component"),
        "checker": ("text", "检查员", "Checker"),
        "check_time": ("datetime", "测量时间", "Measured"),
        "gnss_hacc": ("real", "水平精度（米）", "Horizontal accuracy (m)"),
        "note": ("text", "备注", "Note"),
    }, "实测位置", "Measured positions"),
    CHECK_MISSING: ("point", {
        UUID: ("text", "要素 UUID", "Feature UUID"),
        "class_code": ("text", "类别代码", "Class code"),
        "note": ("text", "备注", "Note"),
        "checker": ("text", "检查员", "Checker"),
        "check_time": ("datetime", "检查时间", "Check time"),
        "gnss_hacc": ("real", "水平精度（米）", "Horizontal accuracy (m)"),
    }, "遗漏部件", "Missing components"),
}
MODES = {"survey": SURVEY_COLUMNS, "check": CHECK_COLUMNS}
#: the 1:n photo table of a package (and, with the component ID and file facts, of the project)
PHOTO_TABLE = "photos"
PHOTO_COLUMNS = {"photo_id": "text", "feature_uuid": "text", "layer": "text", "path": "text",
                 "taken": "datetime", "note": "text"}
#: project tables
FEATURES_TABLE = "field_features"
PACKAGES_TABLE = "field_packages"
RETURNS_TABLE = "field_returns"
CONFLICTS_LAYER = "field_conflicts"
CHANGES_TABLE = "field_changes"
ACCURACY_TABLE = "component_accuracy"
PROJECT_PHOTOS = "photos"
#: the package's own metadata table
PACKAGE_META = "field_package"
MANIFEST = "manifest.json"
GPKG = "survey.gpkg"
QGZ = "survey.qgz"
PHOTO_DIR = "DCIM"
FORMAT = "surveytools-field-package"
FORMAT_VERSION = 1
#: fields left out of the version hash: written by operations, not by anybody in the field
NOT_HASHED_ROLES = {"batch"}


def now() -> str:
    return _dt.datetime.now().replace(microsecond=0).isoformat()


def _norm(v):
    if v is None:
        return None
    if isinstance(v, float):
        if v != v:
            return None
        return round(v, 6)
    if isinstance(v, (_dt.datetime,)):
        return v.replace(microsecond=0).isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, str):
        return v if v != "" else None
    return v


def hashed_fields(profile, key: str) -> list:
    """The profile fields of layer ``key`` that make a feature's version."""
    from ..project import field_group

    fields = profile.layer_fields(field_group(key))
    return [n for n, r in zip(fields["name"], fields["role"]) if r not in NOT_HASHED_ROLES]


def rounded_wkb(geoms) -> list:
    """Hex WKB of each geometry with coordinates rounded to a millimetre (None for none)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    out = [None] * len(geoms)
    ok = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    if ok.any():
        r = shapely.transform(geoms[ok], lambda c: np.round(c, 3))
        hexes = shapely.to_wkb(r, hex=True, output_dimension=2)
        for i, h in zip(np.flatnonzero(ok), hexes):
            out[int(i)] = h
    return out


def feature_hashes(table: pa.Table, geoms, names: list) -> list:
    """SHA-256 (hex) of each row: the values of ``names`` (missing columns count as empty) and
    the rounded geometry."""
    cols = {n: (table.column(n).to_pylist() if n in table.column_names else [None] * table.num_rows) for n in names}
    wkb = rounded_wkb(geoms)
    out = []
    for i in range(table.num_rows):
        doc = [[n, _norm(cols[n][i])] for n in names] + [["geometry", wkb[i]]]
        out.append(hashlib.sha256(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest())
    return out


def values_of(table: pa.Table, names: list, i: int) -> dict:
    return {n: _norm(table.column(n)[i].as_py()) if n in table.column_names else None for n in names}


def read_layer(path, table: str, *, where: str | None = None):
    """(attributes as Arrow, shapely geometries) of a GeoPackage layer, read as the running
    operation sees it."""
    import shapely

    from ..store import read_arrow

    kw = {"where": where} if where else {}
    meta, tab = read_arrow(str(path), table, **kw)
    gname = meta.get("geometry_name") or "wkb_geometry"
    if gname not in tab.column_names:
        gname = next((f.name for f in tab.schema if (f.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb"),
                     None)
    if gname:
        geoms = shapely.from_wkb(np.asarray(tab.column(gname).to_pylist(), dtype=object))
        tab = tab.drop([gname])
    else:
        geoms = np.full(tab.num_rows, None, dtype=object)
    return tab, np.asarray(geoms, dtype=object)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
