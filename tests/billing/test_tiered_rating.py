"""Graduated and volume pricing in `int_usage_charges` against a plain Python reference, on
random tier tables and quantities (hypothesis).

The model is compiled by dbt and its SQL run in DuckDB over input tables shaped like the models
it reads; nothing in Python computes the amounts under test, only the reference.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dbt_runs import run_dbt

CENT = Decimal("0.01")

INPUTS = """
    attach ':memory:' as meterledger;
    use meterledger;
    create schema intermediate;
    create schema staging;
    create table intermediate.int_usage_by_segment (
        segment_rating_key varchar, billing_segment_key varchar, delivery_cohort integer,
        billing_period_key varchar, line_version_key varchar,
        contract_line_id varchar, line_key varchar, contract_id varchar, meter_id varchar,
        period_number integer, period_start date, period_end date, segment_number integer,
        segment_start date, segment_end date, days_in_segment integer, days_in_full_period integer,
        event_count bigint, quantity decimal(38, 9), consumed_through date);
    create table intermediate.int_contract_line_versions (
        line_version_key varchar, price_model varchar, unit_price decimal(38, 9),
        included_quantity decimal(38, 9));
    create table intermediate.int_price_tiers (
        line_version_key varchar, tier_number integer, lower_bound decimal(38, 9),
        upper_bound decimal(38, 9), unit_price decimal(38, 9), flat_fee decimal(38, 9),
        rate_percent decimal(38, 9));
    create table intermediate.int_percentage_event_charges (
        billing_segment_key varchar, rated_cohort integer, event_date date, charge decimal(38, 20));
    create table staging.stg_salesforce__contract_lines (
        contract_line_id varchar, package_size decimal(38, 9), package_price decimal(38, 9),
        free_units decimal(38, 9));
    create table intermediate.int_contract_currencies (
        contract_id varchar, currency_code varchar, minor_units integer);
    insert into intermediate.int_contract_currencies values ('K', 'USD', 2);
"""


@pytest.fixture(scope="module")
def charges_sql(tmp_path_factory) -> str:
    # The warehouse file is named "meterledger": the compiled SQL reads "meterledger"."<schema>"."<model>",
    # which INPUTS creates in memory.
    result = run_dbt(["compile", "--quiet", "--select", "int_usage_charges"],
                     tmp_path_factory.mktemp("dbt") / "meterledger.duckdb", tmp_path_factory.mktemp("dbt_target"))
    assert result.success, result.output
    [node] = [node for node in result.result.results if node.node.name == "int_usage_charges"]
    return node.node.compiled_code


def reference(model: str, quantity: Decimal, tiers: list[tuple[Decimal | None, Decimal, Decimal]]) -> Decimal:
    """tiers: (up_to, unit_price, flat_fee), up_to None for the last."""
    lower, total = Decimal(0), Decimal(0)
    for number, (upper, price, fee) in enumerate(tiers, start=1):
        inside = quantity > lower and (upper is None or quantity <= upper)
        if model == "graduated":
            units = max(Decimal(0), min(quantity, upper if upper is not None else quantity) - lower)
            total += units * price + (fee if quantity > lower or (number == 1 and quantity == 0) else 0)
        elif inside or (number == 1 and quantity == 0):
            total = quantity * price + fee
        lower = upper if upper is not None else lower
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


money = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
tier_tables = st.lists(st.tuples(st.decimals(min_value=Decimal("0.5"), max_value=50, places=2), money,
                                 st.decimals(min_value=0, max_value=20, places=2)),
                       min_size=1, max_size=4)


@st.composite
def case(draw):
    """A model, a tier table and a quantity: often exactly on a tier bound, or zero, where
    the rules are easiest to get wrong."""
    widths = draw(tier_tables)
    bounds = [sum(width for width, _, _ in widths[:end]) for end in range(1, len(widths))]
    quantity = draw(st.one_of(st.decimals(min_value=0, max_value=300, places=3),
                              st.sampled_from([Decimal(0), *bounds]),
                              st.sampled_from([bound + Decimal("0.001") for bound in bounds] or [Decimal(1)])))
    return draw(st.sampled_from(["graduated", "volume"])), widths, quantity


cases = st.lists(case(), min_size=1, max_size=15)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=cases)
def test_graduated_and_volume_match_a_python_reference(charges_sql, cases):
    expected = {}
    with duckdb.connect() as con:
        con.execute(INPUTS)
        for number, (model, widths, quantity) in enumerate(cases):
            line = f"L{number}"
            upper, tiers = Decimal(0), []
            for position, (width, price, fee) in enumerate(widths):
                last = position == len(widths) - 1
                upper += width
                tiers.append((None if last else upper, price, fee))
            expected[line] = reference(model, quantity, tiers)
            con.execute("insert into intermediate.int_usage_by_segment values "
                        "(?, ?, 0, ?, ?, ?, ?, 'K', 'm', 1, date '2026-01-01', date '2026-01-31', 1, "
                        "date '2026-01-01', date '2026-01-31', 31, 31, 1, ?, null)",
                        [line, line, f"{line}:1", f"{line}:v1", line, line, quantity])
            con.execute("insert into intermediate.int_contract_line_versions values (?, ?, null, 0)",
                        [f"{line}:v1", model])
            con.execute("insert into staging.stg_salesforce__contract_lines values (?, null, null, null)", [line])
            lower = Decimal(0)
            for tier_number, (up_to, price, fee) in enumerate(tiers, start=1):
                con.execute("insert into intermediate.int_price_tiers values (?, ?, ?, ?, ?, ?, null)",
                            [f"{line}:v1", tier_number, lower, up_to, price, fee])
                lower = up_to if up_to is not None else lower
        rated = con.execute(f"select charge_key, amount from ({charges_sql})").fetchall()
    assert sorted(rated) == sorted(expected.items())  # one charge per line, each to the cent
