"""Profiles read with the standard library only: the QGIS plugin's view of a profile.

Inside QGIS's own Python only the standard library, ``qgis`` and ``qgis.PyQt`` are promised, so
the plugin cannot use the pandas :class:`~surveytools.profiles.loader.Profile`.  This module reads
the same files (``profile.yaml`` through :mod:`.miniyaml`, the CSV tables through :mod:`csv`) and
applies the same inheritance rules (``extends``, ``tables: replace``, ``renames``, extra fields,
``layers_*.yaml``), giving plain lists of dicts.  The full loader imports :class:`CodeSpec`,
:class:`LayerSpec`, :func:`find_standards_dir` and :func:`list_profiles` from here, and
tests/test_profiles_light.py checks that both loaders agree on every profile shipped, so the
plugin and the library cannot drift.  Checking a profile (bad codes, collisions …) stays the full
loader's job; this reader assumes a profile the library accepts.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text
from .miniyaml import MiniYamlError, loads


class ProfileError(SurveyError):
    pass


@dataclass(frozen=True)
class CodeSpec:
    """Structure of a code: ordered (part, length) pairs, e.g. county 6 + street 3 + …"""

    kind: str
    parts: tuple
    provenance: str = ""
    source: str = ""
    #: allowed characters of the serial part: "digits" or "alnum" (0-9A-Z)
    charset: str = "digits"

    @property
    def length(self) -> int:
        return sum(n for _, n in self.parts)

    def span(self, part: str) -> tuple[int, int]:
        pos = 0
        for name, n in self.parts:
            if name == part:
                return pos, pos + n
            pos += n
        raise KeyError(part)

    def part_length(self, part: str) -> int:
        a, b = self.span(part)
        return b - a


@dataclass(frozen=True)
class LayerSpec:
    key: str
    table: str
    geometry: str | None
    title: Text


def read_yaml(path: Path):
    """A profile YAML file through the standard-library reader, errors as :class:`ProfileError`."""
    try:
        return loads(Path(path).read_text(encoding="utf-8"), str(path))
    except MiniYamlError as e:
        raise ProfileError(Text(f"YAML 文件格式错误：{e}", f"malformed YAML file: {e}"), file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(Text(f"无法读取文件：{e}", f"cannot read the file: {e}"), file=str(path)) from None


# ----------------------------------------------------------------------------------------------
# locating profiles

def find_standards_dir() -> Path:
    """``$SURVEYTOOLS_STANDARDS``, else ``standards/`` beside the package (a checkout, an editable
    install, or the QGIS plugin ZIP), else the copy bundled in the wheel."""
    env = os.environ.get("SURVEYTOOLS_STANDARDS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "standards", here / "_standards"):
        if (cand / "cjt" / "profile.yaml").exists():
            return cand
    raise ProfileError(Text("找不到标准配置目录 standards/；请设置环境变量 SURVEYTOOLS_STANDARDS",
                            "cannot find the standards/ folder; set SURVEYTOOLS_STANDARDS"))


def profile_dir(name_or_path) -> Path:
    """The folder of a profile given by id or path."""
    p = Path(str(name_or_path))
    if (p / "profile.yaml").exists():
        return p.resolve()
    if p.name == "profile.yaml" and p.exists():
        return p.parent.resolve()
    root = find_standards_dir()
    for cand in (root / str(name_or_path), root / "cities" / str(name_or_path)):
        if (cand / "profile.yaml").exists():
            return cand.resolve()
    known = ", ".join(i["id"] for i in list_profiles())
    raise ProfileError(Text(f"未知的标准配置“{name_or_path}”（可用：{known}）",
                            f"unknown profile '{name_or_path}' (available: {known})"), code="unknown_profile")


def list_profiles() -> list[dict]:
    """``[{id, status, extends, edition, title, path}]`` of the profiles under ``standards/``."""
    root = find_standards_dir()
    out = []
    for y in sorted(list(root.glob("*/profile.yaml")) + list(root.glob("cities/*/profile.yaml"))):
        try:
            meta = read_yaml(y) or {}
        except ProfileError:
            continue
        out.append({"id": meta.get("id", y.parent.name), "status": meta.get("status", ""),
                    "extends": meta.get("extends"), "edition": meta.get("edition", ""),
                    "title": meta.get("title", {}), "path": str(y.parent)})
    return out


def parent_dir(d: Path, extends) -> Path:
    """Where the profile a profile ``extends`` lives (a sibling folder first)."""
    sibling = d.parent / str(extends)
    return sibling.resolve() if sibling.exists() else profile_dir(extends)


def layer_specs(d: Path, meta: dict) -> dict:
    """key → raw layer definition of one profile folder (``layers`` + ``layers_*.yaml``)."""
    specs = dict(meta.get("layers") or {})
    for extra in sorted(d.glob("layers_*.yaml")):  # one file per area (geocoding, validation …)
        specs.update(read_yaml(extra) or {})
    return specs


def layer_spec(key: str, spec: dict) -> LayerSpec:
    t = spec.get("title") or {}
    return LayerSpec(key, spec.get("table", key), spec.get("geometry"), Text(t.get("zh", key), t.get("en", key)))


def code_specs(meta: dict, base: dict | None, path: Path) -> dict:
    out = dict(base or {})
    for kind, spec in (meta.get("codes") or {}).items():
        try:
            parts = tuple((str(n), int(ln)) for n, ln in spec["parts"])
        except (KeyError, TypeError, ValueError):
            raise ProfileError(Text(f"编码结构 {kind} 格式错误", f"code structure {kind} is malformed"),
                               file=str(path / "profile.yaml"), field=f"codes.{kind}") from None
        out[kind] = CodeSpec(kind, parts, spec.get("provenance", ""), spec.get("source", ""),
                             spec.get("charset", "digits"))
    return out


# ----------------------------------------------------------------------------------------------
# the light profile

def _csv_rows(path: Path) -> list:
    if not path.exists():
        return []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return [dict(r) for r in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ProfileError(Text(f"无法读取表格：{e}", f"cannot read the table: {e}"), file=str(path)) from None


@dataclass
class LightProfile:
    """A profile as plain Python data (see the module docstring)."""

    id: str
    path: Path
    title: Text
    chain: list
    codes: dict
    layers: dict
    #: rows of the class tables (dicts with the CSV columns + ``origin``), sorted by code
    component_classes: list
    event_classes: list
    #: rows of the field tables (``layer, role, name, alias_zh, alias_en, type, length, constraint, domain …``)
    fields: list
    #: rows of the domain table (``domain, code, value, value_en …``)
    domains: list
    defaults: dict
    extension: dict
    raw: dict = field(default_factory=dict, repr=False)
    _by_class: dict = field(default_factory=dict, repr=False)

    def layer(self, key: str) -> LayerSpec:
        try:
            return self.layers[key]
        except KeyError:
            raise ProfileError(Text(f"标准配置 {self.id} 没有图层 {key}", f"profile {self.id} has no layer {key}"),
                               file=str(self.path)) from None

    def layer_fields(self, key: str) -> list:
        return [f for f in self.fields if f["layer"] == key]

    def field(self, layer: str, role: str, default: str | None = None) -> str | None:
        """The profile's field name for a library role, e.g. ("component", "component_id") -> "ObjID"."""
        for f in self.fields:
            if f["layer"] == layer and f["role"] == role:
                return f["name"]
        return default

    def domain(self, name: str) -> list:
        return [d["value"] for d in self.domains if d["domain"] == name]

    def component_class(self, code) -> dict | None:
        if not self._by_class:
            self._by_class = {r["code"]: r for r in self.component_classes}
        return self._by_class.get(str(code))

    def class_tree(self) -> list:
        """``[(major, major_name, [(code, name)])]`` of the component classes, sorted by code."""
        out = {}
        for r in sorted(self.component_classes, key=lambda r: r["code"]):
            major = out.setdefault(r["major_code"], (r["major_code"], r["major_name"], []))
            major[2].append((r["code"], r["name"]))
        return [out[k] for k in sorted(out)]


def _merge_classes(base: list, child: list, renames: dict, pid: str) -> list:
    rows = [dict(r) for r in base] + [dict(r, origin=pid) for r in child]
    by_code = {r["code"]: r for r in rows}
    for code, new in (renames or {}).items():
        r = by_code.get(str(code))
        if r is None:
            continue  # the full loader reports it
        r["aliases"] = "|".join(a for a in (r.get("aliases", ""), r["name"]) if a)
        r["name"] = str(new)
        r["origin"] = pid
    return sorted(rows, key=lambda r: r["code"])  # stable, as the full loader's sort


def _load(d: Path, seen: tuple) -> LightProfile:
    ypath = d / "profile.yaml"
    meta = read_yaml(ypath) or {}
    pid = str(meta.get("id") or d.name)
    if pid in seen:
        raise ProfileError(Text(f"标准配置继承关系循环：{' -> '.join(seen + (pid,))}",
                                f"profiles extend each other in a cycle: {' -> '.join(seen + (pid,))}"), file=str(ypath))
    base = _load(parent_dir(d, meta["extends"]), seen + (pid,)) if meta.get("extends") else None

    def classes(fname, base_rows):
        rows = _csv_rows(d / fname)
        mode = (meta.get("tables") or {}).get(fname.replace(".csv", ""), "extend")
        if base_rows is None or mode == "replace":
            return sorted((dict(r, origin=pid) for r in rows), key=lambda r: r["code"])
        renames = (meta.get("renames") or {}).get(fname.replace("_classes.csv", ""), {})
        return _merge_classes(base_rows, rows, renames, pid)

    comp = classes("component_classes.csv", base.component_classes if base else None)
    evt = classes("event_classes.csv", base.event_classes if base else None)
    own_fields = [r for fp in sorted(d.glob("fields*.csv")) for r in _csv_rows(fp)]
    fields = (list(base.fields) if base else []) + own_fields
    domains = (list(base.domains) if base else []) + _csv_rows(d / "domains.csv")
    layers = dict(base.layers) if base else {}
    for key, spec in layer_specs(d, meta).items():
        layers[key] = layer_spec(key, spec)
    title = meta.get("title") or {}
    return LightProfile(
        id=pid, path=d, title=Text(title.get("zh", pid), title.get("en", pid)),
        chain=[pid] + (base.chain if base else []),
        codes=code_specs(meta, base.codes if base else None, d), layers=layers,
        component_classes=comp, event_classes=evt, fields=fields, domains=domains,
        defaults={**(base.defaults if base else {}), **(meta.get("defaults") or {})},
        extension={**(base.extension if base else {}), **(meta.get("extension") or {})}, raw=meta)


@lru_cache(maxsize=16)
def _load_cached(path_str: str, _mtime: float) -> LightProfile:
    return _load(Path(path_str), seen=())


def folder_mtime(d: Path) -> float:
    """The newest modification time of the files in a profile folder (the profile caches' key)."""
    return max((p.stat().st_mtime for p in d.iterdir()), default=0.0)


def load_light_profile(name_or_path="cjt") -> LightProfile:
    """Load a profile by id or folder path with the standard library only."""
    d = profile_dir(name_or_path)
    return _load_cached(str(d), folder_mtime(d))


__all__ = ["CodeSpec", "LayerSpec", "LightProfile", "ProfileError", "field_group", "find_standards_dir", "list_profiles",
           "load_light_profile", "profile_dir", "read_yaml"]


def field_group(layer_key: str) -> str:
    """Layers that share one field table: components of every geometry type, current and
    retired unit grids (the same rule as :func:`surveytools.project.field_group`)."""
    if layer_key.startswith("component_"):
        return "component"
    if layer_key == "unit_grid_history":
        return "unit_grid"
    return layer_key
