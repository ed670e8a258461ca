# Two entry points for a fresh machine: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/cfs: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(BIN)/cfs

.PHONY: install run test lint bench
install: $(BIN)/cfs

# Crawl every configured feed (live; replaying the bundled captures when no feed
# host is reachable), then write output/calls.csv and the comparison.
run: install
	$(BIN)/cfs run

test: install
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/run.py
