# rights-ledger. `make up` runs the service; `make test` runs the suite. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: up test browser lint format bench messages check-python install install-dev clean-data

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
test: $(VENV)/.installed-dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

## Debian's Chromium for the browser test (tests/e2e/test_browser.py); Playwright cannot download its own browsers
## here. Installed when missing, as root with apt-get; otherwise (or if apt fails) the test skips and says why.
## A failed attempt is not retried until $(BROWSER_FAILED) is removed, so `make test` does not wait on apt each time.
CHROMIUM       ?= /usr/bin/chromium
BROWSER_FAILED := $(VENV)/.browser-install-failed
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ -e "$(BROWSER_FAILED)" ]; then \
		echo "note: $(CHROMIUM) is missing (installing it failed before; rm $(BROWSER_FAILED) to retry): the browser test skips"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "note: $(CHROMIUM) is missing and apt-get is unavailable or we are not root: the browser test skips"; \
	else \
		echo "Installing Debian's chromium for the browser test (apt-get)..."; \
		log=$$(mktemp); \
		if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >"$$log" 2>&1 \
			&& [ -x "$(CHROMIUM)" ]; then :; \
		else \
			tail -n 5 "$$log"; \
			echo "warning: could not install chromium with apt-get: the browser test skips"; \
			mkdir -p "$(VENV)" && touch "$(BROWSER_FAILED)"; \
		fi; \
		rm -f "$$log"; \
	fi

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks only: django-hordak (the ledger benchmark's reference) and the dev requirements.
$(VENV)/.installed-bench: requirements-bench.txt requirements-dev.txt requirements.txt requirements-embedded.txt | $(PY)
	$(PY) -m pip install -q -r requirements-bench.txt
	@touch $@ $(VENV)/.installed-dev $(VENV)/.installed-run

bench: $(VENV)/.installed-bench
	$(PY) -m bench $(BENCH_ARGS)

## Extract and compile the translations (needs GNU gettext; the compiled .mo files are committed).
I18N_ENV := DATABASE_URL=postgresql://unused/unused DJANGO_DEBUG=true
messages: $(VENV)/.installed-dev
	$(I18N_ENV) $(PY) manage.py makemessages -l ja --no-obsolete -i '.venv/*' -i '.data/*' -i 'tests/*' -i 'bench/*' -i 'staticfiles/*'
	$(I18N_ENV) $(PY) manage.py compilemessages -l ja -i '.venv/*' -i '.data/*'

clean-data:
	rm -rf .data
