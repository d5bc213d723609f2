"""Components intake, classification, coding and location on the sample district, including
each of its deliberate mistakes that belongs to intake and coding (sample_data/guixi/mistakes.csv)."""
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
MISTAKES = pd.read_csv(ROOT / "sample_data" / "guixi" / "mistakes.csv", dtype=str, keep_default_na=False)


def mistakes(file_part: str, kind: str) -> pd.DataFrame:
    m = MISTAKES
    return m[m["file"].str.contains(file_part, regex=False) & m["mistake"].str.contains(kind, regex=False)]


@pytest.fixture
def project(components_grid_project, tmp_path) -> Path:
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    return p


def layer(path, name, **kw):
    return pyogrio.read_dataframe(str(path), layer=name, **kw)


def intake_json(cli, *args):
    code, out, err = cli(["components", "intake", *map(str, args), "--json"])
    return code, json.loads(out) if out.strip() else None, err


@pytest.fixture(scope="module")
def a_project(components_grid_project, tmp_path_factory):
    """Delivery A imported with its mapping (shared by the read-only tests below)."""
    from surveytools.components.intake import intake

    p = tmp_path_factory.mktemp("a") / "a.gpkg"
    shutil.copy(components_grid_project, p)
    data = intake(str(p), str(SURVEY / "components_a.gpkg"), mapping=str(MAPPINGS / "components_a.yaml"))
    return p, data


# ----------------------------------------------------------------------------------------------
# the mapping: exact matches only, proposals otherwise

def test_without_mapping_a_proposal_is_written_and_nothing_imported(project, cli):
    code, res, err = intake_json(cli, project, SURVEY / "components_a.gpkg")
    assert code == 2 and res["ok"] is False
    e = res["error"]
    assert e["code"] == "unmapped"
    proposal = Path(e["proposal"])
    assert proposal.exists() and proposal.parent == project.parent
    assert proposal.name == "p.mapping-components_a.yaml"
    unmapped = {u["value"]: u for u in e["unmapped_classes"]}
    # the class names one or two characters off are proposed, not imported silently
    assert set(unmapped) == {"供水井盖", "雨水篦子"}
    assert unmapped["供水井盖"]["count"] == 3
    assert unmapped["供水井盖"]["suggestions"][0]["code"] == "0101"
    assert unmapped["雨水篦子"]["suggestions"][0]["code"] == "0104"
    text = proposal.read_text(encoding="utf-8")
    assert '"供水井盖": UNMAPPED' in text and "建议 suggestions" in text and "never applied" in text
    assert '"行道树": "0402"' in text  # exact matches are filled in
    # nothing was imported: no component, no batch
    assert len(layer(project, "components_point")) == 0
    assert "intake_batches" not in [str(n) for n, _ in pyogrio.list_layers(str(project))]


def test_proposal_round_trip_with_an_edited_mapping(project, cli, tmp_path):
    from surveytools.components.intake import intake
    from surveytools.components.prepare import UnmappedError

    with pytest.raises(UnmappedError) as ei:
        intake(str(project), str(SURVEY / "components_a.gpkg"))
    proposal = Path(ei.value.details["proposal"])
    text = proposal.read_text(encoding="utf-8").replace('"供水井盖": UNMAPPED', '"供水井盖": "0101"') \
        .replace('"雨水篦子": UNMAPPED', '"雨水篦子": skip')
    edited = tmp_path / "edited.yaml"
    edited.write_text(text, encoding="utf-8")
    data = intake(str(project), str(SURVEY / "components_a.gpkg"), mapping=str(edited))
    rej = layer(project, "intake_rejects")
    assert (rej["reason"] == "skipped_by_mapping").sum() == 3  # kept in intake_rejects, not lost
    assert data["imported"]["component_point"] == 12480 - 3


def test_unknown_mapping_targets_are_errors(project, tmp_path, cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields:\n  小类代码: nonsense\n", encoding="utf-8")
    code, res, _ = intake_json(cli, project, SURVEY / "components_b_gbk.shp", "--mapping", bad)
    assert code == 2 and res["error"]["code"] == "bad_mapping"


def test_b_old_edition_codes_and_typos_are_proposed(project, tmp_path):
    """With the fields mapped, 01001 (GB/T 47678 供水井盖, no same-named class), 0199, 0720 and the
    typo 雨水篦子 are proposed; 01002/01003 (same names here) cross over automatically."""
    from surveytools.components.intake import intake
    from surveytools.components.prepare import UnmappedError

    fields_only = tmp_path / "b.yaml"
    fields_only.write_text("fields:\n  小类代码: class_code\n  主管部门: dept1_name\n  权属单位: dept2_name\n"
                           "  养护单位: dept3_name\n", encoding="utf-8")
    with pytest.raises(UnmappedError) as ei:
        intake(str(project), str(SURVEY / "components_b_gbk.shp"), mapping=str(fields_only))
    un = {u["value"]: u for u in ei.value.details["unmapped_classes"]}
    assert set(un) == {"01001", "0199", "0720", "雨水篦子"}
    # every B mistake of these kinds is among them
    for _, m in mistakes("components_b_gbk", "class code not in table").iterrows():
        assert m["detail"].split()[-1] in un
    assert un["01001"]["suggestions"][0]["code"] == "0101"  # the record's name says 上水井盖
    assert un["0199"]["suggestions"][0]["why"].startswith("这些记录的另一类别列")
    text = Path(ei.value.details["proposal"]).read_text(encoding="utf-8")
    assert '"01002": "0102"' in text and "gbt47678" in text


def test_c_leading_zero_lost_is_proposed(project):
    from surveytools.components.intake import intake
    from surveytools.components.prepare import UnmappedError

    with pytest.raises(UnmappedError) as ei:
        intake(str(project), str(SURVEY / "components_c.csv"))
    un = {u["value"] for u in ei.value.details["unmapped_classes"]}
    assert "099" in un
    cols = {u["column"] for u in ei.value.details["unmapped_fields"]}
    assert {"class_name", "dept_main", "install_date"} <= cols


# ----------------------------------------------------------------------------------------------
# delivery A: IDs, geometry types, location

def test_a_counts_batch_and_registry(a_project):
    p, data = a_project
    assert data["read"] == 12657
    assert data["imported"] == {"component_point": 12480, "component_line": 60, "component_polygon": 95}
    b = layer(p, "intake_batches")
    assert list(b["batch_id"]) == [data["batch"]]
    assert b["encoding"].iloc[0] == "UTF-8" and b["source_crs"].iloc[0] == "EPSG:4548"
    pts = layer(p, "components_point")
    assert (pts["BatchID"] == data["batch"]).all()
    reg = layer(p, "id_registry")
    for cls, grp in pts.groupby("ClassCode"):
        assert int(reg.loc[reg["class_code"] == cls, "max_serial"].iloc[0]) == grp["ObjID"].str[-6:].astype(int).max()


def test_a_geometry_type_mismatches_are_rejected_not_imported(a_project):
    p, data = a_project
    rej = layer(p, "intake_rejects")
    # 0301 公共厕所 is a polygon class in CJ/T 214: the delivered points are kept aside
    assert data["rejected"] == 22 and len(rej) == 22
    assert set(rej["reason"]) == {"geometry_mismatch"} and set(rej["class_code"]) == {"0301"}
    assert json.loads(rej["attributes"].iloc[0])["ObjName"] == "公共厕所"
    assert "0301" not in set(layer(p, "components_point")["ClassCode"])


def test_a_ids_are_unique_valid_and_the_bad_ones_reissued(a_project):
    p, data = a_project
    ids = pd.concat([layer(p, f"components_{k}", read_geometry=False)[["ObjID", "ClassCode"]]
                     for k in ("point", "line", "polygon")])
    assert ids["ObjID"].is_unique
    assert ids["ObjID"].str.fullmatch(r"360681\d{10}").all()
    assert (ids["ObjID"].str[6:10] == ids["ClassCode"]).all()
    rep = layer(p, "intake_report")
    by_reason = rep.groupby("reason")["value"].apply(set).to_dict()
    for _, m in mistakes("components_a", "wrong county prefix").iterrows():
        assert m["feature"] in by_reason["id_wrong_county"]
    for _, m in mistakes("components_a", "duplicate ObjID").iterrows():
        assert m["feature"] in by_reason["id_duplicate"]
    for _, m in mistakes("components_a", "class code not in table").iterrows():
        assert m["feature"] in by_reason["id_class_mismatch"]  # 0199 in the ObjID, the name says otherwise
    gbt = mistakes("components_a", "GB/T 47678 code")
    assert set(gbt["feature"]) <= by_reason["id_format"]
    msg = rep.loc[rep["value"] == gbt["feature"].iloc[0], "message_zh"].iloc[0]
    assert "gbt47678" in msg
    assert data["ids"] == {"kept": 12625, "new": 10, "replaced": 10}
    # the kept first copy of each duplicated ObjID is still there
    for _, m in mistakes("components_a", "duplicate ObjID").iterrows():
        assert (ids["ObjID"] == m["feature"]).sum() == 1


def test_a_names_off_are_normalised_and_reported(a_project):
    p, _ = a_project
    rep = layer(p, "intake_report")
    norm = rep[rep["reason"] == "name_normalised"]
    assert sorted(norm["value"]) == ["供水井盖"] * 3 + ["雨水篦子"] * 3
    pts = layer(p, "components_point")
    assert not pts["ObjName"].isin(["供水井盖", "雨水篦子"]).any()


def test_a_location_fields(a_project):
    p, data = a_project
    pts = layer(p, "components_point")
    comms = layer(p, "communities")
    located = pts[pts["BGID"].notna()]
    assert (located["CommCode"] == located["BGID"].str[:12]).all()
    assert (located["StreetCode"] == located["BGID"].str[:9]).all()
    names = dict(zip(comms["CommCode"], comms["CommName"]))
    assert (located["CommName"] == located["CommCode"].map(names)).all()
    assert located["StreetName"].notna().all()
    # the point moved 80 km east is reported, not dropped
    far = mistakes("components_a", "far outside")["feature"].iloc[0]
    rep = layer(p, "intake_report")
    assert far in set(rep.loc[rep["reason"] == "unlocated", "component_id"])
    assert pts.loc[pts["ObjID"] == far, "BGID"].isna().all()
    assert data["unlocated"] == 1
    # every located point really lies in (or on the edge of) its grid
    grids = layer(p, "unit_grids").set_index("BGID")
    g = grids.loc[located["BGID"]].geometry.values
    assert np.all(g.buffer(1e-6).covers(located.geometry.values))


def test_a_lines_and_polygons_go_to_the_grid_holding_their_larger_part(a_project):
    import shapely

    p, _ = a_project
    grids = layer(p, "unit_grids")
    for name in ("components_line", "components_polygon"):
        comp = layer(p, name)
        comp = comp[comp.geometry.is_valid]
        for _, row in comp.head(25).iterrows():
            inter = shapely.intersection(row.geometry, grids.geometry.values)
            m = shapely.area(inter) if name.endswith("polygon") else shapely.length(inter)
            assert grids["BGID"].iloc[int(np.argmax(m))] == row["BGID"]


# ----------------------------------------------------------------------------------------------
# B: the GBK Shapefile without .cpg; C and D: CSV and the GCJ-02 phone workbook

def test_b_gbk_without_cpg_is_detected_and_reported(project, cli):
    assert not (SURVEY / "components_b_gbk.cpg").exists()
    code, res, err = intake_json(cli, project, SURVEY / "components_b_gbk.shp", "--mapping",
                                 MAPPINGS / "components_b_gbk.yaml")
    assert code == 0, err
    assert res["encoding"] == "GB18030" and res["encoding_detected"] is True
    assert any(".cpg" in w["en"] for w in res["warnings"])
    assert res["imported"] == {"component_point": 1025} and res["rejected"] == 2
    pts = layer(project, "components_point")
    assert "贵溪市住房和城乡建设局" in set(pts["DeptName1"])
    assert pts["ObjName"].str.contains("井盖").any()
    b = layer(project, "intake_batches")
    assert b["encoding"].iloc[0] == "GB18030" and b["encoding_detected"].iloc[0] == "true"
    rep = layer(project, "intake_report")
    assert (rep["reason"] == "class_other_edition").sum() == 3  # 01002, 01003, 01003 crossed over


def test_real_gbk_shapefile_without_cpg(project, tmp_path):
    """A Shapefile written in GBK by GDAL, its .cpg deleted."""
    import geopandas as gpd

    from surveytools.components.intake import intake

    # DBF field names have at most 10 bytes: 4 Chinese characters in GBK
    g = gpd.GeoDataFrame({"部件名称": ["雨水箅子", "路灯", "行道树"], "材质": ["铸铁", "钢", "香樟"],
                          "位置描述": ["建设路南侧", "雄石路北侧", "东门大道"], "部件状态": ["完好", "破损", "完好"]},
                         geometry=gpd.points_from_xy([117.2210, 117.2215, 117.2220], [28.2930, 28.2931, 28.2932]),
                         crs="EPSG:4326")
    shp = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(g, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "雨水箅子".encode("gbk") in raw and "雨水箅子".encode("utf-8") not in raw
    data = intake(str(project), str(shp))
    assert data["encoding"] == "GB18030" and data["encoding_detected"]
    pts = layer(project, "components_point")
    assert sorted(pts["ObjName"]) == sorted(["雨水箅子", "路灯", "行道树"])
    assert set(pts["LocateDSC"]) == {"建设路南侧", "雄石路北侧", "东门大道"}
    assert set(pts["Material"]) == {"铸铁", "钢", "香樟"}
    assert set(pts["ClassCode"]) == {"0104", "0118", "0402"}


def test_gcj02_workbook_lands_on_the_wgs84_truth(project, cli):
    code, res, err = intake_json(cli, project, SURVEY / "components_c.csv", "--mapping", MAPPINGS / "components_c.yaml")
    assert code == 0, err
    c_batch = res["batch"]
    code, res, err = intake_json(cli, project, SURVEY / "components_d.xlsx", "--coords", "gcj02", "--mapping",
                                 MAPPINGS / "components_d.yaml")
    assert code == 0, err
    assert res["coords"] == "gcj02" and res["source_crs"] == "EPSG:4326"
    pts = layer(project, "components_point")
    c = pts[pts["BatchID"] == c_batch]
    d = pts[pts["BatchID"] == res["batch"]]
    shared = mistakes("components_d", "duplicate across deliveries")
    assert len(shared) == 3
    for _, m in shared.iterrows():
        name, loc = m["feature"].split("@")
        ci = c[(c["ObjName"] == name) & (c["LocateDSC"] == loc)]
        dist = min(d[d["ObjName"] == name].distance(g).min() for g in ci.geometry)
        assert dist < 1.0  # without the conversion it is about 500 m
    # the record with an empty name got the class's name, and that is reported
    rep = layer(project, "intake_report")
    assert ((rep["batch"] == res["batch"]) & (rep["reason"] == "name_filled")).sum() == 1


def test_without_coords_conversion_the_workbook_is_500_m_off(project, cli):
    from surveytools.components.intake import intake

    intake(str(project), str(SURVEY / "components_c.csv"), mapping=str(MAPPINGS / "components_c.yaml"))
    d = intake(str(project), str(SURVEY / "components_d.xlsx"), mapping=str(MAPPINGS / "components_d.yaml"))
    pts = layer(project, "components_point")
    dd = pts[pts["BatchID"] == d["batch"]]
    cc = pts[pts["BatchID"] != d["batch"]]
    name, loc = mistakes("components_d", "duplicate across deliveries")["feature"].iloc[0].split("@")
    g = cc[(cc["ObjName"] == name) & (cc["LocateDSC"] == loc)].geometry.iloc[0]
    assert 300 < dd[dd["ObjName"] == name].distance(g).min() < 800


def test_xy_columns_in_the_project_crs_and_swapped(project, tmp_path):
    from surveytools.components.intake import intake

    pts = pd.DataFrame({"部件名称": ["路灯", "路灯"], "X": [520300.0, 520310.0], "Y": [3131900.0, 3131905.0]})
    pts.to_csv(tmp_path / "xy.csv", index=False)
    data = intake(str(project), str(tmp_path / "xy.csv"))
    assert data["source_crs"] == "EPSG:4548"
    swapped = pts.rename(columns={"X": "Y", "Y": "X"})  # surveying convention: X is northing
    swapped.to_csv(tmp_path / "swapped.csv", index=False)
    data2 = intake(str(project), str(tmp_path / "swapped.csv"))
    assert any("swapped" in n["en"] for n in data2["sources"][0]["notes"])
    got = layer(project, "components_point")
    a = got[got["BatchID"] == data["batch"]].geometry
    b = got[got["BatchID"] == data2["batch"]].geometry
    assert np.allclose(np.c_[a.x, a.y], np.c_[b.x, b.y])


def test_source_crs_overrides_and_lonlat_default(project, tmp_path):
    from surveytools.components.intake import intake

    df = pd.DataFrame({"部件名称": ["路灯"], "lon": [117.2210], "lat": [28.2930]})
    df.to_csv(tmp_path / "ll.csv", index=False)
    data = intake(str(project), str(tmp_path / "ll.csv"))
    assert data["source_crs"] == "EPSG:4326"
    df.to_csv(tmp_path / "ll4490.csv", index=False)
    data = intake(str(project), str(tmp_path / "ll4490.csv"), source_crs="EPSG:4490")
    assert data["source_crs"] == "EPSG:4490"


# ----------------------------------------------------------------------------------------------
# coding: IDs continue after the highest ever used, never reused

def test_new_serials_continue_after_the_highest_ever_used(project, tmp_path):
    import sqlite3

    from surveytools.components.intake import intake

    df = pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3})
    df.to_csv(tmp_path / "lamps.csv", index=False)
    first = intake(str(project), str(tmp_path / "lamps.csv"))
    ids = sorted(layer(project, "components_point")["ObjID"])
    assert ids == ["3606810118000001", "3606810118000002", "3606810118000003"]
    # a component deleted by hand: its serial is in the registry and never issued again
    con = sqlite3.connect(project)
    con.execute("DELETE FROM components_point WHERE ObjID = '3606810118000003'")
    con.commit()
    con.close()
    intake(str(project), str(tmp_path / "lamps.csv"))
    ids = sorted(layer(project, "components_point")["ObjID"])
    assert ids[-3:] == ["3606810118000004", "3606810118000005", "3606810118000006"]
    assert first["batch"] != layer(project, "intake_batches")["batch_id"].iloc[-1]


def test_delivered_id_already_in_the_project_gets_a_new_one(project, tmp_path):
    from surveytools.components.intake import intake

    df = pd.DataFrame({"ObjID": ["3606810118000007"], "部件名称": ["路灯"], "lon": [117.2210], "lat": [28.2930]})
    df.to_csv(tmp_path / "one.csv", index=False)
    intake(str(project), str(tmp_path / "one.csv"))
    second = intake(str(project), str(tmp_path / "one.csv"))
    ids = sorted(layer(project, "components_point")["ObjID"])
    assert ids == ["3606810118000007", "3606810118000008"]
    assert second["ids"] == {"kept": 0, "new": 1, "replaced": 1}


def test_no_code_then_code_command(project, cli):
    code, res, err = intake_json(cli, project, SURVEY / "components_a.gpkg", "--mapping",
                                 MAPPINGS / "components_a.yaml", "--no-code", "--no-locate")
    assert code == 0, err
    pts = layer(project, "components_point")
    assert pts["BGID"].isna().all()
    code, out, err = cli(["components", "code", project, "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["new"] == 10 and res["replaced"] == 10
    code, out, err = cli(["components", "locate", project, "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["layers"]["component_point"]["unlocated"] == 1
    ids = layer(project, "components_point")["ObjID"]
    assert ids.is_unique and ids.str.fullmatch(r"360681\d{10}").all()
    # a second run changes nothing
    code, out, _ = cli(["components", "code", project, "--json"])
    assert json.loads(out)["new"] == 0


def test_code_fills_the_class_from_the_id_and_reports_unclassified(project):
    import geopandas as gpd

    from surveytools.components.recode import code_project
    from surveytools.project import Project, write_project_layer

    proj = Project.open(project)
    g = gpd.GeoDataFrame({"ObjID": ["3606810118000005", None, None], "ClassCode": [None, "0402", None]},
                         geometry=gpd.points_from_xy([520300, 520310, 520320], [3131900, 3131900, 3131900]),
                         crs=proj.crs)
    with proj.transaction() as work:
        write_project_layer(work, "component_point", g)
    res = code_project(str(project))
    assert res["unclassified"] == 1 and res["new"] == 1
    pts = layer(project, "components_point")
    assert list(pts["ClassCode"][:2]) == ["0118", "0402"] and pd.isna(pts["ClassCode"].iloc[2])
    assert list(pts["ObjName"][:2]) == ["路灯", "行道树"]
    assert pts["ObjID"].iloc[1] == "3606810402000001"


# ----------------------------------------------------------------------------------------------
# location rules

def test_point_on_an_edge_goes_to_the_smallest_code_and_shapes_to_their_larger_part():
    import shapely

    from surveytools.locate import locate

    grids = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10), shapely.box(0, 10, 10, 20),
                      shapely.box(10, 10, 20, 20)], dtype=object)
    codes = np.array(["B2", "A1", "C3", "D4"], dtype=object)  # not in geometric order
    geoms = np.array([shapely.Point(10, 5),      # edge between B2 and A1 -> A1
                      shapely.Point(10, 10),     # corner of all four -> A1
                      shapely.Point(5, 5),       # inside B2
                      shapely.Point(5, 10),      # edge B2/C3 -> B2
                      shapely.Point(30, 30),     # outside
                      shapely.LineString([(2, 5), (14, 5)]),             # 8 in B2, 4 in A1 -> B2
                      shapely.box(8, 12, 20, 18),                        # most in D4
                      shapely.LineString([(5, 15), (15, 15)])],          # 5 / 5 tie -> C3 < D4
                     dtype=object)
    got = [codes[i] if i >= 0 else None for i in locate(geoms, grids, codes)]
    assert got == ["A1", "A1", "B2", "B2", None, "B2", "D4", "C3"]
    # the order of the grids does not matter
    perm = np.array([3, 1, 0, 2])
    got2 = [codes[perm][i] if i >= 0 else None for i in locate(geoms, grids[perm], codes[perm])]
    assert got2 == got


def test_bucket_index_agrees_with_the_strtree_on_random_points(a_project):
    import shapely

    from surveytools.locate import GridIndex

    p, _ = a_project
    grids = layer(p, "unit_grids")
    geoms = grids.geometry.values
    codes = grids["BGID"].to_numpy(dtype=object)
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = grids.total_bounds
    x = rng.uniform(minx - 100, maxx + 100, 20000)
    y = rng.uniform(miny - 100, maxy + 100, 20000)
    # points exactly on grid vertices too
    v = shapely.get_coordinates(geoms[:200])
    x, y = np.r_[x, v[:, 0]], np.r_[y, v[:, 1]]
    idx = GridIndex(geoms, codes).points(x, y)
    tree = shapely.STRtree(geoms)
    fi, gi = tree.query(shapely.points(x, y), predicate="intersects")
    ref = pd.DataFrame({"f": fi, "c": codes[gi]}).groupby("f")["c"].min()
    want = np.full(len(x), None, dtype=object)
    want[ref.index.to_numpy()] = ref.to_numpy()
    got = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
    assert (got == want).all()


def test_streamed_and_in_memory_intake_give_the_same_layer(components_grid_project, tmp_path, monkeypatch):
    """Large layers are read in two passes and written by a helper process straight into the
    project (R-tree bulk-loaded at the commit): same result as in memory."""
    from surveytools.components import intake as intake_mod
    from surveytools.components.intake import intake

    monkeypatch.setattr(intake_mod, "CHUNK", 1000)  # many chunks, an R-tree of three levels
    out = {}
    for mode, env in (("stream", {"SURVEYTOOLS_STREAM_MIN": "1"}),
                      ("memory", {"SURVEYTOOLS_STREAM_MIN": "100000000", "SURVEYTOOLS_STREAM_WRITE": "0"})):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        p = tmp_path / f"{mode}.gpkg"
        shutil.copy(components_grid_project, p)
        intake(str(p), f"{SURVEY / 'components_a.gpkg'}:points", mapping=str(MAPPINGS / "components_a.yaml"))
        out[mode] = (layer(p, "components_point"), layer(p, "intake_rejects"))
        monkeypatch.delenv("SURVEYTOOLS_STREAM_WRITE", raising=False)
    a, b = out["stream"][0], out["memory"][0]
    assert len(a) == 12480
    assert a.drop(columns="BatchID").equals(b.drop(columns="BatchID"))
    assert out["stream"][1]["attributes"].equals(out["memory"][1]["attributes"])
    # the streamed layer's R-tree was built beside it and copied in: it answers like GDAL's own
    import sqlite3

    for mode in ("stream", "memory"):
        con = sqlite3.connect(tmp_path / f"{mode}.gpkg")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM rtree_components_point_geom").fetchone()[0] == 12480
        assert con.execute("SELECT count(*) FROM gpkg_extensions WHERE table_name = 'components_point' AND "
                           "extension_name = 'gpkg_rtree_index'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                           "name LIKE 'rtree_components_point_geom%'").fetchone()[0] >= 6
        assert con.execute("SELECT rtreecheck('rtree_components_point_geom')").fetchone()[0] == "ok"
        assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'components_point'"
                           ).fetchone()[0] == 12480
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'surveytools_stage%'").fetchone()[0] == 0
        con.close()
    cx, cy = float(np.median(a.geometry.x)), float(np.median(a.geometry.y))
    box = (cx - 750, cy - 750, cx + 750, cy + 750)
    for mode in ("stream", "memory"):
        hits = layer(tmp_path / f"{mode}.gpkg", "components_point", bbox=box, columns=["ObjID"])
        want = a[a.geometry.intersects(__import__("shapely").box(*box))]
        assert sorted(hits["ObjID"]) == sorted(want["ObjID"]) and len(hits) > 100
    # and the layer takes later edits through the restored triggers
    from surveytools.components.intake import intake as again

    again(str(tmp_path / "stream.gpkg"), str(SURVEY / "components_c.csv"), mapping=str(MAPPINGS / "components_c.yaml"))
    con = sqlite3.connect(tmp_path / "stream.gpkg")
    n = con.execute("SELECT count(*) FROM components_point").fetchone()[0]
    assert con.execute("SELECT count(*) FROM rtree_components_point_geom").fetchone()[0] == n == 12480 + 3179
    assert con.execute("SELECT rtreecheck('rtree_components_point_geom')").fetchone()[0] == "ok"
    assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'components_point'"
                       ).fetchone()[0] == n
    con.close()


def test_a_failed_streamed_intake_leaves_no_staged_table(components_grid_project, tmp_path, monkeypatch):
    """The helper writes the rows into the project under a staged name; a commit that fails drops
    them: the layer and the file's layers are as before."""
    import sqlite3

    from surveytools.components.intake import intake
    from surveytools.store import gpkg as sg

    monkeypatch.setenv("SURVEYTOOLS_STREAM_MIN", "1")
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    before = sorted(pyogrio.list_layers(p)[:, 0])

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(sg, "_rename_staged", boom)
    with pytest.raises(RuntimeError):
        intake(str(p), f"{SURVEY / 'components_a.gpkg'}:points", mapping=str(MAPPINGS / "components_a.yaml"))
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM components_point").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'surveytools_stage%'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM gpkg_contents WHERE table_name LIKE 'surveytools_stage%'").fetchone()[0] == 0
    con.close()
    assert sorted(pyogrio.list_layers(p)[:, 0]) == before


def test_a_delivery_read_from_the_project_itself_is_not_folded_alongside(components_grid_project, tmp_path,
                                                                          monkeypatch):
    """The delivery is a layer of the project file (loaded there in QGIS): the intake reads it with
    GDAL while the helper writes, so this process does not also hold a folding connection of its
    own SQLite on that file (a GDAL close would drop its locks); the intake lands whole."""
    import sqlite3

    from surveytools.components.intake import intake
    from surveytools.store import gpkg as sg

    monkeypatch.setenv("SURVEYTOOLS_STREAM_MIN", "1")
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    meta, t = pyogrio.read_arrow(SURVEY / "components_a.gpkg", layer="points")
    pyogrio.write_arrow(t, p, layer="raw_delivery", driver="GPKG", geometry_name=meta["geometry_name"] or "geom",
                        geometry_type="Point", crs=meta["crs"])
    folded = []
    real = sg.Transaction.fold_wal_while_writing
    monkeypatch.setattr(sg.Transaction, "fold_wal_while_writing", lambda self, *a: folded.append(1) or real(self, *a))
    res = intake(str(p), f"{p}:raw_delivery", mapping=str(MAPPINGS / "components_a.yaml"))
    assert folded == []
    # the same delivery from its own file is folded alongside
    q = tmp_path / "q.gpkg"
    shutil.copy(components_grid_project, q)
    res_q = intake(str(q), f"{SURVEY / 'components_a.gpkg'}:points", mapping=str(MAPPINGS / "components_a.yaml"))
    assert folded == [1]
    assert res["imported"] == res_q["imported"] and sum(res["imported"].values()) == 12480
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM components_point").fetchone()[0] == 12480
    assert con.execute("SELECT rtreecheck('rtree_components_point_geom')").fetchone()[0] == "ok"
    con.close()


KILLED_INTAKE = """
import sys
from surveytools.components.intake import intake
intake(sys.argv[1], sys.argv[2], mapping=sys.argv[3])
print("done", flush=True)
"""


def test_kill_9_during_a_streamed_intake_leaves_0_or_all_rows(components_grid_project, tmp_path):
    """kill -9 while the helper writes the rows into the project (or while the commit renames
    them): the layer has 0 or all rows with a matching R-tree; the next writer drops the staged
    table a killed intake left behind."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from surveytools import store

    env = dict(os.environ, SURVEYTOOLS_STREAM_MIN="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    cmd = [sys.executable, "-c", KILLED_INTAKE, str(p), f"{SURVEY / 'components_a.gpkg'}:points",
           str(MAPPINGS / "components_a.yaml")]
    probe = tmp_path / "probe.gpkg"
    shutil.copy(components_grid_project, probe)
    t0 = time.monotonic()
    subprocess.run(cmd[:3] + [str(probe)] + cmd[4:], check=True, env=env, capture_output=True, timeout=300)
    span = time.monotonic() - t0
    outcomes, staged_left = set(), 0
    for frac in (0.4, 0.55, 0.65, 0.75, 0.85, 0.92, 0.97):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(span * frac)
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its writer process
        proc.wait()
        con = sqlite3.connect(p)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT count(*) FROM components_point").fetchone()[0]
        rtree = con.execute("SELECT count(*) FROM rtree_components_point_geom").fetchone()[0]
        staged_left += con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                   "AND name LIKE 'surveytools_stage%'").fetchone()[0]
        con.close()
        assert rows in (0, 12480) and rtree == rows, (frac, rows, rtree)
        # a leftover staged table is no layer of the project (GDAL lists it until the next writer drops it)
        assert not [n for n in store.list_layers(str(p)) if n.startswith("surveytools_stage")]
        outcomes.add(rows)
        if rows:
            break
    assert 0 in outcomes  # at least one kill hit the intake before its commit
    print("kills:", sorted(outcomes), "staged tables left:", staged_left)
    # the next writer cleans up what the killed ones left behind, then takes the delivery
    if 12480 not in outcomes:
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    con = sqlite3.connect(p)
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'surveytools_stage%'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM components_point").fetchone()[0] == 12480
    assert con.execute("SELECT rtreecheck('rtree_components_point_geom')").fetchone()[0] == "ok"
    con.close()


# ----------------------------------------------------------------------------------------------
# events

def test_events_intake(project, cli):
    code, out, err = cli(["events", "intake", project, SURVEY / "events.csv", "--json"])
    assert code == 2 and json.loads(out)["error"]["code"] == "unmapped"
    code, out, err = cli(["events", "intake", project, SURVEY / "events.csv", "--mapping", MAPPINGS / "events.yaml",
                          "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["imported"] == 60
    ev = layer(project, "events")
    src = pd.read_csv(SURVEY / "events.csv", dtype=str)
    assert list(ev["EventID"]) == list(src["EventID"])
    assert (ev["EvtCode"] == "360681" + ev["ClassCode"]).all()
    assert (ev["EvtCode"] == src["EventCode"]).all()
    assert (ev["EvtName"] == src["ClassName"]).all()
    assert ev["OccurTime"].notna().all()
    located = ev[ev["BGID"].notna()]
    assert len(located) >= 58 and (located["CommCode"] == located["BGID"].str[:12]).all()


# ----------------------------------------------------------------------------------------------
# the CLI contract

def test_cli_contract(cli):
    code, out, _ = cli(["components", "intake", "--help"])
    assert code == 0
    for flag in ("--mapping", "--source-crs", "--coords", "--json", "--no-code", "--no-locate"):
        assert flag in out
    assert "gcj02|bd09" in out
    for cmd in ("code", "locate", "merge", "template"):
        code, out, _ = cli(["components", cmd, "--help"])
        assert code == 0 and "--json" in out
    code, out, _ = cli(["components", "merge", "--help"])
    assert "--tolerance" in out
    code, out, _ = cli(["components", "template", "--help"])
    assert "--classes" in out
    code, out, _ = cli(["events", "intake", "--help"])
    assert code == 0 and "--mapping" in out


def test_chinacoords_moved_and_still_importable_from_the_sample():
    from surveytools import chinacoords
    from surveytools.sample import chinacoords as old

    assert old.gcj02_to_wgs84 is chinacoords.gcj02_to_wgs84
    lon, lat = chinacoords.wgs84_to_gcj02(117.22, 28.29)
    back = chinacoords.gcj02_to_wgs84(lon, lat)
    assert abs(back[0] - 117.22) < 1e-8 and abs(back[1] - 28.29) < 1e-8


def test_small_delivery_codes_through_the_id_index_like_a_full_read(project, tmp_path, monkeypatch):
    """Issue 12 point 2: a small intake reads only the IDs it needs (the ID index), with the
    same IDs as reading every ID: hand-inserted IDs above the registry, a malformed longer ID and
    another county's ID with the same digits do not mislead it."""
    import sqlite3

    import pyarrow as pa

    from surveytools.components import store
    from surveytools.components.coding import IdSpec, assign_ids
    from surveytools.components.intake import intake
    from surveytools.locate import COMPONENT_LAYERS
    from surveytools.project import Project

    df = pd.DataFrame({"部件名称": ["路灯"] * 3, "lon": [117.2210, 117.2211, 117.2212], "lat": [28.2930] * 3})
    df.to_csv(tmp_path / "lamps.csv", index=False)
    intake(str(project), str(tmp_path / "lamps.csv"))
    from surveytools.store.gpkg import _register_geometry_functions

    con = sqlite3.connect(project)
    _register_geometry_functions(con)  # what GDAL's R-tree triggers call (QGIS has them)
    assert con.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'idx_components_point_ObjID'"
                       ).fetchone(), "the commit indexes the standard ID"
    # edits by hand (QGIS, SQL): a higher serial the registry never saw, a too-long ID and a
    # neighbouring county's ID that sort above it
    con.executemany("INSERT INTO components_point (ObjID, geom) SELECT ?, geom FROM components_point LIMIT 1",
                    [("3606810118000040",), ("36068101180000999",), ("3606820118000777",), ("360681011800005X",)])
    con.commit()
    con.close()
    proj = Project.open(project)
    spec = IdSpec.of(proj.profile, proj.county)
    delivered = pa.array(["3606810118000002", None, "3606810118000041"], pa.string())
    classes = pa.array(["0118", "0118", "0118"], pa.string())
    every, _ = store.read_ids(proj, COMPONENT_LAYERS)
    few = store.relevant_ids(proj, COMPONENT_LAYERS, delivered, classes, spec)
    assert few is not None and len(few) < len(every)
    assert set(few.to_pylist()) == {"3606810118000002", "3606810118000040"}
    a = assign_ids(delivered, classes, spec, proj.profile, existing_ids=every, registry={})
    b = assign_ids(delivered, classes, spec, proj.profile, existing_ids=few, registry={})
    assert a.ids.to_pylist() == b.ids.to_pylist() == ["3606810118000042", "3606810118000043", "3606810118000041"]
    assert a.maxima["0118"] == b.maxima["0118"] == 43

    # the operation itself never reads every ID for a small delivery
    def no_full_read(*a, **k):
        raise AssertionError("read every ID")

    monkeypatch.setattr(store, "read_ids", no_full_read)
    res = intake(str(project), str(tmp_path / "lamps.csv"))
    assert res["ids"]["new"] == 3
    ids = set(layer(project, "components_point", read_geometry=False)["ObjID"].dropna())
    assert {"3606810118000041", "3606810118000042", "3606810118000043"} <= ids
