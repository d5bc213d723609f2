"""The geocoding operations as QGIS Processing algorithms (run out of process through the CLI)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "sample_data" / "guixi" / "base.gpkg"


def _run(alg_id, params):
    import processing
    from qgis.core import QgsProcessingFeedback

    return processing.run(alg_id, params, feedback=QgsProcessingFeedback())


def test_geocode_build_and_batch_through_processing(provider, tmp_path):
    import pandas as pd
    import pyogrio

    from surveytools.grid.ops import divide
    from surveytools.project import init

    p = tmp_path / "g.gpkg"
    init(project=str(p), county="360681")
    divide(project=str(p), communities=f"{BASE}:communities", lines=[f"{BASE}:roads", f"{BASE}:rivers"], date="2024-06-01")
    _run("surveytools:geocode_build", {"PROJECT": str(p),
                                       "FROM": [str(ROOT / "sample_data/guixi/survey/doorplates.gpkg"), str(BASE)]})
    assert pyogrio.read_info(str(p), layer="geo_doorplates")["features"] == 2810
    src = tmp_path / "a.csv"
    pd.DataFrame({"addr": ["雄石路12号", "建设路"]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    _run("surveytools:geocode_batch", {"PROJECT": str(p), "FILE": str(src), "COLUMN": "addr", "OUT": str(out)})
    res = pd.read_csv(out, encoding="utf-8-sig")
    assert list(res["match_level"]) == ["door", "road"]
