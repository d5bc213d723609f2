"""Shared fixtures: the repository root, the shared public data, a project made once per session."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED


@pytest.fixture
def cli():
    """Run the CLI in-process: cli(["project", "info", ...]) -> (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from surveytools.cli import build_cli

    app = build_cli()

    def run(args):
        runner = CliRunner()
        res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return res.exit_code, res.stdout, res.stderr

    return run


@pytest.fixture(scope="session")
def components_grid_project(tmp_path_factory) -> Path:
    """A cjt project for county 360681 with the sample district's unit grids (divided along the
    roads), communities and streets; tests copy it before changing it."""
    from surveytools.grid.ops import divide
    from surveytools.project import init

    base = ROOT / "sample_data" / "guixi" / "base.gpkg"
    path = tmp_path_factory.mktemp("components") / "grids.gpkg"
    init(str(path), county="360681", profile="cjt")
    divide(str(path), communities=f"{base}:communities", lines=[f"{base}:roads"])
    return path


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """The export fixture's project (``export_fixture.build``: grids, components of three layers,
    events, a responsibility area), built once per session; tests copy it before changing it."""
    from export_fixture import build

    path = tmp_path_factory.mktemp("built") / "base.gpkg"
    build(path)
    return path
