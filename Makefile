# frontdesk: `make run` serves the app, `make test` runs the tests. Each sets up what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test migrate demo token setup setup-test browser bench bench-smoke fuzz lint clean

run: setup ## set up and serve the app (embedded Postgres when DATABASE_URL is unset)
	$(PY) -m frontdesk serve

test: setup-test browser ## set up and run the whole test suite
	$(PY) -m pytest

migrate: setup ## apply database migrations only
	$(PY) -m frontdesk migrate

demo: setup ## run the deterministic end-to-end demo against the database
	$(PY) -m frontdesk demo

token: setup ## print the API token of the local install
	@$(PY) -m frontdesk token

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit("frontdesk needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# Browser tests drive Debian's chromium; install it when missing and we may, else say what to install.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)."; \
	    exit 1; \
	  fi; \
	fi

lint: setup-test
	$(PY) -m ruff check src tests
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .pytest_cache
