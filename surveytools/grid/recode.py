"""Keep unit-grid codes stable when grids are redrawn (相对稳定原则).

Old (coded) and redrawn grids are matched by overlap.  A pair counts when the overlap is at least
``min_share`` of the old grid or of the new one (smaller overlaps are boundary noise).  Then:

=========  ==================================================================================
kept       one old grid ↔ one new grid, intersection over union ≥ ``keep_iou``: keeps its code
reshaped   one old ↔ one new in the same community with a lower IoU: keeps its code (the same
           grid with a moved boundary)
split      the new grid comes from an old grid that now forms several new grids: new serial
merged     the new grid covers several old grids: new serial
new        the new grid overlaps no old grid: new serial
retired    an old grid whose code no new grid keeps: gets its 终止日期 and moves to the history
           layer; its code is never reused
=========  ==================================================================================

New serials continue after the highest serial ever used in the community, retired ones included.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CHANGE_TEXT = {
    "kept": ("保持", "kept"), "reshaped": ("调整边界", "reshaped"), "split": ("拆分", "split"),
    "merged": ("合并", "merged"), "new": ("新增", "new"), "retired": ("终止", "retired"),
}


def match(old_geoms, old_codes, new_geoms, *, min_share=0.05, keep_iou=0.95):
    """Classify the redrawn grids against the old ones.

    Returns (new_change, new_code_kept, new_sources, iou, retired_mask):
    ``new_change`` per new grid, ``new_code_kept`` (old code or None), ``new_sources`` (list of
    old codes overlapping each new grid), ``iou`` of the kept/reshaped pair, ``retired_mask`` over
    the old grids.
    """
    import shapely

    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    old_codes = np.asarray(old_codes, dtype=object)
    n_new, n_old = len(new_geoms), len(old_geoms)
    change = np.array(["new"] * n_new, dtype=object)
    kept_code = np.full(n_new, None, dtype=object)
    sources = [[] for _ in range(n_new)]
    iou_out = np.full(n_new, np.nan)
    if n_old == 0 or n_new == 0:
        return change, kept_code, sources, iou_out, np.ones(n_old, dtype=bool)
    tree = shapely.STRtree(old_geoms)
    ni, oi = tree.query(new_geoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(new_geoms[ni], old_geoms[oi]))
    a_new = shapely.area(new_geoms)[ni]
    a_old = shapely.area(old_geoms)[oi]
    sig = (inter >= min_share * a_old) | (inter >= min_share * a_new)
    pairs = pd.DataFrame({"n": ni[sig], "o": oi[sig], "inter": inter[sig], "a_new": a_new[sig], "a_old": a_old[sig]})
    deg_new = pairs.groupby("n").size()
    deg_old = pairs.groupby("o").size()
    pairs["dn"] = pairs["n"].map(deg_new)
    pairs["do"] = pairs["o"].map(deg_old)
    pairs["iou"] = pairs["inter"] / (pairs["a_new"] + pairs["a_old"] - pairs["inter"])
    for n, grp in pairs.groupby("n"):
        sources[n] = sorted(old_codes[grp["o"]].tolist())
    one = pairs[(pairs["dn"] == 1) & (pairs["do"] == 1)]
    kept = one[one["iou"] >= keep_iou]
    reshaped = one[one["iou"] < keep_iou]
    change[kept["n"].to_numpy()] = "kept"
    change[reshaped["n"].to_numpy()] = "reshaped"
    kept_code[one["n"].to_numpy()] = old_codes[one["o"].to_numpy()]
    iou_out[one["n"].to_numpy()] = one["iou"].to_numpy()
    rest = pairs[~pairs["n"].isin(one["n"])]
    for n, grp in rest.groupby("n"):
        # merged: the new grid holds the bulk (≥ half) of two or more old grids
        bulk = (grp["inter"] >= 0.5 * grp["a_old"]).sum()
        change[n] = "merged" if bulk >= 2 or (len(grp) >= 2 and (grp["do"] == 1).all()) else "split"
    retired = np.ones(n_old, dtype=bool)
    if len(one):
        retired[one["o"].to_numpy()] = False
    return change, kept_code, sources, iou_out, retired


def plausibility(old_geoms, new_geoms, retired, *, sliver: float = 1.0) -> dict:
    """How much a redrawing changes, measured before anything is written.

    ``coverage``: the share of the old grids' extent the redrawn grids cover; ``gap_area`` and
    ``gaps``: the parts of the old extent no redrawn grid covers (parts of at most ``sliver`` m²
    are boundary noise); ``overlap_area`` and ``overlaps``: area shared by two redrawn grids
    (pairs sharing at most ``sliver`` m² ignored); ``retired_share``: the share of old grids
    retired.  Whole arrays throughout (STRtree for the pairs).
    """
    import shapely

    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    old_union = shapely.union_all(old_geoms)
    new_union = shapely.union_all(new_geoms) if len(new_geoms) else shapely.Polygon()
    old_area = float(old_union.area) or 1.0
    gaps = shapely.get_parts(shapely.difference(old_union, new_union))
    gaps = gaps[shapely.area(gaps) > sliver]
    tree = shapely.STRtree(new_geoms)
    a, b = tree.query(new_geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inter = shapely.area(shapely.intersection(new_geoms[a], new_geoms[b])) if len(a) else np.array([])
    big = inter > sliver
    return {"coverage": float(shapely.area(shapely.intersection(old_union, new_union)) / old_area),
            "gap_area": float(shapely.area(gaps).sum()) if len(gaps) else 0.0, "gaps": int(len(gaps)),
            "gap_example": gaps[int(np.argmax(shapely.area(gaps)))] if len(gaps) else None,
            "overlap_area": float(inter[big].sum()), "overlaps": int(big.sum()),
            "overlap_pair": (int(a[big][0]), int(b[big][0])) if big.any() else None,
            "retired_share": float(np.mean(retired)) if len(retired) else 0.0,
            "retired": int(np.sum(retired)), "old": int(len(old_geoms))}
