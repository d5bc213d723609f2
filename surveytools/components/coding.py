"""Component IDs (部件标识码): county + major + minor + serial, unique per county and class.

Rules (docs/components.md):

* a delivered ID is **kept** when it is well formed, carries the project's county and the
  record's class, has a non-zero serial, is the first of its value in the delivery and is not
  already used in the project;
* every other record gets a **new** ID; a delivered ID that was replaced is reported with the
  reason (``id_format``, ``id_wrong_county``, ``id_class_mismatch``, ``id_serial_zero``,
  ``id_duplicate``, ``id_in_project``);
* new serials continue after the highest serial ever used for the county and class: the
  maximum over all component layers (retired and lost components stay there with their IDs,
  they are never deleted) and the project's ``id_registry`` of issued maxima, so a retired ID is
  never issued again.

Everything is whole-array (Arrow / numpy): about 0.3 s per million records.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..codes import check_code, format_code
from ..errors import SurveyError
from ..i18n import Text

REASONS = {
    "id_format": Text("标识码格式错误", "malformed ID"),
    "id_wrong_county": Text("标识码的县级代码不是本项目的", "the ID's county is not the project's"),
    "id_class_mismatch": Text("标识码中的类别与部件类别不一致", "the ID's class differs from the component's class"),
    "id_serial_zero": Text("标识码的顺序码全为 0", "the ID's serial is all zeros"),
    "id_duplicate": Text("标识码在本批数据中重复", "the ID occurs more than once in the delivery"),
    "id_in_project": Text("标识码已被项目中的其他部件使用", "the ID is already used by another component of the project"),
}


@dataclass
class IdSpec:
    county: str
    length: int
    class_len: int
    serial_len: int
    class_start: int

    @classmethod
    def of(cls, profile, county: str) -> "IdSpec":
        spec = profile.codes["component_id"]
        a, _ = spec.span("major")
        _, b = spec.span("minor")
        return cls(str(county), spec.length, b - a, spec.part_length("serial"), a)


def _np_text(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


@dataclass
class ParsedIds:
    ok: np.ndarray       # bool: well formed (the right length, ASCII digits)
    value: np.ndarray    # int64: the whole ID (0 where not well formed)
    county: np.ndarray   # int64 parts (0 where not well formed)
    cls: np.ndarray
    serial: np.ndarray


def parse_ids(ids: pa.Array, spec: IdSpec) -> ParsedIds:
    """Well-formedness and the integer parts of ID strings (nulls are not well formed); one
    string → int64 cast, the parts by arithmetic (16–17 digits fit in int64)."""
    ok = pc.fill_null(pc.and_(pc.equal(pc.utf8_length(ids), spec.length), pc.ascii_is_decimal(ids)), False)
    ok_np = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    txt = ids if ok_np.all() else pc.if_else(ok, ids, pa.scalar("0"))
    value = np.asarray(pc.cast(txt, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    rest = spec.length - spec.class_start
    county = value // 10 ** rest
    cls = (value // 10 ** spec.serial_len) % 10 ** spec.class_len
    serial = value % 10 ** spec.serial_len
    return ParsedIds(ok_np, value, county, cls, serial)


def _class_ints(classes: pa.Array) -> np.ndarray:
    """Class codes (digits) as int64; -1 where missing or not digits."""
    good = pc.fill_null(pc.ascii_is_decimal(classes), False)
    txt = pc.if_else(good, classes, pa.scalar("-1"))
    return np.asarray(pc.cast(txt, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def used_maxima(ids: pa.Array, classes: pa.Array, spec: IdSpec) -> dict:
    """class → highest serial among well-formed IDs of the project's county (``classes`` is
    unused: the class is read from the ID itself)."""
    if len(ids) == 0:
        return {}
    p = parse_ids(ids, spec)
    ok = p.ok & (p.county == int(spec.county))
    if not ok.any():
        return {}
    best = np.full(10 ** spec.class_len, -1, dtype=np.int64)
    np.maximum.at(best, p.cls[ok], p.serial[ok])
    hit = np.flatnonzero(best >= 0)
    return {str(k).zfill(spec.class_len): int(best[k]) for k in hit}


@dataclass
class IdResult:
    ids: pa.Array          # the final ID of every record
    kept: np.ndarray       # bool: the delivered ID was kept
    new: np.ndarray        # bool: a new ID was issued
    reasons: np.ndarray    # object: why a delivered ID was replaced (None otherwise)
    old: pa.Array          # the delivered IDs (text)
    maxima: dict           # class -> highest serial after this assignment


def assign_ids(source_ids: pa.Array, classes: pa.Array, spec: IdSpec, profile, *, existing_ids: pa.Array,
               registry: dict, order=None) -> IdResult:
    """Keep the valid delivered IDs and issue new ones (see the module docstring).

    ``classes``: the resolved class code of every record (all valid).  ``existing_ids``: the IDs
    already in the project (all component layers).  ``registry``: (county, class) → max serial.
    ``order``: the order in which new serials are handed out (default: record order)."""
    n = len(classes)
    old = source_ids if source_ids is not None else pa.nulls(n, pa.string())
    p = parse_ids(old, spec)
    ok = p.ok.copy()
    present = np.asarray(old.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    reasons = np.full(n, None, dtype=object)
    reasons[present & ~ok] = "id_format"
    same_county = p.county == int(spec.county)
    reasons[ok & ~same_county] = "id_wrong_county"
    ok &= same_county
    same_class = p.cls == _class_ints(classes)
    reasons[ok & ~same_class] = "id_class_mismatch"
    ok &= same_class
    reasons[ok & (p.serial == 0)] = "id_serial_zero"
    ok &= p.serial != 0
    # duplicates inside the delivery: the first keeps its ID
    idx = np.flatnonzero(ok)
    if len(idx):
        as_int = p.value[idx]
        _, first = np.unique(as_int, return_index=True)
        dup = np.ones(len(idx), dtype=bool)
        dup[first] = False
        reasons[idx[dup]] = "id_duplicate"
        ok[idx[dup]] = False
        # already used in the project
        if len(existing_ids):
            e = parse_ids(existing_ids, spec)
            inproj = np.isin(as_int, e.value[e.ok]) & ~dup
            reasons[idx[inproj]] = "id_in_project"
            ok[idx[inproj]] = False
    kept = ok
    new = ~kept
    maxima = {k: v for (c, k), v in registry.items() if c == spec.county}
    for k, v in used_maxima(existing_ids, None, spec).items():
        maxima[k] = max(maxima.get(k, 0), v)
    if kept.any():
        best = np.full(10 ** spec.class_len, -1, dtype=np.int64)
        np.maximum.at(best, p.cls[kept], p.serial[kept])
        for k in np.flatnonzero(best >= 0):
            key = str(k).zfill(spec.class_len)
            maxima[key] = max(maxima.get(key, 0), int(best[k]))
    final = old
    if new.any():
        ni = np.flatnonzero(new)
        if order is not None:
            ni = np.asarray(order)[new[np.asarray(order)]]
        c = _np_text(classes.take(pa.array(ni)))
        srt = np.argsort(c, kind="stable")
        cs = c[srt]
        starts = np.ones(len(cs), dtype=bool)
        starts[1:] = cs[1:] != cs[:-1]
        grp_first = np.maximum.accumulate(np.where(starts, np.arange(len(cs)), 0))
        rank = np.arange(len(cs)) - grp_first
        base = np.array([maxima.get(k, 0) for k in cs], dtype=np.int64)
        ser = base + rank + 1
        limit = 10 ** spec.serial_len - 1
        if len(ser) and ser.max() > limit:
            k = cs[int(np.argmax(ser))]
            raise SurveyError(Text(f"类别 {k} 的顺序码已用完（超过 {limit}），无法再编号",
                                   f"class {k} has run out of serials (beyond {limit})"), code="serial_overflow", value=k)
        prefix = {k: format_code("component_id", profile, county=spec.county, class_code=k, serial=0)[:-spec.serial_len]
                  for k in np.unique(cs)}
        pre = pa.array([prefix[k] for k in cs], pa.string()) if len(cs) < 50_000 else \
            pc.take(pa.array(list(prefix.values()), pa.string()),
                    pa.array(np.searchsorted(np.array(list(prefix.keys()), dtype=object), cs)))
        ser_txt = pc.utf8_lpad(pc.cast(pa.array(ser), pa.string()), spec.serial_len, "0")
        new_ids = pc.binary_join_element_wise(pre, ser_txt, "")
        target = ni[srt]
        full = np.empty(n, dtype=np.int64)
        full[:] = -1
        full[target] = np.arange(len(target))
        # final = kept IDs where kept, new where new
        pos = np.where(new, full, -1)
        take_new = pc.take(new_ids, pa.array(np.maximum(pos, 0)))
        final = pc.if_else(pa.array(new), take_new, old)
        last = np.ones(len(cs), dtype=bool)
        last[:-1] = cs[1:] != cs[:-1]
        for k, v in zip(cs[last], ser[last]):
            maxima[str(k)] = max(maxima.get(str(k), 0), int(v))
    return IdResult(final, kept, new, reasons, old, maxima)


def describe_bad_id(value, reason: str, profile, county: str) -> Text:
    """A message for a replaced ID (the standard code check's words, plus a hint when it looks
    like another edition's ID)."""
    base = REASONS[reason]
    detail_zh, detail_en = "", ""
    if reason == "id_format":
        issues = [i for i in check_code("component_id", value, profile, admin=False) if i.severity == "error"]
        if issues:
            detail_zh = "：" + "；".join(i.message.zh for i in issues)
            detail_en = ": " + "; ".join(i.message.en for i in issues)
        hint = _other_edition(value, profile)
        if hint:
            detail_zh += f"（似为 {hint} 的标识码）"
            detail_en += f" (looks like a {hint} ID)"
    elif reason == "id_wrong_county":
        detail_zh = f"（{str(value)[:6]}，项目为 {county}）"
        detail_en = f" ({str(value)[:6]}; the project's is {county})"
    return Text(f"{base.zh}{detail_zh}，已重新编号", f"{base.en}{detail_en}; a new ID was issued")


def _other_edition(value, profile) -> str | None:
    from ..profiles import list_profiles, load_profile

    s = str(value or "").strip()
    if not s.isdigit():
        return None
    for info in list_profiles():
        try:
            p = load_profile(info["path"])
        except SurveyError:
            continue
        if p.id == profile.id or p.codes["component_id"].length == profile.codes["component_id"].length:
            continue
        spec = p.codes["component_id"]
        if len(s) == spec.length:
            a, _ = spec.span("major")
            _, b = spec.span("minor")
            if p.component_class(s[a:b]) is not None:
                return f"{p.id}（{p.edition}）"
    return None
