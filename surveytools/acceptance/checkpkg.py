"""The check package (检查包) of an acceptance: the field package of the sampled grids in the
``check`` mode, and reading it back (``acceptance record PROJECT PACKAGE``).

What the checker does with QField (docs/acceptance.md, "check package"):

* every sampled component is in the package with its delivered attributes and geometry, both
  locked (QField's geometry, addition and deletion locks; the profile fields read-only); its form
  adds 检查结果 (a value map: 正确 / 属性错误 / 位置错误 / 多余), 偏差米 (≥ 0), 备注, the checker
  (``@surveyor``) and the time (``now()``), plus the plan's item number (read-only);
* where the checker measures the true position, a point is added to ``check_points`` from the
  component's form (a child of the component through the relation ``check_points.feature_uuid``
  → ``uuid``) at the GNSS position, or moved there; on return the offset is the distance from the
  last such point to the delivered geometry (to the point, the line, or the polygon's outline),
  which replaces a typed 偏差米;
* a component found in the field but absent from the delivery is a point in ``check_missing``
  (遗漏部件: 类别代码 as a value relation on the class dictionary, 备注).

Reading validates everything first (the package's project and plan, unknown or added components,
changed item numbers or delivered fields, results outside the list, negative offsets, offsets or
points without a result, points of a superfluous component, points without a geometry, unknown
class codes) and raises one error listing every problem; nothing is read half.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

CHECK_AREA = "check"


class CheckScope:
    """What a check-mode package holds: the sampled grids and the plan's items.

    ``grids``: the sample (GeoDataFrame with ``BGID``); ``items``: the plan's items (``item_no``,
    ``ObjID``, ``layer``, ``X``, ``Y``: the representative point of the component)."""

    def __init__(self, plan_id: str, grids, items: pd.DataFrame, name: str = ""):
        self.plan_id = str(plan_id)
        self.grids = grids
        self.items = items
        self.n_items = len(items)
        self.name = name or f"验收抽样 {self.plan_id}"
        self._by_key: dict = {}
        for layer, oid, x, y, no in zip(items["layer"].astype(str), items["ObjID"].astype(str), items["X"].astype(float),
                                        items["Y"].astype(float), items["item_no"].astype(int)):
            self._by_key.setdefault((layer, oid, round(x, 3), round(y, 3)), []).append(int(no))

    def area(self) -> dict:
        import shapely

        geoms = np.asarray(self.grids.geometry.values, dtype=object)
        return {"code": CHECK_AREA, "name": self.name, "grids": set(self.grids["BGID"].astype(str)),
                "geom": shapely.union_all(geoms) if len(geoms) else None}

    def items_of(self, layer: str, ids: list, geoms) -> np.ndarray:
        """The plan's item number of each component of ``layer`` (0: not sampled), matched by ID
        and representative point (so two components sharing an ID are told apart)."""
        import shapely

        n = len(ids)
        out = np.zeros(n, dtype=np.int64)
        if not n:
            return out
        geoms = np.asarray(geoms, dtype=object)
        ok = np.array([g is not None for g in geoms], dtype=bool)
        xs = np.full(n, np.nan)
        ys = np.full(n, np.nan)
        if ok.any():
            rep = shapely.point_on_surface(geoms[ok])
            xs[ok] = np.round(shapely.get_x(rep), 3)
            ys[ok] = np.round(shapely.get_y(rep), 3)
        left = {k: list(v) for k, v in self._by_key.items()}
        for i in range(n):
            hit = left.get((layer, "" if ids[i] is None else str(ids[i]), float(xs[i]), float(ys[i])))
            if hit:
                out[i] = hit.pop(0)
        return out

    def write_layers(self, gpkg, crs) -> None:
        """The empty ``check_points`` and ``check_missing`` layers of the package."""
        import pyarrow as pa

        from ..field import common as C
        from ..gpkg import ARROW_TYPES, write_layer

        for name, (geometry, columns, zh, en) in C.CHECK_LAYERS.items():
            cols = {c: pa.array([], ARROW_TYPES[t]) for c, (t, _z, _e) in columns.items()}
            cols["geom"] = pa.array([], pa.binary())
            write_layer(gpkg, name, pa.table(cols), geometry_type=geometry, crs=crs, description=f"{zh} / {en}")


# ----------------------------------------------------------------------------------------------
# reading a returned check package


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()) or v is pd.NA


def _s(v) -> str:
    return "" if _blank(v) else str(v).strip()


def read_package(path, proj, items: pd.DataFrame, meta: dict):
    """Read and validate a returned check package (folder or ZIP) against the project's plan;
    returns :class:`~surveytools.acceptance.checklist.CheckRecords` or raises one error."""
    from ..field.returns import open_package

    with tempfile.TemporaryDirectory(prefix="st-check-") as tmp:
        pkg = open_package(path, Path(tmp))
        return _read(Path(path), pkg, proj, items, meta)


def _layer(gpkg, table):
    """(attributes with ``fid`` as Arrow, shapely geometries) of a package layer."""
    import pyogrio
    import shapely

    meta, tab = pyogrio.read_arrow(str(gpkg), layer=table, return_fids=True)
    gname = meta.get("geometry_name") or "geom"
    geoms = np.full(tab.num_rows, None, dtype=object)
    if gname in tab.column_names:
        geoms = np.asarray(shapely.from_wkb(np.asarray(tab.column(gname).to_pylist(), dtype=object)), dtype=object)
        tab = tab.drop([gname])
    return tab, geoms


def _read(path, pkg, proj, items, meta):
    import shapely

    from ..field import common as C
    from .checklist import CheckRecords, _error, problem

    man = pkg.manifest
    if man.get("mode") != "check":
        raise SurveyError(Text("这是普查外业包，不是验收检查包；普查外业包请用 surveytools field return 回收",
                               "this is a survey package, not an acceptance check package; return survey packages with "
                               "surveytools field return"), code="not_check_package", file=str(path), field="mode",
                          value=man.get("mode"))
    pid = proj.meta.get("project_id") or ""
    if man.get("project_id") != pid:
        raise SurveyError(Text("检查包属于另一个项目（project_id 不同）", "the check package belongs to another project "
                               "(project_id differs)"), code="project_mismatch", file=str(path), field="project_id",
                          value=man.get("project_id"))
    plan_id = str((man.get("check") or {}).get("plan_id") or pkg.meta.get("plan_id") or "")
    if plan_id and meta.get("plan_id") and plan_id != meta.get("plan_id"):  # before its features: their problems would follow
        from .checklist import plan_mismatch

        raise plan_mismatch(path, plan_id, "layer")
    problems: list = []
    ids_of_item = dict(zip(items["item_no"].astype(int), items["ObjID"].astype(str)))
    prof = proj.profile
    checks, unchecked = [], 0
    geom_of: dict = {}      # feature uuid -> (layer table, fid, delivered geometry, item)
    result_of: dict = {}    # feature uuid -> index into checks (or None: no result)
    for key, lay in man["layers"].items():
        table = lay["table"]
        feats = lay.get("features") or {}
        tab, geoms = _layer(pkg.gpkg, table)
        hashes = C.feature_hashes(tab, geoms, C.hashed_fields(prof, key))
        col = {n: tab.column(n).to_pylist() if n in tab.column_names else [None] * tab.num_rows
               for n in ("fid", C.UUID, "item_no", "check_result", "offset_m", "check_note")}
        present = set()
        for k in range(tab.num_rows):
            r = {n: v[k] for n, v in col.items()}
            fid = r["fid"]
            u = _s(r.get(C.UUID))
            if u not in feats:
                problems.append(problem(table, int(fid), C.UUID, u or None,
                                        Text("检查包中新增了部件；现场发现的遗漏部件请记在“遗漏部件”图层",
                                             "a component was added to the check package; record components found in "
                                             "the field in the 遗漏部件 (check_missing) layer")))
                continue
            present.add(u)
            f = feats[u]
            item = f.get("item_no")
            got = r.get("item_no")
            if _blank(got) or int(got) != int(item):
                problems.append(problem(table, int(fid), "item_no", None if _blank(got) else got,
                                        Text(f"序号被修改（应为 {item}）", f"the item number was changed (it is {item})")))
                continue
            if int(item) not in ids_of_item:
                problems.append(problem(table, int(fid), "item_no", item,
                                        Text("序号不属于当前抽样方案", "the item number is not in the current plan")))
                continue
            if hashes[k] != f.get("hash"):
                problems.append(problem(table, int(fid), lay.get("id_field") or "", f.get("id"),
                                        Text("部件的属性或几何在检查包中被修改；验收只记录检查结果，实测位置请记为检查点",
                                             "the component's attributes or geometry were changed in the check package; an "
                                             "acceptance records results only, measured positions as check points")))
                continue
            res = _s(r.get("check_result"))
            off = r.get("offset_m")
            offset = None if _blank(off) else float(off)
            if res and res not in C.CHECK_RESULTS:
                problems.append(problem(table, int(fid), "check_result", res,
                                        Text(f"检查结果应为 {'、'.join(C.CHECK_RESULTS)} 之一",
                                             f"the result must be one of {', '.join(C.CHECK_RESULTS)}")))
                continue
            if offset is not None and (not math.isfinite(offset) or offset < 0):
                problems.append(problem(table, int(fid), "offset_m", off,
                                        Text("偏差应为不小于 0 的数（米）", "the offset must be a number ≥ 0 (metres)")))
                continue
            if not res and offset is not None:
                problems.append(problem(table, int(fid), "check_result", None,
                                        Text("填了偏差但没有检查结果", "an offset is given but no result")))
                continue
            if res == "多余" and offset is not None:
                problems.append(problem(table, int(fid), "offset_m", off,
                                        Text("“多余”的部件现场不存在，不能有偏差", "a superfluous component is not there and has no offset")))
                continue
            geom_of[u] = (table, int(fid), geoms[k], int(item))
            if not res:
                result_of[u] = None
                unchecked += 1
                continue
            result_of[u] = len(checks)
            checks.append({"item_no": int(item), "ObjID": ids_of_item[int(item)], "result": res, "offset_m": offset,
                           "note": _s(r.get("check_note")), "row": int(fid)})
        for u in sorted(set(feats) - present):
            problems.append(problem(table, 0, C.UUID, u,
                                    Text(f"部件 {feats[u].get('id') or u} 从检查包中被删除；现场不存在的部件请记为“多余”",
                                         f"the component {feats[u].get('id') or u} was deleted from the check package; a "
                                         "component that is not there is recorded as 多余")))
    # measured positions: the last check point of a component gives its offset
    pt, pg = _layer(pkg.gpkg, C.CHECK_POINTS)
    if pt.num_rows:
        fids = np.asarray(pt.column("fid").to_pylist(), dtype=np.int64)
        when = np.array([v.timestamp() if hasattr(v, "timestamp") else -np.inf
                         for v in pt.column("check_time").to_pylist()], dtype=float)
        fu = pt.column("feature_uuid").to_pylist()
        order = np.lexsort((fids, when))  # the last measured (then the last added) wins
        last: dict = {}
        for k in order:
            fid = int(fids[k])
            u = _s(fu[k])
            g = pg[k]
            if u not in geom_of and u not in result_of:
                problems.append(problem(C.CHECK_POINTS, fid, "feature_uuid", u or None,
                                        Text("检查点不属于检查包中的任何部件", "the check point belongs to no component of the package")))
                continue
            if g is None or shapely.is_empty(g):
                problems.append(problem(C.CHECK_POINTS, fid, "geom", None,
                                        Text("检查点没有位置", "the check point has no position")))
                continue
            last[u] = (fid, g)
        for u, (fid, g) in last.items():
            i = result_of.get(u)
            if u not in geom_of:
                continue
            if i is None:
                problems.append(problem(C.CHECK_POINTS, fid, "feature_uuid", u,
                                        Text("测了检查点，但该部件没有检查结果", "a check point is measured but its component has no result")))
                continue
            if checks[i]["result"] == "多余":
                problems.append(problem(C.CHECK_POINTS, fid, "feature_uuid", u,
                                        Text("“多余”的部件现场不存在，不能有检查点", "a superfluous component is not there and has no check point")))
                continue
            delivered = geom_of[u][2]
            target = shapely.boundary(delivered) if shapely.get_type_id(delivered) in (3, 6) else delivered
            checks[i]["offset_m"] = round(float(shapely.distance(g, target)), 3)
    # components found in the field but missing from the delivery
    classes = set(prof.component_classes["code"].astype(str))
    mt, mg = _layer(pkg.gpkg, C.CHECK_MISSING)
    mcol = {n: mt.column(n).to_pylist() for n in ("fid", "class_code", "note")}
    missing = []
    for k in range(mt.num_rows):
        fid = int(mcol["fid"][k])
        code = _s(mcol["class_code"][k])
        g = mg[k]
        bad = False
        if not code:
            problems.append(problem(C.CHECK_MISSING, fid, "class_code", None, Text("缺少类别代码", "the class code is missing")))
            bad = True
        elif code not in classes:
            problems.append(problem(C.CHECK_MISSING, fid, "class_code", code,
                                    Text("类别代码不在标准配置的部件分类表中", "the class code is not in the profile's component classes")))
            bad = True
        if g is None or shapely.is_empty(g):
            problems.append(problem(C.CHECK_MISSING, fid, "geom", None,
                                    Text("遗漏部件没有位置（请在地图上采点）", "the missing component has no position (digitize it on the map)")))
            bad = True
        if not bad:
            p = shapely.point_on_surface(g)
            missing.append({"class_code": code, "X": float(shapely.get_x(p)), "Y": float(shapely.get_y(p)),
                            "note": _s(mcol["note"][k]), "row": fid})
    if problems:
        raise _error(path, problems, unit="layer")
    rec = CheckRecords(pd.DataFrame(checks, columns=["item_no", "ObjID", "result", "offset_m", "note", "row"]),
                       pd.DataFrame(missing, columns=["class_code", "X", "Y", "note", "row"]), plan_id or None, unchecked,
                       unit="layer", missing_name=C.CHECK_MISSING)
    return rec
