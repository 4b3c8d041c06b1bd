# make demo / make test bootstrap .venv from nothing, then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test demo lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("zakrila needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	bash .ci/system-deps
	$(PY) -m pytest

demo: $(STAMP)
	$(VENV)/bin/zakrila demo --workspace workspace

lint: $(STAMP)
	$(VENV)/bin/ruff check anonymise flows schemas expectations tests benchmarks
	$(VENV)/bin/mypy anonymise schemas expectations flows

bench: $(STAMP)
	$(PY) benchmarks/synth.py --scale 10
	$(PY) benchmarks/pseudonymise.py

clean:
	rm -rf $(VENV) workspace .pytest_cache
