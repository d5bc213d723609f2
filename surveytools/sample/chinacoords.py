"""Moved to :mod:`surveytools.chinacoords` (intake converts phone and web-map coordinates too);
kept here so that existing imports keep working."""
from ..chinacoords import (
                           bd09_to_gcj02,
                           bd09_to_wgs84,
                           gcj02_to_bd09,
                           gcj02_to_wgs84,
                           out_of_china,
                           wgs84_to_bd09,
                           wgs84_to_gcj02,
)

__all__ = ["bd09_to_gcj02", "bd09_to_wgs84", "gcj02_to_bd09", "gcj02_to_wgs84", "out_of_china",
           "wgs84_to_bd09", "wgs84_to_gcj02"]
