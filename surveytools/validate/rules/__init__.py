"""Rule implementations, one module per category; each function is registered under its
catalogue id with :func:`surveytools.validate.catalogue.implements`."""
from __future__ import annotations

import numpy as np
import pandas as pd


def rows(_n=None, **cols) -> pd.DataFrame:
    """A frame of raw error rows from arrays and scalars (scalars are repeated)."""
    n = _n
    if n is None:
        n = next((len(v) for v in cols.values() if isinstance(v, (list, tuple, np.ndarray, pd.Series, pd.Index))
                  or hasattr(v, "__array__") and np.ndim(v) == 1), 1)
    out = {}
    for k, v in cols.items():
        if isinstance(v, pd.Series):
            v = v.to_numpy(dtype=object) if k != "fid" else v.to_numpy()
        elif isinstance(v, (list, tuple)):
            v = np.asarray(v, dtype=object)
        elif not (isinstance(v, np.ndarray) or (hasattr(v, "__array__") and np.ndim(v) == 1)):
            v = [v] * n
        out[k] = v
    return pd.DataFrame(out, index=range(n))


def concat(frames) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame({"layer": pd.Series([], dtype=object), "geometry": pd.Series([], dtype=object)})
    return pd.concat(frames, ignore_index=True)


def geoms_of(gdf) -> np.ndarray:
    return np.asarray(gdf.geometry.values, dtype=object)
