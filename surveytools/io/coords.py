"""Coordinates as users type them, and whether a layer's coordinates fit its declared CRS.

:func:`parse_numbers` turns a column of typed coordinates into floats, whole-array (each distinct
text is parsed once) and tolerant of what people really type::

    117.2073   117,2073 (decimal comma)   １１７．２０７３ (full-width)   117.2073°E   E117.2073
    东经117.2073   117°12′26.3″   117°12'26.3"E   117度12分26.3秒   -28.5   28.5S (south: negative)

A value that is none of these is not guessed: it comes back as NaN with ``bad`` set, so the
caller can reject the row naming the field and the value.  :func:`crs_mismatch` tells degrees
declared as metres (and metres declared as degrees) from the layer's bounds.
"""
from __future__ import annotations

import re

import numpy as np

_DMS = re.compile(
    r"^(?P<d>\d+(?:\.\d+)?)\s*(?:°|度)\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:['′’]|分)\s*)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|′′|秒)\s*)?$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PLAIN = re.compile(r"^\d+(?:\.\d*)?$|^\.\d+$")
_HEMI = {"E": 1, "N": 1, "W": -1, "S": -1, "东经": 1, "北纬": 1, "西经": -1, "南纬": -1, "东": 1, "北": 1, "西": -1, "南": -1}
_HEMI_RE = re.compile(r"^(东经|北纬|西经|南纬|[东西南北]|[ENWS])\s*|\s*(东经|北纬|西经|南纬|[东西南北]|[ENWS])$", re.I)


def parse_one(text) -> float | None:
    """One typed coordinate → float, or None when it is not a coordinate (see the module docstring)."""
    import unicodedata

    if text is None:
        return None
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if not s:
        return None
    sign = 1.0
    for _ in range(2):  # a hemisphere letter or word before or after the number
        m = _HEMI_RE.search(s)
        if not m:
            break
        word = (m.group(1) or m.group(2)).upper()
        sign *= _HEMI.get(word, _HEMI.get(word.lower(), 1))
        s = (s[:m.start()] + s[m.end():]).strip()
    if s[:1] in "+-":
        if s[0] == "-":
            sign = -sign
        s = s[1:].strip()
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")  # decimal comma: 117,2073
    elif _THOUSANDS.match(s):
        s = s.replace(",", "")  # thousands separators: 3,132,288.5
    s = s.replace(" ", "") if _PLAIN.match(s.replace(" ", "")) else s
    if _PLAIN.match(s):
        return sign * float(s)
    m = _DMS.match(s)
    if m:
        d = float(m.group("d"))
        mi = float(m.group("m") or 0)
        se = float(m.group("s") or 0)
        if mi >= 60 or se >= 60:
            return None
        return sign * (d + mi / 60 + se / 3600)
    return None


def parse_numbers(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(numbers, empty, bad) for a sequence of typed coordinates: ``empty`` where nothing was
    typed, ``bad`` where something was typed that is not a coordinate (NaN in ``numbers``)."""
    import pandas as pd

    txt = pd.Series(values if isinstance(values, (list, np.ndarray)) else list(values), dtype=object)
    txt = txt.astype("string").str.strip()
    empty = (txt.isna() | (txt == "")).to_numpy(dtype=bool)
    fast = pd.to_numeric(txt.where(~empty), errors="coerce")
    out = fast.to_numpy(dtype=float, copy=True, na_value=np.nan)
    slow = ~empty & np.isnan(out)
    if slow.any():
        rest = txt[slow]
        parsed = {u: parse_one(u) for u in pd.unique(rest)}  # each distinct text once
        out[slow] = rest.map(lambda u: np.nan if parsed[u] is None else parsed[u]).to_numpy(dtype=float)
    # to_numeric accepts 'nan', 'inf': not coordinates
    bad = ~empty & ~np.isfinite(out)
    out[bad] = np.nan
    return out, empty, bad


def looks_like_degrees(bounds) -> bool:
    """Bounds (minx, miny, maxx, maxy) that fit longitude/latitude."""
    minx, miny, maxx, maxy = bounds
    return all(np.isfinite(bounds)) and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def crs_mismatch(bounds, crs) -> str | None:
    """``"degrees_as_projected"`` when a projected CRS is declared for coordinates that are
    longitude/latitude inside that CRS's area of use, ``"projected_as_degrees"`` when a geographic CRS is declared for
    coordinates far outside ±180/±90, else None."""
    if crs is None or bounds is None or not all(np.isfinite(bounds)):
        return None
    if crs.is_projected and looks_like_degrees(bounds):
        # read as longitude/latitude, the coordinates fall where this projected CRS is used: degrees
        # (a projected extent of a few metres at the false origin, out there, is not survey data)
        area = crs.area_of_use
        if area is not None and area.west - 1 <= bounds[0] and bounds[2] <= area.east + 1 \
                and area.south - 1 <= bounds[1] and bounds[3] <= area.north + 1:
            return "degrees_as_projected"
    if crs.is_geographic and (abs(bounds[0]) > 360 or abs(bounds[2]) > 360 or abs(bounds[1]) > 180 or abs(bounds[3]) > 180):
        return "projected_as_degrees"
    return None
