"""Name history (地名历史): a renamed place keeps its old name.

``rename(work, layer, old, new, date)``:

* the feature's standard name becomes ``new``; ``old`` is appended to its aliases;
* table ``geo_names`` gets ``old`` as kind ``former`` with ``valid_to = date`` (and its earlier
  ``valid_from``), and ``new`` as kind ``standard`` with ``valid_from = date``;
* for a road, its door plates take the new road name, plate name and standard address;
* a later ``geocode build`` from inputs that still carry the old name maps it to the new one, and
  forward geocoding still finds the old name (level ``alias``).
"""
from __future__ import annotations

import pandas as pd

from ..errors import SurveyError
from ..i18n import Text


def rename(work, layer: str, old: str, new: str, date) -> dict:
    from ..project import read_layer, write_project_layer, write_table
    from .base import _read_names

    prof = work.profile
    F = lambda role, key=layer: prof.field(key, role)  # noqa: E731
    df = read_layer(work, layer)
    hit = df[F("name")] == old
    if not hit.any():
        raise SurveyError(Text(f"地址库中没有名为“{old}”的要素", f"no feature named '{old}' in the address base"),
                          code="not_found", file=str(work.display_path), layer=work.table(layer), field=F("name"), value=old)
    if (df[F("name")] == new).any():
        raise SurveyError(Text(f"“{new}”已被另一要素使用", f"'{new}' is already the name of another feature"),
                          code="name_taken", file=str(work.display_path), layer=work.table(layer), field=F("name"), value=new)
    code = df.loc[hit, F("place_code")].iloc[0]
    al = df.loc[hit, F("aliases")].fillna("").iloc[0]
    df.loc[hit, F("aliases")] = "|".join([a for a in str(al).split("|") if a] + [old])
    df.loc[hit, F("name")] = new
    df.loc[hit, F("valid_from")] = pd.Timestamp(date)
    write_project_layer(work, layer, df)
    plates = 0
    if layer == "geocode_road":
        P = lambda role: prof.field("geocode_doorplate", role)  # noqa: E731
        pl = read_layer(work, "geocode_doorplate")
        on = pl[P("road_name")] == old
        plates = int(on.sum())
        if plates:
            pl.loc[on, P("road_name")] = new
            pl.loc[on, P("name")] = new + pl.loc[on, P("door_text")].fillna("")
            pl.loc[on, P("address")] = pl.loc[on, P("address")].str.replace(old, new, n=1, regex=False)
            write_project_layer(work, "geocode_doorplate", pl)
    names = _read_names(work)
    cur = (names["layer"] == layer) & (names["place_code"] == code) & (names["name"] == old) & (names["kind"] == "standard")
    since = names.loc[cur, "valid_from"].iloc[0] if cur.any() else None
    names = names[~cur]
    add = pd.DataFrame([(layer, code, old, "former", since, str(date), "rename"),
                        (layer, code, new, "standard", str(date), None, "rename")], columns=names.columns[:7])
    write_table(work, "geo_names", pd.concat([names, add], ignore_index=True))
    return {"place_code": code, "old": old, "new": new, "date": str(date), "plates": plates}
