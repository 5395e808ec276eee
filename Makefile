# Helpdesk Copilot: the README's commands. Everything installs into .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat serve playground test test-fast lint typecheck bench eval clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@echo ">> creating $(VENV) and installing the project (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	@echo ">> installing the Microsoft 365 Agents Playground (npm)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## chat: set up, then talk to the copilot in this terminal (embedded defaults)
chat: $(STAMP)
	$(BIN)/helpdesk chat

## serve: run the bot on port 3978 for Teams or the Playground
serve: $(STAMP)
	$(BIN)/helpdesk serve --port 3978

## test: set up, then run every test
test: $(STAMP) node_modules/.installed
	$(BIN)/python -m pytest -q

## test-fast: unit tests only
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: knowledge-search latency and per-turn overhead (prints a table)
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .helpdesk .pytest_cache
