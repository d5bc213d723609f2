"""Form helpers.  The forms themselves are native QGIS configuration written by
:mod:`.project_file` (class drop-downs major → minor, value maps, department value relations,
date widgets, constraints with messages, default-value expressions), the same in a live session of
the plugin and in the ``.qgz``.
"""
from __future__ import annotations

from .compat import constraint, constraint_strength
from .project_file import AUTO_ROLES, DEPT_ROLES, configure_native_form


def missing_mandatory(layer, feature) -> list:
    """Names of the fields with a hard NOT NULL constraint that are empty in ``feature``."""
    out = []
    for idx, fld in enumerate(layer.fields()):
        c = fld.constraints()
        if c.constraints() & constraint("NotNull") and \
                c.constraintStrength(constraint("NotNull")) == constraint_strength("Hard"):
            v = feature.attribute(idx)
            if v is None or str(v) in ("", "NULL") or (hasattr(v, "isNull") and v.isNull()):
                out.append(fld.name())
    return out


__all__ = ["missing_mandatory", "configure_native_form", "AUTO_ROLES", "DEPT_ROLES"]
