"""CLI / Processing operations for codes: ``code parse`` and ``code check``.

A malformed code raises :class:`~surveytools.codes.InvalidCodeError` (``code='invalid_code'``,
exit status 2) whose message explains every issue in Chinese and English and whose ``value``
(printed under ``error.value`` with ``--json``) holds the structured issues.  Warnings (an
unknown county or street) do not fail the command; they are listed in the result.
"""
from __future__ import annotations

from . import ops
from .codeformat import KIND_NAMES, KINDS
from .i18n import Text
from .lazy import lazy_function
from .ops import Param, Result, operation
from .profiles.light import list_profiles

# imported when an operation runs, never when the registry loads (the QGIS plugin loads it in QGIS)
divisions = lazy_function("surveytools.admin", "divisions")
InvalidCodeError = lazy_function("surveytools.codes", "InvalidCodeError")
check_code = lazy_function("surveytools.codes", "check_code")
parse_code = lazy_function("surveytools.codes", "parse_code")
load_profile = lazy_function("surveytools.profiles.loader", "load_profile")

ops.group("code", Text("编码", "Codes"))


def _profile_ids() -> str:
    try:
        return ", ".join(p["id"] for p in list_profiles())
    except Exception:  # the standards folder may be missing when only the library is installed
        return "cjt, gbt30428, gbt47678"


KIND_PARAM = Param("kind", "enum", Text("编码种类：unit_grid 单元网格、component_id 部件标识码、event_code 事件代码、class 类别代码",
                                        "kind of code: unit_grid, component_id, event_code or class"),
                   required=True, choices=KINDS, positional=True)
PROFILE_PARAM = Param("profile", "string", Text(f"标准配置（{_profile_ids()}，或配置文件夹路径）",
                                                f"standard profile ({_profile_ids()}, or a profile folder)"),
                      default="cjt")


def describe(kind: str, code: str, profile) -> dict:
    """Parts of a well-formed code with names looked up (county/street names, class name)."""
    parsed = parse_code(kind, code, profile)
    out = parsed.as_dict()
    names = {}
    d = divisions()
    if parsed.get("county"):
        c = d.county(parsed.county)
        if c:
            names["county"] = c["name"]
            names["city"] = c["city_name"]
            names["province"] = c["province_name"]
    if parsed.street_code:
        names["street"] = d.street_name(parsed.street_code)
    cc = parsed.class_code
    if cc:
        rows = []
        if kind in ("component_id", "class"):
            rows.append(("component", profile.component_class(cc)))
        if kind in ("event_code", "class"):
            rows.append(("event", profile.event_class(cc)))
        for table, row in rows:
            if row is not None:
                names["class"] = row["name"]
                names["major"] = row["major_name"]
                names["class_table"] = table
                break
    out["names"] = {k: v for k, v in names.items() if v}
    return out


def _issues_text(code: str, issues) -> Text:
    zh = "\n".join(f"  [{'错误' if i.severity == 'error' else '警告'} {i.reason}] {i.message.zh}" for i in issues)
    en = "\n".join(f"  [{i.severity} {i.reason}] {i.message.en}" for i in issues)
    return Text(f"{code}:\n{zh}" if zh else f"{code}: 有效", f"{code}:\n{en}" if en else f"{code}: valid")


@operation("code", "parse", Text("解析一个编码：拆分各部分并查出行政区划和类别名称",
                                 "Parse a code: split it into its parts and look up the division and class names"),
           params=[KIND_PARAM, Param("code", "string", Text("要解析的编码", "the code to parse"), required=True,
                                     positional=True), PROFILE_PARAM])
def code_parse(kind: str, code: str, profile: str = "cjt", feedback=None) -> Result:
    prof = load_profile(profile or "cjt")
    issues = check_code(kind, code, prof)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InvalidCodeError(kind, code, issues, {"profile": prof.id})
    info = describe(kind, code, prof)
    info["issues"] = [i.as_dict() for i in issues]
    what = KIND_NAMES[kind]
    parts = " + ".join(f"{k} {v}" for k, v in info["parts"].items())
    names = info["names"]
    label = "".join(names.get(k, "") for k in ("province", "city", "county", "street") if names.get(k) not in (None, "市辖区"))
    cls = f" {names.get('major', '')}/{names['class']}" if "class" in names else ""
    zh = f"{what.zh} {code}（{prof.id}）：{parts}" + (f"；{label}" if label else "") + cls
    en = f"{what.en} {code} ({prof.id}): {parts}" + (f"; {label}" if label else "") + cls
    if issues:
        t = _issues_text(code, issues)
        zh, en = zh + "\n" + t.zh, en + "\n" + t.en
    return Result(summary=Text(zh, en), data={"profile": prof.id, **info},
                  warnings=[i.message for i in issues if i.severity == "warning"])


@operation("code", "check", Text("检查编码：空值、空格、全角、长度、字符、顺序码、类别和行政区划；有错误时以状态 2 退出",
                                 "Check codes: empty, whitespace, full-width, length, characters, serial, class and "
                                 "division; exits with status 2 when any code has an error"),
           params=[KIND_PARAM, Param("code", "string", Text("要检查的编码（可多个）", "the codes to check (one or more)"),
                                     required=True, positional=True, multiple=True), PROFILE_PARAM,
                   Param("admin", "bool", Text("对照国家统计局区划代码表检查县级和街道代码",
                                               "check county and street codes against the NBS division table"),
                         default=True)])
def code_check(kind: str, code, profile: str = "cjt", admin: bool = True, feedback=None) -> Result:
    prof = load_profile(profile or "cjt")
    codes = [code] if isinstance(code, str) else list(code or [])
    results = []
    for c in codes:
        issues = check_code(kind, c, prof, admin=admin)
        results.append({"code": c, "valid": not any(i.severity == "error" for i in issues),
                        "issues": [i.as_dict() for i in issues], "_issues": issues})
    n_bad = sum(not r["valid"] for r in results)
    n_warn = sum(any(i.severity == "warning" for i in r["_issues"]) for r in results)
    texts = [_issues_text(r["code"], r["_issues"]) for r in results]
    what = KIND_NAMES[kind]
    head = Text(f"检查了 {len(results)} 个{what.zh}（{prof.id}）：{n_bad} 个有错误，{n_warn} 个有警告",
                f"checked {len(results)} {what.en}(s) ({prof.id}): {n_bad} with errors, {n_warn} with warnings")
    summary = Text(head.zh + "\n" + "\n".join(t.zh for t in texts), head.en + "\n" + "\n".join(t.en for t in texts))
    for r in results:
        r.pop("_issues")
    data = {"profile": prof.id, "kind": kind, "count": len(results), "invalid": n_bad, "results": results}
    if n_bad:
        err = InvalidCodeError(kind, ", ".join(str(c) for c in codes if c is not None), [], data)
        err.message = summary
        raise err
    warnings = [Text(f"{r['code']}: {i['message']['zh']}", f"{r['code']}: {i['message']['en']}")
                for r in results for i in r["issues"] if i["severity"] == "warning"]
    return Result(summary=summary, data=data, warnings=warnings)
