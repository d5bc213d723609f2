"""Evaluation helpers shared by ``scripts/eval_geocode.py`` and the tests.

(a) **County recall on real addresses.**  An address *contains a county-level name* when the
full NBS 2023 name of a county-level division (with its suffix: 区, 县, 市, 旗, 自治县 …) of at
least 3 characters occurs in it, and that occurrence is not directly followed by 路, 街, 道, 巷
or 大 (a road or building named after a district).  The *reference county* is the occurrence
that starts first (the longest at that start), found by plain ``str.find`` over the name list,
independently of the parser's automaton.  The parser is right when its ``county`` equals that
name (for an ambiguous name, the name; whether the code is the right one of the namesakes is
measured separately against cpca).

(b) **Door-level accuracy on the sample district.**  Every door plate of the address base gives
one clean address (its full standard address minus nothing) and one noisy variant made by a
seeded sequence of realistic edits (see :func:`noisy`).  A result is right when its place code
is the plate's.
"""
from __future__ import annotations

import numpy as np

_FOLLOW_BLOCK = set("路街道巷")

#: characters a hurried clerk or a phone keyboard (pinyin IME) swaps in
HOMOPHONES = {"路": "陆", "石": "时", "雄": "熊", "建": "健", "设": "社", "大": "达", "道": "到", "街": "接",
              "冶": "治", "金": "全", "溪": "西", "贵": "桂", "水": "税", "厂": "场", "前": "钱", "站": "战",
              "信": "新", "州": "洲", "化": "华", "工": "公", "文": "问", "明": "名", "交": "胶", "通": "同",
              "复": "福", "兴": "星", "永": "勇", "泰": "太", "迎": "营", "宾": "滨", "园": "元", "西": "希",
              "东": "冬", "南": "难", "北": "被", "后": "厚", "沿": "延", "河": "和", "塔": "踏", "底": "低",
              "林": "琳", "柏": "百", "里": "理", "鹰": "应", "烧": "少", "箕": "基", "山": "三", "门": "们",
              "货": "或", "场": "厂", "中": "钟", "樟": "章", "坪": "平", "畈": "贩", "花": "华"}
CN = "零一二三四五六七八九"


def county_reference(addresses, names):
    """Reference county name per address (None when it contains none)."""
    names = sorted({n for n in names if len(n) >= 3}, key=len, reverse=True)
    out = []
    for a in addresses:
        best = None
        for n in names:
            i = a.find(n)
            while i >= 0:
                j = i + len(n)
                if j >= len(a) or a[j] not in _FOLLOW_BLOCK:
                    break
                i = a.find(n, i + 1)
            if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(n) > len(best[1]))):
                best = (i, n)
        out.append(None if best is None else best[1])
    return out


def to_chinese(n: int) -> str:
    """12 → 十二, 103 → 一百零三 (the spoken form)."""
    if n < 10:
        return CN[n]
    if n < 20:
        return "十" + (CN[n % 10] if n % 10 else "")
    if n < 100:
        return CN[n // 10] + "十" + (CN[n % 10] if n % 10 else "")
    if n < 1000:
        h, r = divmod(n, 100)
        if r == 0:
            return CN[h] + "百"
        if r < 10:
            return CN[h] + "百零" + CN[r]
        return CN[h] + "百" + (CN[r // 10] + "十" + (CN[r % 10] if r % 10 else ""))
    return str(n)


def noisy(rng, prov, city, county, street, community, road, number, suffix, building):
    """One realistic noisy variant of a door-plate address.  Edits (each with its probability):

    * missing levels: the province (60 %), the city (50 %), the county (30 %) dropped;
    * a street and/or community name added (20 % each);
    * Chinese numerals for the number (30 %: 十二号), full-width digits (20 %);
    * one typo in the road name: a homophone swapped in for one character (25 %);
    * swapped order: the administrative part after the door number (15 %);
    * noise: spaces (20 %), a phone number in brackets (10 %), a building name (as on the plate, 30 %).
    """
    r = rng.random
    admin = [x for x, p in ((prov, 0.6), (city, 0.5), (county, 0.3)) if r() >= p]
    if r() < 0.2 and street:
        admin.append(street)
    if r() < 0.2 and community:
        admin.append(community)
    rd = road
    if r() < 0.25:
        pos = [i for i, c in enumerate(rd) if c in HOMOPHONES]
        if pos:
            i = pos[int(rng.integers(len(pos)))]
            rd = rd[:i] + HOMOPHONES[rd[i]] + rd[i + 1:]
    if r() < 0.3:
        num = to_chinese(int(number))
    elif r() < 0.2:
        num = str(int(number)).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    else:
        num = str(int(number))
    if suffix and str(suffix).startswith("附"):
        door = f"{num}{suffix}号"
    else:
        door = f"{num}号{suffix or ''}"
    tail = building if building and r() < 0.3 else ""
    sep = " " if r() < 0.2 else ""
    if r() < 0.15:
        s = rd + door + tail + sep + sep.join(admin)
    else:
        s = sep.join(admin) + sep + rd + sep + door + tail
    if r() < 0.1:
        s += f"（电话1{int(rng.integers(3, 10))}{int(rng.integers(0, 10**9)):09d}）"
    return s


def doorplate_sets(plates, seed: int = 7, n: int | None = None):
    """(clean, noisy, truth) lists from the index's plate frame (role names)."""
    from .base import _admin_names

    rng = np.random.default_rng(seed)
    p = plates if n is None else plates.iloc[np.sort(rng.choice(len(plates), size=min(n, len(plates)), replace=False))]
    clean = p["address"].tolist()
    adm = None
    noisy_ = []
    for r in p.itertuples(index=False):
        if adm is None:
            adm = _admin_names(r.place_code[:6])
        noisy_.append(noisy(rng, adm["province"], adm["city"], adm["county"], r.street_name, r.community_name,
                            r.road_name, r.number, r.suffix, r.building))
    return clean, noisy_, p["place_code"].tolist()
