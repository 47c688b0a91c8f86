# ExpertHub: `make run` serves the seeded marketplace, `make test` runs every gate and test.
# Needs nothing but Python 3.11: the virtualenv, SQLite database and demo data are made on first use.
# `make test` also installs PostgreSQL and redis-server with apt-get when they are missing (as root).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# python3.11 if there is one, else python3 if that is 3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || \
	(python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && command -v python3))

PORT ?= 8000
WEB_HOST ?= 127.0.0.1
PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
export PORT WEB_HOST PUBLIC_BASE_URL
# Readable log lines on a terminal for `make run`; deployments (and the tests) log JSON (docs/serving.md).
run serve: export LOG_FORMAT ?= console

# Spread the tests over every CPU (each xdist worker gets its own SQLite test database).
PYTEST_ARGS ?= -n auto
# The stack run: the API suite and every contract and integration suite again, on throwaway
# PostgreSQL, redis-server and moto S3 servers with the production adapters (tests/harness).
STACK_PYTEST_ARGS ?= -n 2
STACK_TESTS ?= tests/api tests/contract tests/integration
# Development's own SECRET_KEY: made once per checkout and kept (var/ is git-ignored), so
# sessions and tokens survive a restart. With debug off the app refuses the key in the
# repository (docs/security.md), so `make run` runs production settings with this one, on
# plain HTTP at 127.0.0.1 (DJANGO_HTTPS=false). A SECRET_KEY in the environment wins.
DEV_SECRET_KEY := var/development-secret-key
DEV_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat $(DEV_SECRET_KEY))}" DJANGO_HTTPS="$${DJANGO_HTTPS:-false}"
MANAGE := $(DEV_ENV) DJANGO_SETTINGS_MODULE=project.settings $(PY) manage.py

.PHONY: help install system-packages run serve migrate seed lint format test test-stack clean distclean

help:
	@echo "make run       install, migrate, seed the demo marketplace, serve it on http://127.0.0.1:$(PORT)/"
	@echo "make test      install, then lint, import contracts, mypy, migration and Django checks, the whole suite"
	@echo "               on SQLite, then again on PostgreSQL + Redis + S3 (make test-stack)"
	@echo "make lint | format | migrate | seed | test-stack | clean | distclean"

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11, or python3 being 3.11)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the last install.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(STAMP)

# PostgreSQL and redis-server for the stack run (and make, Python's venv): apt-get only when missing.
system-packages:
	@bash .ci/system-packages.sh

$(DEV_SECRET_KEY): | $(PY)
	@mkdir -p $(@D)
	@(umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@)

migrate: install $(DEV_SECRET_KEY)
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo

run: seed
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MAKE) --no-print-directory serve

# The Procfile's web, worker and beat processes, run as a PaaS runs them (honcho):
# web on $(PORT); the worker and beat use the task broker that needs no server.
serve: $(DEV_SECRET_KEY)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(DEV_ENV) exec honcho start --procfile Procfile --port $(PORT) web worker beat

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: system-packages lint $(DEV_SECRET_KEY)
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) check
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-stack

# Starts the servers, runs the suites against them, always removes them (python -m tests.harness).
test-stack: system-packages install
	$(PY) -m tests.harness -- $(VENV)/bin/pytest $(STACK_PYTEST_ARGS) $(STACK_TESTS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
