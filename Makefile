# mlnb: `make lab` to use it, `make test` to test it. Both set up .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlnb-installed
PORT ?= 8888
# Root may run JupyterLab only when told so (CI and these machines run as root).
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test test-fast lint ts-check install chromium postgresql bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall when the package metadata or the sidebar's sources change.
$(STAMP): $(BIN)/python pyproject.toml $(shell find labextension/src labextension/style labextension/package.json -type f 2>/dev/null)
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $@

install: $(STAMP)

lab: install
	cd notebooks && ../$(BIN)/jupyter lab --port $(PORT) $(ROOT_FLAG)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Debian's PostgreSQL server programs (initdb, pg_ctl) for the team store's tests: a test
# fixture starts its own server on a temporary folder and a loopback port.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }

lint: install ts-check
	$(BIN)/ruff check mlnb tests bench
	$(BIN)/mypy

# The sidebar's TypeScript: eslint, prettier and the jest unit tests (jlpm comes with the venv).
ts-check: install
	cd labextension && export PATH=$(abspath $(BIN)):$$PATH && jlpm install && jlpm lint && jlpm test

test: install chromium postgresql lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install postgresql lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e"

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info mlnb/labextension labextension/node_modules labextension/lib
