# The README's commands. `make demo` runs the main job; `make test` runs everything CI runs.
# Both install what they need on a fresh machine: the virtualenv, the cached Asterisk 22
# sandbox root (Debian forky via debootstrap, ~1 min the first time) and PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint unit integration install sandbox postgres sipp dialplans bench clean wheel-check

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

sandbox: install
	$(BIN)/callflow sandbox provision

postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# SIPp (Debian's sip-tester): the SIP phones and carrier of the real-SIP tests
sipp:
	@command -v sipp >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester >/dev/null; }

demo: sandbox
	$(BIN)/callflow demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy callflow
	$(BIN)/lint-imports

test: sandbox postgres sipp lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit tests/golden

integration: sandbox sipp
	$(BIN)/pytest -m asterisk

# The wheel as integrators install it: built, installed into a fresh venv, its `callflow`
# run outside the checkout (version, validate, demo --dry-run, the real demo). `make test`
# runs the same test with the rest of the suite.
wheel-check: sandbox
	CI=true $(BIN)/pytest -q tests/integration/test_wheel.py

dialplans: install
	for f in examples/*.py; do $(BIN)/callflow compile $$f -o dialplans/$$(basename $$f .py); done

bench: sandbox
	$(BIN)/python benchmarks/compile.py --deploy
	$(BIN)/python benchmarks/import_csv.py
	$(BIN)/python benchmarks/lookup.py 100000 30
	$(BIN)/python benchmarks/live.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
