# meterledger: `make demo` and `make test` set up everything they need from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BI_STAMP := bi/node_modules/.installed-stamp
BI_PORT ?= 3001

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
# Evidence (bi/) reads this one: its anonymous usage events stay off.
export SEND_ANONYMOUS_USAGE_STATS := no
export DAGSTER_HOME := $(CURDIR)/.dagster
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install bi-install browser postgresql test-postgres demo test bench emulators dagster-dev dbt-build bi bi-serve clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Evidence and its packages from the npm registry, at the versions package-lock.json pins; the
# postinstall step applies bi/patches (patch-package).
$(BI_STAMP): bi/package.json bi/package-lock.json $(wildcard bi/patches/*.patch)
	cd bi && npm install --no-audit --no-fund
	touch $(BI_STAMP)

bi-install: $(BI_STAMP)

# Debian's chromium and chromedriver, for the finance pages' browser test.
browser:
	scripts/install-chromium.sh

# Debian's PostgreSQL server binaries for `make test-postgres` (the tests start their own server).
postgresql:
	scripts/install-postgresql.sh

demo: install
	$(BIN)/meterledger demo

test: install bi-install browser
	$(BIN)/python -m pytest

# The same dbt project on PostgreSQL: every scenario fixture loaded by the dlt sources into a
# throw-away PostgreSQL server on loopback and into DuckDB, `dbt build` on both, every model
# compared row for row (tests/postgres).
test-postgres: install postgresql
	METERLEDGER_POSTGRES_TESTS=1 $(BIN)/python -m pytest tests/postgres

# The daily pipeline's stages on 10M events of one day, each against its comparison (read_parquet,
# the baseline query, day 1 under day N, the ceilings), ratios printed (README, "Benchmark");
# BENCH_ARGS="--events 200000 --history-days 3 --sync-records 2000" for a quick run.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Finance's pages (bi/build) from the marts the last daily run published; the demo's run first
# when nothing is published yet.
bi: install bi-install
	test -e warehouse/published/current || $(BIN)/meterledger demo
	$(BIN)/meterledger bi build

# The built pages on http://127.0.0.1:$(BI_PORT)/ (loopback only).
bi-serve: install
	$(BIN)/meterledger bi serve --port $(BI_PORT)

emulators: install
	$(BIN)/meterledger emulators

# The Dagster UI on the demo's warehouse; run `make emulators` in another terminal first.
dagster-dev: install
	test -f .env.emulators || { echo "run 'make emulators' first (it writes .env.emulators)"; exit 1; }
	set -a && . ./.env.emulators && set +a && $(BIN)/dagster dev -m dagster_defs.definitions

dbt-build: install
	$(BIN)/dbt build --project-dir dbt_project --profiles-dir .

clean:
	rm -rf warehouse demo_data bi/build bi/.evidence bench/work dbt_project/target .dagster/storage .dagster/history .dagster/logs .dagster/schedules
