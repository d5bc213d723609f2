"""Check schemes (检查方案): which rules run, in which order, with which parameters and on-fail
behaviour.

A scheme is a YAML file: ``standards/<profile>/schemes/<name>.yaml`` (found along the profile's
``extends`` chain, so a city inherits its base profile's schemes) or any path given with
``--scheme FILE``::

    id: default
    profile: cjt
    title: {zh: …, en: …}
    extends: cjt            # optional: start from that profile's scheme of the same id
    steps:
      - {rule: geometry.valid, on_fail: halt}             # halt | warn | ignore
      - {rule: geometry.duplicate, params: {tolerance_m: 0.3}, severity: warning}
      - {id: dup_grids, rule: codes.duplicate, params: {kinds: [unit_grid]}, after: codes.format}
      - {rule: codes.missing_serial, enabled: false}
    disable: [topology.grid_area]

A step's ``id`` defaults to its rule id; in an extending scheme a step with a known id changes
that step field by field (params are merged), an unknown id is added after ``after`` (or at the
end).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import SurveyError
from ..i18n import Text

ON_FAIL = ("halt", "warn", "ignore")


@dataclass
class Step:
    id: str
    rule: str
    on_fail: str = "warn"
    params: dict = field(default_factory=dict)
    severity: str | None = None


@dataclass
class Scheme:
    id: str
    title: Text
    path: str
    profile: str | None
    steps: list


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SurveyError(Text(f"无法读取检查方案：{e}", f"cannot read the check scheme: {e}"), code="bad_scheme",
                          file=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("steps", []), list):
        raise SurveyError(Text("检查方案格式错误：应有 steps 列表", "malformed check scheme: it needs a list of steps"),
                          code="bad_scheme", file=str(path))
    return data


def _profile_dirs(profile) -> list[Path]:
    from ..profiles.loader import _profile_dir

    dirs = [Path(profile.path)]
    for pid in profile.chain[1:]:
        try:
            dirs.append(_profile_dir(pid))
        except SurveyError:
            pass
    return dirs


def find_scheme(profile, name: str = "default") -> Path:
    """The scheme file of ``name`` for ``profile`` (own folder first, then the base profiles)."""
    for d in _profile_dirs(profile):
        p = d / "schemes" / f"{name}.yaml"
        if p.exists():
            return p
    raise SurveyError(Text(f"标准配置 {profile.id} 没有检查方案“{name}”", f"profile {profile.id} has no check scheme '{name}'"),
                      code="unknown_scheme", value=name,
                      hint=Text("可用 --scheme 给出方案文件路径", "give a scheme file with --scheme"))


def _base_for(profile_id: str, name: str) -> Path:
    from ..profiles.loader import _profile_dir

    p = _profile_dir(profile_id) / "schemes" / f"{name}.yaml"
    if not p.exists():
        raise SurveyError(Text(f"被继承的检查方案不存在：{profile_id}/{name}", f"the extended scheme {profile_id}/{name} does not exist"),
                          code="unknown_scheme", file=str(p))
    return p


def load_scheme(spec, profile, catalogue: dict | None = None) -> Scheme:
    """A scheme by name (looked up for ``profile``) or by path; validated against the catalogue."""
    from .catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    spec = spec or "default"
    p = Path(str(spec))
    path = p if (p.suffix.lower() in (".yaml", ".yml") or p.exists()) else find_scheme(profile, str(spec))
    if not path.exists():
        raise SurveyError(Text("检查方案文件不存在", "the check scheme file does not exist"), code="not_found", file=str(path))
    steps = _steps(path, seen=())
    data = _read(path)
    t = data.get("title") or {}
    sid = str(data.get("id", path.stem))
    out = []
    for i, s in enumerate(steps):
        rid = s.get("rule")
        where = dict(file=str(path), field=f"steps[{i}]", value=rid)
        if rid not in catalogue:
            raise SurveyError(Text(f"检查方案中的规则 {rid} 不在规则目录中", f"the scheme names rule {rid}, which is not in the catalogue"),
                              code="bad_scheme", **where)
        on_fail = s.get("on_fail", "warn")
        if on_fail not in ON_FAIL:
            raise SurveyError(Text(f"on_fail 应为 {ON_FAIL} 之一", f"on_fail must be one of {ON_FAIL}"), code="bad_scheme", **where)
        sev = s.get("severity")
        if sev is not None and sev not in ("error", "warning"):
            raise SurveyError(Text("severity 应为 error 或 warning", "severity must be error or warning"), code="bad_scheme", **where)
        params = dict(s.get("params") or {})
        unknown = set(params) - set(catalogue[rid].params)
        if unknown:
            raise SurveyError(Text(f"规则 {rid} 没有参数 {sorted(unknown)}", f"rule {rid} has no parameters {sorted(unknown)}"),
                              code="bad_scheme", **where)
        for name, value in params.items():
            params[name] = _check_param(rid, name, catalogue[rid].params[name], value, where)
        if s.get("enabled", True) is False:
            continue
        out.append(Step(str(s.get("id") or rid), rid, on_fail, params, sev))
    ids = [s.id for s in out]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise SurveyError(Text(f"检查方案中步骤标识重复：{dup}（同一规则出现两次时请给出 id）",
                               f"duplicate step ids in the scheme: {dup} (give an id when a rule appears twice)"),
                          code="bad_scheme", file=str(path))
    return Scheme(sid, Text(t.get("zh", sid), t.get("en", sid)), str(path), data.get("profile"), out)


def _check_param(rid: str, name: str, default, value, where: dict):
    """``value`` of rule parameter ``name`` if it has the type of the catalogue's default (a number,
    finite and not negative where the default is not; a yes/no; a list; a text), else a bilingual
    error naming the step, the parameter and the value."""
    import datetime as dt
    import math

    def bad(zh: str, en: str):
        return SurveyError(Text(f"规则 {rid} 的参数 {name} {zh}", f"parameter {name} of rule {rid} {en}"),
                           code="bad_scheme", file=where["file"], field=f"{where['field']}.params.{name}", value=value)

    is_num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("应为 true 或 false", "must be true or false")
    elif is_num(default) or default is None:
        if value is None and default is None:
            return value
        if not is_num(value):
            raise bad("应为数字", "must be a number")
        if not math.isfinite(value):
            raise bad("应为有限的数字", "must be a finite number")
        if value < 0 and (default is None or default >= 0):
            raise bad("不能为负数", "must not be negative")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise bad("应为列表，如 [a, b]", "must be a list, e.g. [a, b]")
    elif isinstance(default, str):
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if not isinstance(value, str):
            raise bad("应为文本", "must be text")
    return value


def _steps(path: Path, seen: tuple) -> list[dict]:
    data = _read(path)
    if str(path.resolve()) in seen:
        raise SurveyError(Text("检查方案继承关系循环", "check schemes extend each other in a cycle"), code="bad_scheme", file=str(path))
    own = [dict(s) for s in data.get("steps") or []]
    for s in own:
        if not isinstance(s, dict) or "rule" not in s and "id" not in s:
            raise SurveyError(Text("检查方案的每个步骤都需要 rule", "every scheme step needs a rule"), code="bad_scheme",
                              file=str(path), value=str(s))
    base = data.get("extends")
    if not base:
        steps = own
    else:
        bpath = _base_for(str(base), str(data.get("id", path.stem)))
        steps = _steps(bpath, seen + (str(path.resolve()),))
        index = {str(s.get("id") or s["rule"]): i for i, s in enumerate(steps)}
        for s in own:
            sid = str(s.get("id") or s["rule"])
            if sid in index:
                cur = steps[index[sid]]
                merged = {**cur, **{k: v for k, v in s.items() if k not in ("params", "after")}}
                merged["params"] = {**(cur.get("params") or {}), **(s.get("params") or {})}
                steps[index[sid]] = merged
            else:
                s = dict(s)
                after = s.pop("after", None)
                pos = len(steps)
                if after is not None:
                    ids = [str(x.get("id") or x["rule"]) for x in steps]
                    if after not in ids:
                        raise SurveyError(Text(f"after 指向不存在的步骤 {after}", f"after names an unknown step {after}"),
                                          code="bad_scheme", file=str(path), value=after)
                    pos = ids.index(after) + 1
                steps.insert(pos, s)
                index = {str(x.get("id") or x["rule"]): i for i, x in enumerate(steps)}
    drop = set(data.get("disable") or [])
    steps = [dict(s) for s in steps if str(s.get("id") or s["rule"]) not in drop]
    for s in steps:
        s.pop("after", None)
    return steps

