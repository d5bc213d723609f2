"""Component and event layers of a project as Arrow tables, and the intake bookkeeping tables.

Everything on the hot path stays in Arrow (pyogrio ``read_arrow`` / ``write_arrow``): a million
components are read, cast and written without building a Python object per value.  Geometries
travel as WKB (:class:`GeomColumn`); shapely objects are built only where an operation needs
them, and 2-D points are decoded straight from their 21-byte WKB with numpy.

Project tables written here (see docs/components.md):

``intake_batches``   one row per intake / merge / events batch (source, encoding, CRS, counts)
``id_registry``      the highest serial ever issued per county + class (IDs are never reused)
``intake_report``    what each batch reported per record (re-issued IDs, unlocated, normalised …)
``intake_rejects``   records a batch could not import, with their geometry and attributes
``change_log``       every change a merge made (time, batch, component ID, field, old → new)
"""
from __future__ import annotations

import datetime as _dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..gpkg import ARROW_TYPES, write_layer
from ..issues import INTAKE

BATCH_TABLE = "intake_batches"
REGISTRY_TABLE = "id_registry"
REPORT_TABLE = "intake_report"
REJECTS_LAYER = "intake_rejects"
CHANGE_LOG = "change_log"

REPORT_COLUMNS = list(INTAKE.columns)  # the one issue row, in the intake report's column names
CHANGE_COLUMNS = ["time", "batch", "layer", "component_id", "field", "old", "new"]
#: at most this many records are appended to a layer; more rewrite it (see add_rows)
APPEND_MAX = 50_000


# ----------------------------------------------------------------------------------------------
# geometries as WKB

_POINT_DTYPE = np.dtype([("bo", "u1"), ("t", "<u4"), ("x", "<f8"), ("y", "<f8")])


class GeomColumn:
    """Geometries as an Arrow binary (WKB) array, decoded lazily."""

    def __init__(self, wkb=None, geoms=None):
        if wkb is not None and isinstance(wkb, pa.ChunkedArray):
            wkb = wkb.combine_chunks()
        if wkb is not None and pa.types.is_large_binary(wkb.type):
            wkb = wkb.cast(pa.binary())
        self._wkb = wkb
        self._geoms = None if geoms is None else np.asarray(geoms, dtype=object)
        self._xy = None

    def __len__(self) -> int:
        return len(self._wkb) if self._wkb is not None else len(self._geoms)

    @classmethod
    def from_xy(cls, x, y) -> "GeomColumn":
        """2-D points from coordinate arrays (NaN → no geometry), WKB built with numpy."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n = len(x)
        ok = np.isfinite(x) & np.isfinite(y)
        rec = np.empty(n, dtype=_POINT_DTYPE)
        rec["bo"], rec["t"], rec["x"], rec["y"] = 1, 1, x, y
        lens = np.where(ok, 21, 0)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lens, out=offsets[1:])
        data = rec[ok].tobytes()
        validity = None if ok.all() else pa.array(ok).buffers()[1]  # bit-packed, offset 0
        arr = pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                    null_count=int((~ok).sum()))
        col = cls(arr)
        col._xy = (np.where(ok, x, np.nan), np.where(ok, y, np.nan))
        return col

    @property
    def wkb(self) -> pa.Array:
        if self._wkb is None:
            import shapely

            self._wkb = pa.array(shapely.to_wkb(self._geoms), pa.binary())
        return self._wkb

    def shapely(self) -> np.ndarray:
        if self._geoms is None:
            import shapely

            self._geoms = shapely.from_wkb(self._wkb.to_numpy(zero_copy_only=False))
        return self._geoms

    def point_xy(self):
        """(x, y) when every present geometry is a plain 2-D WKB point (NaN for missing), else None."""
        if self._xy is not None:
            return self._xy
        if self._wkb is None:
            return None
        arr = self._wkb
        n = len(arr)
        if n == 0:
            return np.zeros(0), np.zeros(0)
        offs = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
        lens = np.diff(offs)
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if not np.all(lens[valid] == 21):
            return None
        data = arr.buffers()[2]
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        if valid.all() and np.all(np.diff(offs) == 21):
            rec = np.frombuffer(data, dtype=_POINT_DTYPE, count=n, offset=int(offs[0]))
            if not (np.all(rec["bo"] == 1) and np.all(rec["t"] == 1)):
                return None
            x, y = rec["x"].copy(), rec["y"].copy()
        else:
            raw = np.frombuffer(data, dtype=np.uint8)
            idx = offs[:-1][valid]
            take = idx[:, None] + np.arange(21)[None, :]
            rec = raw[take].copy().view(_POINT_DTYPE).ravel()
            if not (np.all(rec["bo"] == 1) and np.all(rec["t"] == 1)):
                return None
            x[valid], y[valid] = rec["x"], rec["y"]
        self._xy = (x, y)
        return self._xy

    def slice(self, start: int, length: int) -> "GeomColumn":
        if start == 0 and length >= len(self):
            return self
        out = GeomColumn(self._wkb.slice(start, length) if self._wkb is not None else None,
                         self._geoms[start:start + length] if self._geoms is not None else None)
        if self._xy is not None:
            out._xy = (self._xy[0][start:start + length], self._xy[1][start:start + length])
        return out

    def take(self, idx) -> "GeomColumn":
        idx = np.asarray(idx, dtype=np.int64)
        out = GeomColumn(self._wkb.take(pa.array(idx)) if self._wkb is not None else None,
                         self._geoms[idx] if self._geoms is not None else None)
        if self._xy is not None:
            out._xy = (self._xy[0][idx], self._xy[1][idx])
        return out

    @staticmethod
    def concat(parts) -> "GeomColumn":
        parts = [p for p in parts if len(p)]
        if not parts:
            return GeomColumn(pa.array([], pa.binary()))
        return GeomColumn(pa.concat_arrays([p.wkb for p in parts]))


# ----------------------------------------------------------------------------------------------
# values: casting to the profile's field types

def text(arr) -> pa.Array:
    """Any Arrow column as trimmed text; empty strings become null; whole floats lose '.0'."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type) if not pa.types.is_string(t.value_type) else arr.dictionary_decode()
        t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_floating(t):
        whole = pc.fill_null(pc.equal(pc.floor(arr), arr), False)
        as_int = pc.cast(pc.if_else(whole, arr, None), pa.int64(), safe=False)
        arr = pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(arr, pa.string()))
    elif pa.types.is_large_string(t):
        arr = arr.cast(pa.string())
    elif not pa.types.is_string(t):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _parse_unique(arr: pa.Array, kind: str):
    """Parse the distinct strings of ``arr`` as dates/datetimes; returns (values, bad mask)."""
    import pandas as pd

    enc = pc.dictionary_encode(arr)
    uniq = enc.dictionary.to_pandas()
    txt = uniq.str.strip()
    parsed = pd.to_datetime(txt.where(txt.str.len() > 0), errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    unit = "datetime64[D]" if kind == "date" else "datetime64[ms]"
    at = pa.date32() if kind == "date" else pa.timestamp("ms")
    values = pa.array(parsed.to_numpy().astype(unit), type=at, from_pandas=True)
    out = pc.take(values, enc.indices)
    bad = np.asarray(pc.and_(pc.is_valid(arr), pc.is_null(out)).to_numpy(zero_copy_only=False), dtype=bool)
    return out, bad


def cast(arr, typ: str):
    """Cast a source column to a profile field type.  Returns (array, bad) where ``bad`` marks
    values that were present but could not be read as that type (they become null)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    none = np.zeros(n, dtype=bool)
    t = arr.type
    if typ == "text":
        return text(arr), none
    if typ in ("date", "datetime"):
        target = ARROW_TYPES[typ]
        if pa.types.is_date(t) or pa.types.is_timestamp(t):
            if pa.types.is_timestamp(t) and t.tz is not None:
                arr = arr.cast(pa.timestamp(t.unit))
            return pc.cast(arr, target), none
        s = text(arr)
        return _parse_unique(s, typ)
    target = ARROW_TYPES[typ]
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        try:
            return pc.cast(arr, target), none
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    s = text(arr)
    import pandas as pd

    num = pd.to_numeric(s.to_pandas(), errors="coerce")
    if typ == "integer":
        frac = num.notna() & (num != np.floor(num))
        num = num.where(~frac)
        out = pa.array(num.astype("Int64"), pa.int64(), from_pandas=True)
    else:
        out = pa.array(num.astype("float64"), pa.float64(), from_pandas=True)
    bad = np.asarray(pc.and_(pc.is_valid(s), pc.is_null(out)).to_numpy(zero_copy_only=False), dtype=bool)
    return out, bad


def schema_for(fields, geometry: bool = True) -> pa.Schema:
    """The Arrow schema of a layer: the profile's fields (in order, typed) plus WKB ``geom``."""
    cols = [pa.field(n, ARROW_TYPES[t]) for n, t in zip(fields["name"], fields["type"])]
    if geometry:
        cols.append(pa.field("geom", pa.binary()))
    return pa.schema(cols)


def conform(columns: dict, fields, n: int) -> pa.Table:
    """An Arrow table with exactly the profile's fields (name order and types); ``columns`` maps
    field names to arrays already of the right type (others are cast, missing ones are null)."""
    cols = {}
    for name, typ in zip(fields["name"], fields["type"]):
        at = ARROW_TYPES[typ]
        a = columns.get(name)
        if a is None:
            cols[name] = pa.nulls(n, at)
            continue
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks()
        if a.type != at:
            a = cast(a, typ)[0]
        cols[name] = a
    return pa.table(cols)


# ----------------------------------------------------------------------------------------------
# reading and writing project layers

def layer_group(key: str) -> str:
    return "event" if key == "event" else "component"


def layer_fields(work, key: str):
    return work.profile.layer_fields(layer_group(key))


def read_component_table(work, key: str, *, columns=None):
    """(attributes as an Arrow table with the profile's fields, :class:`GeomColumn`) of a project
    layer (``component_point`` … or ``event``)."""
    from ..store import read_arrow

    table_name = work.table(key)
    meta, tab = read_arrow(work.path, table_name, columns=columns)
    gname = meta.get("geometry_name") or "wkb_geometry"
    if gname not in tab.column_names:
        gname = next((f.name for f in tab.schema if (f.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb"),
                     None)
    wkb = tab.column(gname) if gname else pa.nulls(tab.num_rows, pa.binary())
    attrs = tab.drop([gname]) if gname else tab
    return attrs, GeomColumn(wkb)


def layer_count(work, key: str) -> int:
    from ..store import feature_count

    return feature_count(work.path, work.table(key))


def layer_field_names(work, key: str) -> list:
    from ..store import field_names

    return field_names(work.path, work.table(key))


def write_component_table(work, key: str, table: pa.Table, geoms: GeomColumn, *, append: bool = False) -> int:
    """Replace (or append to) a project component/event layer."""
    spec = work.profile.layer(key)
    fields = layer_fields(work, key)
    t = conform({n: table.column(n) for n in table.column_names}, fields, table.num_rows)
    t = t.append_column("geom", geoms.wkb)
    write_layer(work.path, spec.table, t, geometry_type=spec.geometry, crs=work.crs, append=append,
                description=f"{spec.title.zh} / {spec.title.en}")
    return t.num_rows


def add_rows(work, key: str, table: pa.Table, geoms: GeomColumn) -> int:
    """Add records to a project layer, writing the layer once: a layer that is empty, or smaller
    than what is added, or that lacks one of the profile's fields, is rewritten whole (GDAL then
    builds the R-tree once at the end); otherwise the records are appended."""
    if table.num_rows == 0:
        return 0
    existing = layer_count(work, key)
    fields = layer_fields(work, key)
    have = set(layer_field_names(work, key))
    complete = all(n in have for n in fields["name"])
    # appending updates the R-tree row by row (triggers): fine for a few thousand records, far
    # slower than one rewrite for many
    if existing and complete and table.num_rows <= min(APPEND_MAX, existing):
        return write_component_table(work, key, table, geoms, append=True)
    if existing:
        old, og = read_component_table(work, key)
        old = conform({n: old.column(n) for n in old.column_names}, fields, old.num_rows)
        new = conform({n: table.column(n) for n in table.column_names}, fields, table.num_rows)
        table = pa.concat_tables([old, new])
        geoms = GeomColumn.concat([og, geoms])
    return write_component_table(work, key, table, geoms)


def read_ids(work, keys) -> tuple:
    """(ids, classes) of every record of the given layers: text arrays (ID, class code)."""
    from ..store import read_arrow

    prof = work.profile
    ids, classes = [], []
    for key in keys:
        grp = layer_group(key)
        idf, ccf = prof.field(grp, "component_id"), prof.field(grp, "class_code")
        have = layer_field_names(work, key)
        cols = [c for c in (idf, ccf) if c and c in have]
        if not cols:
            continue
        _, tab = read_arrow(work.path, work.table(key), columns=cols, read_geometry=False)
        n = tab.num_rows
        ids.append(text(tab.column(idf)) if idf in cols else pa.nulls(n, pa.string()))
        classes.append(text(tab.column(ccf)) if ccf in cols else pa.nulls(n, pa.string()))
    if not ids:
        return pa.array([], pa.string()), pa.array([], pa.string())
    return pa.concat_arrays(ids), pa.concat_arrays(classes)


def relevant_ids(work, keys, delivered: pa.Array, classes: pa.Array, spec) -> pa.Array | None:
    """The existing IDs that matter for coding a small delivery, read through the layers' ID
    index instead of every row (:func:`read_ids`): those equal to a delivered ID, and the highest
    ID of each delivered class in the project's county.  :func:`~.coding.assign_ids` gives the
    same result with these as with all IDs.  None when a layer has no ID index (the caller reads
    every ID).  On both backends (GeoPackage: SQLite queries; PostGIS: one query per layer)."""
    from ..store import gpkg, is_postgres, pg

    if len(str(spec.county)) != spec.class_start:
        return None
    backend = pg if is_postgres(work.path) else gpkg
    cls = [c for c in pc.unique(classes).to_pylist() if c is not None]
    if any(len(c) != spec.class_len or not c.isdigit() for c in cls):
        return None
    prefixes = [str(spec.county) + c for c in cls]
    values = [v for v in pc.unique(delivered).to_pylist() if v is not None] if delivered is not None else []
    prof = work.profile
    found = []
    for key in keys:
        idf = prof.field(layer_group(key), "component_id") if key in prof.layers else None
        if not idf:
            continue
        res = backend.id_lookup(work.path, work.table(key), idf, values, prefixes, spec.length)
        if res is None:
            return None
        found += res[0] + res[1]
    return pa.array(sorted(set(found)), pa.string())


# ----------------------------------------------------------------------------------------------
# attribute tables

def table_exists(work, name: str) -> bool:
    from ..store import table_exists as exists

    return exists(work.path, name)


def read_table(work, name: str):
    """An attribute table as a DataFrame (empty DataFrame when it does not exist)."""
    import pandas as pd

    from ..store import read_dataframe

    if not table_exists(work, name):
        return pd.DataFrame()
    return read_dataframe(work.path, name, read_geometry=False, use_arrow=True)


def append_table(work, name: str, df) -> int:
    """Append rows to an attribute table (created on first use); columns are text unless numeric."""
    import pandas as pd

    from ..project import write_table

    if len(df) == 0 and table_exists(work, name):
        return 0
    old = read_table(work, name)
    if len(old):
        df = pd.concat([old, df], ignore_index=True)
    write_table(work, name, df)
    return len(df)


def now() -> str:
    return _dt.datetime.now().replace(microsecond=0).isoformat()


def next_batch_id(work, kind: str, day: _dt.date | None = None) -> str:
    """``<kind letter><yyyymmdd>-<nnn>``: I intake, M merge, E events; nnn counts every batch."""
    old = read_table(work, BATCH_TABLE)
    seq = len(old) + 1
    day = day or _dt.date.today()
    return f"{kind[0].upper()}{day:%Y%m%d}-{seq:03d}"


def record_batch(work, row: dict) -> None:
    import pandas as pd

    from ..store import active

    tx = active(work.path)
    if tx is not None and row.get("batch_id"):
        tx.batch = str(row["batch_id"])  # named in the edit log of this operation's changes

    clean = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v) for k, v in row.items()}
    append_table(work, BATCH_TABLE, pd.DataFrame([clean]))


def write_report(work, rows) -> int:

    if not len(rows):
        return 0
    return append_table(work, REPORT_TABLE, INTAKE.frame(rows))


def write_change_log(work, rows) -> int:
    import pandas as pd

    if not len(rows):
        return 0
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    return append_table(work, CHANGE_LOG, df.reindex(columns=CHANGE_COLUMNS))


def write_rejects(work, batch: str, source: str, rows: np.ndarray, reasons, messages_zh, messages_en, classes,
                  attrs: pa.Table, geoms: GeomColumn) -> int:
    """Keep the records a batch could not import in layer ``intake_rejects`` (any geometry type),
    with their source attributes as JSON, so that nothing delivered is lost."""
    n = len(rows)
    if n == 0:
        return 0
    recs = attrs.to_pylist()
    js = [json.dumps(r, ensure_ascii=False, default=str) for r in recs]
    t = pa.table({
        "batch": pa.array([batch] * n, pa.string()),
        "source": pa.array([source] * n, pa.string()),
        "source_row": pa.array(np.asarray(rows, dtype=np.int64), pa.int64()),
        "reason": pa.array(list(reasons), pa.string()),
        "message_zh": pa.array(list(messages_zh), pa.string()),
        "message_en": pa.array(list(messages_en), pa.string()),
        "class_code": pa.array(list(classes), pa.string()),
        "attributes": pa.array(js, pa.string()),
        "geom": geoms.wkb,
    })
    exists = table_exists(work, REJECTS_LAYER)
    write_layer(work.path, REJECTS_LAYER, t, geometry_type="Unknown", crs=work.crs, append=exists,
                description="未能入库的记录 / records an intake could not import")
    return n


# ----------------------------------------------------------------------------------------------
# the ID registry

def read_registry(work) -> dict:
    """(county, class) -> highest serial ever issued."""
    df = read_table(work, REGISTRY_TABLE)
    if not len(df):
        return {}
    return {(str(c), str(k)): int(s) for c, k, s in zip(df["county"], df["class_code"], df["max_serial"])}


def write_registry(work, maxima: dict) -> None:
    import pandas as pd

    from ..project import write_table

    merged = read_registry(work)
    for k, v in maxima.items():
        merged[k] = max(int(v), merged.get(k, 0))
    rows = [{"county": c, "class_code": k, "max_serial": int(s), "updated": now()} for (c, k), s in sorted(merged.items())]
    df = pd.DataFrame(rows, columns=["county", "class_code", "max_serial", "updated"])
    df["max_serial"] = df["max_serial"].astype("int64")
    write_table(work, REGISTRY_TABLE, df)
