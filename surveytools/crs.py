"""Coordinate reference systems of a survey project.

The default is the CGCS2000 3-degree Gauss–Krüger zone (central-meridian variant, EPSG:4534–4554)
for the county's longitude, as Chinese urban surveys use it.  Any EPSG code, WKT or PROJ string
(a city's local grid) is accepted, but it must be projected with metre units: grid areas and
tolerances are in metres.
"""
from __future__ import annotations

from .errors import SurveyError
from .i18n import Text

#: EPSG:4534 is CGCS2000 / 3-degree Gauss-Kruger CM 75E; codes step by one per 3 degrees.
_GK3_FIRST_EPSG, _GK3_FIRST_CM, _GK3_LAST_CM = 4534, 75, 135


def gk3_epsg_for_longitude(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree GK zone (CM variant) whose central meridian is nearest."""
    cm = 3 * round(float(lon) / 3.0)
    if not _GK3_FIRST_CM <= cm <= _GK3_LAST_CM:
        raise SurveyError(Text(f"经度 {lon} 不在中国 3 度带范围（{_GK3_FIRST_CM}°E–{_GK3_LAST_CM}°E）内",
                               f"longitude {lon} is outside China's 3-degree zones ({_GK3_FIRST_CM}E–{_GK3_LAST_CM}E)"),
                          code="crs_zone", value=lon)
    return _GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3


def resolve_crs(value, *, require_projected: bool = True):
    """A pyproj CRS from an EPSG code ('4548', 'EPSG:4548'), WKT or PROJ string."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    text = str(value).strip()
    try:
        crs = CRS.from_epsg(int(text)) if text.isdigit() else CRS.from_user_input(text)
    except (CRSError, ValueError) as e:
        raise SurveyError(Text(f"无法识别坐标系“{text}”：{e}", f"unrecognised coordinate reference system '{text}': {e}"),
                          code="crs_invalid", field="crs", value=text,
                          hint=Text("可使用 EPSG 代码（如 EPSG:4548）、WKT 或 PROJ 字符串",
                                    "use an EPSG code (e.g. EPSG:4548), WKT or a PROJ string")) from None
    if require_projected:
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            raise SurveyError(Text(f"项目坐标系必须是以米为单位的投影坐标系，而“{crs.name}”不是",
                                   f"the project CRS must be projected in metres; '{crs.name}' is not"),
                              code="crs_not_projected", field="crs", value=text,
                              hint=Text("例如 CGCS2000 3 度带 EPSG:4548（中央经线 117°E）",
                                        "e.g. CGCS2000 3-degree GK EPSG:4548 (CM 117E)"))
    return crs


def crs_label(crs) -> str:
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()
