"""Reverse geocoding: a point (project CRS) → the nearest door plate or landmark within a radius,
the nearest road and the side of it the point is on, and the point's grid, street and community.

* door plate and POI: ``STRtree.query_nearest`` within ``radius`` (default ``reverse_radius_m``);
  the nearer of the two is ``nearest``;
* road: the nearest road main line within ``radius``; ``side`` is 左/右 (left/right of the road's
  direction, the direction of increasing chainage) from the sign of the cross product with the
  line's tangent at the closest point, ``parity`` the parity of the road's known plates on that
  side (单号/双号), ``chainage`` the distance along the road;
* grid, street, community: the unit grid holding the point (smallest code on a shared edge),
  the community and street polygons otherwise.
"""
from __future__ import annotations

import numpy as np


def reverse(idx, x: float, y: float, radius: float | None = None) -> dict:
    import shapely

    radius = float(radius if radius is not None else idx.settings["reverse_radius_m"])
    p = shapely.Point(float(x), float(y))
    out = {"x": float(x), "y": float(y), "radius": radius, "nearest": None, "doorplate": None, "poi": None,
           "road": None}
    out.update(idx.locate_point(x, y))
    cands = []
    if len(idx.plates):
        i, d = idx.trees["plate"].query_nearest(p, max_distance=radius, return_distance=True, all_matches=False)
        if len(i):
            r = idx.plates.iloc[int(i[0])]
            out["doorplate"] = {"place_code": r["place_code"], "name": r["name"], "address": r["address"],
                                "building": r["building"] or None, "distance": round(float(d[0]), 2),
                                "x": round(float(r["x"]), 3), "y": round(float(r["y"]), 3)}
            cands.append(("doorplate", float(d[0])))
    if len(idx.pois):
        i, d = idx.trees["poi"].query_nearest(p, max_distance=radius, return_distance=True, all_matches=False)
        if len(i):
            r = idx.pois.iloc[int(i[0])]
            out["poi"] = {"place_code": r["place_code"], "name": r["name"], "kind": r.get("kind"),
                          "address": r.get("address"), "distance": round(float(d[0]), 2)}
            cands.append(("poi", float(d[0])))
    if cands:
        kind = min(cands, key=lambda c: c[1])[0]
        out["nearest"] = kind
        out["address"] = out[kind]["address"]
    if len(idx.roads):
        i, d = idx.trees["road"].query_nearest(p, max_distance=radius, return_distance=True, all_matches=False)
        if len(i):
            ri = int(i[0])
            line = idx.lines[ri]
            ch = float(shapely.line_locate_point(line, p))
            a = shapely.line_interpolate_point(line, max(ch - 1.0, 0.0))
            b = shapely.line_interpolate_point(line, min(ch + 1.0, line.length))
            cross = (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x)
            side = "左" if cross > 0 else "右"
            parity = None
            par = []
            for pty in (0, 1):
                m = idx.models.get((ri, pty))
                if m is not None and len(m.offset):
                    par.append((pty, float(np.mean(np.sign(m.offset)))))
            for pty, s in par:
                if (s > 0) == (cross > 0) and abs(s) > 0.5:
                    parity = "单号" if pty == 1 else "双号"
            out["road"] = {"place_code": idx.roads["place_code"].iat[ri], "name": idx.roads["name"].iat[ri],
                           "distance": round(float(d[0]), 2), "side": side, "side_en": "left" if side == "左" else "right",
                           "parity": parity, "chainage": round(ch, 1)}
    if out.get("address") is None:
        from .standardize import standard_address

        el = {**idx.admin, "street": out.get("street_name"), "community": out.get("community_name")}
        if out["road"]:
            el["road"] = out["road"]["name"]
        out["address"] = standard_address(el, idx.levels)
    return out
