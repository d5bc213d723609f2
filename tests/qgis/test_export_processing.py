"""Responsibility and export operations as QGIS Processing algorithms (run out of process through the CLI),
and the release opening styled in QGIS."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def _run(alg_id, params):
    import processing
    from qgis.core import QgsProcessingFeedback

    return processing.run(alg_id, params, feedback=QgsProcessingFeedback())


def test_assign_and_release_through_processing_open_styled(provider, tmp_path):
    import pyogrio
    from export_fixture import DEPARTMENTS, build
    from qgis.core import QgsVectorLayer

    p = tmp_path / "p.gpkg"
    info = build(p)
    res = _run("surveytools:responsibility_assign", {"PROJECT": str(p), "DEPARTMENTS": str(DEPARTMENTS)})
    data = json.loads(res["RESULT"])
    assert data["components"] == info["points"] + info["lines"] + info["polygons"] and data["events"] == info["events"]
    assert pyogrio.read_info(str(p), layer="responsibility_assignments")["features"] == data["components"] + data["events"]
    out = tmp_path / "release.gpkg"
    _run("surveytools:export_db", {"PROJECT": str(p), "TO": str(out)})
    for name, renderer in (("unit_grids", "singleSymbol"), ("components_point", "categorizedSymbol")):
        layer = QgsVectorLayer(f"{out}|layername={name}", name, "ogr")
        assert layer.isValid()
        msg, ok = layer.loadDefaultStyle()
        assert ok, msg
        assert layer.renderer().type() == renderer
        if name == "unit_grids":
            assert layer.labelsEnabled() and layer.labeling().settings().fieldName == "BGID"
        else:
            assert len(layer.renderer().categories()) >= 6
        del layer
