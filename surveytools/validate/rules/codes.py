"""Code rules (编码): format and length, duplicates (重号), missing serials (漏号), wrong prefixes
(错号) and class codes missing from the profile."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...i18n import Text
from ..catalogue import Skip, implements
from . import concat, geoms_of, rows

#: check_codes reasons left to other rules (empty: attributes.mandatory)
_ELSEWHERE = {"prefix_mismatch", "class_unknown", "empty"}


def _code_layers(ctx, kinds):
    """(kind, layer key, frame, code column name) for the listed code kinds."""
    for kind in kinds:
        if kind == "component_id":
            name = ctx.field("component", "component_id")
            for key, g in ctx.components():
                yield kind, key, g, name
        elif kind == "unit_grid" and ctx.expand(["unit_grid"]):
            g = ctx.layer("unit_grid")
            if g is not None and len(g):
                yield kind, "unit_grid", g, ctx.field("unit_grid", "grid_code")


def _issues(ctx, kind, key, g, name):
    from ...codes import check_codes

    ck = ("issues", key, kind)
    if ck not in ctx.cache:
        codes = ctx.text(key, g, name)
        ctx.cache[ck] = check_codes(kind, codes, ctx.profile, admin=True)
    return ctx.cache[ck]


def _well_formed(ctx, kind, key, g, name) -> np.ndarray:
    """Mask of codes with no error-severity format issue."""
    iss = _issues(ctx, kind, key, g, name)
    bad = iss.loc[(iss["severity"] == "error") & ~iss["reason"].isin(["prefix_mismatch", "class_unknown"]), "index"]
    ok = np.ones(len(g), dtype=bool)
    ok[np.asarray(bad, dtype=np.int64)] = False
    return ok


@implements("codes.format", scope="rows")
def code_format(ctx, params):
    out = []
    for kind, key, g, name in _code_layers(ctx, params.get("kinds", [])):
        iss = _issues(ctx, kind, key, g, name)
        iss = iss[~iss["reason"].isin(_ELSEWHERE)]
        if iss.empty:
            continue
        i = iss["index"].to_numpy(dtype=np.int64)
        out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[i], feature_id=ctx.feature_ids(key, g)[i],
                        field=name, value=ctx.text(key, g, name).to_numpy(dtype=object)[i],
                        geometry=geoms_of(g)[i], severity=iss["severity"].to_numpy(dtype=object),
                        detail_zh=iss["message_zh"].to_numpy(dtype=object),
                        detail_en=iss["message_en"].to_numpy(dtype=object)))
    return concat(out)


@implements("codes.duplicate")
def duplicate_codes(ctx, params):
    out = []
    for kind in params.get("kinds", []):
        parts = [(key, ctx.text(key, g, name), g["fid"].to_numpy(), _geoms_at(g), name)
                 for k, key, g, name in _code_layers(ctx, [kind])]
        out.append(duplicate_rows(ctx, parts))
    return concat(out)


def _geoms_at(g):
    return lambda pos: geoms_of(g)[pos]


def duplicate_rows(ctx, parts):
    """Rows of the codes that occur more than once among ``parts``: ``[(layer key, stripped codes
    (Series), fids, geometries at positions (function), field name)]`` (whole layers, or the
    compact columns of chunked ones)."""
    if not parts:
        return None
    code = pd.concat([p[1] for p in parts], ignore_index=True)
    src = np.concatenate([np.full(len(p[1]), j) for j, p in enumerate(parts)])
    pos = np.concatenate([np.arange(len(p[1])) for p in parts])
    fids = np.concatenate([np.asarray(p[2]) for p in parts])
    dup = (code != "") & code.duplicated(keep=False)
    if not dup.any():
        return None
    d = np.flatnonzero(dup.to_numpy())
    c = code.iloc[d].to_numpy(dtype=object)
    df = pd.DataFrame({"code": c, "fid": fids[d], "src": src[d], "pos": pos[d]})
    df["layer"] = [ctx.table_name(parts[s][0]) for s in df["src"]]
    tag = df["layer"] + ":" + df["fid"].astype(str)
    grp = tag.groupby(df["code"]).agg(lambda t: ",".join(t))
    cnt = df.groupby("code").size()
    df["others"] = df["code"].map(grp)
    df["count"] = df["code"].map(cnt)
    geoms = np.empty(len(df), dtype=object)
    for j, p in enumerate(parts):
        m = (df["src"] == j).to_numpy()
        if m.any():
            geoms[m] = p[3](df["pos"].to_numpy()[m])
    return rows(layer=df["layer"], fid=df["fid"].to_numpy(), feature_id=df["code"], value=df["code"],
                field=parts[0][4], geometry=geoms, count=df["count"].to_numpy(), others=df["others"])


@implements("codes.missing_serial")
def missing_serial(ctx, params):
    out = []
    for kind in params.get("kinds", []):
        parts = [(key, ctx.text(key, g, name)[_well_formed(ctx, kind, key, g, name)], name)
                 for _, key, g, name in _code_layers(ctx, [kind])]
        out.append(missing_serial_rows(ctx, kind, parts, int(params.get("max_listed", 1000))))
    return concat(out)


def missing_serial_rows(ctx, kind, parts, limit):
    """Rows of the serial gaps among the well-formed codes of ``parts``: ``[(layer key, codes
    (Series), field name)]``."""
    spec = ctx.profile.codes[kind]
    a, b = spec.span("serial")
    if not parts:
        return None
    codes = pd.concat([p[1] for p in parts], ignore_index=True)
    codes = codes[codes.str.slice(a, b).str.fullmatch(r"[0-9]+").fillna(False)]
    if codes.empty:
        return None
    df = pd.DataFrame({"prefix": (codes.str.slice(0, a) + codes.str.slice(b)).to_numpy(dtype=object),
                       "serial": codes.str.slice(a, b).astype("int64").to_numpy()})
    df = df.drop_duplicates().sort_values(["prefix", "serial"])
    prev = df.groupby("prefix")["serial"].shift(fill_value=0).to_numpy()
    gap = (df["serial"].to_numpy() - prev) > 1
    if not gap.any():
        return None
    w = b - a
    st, en, pf = prev[gap] + 1, df["serial"].to_numpy()[gap] - 1, df["prefix"].to_numpy()[gap]
    st, en, pf = st[:limit], en[:limit], pf[:limit]
    full = [p[:a] + f"{x:0{w}d}" + p[a:] for p, x in zip(pf, st)]
    fulle = [p[:a] + f"{x:0{w}d}" + p[a:] for p, x in zip(pf, en)]
    rng = [f if s == e else f"{f}–{g}" for f, g, s, e in zip(full, fulle, st, en)]
    layer = ctx.table_name(parts[0][0]) if kind == "unit_grid" else "components"
    return rows(layer=layer, feature_id=pf, field=parts[0][2], value=rng, prefix=pf, range=rng,
                count=(en - st + 1), geometry=None)


@implements("codes.county_prefix", scope="rows")
def county_prefix(ctx, params):
    out = []
    for kind, key, g, name in _code_layers(ctx, params.get("kinds", [])):
        a, b = ctx.profile.codes[kind].span("county")
        code = ctx.text(key, g, name)
        ok = _well_formed(ctx, kind, key, g, name)
        county = code.str.slice(a, b).to_numpy(dtype=object)
        bad = np.flatnonzero(ok & (county != ctx.county))
        if len(bad):
            out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[bad], feature_id=ctx.feature_ids(key, g)[bad],
                            field=name, value=code.to_numpy(dtype=object)[bad], actual=county[bad], expected=ctx.county,
                            geometry=geoms_of(g)[bad]))
    return concat(out)


@implements("codes.class_unknown", scope="rows")
def class_unknown(ctx, params):
    known = set(ctx.profile.component_classes["code"])
    out = []
    idf = ctx.field("component", "component_id")
    cf = ctx.field("component", "class_code")
    spec = ctx.profile.codes["component_id"]
    a, _ = spec.span("major")
    _, b = spec.span("minor")
    for key, g in ctx.components():
        cid = ctx.text(key, g, idf)
        from_id = ((cid.str.len() == spec.length) & cid.str.fullmatch(r"[0-9]+").fillna(False)).to_numpy(dtype=bool)
        cls_id = cid.str.slice(a, b).to_numpy(dtype=object)
        bad = np.flatnonzero(from_id & ~pd.Series(cls_id).isin(known).to_numpy())
        if len(bad):
            out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[bad], feature_id=ctx.feature_ids(key, g)[bad],
                            field=idf, value=cid.to_numpy(dtype=object)[bad], class_code=cls_id[bad],
                            profile=ctx.profile.id, geometry=geoms_of(g)[bad]))
        if cf and cf in g.columns:
            cc = ctx.text(key, g, cf)
            bad = np.flatnonzero(((cc != "") & ~cc.isin(known)).to_numpy(dtype=bool))
            if len(bad):
                out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[bad],
                                feature_id=ctx.feature_ids(key, g)[bad], field=cf, value=cc.to_numpy(dtype=object)[bad],
                                class_code=cc.to_numpy(dtype=object)[bad], profile=ctx.profile.id,
                                geometry=geoms_of(g)[bad]))
    return concat(out)


@implements("codes.grid_reference", scope="rows")
def grid_reference(ctx, params):
    grids = ctx.grids()
    if grids is None:
        raise Skip(Text("项目中没有单元网格", "the project holds no unit grids"))
    codes = set(grids[0])
    out = []
    gf = ctx.field("component", "grid_code")
    for key, g in ctx.components():
        bg = ctx.text(key, g, gf)
        bad = np.flatnonzero(((bg != "") & ~bg.isin(codes)).to_numpy(dtype=bool))
        if len(bad):
            out.append(rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[bad], feature_id=ctx.feature_ids(key, g)[bad],
                            field=gf, value=bg.to_numpy(dtype=object)[bad], geometry=geoms_of(g)[bad]))
    return concat(out)


def community_of(ctx, geoms) -> np.ndarray:
    """Code of the community holding each geometry's interior point ("" when none)."""
    import shapely

    comms = ctx.layer("community")
    out = np.full(len(geoms), "", dtype=object)
    if comms is None or len(comms) == 0 or len(geoms) == 0:
        return out
    ccode = ctx.text("community", comms, ctx.field("community", "community_code")).to_numpy(dtype=object)
    pts = shapely.point_on_surface(geoms)
    tree = shapely.STRtree(geoms_of(comms))
    fi, ci = tree.query(pts, predicate="within")
    first = pd.Series(ci).groupby(fi).first()
    out[first.index.to_numpy()] = ccode[first.to_numpy()]
    return out


@implements("codes.grid_community_prefix", scope="rest")
def grid_community_prefix(ctx, params):
    grids = ctx.layer("unit_grid")
    comms = ctx.layer("community")
    if grids is None or len(grids) == 0 or comms is None or len(comms) == 0:
        raise Skip(Text("项目中没有单元网格或社区", "the project holds no unit grids or no communities"))
    spec = ctx.profile.codes["unit_grid"]
    plen = spec.length - spec.part_length("serial")
    name = ctx.field("unit_grid", "grid_code")
    code = ctx.text("unit_grid", grids, name)
    ok = _well_formed(ctx, "unit_grid", "unit_grid", grids, name)
    comm = community_of(ctx, geoms_of(grids))
    pref = code.str.slice(0, plen).to_numpy(dtype=object)
    bad = np.flatnonzero(ok & (comm != "") & (pref != comm))
    if not len(bad):
        return concat([])
    return rows(layer=ctx.table_name("unit_grid"), fid=grids["fid"].to_numpy()[bad], feature_id=code.to_numpy(dtype=object)[bad],
                field=name, value=code.to_numpy(dtype=object)[bad], community=comm[bad], geometry=geoms_of(grids)[bad])


@implements("codes.community_street", scope="rest")
def community_street(ctx, params):
    from ...admin import divisions

    comms = ctx.layer("community")
    if comms is None or len(comms) == 0:
        raise Skip(Text("项目中没有社区", "the project holds no communities"))
    name = ctx.field("community", "community_code")
    code = ctx.text("community", comms, name).to_numpy(dtype=object)
    street = np.array([c[:9] if isinstance(c, str) and len(c) == 12 and c.isdigit() else "" for c in code], dtype=object)
    d = divisions()
    known = {s: d.street(s) is not None for s in set(street) if s}
    streets = ctx.layer("street")
    in_layer = None
    if streets is not None and len(streets):
        sname = ctx.field("street", "street_code")
        in_layer = set(ctx.text("street", streets, sname).tolist())
    zh, en, bad = [], [], []
    for i, s in enumerate(street):
        if not s:
            continue  # malformed community codes are left to codes.format
        nbs = known[s]
        lay = in_layer is None or s in in_layer
        if nbs and lay:
            continue
        bad.append(i)
        parts_zh, parts_en = [], []
        if not nbs:
            parts_zh.append("不在国家统计局 2023 年区划代码表中（新设街道，或社区代码有误）")
            parts_en.append("is not in the NBS 2023 division table (a new street, or a mistyped community code)")
        if not lay:
            parts_zh.append("在街道图层中不存在")
            parts_en.append("is not in the street layer")
        zh.append("，且".join(parts_zh))
        en.append(", and ".join(parts_en))
    if not bad:
        return concat([])
    bad = np.asarray(bad)
    return rows(layer=ctx.table_name("community"), fid=comms["fid"].to_numpy()[bad], feature_id=code[bad], field=name,
                value=street[bad], detail_zh=zh, detail_en=en, geometry=geoms_of(comms)[bad])
