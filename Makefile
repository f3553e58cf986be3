# The two commands that matter: `make run` (the whole portal on a laptop) and `make test`.
SHELL := /bin/bash
PORT ?= 8000
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

.DEFAULT_GOAL := help
.PHONY: help run test install assets static db seed lint typecheck check lock clean backup

help:
	@echo "make run    - the whole portal (web + worker + beat) on http://127.0.0.1:$(PORT)/"
	@echo "make test   - every test (SQLite by default; DATABASE_URL/REDIS_URL for the real ones)"
	@echo "make check  - ruff, mypy and makemigrations --check"
	@echo "make lock   - re-lock Python dependencies after editing pyproject.toml"
	@echo "make backup - a consistent dump of the database under var/backups/ (OUTPUT=path to choose)"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 12), "Python 3.12 is required (see .python-version)"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.synced: $(PY) requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(PY) requirements/dev.txt
	@touch $@

install: $(VENV)/.synced node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

assets: node_modules/.package-lock.json

static: install
	$(PY) manage.py collectstatic --noinput -v0

db: install
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v0

seed: db
	$(PY) manage.py seed_demo

run: static seed
	@echo ""
	@echo "  Portal: http://127.0.0.1:$(PORT)/   (Ctrl-C stops web, worker and beat; one that dies is restarted)"
	@echo ""
	PORT=$(PORT) SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} exec $(PY) -m oncall.runner Procfile.dev

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

check: lint typecheck
	$(PY) manage.py makemigrations --check --dry-run

lock:
	$(UV) pip compile pyproject.toml -p 3.12 --generate-hashes --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" -q -o requirements/prod.txt
	$(UV) pip compile pyproject.toml --group dev -p 3.12 --generate-hashes --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" -q -o requirements/dev.txt

clean:
	rm -rf var/broker var/staticfiles var/celerybeat-schedule*

# A consistent dump of the database (pg_dump custom format, or SQLite's online backup) under
# var/backups/, or `make backup OUTPUT=/path/file`. Restore: docs/operations.md.
backup: install
	$(PY) manage.py backup $(if $(OUTPUT),--output "$(OUTPUT)")
