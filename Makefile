# make test : lint, type check and the whole test suite (sets up .venv itself)
# make demo : the reference server with the Long Biên demo district (SQLite under ./var)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint typecheck pytest bench clean chromium

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

# the browser cryptography tests drive Debian's chromium (Playwright's download is not used)
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

pytest: $(STAMP) chromium
	$(BIN)/pytest -n auto

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/anonballot demo --data var

bench: $(STAMP)
	$(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
