"""Storing field check records in the project (``acceptance record``).

Tables (attribute-only; see docs/acceptance.md):

``acceptance_checks``   item_no (of the plan's acceptance_items), ObjID, result (正确/属性错误/位置错误/多余), offset_m, note, row, class_code, BGID,
                        street_code, plan_id, source, recorded_at
``acceptance_missing``  class_code, X, Y, note, row, BGID, street_code, plan_id, source, recorded_at

A record replaces the previous records of the same plan: the workbook (or the check package) is the
whole field record.  Readers are chosen by the check file's type (:data:`READERS`): the checklist
workbook, or the returned check package (folder or ZIP, :mod:`.checkpkg`).
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

CHECKS_TABLE = "acceptance_checks"
MISSING_TABLE = "acceptance_missing"
CHECK_COLS = ["item_no", "ObjID", "result", "offset_m", "note", "row", "class_code", "BGID", "street_code", "plan_id", "source",
              "recorded_at"]
MISSING_COLS = ["class_code", "X", "Y", "note", "row", "BGID", "street_code", "plan_id", "source", "recorded_at"]


def empty_checks() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "offset_m" else "Int64" if c in ("row", "item_no") else object)
                         for c in CHECK_COLS})


def empty_missing() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("X", "Y") else "Int64" if c == "row" else object)
                         for c in MISSING_COLS})


def _read_xlsx(path, proj, items, meta):
    from .checklist import read_checklist
    from .sample import components

    known = set(components(proj)["ObjID"].astype(str)) - {""}
    classes = set(proj.profile.component_classes["code"].astype(str))
    return read_checklist(path, known, items, classes, plan_id=meta.get("plan_id"))


def _read_package(path, proj, items, meta):
    from .checkpkg import read_package

    return read_package(path, proj, items, meta)


#: check file readers by suffix ("/" for a folder): the workbook, the returned check package
READERS = {".xlsx": _read_xlsx, ".zip": _read_package, "/": _read_package}


def record(proj, checks, feedback=None) -> dict:
    """Read, validate and store a check file; returns counts.  All or nothing."""
    from ..locate import GridIndex
    from ..project import write_table
    from .sample import read_plan, read_sample_grids

    meta, items = read_plan(proj)
    path = Path(checks)
    if not path.exists():
        raise SurveyError(Text("检查记录文件不存在", "the check file does not exist"), code="not_found", file=str(path))
    if path.is_file() and path.name in ("manifest.json", "survey.gpkg") and (path.parent / "manifest.json").is_file():
        path = path.parent  # a file picked inside a check package folder (the Processing dialog picks files)
    reader = READERS.get("/" if path.is_dir() else path.suffix.lower())
    if reader is None:
        raise SurveyError(Text(f"不支持的检查记录文件类型 {path.suffix or '（无扩展名）'}；请使用 acceptance plan 生成的 checklist.xlsx "
                               "或返回的检查包（文件夹或 ZIP）",
                               f"unsupported check file type {path.suffix or '(no suffix)'}; use the checklist.xlsx written by "
                               "acceptance plan or the returned check package (folder or ZIP)"), code="bad_checks_type",
                          file=str(path))
    rec = reader(path, proj, items, meta)
    if rec.plan_id and rec.plan_id != meta.get("plan_id"):
        from .checklist import plan_mismatch

        raise plan_mismatch(path, rec.plan_id, rec.unit)
    # omitted components must lie in a sampled grid: only those grids were checked
    miss = rec.missing
    bgid = np.full(len(miss), "", dtype=object)
    street = np.full(len(miss), "", dtype=object)
    if len(miss):
        sg = read_sample_grids(proj)
        idx = GridIndex(sg.geometry.values, sg["BGID"].to_numpy(dtype=object)).points(
            miss["X"].to_numpy(dtype=float), miss["Y"].to_numpy(dtype=float))
        outside = np.flatnonzero(idx < 0)
        if len(outside):
            from .checklist import _error, problem

            raise _error(path, [problem(rec.missing_name, int(miss["row"].iloc[i]), "X,Y",
                                        f"{miss['X'].iloc[i]}, {miss['Y'].iloc[i]}",
                                        Text("该点不在任何抽样网格内（坐标应为项目坐标系）",
                                             "the point is in no sampled grid (coordinates are in the project CRS)"))
                                for i in outside], unit=rec.unit)
        bgid = sg["BGID"].to_numpy(dtype=object)[idx]
        street = sg["street_code"].to_numpy(dtype=object)[idx]
    now = _dt.datetime.now().replace(microsecond=0).isoformat()
    ctx = items.set_index("item_no")
    ch = rec.checks.copy()
    ch["item_no"] = ch["item_no"].astype("int64")
    for c in ("class_code", "BGID", "street_code"):
        ch[c] = ch["item_no"].map(ctx[c])
    ch["offset_m"] = pd.to_numeric(ch["offset_m"], errors="coerce").astype("float64")
    ch["row"] = ch["row"].astype("Int64")
    mi = miss.copy()
    mi["BGID"] = bgid
    mi["street_code"] = street
    mi["row"] = mi["row"].astype("Int64")
    for df in (ch, mi):
        df["plan_id"] = meta.get("plan_id", "")
        df["source"] = path.name
        df["recorded_at"] = now
    ch = ch.reindex(columns=CHECK_COLS) if len(ch) else empty_checks()
    mi = mi.reindex(columns=MISSING_COLS) if len(mi) else empty_missing()
    with proj.transaction() as work:
        write_table(work, CHECKS_TABLE, ch)
        write_table(work, MISSING_TABLE, mi)
    counts = ch["result"].value_counts().to_dict() if len(ch) else {}
    return {"checked": int(len(ch)), "missing": int(len(mi)), "unchecked": int(rec.unchecked),
            "sampled": int(len(items)), "not_listed": int(len(items) - len(ch) - rec.unchecked),
            "results": {r: int(counts.get(r, 0)) for r in ("正确", "属性错误", "位置错误", "多余")},
            "plan_id": meta.get("plan_id", "")}


def read_records(proj) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .. import store
    from ..gpkg import list_layers

    names = set(list_layers(proj.path))
    if CHECKS_TABLE not in names:
        return empty_checks(), empty_missing()
    ch = store.read_dataframe(proj.path, CHECKS_TABLE, read_geometry=False)
    mi = store.read_dataframe(proj.path, MISSING_TABLE, read_geometry=False) \
        if MISSING_TABLE in names else empty_missing()
    ch = ch.reindex(columns=CHECK_COLS)
    mi = mi.reindex(columns=MISSING_COLS)
    ch["offset_m"] = pd.to_numeric(ch["offset_m"], errors="coerce")
    ch["item_no"] = pd.to_numeric(ch["item_no"], errors="coerce").astype("Int64")
    for c in ("X", "Y"):
        mi[c] = pd.to_numeric(mi[c], errors="coerce")
    for df, cols in ((ch, ("ObjID", "result", "class_code", "BGID", "street_code", "note")),
                     (mi, ("class_code", "BGID", "street_code", "note"))):
        for c in cols:
            df[c] = df[c].astype("string").fillna("").astype(object)
    return ch, mi
