# The README's commands. `make demo` runs the main job; `make test` runs everything CI runs.
# Both install what they need on a fresh machine: the virtualenv, the cached Asterisk 22
# sandbox root (Debian forky via debootstrap, ~1 min the first time) and PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# `make test` runs the suite on this many pytest-xdist workers, each with its own sandbox
# Asterisk and PostgreSQL (tests/conftest.py). The real-server tests mostly wait on
# calls, so more workers than cores pays: on 2 cores pytest took 604 s serial, 370 s
# with -n 2 (= -n auto) and 250 s with -n 3. The suite has grown (dialer, real SIP): on
# the clean-clone CI 3 workers on 2 cores made its real-time call tests time out now and
# then (a different one each run), so it runs on 2.
TEST_WORKERS ?= 2

.PHONY: demo test lint unit integration install sandbox postgres ffmpeg chromium sipp report-example dialplans bench clean wheel-check

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

# `callflow prompts import` converts phone recordings (WAV/MP3/M4A) with Debian's ffmpeg
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; }

# headless Chromium opens the HTML report in tests/integration/test_report_html.py
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

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

test: sandbox postgres ffmpeg chromium sipp lint
	$(BIN)/pytest -n $(TEST_WORKERS)

unit: install ffmpeg
	$(BIN)/pytest tests/unit tests/golden

integration: sandbox ffmpeg sipp
	$(BIN)/pytest -n $(TEST_WORKERS) -m asterisk

# The wheel as integrators install it: built, installed into a fresh venv, its `callflow`
# run outside the checkout (version, validate, demo --dry-run, the real demo). `make test`
# runs the same test with the rest of the suite.
wheel-check: sandbox
	CI=true $(BIN)/pytest -q tests/integration/test_wheel.py

# docs/examples/report.html and its screenshot: a month of generated calls at the 4S dealer
REPORT_DB := /tmp/callflow-report-example.db
report-example: install chromium
	rm -f $(REPORT_DB)
	$(BIN)/python benchmarks/report.py --calls 20000 --db sqlite:///$(REPORT_DB) > /dev/null
	$(BIN)/callflow report examples/four_s_dealer.py --from 2026-11-01 --until 2026-12-01 \
	  --interval day --service-level 30 --format html -o docs/examples/report.html \
	  --recordings-url https://pbx.example/recordings --db sqlite:///$(REPORT_DB)
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1150,2900 \
	  --screenshot=docs/examples/report.png file://$(CURDIR)/docs/examples/report.html 2>/dev/null

dialplans: install
	for f in examples/*.py; do $(BIN)/callflow compile $$f -o dialplans/$$(basename $$f .py); done

bench: sandbox
	$(BIN)/python benchmarks/compile.py --deploy
	$(BIN)/python benchmarks/import_csv.py
	$(BIN)/python benchmarks/lookup.py 100000 30
	$(BIN)/python benchmarks/live.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/pacing.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
