"""Plausibility checks of the grid operations that replace much: grid recode refuses redrawings
that leave gaps, overlap or retire too many codes (unless --force); grid import refuses invalid
polygons and codes of the wrong length with a clear error."""
import shutil

import geopandas as gpd
import pytest
import shapely

from surveytools import project
from surveytools.errors import SurveyError
from surveytools.grid import ops as grid


@pytest.fixture
def proj(components_grid_project, tmp_path):
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    return p


def _grids(p):
    return project.read_layer(project.Project.open(p), "unit_grid")


def _write(tmp_path, name, gdf):
    f = tmp_path / f"{name}.gpkg"
    gdf.to_file(f, layer="r")
    return f"{f}:r"


def test_one_small_square_cannot_retire_every_grid(proj, tmp_path):
    g = _grids(proj)
    x, y = g.geometry.iloc[0].representative_point().coords[0]
    src = _write(tmp_path, "one", gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(x, y, x + 100, y + 100)], crs=g.crs))
    before = proj.read_bytes()
    with pytest.raises(SurveyError) as e:
        grid.recode(project=str(proj), redrawn=src)
    text = e.value.render()
    assert e.value.code == "implausible_redrawing"
    assert f"{len(g)} / {len(g)}" in text and "缝隙" in text and "gaps" in text and "--force" in text
    assert proj.read_bytes() == before


def test_a_grid_shifted_30_m_is_reported_as_overlap_and_gap(proj, tmp_path):
    g = _grids(proj)
    red = g.copy()
    red.loc[5, "geometry"] = shapely.affinity.translate(red.geometry.iloc[5], 30, 0)
    src = _write(tmp_path, "shift", red[["geometry"]])
    with pytest.raises(SurveyError) as e:
        grid.recode(project=str(proj), redrawn=src)
    text = e.value.render("en")
    assert "overlap" in text and "gap" in text and "shift.gpkg" in text
    res = grid.recode(project=str(proj), redrawn=src, force=True)
    assert any("overlap" in w.en for w in res.warnings)
    assert len(g) - 4 <= res.data["changes"]["kept"] < len(g)


def test_an_empty_redrawn_layer_is_a_clear_error(proj, tmp_path):
    g = _grids(proj)
    src = _write(tmp_path, "empty", gpd.GeoDataFrame({"a": []}, geometry=[], crs=g.crs))
    with pytest.raises(SurveyError) as e:
        grid.recode(project=str(proj), redrawn=src)
    assert e.value.code == "empty" and "empty.gpkg" in e.value.render()


def test_a_faithful_redrawing_passes_without_force(proj, tmp_path):
    g = _grids(proj)
    src = _write(tmp_path, "same", g[["geometry"]])
    res = grid.recode(project=str(proj), redrawn=src)
    assert res.data["changes"]["kept"] == len(g) and not res.warnings


def _empty_project(tmp_path, name="e.gpkg"):
    p = tmp_path / name
    project.init(project=str(p), county="360681", profile="cjt")
    return p


def test_import_of_a_self_intersecting_grid_is_exit_2_naming_the_feature(tmp_path, cli):
    p = _empty_project(tmp_path)
    bow = shapely.Polygon([(500000, 3100000), (500100, 3100100), (500100, 3100000), (500000, 3100100)])
    f = tmp_path / "bow.gpkg"
    gpd.GeoDataFrame({"BGID": ["36068100100101", "36068100100102"]},
                     geometry=[bow, shapely.box(500100, 3100000, 500200, 3100100)], crs="EPSG:4548").to_file(f)
    rc, out, err = cli(["grid", "import", p, f])
    assert rc == 2 and "Self-intersection" in err and "36068100100101" in err and "--repair" in err
    rc, out, err = cli(["grid", "import", p, f, "--repair"])
    assert rc == 0


def test_import_codes_of_the_other_length_are_a_clear_error(tmp_path, cli):
    p = _empty_project(tmp_path)
    f = tmp_path / "c15.gpkg"
    gpd.GeoDataFrame({"BGID": ["360681001001001"]}, geometry=[shapely.box(0, 0, 100, 100)],
                     crs="EPSG:4548").to_file(f)
    rc, out, err = cli(["grid", "import", p, f])
    assert rc == 2 and "14" in err and "360681001001001" in err and "BGID" in err
    f2 = tmp_path / "nocode.gpkg"
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4548").to_file(f2)
    rc, out, err = cli(["grid", "import", p, f2])
    assert rc == 2 and "14 位" in err and "15 位" not in err and "15 digits" not in err  # (the tmp path may hold "15")


def test_real_communities_show_no_false_gaps_and_a_half_metre_strip_is_found(components_grid_project):
    """The closing that finds slivers must not invent gaps along the sample district's real
    (OSM-derived) community boundaries; a 0.5 m strip cut into them is found, with its area."""
    from surveytools.grid.communities import community_gaps

    comms = project.read_layer(project.Project.open(components_grid_project), "community")
    geoms = list(comms.geometry.values)
    assert len(community_gaps(geoms)) == 0
    a = geoms[0]
    x0, y0, x1, y1 = a.bounds
    xm = (x0 + x1) / 2
    strip = shapely.box(xm, y0 - 1, xm + 0.5, y1 + 1)
    cut = [shapely.difference(a, strip)] + geoms[1:]
    gaps = community_gaps(cut)
    assert len(gaps) >= 1
    assert abs(shapely.area(gaps).sum() - shapely.area(shapely.intersection(a, strip))) < 1.0
