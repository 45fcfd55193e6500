# pulsarload: `make setup` builds/finds the interpreters and installs everything;
# `make test` runs the whole suite against a real local Pulsar broker it starts itself.
SHELL := /bin/bash
VENV := .venv
VENV_GIL := .venv-gil
PY := $(VENV)/bin/python
PY_GIL := $(VENV_GIL)/bin/python
STAMP := $(VENV)/.pulsarload-installed
STAMP_GIL := $(VENV_GIL)/.pulsarload-installed
# Opt-in: free-threaded CPython 3.14 in its own venv (`make setup-314`); `make setup` never builds it.
VENV_314 := .venv-314t
PY_314 := $(VENV_314)/bin/python
STAMP_314 := $(VENV_314)/.pulsarload-installed
PYTEST_ARGS ?=

.PHONY: setup browser test test-quiet test-unit test-integration lint format demo broker-start broker-stop bench clean
.PHONY: setup-314 test-unit-314

setup: $(STAMP) $(STAMP_GIL) broker-jars browser

# Debian's Chromium and chromedriver for the browser dashboard's tests (apt-get, only if missing).
browser:
	./scripts/setup-browser.sh

# Interpreters: scripts/setup-python.sh finds a free-threaded CPython or builds one (cached).
$(PY) $(PY_GIL) &: scripts/setup-python.sh
	./scripts/setup-python.sh

# Dask's dependencies without a cp313t wheel (msgpack, tornado, pyyaml) are built from their
# sdists once (about 75 s on 2 cores) into a wheel cache outside the work tree, then installed
# from there (--find-links, --prefer-binary: a cached wheel wins over a newer sdist).
WHEELS := $(or $(PULSARLOAD_CACHE),$(HOME)/.cache/pulsarload)/wheels
SDIST_ONLY_FT := msgpack tornado pyyaml

$(STAMP): $(PY) pyproject.toml
	mkdir -p $(WHEELS)
	$(PY) -m pip wheel -q --prefer-binary --find-links $(WHEELS) --wheel-dir $(WHEELS) $(SDIST_ONLY_FT)
	$(PY) -m pip install -q --prefer-binary --find-links $(WHEELS) \
		--only-binary=numpy,lz4,crc32c,psutil,backports.zstd,pycryptodome,protobuf -e '.[test,cluster]'
	$(PY) -c "import sys; assert not sys._is_gil_enabled(), 'GIL is on in .venv'"
	$(PY) -c "import sys, google.protobuf.descriptor_pool; assert not sys._is_gil_enabled(), 'protobuf turns the GIL on'"
	$(PY) -c "import sys, distributed; assert not sys._is_gil_enabled(), 'distributed turns the GIL on'"
	touch $@

$(STAMP_GIL): $(PY_GIL) pyproject.toml
	$(PY_GIL) -m pip install -q -e '.[test,official,cluster]'
	touch $@

# 3.14t: python3.14t on PATH, uv, or a build from Debian sid's python3.14 source (cached).
# Only wheels (--only-binary=:all:): a dependency without a cp314t wheel is left out, never compiled.
setup-314: $(STAMP_314)

$(PY_314): scripts/setup-python.sh
	PULSARLOAD_PY=3.14 ./scripts/setup-python.sh

$(STAMP_314): $(PY_314) pyproject.toml
	$(PY_314) -m pip install -q --only-binary=:all: -e '.[test]'
	$(PY_314) -c "import sys; assert not sys._is_gil_enabled(), 'GIL is on in $(VENV_314)'"
	touch $@

test-unit-314: setup-314
	$(PY_314) -m pytest tests/unit $(PYTEST_ARGS)

# The broker's jars (Maven Central), cached under ~/.cache/pulsarload.
broker-jars: $(STAMP)
	./scripts/setup-java.sh
	$(PY) -c "from pulsarload.broker.standalone import ensure_classpath; from pulsarload.config import LocalBrokerSettings; print(len(ensure_classpath(LocalBrokerSettings())), 'broker jars ready')"

test: setup
	$(PY) -m pytest -m "not quiet_machine" $(PYTEST_ARGS)

# Tests whose answer is compared with a second measurement: run them on an otherwise idle machine.
test-quiet: setup
	$(PY) -m pytest -m quiet_machine $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: setup
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

broker-start: setup
	$(VENV)/bin/pulsarload broker start

broker-stop:
	$(VENV)/bin/pulsarload broker stop

# A modest rate (the demo preset; ↑ and PgUp raise it live); the run stops with one line if
# the local bookie's disk runs low, and broker-start bounds what the local namespace keeps.
demo: setup broker-start
	$(VENV)/bin/pulsarload produce persistent://public/default/pulsarload-demo --preset demo

bench: setup
	$(VENV)/bin/pulsarload bench run

clean:
	rm -rf $(VENV) $(VENV_GIL) build *.egg-info src/*.egg-info .pytest_cache
