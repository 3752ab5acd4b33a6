# perpsim: the commands the README names. Every target depends on `setup`, which is idempotent:
# a warm run does nothing but check timestamps.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .setup-stamps
SOLC_VERSION := $(shell sed -n 's/.*"solc": *"\([0-9.]*\)".*/\1/p' package.json)
SOL_SOURCES := $(shell find contracts -name '*.sol' 2>/dev/null)

export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup run test soak soak-all app bench lint clean screenshot lock lock-upgrade

help:
	@echo "make run    set up, then run the main job on an embedded local chain"
	@echo "make test   set up, then run every test"
	@echo "make soak   set up, then explore the contracts' invariants at random (10,000 sequences)"
	@echo "make soak-all  set up, then run every property test with new random examples (3 rounds)"
	@echo "make bench  set up, then run the benchmarks (perpsim bench ...)"
	@echo "make app    set up, then serve the Streamlit app"
	@echo "make lint   set up, then ruff (Python) and slither (contracts, triaged)"
	@echo "make setup  install everything into .venv, node_modules, .solcx; compile contracts"
	@echo "make lock   re-resolve requirements.lock after a change of pyproject.toml"
	@echo "            (make lock-upgrade: every pin to the newest version pyproject.toml allows)"

setup: $(STAMPS)/python $(STAMPS)/node $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION) $(STAMPS)/compiled $(STAMPS)/browser $(STAMPS)/kernels

# Python packages: the exact versions (and hashes) of requirements.lock, then the project itself
# without dependencies; `pip check` fails if the lock no longer satisfies pyproject.toml.
$(STAMPS)/python: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "requirements.lock does not satisfy pyproject.toml: run make lock"; exit 1; }
	@mkdir -p $(STAMPS) && touch $@

# requirements.lock: every Python package of the project and its dev extra at one exact version,
# with hashes, for this Python (3.11) on Linux x86-64. `make lock` keeps the pins pyproject.toml
# still allows; `make lock-upgrade` moves every pin to the newest allowed version. The npm lock
# (package-lock.json) stays the source of anvil, solc and OpenZeppelin.
UV_COMPILE = $(BIN)/uv pip compile --quiet pyproject.toml --extra dev --generate-hashes \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu -o requirements.lock \
	--custom-compile-command "make lock"
# uv itself, from the lock as it is (not through the python stamp: after an edit of
# pyproject.toml that stamp's `pip check` fails until `make lock` has run).
$(BIN)/uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock

lock: $(BIN)/uv
	$(UV_COMPILE)

lock-upgrade: $(BIN)/uv
	$(UV_COMPILE) --upgrade

$(STAMPS)/node: package.json package-lock.json
	# `npm ci` rejects this lock (npm records only the optional anvil platform package it
	# installed); `npm install` still installs exactly the locked versions.
	npm install --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

$(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION): toolchain/solc-adapter.js | $(STAMPS)/node
	@mkdir -p $(SOLCX_BINARY_PATH)
	ln -sf ../toolchain/solc-adapter.js $@
	@$@ --version | grep -q "Version: $(SOLC_VERSION)"

# Headless Chromium and its driver, for the app's browser test (Debian packages; needs root).
$(STAMPS)/browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; else \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	  || { echo "could not install the Debian packages chromium and chromium-driver (apt-get as root)"; exit 1; }; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# Every contract is rebuilt when any source changed (`perpsim compile` runs `ape compile
# --force`): ape's incremental compile rebuilds only the changed files, so a contract that
# imports an edited library kept its old bytecode.
$(STAMPS)/compiled: $(SOL_SOURCES) ape-config.yaml $(STAMPS)/python $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION)
	$(BIN)/perpsim compile
	@touch .build/__local__.json
	@touch $@

# The numba kernels compiled into their on-disk cache (`python -m simulator.warmup`: one oct-2025
# path on the mirror), again after any edit under simulator/: the tests, a tune's workers and the
# app's jobs then load machine code instead of each compiling it (~45 s of a core when cold).
PY_SOURCES := $(shell find simulator -name '*.py' 2>/dev/null)
$(STAMPS)/kernels: $(PY_SOURCES) $(STAMPS)/python
	$(BIN)/python -m simulator.warmup
	@mkdir -p $(STAMPS) && touch $@
# The main job: oct-2025 under the default control sets, the same price paths for each.
# --resume: a second `make run` reuses the finished runs (only if they are the same runs: same
# scenario, code and contracts) and an interrupted one continues; after a change it is refused
# with the way out: `make run RUN_FLAGS=--overwrite`.
PATHS ?= 4
RUN_FLAGS ?= --resume
run: setup
	$(BIN)/perpsim compare oct-2025 --paths $(PATHS) --out runs/compare-oct-2025 $(RUN_FLAGS)
	$(BIN)/perpsim facts runs/compare-oct-2025

# Every property test draws fixed (derandomized) examples in `make test` (tests/conftest.py),
# so CI's verdict depends on the code alone. `make soak` explores at random: the contracts'
# stateful invariant test over SOAK_EXAMPLES sequences of 20 actions; `make soak-all` every
# property test with new examples, SOAK_ROUNDS times (a failure prints the blob that replays it).
SOAK_EXAMPLES ?= 10000
SOAK_ROUNDS ?= 3
test: setup
	$(BIN)/pytest

soak: setup
	PERPSIM_HYPOTHESIS=random PERPSIM_SOAK=1 PERPSIM_SOAK_EXAMPLES=$(SOAK_EXAMPLES) $(BIN)/pytest -q -s \
	  tests/contracts/venue/test_venue_invariants.py::test_venue_invariants_hold_under_random_multi_market_actions

soak-all: setup
	for i in $$(seq $(SOAK_ROUNDS)); do \
	  PERPSIM_HYPOTHESIS=random $(BIN)/pytest -q -x $$(grep -rl --include='test_*.py' -e '^from hypothesis' -e '^import hypothesis' tests) || exit 1; \
	done

bench: setup
	$(BIN)/perpsim bench chain
	$(BIN)/perpsim bench run oct-2025

app: setup
	$(BIN)/streamlit run app/streamlit_app.py --browser.gatherUsageStats false

# Refresh docs/compare-page.png (the README's screenshot) from the browser test.
screenshot: setup
	PERPSIM_UPDATE_SCREENSHOT=1 $(BIN)/pytest -q tests/app/test_browser.py

lint: setup
	$(BIN)/ruff check simulator benchmarks tests scripts toolchain app
	$(BIN)/ruff format --check simulator benchmarks tests scripts toolchain app
	$(BIN)/python toolchain/slither_check.py

clean:
	rm -rf $(VENV) node_modules .build .solcx $(STAMPS) *.egg-info
