"""The `prorate` macro (dbt_project/macros/prorate.sql) against Python's exact decimals.

DuckDB divides DECIMAL into DOUBLE, so the macro divides in integer arithmetic. Here it is
compiled by dbt itself and run in DuckDB on random values, fractions and currency digits;
Python's Decimal with ROUND_HALF_UP (half away from zero) is the reference.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.dbt_runs import run_dbt


@pytest.fixture(scope="module")
def prorate_sql(tmp_path_factory) -> str:
    """The macro's DuckDB SQL over columns value, part, whole, digits, compiled by dbt."""
    result = run_dbt(
        ["compile", "--quiet",
         "--inline", "select {{ prorate('value', 'part', 'whole', 'digits') }} as prorated from cases"],
        tmp_path_factory.mktemp("dbt") / "meterledger.duckdb", tmp_path_factory.mktemp("dbt_target"))
    assert result.success, result.output
    return result.result.results[0].node.compiled_code


def reference(value: Decimal, part: int, whole: int, digits: int) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        return (value * part / whole).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def cases_db():
    """One in-memory database for the module's cases: opening a new one costs about 30 ms, ten
    seconds over the property test's 300 examples. Each case replaces the table's only row."""
    with duckdb.connect() as con:
        con.execute("create table cases (value decimal(38, 9), part integer, whole integer, digits integer)")
        yield con


def run_prorate(con, sql: str, value: Decimal, part: int, whole: int, digits: int) -> Decimal:
    con.execute("delete from cases")
    con.execute("insert into cases values (?, ?, ?, ?)", [value, part, whole, digits])
    [(prorated,)] = con.execute(sql).fetchall()
    return prorated


@pytest.mark.parametrize(("value", "part", "whole", "digits", "expected"), [
    ("1000.00", 6, 30, 2, "200.00"),
    ("1000.00", 17, 31, 2, "548.39"),     # 548.387...
    ("0.25", 15, 30, 2, "0.13"),          # 0.125: half up, not to even
    ("0.35", 15, 30, 2, "0.18"),          # 0.175
    ("-0.25", 15, 30, 2, "-0.13"),        # half away from zero
    ("100000", 17, 31, 0, "54839"),       # JPY
    ("10.000", 2, 3, 3, "6.667"),         # KWD
    ("12000.00", 0, 365, 2, "0.00"),
    ("999999999.999999999", 366, 366, 9, "999999999.999999999"),
])
def test_prorate_rounds_once_half_away_from_zero(prorate_sql, cases_db, value, part, whole, digits, expected):
    assert run_prorate(cases_db, prorate_sql, Decimal(value), part, whole, digits) == Decimal(expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.decimals(min_value=Decimal("-1000000000"), max_value=Decimal("1000000000"), places=9,
                      allow_nan=False, allow_infinity=False),
    whole=st.integers(min_value=1, max_value=366),
    share=st.floats(min_value=0, max_value=1),
    digits=st.sampled_from([0, 2, 3, 9]),
)
@example(value=Decimal("0.005"), whole=2, share=1.0, digits=2)
def test_prorate_matches_exact_decimal_arithmetic(prorate_sql, cases_db, value, whole, share, digits):
    part = round(share * whole)  # a day count within the full period
    assert run_prorate(cases_db, prorate_sql, value, part, whole, digits) == reference(value, part, whole, digits)
