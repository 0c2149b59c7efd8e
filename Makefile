# Avatar Lab. Quick start: `make run` (dashboard on the embedded default), `make test` (everything).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

WEB_SDK := tests/clients/liveavatar-web-sdk
PLUGIN := tests/clients/liveavatar-plugin
PLUGIN_VENV := .venv-liveavatar-plugin

.PHONY: run test lint typecheck unit bench chromium clients postgres clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi
	@test -x $(CHROMIUM) || { echo "Chromium missing at $(CHROMIUM)"; exit 1; }

# The store's tests run on PostgreSQL too: Debian's server binaries (the tests start their own
# throwaway server; nothing is installed as a service that keeps running).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { echo "PostgreSQL missing"; exit 1; }

# LiveAvatar's published clients, pinned, for the tests that hold the embedded server to them.
$(WEB_SDK)/node_modules/.installed: $(WEB_SDK)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' || { \
		echo "LiveAvatar's web SDK test needs Node.js 18 or newer (found $$(node --version))"; \
		exit 1; }
	cd $(WEB_SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# livekit-agents pins its own livekit release, so the plugin gets a venv of its own.
$(PLUGIN_VENV)/.installed: $(PLUGIN)/requirements.txt
	python3 -m venv $(PLUGIN_VENV)
	$(PLUGIN_VENV)/bin/python -m pip install -q -r $(PLUGIN)/requirements.txt
	touch $@

clients: $(WEB_SDK)/node_modules/.installed $(PLUGIN_VENV)/.installed

# A start-up reap first: sessions a crashed run left open are stopped and marked.
run: $(VENV)/.installed
	-$(PY) -m lib reap
	$(PY) -m lib serve

# The layers (README, "Architecture") are import contracts in pyproject.toml.
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev-installed
	$(VENV)/bin/mypy lib app.py pages

# Unit and integration tests run on three workers on two cores (most of them wait on real-time
# speech, not the CPU: two workers kept 1.1 cores busy); then the browser tests of pages and
# processes, two at a time; then, alone, the tests that measure media timing (marked media).
test: $(VENV)/.dev-installed chromium postgres clients lint typecheck
	$(PY) -m pytest -n 3 --durations=10 -m "not media" tests/unit tests/integration
	$(PY) -m pytest -n 2 --durations=5 -m "not media" tests/browser
	$(PY) -m pytest --durations=5 -m media tests/integration tests/browser

bench: $(VENV)/.dev-installed chromium postgres
	$(PY) -m lib bench avatar --json
	$(PY) -m lib bench realtime --json
	$(PY) -m lib bench bridge --json
	$(PY) -m lib bench analytics --json
	$(PY) -m lib bench store --json

clean:
	rm -rf $(VENV) $(PLUGIN_VENV) .mypy_cache .ruff_cache .pytest_cache $(WEB_SDK)/node_modules
