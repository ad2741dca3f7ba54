# rights-ledger. `make up` runs the service; `make test` runs the suite. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: up test lint format bench messages check-python install install-dev clean-data

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'

$(PY): | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.txt requirements-embedded.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt -r requirements-embedded.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt requirements-embedded.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## The service, its worker and scheduler, on the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set.
up: $(VENV)/.installed-run
	$(PY) -m config.up

## The whole test suite (embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set).
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed-dev
	$(PY) -m bench $(BENCH_ARGS)

## Extract and compile the translations (needs GNU gettext; the compiled .mo files are committed).
I18N_ENV := DATABASE_URL=postgresql://unused/unused DJANGO_DEBUG=true
messages: $(VENV)/.installed-dev
	$(I18N_ENV) $(PY) manage.py makemessages -l ja --no-obsolete -i '.venv/*' -i '.data/*' -i 'tests/*' -i 'bench/*' -i 'staticfiles/*'
	$(I18N_ENV) $(PY) manage.py compilemessages -l ja -i '.venv/*' -i '.data/*'

clean-data:
	rm -rf .data
