"""Field and class mapping: a contractor's column names and class values → the profile.

Only **exact** matches are applied automatically (after trimming, full-width → half-width and
ignoring case, spaces, ``_`` and ``-`` in field names):

* field names: the standard field names of any profile, the Chinese aliases (``alias_zh``) and
  English aliases of the fields table, and the library's role names;
* class values: class codes, class names and the ``aliases`` column of the profile's class
  table, and codes of another edition when the crosswalk is certain (the other edition's class
  has the same name as exactly one class here, with the same geometry).

Everything else is *unmapped*: intake writes a proposed mapping file (with similarity
suggestions marked as suggestions, never applied), lists the unmapped values and imports
nothing.  The user edits the file (a role or class code, or ``skip``) and passes it back with
``--mapping``.

Mapping file (YAML; every scalar is read as text, so ``"0104"`` and ``0104`` are the same)::

    profile: cjt
    layer: component
    fields:            # source column -> role (or the profile's field name), or skip
      小类代码: class_code
      采集人: skip
    classes:           # source value -> class code (or class name), or skip (records left out)
      雨水篦子: "0104"
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SurveyError
from ..i18n import Text

SKIP = "skip"
UNMAPPED = "UNMAPPED"
SKIP_WORDS = {"skip", "忽略", "ignore", "none", "不导入"}
UNMAPPED_WORDS = {"", "~", "null", "unmapped", "todo", "?", "??"}
#: pseudo roles of coordinate and geometry columns (tables without a geometry)
COORD_ROLES = {"x", "y", "lon", "lat", "wkt"}
#: columns that carry no attribute (row numbers, geometry measures): skipped automatically
AUTO_SKIP = {"fid", "ogcfid", "objectid", "序号", "shapelength", "shapeleng", "shapelen", "shapearea"}
#: class-bearing roles: their values must all resolve to a class
CLASS_ROLES = ("class_code", "name")

COORD_NAMES = {
    "lon": {"lon", "lng", "long", "longitude", "经度", "gpslon", "wgs84lon", "经度坐标", "lonwgs84"},
    "lat": {"lat", "latitude", "纬度", "gpslat", "wgs84lat", "纬度坐标", "latwgs84"},
    "x": {"x", "x坐标", "xcoord", "coordx", "pointx", "东坐标", "横坐标", "easting", "东向坐标"},
    "y": {"y", "y坐标", "ycoord", "coordy", "pointy", "北坐标", "纵坐标", "northing", "北向坐标"},
    "wkt": {"wkt", "geometry", "geom", "几何", "几何wkt", "shape", "the_geom", "wktgeometry"},
}

_FW = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FW[0x3000] = 0x20


def norm_value(v) -> str:
    """Trim, full-width letters/digits → half-width, parentheses → full-width (as the class
    tables write them).  Used for exact matching of class values."""
    s = str(v).translate(_FW).strip()
    return s.replace("(", "（").replace(")", "）")


def norm_field(name) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name).translate(_FW)).lower()


def _split_aliases(text) -> list:
    return [a.strip() for a in re.split(r"[|;；,，]", str(text or "")) if a.strip()]


# ----------------------------------------------------------------------------------------------
# the mapping file

@dataclass
class Mapping:
    fields: dict = field(default_factory=dict)   # column -> role | "skip" (UNMAPPED entries left out)
    classes: dict = field(default_factory=dict)  # value -> class code | "skip"
    path: str | None = None

    @classmethod
    def load(cls, path, profile, group: str = "component") -> "Mapping":
        import yaml

        p = Path(path)
        if not p.exists():
            raise SurveyError(Text("对照表文件不存在", "the mapping file does not exist"), code="not_found", file=str(p))
        try:
            data = yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise SurveyError(Text(f"对照表格式错误：{e}", f"the mapping file is malformed: {e}"), code="bad_mapping",
                              file=str(p)) from None
        if not isinstance(data, dict):
            raise SurveyError(Text("对照表应为 YAML 映射（fields:、classes:）", "the mapping must be a YAML mapping (fields:, classes:)"),
                              code="bad_mapping", file=str(p))
        roles = role_names(profile, group)
        m = cls(path=str(p))
        for col, target in (data.get("fields") or {}).items():
            t = str(target).strip()
            if t.lower() in UNMAPPED_WORDS:
                continue
            if t.lower() in SKIP_WORDS:
                m.fields[str(col)] = SKIP
                continue
            role = roles.get(t) or roles.get(norm_field(t))
            if role is None:
                raise SurveyError(Text(f"对照表中字段 {col} 的目标“{t}”不是标准配置 {profile.id} 的字段"
                                       f"（可用：{', '.join(sorted(set(roles.values())))}，或 skip）",
                                       f"the target '{t}' of column {col} is not a field of profile {profile.id} "
                                       f"(available: {', '.join(sorted(set(roles.values())))}, or skip)"),
                                  code="bad_mapping", file=str(p), field=str(col), value=t)
            m.fields[str(col)] = role
        table = _class_table(profile, group)
        codes = set(table["code"].astype(str))
        names = {norm_value(n): c for c, n in zip(table["code"].astype(str), table["name"])}
        for val, target in (data.get("classes") or {}).items():
            t = norm_value(target)
            if t.lower() in UNMAPPED_WORDS:
                continue
            if t.lower() in SKIP_WORDS:
                m.classes[norm_value(val)] = SKIP
                continue
            code = t if t in codes else names.get(t)
            if code is None:
                raise SurveyError(Text(f"对照表中“{val}”的类别“{t}”不在标准配置 {profile.id} 的分类表中",
                                       f"the class '{t}' given for '{val}' is not in the class table of profile {profile.id}"),
                                  code="bad_mapping", file=str(p), field="classes", value=t)
            m.classes[norm_value(val)] = code
        return m


def role_names(profile, group: str) -> dict:
    """target text → role: role names, standard field names and their normalised forms."""
    f = profile.layer_fields(group)
    out = {}
    for role, name in zip(f["role"], f["name"]):
        for k in (role, name, norm_field(role), norm_field(name)):
            out[k] = role
    for r in COORD_ROLES:
        out[r] = r
    return out


def _class_table(profile, group):
    return profile.event_classes if group == "event" else profile.component_classes


# ----------------------------------------------------------------------------------------------
# fields

@dataclass
class FieldMatch:
    column: str
    role: str | None          # the role, "skip", or None when unmapped
    how: str = ""             # exact: standard name / alias / role; mapping; auto-skip; coordinates
    suggestions: list = field(default_factory=list)  # [(role, score, why)]


class FieldMatcher:
    def __init__(self, profile, group: str = "component"):
        self.profile, self.group = profile, group
        own = profile.layer_fields(group)
        self.roles = list(own["role"])
        self.own = own
        self.own_index = self._index([profile])
        self._all = None

    def _index(self, profiles) -> dict:
        index: dict = {}

        def add(key, role, how):
            if key:
                index.setdefault(key, {}).setdefault(role, how)

        for p in profiles:
            f = p.layer_fields(self.group)
            for role, name, zh, en in zip(f["role"], f["name"], f["alias_zh"], f["alias_en"]):
                if role not in self.roles:
                    continue
                add(norm_field(name), role, f"{p.id} 标准字段名 standard field name {name}")
                add(norm_field(zh), role, f"中文别名 Chinese alias {zh}")
                add(norm_field(en), role, f"英文别名 English alias {en}")
                add(norm_field(role), role, f"role {role}")
        return index

    @property
    def index(self) -> dict:
        """Names of every profile (loaded only when a column is not one of the project profile's)."""
        if self._all is None:
            from ..profiles import list_profiles, load_profile

            profs = [self.profile]
            for info in list_profiles():
                try:
                    p = load_profile(info["path"])
                except SurveyError:
                    continue
                if p.id != self.profile.id:
                    profs.append(p)
            self._all = self._index(profs)
        return self._all

    def match(self, columns, mapping: Mapping | None = None, coord_columns=None, values=None) -> list:
        """One :class:`FieldMatch` per source column.  ``coord_columns``: column → coordinate
        role detected by the reader; ``values``: column → a sample of its values (suggestions)."""
        out = []
        coord_columns = coord_columns or {}
        for col in columns:
            if mapping and col in mapping.fields:
                out.append(FieldMatch(col, mapping.fields[col], "对照表 mapping file"))
                continue
            if col in coord_columns:
                out.append(FieldMatch(col, coord_columns[col], "坐标列 coordinate column"))
                continue
            key = norm_field(col)
            hits = self.own_index.get(key, {})  # the project's profile first, then any profile
            if len(hits) != 1:
                hits = self.index.get(key, {})
            if len(hits) == 1:
                role, how = next(iter(hits.items()))
                out.append(FieldMatch(col, role, f"完全一致 exact: {how}"))
                continue
            if key in AUTO_SKIP:
                out.append(FieldMatch(col, SKIP, "自动忽略（行号或几何量）auto-skip (row number or geometry measure)"))
                continue
            sugg = self.suggest(col, (values or {}).get(col))
            if len(hits) > 1:
                sugg = [(r, 1.0, "同名字段在不同标准中含义不同 ambiguous across profiles") for r in sorted(hits)] + sugg
            out.append(FieldMatch(col, None, "", sugg[:4]))
        # two columns on one role: the later ones are unmapped (never two sources for one field)
        seen = {}
        for m in out:
            if m.role and m.role != SKIP:
                if m.role in seen and m.how != "对照表 mapping file":
                    m.suggestions = [(m.role, 1.0, f"与列 {seen[m.role]} 重复 same role as column {seen[m.role]}")]
                    m.role, m.how = None, ""
                else:
                    seen.setdefault(m.role, m.column)
        return out

    def suggest(self, col, sample=None) -> list:
        key = str(col).strip()
        scored = {}
        f = self.own
        for role, name, zh, en in zip(f["role"], f["name"], f["alias_zh"], f["alias_en"]):
            best = max(difflib.SequenceMatcher(None, key, zh).ratio(),
                       difflib.SequenceMatcher(None, key.lower(), str(name).lower()).ratio(),
                       difflib.SequenceMatcher(None, norm_field(key), norm_field(en)).ratio(),
                       difflib.SequenceMatcher(None, norm_field(key), norm_field(role)).ratio())
            if best >= 0.5:
                scored[role] = (best, f"名称相似 similar name: {zh} / {name}")
        if sample is not None and len(sample):
            kind = _value_kind(sample, self.profile, self.group)
            for role in list(scored):
                if _fits(role, kind):
                    s, why = scored[role]
                    scored[role] = (min(1.0, s + 0.1), why + f"；取值像{kind[1]} values look like {kind[0]}")
            if kind[0] == "class_code" and "class_code" in self.roles:
                s = scored.get("class_code", (0.0, ""))[0]
                scored["class_code"] = (max(s, 0.7), "取值像类别代码 values look like class codes")
            if kind[0] == "date":
                for r in ("change_date", "init_date", "occur_time"):
                    if r in self.roles and r not in scored:
                        scored[r] = (0.55, "取值像日期 values look like dates")
            if kind[0] == "class_name" and "name" in self.roles:
                s = scored.get("name", (0.0, ""))[0]
                scored["name"] = (max(s, 0.7), "取值是类别名称 values are class names")
            if kind[0] == "state" and "state" in self.roles:
                scored["state"] = (max(scored.get("state", (0.0, ""))[0], 0.7), "取值在部件状态值域中 values are states")
        return sorted(((r, round(s, 2), why) for r, (s, why) in scored.items()), key=lambda t: -t[1])


def _value_kind(sample, profile, group):
    vals = [norm_value(v) for v in sample if v is not None and str(v).strip()]
    if not vals:
        return ("empty", "空值")
    cm = ClassMatcher(profile, group)
    if np.mean([v in cm.name_of or v in cm.cross or (v.isdigit() and 3 <= len(v) <= 6) for v in vals]) > 0.8:
        return ("class_code", "类别代码")
    if np.mean([cm.exact(v) is not None for v in vals]) > 0.8:
        return ("class_name", "类别名称")
    states = set(profile.domain("component_state"))
    if states and np.mean([v in states for v in vals]) > 0.8:
        return ("state", "部件状态")
    if np.mean([bool(re.match(r"^\d{4}[-/年.]\d{1,2}", v)) for v in vals]) > 0.8:
        return ("date", "日期")
    if np.mean([bool(re.fullmatch(r"[0-9A-Z]{5,18}", v)) for v in vals]) > 0.8:
        return ("code", "代码")
    return ("text", "文字")


def _fits(role: str, kind) -> bool:
    k = kind[0]
    if k == "date":
        return role.endswith("date") or role.endswith("time")
    if k == "code":
        return role.endswith("code") or role.endswith("id")
    if k == "text":
        return role.endswith("name") or role in ("note", "location", "material", "description", "address")
    return False


# ----------------------------------------------------------------------------------------------
# classes

class ClassMatcher:
    """Exact class lookups for a profile, the certain crosswalk from other editions, and
    similarity suggestions."""

    _cache: dict = {}

    def __new__(cls, profile, group: str = "component"):
        key = (id(profile), group)
        hit = cls._cache.get(key)
        if hit is not None and hit.profile is profile:
            return hit
        self = super().__new__(cls)
        self._init(profile, group)
        cls._cache[key] = self
        return self

    def _init(self, profile, group):
        self.profile, self.group = profile, group
        t = _class_table(profile, group)
        self.table = t
        self.codes = list(t["code"].astype(str))
        self.name_of = dict(zip(self.codes, t["name"]))
        self.geom_of = dict(zip(self.codes, t["geometry"]))
        exact: dict = {}
        by_name: dict = {}
        for c, n, al in zip(self.codes, t["name"], t["aliases"]):
            exact[c] = c
            for v in [n] + _split_aliases(al):
                by_name.setdefault(norm_value(v), set()).add(c)
        self.by_name = by_name
        for v, cs in by_name.items():
            if len(cs) == 1 and v not in exact:
                exact[v] = next(iter(cs))
        self.exact_map = exact
        self._cross = None

    @property
    def cross(self) -> dict:
        """Codes of the other editions: code -> (target, certain, profile id, other name); built
        on first use (only for values that are not exact here)."""
        if self._cross is not None:
            return self._cross
        from ..profiles import list_profiles, load_profile

        cross: dict = {}
        by_name, exact = self.by_name, self.exact_map
        for info in list_profiles():
            try:
                p = load_profile(info["path"])
            except SurveyError:
                continue
            if p.id == self.profile.id:
                continue
            ot = _class_table(p, self.group)
            for c, n, g, al in zip(ot["code"].astype(str), ot["name"], ot["geometry"], ot["aliases"]):
                if c in exact:
                    continue
                hits = set()
                for v in [n] + _split_aliases(al):
                    hits |= by_name.get(norm_value(v), set())
                target = next(iter(hits)) if len(hits) == 1 else None
                certain = target is not None and (not g or not self.geom_of[target] or g == self.geom_of[target])
                prev = cross.get(c)
                if prev is not None and prev[0] != target:
                    certain = False
                cross[c] = (target, certain and (prev is None or prev[1]), p.id, n)
        self._cross = cross
        return cross

    def exact(self, value):
        """(code, how) for an exact match, else None."""
        v = norm_value(value)
        c = self.exact_map.get(v)
        if c is not None:
            how = "类别代码 class code" if v == c else "类别名称或别名 class name or alias"
            return c, how
        x = self.cross.get(v)
        if x is not None and x[1]:
            return x[0], f"{x[2]} 代码 {v} {x[3]} → {x[0]} {self.name_of[x[0]]}（同名 same name）"
        return None

    def suggest(self, value, co_values=None) -> list:
        """Suggestions for an unmapped value: [(code, score, why)], best first (never applied)."""
        v = norm_value(value)
        out: dict = {}

        def add(code, score, why):
            if code in self.name_of and (code not in out or out[code][0] < score):
                out[code] = (round(float(score), 2), why)

        clen = len(self.codes[0]) if self.codes else 4
        if v.isdigit() and len(v) < clen and v.zfill(clen) in self.name_of:
            add(v.zfill(clen), 0.9, f"前导零丢失 leading zeros lost: {v} → {v.zfill(clen)}")
        x = self.cross.get(v)
        if x is not None:
            for c, s in self._similar(x[3]):
                add(c, 0.8 * s, f"{x[2]} 代码 {v} 为“{x[3]}”，与“{self.name_of[c]}”相似 ({s:.2f}) "
                                f"{x[2]} code {v} is '{x[3]}', similar to '{self.name_of[c]}'")
        if co_values:
            total = sum(co_values.values())
            for co, n in co_values.items():
                hit = self.exact(co)
                if hit:
                    add(hit[0], 0.85 * n / total, f"这些记录的另一类别列为“{co}”（{n}/{total}） the records' other "
                                                  f"class column says '{co}' ({n}/{total})")
        if not v.isdigit():
            for c, s in self._similar(v):
                add(c, s, "名称相似 similar name")
        return sorted(((c, s, w) for c, (s, w) in out.items()), key=lambda t: -t[1])[:4]

    def _similar(self, text, cutoff=0.5):
        best: dict = {}
        for name, codes in self.by_name.items():
            s = difflib.SequenceMatcher(None, text, name).ratio()
            if s >= cutoff:
                for c in codes:
                    best[c] = max(best.get(c, 0.0), s)
        return sorted(best.items(), key=lambda t: -t[1])[:3]


# ----------------------------------------------------------------------------------------------
# the proposed mapping file

def proposal_path(project, source_path) -> Path:
    """``<project>.mapping-<source>.yaml`` in the project's folder (beside a GeoPackage; for a
    PostGIS project its configured folder, see :func:`surveytools.store.project_folder`)."""
    from .. import store

    stem = Path(str(source_path)).stem
    return Path(store.project_folder(project)) / f"{store.project_name(project)}.mapping-{stem}.yaml"


def _q(s) -> str:
    return json.dumps(str(s), ensure_ascii=False)


def write_proposal(path, *, source: str, profile, group: str, field_matches: list, class_rows: list,
                   command: str) -> Path:
    """Write the proposed mapping: every automatic match (with how it matched), every unmapped
    column or value as ``UNMAPPED`` with suggestions in a comment.  ``class_rows``:
    dicts {value, column, count, code, how, suggestions}."""
    lines = [
        "# surveytools 字段与类别对照表（建议稿）/ proposed field and class mapping",
        f"# 来源 source: {source}",
        f"# 标准配置 profile: {profile.id}    图层 layer: {group}",
        "#",
        "# 请把每个 UNMAPPED 改为字段角色或类别代码，或改为 skip（该列或这些记录不导入），然后运行：",
        "# Replace every UNMAPPED with a field role or class code, or with skip (leave the column or the",
        "# records out), then run:",
        f"#   {command}",
        "# “建议”只是相似度提示，不会自动采用。 Suggestions are hints only; they are never applied.",
        "# 完全一致的对应已自动填写（可以修改）。 Exact matches are filled in (you may change them).",
        "",
        f"profile: {profile.id}",
        f"layer: {group}",
        "fields:",
    ]
    for m in field_matches:
        if m.role:
            lines.append(f"  {_q(m.column)}: {m.role}    # {m.how}")
        else:
            sug = "; ".join(f"{r} ({s})" + (f" {w}" if w else "") for r, s, w in m.suggestions) or "无 none"
            lines.append(f"  {_q(m.column)}: {UNMAPPED}    # 未对应 unmapped · 建议 suggestions: {sug}")
    lines.append("classes:")
    for r in class_rows:
        where = f"{r['column']} · {r['count']} 条 records"
        if r["code"]:
            name = _class_table(profile, group).set_index("code")["name"].get(r["code"], "")
            lines.append(f"  {_q(r['value'])}: {_q(r['code'])}    # {name} · {r['how']} · {where}")
        else:
            names = _class_table(profile, group).set_index("code")["name"]
            sug = "; ".join(f"{_q(c)} {names.get(c, '')} {s:.2f} {w}" for c, s, w in r["suggestions"]) or "无 none"
            lines.append(f"  {_q(r['value'])}: {UNMAPPED}    # 未对应 unmapped · {where} · 建议 suggestions: {sug}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
