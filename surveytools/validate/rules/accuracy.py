"""Position accuracy (位置精度): check points measured independently against the components.

Per accuracy grade (the class table's ``accuracy`` column: A, B, C), the RMS plane error of the
check points, sqrt(mean(d²)), must not exceed the grade's ``max_error_m`` (profile
``accuracy_grades``).  ``d`` is the distance from the check point to the component's geometry.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...i18n import Text
from ..catalogue import Skip, implements
from . import concat, rows

#: column names tried for the check points' component ID (after the profile's own field name)
ID_COLUMNS = ("component_id", "objid", "id", "部件标识码", "标识码", "glbjbsm")


def checkpoint_id_column(ctx, cp, explicit=None) -> str:
    from ...errors import SurveyError

    if explicit:
        if explicit not in cp.columns:
            raise SurveyError(Text(f"检查点图层没有字段 {explicit}", f"the check point layer has no field {explicit}"),
                              code="no_field", field=explicit)
        return explicit
    own = ctx.field("component", "component_id")
    lower = {str(c).lower(): c for c in cp.columns}
    for cand in (own.lower() if own else None,) + ID_COLUMNS:
        if cand and cand in lower:
            return lower[cand]
    raise SurveyError(Text("检查点图层中找不到部件标识码字段；请用 --checkpoint-id-field 指定",
                           "cannot find the component ID field of the check points; name it with --checkpoint-id-field"),
                      code="no_id_field")


def checkpoint_ids(ctx) -> np.ndarray:
    """The component ID of each check point (stripped text); Skip without check points."""
    cp = ctx.checkpoints
    if cp is None or len(cp) == 0:
        raise Skip(Text("没有给出检查点（--checkpoints）", "no check points were given (--checkpoints)"))
    idcol = ctx.cache.get("checkpoint_id_field") or checkpoint_id_column(ctx, cp)
    return cp[idcol].astype("str").fillna("").str.strip().to_numpy(dtype=object)


COMPONENT_COLUMNS = ["id", "key", "fid", "class", "geom"]


def matched_components(ctx, key, g, wanted: set) -> pd.DataFrame:
    """The components of ``g`` whose ID is one of ``wanted``: ID, layer key, fid, class code and
    geometry, in layer order."""
    ids = ctx.text(key, g, ctx.field("component", "component_id"))
    sel = np.flatnonzero(ids.isin(wanted).to_numpy(dtype=bool))
    return pd.DataFrame({"id": ids.iloc[sel].to_numpy(dtype=object), "key": key, "fid": g["fid"].to_numpy()[sel],
                         "class": ctx.class_codes(key, g)[sel],
                         "geom": np.asarray(g.geometry.values, dtype=object)[sel]}, columns=COMPONENT_COLUMNS)


def accuracy_table(ctx, params, comp: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per check point, per grade, unmatched) frames; cached in the context.  ``comp``: the
    components named by the check points (:func:`matched_components` of every component layer in
    order; by default read from the context's layers)."""
    import shapely

    if "accuracy" in ctx.cache:
        return ctx.cache["accuracy"]
    cp = ctx.checkpoints
    cid = checkpoint_ids(ctx)
    if comp is None:
        wanted = set(cid) - {""}
        frames = [matched_components(ctx, key, g, wanted) for key, g in ctx.components()]
        comp = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPONENT_COLUMNS)
    comp = comp[comp["id"] != ""].drop_duplicates("id")
    cps = pd.DataFrame({"id": cid, "cp": np.arange(len(cp))})
    m = cps.merge(comp, on="id", how="left")
    unmatched = m[m["key"].isna()]
    m = m[m["key"].notna()].reset_index(drop=True)
    geoms = m["geom"].to_numpy(dtype=object)
    cpg = np.asarray(cp.geometry.values, dtype=object)[m["cp"].to_numpy(dtype=np.int64)]
    m["error"] = shapely.distance(cpg, geoms)
    grade = dict(zip(ctx.profile.component_classes["code"], ctx.profile.component_classes["accuracy"]))
    m["grade"] = m["class"].map(grade).fillna("")
    limits = {str(k): float(v.get("max_error_m")) for k, v in ctx.profile.accuracy_grades.items()}
    m["limit"] = m["grade"].map(limits)
    m["cp_geom"] = cpg
    m["comp_geom"] = geoms
    per = m[m["limit"].notna()]
    g = per.groupby("grade").agg(n=("error", "size"), rms=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
                                 max_error=("error", "max"), limit=("limit", "first")).reset_index()
    g["judged"] = g["n"] >= int(params.get("min_points", 3))
    g["passed"] = ~g["judged"] | (g["rms"] <= g["limit"])
    ctx.cache["accuracy"] = (m, g, unmatched)
    return ctx.cache["accuracy"]


@implements("accuracy.rms")
def rms(ctx, params):
    import shapely

    m, g, unmatched = accuracy_table(ctx, params)
    out = []
    bad = g[g["judged"] & ~g["passed"]]
    if len(bad):
        out.append(rows(layer="checkpoints", feature_id=bad["grade"].to_numpy(dtype=object), field="grade",
                        value=np.round(bad["rms"].to_numpy(), 3).astype(str), grade=bad["grade"].to_numpy(dtype=object),
                        n=bad["n"].to_numpy(), rms=np.round(bad["rms"].to_numpy(), 3), limit=bad["limit"].to_numpy(),
                        geometry=None))
    factor = float(params.get("gross_factor", 2.0))
    gross = m[m["limit"].notna() & (m["error"] > factor * m["limit"])]
    if len(gross):
        lines = shapely.shortest_line(gross["cp_geom"].to_numpy(dtype=object), gross["comp_geom"].to_numpy(dtype=object))
        tables = {k: ctx.table_name(k) for k in gross["key"].unique()}
        out.append(rows(layer=gross["key"].map(tables).to_numpy(dtype=object), fid=gross["fid"].to_numpy(),
                        feature_id=gross["id"].to_numpy(dtype=object), value=np.round(gross["error"].to_numpy(), 3).astype(str),
                        error=np.round(gross["error"].to_numpy(), 3), grade=gross["grade"].to_numpy(dtype=object),
                        limit=gross["limit"].to_numpy(), factor=f"{factor:g}", variant="gross", severity="warning",
                        geometry=lines))
    if len(unmatched):
        cpg = np.asarray(ctx.checkpoints.geometry.values, dtype=object)[unmatched["cp"].to_numpy(dtype=np.int64)]
        out.append(rows(layer="checkpoints", fid=unmatched["cp"].to_numpy() + 1, feature_id=unmatched["id"].to_numpy(dtype=object),
                        value=unmatched["id"].to_numpy(dtype=object), variant="unmatched", severity="warning", geometry=cpg))
    return concat(out)


@implements("accuracy.field_gnss", scope="rows")
def field_gnss(ctx, params):
    """Components whose field GNSS accuracy (``field return`` → ``component_accuracy``) is worse
    than their class's grade allows."""
    name = params.get("table", "component_accuracy")
    acc = ctx.table(name)
    if acc is None or not len(acc):
        raise Skip(Text(f"项目中没有外业定位精度表 {name}", f"the project has no field accuracy table {name}"))
    acc = acc.copy()
    acc["h"] = pd.to_numeric(acc["h_accuracy"], errors="coerce")
    acc = acc[acc["h"].notna() & acc["component_id"].notna()]
    if "batch" in acc.columns:
        acc = acc.sort_values("batch", kind="stable")
    latest = acc.drop_duplicates("component_id", keep="last").set_index("component_id")
    grade = dict(zip(ctx.profile.component_classes["code"].astype(str), ctx.profile.component_classes["accuracy"]))
    limits = {str(k): float(v.get("max_error_m")) for k, v in ctx.profile.accuracy_grades.items()}
    idf = ctx.field("component", "component_id")
    out = []
    for key, g in ctx.components():
        ids = ctx.text(key, g, idf)
        h = ids.map(latest["h"]).to_numpy(dtype=float)
        quality = ids.map(latest["fix_quality"] if "fix_quality" in latest.columns else pd.Series(dtype=object))
        cls = pd.Series(ctx.class_codes(key, g), index=g.index).astype(str)
        gr = cls.map(grade).fillna("")
        lim = gr.map(limits).to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isnan(h) & ~np.isnan(lim) & (h > lim))
        if len(bad):
            out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[bad],
                            feature_id=ids.to_numpy(dtype=object)[bad], field=None,
                            value=np.array([f"{v:g}" for v in h[bad]], dtype=object),
                            class_code=cls.to_numpy(dtype=object)[bad], grade=gr.to_numpy(dtype=object)[bad],
                            limit=np.array([f"{v:g}" for v in lim[bad]], dtype=object),
                            quality=quality.fillna("–").to_numpy(dtype=object)[bad],
                            geometry=np.asarray(g.geometry.values, dtype=object)[bad]))
    return concat(out)
