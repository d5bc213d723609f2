"""Assignment (责任单位分配): who owns, maintains and handles every component and event.

Components, for each of the three roles 主管 (competent), 权属 (owner), 养护 (maintainer):

1. **survey attributes**: the role's code field (DeptCode1…3 / ZGBMDM …) matched to a department's
   ``dept_id`` or ``code``, else its name field matched to a department's ``name``;
2. **responsibility areas**: the project's ``responsibility_areas`` polygons (their ``roles``, default
   养护, and ``class_codes``, default every class) and ``responsibility_grids`` with a unit (role 养护)
   holding the component's representative point; several areas: the smallest one wins;
3. **class default**: the lead unit of the dispatch-matrix row that applies (see :mod:`.matrix`);
4. **属地兜底**: the street office of the component's street.

Empty role fields are filled in the component layers (values already there are never changed).  The
component's **lead unit** for a case is its unit for the matrix row's ``lead_role``; co-units and
deadlines come from the row.

Events route by class and place: the matrix row (responsibility area, community, street, county) gives
the lead unit (``@属地`` = the street office); no row: the street office takes it (属地兜底).

Every doubtful case becomes a row of ``responsibility_issues`` (aggregated per rule, class and street).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .common import LOCAL_TOKEN, ROLE_FIELDS, ROLES, blank, issue
from .matrix import effective, lookup
from .registry import street_offices


class Context:
    """Everything assignment needs about the places and units of one project."""

    def __init__(self, proj, depts: pd.DataFrame, matrix: pd.DataFrame):
        from ..project import read_layer

        self.proj = proj
        self.prof = proj.profile
        self.county = proj.county
        self.depts = depts
        self.matrix = effective(matrix)
        self.offices = street_offices(depts)
        self.names = dict(zip(depts["dept_id"], depts["name"]))
        self.codes = dict(zip(depts["dept_id"], depts["code"]))
        cf = lambda role: self.prof.field("community", role)  # noqa: E731
        comms = read_layer(proj, "community")
        self.comm_geoms = np.asarray(comms.geometry.values, dtype=object)
        self.comm_codes = comms[cf("community_code")].astype(str).to_numpy(dtype=object)
        self.comm_street = comms[cf("street_code")].astype(str).to_numpy(dtype=object)
        self.areas = self._areas()

    # ------------------------------------------------------------------------------------------
    def _areas(self) -> pd.DataFrame:
        """Responsibility polygons: area_code, dept_id, roles (set), classes (set), geometry, area."""
        import shapely

        from ..gpkg import list_layers
        from ..project import read_layer

        frames = []
        layers = set(list_layers(self.proj.path))
        key = "responsibility_area"
        if key in self.prof.layers and self.prof.layer(key).table in layers:
            a = read_layer(self.proj, key)
            f = lambda role: self.prof.field(key, role)  # noqa: E731
            if len(a):
                frames.append(pd.DataFrame({
                    "area_code": a[f("area_code")].astype(str), "dept_ref": a[f("dept_id")].astype("string"),
                    "roles": a[f("roles")].astype("string").fillna(""), "classes": a[f("class_codes")].astype("string").fillna(""),
                    "geometry": a.geometry.values, "source": "responsibility_area"}))
        if self.prof.layer("responsibility_grid").table in layers:
            g = read_layer(self.proj, "responsibility_grid")
            f = lambda role: self.prof.field("responsibility_grid", role)  # noqa: E731
            if len(g) and f("dept_code"):
                ref = g[f("dept_code")].astype("string")
                ref = ref.where(~blank(ref), g[f("dept_name")].astype("string"))
                frames.append(pd.DataFrame({"area_code": g[f("grid_code")].astype(str), "dept_ref": ref, "roles": "养护",
                                            "classes": "", "geometry": g.geometry.values, "source": "responsibility_grid"}))
        if not frames:
            return pd.DataFrame(columns=["area_code", "dept_id", "roles", "classes", "geometry", "area", "source"])
        a = pd.concat(frames, ignore_index=True)
        a["dept_id"] = self.resolve(a["dept_ref"])[0]
        a["roles"] = a["roles"].where(a["roles"].str.strip() != "", "养护")
        a["area"] = shapely.area(np.asarray(a["geometry"], dtype=object))
        return a.sort_values(["area", "area_code"], kind="stable").reset_index(drop=True)

    def resolve(self, codes, names=None):
        """(dept_id or NA by code, else by name; by_code; by_name) for arrays of codes and names."""
        d = self.depts
        code_map = {**{str(c).upper(): i for i, c in zip(d["dept_id"], d["code"]) if str(c)},
                    **{str(i).upper(): i for i in d["dept_id"]}}
        name_map = dict(zip(d["name"], d["dept_id"]))
        c = pd.Series(codes).astype("string").str.strip().str.upper()
        by_code = c.map(code_map).astype("string")
        if names is None:
            by_name = pd.Series(codes).astype("string").str.strip().map(name_map).astype("string")
        else:
            by_name = pd.Series(names).astype("string").str.strip().map(name_map).astype("string")
        res = by_code.fillna(by_name).to_numpy(dtype=object)
        return np.where(pd.isna(res), None, res), by_code, by_name

    # ------------------------------------------------------------------------------------------
    def places(self, geoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(representative points, street codes, community codes) of geometries (None where outside)."""
        import shapely

        geoms = np.asarray(geoms, dtype=object)
        pts = shapely.point_on_surface(geoms)
        comm = np.full(len(geoms), None, dtype=object)
        street = np.full(len(geoms), None, dtype=object)
        ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        if ok.any() and len(self.comm_geoms):
            tree = shapely.STRtree(self.comm_geoms)
            fi, ci = tree.query(pts[ok], predicate="intersects")
            if len(fi):
                idx = np.flatnonzero(ok)[fi]
                df = pd.DataFrame({"f": idx, "c": self.comm_codes[ci], "s": self.comm_street[ci]}).sort_values(["f", "c"])
                df = df.drop_duplicates("f")
                comm[df["f"].to_numpy()] = df["c"].to_numpy()
                street[df["f"].to_numpy()] = df["s"].to_numpy()
        return pts, street, comm

    def area_pairs(self, pts, class_codes) -> pd.DataFrame:
        """(t, area index, area_code, dept_id, roles, rank) for every area holding a target's point and
        applying to its class."""
        import shapely

        cols = ["t", "a", "area_code", "dept_id", "roles", "rank"]
        if not len(self.areas) or not len(pts):
            return pd.DataFrame(columns=cols)
        tree = shapely.STRtree(np.asarray(self.areas["geometry"], dtype=object))
        ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        ti, ai = tree.query(pts[ok], predicate="intersects")
        ti = np.flatnonzero(ok)[ti]
        p = pd.DataFrame({"t": ti, "a": ai})
        classes = self.areas["classes"].astype(str).to_numpy()
        restricted = np.flatnonzero(classes != "")
        if len(restricted):
            allowed = pd.DataFrame([(a, c.strip()) for a in restricted for c in classes[a].split("|") if c.strip()],
                                   columns=["a", "cc"])
            cc = np.asarray(class_codes, dtype=object)
            sub = p[np.isin(p["a"], restricted)]
            q = sub.assign(full=cc[sub["t"].to_numpy()].astype(str))
            q = q.assign(major=q["full"].str[:2])
            m1 = q.merge(allowed, left_on=["a", "full"], right_on=["a", "cc"])
            m2 = q.merge(allowed, left_on=["a", "major"], right_on=["a", "cc"])
            keep = pd.concat([m1, m2])[["t", "a"]].drop_duplicates()
            p = pd.concat([p[~np.isin(p["a"], restricted)], keep], ignore_index=True)
        p["area_code"] = self.areas["area_code"].to_numpy()[p["a"].to_numpy()]
        p["dept_id"] = self.areas["dept_id"].to_numpy()[p["a"].to_numpy()]
        p["roles"] = self.areas["roles"].to_numpy()[p["a"].to_numpy()]
        p["rank"] = p["a"]  # areas are sorted smallest first
        return p.sort_values(["t", "rank"], kind="stable").reset_index(drop=True)[cols]

    def matrix_units(self, pos, street) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lead unit, lead role, co-units) of the matrix rows ``pos`` with ``@属地`` resolved through
        ``street`` (None where no row, or the token has no office)."""
        m = self.matrix
        has = pos >= 0
        p = np.where(has, pos, 0)
        lead = np.where(has, m["lead_unit"].to_numpy(dtype=object)[p], None)
        role = np.where(has, m["lead_role"].to_numpy(dtype=object)[p], None)
        cos = np.where(has, m["co_units"].to_numpy(dtype=object)[p], "")
        off = pd.Series(np.asarray(street, dtype=object)).map(self.offices).to_numpy(dtype=object)
        tok = lead == LOCAL_TOKEN
        lead = np.where(tok, off, lead)
        known = pd.Series(lead).isin(self.names.keys()).to_numpy()
        lead = np.where(known, lead, None)
        co = pd.Series(cos, dtype=object).fillna("")
        if (co.str.contains(LOCAL_TOKEN, regex=False)).any():
            rep = [c.replace(LOCAL_TOKEN, o) if (LOCAL_TOKEN in c and isinstance(o, str)) else c for c, o in zip(co, off)]
            co = pd.Series(rep, dtype=object)
        return lead, role, co.to_numpy(dtype=object)


def _agg_issues(rows: pd.DataFrame, rule, severity, problem, zh, en, *, kind, field="", area_type="street") -> list:
    """One issue row per (class, street) of the flagged features in ``rows`` (columns class, street, fid)."""
    out = []
    if not len(rows):
        return out
    g = rows.assign(street=rows["street"].fillna(""), cls=rows["cls"].fillna(""))
    for (cls, street), grp in g.groupby(["cls", "street"], sort=True):
        feats = ",".join(map(str, grp["fid"].head(20)))
        out.append(issue(rule, severity, problem, zh.format(n=len(grp), cls=cls, street=street),
                         en.format(n=len(grp), cls=cls, street=street), kind=kind, class_code=cls,
                         area_type=area_type if street else "", area_code=street, field=field, count=len(grp),
                         features=feats))
    return out


def assign_components(ctx: Context, gdf, layer_key: str, feedback=None):
    """Fill the role fields of one component layer; return (gdf, assignment frame, issue rows).

    Per role (:func:`_assign_role`): the surveyed unit, else the responsibility area's, else the
    matrix's lead unit, else the street office (属地兜底); only empty fields are filled, with the
    kind of code the survey itself uses (:func:`_fill_codes`)."""
    prof = ctx.prof
    f = lambda role: prof.field("component", role)  # noqa: E731
    n = len(gdf)
    cls = gdf[f("class_code")].astype("string") if f("class_code") in gdf.columns else pd.Series([pd.NA] * n, dtype="string")
    oid = gdf[f("component_id")].astype("string") if f("component_id") in gdf.columns else pd.Series([pd.NA] * n, dtype="string")
    cls = cls.where(~blank(cls), oid.str[6:6 + prof.class_code_length]).fillna("").to_numpy(dtype=object)
    fid = np.arange(1, n + 1)
    ident = oid.fillna("").to_numpy(dtype=object)
    label = np.where(ident != "", ident, fid.astype(str).astype(object))
    pts, street, comm = ctx.places(gdf.geometry.values)
    base = pd.DataFrame({"cls": cls, "street": street, "fid": label})
    issues = []
    kind = "component"
    outside = pd.isna(street)
    issues += _agg_issues(base[outside], "RESP-C07", "error", "gap", "{n} 个部件不在任何社区内，无法按属地分配",
                          "{n} components lie in no community; they cannot be routed by place", kind=kind)
    pairs = ctx.area_pairs(pts, cls)
    mpairs = pairs.rename(columns={"rank": "rank"})[["t", "area_code", "rank"]] if len(pairs) else None
    pos = lookup(ctx.matrix, kind, cls, street, comm, ctx.county, mpairs)
    m_lead, m_role, m_co = ctx.matrix_units(pos, street)
    issues += _agg_issues(base[pos < 0], "RESP-C05", "warning", "gap", "类别 {cls} 在派遣矩阵中没有适用的行（{n} 个部件），由属地街道兜底",
                          "class {cls} has no applicable matrix row ({n} components); the street office takes them",
                          kind=kind, field="class_code")
    office = pd.Series(street, dtype=object).map(ctx.offices).to_numpy(dtype=object)
    final, source = {}, {}
    code_style_votes = [0, 0]
    out = gdf.copy()
    for role in ROLES:
        issues += _assign_role(ctx, gdf, out, role, base, pairs, m_lead, office, code_style_votes, final, source)
    _fill_codes(ctx, out, final, code_style_votes, f)
    fallback = np.zeros(n, dtype=bool)
    for role in ROLES:
        fallback |= source[role] == "fallback"
    issues += _agg_issues(base[fallback], "RESP-C06", "info", "gap",
                          "{n} 个部件的部分角色由属地街道兜底（类别 {cls}）",
                          "{n} components have roles taken by the street office (属地兜底) (class {cls})", kind=kind)
    role_arr = np.where(pd.notna(m_role) & np.isin(m_role.astype(str), ROLES), m_role, "养护")
    lead = np.select([role_arr == r for r in ROLES], [final[r] for r in ROLES], default=None)
    lead_src = np.select([role_arr == r for r in ROLES], [source[r] for r in ROLES], default="none")
    lead = np.where(pd.isna(lead), office, lead)
    rows = _assignment_frame(ctx, kind, layer_key, label, cls, street, comm, lead, lead_src, m_co, pos,
                             {r: (final[r], source[r]) for r in ROLES})
    return out, rows, issues


def _assign_role(ctx: Context, gdf, out, role: str, base, pairs, m_lead, office, code_style_votes, final, source) -> list:
    """One role's unit for every component (``final[role]``, ``source[role]``, ``final[role +
    "_fill"]``), the empty fields of ``out`` filled; returns the issue rows (unknown units, code and
    name at odds, overlapping areas, survey and area at odds)."""
    prof = ctx.prof
    f = lambda role: prof.field("component", role)  # noqa: E731
    n = len(gdf)
    kind = "component"
    issues = []
    cfield, nfield = f(f"{ROLE_FIELDS[role]}_code"), f(f"{ROLE_FIELDS[role]}_name")
    codes = gdf[cfield] if cfield in gdf.columns else pd.Series([pd.NA] * n)
    names = gdf[nfield] if nfield in gdf.columns else pd.Series([pd.NA] * n)
    attr, by_code, by_name = ctx.resolve(codes.to_numpy(dtype=object), names.to_numpy(dtype=object))
    has_attr = (~blank(codes.reset_index(drop=True)) | ~blank(names.reset_index(drop=True))).to_numpy()
    cu = pd.Series(codes.to_numpy(dtype=object)).astype("string").str.strip().str.upper()
    code_style_votes[0] += int(cu.isin([str(i).upper() for i in ctx.depts["dept_id"]]).sum())
    code_style_votes[1] += int(cu.isin([str(c).upper() for c in ctx.depts["code"] if str(c)]).sum())
    unknown = has_attr & pd.isna(attr)
    issues += _agg_issues(base[unknown], "RESP-C01", "warning", "gap",
                          f"{{n}} 个部件的{role}单位不在部门表中（类别 {{cls}}）",
                          f"{{n}} components name a {role} unit that is not in the registry (class {{cls}})",
                          kind=kind, field=cfield)
    mism = (by_code.notna() & by_name.notna() & (by_code != by_name)).fillna(False).to_numpy()
    issues += _agg_issues(base[mism], "RESP-C02", "warning", "conflict",
                          f"{{n}} 个部件的{role}单位代码与名称指向不同的部门（类别 {{cls}}），以代码为准",
                          f"{{n}} components: the {role} unit's code and name point at different departments (class {{cls}}); the code wins",
                          kind=kind, field=cfield)
    # responsibility areas taking this role
    area = np.full(n, None, dtype=object)
    if len(pairs):
        pr = pairs[pairs["roles"].astype(str).str.contains(role) & pairs["dept_id"].notna()]
        if len(pr):
            first = pr.drop_duplicates("t", keep="first")
            area[first["t"].to_numpy()] = first["dept_id"].to_numpy()
            nd = pr.groupby("t")["dept_id"].nunique()
            clash = np.zeros(n, dtype=bool)
            clash[nd.index[nd > 1].to_numpy()] = True
            issues += _agg_issues(base[clash], "RESP-C03", "warning", "conflict",
                                  f"{{n}} 个部件位于多个责任区域内且{role}单位不同（类别 {{cls}}），取面积最小的区域",
                                  f"{{n}} components lie in overlapping responsibility areas with different {role} units "
                                  "(class {cls}); the smallest area wins", kind=kind, area_type="responsibility_area")
    differ = pd.notna(attr) & pd.notna(area) & (attr != area)
    issues += _agg_issues(base[differ], "RESP-C04", "info", "conflict",
                          f"{{n}} 个部件的{role}单位（调查属性）与所在责任区域的单位不同（类别 {{cls}}），保留调查属性",
                          f"{{n}} components: the surveyed {role} unit differs from the responsibility area's unit "
                          "(class {cls}); the survey value is kept", kind=kind, field=cfield)
    fin = np.where(pd.notna(attr), attr, np.where(pd.notna(area), area, np.where(pd.notna(m_lead), m_lead, office)))
    src = np.where(pd.notna(attr), "attribute", np.where(pd.notna(area), "area", np.where(pd.notna(m_lead), "matrix",
                                                                                      np.where(pd.notna(office), "fallback", "none"))))
    final[role], source[role] = fin, src
    # fill empty fields (both code and name empty) only
    fill = ~has_attr & pd.notna(fin)
    if fill.any():
        out[cfield] = codes.astype(object).to_numpy()
        out[nfield] = names.astype(object).to_numpy()
        ids = fin[fill]
        out.loc[out.index[fill], nfield] = [ctx.names.get(i) for i in ids]
        out.loc[out.index[fill], cfield] = ids  # replaced below once the code style is known
    final[role + "_fill"] = fill
    return issues


def _fill_codes(ctx: Context, out, final, code_style_votes, f) -> None:
    """Filled code fields get the kind of code the survey uses (dept_id or credit code)."""
    use_code = code_style_votes[1] > code_style_votes[0] or (sum(code_style_votes) == 0 and
                                                           (ctx.depts["code"].astype(str) != "").mean() > 0.5)
    if use_code:
        for role in ROLES:
            fill = final[role + "_fill"]
            if fill.any():
                cfield = f(f"{ROLE_FIELDS[role]}_code")
                ids = final[role][fill]
                out.loc[out.index[fill], cfield] = [ctx.codes.get(i) or i for i in ids]


def assign_events(ctx: Context, gdf):
    """Route the project's events; return (gdf with dept fields filled where the profile has them,
    assignment frame, issue rows)."""
    prof = ctx.prof
    f = lambda role: prof.field("event", role)  # noqa: E731
    n = len(gdf)
    cls = gdf[f("class_code")].astype("string").fillna("").to_numpy(dtype=object) if f("class_code") in gdf.columns \
        else np.full(n, "", dtype=object)
    eid = gdf[f("event_id")].astype("string").fillna("").to_numpy(dtype=object) if f("event_id") in gdf.columns \
        else np.full(n, "", dtype=object)
    fid = np.arange(1, n + 1)
    label = np.where(eid != "", eid, fid.astype(str).astype(object))
    pts, street, comm = ctx.places(gdf.geometry.values)
    base = pd.DataFrame({"cls": cls, "street": street, "fid": label})
    issues = _agg_issues(base[pd.isna(street)], "RESP-E02", "error", "gap", "{n} 个事件不在任何社区内，无法派遣",
                         "{n} events lie in no community; they cannot be dispatched", kind="event")
    pairs = ctx.area_pairs(pts, cls)
    pos = lookup(ctx.matrix, "event", cls, street, comm, ctx.county, pairs[["t", "area_code", "rank"]] if len(pairs) else None)
    lead, _, co = ctx.matrix_units(pos, street)
    office = pd.Series(street, dtype=object).map(ctx.offices).to_numpy(dtype=object)
    src = np.where(pd.notna(lead), "matrix", np.where(pd.notna(office), "fallback", "none"))
    issues += _agg_issues(base[pos < 0], "RESP-E01", "warning", "gap", "事件类别 {cls} 在派遣矩阵中没有适用的行（{n} 个事件），由属地街道兜底",
                          "event class {cls} has no applicable matrix row ({n} events); the street office takes them",
                          kind="event", field="class_code")
    lead = np.where(pd.notna(lead), lead, office)
    out = gdf.copy()
    cfield, nfield = f("dept1_code"), f("dept1_name")
    if cfield and nfield and cfield in out.columns:
        empty = (blank(out[cfield].reset_index(drop=True)) & blank(out[nfield].reset_index(drop=True))).to_numpy() & pd.notna(lead)
        if empty.any():
            out[cfield] = out[cfield].astype(object)
            out[nfield] = out[nfield].astype(object)
            out.loc[out.index[empty], cfield] = [ctx.codes.get(i) or i for i in lead[empty]]
            out.loc[out.index[empty], nfield] = [ctx.names.get(i) for i in lead[empty]]
    rows = _assignment_frame(ctx, "event", "event", label, cls, street, comm, lead, src, co, pos, {})
    return out, rows, issues


def _assignment_frame(ctx, kind, layer, label, cls, street, comm, lead, lead_src, co, pos, roles) -> pd.DataFrame:
    m = ctx.matrix
    has = pos >= 0
    p = np.where(has, pos, 0)
    names = ctx.names
    co = pd.Series(co, dtype=object).fillna("")
    lead_s = pd.Series(lead, dtype=object)
    co = pd.Series([("|".join(u for u in c.split("|") if u and u != lead) if c else "") for c, lead in zip(co, lead_s)], dtype=object)
    df = pd.DataFrame({
        "kind": kind, "layer": layer, "feature_id": label, "class_code": cls, "street_code": street,
        "community_code": comm,
    })
    for r in ROLES:
        fin, src = roles.get(r, (np.full(len(label), None, dtype=object), np.full(len(label), "", dtype=object)))
        df[f"{ROLE_FIELDS[r]}_id"] = fin
        df[f"{ROLE_FIELDS[r]}_source"] = src
    df["lead_unit"] = lead_s.to_numpy(dtype=object)
    df["lead_unit_name"] = lead_s.map(names).to_numpy(dtype=object)
    df["lead_source"] = lead_src
    df["co_units"] = co.to_numpy(dtype=object)
    df["co_unit_names"] = ["|".join(names.get(u, u) for u in c.split("|")) if c else "" for c in co]
    for c in ("deadline_urgent", "deadline_normal"):
        df[c] = np.where(has, m[c].to_numpy(dtype="float64")[p], np.nan)
    df["deadline_unit"] = np.where(has, m["deadline_unit"].to_numpy(dtype=object)[p], None)
    df["matrix_class"] = np.where(has, m["class_code"].to_numpy(dtype=object)[p], None)
    df["matrix_area_type"] = np.where(has, m["area_type"].to_numpy(dtype=object)[p], None)
    df["matrix_area_code"] = np.where(has, m["area_code"].to_numpy(dtype=object)[p], None)
    return df


__all__ = ["Context", "assign_components", "assign_events"]
