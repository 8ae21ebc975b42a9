# meterledger: `make demo` and `make test` set up everything they need from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DAGSTER_HOME := $(CURDIR)/.dagster
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install demo test bench emulators dagster-dev dbt-build clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/meterledger demo

test: install
	$(BIN)/python -m pytest

# Ingestion throughput against DuckDB's own read_parquet, then the dbt build of the usage and billing
# path on the same events; BENCH_ARGS="--events 500000 --repeat 1" for a quick run.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

emulators: install
	$(BIN)/meterledger emulators

# The Dagster UI on the demo's warehouse; run `make emulators` in another terminal first.
dagster-dev: install
	test -f .env.emulators || { echo "run 'make emulators' first (it writes .env.emulators)"; exit 1; }
	set -a && . ./.env.emulators && set +a && $(BIN)/dagster dev -m dagster_defs.definitions

dbt-build: install
	$(BIN)/dbt build --project-dir dbt_project --profiles-dir .

clean:
	rm -rf warehouse demo_data bench/work dbt_project/target .dagster/storage .dagster/history .dagster/logs .dagster/schedules
