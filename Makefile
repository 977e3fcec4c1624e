# Developer entry points. `make test` works on a fresh machine: it creates .venv, installs the
# dev requirements (again only when a requirements file changes), provides redis-server and
# FerretDB (scripts/provision_services.sh) and the Node tools of the Postman tests
# (scripts/provision_node.sh), then runs pytest.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-m integration -x"`.
PYTEST_ARGS ?=

# Stamps record that a requirements set is installed; they are rebuilt when a file changes.
EMBEDDED_STAMP := $(VENV)/.installed-embedded
DEV_STAMP := $(VENV)/.installed-dev
SERVICES_ENV := $(VENV)/services.env

.PHONY: help run test services lint format bench bench-endpoints clean distclean

help:
	@echo "make run        run the API locally with embedded MongoDB/Redis stand-ins (http://$(HOST):$(PORT))"
	@echo "make test       install dev deps, provision redis-server + FerretDB + Chromium + newman, run pytest"
	@echo "make lint       ruff check + ruff format --check + import-linter (the layers)"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make bench      make bench-endpoints, then python bench/users_search.py"
	@echo "make bench-endpoints  every endpoint under load: ours vs python-eve vs the floors"
	@echo "make clean      remove caches; make distclean also removes $(VENV)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "'$(PYTHON) -m venv' failed; on Debian: sudo apt-get install -y python3-venv" >&2; rm -rf $(VENV); exit 1; }

$(EMBEDDED_STAMP): requirements.txt requirements-embedded.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-embedded.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-embedded.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(EMBEDDED_STAMP)

run: $(EMBEDDED_STAMP)
	@echo "Web client: http://$(HOST):$(PORT)/"
	@echo "API docs:   http://$(HOST):$(PORT)/docs"
	$(BIN)/flask --app run run --host $(HOST) --port $(PORT)

# KEY=VALUE lines (FERRETDB_BIN, REDIS_SERVER_BIN, CHROMIUM_BIN) for pytest; re-checked on every run (fast
# once the binaries exist).
services:
	bash scripts/provision_services.sh > $(SERVICES_ENV).tmp
	mv $(SERVICES_ENV).tmp $(SERVICES_ENV)
	@cat $(SERVICES_ENV)

test: $(DEV_STAMP)
	bash scripts/provision_services.sh > $(SERVICES_ENV).tmp
	mv $(SERVICES_ENV).tmp $(SERVICES_ENV)
	bash scripts/provision_node.sh
	set -a && . ./$(SERVICES_ENV) && set +a && $(BIN)/pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Needs MONGO_URI (any MongoDB-wire server); e.g. `make bench BENCH_ARGS="--sizes 10000,100000"`.
BENCH_ARGS ?=
bench: $(DEV_STAMP)
	$(BIN)/python bench/users_search.py $(BENCH_ARGS)

# Needs MONGO_URI; e.g. `make bench-endpoints ENDPOINTS_ARGS="--rounds 3 --ref lead"`.
ENDPOINTS_ARGS ?=
bench-endpoints: $(DEV_STAMP)
	$(BIN)/python bench/endpoints.py $(ENDPOINTS_ARGS)
bench: bench-endpoints

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache $(SERVICES_ENV) $(SERVICES_ENV).tmp

distclean: clean
	rm -rf $(VENV) node_modules
