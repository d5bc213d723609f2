"""The administrative gazetteer used by the parser: every NBS 2023 province, prefecture, county and
street/town name, full and suffix-stripped ("short"), in one Aho-Corasick automaton.

Short names (rules, applied in order, kept only when at least 2 characters remain):

* province: ``维吾尔自治区``, ``壮族自治区``, ``回族自治区``, ``自治区``, ``特别行政区``, ``省``, ``市``
  are stripped (广西壮族自治区 → 广西);
* prefecture: ``<民族>族…自治州`` (延边朝鲜族自治州 → 延边), then ``地区``, ``盟``, ``市``;
* county: ``<民族>族…自治县/自治旗`` (长阳土家族自治县 → 长阳), then ``新区``, ``林区``, ``特区``,
  ``区``, ``县``, ``市``, ``旗`` (海淀区 → 海淀, 贵溪市 → 贵溪);
* streets/towns are matched by their full names only (花园街道, 暨阳街道, 城关镇): their short
  names collide with ordinary words (花园, 城关).

A name maps to every division that bears it: 鼓楼区 maps to four counties, and the parser resolves
the ambiguity from context (see :mod:`surveytools.geocode.parse`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..admin import PLACEHOLDER_CITY_NAMES, divisions

_ETHNIC = ("蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|拉祜|水|东乡|"
           "纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|俄罗斯|"
           "鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各")
_AUTONOMOUS = re.compile(rf"^(.{{2,}}?)(?:(?:{_ETHNIC})族)+自治(?:州|县|旗)$")
PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")
CITY_SUFFIXES = ("地区", "盟", "市")
COUNTY_SUFFIXES = ("新区", "林区", "特区", "区", "县", "市", "旗")

LEVELS = ("province", "city", "county", "street")


def short_name(name: str, level: str) -> str | None:
    """The suffix-stripped name (≥ 2 characters) or None."""
    if level == "street":
        return None
    m = _AUTONOMOUS.match(name)
    if m and level in ("city", "county"):
        return m.group(1)
    sufs = {"province": PROVINCE_SUFFIXES, "city": CITY_SUFFIXES, "county": COUNTY_SUFFIXES}[level]
    for s in sufs:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return None


@dataclass(frozen=True)
class Entry:
    level: str
    code: str
    full: bool


class Gazetteer:
    def __init__(self):
        import ahocorasick

        d = divisions()
        self.names = {"province": dict(d._provinces),
                      "city": {c: n for c, (n, _p) in d._cities.items()},
                      "county": {c: n for c, (n, _c, _p) in d._counties.items()},
                      "street": {c: n for c, (n, _a) in d._streets.items()}}
        self.county_city = {c: cc for c, (_n, cc, _p) in d._counties.items()}
        table: dict[str, list] = {}

        def add(key, entry):
            table.setdefault(key, []).append(entry)

        for level in LEVELS:
            for code, name in self.names[level].items():
                if level == "city" and name in PLACEHOLDER_CITY_NAMES:
                    continue
                add(name, Entry(level, code, True))
                s = short_name(name, level)
                if s:
                    add(s, Entry(level, code, False))
        self.table = {k: tuple(v) for k, v in table.items()}
        #: full county-level names → codes (used by the evaluation and for ambiguity reports)
        self.county_by_name: dict[str, list] = {}
        for code, name in self.names["county"].items():
            self.county_by_name.setdefault(name, []).append(code)
        A = ahocorasick.Automaton()
        for key, entries in self.table.items():
            A.add_word(key, (key, entries))
        A.make_automaton()
        self.automaton = A

    def city_name(self, code4: str) -> str | None:
        n = self.names["city"].get(code4)
        if n in PLACEHOLDER_CITY_NAMES:  # 北京市 市辖区 → 北京市
            return self.names["province"].get(code4[:2])
        return n


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()
