# Tavoli's front door. `make demo` runs the app on the embedded default (SQLite, one process);
# `make test` runs the whole suite. Each target sets up what it needs, once: the stamps below are
# only rebuilt when what they depend on changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo serve test check format migrate setup catalogs bench bench-quick wrk clean

## demo: set everything up, fill the demo tables, serve on http://127.0.0.1:8000
demo: setup
	$(BIN)/tavoli migrate
	$(BIN)/tavoli demo
	$(BIN)/tavoli serve --host $(HOST) --port $(PORT)

## serve: serve without touching the data
serve: setup
	$(BIN)/tavoli migrate
	$(BIN)/tavoli serve --host $(HOST) --port $(PORT)

## test: set everything up and run the whole suite (TAVOLI_TEST_DATABASE_URL=… for PostgreSQL)
test: setup $(VENV)/.dev
	$(BIN)/pytest

## check: lint, format check, type check and the layers' import contract
check: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.runtime
	$(BIN)/tavoli migrate

setup: $(VENV)/.runtime static/dist/.built

## catalogs: extract the interface strings and update the Italian catalog (for translators)
catalogs: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -k _ -o server/locale/messages.pot \
		--project=Tavoli --copyright-holder="Città metropolitana di Bologna" .
	$(BIN)/pybabel update -i server/locale/messages.pot -d server/locale -l it --no-fuzzy-matching --ignore-obsolete

## bench: the benchmarks of bench/, printed as ratios against their baselines
bench: setup $(VENV)/.dev wrk
	$(BIN)/python bench/run

bench-quick: setup $(VENV)/.dev wrk
	$(BIN)/python bench/run --quick

# bench/render loads the server with wrk (Debian's package).
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

$(VENV)/.runtime: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Tavoli needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The build reads static/src, and the templates for the icons they name (static/build.mjs).
static/dist/.built: node_modules/.installed static/build.mjs $(wildcard static/src/* static/src/*/* templates/*.html templates/*/*.html)
	npm run --silent build

clean:
	rm -rf $(VENV) node_modules static/dist .pytest_cache .mypy_cache .ruff_cache
