"""Validation in chunks (surveytools.validate.chunks) gives the rows of the whole-layer run.

The 贵溪 sample project of test_validate (batch A with its deliberate mistakes: duplicate IDs,
duplicate positions, bad codes, dates, departments …) plus a few records made to test the chunk
edges (a duplicate ID and a duplicate position whose two records fall into different chunks, a
component without an ID), validated with every component layer whole and with chunks of 40
features, on a GeoPackage and on a PostGIS project: the same error rows (all columns and
geometries), counts, step outcomes, layer statistics and verdict."""
import os
import uuid

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from tests.test_validate import BASE, COMP_A

PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
KEYS = ("component_point", "component_line", "component_polygon")


def _layers(path):
    from surveytools import project as P
    from surveytools.locate import locate
    from surveytools.sample.departments import departments

    proj = P.Project.open(path)
    prof = proj.profile
    grids = P.read_layer(proj, "unit_grid")
    codes = grids[prof.field("unit_grid", "grid_code")].to_numpy(dtype=object)
    idf, gf, cf = (prof.field("component", r) for r in ("component_id", "grid_code", "class_code"))
    out = {}
    for layer, key in (("points", "component_point"), ("lines", "component_line"), ("polygons", "component_polygon")):
        g = pyogrio.read_dataframe(COMP_A, layer=layer, use_arrow=True)
        idx = locate(g.geometry.values, grids.geometry.values, codes)
        g[gf] = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
        oid = g[idf].astype(str)
        g[cf] = oid.str[6:10].where(oid.str.len() == 16, None)
        out[key] = g
    pts = out["component_point"].iloc[:1200]
    # edge records, far apart in fid order: the first point's ID again at the end, the second
    # point again 0.2 m away (same class, a serial gap, spaces around its ID), an empty ID (its feature id is its fid),
    # a component naming another grid, an unknown department with a bad 统一社会信用代码
    extra = pts.iloc[[0, 1, 2, 3, 4]].copy()
    extra.loc[extra.index[1], idf] = " " + str(pts[idf].iloc[1])[:-4] + "9999 "  # named as written
    extra.loc[extra.index[1], "geometry"] = shapely.affinity.translate(pts.geometry.iloc[1], 0.2, 0.0)
    extra.loc[extra.index[2], idf] = None
    extra.loc[extra.index[3], idf] = str(pts[idf].iloc[3])[:-4] + "9998"
    extra.loc[extra.index[3], gf] = next(c for c in codes if c != extra[gf].iloc[3])
    extra.loc[extra.index[4], idf] = str(pts[idf].iloc[4])[:-4] + "9997"
    extra.loc[extra.index[4], prof.field("component", "dept1_name")] = "不存在的部门"
    extra.loc[extra.index[4], prof.field("component", "dept1_code")] = "91360681MA35XXXX00"
    out["component_point"] = pd.concat([pts, extra], ignore_index=True)
    dep = departments()
    reg = pd.DataFrame({"name": dep["DeptName"], "code": dep["DeptCode"], "role": dep["Roles"],
                        "parent": dep["ParentCode"], "contact": dep["Phone"]})
    return out, reg


@pytest.fixture(scope="module")
def gpkg_project(tmp_path_factory):
    from surveytools import project as P
    from surveytools.grid import ops as G

    path = tmp_path_factory.mktemp("validate_chunks") / "guixi.gpkg"
    P.init(str(path), county="360681", profile="cjt")
    G.divide(str(path), communities=f"{BASE}:communities",
             lines=[f"{BASE}:roads", f"{BASE}:rivers", f"{BASE}:railways", f"{BASE}:water"], date="2024-06-01")
    comps, reg = _layers(path)
    proj = P.Project.open(path)
    with proj.transaction() as work:
        for key, g in comps.items():
            P.write_project_layer(work, key, g)
        P.write_table(work, "departments", reg)
    return str(path)


@pytest.fixture(scope="module")
def pg_project(gpkg_project):
    if not PG_URL:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI: SURVEYTOOLS_PG_URL is not set")
        pytest.skip("SURVEYTOOLS_PG_URL is not set (scripts/run_tests.sh starts PostGIS)")
    import psycopg

    from surveytools import project as P

    schema = "st_chunks_" + uuid.uuid4().hex[:8]
    uri = f"{PG_URL}?schema={schema}"
    P.init(uri, county="360681", profile="cjt")
    src = P.Project.open(gpkg_project)
    dst = P.Project.open(uri)
    present = set(pyogrio.list_layers(gpkg_project)[:, 0])
    with dst.transaction() as work:
        for key in src.profile.layers:
            if src.table(key) in present:
                P.write_project_layer(work, key, P.read_layer(src, key))
        P.write_table(work, "departments", pyogrio.read_dataframe(gpkg_project, layer="departments",
                                                                  read_geometry=False))
    yield uri
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _checkpoints(uri):
    """Check points of 30 components: 0.5 m off, three of them 3 m off (gross), one unknown ID."""
    import geopandas as gpd

    from surveytools import store

    pts = store.read_dataframe(uri, "components_point", use_arrow=True).iloc[:30]
    geoms = shapely.transform(np.asarray(pts.geometry.values, dtype=object), lambda xy: xy + [0.3, 0.4])
    geoms[:3] = shapely.transform(geoms[:3], lambda xy: xy + [1.8, 2.4])
    ids = pts["ObjID"].to_numpy(dtype=object).copy()
    ids[-1] = "3606810000000000"
    return gpd.GeoDataFrame({"ObjID": ids}, geometry=geoms, crs="EPSG:4548")


SCHEME = """id: default
extends: cjt
steps:
  - {rule: codes.missing_serial, on_fail: warn}
"""


def _validate(uri, chunk_size, scheme):
    from surveytools.project import Project
    from surveytools.validate.accept import read_accepted
    from surveytools.validate.catalogue import load_catalogue
    from surveytools.validate.context import Context
    from surveytools.validate.engine import run_scheme
    from surveytools.validate.scheme import load_scheme

    proj = Project.open(uri)
    cat = load_catalogue()
    ctx = Context.from_project(proj, checkpoints=_checkpoints(uri))
    res = run_scheme(ctx, load_scheme(str(scheme), proj.profile, cat), cat, accepted=read_accepted(proj),
                     chunk_size=chunk_size)
    return ctx, res


def _canonical(errors) -> pd.DataFrame:
    df = pd.DataFrame(errors.drop(columns="geometry"))
    df["fid"] = df["fid"].astype("float64")
    df["wkb"] = [None if g is None else shapely.to_wkb(shapely.normalize(g), hex=True) for g in errors.geometry.values]
    df = df.astype(object).where(df.notna(), None)
    cols = list(df.columns)
    return df.sort_values(cols, key=lambda s: s.astype(str)).reset_index(drop=True)


def _compare(uri, tmp_path):
    scheme = tmp_path / "default.yaml"
    scheme.write_text(SCHEME, encoding="utf-8")
    whole_ctx, whole = _validate(uri, None, scheme)
    assert not whole_ctx.chunked  # the whole-layer path
    ctx, chunked = _validate(uri, 40, scheme)
    assert set(ctx.chunked) == set(KEYS)  # every component layer was read in chunks of 40
    # no rule read the point layer whole (duplicates, serial gaps, check points: compact columns;
    # only the duplicate positions of lines and polygons read their layer whole)
    assert "component_point" not in ctx.frames
    a, b = _canonical(whole.errors), _canonical(chunked.errors)
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a, b)
    assert whole.counts() == chunked.counts() and whole.verdict == chunked.verdict
    pd.testing.assert_frame_equal(whole.layers, chunked.layers)
    pd.testing.assert_frame_equal(whole.accuracy, chunked.accuracy)
    assert [(s.id, s.outcome, s.errors, s.warnings) for s in whole.steps] == \
           [(s.id, s.outcome, s.errors, s.warnings) for s in chunked.steps]
    return whole


def _check_meaningful(whole):
    """The comparison covers the rules that compare records across chunks."""
    rules = set(whole.errors["rule_id"])
    assert {"codes.duplicate", "geometry.duplicate", "codes.missing_serial", "codes.format",
            "attributes.mandatory", "relations.component_in_grid", "attributes.department_registry",
            "attributes.uscc", "accuracy.rms"} <= rules, rules
    e = whole.errors
    # the edge records: the repeated ID of the first point and the near copy of the second
    dup = e[(e["rule_id"] == "codes.duplicate") & (e["layer"] == "components_point")]
    assert dup["fid"].max() > 3
    near = e[(e["rule_id"] == "geometry.duplicate") & (e["layer"] == "components_point")]
    assert near["fid"].max() > 3


def test_chunks_give_the_whole_layer_rows_on_a_geopackage(gpkg_project, tmp_path):
    _check_meaningful(_compare(gpkg_project, tmp_path))


def test_chunks_give_the_whole_layer_rows_on_postgis(pg_project, tmp_path):
    _check_meaningful(_compare(pg_project, tmp_path))


def test_point_pairs_match_a_brute_force_search():
    from surveytools.validate.chunks import point_pairs

    rng = np.random.default_rng(7)
    n = 3000
    x = np.round(rng.uniform(0, 60, n), 1)
    y = np.round(rng.uniform(0, 60, n), 1)
    x[::97] = np.nan
    key = rng.integers(-1, 3, n)
    fid = rng.permutation(n) + 1
    i, j = point_pairs(x, y, fid, key, 0.5, strip=101)
    got = set(zip(i.tolist(), j.tolist()))
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    ok = ~np.isnan(x) & (key >= 0)
    bi, bj = np.nonzero((d <= 0.5) & ok[:, None] & ok[None, :] & (key[:, None] == key[None, :])
                        & (fid[:, None] < fid[None, :]))
    assert got == set(zip(bi.tolist(), bj.tolist())) and len(got) > 50


def test_dates_read_by_arrow_equal_the_text_parse():
    """attributes.dates converts a project's date column (datetime.date values) through Arrow: the
    same timestamps as parsing the dates' text, edges of the calendar included."""
    import datetime as dt

    from surveytools.validate.rules.attributes import _dates

    vals = [dt.date(2021, 10, 24), None, dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1949, 9, 30),
            dt.date(2030, 2, 28)]
    g = pd.DataFrame({"d": pd.Series(vals, dtype=object)})
    txt = g["d"].astype("str").where(g["d"].notna(), None)
    want = pd.to_datetime(txt, errors="coerce", format="mixed")
    got = _dates(g, "d")
    assert got.isna().tolist() == want.isna().tolist()
    assert (got.dropna() == want.dropna()).all()
    mixed = pd.DataFrame({"d": pd.Series([dt.date(2020, 1, 1), "2020-13-01", "abc", None], dtype=object)})
    assert _dates(mixed, "d").isna().tolist() == [False, True, True, True]


def test_validate_run_reads_in_chunks_by_its_setting_and_cancels_cleanly(gpkg_project, tmp_path, monkeypatch):
    """``validate run`` (the operation) chunks by $SURVEYTOOLS_VALIDATE_CHUNK_ROWS with the same
    outcome; a cancel while reading chunks leaves no output and an unchanged project."""
    import shutil

    from surveytools.errors import Cancelled
    from surveytools.validate.ops import run
    from tests.test_validate import _CancelAt

    work = tmp_path / "p.gpkg"
    shutil.copyfile(gpkg_project, work)
    monkeypatch.setenv("SURVEYTOOLS_VALIDATE_CHUNK_ROWS", "0")
    whole = run(str(work), str(tmp_path / "w"), write_project=False)
    import surveytools.validate.chunks as chunks

    plans = []
    real = chunks.raw_results
    monkeypatch.setattr(chunks, "raw_results", lambda ctx, steps, cat, plan, *a, **k: (
        plans.append(dict(plan)), real(ctx, steps, cat, plan, *a, **k))[1])
    monkeypatch.setenv("SURVEYTOOLS_VALIDATE_CHUNK_ROWS", "100")
    chunked = run(str(work), str(tmp_path / "c"), write_project=False)
    assert plans and set(plans[0]) == {"component_point"}  # 1,205 points in chunks of 100; lines, polygons whole
    assert whole.data["counts"] == chunked.data["counts"] and whole.data["verdict"] == chunked.data["verdict"]
    for k in ("layers", "per_rule"):
        pd.testing.assert_frame_equal(pd.DataFrame(whole.data[k]), pd.DataFrame(chunked.data[k]))
    before = work.read_bytes()
    fb = _CancelAt(30)
    with pytest.raises(Cancelled):
        run(str(work), str(tmp_path / "o"), feedback=fb)
    assert 30 <= fb.seen[-1] < 85
    assert not (tmp_path / "o" / "errors.gpkg").exists() and work.read_bytes() == before
