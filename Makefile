# The two commands of the README: `make run` and `make test`. Both need only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: run test install install-test clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

run: $(VENV)/.base
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py ensure_admin
	$(PY) -m explorer.serve

# Tests get their own var/ (database file, broker folder, artifacts) and a queue of their own.
VAR_DIR ?= $(CURDIR)/var/test
test: $(VENV)/.test
	VAR_DIR=$(VAR_DIR) CELERY_QUEUE=test-$$$$ $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf var/test
