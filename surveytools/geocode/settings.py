"""Geocoding settings of a profile: ``standards/<profile>/geocode.yaml`` (data, not code).

A city profile without its own file inherits its base profile's file.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DEFAULTS = {
    "standard_address_levels": ["province", "city", "county", "street", "community"],
    "code": {"types": {"geocode_place": "02", "geocode_road": "03", "geocode_doorplate": "04", "geocode_poi": "05"},
             "serial_digits": 7},
    "scores": {"door": 1.0, "alias": 0.95, "fuzzy": 0.9, "interpolated": 0.7, "poi": 0.9, "building": 0.85,
               "road": 0.5, "place": 0.45, "community": 0.4, "street": 0.3, "county": 0.2},
    "fuzzy_min": 0.75,
    "reverse_radius_m": 100.0,
    "conflict_distance_m": 200.0,
    "road_gap_m": 100.0,
}


@lru_cache(maxsize=16)
def _read(path: str) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def settings(profile) -> dict:
    from ..profiles import load_profile

    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for pid in [profile.id] + list(profile.chain[1:]):
        p = profile.path if pid == profile.id else load_profile(pid).path
        f = Path(p) / "geocode.yaml"
        if f.exists():
            data = _read(str(f))
            for k, v in data.items():
                if isinstance(v, dict) and isinstance(out.get(k), dict):
                    out[k] = {**out[k], **v}
                else:
                    out[k] = v
            break
    return out
