# The two commands a newcomer runs: `make run` (the app on SQLite) and `make test` (the suite
# on SQLite and on PostgreSQL, with the browser tests).
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cronmonitor
# Tests never read a developer's .env: they configure what they need.
TEST_ENV := CRONMONITOR_ENV_FILE=/dev/null
# mypy ([tool.mypy] in pyproject.toml) loads the settings for django-stubs: DEBUG lets them
# load without a SECRET_KEY.
MYPY := $(TEST_ENV) DEBUG=true $(VENV)/bin/mypy

.PHONY: run test test-sqlite test-pg lint venv lock bench-smoke mutation

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	touch $@

venv: $(VENV)/.dev

# After editing requirements*.in: recompile the .txt files with every package's hashes (pip-tools;
# the runtime pins stay the same in both). The files carry no index settings of the machine that
# compiled them. This needs only pip-tools, so it works when the .txt files do not install.
LOCK := CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$$(grep '^pip-tools==' requirements-dev.in)"
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) -o requirements-dev.txt requirements-dev.in

# DEBUG is off by default (a production .env that forgets it stays safe); the development
# server turns it on for itself.
RUN_ENV := DEBUG=true

run: $(VENV)/.runtime
	@test -f .env || { printf '# Made by make run: a random key, so manage.py commands run here without DEBUG.\nSECRET_KEY=%s\n' "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env; echo "Created .env with a random SECRET_KEY (see .env.example for the rest)"; }
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py ensure_admin
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.dev
	scripts/ensure-system-deps.sh
	scripts/ensure-postgres.sh "$(TEST_DATABASE_URL)"
	@$(MAKE) --no-print-directory lint
	@echo "The suite runs on SQLite and PostgreSQL at once; each prints its results when it ends."
	@echo "Browser tests save screenshots to $(CURDIR)/artifacts/screenshots/"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-pg
	@echo "Screenshots for review:" && ls -1 $(CURDIR)/artifacts/screenshots/*.png

# One database's suite: `make test` runs both at once (each spends much of its time waiting
# on subprocesses, browsers and the database, so two share two cores well).
test-sqlite: $(VENV)/.dev
	$(TEST_ENV) DATABASE_URL=sqlite:///db-test.sqlite3 $(PY) -m pytest -q

test-pg: $(VENV)/.dev
	$(TEST_ENV) DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest -q

# The benchmarks' smoke runs alone (they are part of `make test` too); bench/README.md has the
# full-size commands.
bench-smoke: $(VENV)/.dev
	scripts/ensure-system-deps.sh
	scripts/ensure-postgres.sh "$(TEST_DATABASE_URL)"
	$(TEST_ENV) DATABASE_URL=sqlite:///db-test.sqlite3 $(PY) -m pytest -q tests/test_bench_smoke.py
	$(TEST_ENV) DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest -q tests/test_bench_smoke.py

# Mutation testing ([tool.mutmut] in pyproject.toml, docs/mutation.md), on SQLite. One worker:
# every mutant's pytest session reuses the same SQLite test database file.
MUTANTS ?=
mutation: $(VENV)/.dev
	rm -rf mutants
	$(TEST_ENV) DATABASE_URL=sqlite:///db-test.sqlite3 $(VENV)/bin/mutmut run --max-children 1 $(MUTANTS)
	$(VENV)/bin/mutmut results

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MYPY)
