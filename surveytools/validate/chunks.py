"""Validation of large component layers in chunks (a city of 10M components in a few GB).

A component layer with more than ``chunk_size`` features is read in fid ranges of
``chunk_size`` (:meth:`.context.Context.chunks`) instead of whole.  For every step of the scheme:

* a ``rows`` rule (each record judged on its own: codes, attributes, geometry, the grid a
  component names …) runs on each chunk (:meth:`~.context.Context.chunk_view`) and once on the
  rest of the project (:meth:`~.context.Context.rest_view`: the other layers, whole);
* a ``rest`` rule (no component records: grid topology, communities, layer sizes) runs once on
  the rest;
* a ``whole`` rule compares records across layers: ``codes.duplicate``, ``codes.missing_serial``
  and ``geometry.duplicate`` run on compact columns collected from the chunks (the stripped IDs,
  fids, duplicate keys as categories, point coordinates) and fetch the geometries of the rows
  they report by fid; any other (``accuracy.rms`` with check points) runs on whole layers.

The rows are the ones of the whole-layer run (tests/test_validate_chunks.py compares both on both
backends); only their order inside a step may differ.  All steps are evaluated in one pass over
the chunks; a ``halt`` step still marks the later steps not run.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .catalogue import Skip
from .context import COMPONENT_KEYS

#: component layers larger than this are validated in chunks of this many features
DEFAULT_CHUNK_ROWS = 500_000
#: features per STRtree in the point duplicate search (strips along x)
STRIP_ROWS = 500_000
#: fids per ``fid IN (…)`` read of reported geometries
FETCH_ROWS = 2_000


class _Layer:
    """Compact columns of one chunked component layer."""

    def __init__(self, key):
        self.key = key
        self.n = 0
        self.fid, self.ids, self.well, self.dkey, self.x, self.y = [], [], [], [], [], []
        self.shown = {}  # position -> feature id, where the ID is written with spaces around it
        self.points = True

    def finish(self):
        from pandas.api.types import union_categoricals

        self.fid = np.concatenate(self.fid) if self.fid else np.zeros(0, dtype=np.int64)
        self.ids = pd.concat(self.ids, ignore_index=True) if self.ids else pd.Series([], dtype="str")
        self.well = np.concatenate(self.well) if self.well else np.zeros(0, dtype=bool)
        self.dkey = union_categoricals(self.dkey) if self.dkey else None
        self.x = np.concatenate(self.x) if self.x else np.zeros(0)
        self.y = np.concatenate(self.y) if self.y else np.zeros(0)

    def feature_ids(self, pos) -> np.ndarray:
        """What :meth:`.context.Context.feature_ids` gives for these positions."""
        out = self.ids.iloc[pos].to_numpy(dtype=object).copy()
        empty = out == ""
        out[empty] = self.fid[pos][empty].astype(str)
        for k, p in enumerate(pos):
            got = self.shown.get(int(p))
            if got is not None:
                out[k] = got
        return out


class Collector:
    """What the ``whole`` rules need from the chunks of the chunked layers."""

    def __init__(self, ctx, steps, catalogue):
        self.layers: dict = {}
        rules = {catalogue[s.rule].id: s for s in steps}
        self.need_ids = "codes.duplicate" in rules or "codes.missing_serial" in rules or "geometry.duplicate" in rules
        self.need_well = "codes.missing_serial" in rules
        self.need_dup = "geometry.duplicate" in rules
        self.wanted = None  # the component IDs of the check points
        self.matched = {}
        if "accuracy.rms" in rules and ctx.checkpoints is not None and len(ctx.checkpoints):
            from .rules.accuracy import checkpoint_ids

            self.wanted = set(checkpoint_ids(ctx)) - {""}

    def feed(self, view, key, g):
        import shapely

        from .rules.codes import _well_formed
        from .rules.geometry import duplicate_keys

        lay = self.layers.setdefault(key, _Layer(key))
        idf = view.field("component", "component_id")
        if self.need_ids:
            ids = view.text(key, g, idf or "")
            lay.ids.append(ids)
            shown = view.feature_ids(key, g)  # the ID as written; the fid where it is empty
            txt = ids.to_numpy(dtype=object)
            diff = np.flatnonzero((txt != "") & (shown != txt))
            lay.shown.update({int(lay.n + p): shown[p] for p in diff})
        lay.fid.append(g["fid"].to_numpy().astype(np.int64))
        if self.need_well:
            lay.well.append(_well_formed(view, "component_id", key, g, idf) if idf else np.zeros(len(g), dtype=bool))
        if self.need_dup:
            lay.dkey.append(pd.Categorical(duplicate_keys(view, key, g)))
            if key == "component_point" and lay.points:
                geoms = np.asarray(g.geometry.values, dtype=object)
                present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
                if (shapely.get_type_id(geoms[present]) != 0).any():
                    lay.points = False  # not all points: the whole-layer search
                lay.x.append(np.where(present, shapely.get_x(np.where(present, geoms, None)), np.nan))
                lay.y.append(np.where(present, shapely.get_y(np.where(present, geoms, None)), np.nan))
        if self.wanted is not None:
            from .rules.accuracy import matched_components

            self.matched.setdefault(key, []).append(matched_components(view, key, g, self.wanted))
        lay.n += len(g)

    def finish(self):
        for lay in self.layers.values():
            lay.finish()


def fetch_geometries(ctx, key, fids) -> np.ndarray:
    """The geometries of the features ``fids`` of layer ``key`` (in that order)."""
    from .. import store

    fids = np.asarray(fids, dtype=np.int64)
    out = np.full(len(fids), None, dtype=object)
    if not len(fids):
        return out
    col = ctx.chunk_fid_column.get(key, "fid")
    qc = '"' + str(col).replace('"', '""') + '"'
    uniq = np.unique(fids)
    got = {}
    for a in range(0, len(uniq), FETCH_ROWS):
        part = uniq[a:a + FETCH_ROWS]
        g = store.read_dataframe(ctx.path, ctx.table_name(key), use_arrow=True, fid_as_index=True, columns=[],
                                 where=f"{qc} IN ({','.join(str(int(f)) for f in part)})")
        got.update(zip(g.index.to_numpy().astype(np.int64).tolist(), np.asarray(g.geometry.values, dtype=object)))
    for k, f in enumerate(fids.tolist()):
        out[k] = got.get(f)
    return out


# ---------------------------------------------------------------------------------------------
# the whole rules on compact columns

def _code_parts(ctx, rest, col, kind, chunked, whole):
    """One part per layer holding codes of ``kind``: ``chunked(lay, name)`` for a component layer
    collected from the chunks (skipped when empty), ``whole(key, g, name)`` for a layer read whole."""
    from .rules.codes import _code_layers

    if kind != "component_id":
        return [whole(key, g, name) for _k, key, g, name in _code_layers(rest, [kind])]
    name = ctx.field("component", "component_id")
    read = {key: g for _k, key, g, _n in _code_layers(rest, [kind])}
    parts = []
    for key in COMPONENT_KEYS:
        if key in col.layers:
            if col.layers[key].n:
                parts.append(chunked(col.layers[key], name))
        elif key in read:
            parts.append(whole(key, read[key], name))
    return parts


def _duplicate_codes(ctx, rest, col, params):
    from .rules import concat
    from .rules.codes import _geoms_at, duplicate_rows

    def chunked(lay, name):
        return (lay.key, lay.ids, lay.fid, lambda pos: fetch_geometries(ctx, lay.key, lay.fid[pos]), name)

    def whole(key, g, name):
        return (key, rest.text(key, g, name), g["fid"].to_numpy(), _geoms_at(g), name)

    return concat([duplicate_rows(ctx, _code_parts(ctx, rest, col, kind, chunked, whole))
                   for kind in params.get("kinds", [])])


def _missing_serial(ctx, rest, col, params):
    from .rules import concat
    from .rules.codes import _well_formed, missing_serial_rows

    out = []
    for kind in params.get("kinds", []):
        def whole(key, g, name, kind=kind):
            return (key, rest.text(key, g, name)[_well_formed(rest, kind, key, g, name)], name)

        parts = _code_parts(ctx, rest, col, kind, lambda lay, name: (lay.key, lay.ids[lay.well], name), whole)
        out.append(missing_serial_rows(ctx, kind, parts, int(params.get("max_listed", 1000))))
    return concat(out)


def point_pairs(x, y, fid, key, tol, strip=STRIP_ROWS):
    """(i, j): positions of the point pairs within ``tol`` of each other (``dwithin``) with equal
    ``key`` codes (>= 0) and ``fid[i] < fid[j]``; by strips along x, one STRtree per strip."""
    import shapely

    ok = np.flatnonzero(~np.isnan(x) & ~np.isnan(y) & (key >= 0))
    order = ok[np.argsort(x[ok], kind="stable")]
    xs = x[order]
    out_i, out_j = [], []
    for s in range(0, len(order), strip):
        core = order[s:s + strip]
        lo, hi = xs[s], xs[min(s + strip, len(order)) - 1]
        a, b = np.searchsorted(xs, lo - tol, "left"), np.searchsorted(xs, hi + tol, "right")
        members = order[a:b]
        pts = shapely.points(x[members], y[members])
        tree = shapely.STRtree(pts)
        qi, tj = tree.query(pts[s - a:s - a + len(core)], predicate="dwithin", distance=tol)
        i, j = core[qi], members[tj]
        keep = (fid[i] < fid[j]) & (key[i] == key[j])
        out_i.append(i[keep])
        out_j.append(j[keep])
    if not out_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    o = np.lexsort((j, i))
    return i[o], j[o]


def _duplicate_positions(ctx, rest, col, params):
    from .rules import concat, rows
    from .rules.geometry import duplicate_in_layer

    tol = float(params.get("tolerance_m", 0.5))
    out = []
    for key in COMPONENT_KEYS:
        if key not in col.layers:
            g = rest.layer(key)
            if g is not None and len(g):
                out.append(duplicate_in_layer(rest, key, g, tol))
            continue
        lay = col.layers[key]
        if not lay.n:
            continue
        if key != "component_point" or not lay.points:  # lines and polygons: the layer whole
            g = ctx.layer(key)
            out.append(duplicate_in_layer(ctx, key, g, tol))
            continue
        cats = lay.dkey.categories.astype(str)
        codes = lay.dkey.codes.astype(np.int64)
        bad = np.flatnonzero((cats == "") | (cats == "name:"))
        codes[np.isin(codes, bad)] = -1
        i, j = point_pairs(lay.x, lay.y, lay.fid, codes, tol)
        if not len(i):
            continue
        import shapely

        dist = shapely.distance(shapely.points(lay.x[i], lay.y[i]), shapely.points(lay.x[j], lay.y[j]))
        ids_i, ids_j = lay.feature_ids(i), lay.feature_ids(j)
        out.append(rows(layer=ctx.table_name(key), fid=lay.fid[j], feature_id=ids_j,
                        geometry=fetch_geometries(ctx, key, lay.fid[j]), other=ids_i, other_fid=lay.fid[i],
                        distance=np.round(dist, 3), value=ids_i))
    return concat(out)


def _accuracy(ctx, rest, col, params):
    from .rules.accuracy import COMPONENT_COLUMNS, accuracy_table, checkpoint_ids, matched_components, rms

    wanted = set(checkpoint_ids(ctx)) - {""}
    frames = []
    for key in COMPONENT_KEYS:
        if key in col.layers:
            frames += col.matched.get(key, [])
        else:
            g = rest.layer(key)
            if g is not None and len(g):
                frames.append(matched_components(rest, key, g, wanted))
    frames = [f for f in frames if len(f)]
    comp = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPONENT_COLUMNS)
    accuracy_table(ctx, params, comp)
    return rms(ctx, params)


COMPACT = {"accuracy.rms": _accuracy, "codes.duplicate": _duplicate_codes, "codes.missing_serial": _missing_serial,
           "geometry.duplicate": _duplicate_positions}


# ---------------------------------------------------------------------------------------------

def raw_results(ctx, steps, catalogue, plan: dict, chunk_size: int, feedback=None, start=0.0, end=100.0) -> dict:
    """{step id: (raw rows or None, Skip or None, seconds)} of every step, the layers of ``plan``
    read in chunks."""
    ctx.chunked = {k: rng[3] for k, rng in plan.items()}
    ctx.chunk_fid_column = {k: rng[0] for k, rng in plan.items()}
    rest = ctx.rest_view()
    res = {s.id: {"frames": [], "skip": None, "t": 0.0} for s in steps}
    rules = [(s, catalogue[s.rule], {**catalogue[s.rule].params, **s.params}) for s in steps]

    def call(s, rule, view, params):
        r = res[s.id]
        if r["skip"] is not None:
            return
        t0 = time.perf_counter()
        try:
            raw = rule.func(view, params)
            if raw is not None and len(raw):
                r["frames"].append(raw)
        except Skip as e:
            r["skip"] = e
        r["t"] += time.perf_counter() - t0

    for s, rule, params in rules:
        if rule.scope in ("rows", "rest"):
            call(s, rule, rest, params)
    col = Collector(ctx, steps, catalogue)
    total = max(sum(ctx.chunked.values()), 1)
    done = 0
    for key, rng in plan.items():
        for k, g in enumerate(ctx.chunks(key, rng, chunk_size)):
            view = ctx.chunk_view(key, g, first=k == 0)
            for s, rule, params in rules:
                if rule.scope == "rows":
                    call(s, rule, view, params)
            t0 = time.perf_counter()
            col.feed(view, key, g)
            ctx.cache["collect_s"] = ctx.cache.get("collect_s", 0.0) + time.perf_counter() - t0
            done += len(g)
            if feedback is not None:
                feedback.progress(start + (end - start) * 0.9 * done / total)
            del view, g
    col.finish()
    for s, rule, params in rules:
        if rule.scope != "whole":
            continue
        r = res[s.id]
        t0 = time.perf_counter()
        try:
            if rule.id in COMPACT:
                raw = COMPACT[rule.id](ctx, rest, col, params)
            else:
                raw = rule.func(ctx, params)  # the chunked layers read whole
            if raw is not None and len(raw):
                r["frames"].append(raw)
        except Skip as e:
            r["skip"] = e
        r["t"] += time.perf_counter() - t0
    from .rules import concat

    return {sid: (concat(r["frames"]) if r["skip"] is None else None, r["skip"], r["t"]) for sid, r in res.items()}
