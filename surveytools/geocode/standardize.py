"""The standard address string (标准地址) of a profile.

Grammar (standards.md §3; recalled for CJ/T 215, confirmed for a provincial 地址描述规则)::

    标准地址   = 行政区域名称 [基本区域限定物] [局部点位置]
    行政区域名称 = the names of ``standard_address_levels`` (standards/<profile>/geocode.yaml; default
                  province, city, county, street, community), top-down, unknown levels skipped,
                  the prefecture omitted for municipalities (北京市海淀区 …)
    基本区域限定物 = 街巷名称 (road) | 小区/地片名称 (place, when there is no road)
    局部点位置   = 门牌 (``12号``, ``12号之一``, ``12附1号``) [楼栋名称] | 兴趣点名称 (POI)

Example: 江西省鹰潭市贵溪市花园街道白果社区雄石路12号之一.
"""
from __future__ import annotations

DEFAULT_LEVELS = ("province", "city", "county", "street", "community")


def _v(x):
    """None for missing values (None, NaN, pd.NA, empty)."""
    return x if isinstance(x, str) and x else (None if not isinstance(x, (int,)) else x)


def door_text(number, suffix=None) -> str | None:
    """12, "之一" → 12号之一; 12, "附1" → 12附1号."""
    if number is None or number != number:
        return None
    n = str(int(number))
    suffix = suffix if isinstance(suffix, str) else ""
    if suffix.startswith("附"):
        return f"{n}{suffix}号"
    return f"{n}号{suffix}"


def admin_prefix(el: dict, levels=DEFAULT_LEVELS) -> str:
    out = []
    for lv in levels:
        v = _v(el.get(lv))
        if not v:
            continue
        if lv == "city" and out and out[-1] == v:  # 北京市北京市 → 北京市
            continue
        out.append(v)
    return "".join(out)


def standard_address(el: dict, levels=DEFAULT_LEVELS) -> str:
    """``el``: province, city, county, street, community, road, place, number, suffix, building, poi."""
    el = {k: (v if isinstance(v, str) and v else (v if k == "number" and v is not None and v == v else None))
          for k, v in el.items()}
    s = admin_prefix(el, levels)
    if el.get("road"):
        s += el["road"]
        d = door_text(el.get("number"), el.get("suffix"))
        if d:
            s += d
            if el.get("building"):
                s += el["building"]
        elif el.get("poi"):
            s += el["poi"]
    elif el.get("place"):
        s += el["place"]
        if el.get("poi") and el["poi"] != el["place"]:
            s += el["poi"]
    elif el.get("poi"):
        s += el["poi"]
    return s
