# jobstream — `make run` starts the whole local stack, `make test` runs every check.
# Both set up a fresh machine first (Python 3.13 venv, npm packages, Chromium for browser tests).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python 3.13 that actually runs (a pyenv shim may exist without the version enabled).
PYTHON313 ?= $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) $$(command -v python3.13) /usr/bin/python3.13; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# esbuild, React, Vue and Vue's SFC compiler for the browser tests' seed builds (own lock file).
FRONTENDS := tests/browser/frontends
# eventsource, @microsoft/fetch-event-source and @azure/storage-blob for docs/recipes (own lock file).
RECIPES := tests/recipes
PYTEST_ARGS ?=

help: ## List every command
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt devstack/requirements.txt
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found: install it or set PYTHON313=/path/to/python3.13"; exit 1; }
	test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(FRONTENDS)/node_modules/.installed: $(FRONTENDS)/package.json $(FRONTENDS)/package-lock.json
	npm ci --prefix $(FRONTENDS) --no-audit --no-fund --loglevel=error
	touch $@

$(RECIPES)/node_modules/.installed: $(RECIPES)/package.json $(RECIPES)/package-lock.json
	npm ci --prefix $(RECIPES) --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKOV_VENV)/.installed: infra/checkov-requirements.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r infra/checkov-requirements.txt
	touch $@

chromium: ## Install Debian's Chromium for the browser tests (no browser download)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium missing: run 'sudo apt-get install -y chromium'"; exit 1; fi; }

setup: $(VENV)/.installed node_modules/.installed ## Create .venv (Python 3.13) and install Python and npm dependencies

jq: ## Install jq for the README's quick start (its test runs it) when it is missing
	@command -v jq >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; \
	  else echo "jq missing: run 'sudo apt-get install -y jq'"; exit 1; fi; }

setup-test: setup chromium jq $(CHECKOV_VENV)/.installed $(FRONTENDS)/node_modules/.installed $(RECIPES)/node_modules/.installed sdk-samples ## setup + Chromium, jq, checkov, the seed frontends' and the recipes' npm packages, Microsoft's Service Bus samples (what the tests need)

sdk-samples: setup ## Fetch azure-servicebus 7.11.4's samples from PyPI into .cache/ (the emulator's conformance test)
	$(PY) -m tests.support.sdk_samples

types: setup ## Regenerate web/types/jobstream-api.d.ts (TypeScript types) from the OpenAPI document
	$(PY) -m devstack.typescript_types

run: setup ## Start the whole local stack: Azurite, Service Bus emulator, Functions host (Ctrl-C stops it)
	$(PY) -m devstack

lint: setup ## ruff (lint + format check)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup ## mypy --strict
	$(PY) -m mypy

test: setup-test lint typecheck ## Set up, then ruff, mypy and the whole pytest suite
	$(PY) -m pytest $(PYTEST_ARGS)

chaos: setup-test ## The fault suite alone (make test runs it too): killed hosts and stacks, lost sends, stale attempts
	$(PY) -m pytest -m chaos $(PYTEST_ARGS)

DEMO_API ?= http://127.0.0.1:7071/api/v1
demo: setup ## With `make run` going: run the sample resumes through the API and print each result's summary (DEMO_API=... for another stack)
	$(PY) -m jobstream_client samples/ada-lovelace-resume.txt --api $(DEMO_API)
	$(PY) -m jobstream_client samples/grace-hopper-resume.docx --api $(DEMO_API)

bench: setup ## Run every benchmark under bench/ (they print their numbers); one: make bench B=servicebus
	$(PY) -m bench $(B)

clean: ## Remove local state (not the venvs)
	rm -rf .devstack .pytest_cache .mypy_cache .ruff_cache

.PHONY: help setup setup-test sdk-samples chromium jq run types lint typecheck test chaos demo bench clean
