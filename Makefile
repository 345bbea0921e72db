# Every target works from a fresh clone: `make run` and `make test` install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DATABASE_URL ?= sqlite:///$(CURDIR)/data/feature_gateway.db

.PHONY: install run migrate import-sample test lint format clean

$(BIN)/activate: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/activate

install: $(BIN)/activate

migrate: install
	$(BIN)/feature-gateway migrate

import-sample: migrate
	$(BIN)/feature-gateway import-features data/feature_metadata.json

run: import-sample
	$(BIN)/gunicorn --workers 2 --bind 0.0.0.0:$(PORT) wsgi:app

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/black --check src tests migrations bench
	$(BIN)/isort --check-only src tests migrations bench
	$(BIN)/mypy src

format: install
	$(BIN)/ruff check --fix src tests migrations bench
	$(BIN)/isort src tests migrations bench
	$(BIN)/black src tests migrations bench

clean:
	rm -rf $(VENV) build *.egg-info data/*.db data/*.db-*
