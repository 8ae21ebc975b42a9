"""The benchmark's baseline query (bench/baseline.py) on a handful of events, against amounts
worked out by hand: the dedup on event ID, what is left out, each meter's aggregation, the
prorated allowance, and each charge model's rating to the cent (tiers, packages, percentage
allowances and clamps, rounding to a currency without minor units).

The contract side is written here directly (the table CONTRACT_TABLES would copy from a dbt
build); the second test checks that copy's attribution rule on two overlapping lines.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from bench.baseline import CONTRACT_TABLES, baseline_query

SEGMENT_COLUMNS = {
    "billing_segment_key": "varchar", "billing_period_key": "varchar", "contract_line_id": "varchar",
    "line_key": "varchar", "period_start": "date", "period_end": "date", "segment_number": "bigint",
    "attributed_from": "date", "attributed_through": "date", "days_in_segment": "bigint",
    "days_in_full_period": "bigint", "line_version_key": "varchar", "customer_key": "varchar",
    "meter_id": "varchar", "aggregation": "varchar", "property": "varchar", "price_model": "varchar",
    "unit_price": "decimal(38, 9)", "included_quantity": "decimal(38, 9)", "package_size": "decimal(38, 9)",
    "package_price": "decimal(38, 9)", "free_units": "decimal(38, 9)", "rate_percent": "decimal(38, 9)",
    "fixed_fee": "decimal(38, 9)", "free_events": "decimal(38, 9)", "free_amount": "decimal(38, 9)",
    "min_per_event": "decimal(38, 9)", "max_per_event": "decimal(38, 9)", "currency_code": "varchar",
    "minor_units": "integer",
}
METERS = {"api_calls": ("sum", "quantity"), "storage_gb": ("max", "quantity"), "messages": ("count", None),
          "active_users": ("unique_count", "user_id"), "payments_volume": ("sum", "amount"),
          "compute_hours": ("sum", "quantity"), "seats": ("latest", "quantity")}


def segment(key: str, customer: str, meter: str, price_model: str, **terms) -> dict:
    aggregation, prop = METERS[meter]
    return {"billing_segment_key": key, "billing_period_key": f"{key}:period", "contract_line_id": key,
            "line_key": key, "period_start": "2026-11-01", "period_end": "2026-11-30", "segment_number": 1,
            "attributed_from": "2026-11-01", "attributed_through": "2026-11-30", "days_in_segment": 30,
            "days_in_full_period": 30, "line_version_key": f"{key}:v1", "customer_key": customer,
            "meter_id": meter, "aggregation": aggregation, "property": prop, "price_model": price_model,
            "included_quantity": 0, "free_units": 0, "currency_code": "USD", "minor_units": 2, **terms}


SEGMENTS = [
    segment("graduated", "C1", "api_calls", "graduated"),
    segment("volume", "C1", "storage_gb", "volume"),
    # 2 included a full period, prorated over 15 of its 30 days: 1.
    segment("unit", "C1", "messages", "unit", unit_price="0.25", included_quantity=2, days_in_segment=15),
    segment("unique", "C1", "active_users", "unit", unit_price="3"),
    segment("percentage", "C1", "payments_volume", "percentage", rate_percent="2", fixed_fee="0.30",
            free_events=1, min_per_event="2.00"),
    segment("package", "C2", "compute_hours", "package", package_size=10, package_price="7", free_units=10),
    segment("latest", "C2", "seats", "unit", unit_price="4"),
    segment("yen", "C3", "api_calls", "unit", unit_price="0.5", currency_code="JPY", minor_units=0),
]
TIERS = [  # line version, tier, lower, upper, unit price, flat fee
    ("graduated:v1", 1, 0, 10, "1", "5"), ("graduated:v1", 2, 10, None, "0.5", "2"),
    ("volume:v1", 1, 0, 5, "2", "0"), ("volume:v1", 2, 5, None, "1.5", "0"),
]
# event ID, customer, meter, quantity, amount, timestamp, properties
EVENTS = [
    ("e1", "C1", "api_calls", "4", None, "2026-11-01T01:00:00Z", "{}"),
    ("e1", "C1", "api_calls", "4", None, "2026-11-01T01:00:00Z", "{}"),  # an exact copy: counted once
    ("e2", "C1", "api_calls", "8", None, "2026-11-01T02:00:00.000Z", "{}"),
    ("e3", "C1", "storage_gb", "3", None, "2026-11-01T03:00:00Z", "{}"),
    ("e4", "C1", "storage_gb", "7", None, "2026-11-01T04:00:00Z", "{}"),
    ("e5", "C1", "messages", "1", None, "2026-11-01T05:00:00Z", "{}"),
    ("e6", "C1", "messages", "1", None, "2026-11-01T06:00:00Z", "{}"),
    ("e7", "C1", "messages", "1", None, "2026-11-01T07:00:00Z", "{}"),
    ("e8", "C1", "active_users", "1", None, "2026-11-01T08:00:00Z", '{"user_id": "u1"}'),
    ("e9", "C1", "active_users", "1", None, "2026-11-01T09:00:00Z", '{"user_id": "u2"}'),
    ("e10", "C1", "active_users", "1", None, "2026-11-01T10:00:00Z", '{"user_id": "u1"}'),
    # In time order: 100 free (the first event), 50 -> 1.30 clamped up to 2.00, 200 -> 4.30.
    ("e11", "C1", "payments_volume", "1", "50", "2026-11-01T12:00:00Z", "{}"),
    ("e12", "C1", "payments_volume", "1", "100", "2026-11-01T11:00:00+00:00", "{}"),
    ("e13", "C1", "payments_volume", "1", "200", "2026-11-01T13:00:00Z", "{}"),
    ("e14", "C2", "compute_hours", "20", None, "2026-11-01T14:00:00Z", "{}"),
    ("e15", "C2", "compute_hours", "5.5", None, "2026-11-01T15:00:00Z", "{}"),
    ("e16", "C2", "seats", "9", None, "2026-11-01T17:00:00Z", "{}"),  # the latest reading
    ("e17", "C2", "seats", "12", None, "2026-11-01T16:00:00Z", "{}"),
    ("e18", "C3", "api_calls", "3", None, "2026-11-01T18:00:00Z", "{}"),
    # Not billed: an unknown customer, a negative quantity, a timestamp that does not parse,
    # no event ID, and a day outside every segment.
    ("e19", "C9", "api_calls", "5", None, "2026-11-01T19:00:00Z", "{}"),
    ("e20", "C1", "api_calls", "-5", None, "2026-11-01T19:00:00Z", "{}"),
    ("e21", "C1", "api_calls", "5", None, "yesterday", "{}"),
    ("  ", "C1", "api_calls", "5", None, "2026-11-01T19:00:00Z", "{}"),
    ("e22", "C1", "api_calls", "5", None, "2026-12-01T00:00:00Z", "{}"),
]
EXPECTED = {  # segment: (events, quantity, amount)
    "graduated": (2, "12", "18.00"),  # 10 x 1 + 5 + 2 x 0.5 + 2
    "volume": (2, "7", "10.50"),  # the whole 7 at the tier holding it
    "unit": (3, "3", "0.50"),  # (3 - 1) x 0.25
    "unique": (3, "2", "6.00"),
    "percentage": (3, "350", "6.30"),
    "package": (2, "25.5", "14.00"),  # ceil((25.5 - 10) / 10) x 7
    "latest": (2, "9", "36.00"),
    "yen": (1, "3", "2"),  # 1.5 rounded half away from zero, no minor units
}


def _database(path: Path):
    con = duckdb.connect(str(path))
    con.execute("set TimeZone = 'UTC'")
    columns = ", ".join(f"{name} {kind}" for name, kind in SEGMENT_COLUMNS.items())
    con.execute(f"create table usage_segments ({columns})")
    for row in SEGMENTS:  # the columns a segment names, cast to their types; the others null
        values = ", ".join(f"?::{SEGMENT_COLUMNS[key]} as {key}" for key in row)
        con.execute(f"insert into usage_segments by name select {values}", list(row.values()))
    con.execute("create table price_tiers (line_version_key varchar, tier_number integer, lower_bound decimal(38, 9), "
                "upper_bound decimal(38, 9), unit_price decimal(38, 9), flat_fee decimal(38, 9))")
    con.executemany("insert into price_tiers values (?, ?, ?, ?, ?, ?)", TIERS)
    return con


def _events_file(con, path: Path) -> str:
    con.execute("create table raw (event_id varchar, customer_id varchar, meter varchar, quantity varchar, "
                "amount varchar, \"timestamp\" varchar, properties varchar)")
    con.executemany("insert into raw values (?, ?, ?, ?, ?, ?, ?)", EVENTS)
    con.execute(f"copy (select *, 'batch_metering' as source from raw) to '{path}' (format parquet)")
    con.execute("drop table raw")
    return str(path)


def test_baseline_dedups_aggregates_and_rates_to_the_cent(tmp_path):
    con = _database(tmp_path / "baseline.duckdb")
    files = [_events_file(con, tmp_path / "events.parquet")]
    con.execute(baseline_query(files))
    rated = {key: (events, quantity, amount) for key, events, quantity, amount in con.execute(
        "select billing_segment_key, event_count, quantity, amount from rated_segments").fetchall()}
    assert set(rated) == set(EXPECTED)
    for key, (events, quantity, amount) in EXPECTED.items():
        assert rated[key] == (events, Decimal(quantity), Decimal(amount)), key
    total = con.execute("select sum(amount) from rated_segments where currency_code = 'USD'").fetchone()[0]
    assert total == Decimal("18.00") + Decimal("10.50") + Decimal("0.50") + Decimal("6.00") + Decimal("6.30") \
        + Decimal("14.00") + Decimal("36.00")


def test_overlapping_lines_bill_the_earlier_contract(tmp_path):
    """CONTRACT_TABLES: where two lines of one customer and meter overlap, the line that started
    first wins the shared days (int_usage_events_attributed's rule); the later one from the day
    after the earlier ends."""
    built = duckdb.connect(str(tmp_path / "built.duckdb"))
    for schema in ("staging", "intermediate", "reference"):
        built.execute(f"create schema {schema}")
    built.execute("""create table staging.stg_salesforce__contract_lines as select * from (values
        ('L1', 'K1', 'usage', 'api_calls', false), ('L2', 'K2', 'usage', 'api_calls', false))
        as t(contract_line_id, contract_id, line_kind, meter_id, is_deleted)""")
    for column in ("package_size", "package_price", "free_units", "rate_percent", "fixed_fee", "free_events",
                   "free_amount", "min_per_event", "max_per_event"):
        built.execute(f"alter table staging.stg_salesforce__contract_lines add column {column} decimal(38, 9)")
    built.execute("""create table staging.stg_salesforce__contracts as select * from (values
        ('K1', 'A1', false), ('K2', 'A1', false)) as t(contract_id, account_id, is_deleted)""")
    built.execute("create table staging.stg_salesforce__accounts as select 'A1' as account_id, 'C1' as customer_key")
    built.execute("""create table intermediate.int_contract_line_versions as select * from (values
        ('L1:v1', 'L1', 'L1', date '2026-01-01', date '2026-11-15', 'unit', 1.0::decimal(38, 9), null::decimal(38, 9)),
        ('L2:v1', 'L2', 'L2', date '2026-11-01', date '2026-12-31', 'unit', 2.0::decimal(38, 9), null::decimal(38, 9)))
        as t(line_version_key, contract_line_id, line_key, effective_from, effective_to, price_model, unit_price,
             included_quantity)""")
    built.execute("""create table intermediate.int_billing_segments as select * from (values
        ('L1:11', 'K1:11', 'L1:v1', 'L1', 'L1', 'K1', 'usage', date '2026-11-01', date '2026-11-15', 1::bigint,
         date '2026-11-01', date '2026-11-15', 15::bigint, 30::bigint),
        ('L2:11', 'K2:11', 'L2:v1', 'L2', 'L2', 'K2', 'usage', date '2026-11-01', date '2026-11-30', 1::bigint,
         date '2026-11-01', date '2026-11-30', 30::bigint, 30::bigint))
        as t(billing_segment_key, billing_period_key, line_version_key, contract_line_id, line_key, contract_id,
             line_kind, period_start, period_end, segment_number, segment_start, segment_end, days_in_segment,
             days_in_full_period)""")
    built.execute("create table reference.meters as select 'api_calls' as meter_id, 'sum' as aggregation, "
                  "'quantity' as property")
    built.execute("create table intermediate.int_contract_currencies as select * from (values "
                  "('K1', 'USD', 2), ('K2', 'USD', 2)) as t(contract_id, currency_code, minor_units)")
    built.execute("create table intermediate.int_price_tiers (line_version_key varchar, tier_number integer, "
                  "lower_bound decimal(38, 9), upper_bound decimal(38, 9), unit_price decimal(38, 9), "
                  "flat_fee decimal(38, 9))")
    built.close()
    con = duckdb.connect(str(tmp_path / "baseline.duckdb"))
    con.execute(f"attach '{tmp_path / 'built.duckdb'}' as built (read_only)")
    con.execute(CONTRACT_TABLES)
    spans = dict((key, (str(first), str(last))) for key, first, last in con.execute(
        "select contract_line_id, attributed_from, attributed_through from usage_segments").fetchall())
    assert spans == {"L1": ("2026-11-01", "2026-11-15"), "L2": ("2026-11-16", "2026-11-30")}
