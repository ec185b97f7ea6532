# `make run` installs and starts the server; `make test` installs and runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-test run dev test lint bench bench-peers sdk node chromium fuzz

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The production server (gunicorn + uvicorn workers); `make dev` reloads on code changes.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap --url http://$(HOST):$(PORT)/admin/
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

dev: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap --url http://$(HOST):$(PORT)/admin/
	$(PY) manage.py runserver $(HOST):$(PORT)

# The official ConnectyCube SDK, run by node in tests/sdk.
tests/sdk/node_modules/.package-lock.json: tests/sdk/package.json tests/sdk/package-lock.json | node
	npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error

node:
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; \
	  else echo "Install Node.js first: sudo apt-get install -y nodejs npm"; exit 1; fi; }

sdk: tests/sdk/node_modules/.package-lock.json

# Debian's Chromium drives the browser tests (Playwright's own download cannot be used).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "Install Chromium first: sudo apt-get install -y chromium"; exit 1; fi; }

# ARGS passes options to pytest: make test ARGS="tests/accounts -x". Any failure, and
# pytest's exit code 5 (no test collected), fails the target.
test: install-test sdk chromium
	$(PY) -m pytest $(ARGS)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmarks (bench/*_bench.py); peers.py, which installs PostgreSQL 15, wrk and Parse
# Server first, has its own target.
bench: install-test
	@for script in bench/*_bench.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# cubebase beside Parse Server on one PostgreSQL (docs/performance.md). ARGS: its options.
bench-peers: install-test
	$(PY) bench/peers.py $(ARGS)

# Schemathesis against a live server with many more cases than the suite's run (tests/fuzz):
# FUZZ_EXAMPLES cases per operation, figures printed at the end.
fuzz: install-test
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} FUZZ_TIME_LIMIT=$${FUZZ_TIME_LIMIT:-3000} FUZZ_REPORT=1 \
	  $(PY) -m pytest tests/fuzz -q -s -p no:cacheprovider $(ARGS)
