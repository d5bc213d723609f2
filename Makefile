# Two commands do all set-up on a fresh Debian 12 machine:
#   make demo   installs what is missing, then runs the pipeline on sample_data/ into out/
#   make test   installs what is missing, runs ruff (pyproject [tool.ruff]), starts PostGIS, runs every test
.PHONY: setup demo test package clean help

VENV ?= .venv
PY := $(VENV)/bin/python

help:
	@echo "make demo   - set up, then run the whole pipeline on sample_data/ into out/"
	@echo "make test   - set up, lint (ruff), start PostGIS, run every test"
	@echo "make package - build the QGIS plugin ZIP dist/surveytools_plugin-<version>.zip"

setup:
	@bash scripts/setup_env.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@$(VENV)/bin/ruff check .
	@bash scripts/run_tests.sh -q

package:
	@python3 scripts/package_plugin.py --out dist

clean:
	rm -rf out build dist *.egg-info
