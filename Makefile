# Shoal: `make run` to use it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test test-sqlite test-postgres bench install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/shoal migrate --noinput
	$(BIN)/shoal collectstatic --noinput -v0
	$(BIN)/shoal bootstrap
	PORT=$(PORT) $(BIN)/shoal run

test: install-test
	scripts/test.sh

test-sqlite: install-test
	scripts/test.sh sqlite

test-postgres: install-test
	scripts/test.sh postgres

bench: install
	scripts/bench.sh

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
