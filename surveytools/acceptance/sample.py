"""The sampling plan (抽样方案) of an acceptance: which unit grids are checked in the field.

Method (docs/acceptance.md):

1. Every unit grid draws one uniform random key from ``numpy.random.default_rng(seed)``, in the
   order of the grid codes, so the same project and seed give the same keys.
2. Strata are the streets (the street part of the grid code).  A street of ``n`` grids gets
   ``min(n, max(min_per_street, ceil(rate * n)))`` grids: those with the smallest keys.
3. Class coverage: for every component class present in the delivery but absent from the grids
   drawn so far, the not-yet-drawn grid with the smallest key among the grids holding that class is
   added (reason ``class:<code>``), so a class with few components is not left out.
4. Every component located (by geometry) in a sampled grid is on the checklist.

All steps are whole-array operations except step 3, which loops over the (few) uncovered classes.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

SAMPLE_LAYER = "acceptance_sample"
ITEMS_TABLE = "acceptance_items"
PLAN_TABLE = "acceptance_plan"


@dataclass
class Plan:
    """A drawn sample: the grids (GeoDataFrame, layer ``acceptance_sample``), the components to
    check (DataFrame, table ``acceptance_items``) and the plan's metadata."""

    grids: object
    items: pd.DataFrame
    meta: dict
    unlocated: int


def components(proj) -> pd.DataFrame:
    """Every component of the project: ObjID, layer key, class code, representative X/Y and geometry."""
    import shapely

    from ..gpkg import list_layers
    from ..locate import COMPONENT_LAYERS
    from ..project import read_layer

    prof = proj.profile
    idf = prof.field("component", "component_id")
    cf = prof.field("component", "class_code")
    spec = prof.codes["component_id"]
    a, _ = spec.span("major")
    _, b = spec.span("minor")
    present = set(list_layers(proj.path))
    frames = []
    for key in COMPONENT_LAYERS:
        if key not in prof.layers or prof.layer(key).table not in present:
            continue
        g = read_layer(proj, key)
        if not len(g):
            continue
        oid = g[idf].astype("string").fillna("").str.strip()
        ok = (oid.str.len() == spec.length) & oid.str.fullmatch(r"[0-9]+").fillna(False)
        cls = oid.str.slice(a, b).where(ok, "")
        if cf and cf in g.columns:
            cls = cls.where(cls != "", g[cf].astype("string").fillna("").str.strip())
        geoms = np.asarray(g.geometry.values, dtype=object)
        rep = shapely.point_on_surface(geoms)
        frames.append(pd.DataFrame({"ObjID": oid.to_numpy(dtype=object), "layer": key,
                                    "class_code": cls.to_numpy(dtype=object),
                                    "X": shapely.get_x(rep), "Y": shapely.get_y(rep), "geometry": geoms}))
    if not frames:
        return pd.DataFrame(columns=["ObjID", "layer", "class_code", "X", "Y", "geometry"])
    return pd.concat(frames, ignore_index=True)


def _check_args(rate, min_per_street) -> tuple[float, int]:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        r = float("nan")
    if not (0 < r <= 1) or math.isnan(r):
        raise SurveyError(Text("抽样比例应在 0 和 1 之间（如 0.1 表示 10%）", "the sampling rate must be in (0, 1] (0.1 = 10 %)"),
                          code="bad_rate", field="rate", value=rate)
    try:
        m = int(min_per_street)
    except (TypeError, ValueError):
        m = -1
    if m < 0:
        raise SurveyError(Text("每个街道的最少抽样网格数应为非负整数", "the minimum grids per street must be a non-negative integer"),
                          code="bad_min_per_street", field="min_per_street", value=min_per_street)
    return r, m


def draw(street: np.ndarray, grid_of_comp: np.ndarray, comp_class: np.ndarray, rate: float, min_per_street: int,
         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sample over grids given in code order: (selected mask, reason per grid).

    ``street``: street code per grid; ``grid_of_comp``: grid index per component (-1: none);
    ``comp_class``: class code per component.
    """
    n = len(street)
    rng = np.random.default_rng(seed)
    keys = rng.random(n)
    su, sidx, scount = np.unique(street.astype(str), return_inverse=True, return_counts=True)
    alloc = np.minimum(scount, np.maximum(min_per_street, np.ceil(rate * scount - 1e-9).astype(np.int64)))
    order = np.lexsort((keys, sidx))
    starts = np.concatenate([[0], np.cumsum(scount)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, scount)
    selected = rank < alloc[sidx]
    reason = np.where(selected, "street", "").astype(object)
    located = grid_of_comp >= 0
    gi, cl = grid_of_comp[located], comp_class[located].astype(str)
    covered = set(np.unique(cl[selected[gi]]).tolist())
    for c in sorted(set(np.unique(cl).tolist()) - covered - {""}):
        if c in covered:
            continue
        cand = np.unique(gi[cl == c])
        cand = cand[~selected[cand]]
        pick = int(cand[np.argmin(keys[cand])])
        selected[pick] = True
        reason[pick] = f"class:{c}"
        covered.update(np.unique(cl[gi == pick]).tolist())
    return selected, reason


def make_plan(proj, rate, min_per_street=1, seed=None) -> Plan:
    import geopandas as gpd

    from ..locate import Locator
    from ..project import read_layer

    rate, min_per_street = _check_args(rate, min_per_street)
    if seed is None or str(seed).strip() == "":
        seed = int(np.random.SeedSequence().entropy % (2 ** 31))
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise SurveyError(Text("随机种子应为整数", "the seed must be an integer"), code="bad_seed", field="seed",
                          value=seed) from None
    prof = proj.profile
    gcode = prof.field("unit_grid", "grid_code")
    grids = read_layer(proj, "unit_grid")
    if not len(grids):
        raise SurveyError(Text("项目中没有单元网格，无法抽样", "the project has no unit grids to sample"), code="no_grids",
                          file=str(proj.path), layer=prof.layer("unit_grid").table)
    grids = grids.assign(_code=grids[gcode].astype("string").fillna("")).sort_values("_code", kind="stable")
    grids = grids.reset_index(drop=True)
    loc = Locator(proj, grids)
    per = {k: np.asarray(v.to_pylist(), dtype=object) for k, v in loc.per_grid.items()}
    street = np.where(pd.isna(per["street_code"]), "", per["street_code"]).astype(object)
    comps = components(proj)
    gi = loc.locate(comps["geometry"].to_numpy(dtype=object)) if len(comps) else np.zeros(0, dtype=np.int64)
    selected, reason = draw(street, gi, comps["class_code"].to_numpy(dtype=object), rate, min_per_street, seed)
    now = _dt.datetime.now().replace(microsecond=0).isoformat()
    codes = grids["_code"].to_numpy(dtype=object)
    plan_id = hashlib.sha256(f"{proj.county}|{seed}|{rate}|{min_per_street}|{'|'.join(codes[selected])}".encode()).hexdigest()[:12]
    in_sample = selected[np.maximum(gi, 0)] & (gi >= 0)
    counts = np.bincount(gi[gi >= 0], minlength=len(grids))
    sel = np.flatnonzero(selected)
    cname = dict(zip(prof.component_classes["code"].astype(str), prof.component_classes["name"]))
    sgrids = gpd.GeoDataFrame({
        "BGID": codes[sel], "street_code": street[sel], "street_name": per["street_name"][sel],
        "community_code": per["community_code"][sel], "community_name": per["community_name"][sel],
        "reason": reason[sel], "components": counts[sel].astype(np.int64), "plan_id": plan_id,
    }, geometry=grids.geometry.values[sel], crs=grids.crs)
    it = comps[in_sample].copy()
    g = gi[in_sample]
    items = pd.DataFrame({"ObjID": it["ObjID"].to_numpy(dtype=object), "layer": it["layer"].to_numpy(dtype=object),
                          "class_code": it["class_code"].to_numpy(dtype=object),
                          "class_name": [cname.get(c, "") for c in it["class_code"]],
                          "BGID": codes[g], "street_code": street[g], "street_name": per["street_name"][g],
                          "X": np.round(it["X"].to_numpy(dtype=float), 3), "Y": np.round(it["Y"].to_numpy(dtype=float), 3)})
    items = items.sort_values(["street_code", "BGID", "class_code", "ObjID"], kind="stable").reset_index(drop=True)
    items.insert(0, "item_no", np.arange(1, len(items) + 1, dtype=np.int64))
    meta = {"plan_id": plan_id, "seed": seed, "rate": rate, "min_per_street": min_per_street, "created": now,
            "grids_total": int(len(grids)), "grids_sampled": int(len(sel)),
            "grids_for_classes": int(sum(str(r).startswith("class:") for r in reason[sel])),
            "streets": int(len(np.unique(street))), "components_total": int(len(comps)),
            "components_sampled": int(len(items)), "classes_total": int(len(set(comps["class_code"]) - {""})),
            "classes_sampled": int(len(set(items["class_code"]) - {""}))}
    return Plan(sgrids, items, meta, int((gi < 0).sum()))


def write_plan(work, plan: Plan) -> None:
    """Write the plan into a project (inside its transaction): the sample layer, the items and plan
    tables, and empty check tables (a new plan voids the checks of the old one)."""
    import pyarrow as pa
    import shapely

    from ..gpkg import write_layer
    from ..project import write_table
    from .record import CHECKS_TABLE, MISSING_TABLE, empty_checks, empty_missing

    g = plan.grids
    cols = {}
    for c in g.columns:
        if c == "geometry":
            continue
        if c == "components":
            cols[c] = pa.array(g[c].to_numpy(dtype=np.int64), pa.int64())
        else:
            cols[c] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in g[c]], pa.string())
    cols["geom"] = pa.array(shapely.to_wkb(np.asarray(g.geometry.values, dtype=object)), pa.binary())
    write_layer(work.path, SAMPLE_LAYER, pa.table(cols), geometry_type="polygon", crs=work.crs,
                description="验收抽样网格 / Acceptance sample grids")
    write_table(work, ITEMS_TABLE, plan.items)
    write_table(work, PLAN_TABLE, pd.DataFrame({"key": list(plan.meta), "value": [str(v) for v in plan.meta.values()]}))
    write_table(work, CHECKS_TABLE, empty_checks())
    write_table(work, MISSING_TABLE, empty_missing())


def read_plan(proj) -> tuple[dict, pd.DataFrame]:
    """(plan metadata, items) of the project's current plan; a clear error when there is none."""
    from .. import store
    from ..gpkg import list_layers

    names = set(list_layers(proj.path))
    if PLAN_TABLE not in names or ITEMS_TABLE not in names:
        raise SurveyError(Text("项目中还没有验收抽样方案；请先运行 surveytools acceptance plan",
                               "the project has no acceptance plan yet; run surveytools acceptance plan first"),
                          code="no_plan", file=str(proj.path), layer=PLAN_TABLE)
    m = store.read_dataframe(proj.path, PLAN_TABLE, read_geometry=False)
    meta = dict(zip(m["key"].astype(str), m["value"].astype(str)))
    items = store.read_dataframe(proj.path, ITEMS_TABLE, read_geometry=False)
    for c in ("X", "Y"):
        items[c] = pd.to_numeric(items[c], errors="coerce")
    items["item_no"] = pd.to_numeric(items["item_no"], errors="coerce").astype(np.int64)
    for c in ("ObjID", "class_code", "class_name", "BGID", "street_code", "street_name", "layer"):
        items[c] = items[c].astype("string").fillna("").astype(object)
    return meta, items


def read_sample_grids(proj):
    from ..project import read_layer

    return read_layer(proj, SAMPLE_LAYER)
