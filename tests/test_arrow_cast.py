"""The one Arrow cast (surveytools.store.arrow.cast_frame) behind project layers and release tables."""
import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from shapely.geometry import Point, box

from surveytools.export.database import frame_to_arrow
from surveytools.project import to_arrow
from surveytools.store.arrow import cast_frame

FIELDS = [("name", "text"), ("n", "integer"), ("x", "real"), ("d", "date"), ("t", "datetime"), ("ok", "boolean"),
          ("absent", "integer")]


def frame():
    return pd.DataFrame({
        "name": ["甲", 1, None, 2.5],
        "n": ["7", "1.5", "abc", None],
        "x": ["1.25", 3, None, "x"],
        "d": ["2024-03-01", " 2024-03-02 ", "", "2024-13-01"],
        "t": [pd.Timestamp("2024-03-01 08:30"), None, "2024-03-02T09:00:00", "no"],
        "ok": [True, "false", None, "是"],
        "extra": [1, 2, 3, 4],
    })


def test_every_type_is_cast_the_same_way_and_bad_values_become_null():
    t = cast_frame(frame(), FIELDS)
    assert t.column_names == [f for f, _ in FIELDS]  # the fields' order; "extra" dropped
    assert t.schema.types == [pa.string(), pa.int64(), pa.float64(), pa.date32(), pa.timestamp("ms"), pa.bool_(),
                              pa.int64()]
    d = t.to_pydict()
    assert d["name"] == ["甲", "1", None, "2.5"]
    assert d["n"] == [7, None, None, None]  # 1.5 is not an integer, abc not a number
    assert d["x"] == [1.25, 3.0, None, None]
    assert d["d"] == [dt.date(2024, 3, 1), dt.date(2024, 3, 2), None, None]
    assert d["t"] == [dt.datetime(2024, 3, 1, 8, 30), None, dt.datetime(2024, 3, 2, 9), None]
    assert d["ok"] == [True, False, None, True]
    assert d["absent"] == [None] * 4


def test_project_layers_and_release_tables_cast_alike():
    df = frame()
    profile_fields = pd.DataFrame(FIELDS, columns=["name", "type"])
    a = to_arrow(df, profile_fields, geometry=False)
    b = frame_to_arrow(df, FIELDS)
    assert a.equals(b)


def test_geometry_as_wkb_and_multi_polygons():
    import shapely

    g = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[box(0, 0, 1, 1), None], crs="EPSG:4548")
    t = cast_frame(g, [("name", "text")], geometry=True, multi=True)
    geoms = shapely.from_wkb(np.asarray(t.column("geom").to_pylist(), dtype=object))
    assert geoms[0].geom_type == "MultiPolygon" and geoms[1] is None
    p = gpd.GeoDataFrame({"name": ["p"]}, geometry=[Point(1, 2)])
    assert shapely.from_wkb(cast_frame(p, [], geometry=True).column("geom")[0].as_py()).equals(Point(1, 2))
