"""Maintenance updates: merging a re-survey into the project (components merge)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"
MAPPINGS = ROOT / "sample_data" / "guixi" / "mappings"
C_MAP = str(MAPPINGS / "components_c.yaml")


def layer(path, name, **kw):
    return pyogrio.read_dataframe(str(path), layer=name, **kw)


@pytest.fixture
def c_project(components_grid_project, tmp_path):
    """Delivery C (东门街道) imported."""
    from surveytools.components.intake import intake

    p = tmp_path / "c.gpkg"
    shutil.copy(components_grid_project, p)
    intake(str(p), str(SURVEY / "components_c.csv"), mapping=C_MAP)
    return p


def resurvey(tmp_path) -> tuple[Path, dict]:
    """C as re-surveyed a year later: 10 points moved by ~0.2 m, 5 states changed, 5 components
    gone, 2 new ones, everything else identical."""
    c = pd.read_csv(SURVEY / "components_c.csv", dtype=str, keep_default_na=False)
    r = c.copy()
    r.loc[:9, "lon"] = (r.loc[:9, "lon"].astype(float) + 2e-6).round(7).astype(str)
    r.loc[10:14, "state"] = "破损"
    gone = c.iloc[20:25]
    r = r.drop(gone.index)
    new = c.iloc[30:32].copy()
    new["lon"] = (new["lon"].astype(float) + 0.001).round(7).astype(str)  # ~100 m away: new components
    r = pd.concat([r, new])
    path = tmp_path / "resurvey.csv"
    r.to_csv(path, index=False)
    return path, {"gone": gone, "changed_state": c.iloc[10:15], "moved": c.iloc[:10]}


def snapshot(p):
    out = {}
    for name in ("components_point", "change_log"):
        try:
            df = layer(p, name)
        except Exception:
            df = None
        out[name] = df
    return out


def test_merge_updates_keeps_ids_adds_and_marks_missing(c_project, tmp_path, cli):
    src, truth = resurvey(tmp_path)
    before = layer(c_project, "components_point")
    code, out, err = cli(["components", "merge", c_project, src, "--mapping", C_MAP, "--date", "2025-06-01", "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["new"] == 2 and res["missing"] == 5
    assert res["updated"] == 15  # 10 moved + 5 state changes
    assert res["tolerance"]["0103"] == 0.5 and res["tolerance"]["0402"] == 1.0  # grades A and B
    after = layer(c_project, "components_point")
    assert len(after) == len(before) + 2  # nothing deleted
    assert set(before["ObjID"]) <= set(after["ObjID"])
    log = layer(c_project, "change_log")
    assert (log["field"] == "geometry").sum() == 10
    assert (log["field"] == "ObjState").sum() == 5 + 5
    assert (log["field"] == "*").sum() == 2
    missing = log[(log["field"] == "ObjState") & (log["new"] == "丢失")]
    assert len(missing) == 5
    gone_ids = set(missing["component_id"])
    a = after.set_index("ObjID")
    assert (a.loc[list(gone_ids), "ObjState"] == "丢失").all()
    assert (a.loc[list(gone_ids), "CHDate"] == pd.Timestamp("2025-06-01")).all()
    changed_ids = set(log["component_id"])
    untouched = after[~after["ObjID"].isin(changed_ids)]
    b = before.set_index("ObjID").loc[untouched["ObjID"]]
    assert (untouched["CHDate"].to_numpy() == b["CHDate"].to_numpy()).all()
    # moved components keep their ID; the geometry and the change date are updated
    moved = log[log["field"] == "geometry"]["component_id"]
    assert (a.loc[list(moved), "CHDate"] == pd.Timestamp("2025-06-01")).all()
    assert (a.loc[list(moved), "BatchID"] == res["batch"]).all()


def test_merging_the_same_data_twice_changes_nothing_the_second_time(c_project, tmp_path):
    from surveytools.components.merge import merge

    src, _ = resurvey(tmp_path)
    first = merge(str(c_project), str(src), mapping=C_MAP, date="2025-06-01")
    assert first["changes"] > 0
    snap = snapshot(c_project)
    mtime = c_project.stat().st_mtime_ns
    second = merge(str(c_project), str(src), mapping=C_MAP, date="2025-07-01")
    assert second["changes"] == 0 and second["batch"] is None
    assert c_project.stat().st_mtime_ns == mtime  # nothing written at all
    again = snapshot(c_project)
    assert again["components_point"].equals(snap["components_point"])
    assert again["change_log"].equals(snap["change_log"])


def test_merge_of_the_delivered_data_itself_changes_nothing(c_project):
    from surveytools.components.merge import merge

    res = merge(str(c_project), str(SURVEY / "components_c.csv"), mapping=C_MAP)
    assert res["changes"] == 0 and res["matched"] == 3179


def test_components_outside_the_resurveyed_grids_are_not_marked_missing(c_project, tmp_path):
    """A re-survey of a few grids only: components elsewhere are left alone."""
    from surveytools.components.merge import merge

    c = pd.read_csv(SURVEY / "components_c.csv", dtype=str, keep_default_na=False)
    pts = layer(c_project, "components_point")
    grid = pts["BGID"].value_counts().index[0]  # the busiest grid
    in_grid = pts[pts["BGID"] == grid]
    # the CSV rows of that grid (same order as the layer: one batch, source order)
    rows = c.iloc[np.flatnonzero((pts["BGID"] == grid).to_numpy())]
    sub = rows.iloc[1:]  # one component of the grid was not found again
    path = tmp_path / "one_grid.csv"
    sub.to_csv(path, index=False)
    res = merge(str(c_project), str(path), mapping=C_MAP)
    assert res["missing"] == 1 and res["area"] == {"kind": "unit_grids", "grids": 1}
    after = layer(c_project, "components_point")
    assert (after["ObjState"] == "丢失").sum() == (pts["ObjState"] == "丢失").sum() + 1
    lost = after[(after["ObjState"] == "丢失") & ~after["ObjID"].isin(pts.loc[pts["ObjState"] == "丢失", "ObjID"])]
    assert lost["ObjID"].iloc[0] == in_grid["ObjID"].iloc[0]


def test_a_lost_component_found_again_is_restored(c_project, tmp_path):
    from surveytools.components.merge import merge

    src, truth = resurvey(tmp_path)
    first = merge(str(c_project), str(src), mapping=C_MAP, date="2025-06-01")
    log = layer(c_project, "change_log")
    gone = set(log.loc[(log["batch"] == first["batch"]) & (log["new"] == "丢失"), "component_id"])
    # the next year everything is back, without a state column
    c = pd.read_csv(SURVEY / "components_c.csv", dtype=str, keep_default_na=False)
    lost_at_first = int((c["state"] == "丢失").sum())  # delivered as lost in the first survey
    c = c.drop(columns=["state"])
    path = tmp_path / "back.csv"
    c.to_csv(path, index=False)
    res = merge(str(c_project), str(path), mapping=C_MAP, date="2026-06-01")
    log = layer(c_project, "change_log")
    restored = log[(log["batch"] == res["batch"]) & (log["field"] == "ObjState")]
    assert len(restored) == 5 + lost_at_first
    assert set(restored["old"]) == {"丢失"} and set(restored["new"]) == {"完好"}
    assert gone <= set(restored["component_id"])


def test_tolerance_option(c_project, tmp_path):
    """Moved by ~0.2 m: with --tolerance 0.1 they no longer match (new + missing)."""
    from surveytools.components.merge import merge

    c = pd.read_csv(SURVEY / "components_c.csv", dtype=str, keep_default_na=False)
    c.loc[:9, "lon"] = (c.loc[:9, "lon"].astype(float) + 2e-6).round(7).astype(str)
    path = tmp_path / "moved.csv"
    c.to_csv(path, index=False)
    res = merge(str(c_project), str(path), mapping=C_MAP, tolerance=0.1)
    assert res["new"] == 10 and res["missing"] == 10
