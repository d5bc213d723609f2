"""The one Arrow cast: a (Geo)DataFrame to an Arrow table of declared field types.

Every writer of project layers (:func:`surveytools.project.write_project_layer`) and of release
tables (:mod:`surveytools.export.database`) casts through :func:`cast_frame`, so a value is read
the same way whichever table it goes to::

    fields = [("ObjID", "text"), ("Count", "integer"), ("ORDate", "date")]
    table = cast_frame(df, fields)                       # attributes only
    table = cast_frame(gdf, fields, geometry=True)       # plus WKB ``geom``

Types (the profile's field types): ``text``, ``integer``, ``real``, ``date``, ``datetime`` and
``boolean``.  Columns not in ``fields`` are dropped; fields the frame lacks are all null; a value
that cannot be read as its type (``"abc"`` as an integer, ``1.5`` as an integer, ``"2024-13-01"``
as a date) becomes null — the checks that report such values run before the cast
(:func:`surveytools.components.store.cast` reports them per value on intake).
"""
from __future__ import annotations

import pyarrow as pa

from ..gpkg import ARROW_TYPES  # profile field type -> Arrow type


def field_pairs(fields) -> list:
    """``[(name, type)]`` of a profile field table (DataFrame with ``name``/``type``) or of an
    iterable of tuples ``(name, type, …)``."""
    if hasattr(fields, "columns") and "name" in fields.columns:
        return list(zip(fields["name"], fields["type"]))
    return [(f[0], f[1]) for f in fields]


def cast_series(s, typ: str) -> pa.Array:
    """One pandas Series as an Arrow array of the field type ``typ`` (whole-column conversions)."""
    import numpy as np
    import pandas as pd

    at = ARROW_TYPES.get(typ, pa.string())
    if typ == "integer":
        num = pd.to_numeric(s, errors="coerce")
        num = num.where(num.isna() | (num == np.floor(num)))  # 1.5 is not an integer: null
        return pa.array(num.astype("Int64"), at, from_pandas=True)
    if typ == "real":
        return pa.array(pd.to_numeric(s, errors="coerce").astype("float64"), at, from_pandas=True)
    if typ in ("date", "datetime"):
        if pd.api.types.is_datetime64_any_dtype(s):
            ts = s
        else:
            txt = s.astype("string").str.strip()
            ts = pd.to_datetime(txt.where(txt.str.len() > 0), errors="coerce", format="mixed")
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_localize(None)
        unit = "datetime64[D]" if typ == "date" else "datetime64[ms]"
        return pa.array(ts.to_numpy().astype(unit), type=at, from_pandas=True)
    if typ == "boolean":
        if pd.api.types.is_bool_dtype(s):
            return pa.array(s, at, from_pandas=True)
        txt = s.astype("string").str.strip().str.lower()
        val = txt.map({"true": True, "1": True, "yes": True, "t": True, "是": True,
                       "false": False, "0": False, "no": False, "f": False, "否": False}, na_action="ignore")
        return pa.array(val.astype("boolean"), at, from_pandas=True)
    text = s if (pd.api.types.is_string_dtype(s) and s.dtype != object) else s.astype("string")
    return pa.array(text, type=pa.string(), from_pandas=True)


def cast_frame(df, fields, *, geometry: bool = False, multi: bool = False) -> pa.Table:
    """``df`` cast to ``fields`` (see the module docstring), in the fields' order.  ``geometry``
    adds the WKB column ``geom`` (``None`` rows where ``df`` has no geometry); ``multi`` writes
    polygons as multipolygons (layers declared multipolygon)."""
    import numpy as np

    n = len(df)
    cols = {}
    for name, typ in field_pairs(fields):
        cols[name] = cast_series(df[name], typ) if name in df.columns else pa.nulls(n, ARROW_TYPES.get(typ, pa.string()))
    if geometry:
        import shapely

        geoms = np.asarray(df.geometry.values if hasattr(df, "geometry") else [None] * n, dtype=object)
        if multi:
            single = shapely.get_type_id(geoms) == 3
            if single.any():
                geoms = geoms.copy()
                geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(int(single.sum())))
        cols["geom"] = pa.array(shapely.to_wkb(geoms, hex=False), pa.binary())
    return pa.table(cols)
