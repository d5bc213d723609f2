"""``surveytools project qgis`` without QGIS: a clear bilingual error, exit 2, nothing written."""

from surveytools import ops


def test_project_qgis_is_registered_as_an_operation_needing_qgis():
    op = ops.load_all()["project_qgis"]
    assert op.in_qgis and [p.qgis_name for p in op.params] == ["PROJECT", "OUT"]


def test_without_qgis_process_the_cli_says_so(cli, tmp_path, monkeypatch):
    from surveytools.project import init

    p = tmp_path / "p.gpkg"
    init(str(p), county="360681")
    monkeypatch.setenv("SURVEYTOOLS_QGIS_PROCESS", str(tmp_path / "no-such-qgis_process"))
    code, out, err = cli(["project", "qgis", str(p), "--out", str(tmp_path / "p.qgz")])
    assert code == 2
    text = out + err
    assert "qgis_process" in text and "未安装 QGIS" in text and "QGIS is not installed" in text
    assert not (tmp_path / "p.qgz").exists()
    assert "Traceback" not in text
