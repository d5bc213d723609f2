"""Divide communities into unit grids (单元网格划分).

The draft follows CJ/T 213's principles:

* **one community per grid** (属地管理): every community is divided on its own, so no grid
  crosses a community (and so a street) boundary, and the grids of a community partition it
  exactly: their union is the community, they do not overlap;
* **natural boundaries** (地理布局): the community boundary and the linear features inside it
  (road centre lines or edges, rivers, railways, walls) are noded and polygonized into blocks;
* **balanced load** (负载均衡): a block larger than ``max_area`` is cut by straight lines into
  ``round(area / target_area)`` pieces (at least two) by recursive bisection perpendicular to
  its long axis; each cut position balances the pieces' area, or their workload (count of
  components or buildings) when a workload layer is given;
* pieces smaller than ``min_area`` (and slivers) merge into the neighbour in the same community
  with which they share the longest edge, preferring a neighbour that stays within
  ``max_area``.

The result is a draft a planner edits; :func:`report` lists every grid outside
``[min_area, max_area]`` with the reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: reasons a grid falls outside [min_area, max_area]
REASONS = {
    "community_small": ("社区面积小于最小面积，整个社区为一个网格", "the community is smaller than the minimum area, so it is one grid"),
    "isolated_small": ("小块没有可合并的相邻块（被孔洞或多部分社区隔开）",
                       "a small piece has no neighbour to merge with (isolated by a hole or a multipart community)"),
    "merge_exceeds": ("小块只能与相邻块合并成超过最大面积的网格", "a small piece could only merge into a neighbour beyond the maximum area"),
    "cut_limited": ("形状狭长或不规则，直线切分后仍超出面积范围", "an elongated or irregular shape stays outside the range after straight cuts"),
    "serial_capacity": ("社区面积大，为使网格数不超过顺序码容量，已提高该社区的目标面积",
                        "the community is large: its target area was raised so its grids fit the serial digits"),
}

#: a shared edge shorter than this (m) does not make two pieces neighbours
MIN_SHARED_EDGE = 1e-6

#: working precision (m): inputs are snapped to this grid and every overlay runs with it, which
#: makes GEOS's overlay fully robust (snap-rounding) and nodes all output on one grid
PRECISION = 1e-3


@dataclass
class DivideParams:
    target_area: float = 10000.0
    min_area: float = 2000.0
    max_area: float = 20000.0
    #: pieces below this area (m²) are slivers and always merge
    sliver_area: float = 1.0
    #: vertex snapping grid (m) applied to linework before noding; 0 disables
    snap: float = 0.001

    def check(self):
        from ..errors import SurveyError
        from ..i18n import Text
        if not (0 < self.min_area <= self.target_area <= self.max_area):
            raise SurveyError(Text(f"面积参数应满足 0 < 最小面积 ≤ 目标面积 ≤ 最大面积（当前 {self.min_area}, {self.target_area}, {self.max_area}）",
                                   f"area parameters must satisfy 0 < min ≤ target ≤ max (got {self.min_area}, {self.target_area}, {self.max_area})"),
                              code="bad_params", field="target_area")


# ----------------------------------------------------------------------------------------------
# blocks from natural lines

def blocks(community, lines, snap: float = 0.0) -> list:
    """Faces of the community cut by the linear features (an exact partition of ``community``)."""
    import shapely

    community = shapely.set_precision(community, PRECISION)
    parts = list(shapely.get_parts(community))
    out = []
    for poly in parts:
        if lines is None or len(lines) == 0:
            out.append(poly)
            continue
        cand = lines[shapely.intersects(lines, poly)]
        if len(cand) == 0:
            out.append(poly)
            continue
        inner = shapely.intersection(cand, poly, grid_size=PRECISION)
        inner = inner[~shapely.is_empty(inner)]
        inner = shapely.get_parts(inner)
        inner = inner[np.isin(shapely.get_type_id(inner), (1, 2))]  # lines only (no touch points)
        if len(inner) == 0:
            out.append(poly)
            continue
        linework = shapely.union_all(np.concatenate([[poly.boundary], inner]), grid_size=PRECISION)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
        if len(faces) == 0:
            out.append(poly)
            continue
        inside = shapely.contains_properly(poly, shapely.point_on_surface(faces))
        faces = faces[inside]
        # exactness: clip to the community and give any residue (noding noise) back
        faces = shapely.intersection(faces, poly, grid_size=PRECISION)
        faces = _polygons(faces)
        covered = shapely.union_all(faces, grid_size=PRECISION) if len(faces) else shapely.Polygon()
        residue = shapely.difference(poly, covered, grid_size=PRECISION)
        if not residue.is_empty and residue.area > 0:
            faces = np.concatenate([faces, _polygons(shapely.get_parts(residue))])
        out.extend(faces)
    return [f for f in out if f.area > 0]


def _polygons(geoms):
    import shapely

    parts = np.asarray(geoms, dtype=object)
    for _ in range(3):  # GeometryCollection -> MultiPolygon -> Polygon
        parts = shapely.get_parts(parts)
    return parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]


# ----------------------------------------------------------------------------------------------
# balanced straight cuts

def _axis(poly):
    """Unit vector of the polygon's long axis (from its minimum rotated rectangle)."""
    import shapely

    rect = shapely.minimum_rotated_rectangle(poly)
    c = np.asarray(rect.exterior.coords)[:4] if rect.geom_type == "Polygon" else None
    if c is None:
        minx, miny, maxx, maxy = poly.bounds
        return np.array([1.0, 0.0]) if maxx - minx >= maxy - miny else np.array([0.0, 1.0])
    e1, e2 = c[1] - c[0], c[2] - c[1]
    v = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    n = np.hypot(*v)
    return v / n if n > 0 else np.array([1.0, 0.0])


def bisect(poly, fraction: float, weights_xy=None):
    """Cut ``poly`` perpendicular to its long axis into (first, second) with ``fraction`` of the
    area (or of the weight points when given) in ``first``.

    The cut position is searched in a frame rotated onto the axis, where the half-planes are
    boxes clipped in one vectorised call (64 candidate positions, then linear interpolation of
    the monotone area function); the one final cut is made in the original coordinates so the
    two pieces share their cut edge exactly.
    """
    import shapely

    axis = _axis(poly)
    normal = np.array([-axis[1], axis[0]])
    rot_m = np.column_stack([axis, normal])  # xy @ rot_m -> (u along the axis, v across)
    coords = shapely.get_coordinates(poly)
    uv = coords @ rot_m
    lo, hi = float(uv[:, 0].min()), float(uv[:, 0].max())
    vlo, vhi = float(uv[:, 1].min()) - 1.0, float(uv[:, 1].max()) + 1.0
    if weights_xy is not None and len(weights_xy) >= 4:
        t = float(np.quantile(weights_xy @ axis, fraction))
    else:
        rot = shapely.transform(poly, lambda c: c @ rot_m)
        ts = np.linspace(lo, hi, 66)[1:-1]
        areas = shapely.area(shapely.intersection(rot, shapely.box(lo - 1.0, vlo, ts, vhi)))
        t = float(np.interp(poly.area * fraction, np.concatenate([[0.0], areas, [poly.area]]),
                            np.concatenate([[lo], ts, [hi]])))
    t = min(max(t, lo + 1e-6 * (hi - lo)), hi - 1e-6 * (hi - lo))
    # the half-plane u <= t as a polygon in the original coordinates
    corners = np.array([[lo - 1.0, vlo], [t, vlo], [t, vhi], [lo - 1.0, vhi]]) @ rot_m.T
    plane = shapely.Polygon(corners)
    return (shapely.intersection(poly, plane, grid_size=PRECISION),
            shapely.difference(poly, plane, grid_size=PRECISION))


def split_balanced(poly, k: int, points_xy=None) -> list:
    """Split into ``k`` pieces of balanced area (or workload) by recursive bisection."""
    import shapely

    if k <= 1:
        return [poly]
    k1 = k // 2
    pts = None
    if points_xy is not None and len(points_xy):
        pts = points_xy
    first, second = bisect(poly, k1 / k, pts)
    out = []
    for part, kk in ((first, k1), (second, k - k1)):
        sub_pts = None
        if pts is not None:
            inside = shapely.contains_xy(part, pts[:, 0], pts[:, 1])
            sub_pts = pts[inside]
        for piece in _polygons(shapely.get_parts(part)):
            share = max(1, round(kk * piece.area / part.area)) if part.area > 0 else 1
            out.extend(split_balanced(piece, share, sub_pts))
    return out


# ----------------------------------------------------------------------------------------------
# merging small pieces

def merge_small(pieces: list, params: DivideParams) -> tuple[list, dict]:
    """Merge pieces below ``min_area`` into the neighbour sharing the longest edge.

    Returns (pieces, reasons) where reasons maps the index of a piece that stayed outside the
    range to a reason key.
    """
    import shapely

    pieces = list(pieces)
    reasons = {}
    total = sum(p.area for p in pieces)
    if total < params.min_area:
        # the whole (small) community is one grid; a multipart one gives one grid per part
        merged = _polygons(shapely.get_parts(shapely.union_all(pieces, grid_size=PRECISION))) if len(pieces) > 1 else [pieces[0]]
        return list(merged), {i: "community_small" for i in range(len(merged))}
    alive = [True] * len(pieces)

    while True:
        small = [(pieces[i].area, i) for i in range(len(pieces)) if alive[i]
                 and pieces[i].area < params.min_area and i not in reasons]
        if not small:
            break
        _, i = min(small)
        geom = pieces[i]
        best, best_key = None, None
        for j in range(len(pieces)):
            if j == i or not alive[j]:
                continue
            if not geom.intersects(pieces[j]):
                continue
            shared = geom.boundary.intersection(pieces[j].boundary).length
            if shared <= MIN_SHARED_EDGE:
                continue
            within = (geom.area + pieces[j].area) <= params.max_area
            key = (within, shared)
            if best_key is None or key > best_key:
                best, best_key = j, key
        if best is None:
            if geom.area < params.sliver_area:
                # noding noise touching its neighbours only at points: not a grid
                alive[i] = False

                continue
            reasons[i] = "isolated_small"
            continue
        merged = shapely.union(pieces[best], geom, grid_size=PRECISION)
        merged = _single(merged)
        pieces[best] = merged
        alive[i] = False
        if not best_key[0]:
            reasons[best] = "merge_exceeds"
        reasons.pop(i, None)
    keep = [i for i in range(len(pieces)) if alive[i]]
    new_index = {old: new for new, old in enumerate(keep)}
    return [pieces[i] for i in keep], {new_index[i]: r for i, r in reasons.items() if i in new_index}


def _single(geom):
    """A union of adjacent pieces is one polygon: drop zero-area parts left by noding noise."""
    import shapely

    if geom.geom_type != "MultiPolygon":
        return geom
    parts = shapely.get_parts(geom)
    keep = parts[shapely.area(parts) > 1e-6]
    if len(keep) == 1:
        return keep[0]
    return shapely.multipolygons(keep) if len(keep) else geom


# ----------------------------------------------------------------------------------------------
# one community

def divide_community(community, lines, params: DivideParams, workload_xy=None) -> tuple[list, dict]:
    """Divide one community polygon; return (grid polygons, reasons for out-of-range grids)."""
    import shapely

    faces = blocks(community, lines, params.snap)
    total_area = community.area
    avg_load = None
    if workload_xy is not None and len(workload_xy):
        inside = shapely.contains_xy(community, workload_xy[:, 0], workload_xy[:, 1])
        workload_xy = workload_xy[inside]
        n_target = max(1.0, total_area / params.target_area)
        avg_load = len(workload_xy) / n_target if len(workload_xy) else None
    pieces = []
    for f in faces:
        pts = None
        k_area = round(f.area / params.target_area)
        k = k_area if f.area > params.max_area else 1
        if avg_load and workload_xy is not None and len(workload_xy):
            inside = shapely.contains_xy(f, workload_xy[:, 0], workload_xy[:, 1])
            pts = workload_xy[inside]
            k_load = round(len(pts) / avg_load) if avg_load else 1
            # a dense block is cut finer, but never below the minimum area
            k = max(k, min(k_load, int(f.area // params.min_area)))
        if f.area > params.max_area:
            k = max(k, 2, math.ceil(f.area / params.max_area))
        pieces.extend(split_balanced(f, int(k), pts) if k > 1 else [f])
    pieces = [p for p in pieces if p.area > 0]
    # successive cuts leave T-junctions (a cut's end vertex is on one side of an earlier cut
    # only); make the edges match before merging, so unions are exact
    pieces = list(clean_coverage(pieces))
    pieces, reasons = merge_small(pieces, params)
    if len(pieces) > 1:
        pieces = list(clean_coverage(pieces))
    for i, p in enumerate(pieces):
        if i not in reasons and p.area > params.max_area:
            reasons[i] = "cut_limited"
    return pieces, reasons


def clean_coverage(geoms, micro: float = 1e-3) -> np.ndarray:
    """Make pieces one edge-matched polygonal coverage, keeping each piece's area (to ~1e-6 m²).

    Pieces made one community, one cut at a time carry tiny inconsistencies: the vertex a cut
    inserts lies on one side only (a T-junction), and two communities node their shared boundary
    independently (vertices 1e-10 m apart).  That is invisible, but GEOS unions then fail or drop
    parts.  So all piece boundaries are noded together once and polygonized — a planar partition
    in which neighbours share every vertex — and each face goes back to the piece holding it.
    Faces of noding noise (below ``micro`` m²) that no piece holds join the neighbour with the
    longest shared edge; larger unheld faces (holes, areas outside every piece) are left out.
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) < 2:
        return geoms
    edges = shapely.union_all(shapely.boundary(geoms), grid_size=PRECISION)
    faces = _polygons(shapely.polygonize(shapely.get_parts(edges)))
    if len(faces) == 0:
        return geoms
    # each face goes to the piece holding its interior point (point-in-polygon is robust where
    # overlay on near-degenerate pieces is not); the lowest index wins if pieces overlap
    farea = shapely.area(faces)
    pts = shapely.point_on_surface(faces)
    fi, gi = shapely.STRtree(geoms).query(pts, predicate="within")
    owner = np.full(len(faces), -1, dtype=np.int64)
    order = np.lexsort((gi, fi))
    first = np.unique(fi[order], return_index=True)[1]
    owner[fi[order][first]] = gi[order][first]
    owner[farea <= 0] = -1
    # unheld noise faces: the neighbouring face's owner with the longest shared edge
    loose = np.flatnonzero((owner < 0) & (farea < micro))
    if len(loose):
        ftree = shapely.STRtree(faces)
        for f in loose:
            cand = ftree.query(faces[f], predicate="touches")
            cand = cand[owner[cand] >= 0]
            if len(cand):
                shared = shapely.length(shapely.intersection(shapely.boundary(faces[cand]), faces[f].boundary))
                owner[f] = owner[cand[int(np.argmax(shared))]]
    out = np.empty(len(geoms), dtype=object)
    order = np.argsort(owner, kind="stable")
    owners, starts = np.unique(owner[order], return_index=True)
    groups = np.split(order, starts[1:])
    for o, grp in zip(owners, groups):
        if o < 0:
            continue
        merged = shapely.union_all(faces[grp], grid_size=PRECISION) if len(grp) > 1 else faces[grp[0]]
        out[o] = _single(merged) if merged is not None and not merged.is_empty else None
    missing = np.array([g is None for g in out])
    out[missing] = geoms[missing]  # a piece that lost every face (cannot happen with valid input)
    return out
