"""Attribute rules (属性): mandatory fields, types and lengths, domains, dates, the department
registry and 统一社会信用代码 check digits."""
from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from ...i18n import Text
from ..catalogue import Skip, implements
from . import concat, geoms_of, rows

#: code fields: their length and characters are checked by codes.format
CODE_ROLES = {"component_id", "grid_code", "event_code"}


def _fields(ctx, key):
    return ctx.profile.layer_fields(ctx.group_of(key))


def _base(ctx, key, g, idx, field, **more):
    return rows(layer=ctx.table_name(key), fid=g["fid"].to_numpy()[idx], feature_id=ctx.feature_ids(key, g)[idx],
                field=field, geometry=geoms_of(g)[idx], **more)


@implements("attributes.mandatory", scope="rows")
def mandatory(ctx, params):
    out = []
    for key in ctx.expand(params.get("layers", [])):
        g = ctx.layer(key)
        if g is None or len(g) == 0:
            continue
        f = _fields(ctx, key)
        for _, row in f[f["constraint"] == "M"].iterrows():
            name = row["name"]
            if name not in g.columns:
                if not ctx.first:  # a later chunk of a layer: reported with its first chunk
                    continue
                out.append(rows(_n=1, layer=ctx.table_name(key), field=name, variant="missing_field", alias=row["alias_zh"],
                                alias_en=row["alias_en"], geometry=None))
                continue
            col = g[name]
            empty = col.isna().to_numpy(dtype=bool).copy()
            if row["type"] == "text" or col.dtype == object or pd.api.types.is_string_dtype(col):
                empty |= (ctx.text(key, g, name) == "").to_numpy(dtype=bool)
            idx = np.flatnonzero(empty)
            if len(idx):
                out.append(_base(ctx, key, g, idx, name, value="", alias=row["alias_zh"], alias_en=row["alias_en"]))
    return concat(out)


@implements("attributes.type_length", scope="rows")
def type_length(ctx, params):
    out = []
    for key in ctx.expand(params.get("layers", [])):
        g = ctx.layer(key)
        if g is None or len(g) == 0:
            continue
        f = _fields(ctx, key)
        for _, row in f.iterrows():
            name = row["name"]
            if name not in g.columns or row["role"] in CODE_ROLES:
                continue
            if row["type"] == "text" and str(row["length"]).strip().isdigit():
                maxlen = int(row["length"])
                lens = ctx.text(key, g, name).str.len().to_numpy()
                idx = np.flatnonzero(lens > maxlen)
                if len(idx):
                    out.append(_base(ctx, key, g, idx, name, value=ctx.text(key, g, name).to_numpy(dtype=object)[idx],
                                     length=lens[idx], max_length=maxlen))
            elif row["type"] in ("integer", "real"):
                col = g[name]
                if pd.api.types.is_numeric_dtype(col):
                    continue
                txt = ctx.text(key, g, name)
                num = pd.to_numeric(txt.where(txt != ""), errors="coerce")
                idx = np.flatnonzero(((txt != "") & num.isna()).to_numpy(dtype=bool))
                if len(idx):
                    out.append(_base(ctx, key, g, idx, name, value=txt.to_numpy(dtype=object)[idx], variant="not_number"))
    return concat(out)


@implements("attributes.domain", scope="rows")
def domain(ctx, params):
    out = []
    for key in ctx.expand(params.get("layers", [])):
        g = ctx.layer(key)
        if g is None or len(g) == 0:
            continue
        f = _fields(ctx, key)
        for _, row in f[f["domain"].astype(str).str.len() > 0].iterrows():
            name, dom = row["name"], row["domain"]
            allowed = ctx.profile.domain(dom)
            if name not in g.columns or not allowed:
                continue
            txt = ctx.text(key, g, name)
            idx = np.flatnonzero(((txt != "") & ~txt.isin(allowed)).to_numpy(dtype=bool))
            if len(idx):
                out.append(_base(ctx, key, g, idx, name, value=txt.to_numpy(dtype=object)[idx], domain=dom,
                                 allowed="、".join(allowed)))
    return concat(out)


def _dates(g, name) -> pd.Series:
    if name is None or name not in g.columns:
        return pd.Series(pd.NaT, index=range(len(g)), dtype="datetime64[ns]")
    s = g[name]
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.reset_index(drop=True)
    if s.dtype == object:  # a date field read from a project: datetime.date values, converted by Arrow
        import pyarrow as pa

        try:
            arr = pa.array(s.to_numpy(dtype=object), from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            arr = None
        if arr is not None and pa.types.is_date32(arr.type):
            ts = arr.cast(pa.timestamp("s")).to_numpy(zero_copy_only=False).astype("datetime64[us]")
            return pd.Series(ts, index=range(len(s)), dtype="datetime64[us]")
    txt = s.astype("str").where(s.notna(), None)
    return pd.to_datetime(txt, errors="coerce", format="mixed").reset_index(drop=True)


@implements("attributes.dates", scope="rows")
def dates(ctx, params):
    out = []
    lo = pd.Timestamp(str(params.get("min_date", "1949-10-01")))
    today = pd.Timestamp(_dt.date.today())
    for key in ctx.expand(params.get("layers", [])):
        g = ctx.layer(key)
        if g is None or len(g) == 0:
            continue
        grp = ctx.group_of(key)
        init_f = ctx.field(grp, "init_date")
        change_f = ctx.field(grp, "change_date") or ctx.field(grp, "end_date")
        d = {}
        for fname in (init_f, change_f):
            if not fname or fname not in g.columns:
                continue
            d[fname] = ts = _dates(g, fname)
            raw = ctx.text(key, g, fname)
            unparsable = ((raw != "") & ts.isna()).to_numpy(dtype=bool)
            bad = np.flatnonzero(unparsable | (ts.notna() & ((ts < lo) | (ts > today))).to_numpy(dtype=bool))
            if len(bad):
                out.append(_base(ctx, key, g, bad, fname, value=raw.to_numpy(dtype=object)[bad], variant="out_of_range",
                                 min_date=lo.date().isoformat()))
        if init_f in d and change_f in d:
            a, b = d[init_f], d[change_f]
            bad = np.flatnonzero((a.notna() & b.notna() & (a > b)).to_numpy(dtype=bool))
            if len(bad):
                ia = a.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)[bad]
                ib = b.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)[bad]
                out.append(_base(ctx, key, g, bad, init_f, value=ia, init=ia, change=ib))
    return concat(out)


def _registry(ctx, params):
    name = params.get("table", "departments")
    reg = ctx.table(name)
    if reg is None:
        raise Skip(Text(f"项目中没有部门名录表 {name}（由部门名录导入生成）",
                        f"the project has no department registry table {name} (built by the department registry import)"))
    cols = {c.lower(): c for c in reg.columns}
    if "name" not in cols or "code" not in cols:
        raise Skip(Text(f"部门名录表 {name} 缺少 name 或 code 列", f"the department registry table {name} lacks a name or code column"))
    names = reg[cols["name"]].fillna("").astype("str").str.strip()
    codes = reg[cols["code"]].fillna("").astype("str").str.strip()
    # a department is named in survey data by its 统一社会信用代码 or by the registry's local code
    # (dept_id): the profile's code fields accept either
    local = reg[cols["dept_id"]].fillna("").astype("str").str.strip() if "dept_id" in cols else None
    return name, names, codes, local


@implements("attributes.department_registry", scope="rows")
def department_registry(ctx, params):
    table, names, codes, local = _registry(ctx, params)
    all_codes = pd.concat([codes, local]) if local is not None else codes
    all_names = pd.concat([names, names]) if local is not None else names
    name_set, code_set = set(names[names != ""]), set(all_codes[all_codes != ""])
    code_to_name = dict(zip(all_codes[all_codes != ""], all_names[all_codes != ""]))
    out = []
    for key, g in ctx.components():
        for k in (1, 2, 3):
            nf, cf = ctx.field("component", f"dept{k}_name"), ctx.field("component", f"dept{k}_code")
            nm = ctx.text(key, g, nf) if nf and nf in g.columns else None
            cd = ctx.text(key, g, cf) if cf and cf in g.columns else None
            if nm is not None:
                idx = np.flatnonzero(((nm != "") & ~nm.isin(name_set)).to_numpy(dtype=bool))
                if len(idx):
                    out.append(_base(ctx, key, g, idx, nf, value=nm.to_numpy(dtype=object)[idx], table=table))
            if cd is not None:
                unknown = ((cd != "") & ~cd.isin(code_set)).to_numpy(dtype=bool)
                idx = np.flatnonzero(unknown)
                if len(idx):
                    out.append(_base(ctx, key, g, idx, cf, value=cd.to_numpy(dtype=object)[idx], table=table, variant="code"))
                if nm is not None:
                    reg_name = cd.map(code_to_name)
                    mism = (~unknown & (cd != "") & (nm != "") & nm.isin(name_set) & (reg_name != nm)).to_numpy(dtype=bool)
                    idx = np.flatnonzero(mism)
                    if len(idx):
                        out.append(_base(ctx, key, g, idx, cf, value=cd.to_numpy(dtype=object)[idx], variant="mismatch",
                                         registry_name=reg_name.to_numpy(dtype=object)[idx],
                                         name=nm.to_numpy(dtype=object)[idx]))
    return concat(out)


@implements("attributes.uscc", scope="rows")
def uscc(ctx, params):
    from ...uscc import uscc_valid

    out = []
    for key, g in ctx.components():
        for k in (1, 2, 3):
            cf = ctx.field("component", f"dept{k}_code")
            if not cf or cf not in g.columns:
                continue
            cd = ctx.text(key, g, cf)
            m = (cd.str.len() == 18).to_numpy(dtype=bool)
            if not m.any():
                continue
            bad = np.zeros(len(g), dtype=bool)
            bad[m] = ~uscc_valid(cd.to_numpy(dtype=object)[m])
            idx = np.flatnonzero(bad)
            if len(idx):
                out.append(_base(ctx, key, g, idx, cf, value=cd.to_numpy(dtype=object)[idx]))
    table = params.get("table", "departments")
    reg = ctx.table(table) if ctx.part != "chunk" else None  # the registry's own codes: once
    if reg is not None:
        cols = {c.lower(): c for c in reg.columns}
        if "code" in cols:
            cd = reg[cols["code"]].fillna("").astype("str").str.strip().reset_index(drop=True)
            m = (cd.str.len() == 18).to_numpy(dtype=bool)
            bad = np.zeros(len(cd), dtype=bool)
            bad[m] = ~uscc_valid(cd.to_numpy(dtype=object)[m])
            idx = np.flatnonzero(bad)
            if len(idx):
                out.append(rows(layer=table, fid=idx + 1, feature_id=cd.to_numpy(dtype=object)[idx], field=cols["code"],
                                value=cd.to_numpy(dtype=object)[idx], geometry=None))
    return concat(out)
