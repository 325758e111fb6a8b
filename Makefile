# A new user needs only: make demo, make test (both create .venv and install on first use).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test sample bench clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Serve the executive dashboard on the bundled sample data (http://127.0.0.1:8866).
demo: $(STAMP)
	$(VENV)/bin/linkage dashboard --panel data/sample/panel.csv

## Run the whole suite: unit tests, doctests, notebooks, browser tests.
test: $(STAMP)
	$(PY) -m pytest

## Rebuild data/sample/ with the project's own simulator.
sample: $(STAMP)
	$(VENV)/bin/linkage simulate data/sample --sample

## Speed benchmarks (print ratios against a baseline run in the same process).
bench: $(STAMP)
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
