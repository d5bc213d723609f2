"""``surveytools:validate_run`` through processing.run: PASS and FAIL both return the verdict, the
counts and the error layers as declared outputs (a FAIL is a result, not an exception)."""
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
    scheme = tmp_path / "s.yaml"
    scheme.write_text(yaml.safe_dump({"id": "t", "steps": [{"rule": "geometry.empty"}, {"rule": "codes.duplicate"},
                                                           {"rule": "topology.grid_overlaps"}]}), encoding="utf-8")
    out = tmp_path / "out"
    res = _run("surveytools:validate_run", {"PROJECT": str(small_project), "OUT": str(out), "SCHEME": str(scheme),
                                            "WRITE_PROJECT": True})
    assert Path(res["REPORT_HTML"]).is_file() and Path(res["ERRORS"]).is_file()
    assert "PASS" in res["RESULT"]
    assert '"skipped"' in res["RESULT"]  # no unit grids: grid_overlaps is skipped, not failed
    assert res["VERDICT"] == "PASS" and res["ERROR_COUNT"] == 0
    # an empty project: completeness fails -- returned, not raised
    from qgis.core import QgsProcessingFeedback

    class Fb(QgsProcessingFeedback):
        errors = []

        def reportError(self, text, fatal=False):
            self.errors.append((text, fatal))

    import processing

    fb = Fb()
    res = processing.run("surveytools:validate_run", {"PROJECT": str(small_project), "OUT": str(tmp_path / "out2")},
                         feedback=fb)
    assert res["VERDICT"] == "FAIL" and res["ERROR_COUNT"] > 0
    assert (tmp_path / "out2" / "report.xlsx").is_file() and Path(res["REPORT_HTML"]).is_file()
    msg, fatal = fb.errors[-1]
    assert "不通过" in msg and "FAIL" in msg and "Traceback" not in msg and fatal is False
    from qgis.core import QgsVectorLayer

    table = QgsVectorLayer(res["ERRORS_TABLE"], "t", "ogr")
    assert table.isValid() and table.featureCount() >= res["ERROR_COUNT"]
    # in the dialog, the non-empty error layers are loaded when the run finishes
    from qgis.core import QgsProcessingContext, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    res = processing.run("surveytools:validate_run", {"PROJECT": str(small_project), "OUT": str(tmp_path / "out3")},
                         context=context, feedback=QgsProcessingFeedback())
    to_load = context.layersToLoadOnCompletion()
    assert res["ERRORS_TABLE"] in to_load and res["ERRORS_POINT"] not in to_load  # no point errors: not loaded


def test_validate_run_declares_its_outputs_and_short_names(provider):
    from qgis.core import QgsApplication

    reg = QgsApplication.processingRegistry()
    alg = reg.algorithmById("surveytools:validate_run")
    outs = {o.name(): o.type() for o in alg.outputDefinitions()}
    assert outs["VERDICT"] == "outputString" and outs["ERROR_COUNT"] == "outputNumber"
    assert {outs[k] for k in ("ERRORS_POINT", "ERRORS_LINE", "ERRORS_POLYGON", "ERRORS_TABLE")} == {"outputVector"}
    assert "surveytools validate run" in alg.shortHelpString() and "ERRORS_POINT" in alg.shortHelpString()
    algs = [a for a in reg.algorithms() if a.provider().id() == "surveytools"]
    assert len(algs) >= 30
    for a in algs:
        assert 0 < len(a.displayName()) <= 40, a.displayName()
        assert 0 < len(a.group()) <= 40, a.group()


def test_a_graphical_model_chains_the_verdict(provider, small_project, tmp_path):
    """validate_run inside a model: the model runs to its end on FAIL and hands on the verdict."""
    from qgis.core import (
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFile,
    )

    m = QgsProcessingModelAlgorithm("m", "g")
    m.addModelParameter(QgsProcessingParameterFile("project", "project", extension="gpkg"),
                        QgsProcessingModelParameter("project"))
    child = QgsProcessingModelChildAlgorithm("surveytools:validate_run")
    child.setChildId("validate")
    child.addParameterSources("PROJECT", [QgsProcessingModelChildParameterSource.fromModelParameter("project")])
    child.addParameterSources("OUT", [QgsProcessingModelChildParameterSource.fromStaticValue(str(tmp_path / "qc"))])
    out = QgsProcessingModelOutput("verdict")
    out.setChildOutputName("VERDICT")
    out.setChildId("validate")
    child.setModelOutputs({"verdict": out})
    m.addChildAlgorithm(child)
    ok = m.prepareAlgorithm({"project": str(small_project)}, QgsProcessingContext(), QgsProcessingFeedback())
    assert ok
    res, ok = m.run({"project": str(small_project)}, QgsProcessingContext(), QgsProcessingFeedback())
    assert ok, res
    assert any(v == "FAIL" for v in res.values()) or res.get("validate:VERDICT") == "FAIL", res
