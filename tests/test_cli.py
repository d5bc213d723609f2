"""The CLI contract: one command per operation, bilingual help, --json everywhere, exit codes."""
import subprocess
import sys

from surveytools.cli import build_cli
from surveytools.ops import load_all


def test_every_operation_is_a_command_with_json():
    app = build_cli()
    ops = load_all()
    assert {"project_init", "project_info"} <= set(ops)
    for op in ops.values():
        group = app.commands[op.group]
        cmd = group.commands[op.name]
        names = {p.name for p in cmd.params}
        assert "as_json" in names, op.id
        assert {p.name for p in op.params} <= names, op.id


def test_help_is_bilingual():
    out = subprocess.run([sys.executable, "-m", "surveytools.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "单元网格" in out.stdout and "unit grids" in out.stdout
    for group in ("project", "code", "profile"):
        assert group in out.stdout
    out = subprocess.run([sys.executable, "-m", "surveytools.cli", "project", "init", "--help"],
                         capture_output=True, text=True)
    assert "县级行政区划代码" in out.stdout and "County-level division code" in out.stdout


def test_internal_errors_are_not_tracebacks(tmp_path, cli, monkeypatch):
    from surveytools import project

    def boom(**kw):
        raise ZeroDivisionError("boom")

    op = load_all()["project_info"]
    monkeypatch.setattr(op, "func", boom)
    rc, stdout, stderr = cli(["project", "info", tmp_path / "x.gpkg"])
    assert rc == 3 and "内部错误" in stderr and "Internal error" in stderr and "Traceback" not in stderr
    assert project  # imported for the registry


def test_validate_runs_as_the_groups_default_command(tmp_path, cli):
    """`surveytools validate P.gpkg --out DIR` (the issue's contract) is `validate run`."""
    import json as _json

    from surveytools import project

    p = tmp_path / "p.gpkg"
    project.init(project=str(p), county="360681")
    rc1, out1, _ = cli(["validate", p, "--out", tmp_path / "a", "--json"])
    rc2, out2, _ = cli(["validate", "run", p, "--out", tmp_path / "b", "--json"])
    assert rc1 == rc2
    d1, d2 = _json.loads(out1), _json.loads(out2)
    assert d1.keys() == d2.keys()
    assert (tmp_path / "a" / "report.html").exists() and (tmp_path / "b" / "report.html").exists()
    rc, out, _ = cli(["validate", "rules", "--json"])
    assert rc == 0
