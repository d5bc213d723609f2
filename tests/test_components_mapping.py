"""``components mapping``: the proposal as data (for the QGIS dialog) and as the mapping YAML."""
import shutil
from pathlib import Path

import pyogrio
import pytest

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"


@pytest.fixture
def project(components_grid_project, tmp_path) -> Path:
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    return p


def test_proposal_data_exact_matches_ranked_suggestions_nothing_imported(project, tmp_path):
    from surveytools.components.mapping_ops import mapping

    before = project.read_bytes()
    out = tmp_path / "m.yaml"
    res = mapping(str(project), str(SURVEY / "components_a.gpkg"), out=str(out))
    assert project.read_bytes() == before  # nothing imported, the project untouched
    d = res.data
    classes = {c["value"]: c for c in d["classes"]}
    assert classes["行道树"]["code"] == "0402"  # exact match filled in
    assert classes["供水井盖"]["code"] is None and classes["供水井盖"]["count"] == 3
    sugg = classes["供水井盖"]["suggestions"]
    assert sugg[0]["code"] == "0101" and sugg[0]["name"] and sugg == sorted(sugg, key=lambda s: -s["score"])
    assert d["unmapped"] == 2 == res.outputs["UNMAPPED"]
    roles = {t["role"] for t in d["targets"]["fields"]}
    assert {"class_code", "component_id", "x", "y"} <= roles
    assert {f["column"] for f in d["fields"]} and all(f["role"] in roles | {"skip"} for f in d["fields"] if f["role"])
    assert len(d["targets"]["classes"]) > 50
    text = out.read_text(encoding="utf-8")
    assert '"供水井盖": UNMAPPED' in text and '"行道树": "0402"' in text


def test_an_existing_mapping_is_the_starting_point(project, tmp_path):
    from surveytools.components.mapping_ops import mapping

    start = tmp_path / "start.yaml"
    start.write_text('classes:\n  "供水井盖": "0101"\n', encoding="utf-8")
    res = mapping(str(project), str(SURVEY / "components_a.gpkg"), out=str(tmp_path / "m.yaml"), mapping=str(start))
    classes = {c["value"]: c for c in res.data["classes"]}
    assert classes["供水井盖"]["code"] == "0101" and res.data["unmapped"] == 1


def test_cli_components_mapping(project, tmp_path, cli):
    import json

    out = tmp_path / "m.yaml"
    code, stdout, _ = cli(["components", "mapping", str(project), str(SURVEY / "components_a.gpkg"), "--out", str(out),
                           "--json"])
    assert code == 0 and json.loads(stdout)["unmapped"] == 2 and out.exists()
    assert "intake_batches" not in [str(n) for n, _ in pyogrio.list_layers(str(project))]
