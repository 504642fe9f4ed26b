# make run: set up and start the service (embedded SQLite, demo account).
# make test: set up and run the whole test suite (PostgreSQL too when TEST_DATABASE_URL is set).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench messages

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The Dutch catalogue, compiled for the editable install (a wheel compiles its own: setup.py).
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard service/translations/*/LC_MESSAGES/messages.po))

%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile -i $< -o $@

install: $(BIN)/.installed $(CATALOGUES)

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

# After changing a page's words: extract them and update the Dutch catalogue (then translate the new ones).
messages: install
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k said -k foreign:2 --no-location --sort-output -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d service/translations --no-fuzzy-matching --ignore-obsolete
