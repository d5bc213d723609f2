"""City profiles that extend a base profile.

The merge rules live in :mod:`surveytools.profiles.loader` (``extends``, ``renames``, extra
classes and fields, ``tables: {component_classes: replace}``); this module writes such a profile
folder and classifies the classes of a loaded profile by where they come from.

Rules a city profile must follow (checked when it is loaded):

* an extra class code must not collide with a base code (``code_collision``);
* an extra class must use an extension major (from ``extension.major_from``, 21 by default) or a
  local minor (``extension.local_minors``, 98/99) under a standard major (``reserved_code``);
* an extra field must not have the name of a base field on the same layer (``field_collision``);
* profiles must not extend each other in a cycle.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from .loader import CLASS_COLUMNS, Profile


def class_origins(profile: Profile, kind: str = "component") -> dict:
    """Counts of the profile's classes by provenance and by the profile that defined them."""
    df = profile.component_classes if kind == "component" else profile.event_classes
    origin = df["origin"] if "origin" in df.columns else pd.Series([profile.id] * len(df))
    return {"provenance": {str(k): int(v) for k, v in df["provenance"].value_counts().items()},
            "origin": {str(k): int(v) for k, v in origin.value_counts().items()}}


def write_city_profile(out: Path, profile_id: str, base: Profile, *, title: dict | None = None,
                       component_classes: pd.DataFrame | None = None, event_classes: pd.DataFrame | None = None,
                       replace: tuple = (), imported: dict | None = None, notice: dict | None = None) -> Path:
    """Write ``out/profile.yaml`` (``extends: base``) and the given class tables.  ``replace``
    names the tables (``component_classes`` / ``event_classes``) that replace the base's."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "id": profile_id,
        "extends": base.id,
        "title": title or {"zh": f"{profile_id} 本地标准配置（基于 {base.id}）",
                           "en": f"{profile_id} local profile (based on {base.id})"},
        "status": "local",
        "edition": f"{base.edition} + {profile_id}",
        "schema_version": base.schema_version,
    }
    if replace:
        meta["tables"] = {t: "replace" for t in replace}
    if notice:
        meta["notice"] = notice
    if imported:
        meta["imported"] = imported
    meta["created"] = date.today().isoformat()
    (out / "profile.yaml").write_text(
        f"# {profile_id}: written by surveytools; extends {base.id}\n"
        + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for name, df in (("component_classes.csv", component_classes), ("event_classes.csv", event_classes)):
        if df is not None:
            df = df.copy()
            for c in CLASS_COLUMNS:
                if c not in df.columns:
                    df[c] = ""
            df[CLASS_COLUMNS].to_csv(out / name, index=False, encoding="utf-8")
    return out
