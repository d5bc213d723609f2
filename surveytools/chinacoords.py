"""WGS-84 ↔ GCJ-02 ↔ BD-09 coordinate conversions (vectorised numpy).

GCJ-02 (国测局坐标, "Mars coordinates") is what Chinese phone apps and web maps (高德, 腾讯) give;
BD-09 is Baidu's further offset of GCJ-02.  The forward transform is the widely published
Krasovsky-ellipsoid formula; the inverse has no closed form and is solved by fixed-point
iteration (converges to < 1e-9° in a few steps).  Points outside China are returned unchanged,
as the official transform does.  Inputs may be scalars or arrays; outputs are float arrays (or
floats for scalar input).
"""
from __future__ import annotations

import numpy as np

_A = 6378245.0                      # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323        # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0


def out_of_china(lon, lat):
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _tlat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return r


def _tlon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return r


def _out(lon, lat, scalar):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _delta(lon, lat):
    dlat = _tlat(lon - 105.0, lat - 35.0)
    dlon = _tlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    dlon, dlat = _delta(lon, lat)
    out = out_of_china(lon, lat)
    return _out(np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat), scalar)


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10, max_iter: int = 30):
    """Inverse of :func:`wgs84_to_gcj02` by fixed-point iteration (accurate to ~1e-9°)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    glon, glat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        clon, clat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = np.asarray(clon) - glon, np.asarray(clat) - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return _out(wlon, wlat, scalar)


def gcj02_to_bd09(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x, y = np.asarray(lon, float) - 0.0065, np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta), z * np.sin(theta), scalar)


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
