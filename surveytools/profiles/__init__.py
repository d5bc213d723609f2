"""Standard profiles (CJ/T 213/214/215, GB/T 30428, GB/T 47678, city extensions) read from
``standards/``.  See :mod:`surveytools.profiles.loader`."""
from .loader import (CodeSpec, LayerSpec, Profile, ProfileError, find_standards_dir, list_profiles,
                     load_profile)

__all__ = ["CodeSpec", "LayerSpec", "Profile", "ProfileError", "find_standards_dir", "list_profiles",
           "load_profile"]
