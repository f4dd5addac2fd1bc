# The targets are exactly what the README and CI run.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test test-only check lint types system-deps openapi bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

## Quick start 1: set up, create the SQLite database, load the demo data, serve on 127.0.0.1:8080.
demo: venv
	$(BIN)/directory init-db
	$(BIN)/directory keys show-node >/dev/null 2>&1 || $(BIN)/directory keys init-node
	$(BIN)/directory seed
	$(BIN)/directory serve --host 127.0.0.1 --port 8080

## Quick start 2: set up (system packages too, when root with apt) and run the whole test suite.
test: venv system-deps test-only

test-only:
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

system-deps:
	bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check directory tests bench wsgi.py

types: venv
	$(BIN)/mypy

check: lint types test

openapi: venv
	$(BIN)/python -m directory.api.spec > openapi.json

## Every benchmark in bench/ (wrk from Debian's packages when root with apt); writes bench/results.md.
bench: venv
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; \
	  else echo "bench: wrk is missing (Debian package wrk); the HTTP benchmark will fail" >&2; fi; }
	$(BIN)/python -P bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
