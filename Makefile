# Aisle: every set-up step is a target here, so a fresh clone needs only `make run` or `make test`.
# Heavy things (virtual environments, jars, models, indexes) are built into ignored folders.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
AISLE := $(VENV)/bin/aisle
export AISLE_HOME ?= $(CURDIR)/.aisle

.PHONY: help setup test test-unit test-wheel test-chaos test-chaos-single test-cluster bench docs typecheck clean

help:  ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# ---- Python environment -------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,faust]'
	@touch $@

setup: $(VENV)/.installed kafka-jars models  ## create the virtual environment, broker jars and models (idempotent)

# ---- Areas keep their own targets in mk/*.mk ----------------------------------------------------
include $(sort $(wildcard mk/*.mk))

# ---- Tests --------------------------------------------------------------------------------------
test: setup  ## unit and packaging tests, then integration tests against the real broker and vLLM server (started here)
	$(PY) -m pytest tests/unit tests/packaging -q
	$(MAKE) kafka-up
	@# vLLM is several GB and minutes to start: if it cannot come up, the tests that need it skip and
	@# say why (-rs prints the reasons) instead of the whole run failing.
	$(MAKE) llm-up || echo "WARNING: the vLLM server did not start; tests that need it will be skipped"
	$(MAKE) browser-deps || echo "WARNING: Chromium or playwright could not be installed; the browser test will be skipped"
	$(PY) -m pytest tests/integration tests/browser -q -rs -m "not chaos"
	$(MAKE) test-chaos-single

# The chaos tests start brokers of their own on free ports (they fail them on purpose), so they need
# the jars but not the shared broker. CHAOS_TIMEOUT_S bounds the whole run (docs/reliability.md has
# the measured times); a hang fails CI instead of holding it.
CHAOS_TIMEOUT_S ?= 1200

test-chaos-single: $(VENV)/.installed kafka-jars  ## the fault tests on single brokers (what CI runs; bounded by CHAOS_TIMEOUT_S)
	timeout --kill-after=30 $(CHAOS_TIMEOUT_S) $(PY) -m pytest tests/integration -m "chaos and not cluster" -q -rs --durations=0

test-cluster: $(VENV)/.installed kafka-jars  ## the three-broker fault test: one of three brokers killed mid-replay
	timeout --kill-after=30 $(CHAOS_TIMEOUT_S) $(PY) -m pytest tests/integration -m cluster -q -rs --durations=0

test-chaos: $(VENV)/.installed kafka-jars  ## every fault test: a broker restarted, one of three killed, each worker killed, sockets dropped, the tools through an outage (docs/reliability.md)
	$(PY) -m pytest tests/integration -m chaos -q -rs --durations=0

test-unit: $(VENV)/.installed  ## only the tests that need no broker
	$(PY) -m pytest tests/unit -q

test-wheel: $(VENV)/.installed  ## build the wheel, install it in a fresh venv, serve / and load the contracts from it (about 30 s)
	$(PY) -m pytest tests/packaging -q

typecheck: $(VENV)/.installed  ## mypy --strict over the package
	$(PY) -m mypy

bench: setup kafka-up  ## run benchmarks; results go to docs/benchmarks.md and docs/benchmarks/*.json
	$(PY) -m bench

docs: $(VENV)/.installed  ## regenerate the generated parts of docs/ (config.md)
	$(PY) -m pipeline._config_doc > docs/config.md

clean:  ## remove run-time state (keeps the virtual environment and jars)
	rm -rf $(AISLE_HOME)
