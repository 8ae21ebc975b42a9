"""The same dbt project on PostgreSQL: every scenario fixture is loaded by the production dlt
sources into DuckDB and into a real PostgreSQL server (started by ``server.py``), built by
``dbt build`` on each (models, seeds, generic and singular tests), and every model's relation,
the marts first among them, must hold the same rows on both (``both_engines.py``).

The scenarios run on a pool of worker processes (``METERLEDGER_SCENARIO_WORKERS``, default two),
each worker in a database of its own, emptied before each scenario. Run by ``make test-postgres``, which installs PostgreSQL
if the machine lacks it; ``make test`` leaves this folder out (tests/conftest.py).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.scenarios.test_scenarios import refusal

HERE = Path(__file__).resolve().parent
# A fixture the project refuses never reaches a warehouse (tests/scenarios checks its message).
ALL_SCENARIOS = [path for path in sorted((HERE.parent / "scenarios").glob("*.yml")) if refusal(path) is None]
# CI's named subset (METERLEDGER_POSTGRES_SCENARIOS=ci, `.ci/run`): every model, price model,
# aggregation and revenue path, in less time than the full set (ci_scenarios.txt says why each).
CI_SCENARIOS = {line.split("#", 1)[0].strip() for line in (HERE / "ci_scenarios.txt").read_text().splitlines()
                } - {""}


def selected_scenarios(which: str | None) -> list[Path]:
    if not which or which == "all":
        return ALL_SCENARIOS
    if which != "ci":
        raise ValueError(f"METERLEDGER_POSTGRES_SCENARIOS is 'all' or 'ci', not {which!r}")
    unknown = CI_SCENARIOS - {path.stem for path in ALL_SCENARIOS}
    assert not unknown, f"ci_scenarios.txt names fixtures that do not exist: {sorted(unknown)}"
    return [path for path in ALL_SCENARIOS if path.stem in CI_SCENARIOS]


SCENARIOS = selected_scenarios(os.environ.get("METERLEDGER_POSTGRES_SCENARIOS"))
# The marts every full build makes, whatever the scenario (models/marts): each must be compared.
MARTS = {"fct_usage_records", "fct_invoice_lines", "fct_revenue_schedule", "fct_journal_entries",
         "fct_journal_entry_lines", "fct_mrr", "rpt_billing_reconciliation", "rpt_deferred_revenue_rollforward",
         "rpt_deferred_revenue_waterfall", "fct_credit_block_balances", "rpt_customer_billing", "dim_currencies"}


@pytest.fixture(scope="module")
def comparisons(request, postgres_server):
    from tests.postgres.both_engines import build_and_compare

    selected = {item.callspec.params["scenario_file"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    if not selected:  # the unit-test check alone: it runs after the first scenario's build
        selected = {SCENARIOS[0]}
    workers = max(1, int(os.environ.get("METERLEDGER_SCENARIO_WORKERS") or min(2, os.cpu_count() or 1)))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    futures = {}
    for path in SCENARIOS:
        if path not in selected:
            continue
        # The first scenario submitted also runs every dbt unit test on PostgreSQL.
        futures[path.name] = pool.submit(build_and_compare, str(path), postgres_server.environment,
                                         unit_tests=not futures)
    try:
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("scenario_file", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_model_matches_duckdb(comparisons, scenario_file):
    outcome = comparisons[scenario_file.name].result(timeout=1800)
    compared = {name.split(".", 1)[1] for name in outcome["models"]}
    assert MARTS <= compared, f"marts not built on PostgreSQL: {sorted(MARTS - compared)}"
    assert len(outcome["models"]) >= 70, outcome["models"]
    assert not outcome["differences"], "\n\n".join(f"{name}:\n{text}" for name, text in outcome["differences"].items())
    # The comparison is not of two empty warehouses: the scenario's invoice lines were rated, or
    # (a ratable fee not invoiced by the run date, fixture 45) its revenue was recognized.
    assert outcome["rows"]["marts.fct_invoice_lines"] + outcome["rows"]["marts.fct_revenue_schedule"] > 0


def test_every_dbt_unit_test_passes_on_postgres(comparisons):
    first = next(iter(comparisons.values())).result(timeout=1800)
    declared = set(first["declared_unit_tests"])
    assert len(declared) >= 39
    assert first["unit_tests"] == {unique_id: "pass" for unique_id in declared}
