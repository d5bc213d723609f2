"""China's administrative divisions: the NBS 2023 statistical division table, province → street.

The tables are bundled in ``surveytools/data/admin/`` (see its README for source and licence) and
loaded once, on first use::

    >>> d = divisions()
    >>> d.county("360681")["name"], d.street("360681001")["name"]
    ('贵溪市', '花园街道')
    >>> lookup_admin("110101")["full_name"]
    '北京市东城区'

Every lookup returns ``None`` (never raises) for an unknown code, so a user's bad code can be
reported as a warning with its reason.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data" / "admin"

#: NBS placeholder names of prefecture-level units under municipalities / provincial counties
PLACEHOLDER_CITY_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def _rows(name: str, data_dir: Path = DATA_DIR):
    with open(Path(data_dir) / name, encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


class Divisions:
    """The NBS division table.  Use :func:`divisions` to get the shared, cached instance."""

    def __init__(self, data_dir: Path = DATA_DIR):
        self.data_dir = data_dir
        self._provinces = {r["code"]: r["name"] for r in _rows("provinces.csv", data_dir)}
        self._cities = {r["code"]: (r["name"], r["provinceCode"]) for r in _rows("cities.csv", data_dir)}
        self._counties = {r["code"]: (r["name"], r["cityCode"], r["provinceCode"]) for r in _rows("areas.csv", data_dir)}
        self._streets = {}
        self._streets_of: dict[str, list[str]] = {}
        for r in _rows("streets.csv", data_dir):
            self._streets[r["code"]] = (r["name"], r["areaCode"])
            self._streets_of.setdefault(r["areaCode"], []).append(r["code"])
        self._lonlat = {}
        for r in _rows("adcodes.csv", data_dir):
            try:
                self._lonlat[r["adcode"][:6]] = (float(r["longitude"]), float(r["latitude"]))
            except (KeyError, ValueError):
                continue
        # sorted integer arrays for vectorised membership tests (see surveytools.codes.check_codes)
        self.county_ints = np.array(sorted(int(c) for c in self._counties), dtype=np.int64)
        self.street_ints = np.array(sorted(int(c) for c in self._streets), dtype=np.int64)

    # -- single lookups -------------------------------------------------------------------------
    def province(self, code2) -> dict | None:
        code2 = str(code2)
        name = self._provinces.get(code2)
        return None if name is None else {"code": code2, "name": name, "level": "province"}

    def city(self, code4) -> dict | None:
        code4 = str(code4)
        hit = self._cities.get(code4)
        if hit is None:
            return None
        name, p = hit
        return {"code": code4, "name": name, "level": "city", "province_code": p,
                "province_name": self._provinces.get(p)}

    def county(self, code6) -> dict | None:
        code6 = str(code6)
        hit = self._counties.get(code6)
        if hit is None:
            return None
        name, c, p = hit
        return {"code": code6, "name": name, "level": "county", "city_code": c,
                "city_name": self._cities.get(c, (None,))[0], "province_code": p,
                "province_name": self._provinces.get(p)}

    def street(self, code9) -> dict | None:
        code9 = str(code9)
        hit = self._streets.get(code9)
        if hit is None:
            return None
        name, a = hit
        county = self.county(a) or {}
        return {"code": code9, "name": name, "level": "street", "county_code": a,
                "county_name": county.get("name"), "city_code": county.get("city_code"),
                "city_name": county.get("city_name"), "province_code": county.get("province_code"),
                "province_name": county.get("province_name")}

    def county_name(self, code6) -> str | None:
        hit = self._counties.get(str(code6))
        return None if hit is None else hit[0]

    def street_name(self, code9) -> str | None:
        hit = self._streets.get(str(code9))
        return None if hit is None else hit[0]

    def streets_of(self, county6) -> list[dict]:
        return [self.street(s) for s in self._streets_of.get(str(county6), [])]

    def counties_of(self, prefix) -> list[dict]:
        """Counties whose code starts with ``prefix`` (a province or city code)."""
        prefix = str(prefix)
        return [self.county(c) for c in sorted(self._counties) if c.startswith(prefix)]

    def county_lonlat(self, code6) -> tuple[float, float] | None:
        """Approximate centre (lon, lat; GCJ-02 as given by the cpca gazetteer) of a county; falls
        back to its city's, then its province's centre.  ``None`` when none is known."""
        code6 = str(code6)
        if len(code6) != 6 or not code6.isdigit():
            return None
        for key in (code6, code6[:4] + "00", code6[:2] + "0000"):
            if key in self._lonlat:
                return self._lonlat[key]
        return None

    # -- sets for fast membership ---------------------------------------------------------------
    @property
    def county_codes(self) -> frozenset:
        return frozenset(self._counties)

    @property
    def street_codes(self) -> frozenset:
        return frozenset(self._streets)

    def __len__(self) -> int:  # number of counties
        return len(self._counties)


@lru_cache(maxsize=1)
def divisions() -> Divisions:
    """The bundled NBS 2023 division table (loaded once)."""
    return Divisions()


def lookup_admin(code) -> dict:
    """Resolve a 2/4/6/9/12-digit administrative code to its chain of names.

    Returns ``{"code", "level", "found", "chain": [{"level", "code", "name"}, …], "names": [...],
    "full_name", "missing"}``.  ``found`` is False when some level is unknown; ``missing`` names
    the first unknown level.  The 12-digit community level is not in the bundled table: its part
    is returned with ``name`` None and ``found`` reflects the street.  Never raises.
    """
    code = "" if code is None else str(code).strip()
    levels = {2: "province", 4: "city", 6: "county", 9: "street", 12: "community"}
    out = {"code": code, "level": levels.get(len(code)), "found": False, "chain": [], "names": [],
           "full_name": "", "missing": None}
    if len(code) not in levels or not code.isdigit():
        out["missing"] = "format"
        return out
    d = divisions()
    steps = [("province", code[:2], d.province), ("city", code[:4], d.city), ("county", code[:6], d.county),
             ("street", code[:9], d.street)]
    found = True
    for level, part, fn in steps:
        if len(code) < {"province": 2, "city": 4, "county": 6, "street": 9}[level]:
            break
        hit = fn(part)
        if hit is None:
            found = False
            out["missing"] = level
            break
        out["chain"].append({"level": level, "code": part, "name": hit["name"]})
        if len(code) == len(part):
            break
    if found and len(code) == 12:
        out["chain"].append({"level": "community", "code": code, "name": None})
    out["found"] = found
    out["names"] = [c["name"] for c in out["chain"] if c["name"]]
    out["full_name"] = "".join(n for c in out["chain"] for n in [c["name"]]
                               if n and not (c["level"] == "city" and n in PLACEHOLDER_CITY_NAMES))
    return out
