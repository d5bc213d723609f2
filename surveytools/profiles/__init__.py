"""Standard profiles (CJ/T 213/214/215, GB/T 30428, GB/T 47678, city extensions) read from
``standards/``.  See :mod:`surveytools.profiles.loader` (the full profile, pandas tables) and
:mod:`surveytools.profiles.light` (the same profile with the standard library only, for the QGIS
plugin).  The names below are imported lazily, so ``surveytools.profiles.light`` can be used
without importing pandas."""
from __future__ import annotations

_LIGHT = {"CodeSpec", "LayerSpec", "ProfileError", "find_standards_dir", "list_profiles"}
_FULL = {"Profile", "load_profile"}


def __getattr__(name):
    if name in _LIGHT:
        from . import light
        return getattr(light, name)
    if name in _FULL:
        from . import loader
        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CodeSpec", "LayerSpec", "Profile", "ProfileError", "find_standards_dir", "list_profiles",
           "load_profile"]
