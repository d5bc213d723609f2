"""Field survey with QField: a package per work area (``field package``), its return merged back
into the project (``field return``), conflicts (``field resolve``) and photos as data.

See docs/field.md.  :mod:`.common` holds what the package and the return share (the field-survey
columns, the per-feature version hash, the project's UUID registry); :mod:`.package` writes a
package, :mod:`.returns` merges one back, :mod:`.photos` takes photos in.
"""
