"""Code structures and building codes from their parts, in the standard library only.

Shared by the library (:mod:`surveytools.codes`, which adds checking and whole-array parsing with
numpy/pandas) and the QGIS plugin, which builds component IDs inside QGIS's own Python where only
the standard library, ``qgis`` and ``qgis.PyQt`` are promised.  One implementation, so the rules
cannot drift between the two.
"""
from __future__ import annotations

from .errors import SurveyError
from .i18n import Text

KINDS = ("unit_grid", "component_id", "event_code", "class")

KIND_NAMES = {
    "unit_grid": Text("单元网格标识码", "unit grid code"),
    "component_id": Text("部件标识码", "component ID"),
    "event_code": Text("事件代码", "event code"),
    "class": Text("类别代码", "class code"),
}

PART_NAMES = {
    "county": Text("县级行政区划代码", "county code"),
    "street": Text("街道（乡镇）代码", "street (town) code"),
    "community": Text("社区（村）代码", "community code"),
    "serial": Text("顺序码", "serial"),
    "major": Text("大类代码", "major class code"),
    "minor": Text("小类代码", "minor class code"),
}

ALLOWED = {"digits": Text("数字 0-9", "a digit 0-9"), "alnum": Text("数字 0-9 或大写字母 A-Z", "a digit 0-9 or a capital letter A-Z")}


def _is_allowed(ch: str, charset: str) -> bool:
    if "0" <= ch <= "9":
        return True
    return charset == "alnum" and "A" <= ch <= "Z"


def _part_charset(spec, part: str) -> str:
    """The serial part follows the spec's charset; administrative and class parts are digits."""
    return spec.charset if part == "serial" else "digits"


def code_spec(kind: str, profile):
    """The :class:`~surveytools.profiles.spec.CodeSpec` of ``kind`` in ``profile``."""
    if kind not in KINDS:
        raise SurveyError(Text(f"未知的编码种类“{kind}”（可用：{', '.join(KINDS)}）",
                               f"unknown code kind '{kind}' (available: {', '.join(KINDS)})"), code="unknown_kind",
                          value=kind)
    try:
        return profile.codes[kind]
    except KeyError:
        raise SurveyError(Text(f"标准配置 {profile.id} 没有编码结构 {kind}", f"profile {profile.id} has no code structure {kind}"),
                          code="unknown_kind", value=kind) from None


def format_parts(kind: str, profile, **parts) -> str:
    """Build a code of ``kind`` from its parts (``profile`` is a loaded profile, full or light).
    Integers are zero-padded; ``class_code="0102"`` may stand for major + minor.  Raises
    :class:`SurveyError` for a missing, unknown, negative or too-long part."""
    spec = code_spec(kind, profile)
    names = [n for n, _ in spec.parts]
    if "class_code" in parts and "major" in names and "minor" in names:
        cc = str(parts.pop("class_code"))
        ml = spec.part_length("major")
        parts.setdefault("major", cc[:ml])
        parts.setdefault("minor", cc[ml:])
    unknown = sorted(set(parts) - set(names))
    if unknown:
        raise SurveyError(Text(f"{KIND_NAMES[kind].zh}没有这些部分：{unknown}（应为 {names}）",
                               f"the {KIND_NAMES[kind].en} has no parts {unknown} (parts: {names})"),
                          code="invalid_code_part", field=unknown[0])
    out = []
    for name, ln in spec.parts:
        pn = PART_NAMES.get(name, Text(name, name))
        if name not in parts or parts[name] is None:
            raise SurveyError(Text(f"缺少{pn.zh}", f"the {pn.en} is missing"), code="invalid_code_part", field=name)
        v = parts[name]
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 0 or v >= 10 ** ln:
                raise SurveyError(Text(f"{pn.zh} {v} 超出 {ln} 位（0–{10 ** ln - 1}）",
                                       f"{pn.en} {v} does not fit in {ln} digits (0–{10 ** ln - 1})"),
                                  code="invalid_code_part", field=name, value=v)
            s = str(v).zfill(ln)
        else:
            s = str(v)
            if len(s) != ln or not all(_is_allowed(ch, _part_charset(spec, name)) for ch in s):
                cs = _part_charset(spec, name)
                raise SurveyError(Text(f"{pn.zh}“{s}”应为 {ln} 位{ALLOWED[cs].zh}",
                                       f"{pn.en} '{s}' must be {ln} characters, each {ALLOWED[cs].en}"),
                                  code="invalid_code_part", field=name, value=s)
        out.append(s)
    return "".join(out)


def serial_of(kind: str, profile, code: str, prefix: str | None = None):
    """The serial (int) of a well-formed ``code`` of ``kind`` (optionally only when it starts with
    ``prefix``), else ``None``."""
    spec = code_spec(kind, profile)
    if not isinstance(code, str) or len(code) != spec.length:
        return None
    if prefix is not None and not code.startswith(prefix):
        return None
    a, b = spec.span("serial")
    s = code[a:b]
    return int(s) if s.isascii() and s.isdigit() else None


__all__ = ["KINDS", "KIND_NAMES", "PART_NAMES", "ALLOWED", "code_spec", "format_parts", "serial_of"]
