"""One loader for every standard profile.

A profile is a folder under ``standards/`` holding ``profile.yaml`` and CSV tables:

``component_classes.csv`` / ``event_classes.csv``
    ``code, major_code, major_name, name, geometry, accuracy, aliases, status, provenance, source, notes``
``fields.csv`` (and ``fields_<area>.csv``, read together)
    ``layer, role, name, alias_zh, alias_en, type, length, constraint, domain, provenance, source, notes``
    (``role`` is the library's name for the field; ``name`` is the profile's standard field name)
``domains.csv``
    ``domain, code, value, value_en, provenance, source``
``layers_<area>.yaml``
    more layer definitions (key → table, geometry, title), merged with ``layers`` in profile.yaml

A city profile sets ``extends: <base>`` and adds classes (extension majors from 21, local
minors such as 98/99), renames classes and adds fields.  A code that collides with its base,
or a standard-reserved code used for an extension, is rejected with a clear message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from ..i18n import Text
from .light import (
    LayerSpec,
    ProfileError,
    code_specs,
    folder_mtime,
    layer_spec,
    layer_specs,
    parent_dir,
)
from .light import profile_dir as _profile_dir

CLASS_COLUMNS = ["code", "major_code", "major_name", "name", "geometry", "accuracy", "aliases",
                 "status", "provenance", "source", "notes"]
FIELD_COLUMNS = ["layer", "role", "name", "alias_zh", "alias_en", "type", "length", "constraint",
                 "domain", "provenance", "source", "notes"]
DOMAIN_COLUMNS = ["domain", "code", "value", "value_en", "provenance", "source"]
PROVENANCE = {"confirmed", "corroborated", "inferred", "recalled", "official", "local", "extension"}
GEOMETRIES = {"point", "line", "polygon", ""}
FIELD_TYPES = {"text", "integer", "real", "date", "datetime"}


def _yaml(text: str):
    """``yaml.safe_load`` through libyaml when PyYAML has it (ten times faster)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@dataclass
class Profile:
    id: str
    path: Path
    title: Text
    edition: str
    status: str
    schema_version: int
    chain: list
    standards: list
    codes: dict
    layers: dict
    component_classes: pd.DataFrame
    event_classes: pd.DataFrame
    fields: pd.DataFrame
    domains: pd.DataFrame
    accuracy_grades: dict
    extension: dict
    defaults: dict
    notice: Text | None = None
    raw: dict = field(default_factory=dict, repr=False)

    # -- lookups ------------------------------------------------------------------------------
    @property
    def provisional(self) -> bool:
        return self.status in ("provisional", "reconstructed")

    @property
    def class_code_length(self) -> int:
        return self.codes["class"].length

    def layer(self, key: str) -> LayerSpec:
        try:
            return self.layers[key]
        except KeyError:
            raise ProfileError(Text(f"标准配置 {self.id} 没有图层 {key}", f"profile {self.id} has no layer {key}"),
                               file=str(self.path)) from None

    def layer_fields(self, key: str) -> pd.DataFrame:
        return self.fields[self.fields["layer"] == key].reset_index(drop=True)

    def field(self, layer: str, role: str, default: str | None = None) -> str | None:
        """The profile's field name for a library role, e.g. ("component", "component_id") -> "ObjID"."""
        f = self.fields
        hit = f[(f["layer"] == layer) & (f["role"] == role)]
        if len(hit):
            return hit["name"].iloc[0]
        return default

    def domain(self, name: str) -> list:
        d = self.domains
        return list(d.loc[d["domain"] == name, "value"])

    def component_class(self, code: str):
        hit = self.component_classes[self.component_classes["code"] == str(code)]
        return None if hit.empty else hit.iloc[0]

    def event_class(self, code: str):
        hit = self.event_classes[self.event_classes["code"] == str(code)]
        return None if hit.empty else hit.iloc[0]

    def summary(self) -> dict:
        return {
            "id": self.id, "title": self.title.as_dict(), "edition": self.edition, "status": self.status,
            "schema_version": self.schema_version, "extends": self.chain[1:],
            "codes": {k: {"parts": [list(p) for p in v.parts], "length": v.length, "provenance": v.provenance}
                      for k, v in self.codes.items()},
            "component_classes": int(len(self.component_classes)),
            "event_classes": int(len(self.event_classes)),
            "component_provenance": self.component_classes["provenance"].value_counts().to_dict(),
            "event_provenance": self.event_classes["provenance"].value_counts().to_dict(),
            "layers": {k: v.table for k, v in self.layers.items()},
            "path": str(self.path),
        }


# ----------------------------------------------------------------------------------------------
# locating profiles

# ----------------------------------------------------------------------------------------------
# reading

def _read_csv(path: Path, columns: list, what: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ProfileError(Text(f"无法读取{what}：{e}", f"cannot read {what}: {e}"), file=str(path)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ProfileError(Text(f"{what}缺少列 {missing}", f"{what} lacks columns {missing}"), file=str(path))
    return df[columns + [c for c in df.columns if c not in columns]]


def _check_classes(df: pd.DataFrame, path: Path, code_len: int, what: str) -> None:
    for i, row in df.iterrows():
        line = i + 2
        code = row["code"]
        if len(code) != code_len or not code.isdigit():
            raise ProfileError(Text(f"{what}第 {line} 行：类别代码应为 {code_len} 位数字",
                                    f"{what} line {line}: class code must be {code_len} digits"),
                               file=str(path), field="code", value=code)
        if not code.startswith(row["major_code"]):
            raise ProfileError(Text(f"{what}第 {line} 行：类别代码与大类代码 {row['major_code']} 不一致",
                                    f"{what} line {line}: code does not start with its major code {row['major_code']}"),
                               file=str(path), field="code", value=code)
        if row["geometry"] not in GEOMETRIES:
            raise ProfileError(Text(f"{what}第 {line} 行：几何类型应为 point/line/polygon",
                                    f"{what} line {line}: geometry must be point, line or polygon"),
                               file=str(path), field="geometry", value=row["geometry"])
        if row["provenance"] not in PROVENANCE:
            raise ProfileError(Text(f"{what}第 {line} 行：来源标记应为 {sorted(PROVENANCE)} 之一",
                                    f"{what} line {line}: provenance must be one of {sorted(PROVENANCE)}"),
                               file=str(path), field="provenance", value=row["provenance"])
    dup = df["code"][df["code"].duplicated()]
    if len(dup):
        raise ProfileError(Text(f"{what}中类别代码重复：{sorted(set(dup))}", f"duplicate class codes in {what}: {sorted(set(dup))}"),
                           file=str(path), field="code")


def _merge_classes(base: pd.DataFrame, child: pd.DataFrame, renames: dict, profile_id: str,
                   extension: dict, path: Path, what: str, code_len: int) -> pd.DataFrame:
    if child is not None and len(child):
        clash = sorted(set(child["code"]) & set(base["code"]))
        if clash:
            raise ProfileError(Text(f"{what}与基础标准的类别代码冲突：{clash}。扩展类别应使用新代码；改名请写在 profile.yaml 的 renames 中",
                                    f"{what} collide with class codes of the base profile: {clash}. Extensions need new "
                                    "codes; put renames under 'renames' in profile.yaml"),
                               file=str(path), field="code", value=clash[0], code="code_collision")
        major_from = int(extension.get("major_from", 21))
        local = {str(m) for m in extension.get("local_minors", ["98", "99"])}
        minor_len = code_len - 2
        bad = [c for c in child["code"] if int(c[:2]) < major_from and c[2:].zfill(minor_len)[-2:] not in local]
        if bad:
            raise ProfileError(Text(f"{what}中的扩展代码 {bad} 占用了标准保留的代码段：扩展大类应从 {major_from} 起，"
                                    f"标准大类下的扩展小类应使用 {sorted(local)}",
                                    f"extension codes {bad} in {what} use the range reserved for the standard: extension "
                                    f"majors start at {major_from}; extension minors under a standard major use {sorted(local)}"),
                               file=str(path), field="code", value=bad[0], code="reserved_code")
        child = child.assign(origin=profile_id)
        base = pd.concat([base, child], ignore_index=True)
    for code, new in (renames or {}).items():
        code = str(code)
        hit = base["code"] == code
        if not hit.any():
            raise ProfileError(Text(f"renames 中的类别 {code} 不存在于基础标准", f"renamed class {code} is not in the base profile"),
                               file=str(path.parent / "profile.yaml"), field="renames", value=code)
        old = base.loc[hit, "name"].iloc[0]
        aliases = base.loc[hit, "aliases"].iloc[0]
        base.loc[hit, "aliases"] = "|".join([a for a in [aliases, old] if a])
        base.loc[hit, "name"] = new
        base.loc[hit, "origin"] = profile_id
    return base.sort_values("code", kind="stable").reset_index(drop=True)


@lru_cache(maxsize=32)
def _load_cached(path_str: str, _mtime: float) -> Profile:
    return _load(Path(path_str), seen=())


def load_profile(name_or_path="cjt") -> Profile:
    """Load a profile by id (``cjt``, ``gbt30428``, ``gbt47678``, a city id) or by folder path."""
    d = _profile_dir(name_or_path)
    return _load_cached(str(d), folder_mtime(d))


def _load(d: Path, seen: tuple) -> Profile:
    ypath = d / "profile.yaml"
    try:
        meta = _yaml(ypath.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ProfileError(Text(f"profile.yaml 格式错误：{e}", f"profile.yaml is malformed: {e}"), file=str(ypath)) from None
    pid = str(meta.get("id") or d.name)
    if pid in seen:
        raise ProfileError(Text(f"标准配置继承关系循环：{' -> '.join(seen + (pid,))}",
                                f"profiles extend each other in a cycle: {' -> '.join(seen + (pid,))}"), file=str(ypath))
    base = None
    if meta.get("extends"):
        base = _load(parent_dir(d, meta["extends"]), seen + (pid,))
    codes = code_specs(meta, base.codes if base else None, d)
    for kind in ("class", "unit_grid", "component_id", "event_code"):
        if kind not in codes:
            raise ProfileError(Text(f"标准配置缺少编码结构 {kind}", f"profile lacks the code structure {kind}"),
                               file=str(ypath), field=f"codes.{kind}")
    clen = codes["class"].length
    extension = {**(base.extension if base else {}), **(meta.get("extension") or {})}

    def classes(fname, base_df, what):
        p = d / fname
        mode = (meta.get("tables") or {}).get(fname.replace(".csv", ""), "extend")
        df = _read_csv(p, CLASS_COLUMNS, what) if p.exists() else None
        if df is not None:
            _check_classes(df, p, clen, what)
        if base_df is None or mode == "replace":
            if df is None:
                return pd.DataFrame({c: pd.Series([], dtype=object) for c in CLASS_COLUMNS + ["origin"]})
            return df.assign(origin=pid).sort_values("code", kind="stable").reset_index(drop=True)
        renames = (meta.get("renames") or {}).get(fname.replace("_classes.csv", ""), {})
        return _merge_classes(base_df.copy(), df, renames, pid, extension, p, what, clen)

    comp = classes("component_classes.csv", base.component_classes if base else None, "部件分类表/component class table")
    evt = classes("event_classes.csv", base.event_classes if base else None, "事件分类表/event class table")

    fpath = d / "fields.csv"
    fparts = [_read_csv(fp, FIELD_COLUMNS, "字段表/field table") for fp in sorted(d.glob("fields*.csv"))]
    fields = pd.concat(fparts, ignore_index=True) if fparts else None
    if fields is not None:
        dupf = fields[fields.duplicated(["layer", "name"], keep=False)]
        if len(dupf):
            raise ProfileError(Text(f"字段表中字段重复：{dupf['layer'].iloc[0]}.{dupf['name'].iloc[0]}",
                                    f"duplicate field in the field tables: {dupf['layer'].iloc[0]}.{dupf['name'].iloc[0]}"),
                               file=str(fpath), field="name", value=dupf["name"].iloc[0])
    if fields is not None:
        badt = fields[~fields["type"].isin(FIELD_TYPES)]
        if len(badt):
            raise ProfileError(Text("字段类型无效", "invalid field type"), file=str(fpath), field="type",
                               value=badt["type"].iloc[0])
    if base is not None and fields is not None and len(fields):
        key = ["layer", "name"]
        clash = fields.merge(base.fields[key], on=key)
        if len(clash):
            raise ProfileError(Text(f"扩展字段与基础标准字段重名：{clash['layer'].iloc[0]}.{clash['name'].iloc[0]}",
                                    f"extra field collides with a base field: {clash['layer'].iloc[0]}.{clash['name'].iloc[0]}"),
                               file=str(fpath), field="name", value=clash["name"].iloc[0], code="field_collision")
        fields = pd.concat([base.fields, fields], ignore_index=True)
    elif fields is None:
        fields = base.fields.copy() if base is not None else _read_csv(fpath, FIELD_COLUMNS, "字段表/field table")

    dpath = d / "domains.csv"
    domains = _read_csv(dpath, DOMAIN_COLUMNS, "值域表/domain table") if dpath.exists() else None
    if base is not None:
        domains = base.domains.copy() if domains is None else pd.concat([base.domains, domains], ignore_index=True)
    elif domains is None:
        domains = _read_csv(dpath, DOMAIN_COLUMNS, "值域表/domain table")

    layers = dict(base.layers) if base else {}
    for key, spec in layer_specs(d, meta).items():
        layers[key] = layer_spec(key, spec)
    title = meta.get("title") or {}
    notice = meta.get("notice")
    defaults = {**(base.defaults if base else {}), **(meta.get("defaults") or {})}
    grades = {**(base.accuracy_grades if base else {}), **(meta.get("accuracy_grades") or {})}
    return Profile(
        id=pid, path=d, title=Text(title.get("zh", pid), title.get("en", pid)),
        edition=str(meta.get("edition", base.edition if base else "")),
        status=str(meta.get("status", "local" if base else "")),
        schema_version=int(meta.get("schema_version", base.schema_version if base else 1)),
        chain=[pid] + (base.chain if base else []),
        standards=list(meta.get("standards") or (base.standards if base else [])),
        codes=codes, layers=layers, component_classes=comp, event_classes=evt, fields=fields,
        domains=domains, accuracy_grades=grades, extension=extension, defaults=defaults,
        notice=Text(notice["zh"], notice["en"]) if notice else (base.notice if base else None), raw=meta)
