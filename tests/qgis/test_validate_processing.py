"""``surveytools:validate_run`` through processing.run: a PASS returns the report paths; a FAIL
raises a bilingual QgsProcessingException after the reports are written."""
from pathlib import Path

import pytest
import yaml



def _run(alg_id, params):
    import processing
    from qgis.core import QgsProcessingFeedback

    return processing.run(alg_id, params, feedback=QgsProcessingFeedback())


@pytest.fixture
def small_project(provider, tmp_path):
    """A new, empty project (no other operation involved)."""
    p = tmp_path / "p.gpkg"
    _run("surveytools:project_init", {"PROJECT": str(p), "PROFILE": "cjt", "COUNTY": "360681", "OVERWRITE": False})
    return p


def test_validate_run_pass_and_fail(provider, small_project, tmp_path):
    from qgis.core import QgsProcessingException

    scheme = tmp_path / "s.yaml"
    scheme.write_text(yaml.safe_dump({"id": "t", "steps": [{"rule": "geometry.empty"}, {"rule": "codes.duplicate"},
                                                           {"rule": "topology.grid_overlaps"}]}), encoding="utf-8")
    out = tmp_path / "out"
    res = _run("surveytools:validate_run", {"PROJECT": str(small_project), "OUT": str(out), "SCHEME": str(scheme),
                                            "WRITE_PROJECT": True})
    assert Path(res["REPORT_HTML"]).is_file() and Path(res["ERRORS"]).is_file()
    assert "PASS" in res["RESULT"]
    assert '"skipped"' in res["RESULT"]  # no unit grids: grid_overlaps is skipped, not failed
    with pytest.raises(QgsProcessingException) as exc:  # an empty project: completeness fails
        _run("surveytools:validate_run", {"PROJECT": str(small_project), "OUT": str(tmp_path / "out2")})
    msg = str(exc.value)
    assert "不通过" in msg and "FAIL" in msg and "Traceback" not in msg
    assert (tmp_path / "out2" / "report.xlsx").is_file()
