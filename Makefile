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

# The demo needs the agent only: `all` adds the test tools, and xgrammar (dev) pulls in
# PyTorch with its CUDA libraries, about 6 GB the demo never uses.
DEMO_STAMP := $(VENV)/.ehr-agent-demo-installed
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[agent]'
	touch $(DEMO_STAMP)

# A diabetic fixture patient (Andrea7 Douglas31): the answers below are checkable
# against synthea_fixtures/fhir. Without MedGemma in the model cache the
# rule-based path answers (it says so once).
DEMO_PATIENT := ce787016-1e3c-985a-6530-c3136913e74c

demo: $(DEMO_STAMP)
	$(BIN)/ehr-agent load synthea_fixtures
	$(BIN)/ehr-agent patients
	$(BIN)/ehr-agent ask --patient $(DEMO_PATIENT) "What was the most recent HbA1c and when?"
	$(BIN)/ehr-agent ask --patient $(DEMO_PATIENT) "Which medications is the patient taking?"
	$(BIN)/ehr-agent summary --patient $(DEMO_PATIENT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -ra
