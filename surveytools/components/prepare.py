"""From a delivery to profile-shaped records: read, map fields and classes, check geometry types.

Shared by ``components intake``, ``components merge`` and ``events intake``.  The result is one
:class:`Part` per target layer (point / line / polygon components, or events) holding the mapped
attributes under the profile's field names, the class of every record, its geometry in the
project CRS and where it came from; plus the records that cannot be imported (rejects) and the
report rows.  Unmapped columns or class values stop everything with :class:`UnmappedError`
after a proposed mapping file is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SurveyError
from ..i18n import Text
from .mapping import (
    CLASS_ROLES,
    COORD_ROLES,
    SKIP,
    ClassMatcher,
    FieldMatcher,
    Mapping,
    norm_value,
    proposal_path,
    write_proposal,
)
from .sources import detect_coordinate_columns, read_sources, table_geometry, to_project
from .store import GeomColumn, cast, text

GEOMETRY_LAYER = {"point": "component_point", "line": "component_line", "polygon": "component_polygon"}
#: shapely type id -> (profile geometry, single-part type id)
TYPE_GEOMETRY = {0: "point", 4: "point", 1: "line", 5: "line", 3: "polygon", 6: "polygon"}
_GK = {"point": 0, "line": 1, "polygon": 2}
#: shapely type id (index; 8 = no geometry) -> geometry kind (0 point, 1 line, 2 polygon, -1 other)
_GK_OF_TYPE = np.array([0, 1, -1, 2, 0, 1, 2, -1, -1], dtype=np.int64)
REASON_CODES = [None, "class_conflict", "skipped_by_mapping", "no_class", "no_geometry", "geometry_mismatch", "multipart"]
#: roles filled by the library, never copied from a delivery
COMPUTED_ROLES = {"batch"}

REJECT_TEXT = {
    "no_geometry": Text("记录没有几何（坐标为空或无效）", "the record has no geometry (empty or invalid coordinates)"),
    "no_class": Text("记录没有类别（类别代码和名称都为空）", "the record has no class (class code and name are both empty)"),
    "skipped_by_mapping": Text("对照表指定不导入该类别值", "the mapping file leaves this class value out"),
    "class_conflict": Text("类别代码和名称指向不同的类别", "the class code and the name point to different classes"),
    "geometry_mismatch": Text("几何类型与类别要求的不一致", "the geometry type differs from what the class requires"),
    "multipart": Text("多部件几何（标准要求单部件）", "a multi-part geometry (the standard wants single parts)"),
}


class UnmappedError(SurveyError):
    """Columns or class values without a mapping: a proposed mapping file was written."""

    def __init__(self, proposal, fields: list, classes: list, source: str):
        nf, nc = len(fields), len(classes)
        show = ", ".join([f"列 {f['column']}" for f in fields[:5]] + [f"“{c['value']}”×{c['count']}" for c in classes[:8]])
        show_en = ", ".join([f"column {f['column']}" for f in fields[:5]] + [f"'{c['value']}'×{c['count']}" for c in classes[:8]])
        super().__init__(
            Text(f"有 {nf} 个列和 {nc} 个类别值无法自动对应（{show}），未导入任何记录；已写出对照表建议稿 {proposal}，"
                 "请编辑后用 --mapping 再次运行",
                 f"{nf} columns and {nc} class values have no exact match ({show_en}); nothing was imported. A "
                 f"proposed mapping was written to {proposal}: edit it and run again with --mapping"),
            code="unmapped", file=source, value=str(proposal),
            hint=Text("把文件中的每个 UNMAPPED 改为字段角色或类别代码（或 skip）；在 QGIS 中可用 插件 → 数字城管 SurveyTools → "
                      "字段与类别对照… 选择后保存，无需手工编辑",
                      "replace every UNMAPPED in the file with a role or class code (or skip); in QGIS, Plugins → "
                      "SurveyTools → Field and class mapping… lets you choose them and saves the file"))
        self.details = {"proposal": str(proposal), "unmapped_fields": fields, "unmapped_classes": classes}

    def as_dict(self) -> dict:
        d = super().as_dict()
        d.update(self.details)
        return d


class EagerSrc:
    """Source attributes already in memory (the accepted records, in order)."""

    def __init__(self, table: pa.Table):
        self.table = table

    def column(self, col):
        return self.table.column(col).combine_chunks()

    def chunk(self, cols, start, length) -> pa.Table:
        return self.table.select(cols).slice(start, length)


class LazySrc:
    """Source attributes of a streamed layer: eager columns in memory, the rest read forward
    chunk by chunk (``rows``: the source rows of the accepted records, increasing)."""

    def __init__(self, lay, rows: np.ndarray, eager: pa.Table):
        self.lay, self.rows, self.eager = lay, rows, eager
        self.all = len(rows) == lay.count
        self.reader = None

    @property
    def path(self):
        """The file the columns are read from."""
        return getattr(getattr(self.lay, "lazy", None), "path", None)

    def column(self, col):
        if col in self.eager.column_names:
            arr = self.eager.column(col).combine_chunks()
        else:
            arr = self.lay.lazy.read_eager([col])[0].column(col).combine_chunks()
        return arr if self.all else arr.take(pa.array(self.rows))

    def chunk(self, cols, start, length) -> pa.Table:
        rows = self.rows[start:start + length]
        eager = [c for c in cols if c in self.eager.column_names]
        lazy = [c for c in cols if c not in self.eager.column_names]
        out = {}
        if eager:
            e = self.eager.select(eager)
            e = e.slice(int(rows[0]), len(rows)) if self.all and len(rows) else e.take(pa.array(rows))
            out.update({c: e.column(c) for c in eager})
        if lazy:
            if self.reader is None:
                self.reader = self.lay.lazy.reader(lazy)
            t = self.reader.take(rows)
            out.update({c: t.column(c) for c in lazy})
        return pa.table({c: out[c] for c in cols})

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


@dataclass
class Part:
    """Accepted records for one target layer.

    Mapped source columns are cast to the profile's types lazily (:meth:`chunk`, :meth:`column`),
    so that intake can cast, locate and write a million records chunk by chunk."""

    key: str
    src: "EagerSrc | LazySrc | None"  # source attributes of the accepted records
    colmap: list                  # [(source column, profile field name, type)]
    columns: dict                 # profile field name -> Arrow array (typed, full length)
    classes: pa.Array             # class code per record
    geoms: GeomColumn
    rows: np.ndarray              # source row (0-based)
    source: np.ndarray            # source label per record (object)
    ids: pa.Array | None          # delivered IDs (text) or None
    report: list = field(default_factory=list)  # bad-value rows found while casting

    def __len__(self) -> int:
        return len(self.rows)

    def _cast(self, arr, col, name, typ, start):
        out, bad = cast(arr, typ)
        for j in np.flatnonzero(bad)[:1000]:
            i = start + int(j)
            self.report.append({"source": self.source[i], "source_row": int(self.rows[i]), "severity": "warning",
                                "reason": "bad_value", "field": name, "value": str(arr[int(j)].as_py()),
                                "message_zh": f"列 {col} 的值无法读作{_type_zh(typ)}，已置空",
                                "message_en": f"the value of column {col} cannot be read as {typ}; left empty"})
        return out

    def column(self, name):
        """A profile field over all records (cast on first use), or None when not delivered."""
        if name in self.columns:
            return self.columns[name]
        for col, nm, typ in self.colmap:
            if nm == name:
                self.columns[name] = self._cast(self.src.column(col), col, nm, typ, 0)
                return self.columns[name]
        return None

    def has(self, name) -> bool:
        return name in self.columns or any(nm == name for _, nm, _ in self.colmap)

    def materialize(self) -> "Part":
        for _, nm, _ in self.colmap:
            self.column(nm)
        return self

    def chunk(self, start: int, length: int) -> dict:
        """Profile field name -> array for records ``start`` … ``start + length``."""
        out = {}
        todo = [(col, nm, typ) for col, nm, typ in self.colmap if nm not in self.columns]
        if todo:
            tbl = self.src.chunk(list(dict.fromkeys(c for c, _, _ in todo)), start, length)
            for col, nm, typ in todo:
                out[nm] = self._cast(tbl.column(col).combine_chunks(), col, nm, typ, start)
        for nm, arr in self.columns.items():
            out[nm] = arr.slice(start, length)
        return out

    def close(self) -> None:
        if self.src is not None and hasattr(self.src, "close"):
            self.src.close()

    def release(self) -> None:
        """Drop the whole-delivery arrays (columns, classes, IDs, geometries, the source layer)
        once the part's rows are written: what follows needs only the source rows and labels."""
        self.close()
        self.src = None
        self.columns = {}
        self.classes = self.ids = self.geoms = None


@dataclass
class Prepared:
    infos: list
    field_matches: list
    parts: dict = field(default_factory=dict)       # key -> Part
    rejects: list = field(default_factory=list)     # dicts for store.write_rejects
    report: list = field(default_factory=list)      # report rows (dicts)
    mapping: Mapping | None = None
    read: int = 0

    def count(self, key=None) -> int:
        return sum(len(p) for k, p in self.parts.items() if key is None or k == key)

    def rejected(self) -> int:
        return sum(len(r["rows"]) for r in self.rejects)


def _sample(table: pa.Table, col: str, k: int = 200) -> list:
    arr = table.column(col)
    arr = arr.filter(pc.is_valid(arr)) if arr.null_count else arr
    return [str(v) for v in arr.slice(0, k).to_pylist()]


def prepare(proj, source, *, mapping=None, source_crs=None, coords=None, group: str = "component",
            command: str = "", feedback=None, stream: bool = False, propose_only: bool = False):
    """Read ``source`` and map it onto the project's profile (see the module docstring).

    ``propose_only``: stop after matching and return ``{"path", "matches", "class_rows"}`` (the
    field matches and class rows of the proposed mapping, see :func:`.mapping.write_proposal`)
    whether or not everything is mapped; nothing is written."""
    from ..crs import resolve_crs

    prof = proj.profile
    src_crs = resolve_crs(source_crs, require_projected=False) if source_crs else None
    if coords and coords not in ("gcj02", "bd09"):
        raise SurveyError(Text("--coords 只能是 gcj02 或 bd09", "--coords must be gcj02 or bd09"), code="bad_coords",
                          value=coords)
    layers = read_sources(source, stream=stream)
    mp = Mapping.load(mapping, prof, group) if mapping else None
    if feedback is not None:
        feedback.progress(15)
    # coordinate columns of tables, then the field mapping over every column
    explicit = {c: r for c, r in (mp.fields.items() if mp else []) if r in COORD_ROLES}
    coord_cols = {}
    for lay in layers:
        if lay.is_table:
            cc = detect_coordinate_columns(lay.columns, explicit)
            coord_cols.update(cc)
    columns, samples = [], {}
    for lay in layers:
        for c in lay.columns:
            if c not in samples:
                columns.append(c)
                samples[c] = _sample(lay.sample if lay.sample is not None else lay.table, c)
    fm = FieldMatcher(prof, group)
    matches = fm.match(columns, mp, coord_cols, samples)
    role_of = {m.column: m.role for m in matches if m.role and m.role != SKIP}
    # class values
    cm = ClassMatcher(prof, group)
    class_cols = [c for c, r in role_of.items() if r in CLASS_ROLES]
    id_role = "component_id" if group == "component" else "event_id"
    for lay in layers:  # streamed layers: geometry, class and ID columns now, the rest later
        if lay.lazy is not None:
            lay.load([c for c in lay.columns if role_of.get(c) in CLASS_ROLES or role_of.get(c) == id_role])
    values: dict = {}   # value -> {"column", "count", "co": {other value: n}}
    resolved: dict = {}
    for lay in layers:
        present = [c for c in class_cols if c in lay.table.column_names]
        texts = {c: _norm_text(lay.table.column(c)) for c in present}
        lay.norm_cache = texts  # reused by _split
        for c in present:
            vc = pc.value_counts(texts[c].filter(pc.is_valid(texts[c]))) if len(texts[c]) else []
            for item in vc:
                v, n = item["values"].as_py(), item["counts"].as_py()
                rec = values.setdefault(v, {"column": c, "count": 0, "co": {}})
                rec["count"] += n
        if len(present) == 2:  # co-occurring values, for suggestions
            a, b = present
            pairs = pa.table({"a": texts[a], "b": texts[b]}).group_by(["a", "b"]).aggregate([([], "count_all")])
            for av, bv, n in zip(pairs["a"].to_pylist(), pairs["b"].to_pylist(), pairs["count_all"].to_pylist()):
                if av is not None and bv is not None:
                    values[av]["co"][bv] = values[av]["co"].get(bv, 0) + n
                    values[bv]["co"][av] = values[bv]["co"].get(av, 0) + n
    class_rows = []
    crossed: dict = {}  # values matched through another edition's code: reported per record
    for v, rec in values.items():
        if mp and v in mp.classes:
            code, how = mp.classes[v], "对照表 mapping file"
        else:
            hit = cm.exact(v)
            code, how = (hit if hit else (None, ""))
        resolved[v] = code
        if code and not (mp and v in mp.classes) and v not in cm.exact_map:
            crossed[v] = how
        row = {"value": v, "column": rec["column"], "count": rec["count"], "code": code, "how": how,
               "suggestions": [] if code else cm.suggest(v, rec["co"])}
        class_rows.append(row)
    class_rows.sort(key=lambda r: (r["code"] is not None, r["column"], -r["count"], r["value"]))
    unmapped_f = [{"column": m.column, "suggestions": [{"role": r, "score": s, "why": w} for r, s, w in m.suggestions]}
                  for m in matches if not m.role]
    unmapped_c = [{"value": r["value"], "column": r["column"], "count": r["count"],
                   "suggestions": [{"code": c, "name": cm.name_of.get(c), "score": s, "why": w} for c, s, w in r["suggestions"]]}
                  for r in class_rows if not r["code"]]
    if propose_only:
        return {"path": layers[0].info.path, "matches": matches, "class_rows": class_rows}
    id_ok = group == "component" and _id_column(role_of)
    if unmapped_f or unmapped_c or (not class_cols and not id_ok):
        if not class_cols and not id_ok and not unmapped_f:
            raise SurveyError(Text("没有表示类别的列（类别代码、部件名称或标识码）", "no column gives the class (class code, name or ID)"),
                              code="no_class_column", file=layers[0].info.path)
        import shlex

        path = proposal_path(proj, layers[0].info.path)
        cmd = command.replace("{file}", str(path)) if command else \
            f"surveytools components intake {shlex.quote(str(proj.path))} {shlex.quote(str(source))} " \
            f"--mapping {shlex.quote(str(path))}"
        write_proposal(path, source=str(source), profile=prof, group=group, field_matches=matches,
                       class_rows=class_rows, command=cmd)
        raise UnmappedError(path, unmapped_f, unmapped_c, str(source))
    if feedback is not None:
        feedback.progress(25)
    out = Prepared(infos=[lay.info for lay in layers], field_matches=matches, mapping=mp)
    fields = prof.layer_fields(group)
    ftype = dict(zip(fields["role"], fields["type"]))
    fname = dict(zip(fields["role"], fields["name"]))
    for lay in layers:
        if lay.is_table:
            cc = {c: r for c, r in coord_cols.items() if c in lay.columns}
            table_geometry(lay, cc, source_crs=src_crs, project_crs=proj.crs)
        elif lay.geoms is None:
            raise SurveyError(Text("图层没有几何", "the layer has no geometry"), code="no_geometry", file=lay.info.path,
                              layer=lay.info.layer)
        to_project(lay, proj.crs, source_crs=src_crs, coords=coords)
        _split(out, lay, role_of, resolved, cm, ftype, fname, group, prof, crossed)
        out.read += lay.count
        if feedback is not None:
            for note in lay.info.notes:
                feedback.warning(Text(f"{lay.info.label}：{note.zh}", f"{lay.info.label}: {note.en}")
                                 if isinstance(note, Text) else note)
    if out.read and not any(len(p) for p in out.parts.values()):
        raise _all_rejected(out, source)
    return out


def _all_rejected(out: "Prepared", source) -> SurveyError:
    """Every record was rejected: an error (exit 2) with the reasons counted and the first one
    named, rather than an import of nothing that looks like success."""
    counts: dict = {}
    first = None
    for r in out.report:
        if r.get("severity") == "error":
            counts[r["reason"]] = counts.get(r["reason"], 0) + 1
            first = first or r
    zh = "，".join(f"{k} {v} 条" for k, v in counts.items())
    en = ", ".join(f"{k} {v}" for k, v in counts.items())
    mz = first["message_zh"].replace("；未导入（见 intake_rejects）", "") if first else ""
    me = first["message_en"].replace("; not imported (see intake_rejects)", "") if first else ""
    ex_zh = f"；如第 {first['source_row'] + 1} 条：{mz}" if first else ""
    ex_en = f"; e.g. record {first['source_row'] + 1}: {me}" if first else ""
    return SurveyError(Text(f"全部 {out.read} 条记录都未能导入（{zh}）{ex_zh}，未写入任何内容",
                            f"all {out.read} records were rejected ({en}){ex_en}; nothing was written"),
                       code="all_rejected", file=str(source), field=(first or {}).get("field"),
                       value=(first or {}).get("value"))


def _id_column(role_of: dict):
    return next((c for c, r in role_of.items() if r == "component_id"), None)


def _norm_text(arr) -> pa.Array:
    """Text with the same normalisation as the mapping keys (trim, full-width → half-width …);
    only the distinct values that need it go through Python."""
    from .store import text

    t = text(arr)
    if len(t) == 0:
        return t
    need = pc.fill_null(pc.match_substring_regex(t, "[\uff01-\uff5e\u3000()]"), False)
    if not pc.any(need).as_py():
        return t
    enc = pc.dictionary_encode(t)
    d = enc.dictionary.to_pylist()
    nd = [norm_value(v) for v in d]
    return pc.take(pa.array(nd, pa.string()), enc.indices)


def _resolve(arr: pa.Array, resolved: dict) -> pa.Array:
    """Map normalised values to class codes (null when the value is null)."""
    enc = pc.dictionary_encode(arr)
    d = enc.dictionary.to_pylist()
    codes = pa.array([resolved.get(v) for v in d], pa.string())
    return pc.take(codes, enc.indices)


def _split(out: Prepared, lay, role_of, resolved, cm: ClassMatcher, ftype, fname, group, prof, crossed=None) -> None:
    """A source layer's records into parts by target layer, or into rejects with their reasons:
    the class of each record (:func:`_record_classes`), why a record cannot be imported
    (:func:`_reject_reasons`), the rejects and their report rows (:func:`_reject`), and the parts
    by geometry kind (:func:`_add_parts`) — whole arrays throughout."""
    cols = {c: r for c, r in role_of.items() if c in lay.columns}
    by_role = {r: c for c, r in cols.items()}
    rc = _record_classes(out, lay, by_role, resolved, cm, group, prof, crossed)
    reason, gk, want, xy = _reject_reasons(lay, rc, cm, group)
    bad = reason != 0
    if bad.any():
        _reject(out, lay, rc, cm, reason, gk, want)
    _add_parts(out, lay, cols, rc, ~bad, want, xy, ftype, fname, group)


@dataclass
class _Classes:
    """The class of each record of a source layer and where it came from."""

    code_col: object
    name_col: object
    from_code: object   # class by the class-code column (Arrow, null where none)
    from_name: object   # class by the name column
    cls: object         # the class: code, else name, else the ID's class part
    ids_all: object     # the ID column as text (None without one)
    dvals: list         # the distinct classes; ``ci`` indexes them (-1: no class)
    ci: object


def _record_classes(out: Prepared, lay, by_role, resolved, cm: ClassMatcher, group, prof, crossed) -> _Classes:
    """Class per record: the class-code column, else the name, else the ID's class part; a code of
    another edition of the standard is reported (info)."""
    t = lay.table
    n = lay.count
    label = lay.info.label
    # class per record: class code column, else name, else the ID's class part
    code_col, name_col = by_role.get("class_code"), by_role.get("name")
    id_col = by_role.get("component_id" if group == "component" else "event_id")
    cache = getattr(lay, "norm_cache", {})
    code_txt = (cache[code_col] if code_col in cache else _norm_text(t.column(code_col))) if code_col else None
    from_code = _resolve(code_txt, resolved) if code_col else pa.nulls(n, pa.string())
    if crossed and code_col:
        hit = pc.fill_null(pc.is_in(code_txt, value_set=pa.array(list(crossed), pa.string())), False)
        for i in np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))[:20000]:
            v = code_txt[int(i)].as_py()
            out.report.append({"source": label, "source_row": int(i), "severity": "info", "reason": "class_other_edition",
                               "field": code_col, "value": v, "message_zh": f"类别代码 {v} 属于另一版本标准：{crossed[v]}",
                               "message_en": f"class code {v} belongs to another edition: {crossed[v]}"})
    from_name = _resolve(cache[name_col] if name_col in cache else _norm_text(t.column(name_col)), resolved) \
        if name_col else pa.nulls(n, pa.string())
    cls = pc.coalesce(from_code, from_name)
    ids_all = text(t.column(id_col)) if id_col else None  # a malformed ID is replaced, not normalised
    if id_col and group == "component" and cls.null_count:
        from .coding import IdSpec

        spec = IdSpec.of(prof, "")
        part = pc.utf8_slice_codeunits(ids_all, spec.class_start, spec.class_start + spec.class_len)
        ok = pc.and_(pc.fill_null(pc.and_(pc.equal(pc.utf8_length(ids_all), spec.length), pc.ascii_is_decimal(ids_all)),
                                  False),
                     pc.is_in(part, value_set=pa.array(cm.codes, pa.string())))
        cls = pc.coalesce(cls, pc.if_else(ok, part, pa.scalar(None, pa.string())))
    # every decision below on integer codes: class index into a small dictionary, geometry kind
    enc = pc.dictionary_encode(cls)
    dvals = enc.dictionary.to_pylist()
    ci = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return _Classes(code_col, name_col, from_code, from_name, cls, ids_all, dvals, ci)


def _reject_reasons(lay, rc: _Classes, cm: ClassMatcher, group):
    """Per record an index into REASON_CODES (0: fine) — class conflict, skipped, no class, no
    geometry, geometry of the wrong kind, multipart — and the record's geometry kind, the kind its
    class wants, and the point coordinates (None when the layer is not of points)."""
    import shapely

    n = lay.count
    code_col, name_col, from_code, from_name, dvals, ci = rc.code_col, rc.name_col, rc.from_code, rc.from_name, \
        rc.dvals, rc.ci
    geom_of = cm.geom_of
    d_skip = np.array([v == SKIP for v in dvals] + [False], dtype=bool)
    d_none = np.array([False] * len(dvals) + [True], dtype=bool)
    if group == "event":
        d_want = np.array([-1 if v == SKIP else 0 for v in dvals] + [-1], dtype=np.int64)
    else:
        d_want = np.array([-1 if v == SKIP else _GK.get(geom_of.get(v) or "", -2) for v in dvals] + [-1], dtype=np.int64)
    reason = np.zeros(n, dtype=np.int8)  # index into REASON_CODES (0: fine)
    if code_col and name_col:
        both = np.asarray(pc.and_(pc.is_valid(from_code), pc.is_valid(from_name)).to_numpy(zero_copy_only=False),
                          dtype=bool)
        if both.any():
            differ = both & np.asarray(pc.fill_null(pc.not_equal(from_code, from_name), False)
                                       .to_numpy(zero_copy_only=False), dtype=bool)
            reason[differ] = 1
            eitherskip = np.asarray(pc.or_(pc.fill_null(pc.equal(from_code, SKIP), False),
                                           pc.fill_null(pc.equal(from_name, SKIP), False)).to_numpy(zero_copy_only=False),
                                    dtype=bool)
            reason[eitherskip & (reason == 0)] = 2
    reason[d_skip[ci] & (reason == 0)] = 2
    reason[d_none[ci] & (reason == 0)] = 3
    # geometry: present, of the kind the class wants, single part
    geoms = lay.geoms
    xy = geoms.point_xy()
    if xy is not None:
        valid_g = np.isfinite(xy[0])
        gk = np.where(valid_g, 0, -1)
        parts_n = np.ones(n, dtype=np.int64)
    else:
        g = geoms.shapely()
        gtype = np.where(shapely.is_missing(g) | shapely.is_empty(g), -1, shapely.get_type_id(g))
        gk = _GK_OF_TYPE[np.where(gtype < 0, 8, gtype)]
        parts_n = shapely.get_num_geometries(g)
    reason[(gk < 0) & (reason == 0)] = 4
    want = d_want[ci]
    want = np.where(want == -2, gk, want)  # a class without a geometry rule takes the record's
    reason[(gk >= 0) & (want != gk) & (reason == 0)] = 5
    reason[(parts_n > 1) & (reason == 0)] = 6
    return reason, gk, want, xy


def _reject(out: Prepared, lay, rc: _Classes, cm: ClassMatcher, reason, gk, want) -> None:
    """The rejected records (layer intake_rejects) and a report row each, naming field and value."""
    label = lay.info.label
    geoms = lay.geoms
    bad = reason != 0
    from_code, from_name, dvals, ci = rc.from_code, rc.from_name, rc.dvals, rc.ci
    bi = np.flatnonzero(bad)
    kinds = ["point", "line", "polygon"]
    rs = [REASON_CODES[r] for r in reason[bi]]
    cls_b = [dvals[c] if c >= 0 else None for c in ci[bi]]
    mz, me = [], []
    cp = getattr(lay, "coord_problems", None)
    fields_b, values_b = [], []
    for i, r, c in zip(bi, rs, cls_b):
        m = REJECT_TEXT[r]
        dz = de = ""
        fv = cp[i] if cp is not None and r == "no_geometry" else None
        fields_b.append(fv[0] if fv else None)
        values_b.append(fv[1] if fv else (c if c != SKIP else None))
        if fv:
            dz, de = f"：{fv[2].zh}", f": {fv[2].en}"
        if r == "geometry_mismatch":
            have, need = kinds[gk[i]], kinds[want[i]] if want[i] >= 0 else "?"
            dz = f"（{have}，类别 {c} {cm.name_of.get(c, '')} 要求 {need}）"
            de = f" ({have}; class {c} {cm.name_of.get(c, '')} wants {need})"
        elif r == "class_conflict":
            dz = f"（代码→{from_code[int(i)].as_py()}，名称→{from_name[int(i)].as_py()}）"
            de = f" (code → {from_code[int(i)].as_py()}, name → {from_name[int(i)].as_py()})"
        mz.append(m.zh + dz)
        me.append(m.en + de)
    out.rejects.append({
        "source": label, "rows": bi, "reasons": rs, "messages_zh": mz, "messages_en": me,
        "classes": [c if c != SKIP else None for c in cls_b],
        "attrs": lay.full_table().take(pa.array(bi)), "geoms": geoms.take(bi)})
    for i, r, z, e, f_, v_ in zip(bi, rs, mz, me, fields_b, values_b):
        out.report.append({"source": label, "source_row": int(i), "severity": "error", "reason": r,
                           "field": f_, "value": v_,
                           "message_zh": z + "；未导入（见 intake_rejects）",
                           "message_en": e + "; not imported (see intake_rejects)"})


def _add_parts(out: Prepared, lay, cols, rc: _Classes, good, want, xy, ftype, fname, group) -> None:
    """The importable records as one :class:`Part` per target layer (multipart singletons made
    single), appended to ``out.parts``."""
    import shapely

    t = lay.table
    n = lay.count
    label = lay.info.label
    geoms = lay.geoms
    cls, ids_all = rc.cls, rc.ids_all
    targets = [("event", 0)] if group == "event" else [(GEOMETRY_LAYER[k], i) for i, k in enumerate(("point", "line", "polygon"))]
    for key, kind in targets:
        sel = good & (want == kind)
        if not sel.any():
            continue
        idx = np.flatnonzero(sel)
        take = pa.array(idx)
        colmap = [(c, fname[r], ftype[r]) for c, r in cols.items()
                  if r not in COMPUTED_ROLES and r not in COORD_ROLES and r in ftype]
        if lay.lazy is not None:
            src = LazySrc(lay, idx, t)
        else:
            src = t.select(list(dict.fromkeys(c for c, _, _ in colmap)))
            src = EagerSrc(src if len(idx) == n else src.take(take))
        g = geoms.take(idx) if len(idx) != n else geoms
        if xy is None:
            shp = g.shapely()
            multi1 = np.isin(shapely.get_type_id(shp), (4, 5, 6))
            if multi1.any():
                shp = shp.copy()
                shp[multi1] = shapely.get_geometry(shp[multi1], 0)
                g = GeomColumn(geoms=shp)
        ids = None if ids_all is None else (ids_all if len(idx) == n else ids_all.take(take))
        part = Part(key, src, colmap, {}, cls.take(take) if len(idx) != n else cls, g, idx,
                    _same(label, len(idx)), ids)
        if key in out.parts:
            out.parts[key] = _concat_parts(out.parts[key], part)
        else:
            out.parts[key] = part


def _same(value, n: int) -> np.ndarray:
    """An object array holding the one object ``value`` n times (``np.full`` would make n copies
    of a string: 125 MB for a million source labels)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _type_zh(t: str) -> str:
    return {"date": "日期", "datetime": "日期时间", "integer": "整数", "real": "数值"}.get(t, t)


def _concat_parts(a: Part, b: Part) -> Part:
    a.materialize()
    b.materialize()
    names = list(dict.fromkeys(list(a.columns) + list(b.columns)))
    cols = {}
    for nm in names:
        x = a.columns.get(nm)
        y = b.columns.get(nm)
        typ = (x if x is not None else y).type
        x = x if x is not None else pa.nulls(len(a), typ)
        y = y if y is not None else pa.nulls(len(b), typ)
        if x.type != y.type:
            y = y.cast(x.type)
        cols[nm] = pa.concat_arrays([x, y])
    ids = None
    if a.ids is not None or b.ids is not None:
        ids = pa.concat_arrays([a.ids if a.ids is not None else pa.nulls(len(a), pa.string()),
                                b.ids if b.ids is not None else pa.nulls(len(b), pa.string())])
    a.close()
    b.close()
    return Part(a.key, None, [], cols, pa.concat_arrays([a.classes, b.classes]), GeomColumn.concat([a.geoms, b.geoms]),
                np.concatenate([a.rows, b.rows]), np.concatenate([a.source, b.source]), ids, a.report + b.report)
