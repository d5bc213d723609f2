"""Forward geocoding: an address string → a point, its grid, street and community.

Order of attempts (the first that succeeds gives the result's ``level``):

1. ``door``: the road (by standard name) + door number + suffix is a door plate;
   ``alias``: the same through a road alias or former name;
   ``fuzzy``: the road is found by similarity (rapidfuzz: the best of ``ratio`` and, for text
   longer than the name, ``partial_ratio``) among all road names and aliases; candidates with
   similarity ≥ 0.5 are tried best first and the first holding the door plate wins; otherwise the
   best one ≥ ``fuzzy_min`` is the road.  A plate with an unknown suffix (12号之二) falls back to
   the plain number (12号) with the score × 0.9;
2. ``interpolated``: the number is not a plate: the point is interpolated along the road's main
   line between the nearest known plates of the same parity (odd/even side), linearly in
   chainage and in signed offset, extrapolated (clamped to the line) beyond the last plate;
3. ``building``/``poi``: a building name of a plate, or a POI (exact, alias, or anywhere in the
   text; fuzzy ≥ ``fuzzy_min`` on the parsed POI name);
4. fall-backs ``road`` (midpoint of the road), ``place``, ``community``, ``street``, ``county``.

Scores per level are in ``standards/<profile>/geocode.yaml``.
"""
from __future__ import annotations

import numpy as np

from .parse import parse
from .standardize import door_text, standard_address

RESULT_KEYS = ("level", "score", "x", "y", "grid_code", "street_code", "street_name", "community_code",
               "community_name", "place_code", "matched", "address", "reason")


def _fuzzy_roads(idx, text: str, limit: int = 5):
    from rapidfuzz import fuzz, process

    if not text or not idx.road_list:
        return []
    hits = process.extract(text, idx.road_list, scorer=fuzz.ratio, limit=limit, score_cutoff=50)
    if len(text) > 3:
        hits += process.extract(text, idx.road_list, scorer=fuzz.partial_ratio, limit=limit, score_cutoff=60)
    best = {}
    for name, sc, _ in hits:
        best[name] = max(best.get(name, 0), sc / 100.0)
    return sorted(best.items(), key=lambda kv: (-kv[1], -len(kv[0])))


def _result(idx, level, x, y, *, score, place_code=None, matched=None, loc=None, el=None, reason=None):
    sc = idx.settings["scores"]
    out = dict.fromkeys(RESULT_KEYS)
    out.update(level=level, score=round(float(score if score is not None else sc.get(level, 0.0)), 3),
               x=None if x is None else round(float(x), 3), y=None if y is None else round(float(y), 3),
               place_code=place_code, matched=matched, reason=reason)
    if loc is None and x is not None:
        loc = idx.locate_point(x, y)
    if loc:
        out.update({k: loc.get(k) for k in ("grid_code", "street_code", "street_name", "community_code", "community_name")})
    if el is not None:
        e = dict(idx.admin)
        e.update(street=out["street_name"], community=out["community_name"], road=el.get("road"),
                 number=el.get("number"), suffix=el.get("suffix"), building=el.get("building"), poi=el.get("poi"),
                 place=el.get("place"))
        out["address"] = standard_address(e, idx.levels)
    return out


_LOC_KEYS = ("grid_code", "street_code", "street_name", "community_code", "community_name")


def _plate(idx, i, level, score):
    P = idx.P
    out = dict.fromkeys(RESULT_KEYS)
    out.update(level=level, score=round(float(score), 3), x=round(float(P["x"][i]), 3), y=round(float(P["y"][i]), 3),
               place_code=P["place_code"][i], matched=P["name"][i], address=P["address"][i])
    for k in _LOC_KEYS:
        out[k] = P[k][i]
    return out


def interpolate(idx, road_i: int, number: int):
    """(x, y) of ``number`` on road ``road_i`` from the known plates of its parity, or None."""
    import shapely

    m = idx.models.get((road_i, number % 2))
    line = idx.lines[road_i]
    if m is None or line is None or len(m.numbers) == 0:
        return None
    n = m.numbers
    if len(n) == 1:
        ch, off = m.chainage[0], m.offset[0]
    else:
        k = int(np.clip(np.searchsorted(n, number), 1, len(n) - 1))
        n0, n1 = n[k - 1], n[k]
        t = (number - n0) / (n1 - n0) if n1 != n0 else 0.0
        ch = m.chainage[k - 1] + t * (m.chainage[k] - m.chainage[k - 1])
        off = m.offset[k - 1] + min(max(t, 0.0), 1.0) * (m.offset[k] - m.offset[k - 1])
    L = line.length
    ch = min(max(ch, 0.0), L)
    a = shapely.line_interpolate_point(line, max(ch - 1.0, 0.0))
    b = shapely.line_interpolate_point(line, min(ch + 1.0, L))
    c = shapely.line_interpolate_point(line, ch)
    dx, dy = b.x - a.x, b.y - a.y
    norm = (dx * dx + dy * dy) ** 0.5 or 1.0
    # left normal (-dy, dx): a positive offset is on the left of the road's direction
    return c.x - dy / norm * off, c.y + dx / norm * off


def _find_road(idx, el, text):
    """(road idx, how, similarity) or (None, None, 0)."""
    road = el.get("road")
    if road:
        hit = idx.road_of.get(road)
        if hit:
            return hit[0], hit[1], 1.0
    if idx.road_list:
        best = None
        for end, name in idx.road_auto.iter_long(text):
            if best is None or len(name) > len(best):
                best = name
        if best:
            i, how = idx.road_of[best]
            return i, how, 1.0
    return None, None, 0.0


def forward(idx, address: str) -> dict:
    """Geocode one address against an :class:`~surveytools.geocode.index.AddressIndex`."""
    sc = idx.settings["scores"]
    el = parse(address, context=idx.county)
    text = el["normalised"]
    res = _forward(idx, el, text, sc)
    res["parsed"] = {k: el.get(k) for k in ("province", "city", "county", "street", "community", "road", "number",
                                            "suffix", "building", "unit", "floor", "room", "poi")}
    if el.get("county_code") and el["county_code"] != idx.county and res["level"] in ("county", None):
        res["reason"] = f"other county {el['county_code']} {el.get('county')}"
    return res


def _forward(idx, el, text, sc):
    number, suffix = el.get("number"), el.get("suffix") or ""
    ri, how, sim = _find_road(idx, el, text)
    roads = idx.roads
    rnames = idx.road_names
    if ri is None and (el.get("road") or el.get("number") is not None):
        # fuzzy: try the candidates best first; the first holding the plate wins
        cand = _fuzzy_roads(idx, el.get("road") or text)
        door = el.get("door")
        pos = text.find(door) if door else -1
        if pos > 0:  # the text before the number: a typo can make a road look like a division (信州陆)
            seen = {n for n, _ in cand}
            cand += [c for c in _fuzzy_roads(idx, text[max(0, pos - 8):pos]) if c[0] not in seen]
            cand.sort(key=lambda kv: (-kv[1], -len(kv[0])))
        for name, s in cand:
            i = idx.road_of[name][0]
            if number is not None and (rnames[i], number, suffix) in idx.plate_key:
                ri, how, sim = i, "fuzzy", s
                break
        if ri is None and cand and cand[0][1] >= idx.settings["fuzzy_min"]:
            ri, how, sim = idx.road_of[cand[0][0]][0], "fuzzy", cand[0][1]
    if ri is not None:
        rname = rnames[ri]
        level = {"exact": "door", "alias": "alias", "fuzzy": "fuzzy"}[how]
        base = sc[level] * (sim if how == "fuzzy" else 1.0)
        if number is not None:
            k = idx.plate_key.get((rname, number, suffix))
            if k is not None:
                return _plate(idx, k, level, base)
            if suffix:
                k = idx.plate_key.get((rname, number, ""))
                if k is not None:
                    out = _plate(idx, k, level, base * 0.9)
                    out["reason"] = f"suffix {suffix} not found; {door_text(number, '')} used"
                    return out
            xy = interpolate(idx, ri, number)
            if xy is not None:
                e = dict(el, road=rname)
                out = _result(idx, "interpolated", *xy, score=sc["interpolated"] * (sim if how == "fuzzy" else 1.0),
                              place_code=idx.road_codes[ri], matched=rname + door_text(number, suffix), el=e)
                return out
        # a building / POI on the road
        named = _named(idx, el, text, sc)
        if named is not None:
            return named
        pt = roads["pt"].iat[ri]
        if pt is not None:
            return _result(idx, "road", pt.x, pt.y, score=sc["road"] * (sim if how == "fuzzy" else 1.0),
                           place_code=idx.road_codes[ri], matched=rname, el=dict(el, road=rname, number=None),
                           reason=None if number is None else f"no plate or interpolation model for {rname}{number}号")
    named = _named(idx, el, text, sc)
    if named is not None:
        return named
    # administrative fall-backs
    for lvl, key in (("community", "community"), ("street", "street")):
        v = el.get(key)
        hit = idx.names_of.get(v) if v else None
        if hit and hit[0] == "area":
            return _area(idx, hit[1], lvl, sc)
    for end, name in (idx.name_auto.iter_long(text) if idx.names_of else ()):
        kind, i = idx.names_of[name]
        if kind == "area":
            lvl = {"社区": "community", "街道": "street", "区": "county"}.get(idx.areas["level"].iat[i], "county")
            return _area(idx, i, lvl, sc)
    if el.get("county_code") == idx.county:
        a = idx.areas[idx.areas["level"] == "区"]
        if len(a):
            return _area(idx, int(a.index[0]), "county", sc)
    out = _result(idx, None, None, None, score=0.0)
    out["reason"] = "no road, door plate, POI or area of the address base found in the text"
    return out


def _area(idx, i, level, sc):
    r = idx.areas.iloc[i]
    pt = r["pt"]
    loc = idx.locate_point(pt.x, pt.y)
    if level != "community":
        loc["grid_code"] = None
        loc["community_code"] = loc["community_name"] = None
    if level == "county":
        loc["street_code"] = loc["street_name"] = None
    out = _result(idx, level, pt.x, pt.y, score=sc[level], place_code=r["place_code"], matched=r["name"], loc=loc)
    out["address"] = standard_address({**idx.admin, "street": loc.get("street_name"), "community": loc.get("community_name")},
                                      idx.levels)
    return out


def _named(idx, el, text, sc):
    """A building (of a plate), POI or place named in the text."""
    cand = [v for v in (el.get("poi"), el.get("building")) if v]
    hit = None
    for v in cand:
        hit = idx.names_of.get(v)
        if hit and hit[0] != "area":
            break
        hit = None
    if hit is None and idx.names_of:
        best = None
        for end, name in idx.name_auto.iter_long(text):
            if idx.names_of[name][0] != "area" and (best is None or len(name) > len(best)):
                best = name
        if best:
            hit = idx.names_of[best]
    fuzzy = 1.0
    if hit is None and el.get("poi") and len(idx.pois):
        from rapidfuzz import fuzz, process

        got = process.extractOne(el["poi"], idx.pois["name"].tolist(), scorer=fuzz.ratio)
        if got and got[1] / 100.0 >= idx.settings["fuzzy_min"]:
            hit, fuzzy = ("poi", got[2]), got[1] / 100.0
    if hit is None:
        return None
    kind, i = hit
    if kind == "building":
        return _plate(idx, i, "building", sc["building"])
    df = idx.pois if kind == "poi" else idx.places
    r = df.iloc[i]
    g = r["geometry"] if kind == "poi" else r["pt"]
    loc = {k: r.get(k) for k in ("grid_code", "street_code", "street_name", "community_code", "community_name")}
    out = _result(idx, "poi" if kind == "poi" else "place", g.x, g.y, score=sc["poi" if kind == "poi" else "place"] * fuzzy,
                  place_code=r["place_code"], matched=r["name"], loc=loc)
    out["address"] = r.get("address") or standard_address({**idx.admin, "street": loc.get("street_name"),
                                                           "community": loc.get("community_name"), "place": r["name"]},
                                                          idx.levels)
    return out
