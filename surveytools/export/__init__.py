"""Exports: the case-system release database (GeoPackage, PostGIS), exchange files and the command manual."""
