"""A small seeded table of events (事件) for the sample: CJ/T 214-2007 event classes, WGS-84."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

#: (code, CJ/T 214-2007 event class name, description templates)
EVENT_CLASSES = [
    ("0102", "暴露垃圾", "{loc}有暴露垃圾，约{n}袋"),
    ("0103", "积存垃圾渣土", "{loc}积存垃圾渣土约{n}立方米"),
    ("0104", "道路不洁", "{loc}路面有油污，面积约{n}平方米"),
    ("0110", "道路破损", "{loc}路面破损坑洼，约{n}平方米"),
    ("0201", "非法小广告", "{loc}电线杆上张贴小广告{n}处"),
    ("0304", "施工占道", "{loc}施工围挡占用人行道约{n}米"),
    ("0404", "下水道堵塞或破损", "{loc}下水道堵塞，污水外溢"),
    ("0406", "道路积水", "{loc}雨后积水，深约{n}厘米"),
    ("0504", "店外经营", "{loc}商户店外摆摊经营"),
    ("0505", "机动车乱停放", "{loc}机动车占用人行道停放{n}辆"),
    ("0506", "非机动车乱停放", "{loc}非机动车乱停放约{n}辆"),
    ("0507", "乱堆物堆料", "{loc}乱堆建筑材料"),
    ("0510", "露天烧烤", "{loc}夜间露天烧烤"),
]


def generate_events(components: gpd.GeoDataFrame, n: int = 60, seed: int = 20240601) -> pd.DataFrame:
    """``n`` events near randomly chosen point components; lon/lat in WGS-84."""
    rng = np.random.default_rng(seed + 11)
    pts = components[components.geom_type == "Point"]
    pick = np.sort(rng.choice(len(pts), n, replace=False))
    src = pts.iloc[pick]
    ang = rng.uniform(0, 2 * np.pi, n)
    r = rng.uniform(2, 20, n)
    geom = gpd.GeoSeries(gpd.points_from_xy(src.geometry.x + r * np.cos(ang), src.geometry.y + r * np.sin(ang)),
                         crs=components.crs).to_crs("EPSG:4326")
    cls = rng.integers(0, len(EVENT_CLASSES), n)
    minutes = np.sort(rng.integers(0, 30 * 24 * 60, n))
    t = np.datetime64("2024-06-01T07:00") + minutes.astype("timedelta64[m]")
    rows = []
    for i in range(n):
        code, cname, tpl = EVENT_CLASSES[cls[i]]
        loc = src["LocateDSC"].iloc[i] or "路边"
        rows.append({"EventID": f"GX2024{i + 1:05d}", "ClassCode": code, "ClassName": cname,
                     "EventCode": "360681" + code,
                     "Description": tpl.format(loc=loc, n=int(rng.integers(2, 20))),
                     "Address": "贵溪市" + loc, "lon": round(float(geom.x.iloc[i]), 7),
                     "lat": round(float(geom.y.iloc[i]), 7),
                     "ReportTime": str(t[i]).replace("T", " ") + ":00", "Source": "监督员上报"})
    return pd.DataFrame(rows)
