"""One Locator (surveytools.locate) for every operation: components use the finest level the
project has; the address base (geocode build) falls back to the communities and streets for a
point beyond the unit grids."""
import numpy as np
import shapely

from surveytools.locate import Locator
from surveytools.project import Project, read_layer


def test_fallback_to_communities_beyond_the_grids(components_grid_project):
    proj = Project.open(str(components_grid_project))
    prof = proj.profile
    grids = read_layer(proj, "unit_grid")
    gcode = prof.field("unit_grid", "grid_code")
    kept, dropped = grids.iloc[1:], grids.iloc[:1]  # one grid missing: its area is "beyond the grids"
    inside = shapely.point_on_surface(np.asarray(kept.geometry.values[:1], dtype=object))
    beyond = shapely.point_on_surface(np.asarray(dropped.geometry.values, dtype=object))
    far = np.array([shapely.Point(0, 0)], dtype=object)
    pts = np.concatenate([inside, beyond, far])

    plain = Locator(proj, kept)
    idx = plain.locate(pts)
    assert idx[0] >= 0 and idx[1] == -1 and idx[2] == -1
    f = plain.fields(idx).copy()
    assert f["grid_code"].to_pylist()[0] == kept[gcode].iloc[0]

    fb = Locator(proj, kept, fallback=True)
    assert fb.level == "unit_grid"
    idx = fb.locate(pts)
    f = {k: v.to_pylist() for k, v in fb.fields(idx).items()}
    assert idx[2] == -1 and all(v[2] is None for v in f.values())  # in nothing at all
    assert f["grid_code"][:2] == [kept[gcode].iloc[0], None]
    ug = prof.codes["unit_grid"]
    clen = ug.length - ug.part_length("serial")
    slen = clen - ug.part_length("community")
    code = dropped[gcode].iloc[0]
    assert f["community_code"][1] == code[:clen] and f["street_code"][1] == code[:slen]
    assert f["community_name"][1] and f["street_name"][1]
    # the same for points given as coordinates
    idx_xy = fb.locate(x=shapely.get_x(pts), y=shapely.get_y(pts))
    assert idx_xy.tolist() == idx.tolist()
