"""Geocoding (地理编码, CJ/T 215 / GB/T 30428.3): the standard address base, Chinese address parsing,
forward, reverse and batch geocoding.  See docs/geocoding.md.

Nothing here imports geopandas/shapely/pyogrio at module level (the QGIS plugin imports the
operation registry inside QGIS); the geometry work happens inside functions.
"""
