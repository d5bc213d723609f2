"""The plugin's dependency installer (qgis_plugin/deps.py) and the library's self-check
(surveytools/selfcheck.py, ``surveytools env check``): pins generated from pyproject.toml, a real
offline install from a wheel folder into a fresh folder, proven by the self-check in the child,
cancel and failure leave the folder as it was."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from wheelhouse import CHILD_PYTHON, CONSTRAINTS, wheelhouse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def test_shipped_constraints_agree_with_pyproject():
    import package_plugin

    assert CONSTRAINTS.read_text(encoding="utf-8") == package_plugin.constraints_text(), \
        "run: python3 scripts/package_plugin.py --write-constraints"
    from surveytools.selfcheck import read_constraints

    reqs = {r.name.lower(): r for r in read_constraints()}
    assert reqs["numpy"].spec == ">=1.26,<2" and reqs["pyarrow"].spec == ">=15,<22"
    assert reqs["weasyprint"].optional and not reqs["pandas"].optional


def test_constraints_generator_narrows_dependencies(tmp_path):
    import package_plugin

    py = tmp_path / "pyproject.toml"
    py.write_text('[project]\ndependencies = ["numpy>=1.26", "Foo_Bar>=2", "pyarrow"]\n'
                  '[tool.surveytools.plugin]\nchild-constraints = ["numpy<2", "pyarrow<22"]\noptional = ["foo-bar"]\n',
                  encoding="utf-8")
    lines = [ln for ln in package_plugin.constraints_text(py).splitlines() if not ln.startswith("#")]
    assert lines == ["numpy>=1.26,<2", "Foo_Bar>=2  # optional", "pyarrow<22"]
    py.write_text('[project]\ndependencies = ["numpy"]\n[tool.surveytools.plugin]\nchild-constraints = ["scipy<2"]\n',
                  encoding="utf-8")
    with pytest.raises(SystemExit, match="scipy"):
        package_plugin.constraints_text(py)


def test_version_comparison():
    from surveytools.selfcheck import satisfies

    S = [(">=", "1.26"), ("<", "2")]
    assert satisfies("1.26.4", S) and satisfies("1.26", S)
    assert not satisfies("2.0.0", S) and not satisfies("2.4.6", S) and not satisfies("1.24.2", S)
    assert not satisfies("2.0.0rc1", S)  # a pre-release of 2 is not < 2
    assert satisfies("3.0.6", [(">=", "2.1")]) and satisfies("1.10.1.post1", [("~=", "1.10")])
    assert not satisfies("2.0", [("~=", "1.10")]) and satisfies("1.4.2", [("==", "1.4.*")])
    assert not satisfies("", [(">=", "1")])


def test_selfcheck_reports_missing_wrong_and_optional(tmp_path):
    from surveytools.selfcheck import report

    c = tmp_path / "c.txt"
    c.write_text("numpy>=3  # the installed numpy is 1.x\nsurely-not-a-package-xyz>=1\nPyYAML>=6\n"
                 "another-missing-one>=1  # optional\n", encoding="utf-8")
    rep = report(c)
    assert rep["ok"] is False and rep["probes"] == []  # probes only run on a complete environment
    rows = {d["name"]: d for d in rep["dependencies"]}
    assert rows["numpy"]["status"] == "wrong_version" and rows["numpy"]["version"].startswith("1.")
    assert rows["surely-not-a-package-xyz"]["status"] == "missing"
    assert rows["PyYAML"]["status"] == "ok" and rows["PyYAML"]["module"] == "yaml"
    assert rep["missing"] == ["surely-not-a-package-xyz"] and rep["wrong_version"][0].startswith("numpy 1.")
    assert rep["optional_missing"] == ["another-missing-one"]
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy >= one\n", encoding="utf-8")
    from surveytools.errors import SurveyError

    with pytest.raises(SurveyError) as ei:
        report(bad)
    assert ei.value.code == "bad_constraints" and "line 1" in ei.value.message.en


def test_env_check_operation(cli, tmp_path):
    code, out, _ = cli(["env", "check", "--json"])
    assert code == 0, out
    env = json.loads(out)["environment"]
    assert env["ok"] and {p["name"] for p in env["probes"] if p["ok"]} == {
        "gpkg_roundtrip", "cgcs2000_transform", "operations"}
    c = tmp_path / "c.txt"
    c.write_text("numpy>=3\n", encoding="utf-8")
    code, out, err = cli(["env", "check", "--constraints", str(c), "--json"])
    assert code == 2 and json.loads(out)["error"]["code"] == "environment_incomplete"
    assert "numpy" in err and "版本不符" in err


def test_selfcheck_runs_without_its_dependencies(tmp_path):
    """The installer's self-check must report, not crash, in a Python that has none of them."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from surveytools.selfcheck import main; main()"
    # -I -S: no site-packages at all (the venv's and the system's packages are invisible)
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code, "--json"], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=120)
    rep = json.loads(res.stdout)
    assert res.returncode == 2 and rep["ok"] is False
    assert {"numpy", "pandas", "geopandas", "click"} <= set(rep["missing"])


@pytest.fixture(scope="module")
def wheels():
    if not Path(CHILD_PYTHON).exists():
        pytest.skip(f"{CHILD_PYTHON} not installed")
    return wheelhouse()


def _deps_cli(args, tmp_path, **kw):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return subprocess.run([CHILD_PYTHON, str(ROOT / "qgis_plugin" / "deps.py"), *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path), timeout=900, **kw)


def test_headless_offline_install_is_proven_by_the_child(wheels, tmp_path):
    target = tmp_path / "profile" / "python" / "surveytools-deps"
    before = _deps_cli(["check", "--python", CHILD_PYTHON, "--target", str(target), "--json"], tmp_path)
    # Debian's own python3 lacks shapely 2 / pyogrio (and has numpy 1.24): the check says so
    rep = json.loads(before.stdout)
    assert before.returncode == 2 and not rep["ok"] and "pyogrio" in rep["missing"], before.stdout[-2000:]
    res = _deps_cli(["install", "--python", CHILD_PYTHON, "--target", str(target), "--find-links", str(wheels),
                     "--json"], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["ok"] and out["target"] == str(target)
    check = out["check"]
    assert check["ok"] and check["python"] == CHILD_PYTHON and all(p["ok"] for p in check["probes"])
    rows = {d["name"]: d for d in check["dependencies"]}
    # the pins hold, and the packages come from the dependency folder, not from the system
    assert rows["numpy"]["version"].startswith("1.") and rows["numpy"]["location"].startswith(str(target))
    assert rows["pyogrio"]["location"].startswith(str(target)) and rows["weasyprint"]["optional"]
    assert not [p for p in target.parent.iterdir() if p.name != target.name], "staging folders left behind"
    again = _deps_cli(["check", "--python", CHILD_PYTHON, "--target", str(target)], tmp_path)
    assert again.returncode == 0 and "OK" in again.stdout, again.stdout[-2000:]


def test_failed_or_cancelled_install_leaves_the_folder_alone(wheels, tmp_path):
    from qgis_plugin import deps

    target = tmp_path / "deps"
    (target / "keep").mkdir(parents=True)
    (target / "keep" / "marker.txt").write_text("old", encoding="utf-8")
    empty = tmp_path / "empty-wheels"
    empty.mkdir()
    res = deps.install(python=CHILD_PYTHON, target=str(target), find_links=[str(empty)])
    assert res["ok"] is False and "pip" in res["message"]["en"] and "numpy" in res["log"]
    seen = []

    def progress(pct, m):
        seen.append((pct, m["en"]))

    with pytest.raises(deps.Cancelled):
        deps.install(python=CHILD_PYTHON, target=str(target), find_links=[str(wheels)], progress=progress,
                     is_canceled=lambda: any("collected" in m for _, m in seen))
    assert (target / "keep" / "marker.txt").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deps", "empty-wheels"]
    with pytest.raises(deps.InstallError) as ei:
        deps.install(python=CHILD_PYTHON, target=str(target), find_links=[str(tmp_path / "nope")])
    assert "nope" in ei.value.message["zh"]
    with pytest.raises(deps.InstallError) as ei:
        deps.install(python=str(tmp_path / "no-python"), target=str(target), find_links=[str(wheels)])
    assert "SURVEYTOOLS_PYTHON" in ei.value.message["en"]


def test_install_progress_is_reported(wheels, tmp_path):
    from qgis_plugin import deps

    seen = []
    res = deps.install(python=CHILD_PYTHON, target=str(tmp_path / "d"), find_links=[str(wheels)],
                       progress=lambda pct, m: seen.append(pct))
    assert res["ok"], res["message"]
    assert seen == sorted(seen) and seen[-1] == 100 and len(seen) > 10


def test_package_ships_constraints_and_headless_installer(tmp_path):
    import package_plugin

    z = package_plugin.build(tmp_path / "dist")
    with zipfile.ZipFile(z) as zf:
        names = set(zf.namelist())
        assert zf.read("surveytools_plugin/libs/surveytools/data/constraints.txt") == CONSTRAINTS.read_bytes()
        zf.extractall(tmp_path / "plugins")
    assert {"surveytools_plugin/deps.py", "surveytools_plugin/libs/surveytools/selfcheck.py"} <= names
    # python3 -m surveytools_plugin.deps from the plugins folder: the ZIP's library, not the checkout's
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "surveytools_plugin.deps", "check", "--python", sys.executable,
                          "--target", str(tmp_path / "none"), "--json"], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path / "plugins"), timeout=300)
    rep = json.loads(res.stdout)
    assert res.returncode == 0 and rep["ok"], res.stdout[-2000:] + res.stderr[-2000:]
    assert rep["surveytools"]["location"] == str(tmp_path / "plugins" / "surveytools_plugin" / "libs" / "surveytools")
