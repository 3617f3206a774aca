# ioaccess — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RUN_ENV := DJANGO_DEBUG=1 DATABASE_URL=$${DATABASE_URL:-sqlite:///$(CURDIR)/db.sqlite3}
# The test client and live_server speak plain http; everything else stays as in production.
TEST_ENV := DJANGO_DEBUG=0 DJANGO_SECRET_KEY=test-only-not-a-secret-0123456789-abcdefghijklmnopqrstuvwxyz \
	DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_SESSION_COOKIE_SECURE=0 DJANGO_CSRF_COOKIE_SECURE=0 \
	DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1,testserver IOACCESS_STATIC_FINDERS=1
PYTEST_ARGS ?= -n 2
BENCH_ARGS ?= --attempts 40
LOAD_VENV := .venv-load
LOAD_ARGS ?= --tablets 50,150 --duration 60

.PHONY: help run test lint fmt migrations-check venv dev-venv node-modules test-sqlite test-postgres bench bench-load

help:
	@echo "make run               serve http://127.0.0.1:8000 (SQLite, demo accounts, reminder sweeper)"
	@echo "make test              ruff, migrations check, pytest (HTML validator included) on SQLite and on a throwaway PostgreSQL"
	@echo "make lint | fmt        ruff check and format check | apply ruff format and fixes"
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make bench             server time per tap, swap sizes and page weight (SQLite and PostgreSQL)"
	@echo "make bench-load        gunicorn + PostgreSQL (fsync on) under 50, then 150 Locust tablets (LOAD_ARGS=...)"

# Finds a Python >= 3.12: python3.13, python3.12, python3 if new enough, then pyenv's installed ones.
define find_python
for candidate in python3.13 python3.12 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	if command -v "$$candidate" >/dev/null 2>&1 && \
		"$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		command -v "$$candidate"; exit 0; fi; \
done; exit 1
endef

$(VENV)/bin/python:
	@python=$$( $(find_python) ) || { \
		echo "ERROR: ioaccess needs Python 3.12 or newer (Django 6.1 does not install on older)." >&2; \
		echo "       Install python3.12 or python3.13 (e.g. 'pyenv install 3.12'), then run make again." >&2; \
		exit 1; }; \
	echo "Creating $(VENV) with $$python ($$($$python --version))"; \
	"$$python" -m venv $(VENV)

# Reinstall only when the pinned requirements change, so a second `make run` starts in seconds.
$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import django, django_htmx, axes" && touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import django, pytest, playwright, axe_playwright_python" && touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run
dev-venv: $(VENV)/.installed-dev

# The W3C Nu HTML checker (npm's vnu-jar, pinned in package-lock.json) for tests/test_html_valid.py;
# reinstalled only when the lock file changes. Its install script (a Java downloader) is not run:
# Java comes from the system (Debian's default-jre-headless, installed by .ci/run).
node_modules/.installed: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
		echo "!! npm not found: the HTML validator (vnu-jar) is not installed, so the HTML   !!" >&2; \
		echo "!! validity test will NOT run. Install Node.js and npm: apt-get install -y npm !!" >&2; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
		if [ "$${CI:-}" = "true" ]; then echo "CI=true: a missing validator is a failure." >&2; exit 1; fi; \
	else \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	fi

node-modules: node_modules/.installed

run: venv
	$(RUN_ENV) $(PY) manage.py migrate --no-input
	$(RUN_ENV) $(PY) manage.py load_io_checklist
	$(RUN_ENV) $(PY) manage.py create_demo_accounts
	@echo "Serving http://127.0.0.1:8000 — demo accounts clinician, supervisor, editor, editor2 (password ioaccess-demo)"
	@echo "The removal-reminder sweeper runs beside the server (emails go to this console); Ctrl-C stops both."
	@trap 'kill $$sweeper 2>/dev/null; wait $$sweeper 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(PY) manage.py send_removal_reminders --loop --interval 30 & sweeper=$$!; \
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:8000

lint: dev-venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

fmt: dev-venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: dev-venv
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test-sqlite: dev-venv node-modules
	@echo "=== pytest on SQLite ==="
	$(TEST_ENV) DATABASE_URL=sqlite:///$(CURDIR)/test.sqlite3 IOACCESS_EXPECT_DB=sqlite \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgres: dev-venv node-modules
	@echo "=== pytest on a throwaway PostgreSQL server ==="
	$(TEST_ENV) IOACCESS_EXPECT_DB=postgresql bash tests/with_postgres.sh $(VENV)/bin/pytest $(PYTEST_ARGS)
	@echo "=== the database-restart fault test, alone on its own server (it restarts it) ==="
	$(TEST_ENV) IOACCESS_EXPECT_DB=postgresql bash tests/with_postgres.sh \
		$(VENV)/bin/pytest -p no:xdist -q tests/attempts/test_database_restart.py

test: lint migrations-check test-sqlite test-postgres
	@echo "make test: all legs passed"

# Speed and weight targets (issue #5): a table, not a test. Each leg uses a throwaway database.
bench: dev-venv
	@echo "=== bench on SQLite ==="
	$(TEST_ENV) DATABASE_URL=sqlite:///$(CURDIR)/bench.sqlite3 $(PY) tests/bench.py $(BENCH_ARGS)
	@echo "=== bench on a throwaway PostgreSQL server ==="
	$(TEST_ENV) bash tests/with_postgres.sh $(PY) tests/bench.py $(BENCH_ARGS)

# A real server under load (issue #14): Locust lives in its own venv, so make test never needs it.
$(LOAD_VENV)/.installed: requirements-load.txt
	@python=$$( $(find_python) ) || { echo "ERROR: bench-load needs Python 3.12 or newer." >&2; exit 1; }; \
	[ -x $(LOAD_VENV)/bin/python ] || { echo "Creating $(LOAD_VENV) with $$python"; "$$python" -m venv $(LOAD_VENV); }
	$(LOAD_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-load.txt 2>&1 | grep -v "is ignored" || true
	$(LOAD_VENV)/bin/locust --version >/dev/null && touch $@

bench-load: venv $(LOAD_VENV)/.installed
	@echo "=== bench-load: gunicorn on a throwaway PostgreSQL (fsync on), Locust tablets ==="
	$(TEST_ENV) IOACCESS_PG_FSYNC=on bash tests/with_postgres.sh $(PY) tests/bench_load.py $(LOAD_ARGS)
