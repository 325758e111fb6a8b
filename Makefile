# A new user needs only: make demo, make test (both create .venv and install on first use).
# Contributors: make lint (ruff and mypy, installed by the same mechanism).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LINT_STAMP := $(VENV)/.installed-lint-stamp

.PHONY: demo test lint sample bench wheel clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# the lint extra on top (ruff, mypy, stubs); redone whenever pyproject.toml changes
$(LINT_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $(LINT_STAMP)

## Serve the executive dashboard on the bundled sample data (http://127.0.0.1:8866).
demo: $(STAMP)
	$(VENV)/bin/linkage dashboard --panel data/sample/panel.csv

## Run the whole suite: unit tests, doctests, notebooks, browser tests, the built wheel installed
## into a fresh environment (tests/test_wheel_install.py).
test: $(STAMP)
	$(PY) -m pytest

## Lint and type-check src (config in pyproject.toml): runs all three, fails if any fails.
lint: $(LINT_STAMP)
	@status=0; \
	echo "== ruff check src"; $(VENV)/bin/ruff check src || status=1; \
	echo "== ruff format --check src"; $(VENV)/bin/ruff format --check src || status=1; \
	echo "== mypy"; $(VENV)/bin/mypy || status=1; \
	exit $$status

## Rebuild data/sample/ with the project's own simulator.
sample: $(STAMP)
	$(VENV)/bin/linkage simulate data/sample --sample

## Build the wheel (dist/linkage-*.whl): the package with its dashboards, notebooks and sample data.
wheel: $(STAMP)
	rm -rf build dist/linkage-*.whl
	$(PY) -m pip wheel --no-deps --quiet --wheel-dir dist .
	rm -rf build src/linkage.egg-info
	@ls dist/linkage-*.whl

## Speed benchmarks (print ratios against a baseline run in the same process).
bench: $(STAMP)
	for f in benchmarks/[!_]*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
