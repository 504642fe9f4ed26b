# make run: set up and start the service (embedded SQLite, demo account).
# make test: set up and run the whole test suite (PostgreSQL too when TEST_DATABASE_URL is set).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/safeguard db upgrade
	$(BIN)/safeguard demo
	@echo
	@echo "==> Open http://$(HOST):$(PORT)/ and sign in with the \"user\" and \"password\" printed above"
	@echo "    (shown once; another user: $(BIN)/safeguard users create demo EMAIL)."
	@echo
	$(BIN)/safeguard serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/ruff check service importer segments tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-enable -p no:cacheprovider -s
