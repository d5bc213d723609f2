"""Parse a Chinese address string into its elements (rule and trie based, no model).

``parse("江西省鹰潭市贵溪市花园街道雄石路12号之一冶金小区3栋2单元501室")`` returns a dict with
``province, city, county, street, community, road, number, number_end, suffix, door, building,
unit, floor, room, poi`` (None when absent), the administrative codes (``province_code`` …
``street_code``), ``ambiguous`` (county candidates when a county name could not be resolved) and
``rest`` (what no rule consumed).

Steps (see docs/geocoding.md for the exact rules):

1. **normalise**: NFKC (full-width digits, letters and brackets → ASCII), drop phone numbers,
   brackets, spaces and punctuation; Chinese numerals directly before a unit word (号 栋 幢 座
   单元 层 楼 室 弄 附) become Arabic digits (十二号 → 12号, 一百零三室 → 103室);
2. **administrative part**: one leftmost-longest Aho-Corasick pass over every NBS name (full and
   short, :mod:`~surveytools.geocode.gazetteer`) anywhere in the string, so swapped order
   ("雄石路12号贵溪市") works; a short name directly followed by 路 街 巷 弄 道 桥 门 村 is part of a
   road or place name, not a division.  Candidates are resolved by context: a county scores for
   a matching province, prefecture, street found in the text, and for the caller's ``context``
   county; an unresolved tie is reported in ``ambiguous``;
3. **the rest**, by compiled regular expressions: community (…社区/居委会/村委会), door number
   (12号, 12-16号, 12号之一, 12附1号, 12号附1号), the road before it, building (3栋/幢/座/号楼),
   unit, floor, room and a POI name (the longest remaining text run).
"""
from __future__ import annotations

import re
import unicodedata

from .gazetteer import gazetteer

# -- normalisation ---------------------------------------------------------------------------------
_PHONE = re.compile(r"(?:电话|手机|联系电话|tel|TEL|Tel)?[:：]?(?:\+?86-?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_DROP = re.compile(r"[\s()\[\]{}（）【】<>《》\"'“”‘’,，。;；、:：!！?？·•*#＃/\\|]+")
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_VAL = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_NUM = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号|栋|幢|座|单元|层|楼|室|弄|附)")
_NUM_TRANS = str.maketrans({"－": "-", "—": "-", "–": "-", "~": "-", "～": "-"})


#: the most digits a door, building, unit, floor or room number can have; a longer run of digits
#: is not such a number (and is left unparsed rather than converted)
MAX_NUMBER_DIGITS = 9


def to_int(digits: str) -> int | None:
    """``int(digits)`` for a plausible number (at most :data:`MAX_NUMBER_DIGITS` digits), else None."""
    return int(digits) if digits and len(digits) <= MAX_NUMBER_DIGITS and digits.isdecimal() else None


def cn_to_int(text: str) -> int | None:
    """一百零三 → 103, 十二 → 12, 二十 → 20, 三〇五 → 305 (digit by digit when no 十百千)."""
    if not text or len(text) > MAX_NUMBER_DIGITS:
        return None
    if not any(c in "十百千" for c in text):
        try:
            return to_int("".join(str(_CN_VAL[c]) for c in text))
        except KeyError:
            return None
    total, cur = 0, 0
    for c in text:
        if c in _CN_VAL:
            cur = _CN_VAL[c]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[c]
            total += (cur or 1) * unit
            cur = 0
    return total + cur


def _cn_sub(m: re.Match) -> str:
    v = cn_to_int(m.group(0))
    return m.group(0) if v is None else str(v)


def normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", str(text or "")).translate(_NUM_TRANS)
    s = _PHONE.sub("", s)
    s = _DROP.sub("", s)
    if _CN_NUM.search(s):
        s = _CN_NUM.sub(_cn_sub, s)
    return s


# -- the rest of the address ----------------------------------------------------------------------
ROAD_SUFFIX = "大道|大街|胡同|公路|马路|路|街|巷|弄|道|里|段|线"
_COMMUNITY = re.compile(r"((?:(?![号栋幢座层室楼路街巷弄])[\u4e00-\u9fff]){2,10}?(?:社区居委会|社区居民委员会|社区|居委会|村委会|居民委员会))")
# numbers have at most 9 digits: a longer run of digits is no door, unit or floor number (and int() of a
# 10,000-digit run would fail)
_DOOR = re.compile(r"(?<!\d)(?P<n>\d{1,9})(?:-(?P<n2>\d{1,9}))?(?:号附(?P<a1>\d+)号?|附(?P<a2>\d+)号|号(?!楼)(?:之(?P<z>[一二三四五六七八九十\d]+))?)")
_LANE = re.compile(r"(?<!\d)(?P<n>\d{1,9})弄")
_ROAD_END = re.compile(rf"([\u4e00-\u9fffA-Za-z0-9\-]*?(?:{ROAD_SUFFIX}))$")
_ROAD_ANY = re.compile(rf"([\u4e00-\u9fff]{{1,12}}?(?:{ROAD_SUFFIX}))(?![\u4e00-\u9fff]{{0,1}}(?:{ROAD_SUFFIX}))")
_BUILDING = re.compile(r"(?P<b>[A-Za-z]?\d+[A-Za-z]?|[A-Za-z]|[\u4e00-\u9fff]{1,8}?)(?P<t>号楼|栋|幢|座)")
_UNIT = re.compile(r"(?<!\d)(\d{1,9})单元")
_FLOOR = re.compile(r"(?:第)?(?<!\d)(-?\d{1,9})(?:层|楼|[Ff](?![A-Za-z]))")
_ROOM = re.compile(r"(\d+[A-Za-z]?|[A-Za-z]\d+)(?:室|房|号房|户)?$")
_TEXT_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9\-]*[\u4e00-\u9fffA-Za-z]")
_SHORT_BLOCK = frozenset("路街巷弄道桥门村")
ELEMENTS = ("province", "city", "county", "street", "community", "road", "number", "number_end", "suffix",
            "door", "building", "unit", "floor", "room", "poi")


_AFTER_SHORT = re.compile(r"[东西南北中一二三四五六七八九十]{0,2}[路街巷弄道桥门村环园大]")


def _select(hits):
    """Non-overlapping hits covering the most characters (weighted interval scheduling), so that
    青岛市南区 reads 青岛 + 市南区 rather than 青岛市 + 南区; ties keep the earlier, longer hit."""
    if len(hits) <= 1:
        return hits
    hits.sort(key=lambda h: (h[1], h[0]))
    ends = [h[1] for h in hits]
    import bisect

    best = [(0, 0, ())]  # (covered, -count, chosen) after the first k hits
    for k, h in enumerate(hits):
        j = bisect.bisect_right(ends, h[0], 0, k)
        cov, negc, ch = best[j]
        take = (cov + h[1] - h[0], negc - 1, ch + (h,))
        skip = best[k]
        best.append(take if take[:2] > skip[:2] else skip)
    return sorted(best[-1][2])


def _admin(s: str, context: str | None):
    """Administrative hits and the chosen chain.  Returns (chain dict, spans to remove)."""
    g = gazetteer()
    hits = []
    n = len(s)
    for end, (key, entries) in g.automaton.iter(s):
        start = end - len(key) + 1
        if not any(e.full for e in entries):
            if end + 1 < n and _AFTER_SHORT.match(s, end + 1):
                continue  # 海淀路, 朝阳北路, 中山大道: a short name inside a road or place name
        elif len(key) == 2 and not (start > 0 and any(h[1] == start for h in hits)):
            continue  # 东区, 城区, 郊区: a 2-character full name only right after a higher level
        hits.append((start, end + 1, entries))
    hits = _select(hits)
    out = {"province_code": None, "city_code": None, "county_code": None, "street_code": None, "ambiguous": None}
    if not hits:
        return out, []
    provs, cities, counties, streets = {}, {}, {}, {}
    for st, en, entries in hits:
        for e in entries:
            if e.level == "province":
                provs.setdefault(e.code, st)
            elif e.level == "city":
                cities.setdefault(e.code, st)
            elif e.level == "county":
                if e.code not in counties:
                    counties[e.code] = (e.full, st)
            else:
                streets.setdefault(e.code[:6], []).append(e.code)
    ctx = context or ""
    county = None
    if counties:
        best, score = [], -1.0
        for c, (full, pos) in counties.items():
            sc = 0.0
            if provs.get(c[:2], pos) != pos:
                sc += 4
            if cities.get(c[:4], pos) != pos:
                sc += 4
            if not sc and not full and (set(provs.values()) | set(cities.values())) - {pos}:
                continue  # 武汉市东湖…: a short county name against the province/city named in the text
            if c in streets:
                sc += 2
            if ctx:
                sc += 3 if c == ctx else (1 if c[:4] == ctx[:4] else (0.5 if c[:2] == ctx[:2] else 0))
            if full:
                sc += 0.5
            sc -= pos * 1e-3  # the earlier name wins a tie (the first of several addresses)
            if sc > score + 1e-9:
                best, score = [c], sc
            elif abs(sc - score) <= 1e-9:
                best.append(c)
        if len(best) == 1:
            county = best[0]
        else:
            out["ambiguous"] = sorted(best)
            names = {g.names["county"][c] for c in best}
            if len(names) == 1:
                out["county_name"] = names.pop()
    elif streets:
        cand = [c for c in streets if (not provs or c[:2] in provs) and (not cities or c[:4] in cities)
                and (not ctx or c == ctx)]
        if len(cand) == 1 and (provs or cities or ctx or len(streets) == 1):
            county = cand[0]
    if county:
        out["county_code"] = county
        out["city_code"] = g.county_city.get(county)
        out["province_code"] = county[:2]
        sc = streets.get(county)
        if sc:
            out["street_code"] = sc[0]
    else:
        city = None
        amb_cities = sorted(cities if not provs else {c for c in cities if c[:2] in provs} or cities)
        if ctx and len(amb_cities) > 1:
            amb_cities = [c for c in amb_cities if c[:4] == ctx[:4]] or amb_cities
        if len(amb_cities) == 1:
            city = amb_cities[0]
        if city:
            out["city_code"] = city
            out["province_code"] = city[:2]
        elif len(provs) == 1:
            out["province_code"] = next(iter(provs))
        elif ctx and ctx[:2] in provs:
            out["province_code"] = ctx[:2]
    # spans of the hits belonging to the chosen chain are removed from the text
    chosen = {out["province_code"], out["city_code"], out["county_code"], out["street_code"]} - {None}
    amb = set(out["ambiguous"] or ())
    spans = [(st, en) for st, en, entries in hits if any(e.code in chosen or e.code in amb for e in entries)]
    return out, spans


def parse(address: str, context: str | None = None) -> dict:
    """Parse one address.  ``context``: a 6-digit county code that wins ties (the project's county)."""
    g = gazetteer()
    s = normalise(address)
    res = dict.fromkeys(ELEMENTS)
    res["input"] = address
    res["normalised"] = s
    admin, spans = _admin(s, context)
    res.update(admin)
    pc, cc, kc, sc = admin["province_code"], admin["city_code"], admin["county_code"], admin["street_code"]
    if pc:
        res["province"] = g.names["province"].get(pc)
    if cc:
        res["city"] = g.city_name(cc)
    if kc:
        res["county"] = g.names["county"].get(kc)
    elif admin.get("county_name"):
        res["county"] = admin.pop("county_name")
        res.pop("county_name", None)
    if sc:
        res["street"] = g.names["street"].get(sc)
    rest = s
    if spans:
        parts, pos = [], 0
        for st, en in spans:
            if st >= pos:
                parts.append(s[pos:st])
                pos = en
        parts.append(s[pos:])
        rest = "\u3000".join(p for p in parts if p)  # a separator keeps separated pieces apart
    m = _COMMUNITY.search(rest)
    if m:
        res["community"] = m.group(1)
        rest = rest[:m.start()] + "\u3000" + rest[m.end():]
    after = rest
    m = _DOOR.search(rest)
    if m:
        res["number"] = to_int(m.group("n"))
        if m.group("n2"):
            res["number_end"] = to_int(m.group("n2"))
        annex = m.group("a1") or m.group("a2")
        if annex:
            res["suffix"] = f"附{annex}"
        elif m.group("z"):
            z = m.group("z")
            zi = to_int(z) if z.isdigit() else cn_to_int(z)
            res["suffix"] = "之" + "零一二三四五六七八九十"[zi] if zi is not None and zi <= 10 else "之" + z
        res["door"] = m.group(0) if m.group(0).endswith("号") or res["suffix"] else m.group(0) + "号"
        before = rest[:m.start()]
        seg = before.rsplit("\u3000", 1)[-1]
        if not seg and "\u3000" in before:  # "12号雄石路": number before the road
            seg = ""
        rm = _ROAD_END.search(seg)
        road = rm.group(1) if rm else seg
        if road:
            res["road"] = road
            pre = seg[: len(seg) - len(road)]
            if len(pre) >= 2:
                res["poi"] = pre
        after = rest[m.end():]
        if not road:
            rm = _ROAD_ANY.search(after) or _ROAD_ANY.search(before)
            if rm:
                res["road"] = rm.group(1)
                after = after.replace(rm.group(1), "\u3000", 1)
    else:
        lm = _LANE.search(rest)
        rm = _ROAD_ANY.search(rest)
        if rm:
            res["road"] = rm.group(1)
            after = rest[rm.end():]
            pre = rest[:rm.start()].rsplit("\u3000", 1)[-1]
            if len(pre) >= 2:
                res["poi"] = pre
        if lm and (not rm or lm.start() >= rm.end()):
            res["number"] = to_int(lm.group("n"))
            res["door"] = lm.group(0)
            after = rest[lm.end():]
    if after:
        m = _BUILDING.search(after)
        if m:
            res["building"] = m.group("b") + m.group("t")
            if not res["poi"]:
                pre = after[:m.start()].strip("\u3000")
                if len(pre) >= 2 and not pre.isdigit():
                    res["poi"] = pre
            after = after[m.end():]
        m = _UNIT.search(after)
        if m:
            res["unit"] = to_int(m.group(1))
            after = after[:m.start()] + "\u3000" + after[m.end():]
        m = _FLOOR.search(after)
        if m:
            res["floor"] = to_int(m.group(1))
            after = after[:m.start()] + "\u3000" + after[m.end():]
        m = _ROOM.search(after)
        if m:
            res["room"] = m.group(1)
            after = after[:m.start()]
        if not res["poi"]:
            runs = _TEXT_RUN.findall(after)
            if runs:
                res["poi"] = max(runs, key=len)
    if not res["poi"] and not res["road"] and not res["number"]:
        runs = _TEXT_RUN.findall(rest)
        if runs:
            res["poi"] = max(runs, key=len)
    res["rest"] = after.replace("\u3000", "") or None
    return res
