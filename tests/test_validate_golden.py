"""Golden tests: every rule of the catalogue on a small hand-made input, against hand-written
expected error rows and geometries (tests/golden/validate/<rule_id>/, built by build_golden.py
from literal coordinates, never from the rules' own output)."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

GOLDEN = Path(__file__).resolve().parent / "golden" / "validate"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.yaml").exists())
HAN = re.compile(r"[\u4e00-\u9fff]")
TOL = 1e-3


def _read(path: Path):
    import geopandas as gpd

    data = json.loads(path.read_text(encoding="utf-8"))
    props = [f["properties"] for f in data["features"]]
    geoms = [None if f["geometry"] is None else shapely.geometry.shape(f["geometry"]) for f in data["features"]]
    df = pd.DataFrame(props)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs="EPSG:4548")


def run_case(name):
    from surveytools.profiles import load_profile
    from surveytools.validate.catalogue import finish_rows, load_catalogue
    from surveytools.validate.context import Context

    d = GOLDEN / name
    case = yaml.safe_load((d / "case.yaml").read_text(encoding="utf-8"))
    profile = load_profile(case["profile"])
    layers = {key: _read(d / f"input_{key}.geojson") for key in case["layers"]}
    tables = {k: pd.DataFrame(v) for k, v in (case.get("tables") or {}).items()}
    cp = _read(d / "checkpoints.geojson") if (d / "checkpoints.geojson").exists() else None
    ctx = Context.from_frames(profile, case["county"], case["crs"], layers, tables, checkpoints=cp)
    rule = load_catalogue()[case["rule"]]
    raw = rule.func(ctx, {**rule.params, **case["params"]})
    return finish_rows(rule, raw, rule.severity, {"_crs": case["crs"], "profile": profile.id}), _read(d / "expected.geojson")


def _s(v):
    """None for missing values (None, NaN, NA, "")."""
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else v


def _norm(g):
    if not isinstance(g, shapely.Geometry) or shapely.is_empty(g):
        return None
    return shapely.normalize(shapely.simplify(g, 0))


def _key(row):
    g = _norm(row["geometry"])
    return (str(row["layer"]), -1 if pd.isna(row["fid"]) else int(row["fid"]), str(_s(row["feature_id"]) or ""),
            str(_s(row["field"]) or ""), "" if g is None else g.wkt)


@pytest.mark.parametrize("name", CASES)
def test_rule_matches_its_golden_rows(name):
    got, exp = run_case(name)
    assert len(got) == len(exp), f"{name}: {len(got)} rows, expected {len(exp)}:\n{got.drop(columns='geometry')}"
    got_rows = sorted((r for _, r in got.iterrows()), key=_key)
    exp_rows = sorted((r for _, r in exp.iterrows()), key=_key)
    for g, e in zip(got_rows, exp_rows):
        assert g["rule_id"] == e["rule_id"] == name
        assert g["layer"] == e["layer"]
        if e["fid"] is None or pd.isna(e["fid"]):
            assert pd.isna(g["fid"]), (name, g["fid"])
        else:
            assert int(g["fid"]) == int(e["fid"])
        assert _s(g["feature_id"]) == _s(e["feature_id"]), (name, g["feature_id"], e["feature_id"])
        assert _s(g["field"]) == _s(e["field"]), (name, g["field"], e["field"])
        if e["value"] is not None and not (isinstance(e["value"], float) and np.isnan(e["value"])):
            assert str(g["value"]) == str(e["value"]), (name, g["value"], e["value"])
        gg, eg = _norm(g["geometry"]), _norm(e["geometry"])
        if eg is None:
            assert gg is None, (name, gg)
        else:
            assert gg is not None and shapely.equals_exact(gg, eg, tolerance=TOL), (name, gg.wkt, eg.wkt)
        for lang in ("message_zh", "message_en"):
            assert g[lang] and "{" not in g[lang], (name, g[lang])
        assert HAN.search(g["message_zh"]), g["message_zh"]


def test_every_catalogue_rule_has_a_golden_case():
    from surveytools.validate.catalogue import load_catalogue

    assert set(load_catalogue()) == set(CASES)
