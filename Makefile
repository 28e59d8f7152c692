# make test : lint, type check and the whole test suite (sets up .venv itself)
# make demo : the reference server with the Long Biên demo district (SQLite under ./var)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint typecheck typecheck-js pytest bench bench-booth clean system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The browser's ES modules (server/static/js/, // @ts-check with JSDoc types) checked by tsc;
# nothing is built: the pages serve the same files. TypeScript is pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm)
	npm ci --no-audit --no-fund
	touch $@

typecheck-js: node_modules/.installed
	node_modules/.bin/tsc --noEmit -p tsconfig.json

# Debian packages the tests use: chromium for the browser tests (Playwright's own download is
# not used) and for `anonballot report`'s PDF, the sqlite3 program for the backup commands that
# docs/operations.md shows, and poppler-utils (pdftotext) to read the reports' PDFs back
system-packages:
	command -v chromium >/dev/null && command -v sqlite3 >/dev/null && \
	  command -v pdftotext >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium sqlite3 \
	    poppler-utils postgresql)

pytest: $(STAMP) system-packages
	$(BIN)/pytest -n auto --hypothesis-profile=thorough

test: lint typecheck typecheck-js pytest

demo: $(STAMP)
	$(BIN)/anonballot demo --data var

bench: $(STAMP)
	$(BIN)/python bench/audit.py

# The booth on a throttled phone (Chromium): from the slip's link to the ballot on screen
bench-booth: $(STAMP) system-packages
	$(BIN)/python bench/booth_load.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis node_modules
