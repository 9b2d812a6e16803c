# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install the project with every extra (this compiles
# llama.cpp once; pip's wheel cache makes later installs fast) and run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ehr-agent-installed

.PHONY: install demo test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ehr-agent load synthea_fixtures
	$(BIN)/ehr-agent patients

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -ra
