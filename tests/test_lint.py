"""The code passes ``ruff check`` with the configuration in pyproject.toml ([tool.ruff]).

``make test`` runs ruff before the suite; this test makes the suite itself (scripts/run_tests.sh,
which every helper runs before a merge) fail on a lint error too."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff():
    exe = Path(sys.executable).with_name("ruff")
    return str(exe) if exe.exists() else shutil.which("ruff")


def test_ruff_is_pinned_in_requirements():
    pins = [ln.split("#")[0].strip() for ln in (ROOT / "requirements-dev.txt").read_text().splitlines()]
    assert any(p.startswith("ruff==") for p in pins)
    assert "[tool.ruff]" in (ROOT / "pyproject.toml").read_text()


def test_ruff_check_passes():
    ruff = _ruff()
    assert ruff, "ruff is not installed: run `make setup` (requirements-dev.txt pins it)"
    proc = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_finds_a_planted_error(tmp_path):
    # the same configuration flags an unused import and an over-long line (the check can fail)
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n" + "x = '" + "a" * 170 + "'\n")
    proc = subprocess.run([_ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                           "--output-format", "concise", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "F401" in proc.stdout and "E501" in proc.stdout
