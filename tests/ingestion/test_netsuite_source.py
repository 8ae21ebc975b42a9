"""The NetSuite source against the emulator over HTTPS, into a DuckDB file through a real dlt
pipeline: idempotent reloads, incremental merges, replaced lines, paging, faults and the schema
contract."""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from ingestion.netsuite import netsuite_source
from tests.ingestion.netsuite_helpers import (
    CUSTOMERS,
    FIRST_USAGE_ID,
    RAW_ROW_COUNTS,
    SEED_STAMP_SUITEQL,
    STAGING_MODELS,
    USAGE_RECORDS,
    SuiteQLLog,
    build_netsuite_staging,
    fingerprint,
    fingerprints,
    netsuite_pipeline,
    query,
    start_emulator,
    usage_quantity,
)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """One emulator for the module; every test starts from the seed."""
    emulator = start_emulator(tmp_path_factory.mktemp("netsuite_source"))
    yield emulator
    emulator.server.stop()


@pytest.fixture
def netsuite(emulator):
    emulator.reset()
    yield emulator
    emulator.reset()


def load(tmp_path, connection, *tables, **options):
    """Load the whole source, or only the raw ``tables`` a test is about (faster)."""
    source = netsuite_source(connect=lambda: connection, **options)
    return netsuite_pipeline(tmp_path).run(source.with_resources(*tables) if tables else source)


def test_loading_the_same_data_twice_leaves_every_raw_and_staging_table_unchanged(netsuite, tmp_path):
    connection = netsuite.connection()
    load(tmp_path, connection)
    build_netsuite_staging(tmp_path)  # the views, and their key and relationship tests pass
    raw, staging = fingerprints(tmp_path, "raw_netsuite"), fingerprints(tmp_path, "staging")
    assert {table: rows for table, (rows, _) in raw.items()} == RAW_ROW_COUNTS
    # Besides one view per raw table: the invoice lines' usage records one per row (two records
    # billed in the seed), and the time of the last usage read-back.
    assert {model: rows for model, (rows, _) in staging.items()} == {
        **{STAGING_MODELS[table]: rows for table, rows in RAW_ROW_COUNTS.items()},
        "stg_netsuite__invoice_line_usage_records": 2, "stg_netsuite__usage_loads": 1}
    [(first_load,)] = query(tmp_path, "select max(load_id) from raw_netsuite._dlt_loads")

    load(tmp_path, connection)

    # Every record was stamped in the cursor's last second, so the second load read all of them
    # again and merged them: the same rows, now carrying the second load's ID.
    assert query(tmp_path, f"select count(*) from raw_netsuite.customer where _dlt_load_id > '{first_load}'") == [
        (CUSTOMERS,)]
    assert fingerprints(tmp_path, "raw_netsuite") == raw
    staging_again = fingerprints(tmp_path, "staging")
    # The read-back time is the one thing a load changes: it follows the newest load.
    assert staging_again.pop("stg_netsuite__usage_loads") != staging.pop("stg_netsuite__usage_loads")
    assert staging_again == staging


def test_accounting_periods_arrive_open_locked_or_closed(netsuite, tmp_path):
    netsuite.control("POST", "accountingperiods/101/lock")
    load(tmp_path, netsuite.connection())
    assert query(tmp_path, "select id, closed, alllocked, arlocked, aplocked from raw_netsuite.accountingperiod "
                           "order by id") == [("100", "T", None, None, None), ("101", "F", "T", "T", "T"),
                                              ("102", "F", None, None, None)]
    build_netsuite_staging(tmp_path)
    assert query(tmp_path, "select accounting_period_id, period_status, is_closed, is_all_locked "
                           "from staging.stg_netsuite__accounting_periods order by 1") == [
        ("100", "closed", True, False), ("101", "locked", False, True), ("102", "open", False, False)]


def test_results_over_1000_rows_are_loaded_whole(netsuite, tmp_path):
    connection = netsuite.connection()
    log = SuiteQLLog(connection)
    load(tmp_path, connection, "usage")
    assert [(offset, status) for (table, offset, status, _) in log.entries if table == "usage"] == [
        (0, 200), (1000, 200), (2000, 200)]
    assert query(tmp_path, "select count(*), count(distinct id), min(cast(id as integer)), max(cast(id as integer)) "
                           "from raw_netsuite.usage") == [
        (USAGE_RECORDS, USAGE_RECORDS, FIRST_USAGE_ID, FIRST_USAGE_ID + USAGE_RECORDS - 1)]
    [(total,)] = query(tmp_path, "select sum(cast(usagequantity as decimal(18, 2))) from raw_netsuite.usage")
    assert total == sum(usage_quantity(n) for n in range(USAGE_RECORDS))


def test_changed_records_are_merged_on_their_internal_id(netsuite, tmp_path):
    connection = netsuite.connection()
    load(tmp_path, connection, "customer")
    connection.request("PATCH", "/record/v1/customer/5", json={"companyName": "Renamed Ltd"})
    with netsuite.app.store.lock:  # NetSuite stamps to the second: a change within the loaded second
        record = copy.deepcopy(netsuite.app.store.get("customer", "6"))
        record["companyName"] = "Changed In The Same Second"
        netsuite.app.store.insert("customer", record, touch=False)
    load(tmp_path, connection, "customer")

    changed = query(tmp_path, "select id, companyname, entityid, lastmodifieddate from raw_netsuite.customer "
                              "where id in ('4', '5', '6') order by id")
    assert [row[:3] for row in changed] == [("4", "Customer 0004", "C0004"), ("5", "Renamed Ltd", "C0005"),
                                            ("6", "Changed In The Same Second", "C0006")]
    assert changed[1][3] > SEED_STAMP_SUITEQL and changed[2][3] == SEED_STAMP_SUITEQL
    assert query(tmp_path, "select count(*), count(distinct id) from raw_netsuite.customer") == [
        (CUSTOMERS, CUSTOMERS)]


TRANSACTIONS_AND_PLANS = ("invoice", "invoiceline", "journalentry", "journalentryline", "priceplan", "pricetiers")


def test_lines_removed_in_netsuite_are_removed_from_the_warehouse(netsuite, tmp_path):
    connection = netsuite.connection()
    load(tmp_path, connection, *TRANSACTIONS_AND_PLANS)
    connection.request("PATCH", "/record/v1/journalentry/900", params={"replace": "line"}, json={"line": {"items": [
        {"account": {"id": "12"}, "debit": "75.00"}, {"account": {"id": "11"}, "credit": "75.00"}]}})
    connection.request("PATCH", "/record/v1/invoice/800", params={"replace": "item"}, json={"item": {"items": [
        {"item": {"id": "201"}, "subscriptionLine": {"id": "501"}, "quantity": 1, "rate": "499.00",
         "amount": "499.00", "description": "K0001-platform"}]}})
    connection.request("PATCH", "/record/v1/priceplan/301", params={"replace": "priceTiers"}, json={
        "priceTiers": {"items": [{"fromVal": 0, "toVal": 5000, "price": "0.02"},
                                 {"fromVal": 5000, "price": "0.01"}]}})
    load(tmp_path, connection, *TRANSACTIONS_AND_PLANS)

    assert query(tmp_path, "select transaction, id, account, debitforeignamount, creditforeignamount, netamount "
                           "from raw_netsuite.journalentryline order by transaction, id") == [
        ("900", "1", "12", "75.00", None, "75.00"), ("900", "2", "11", None, "75.00", "-75.00"),
        ("901", "1", "12", "25.50", None, "25.50"), ("901", "2", "11", None, "25.50", "-25.50")]
    assert query(tmp_path, "select transaction, id, item, netamount from raw_netsuite.invoiceline "
                           "order by transaction, id") == [("800", "1", "201", "499.00"), ("801", "1", "201", "499.00")]
    assert query(tmp_path, "select priceplan, linenumber, fromval, toval, price from raw_netsuite.pricetiers "
                           "order by priceplan, linenumber") == [
        ("300", "1", "0", None, "499.00"), ("301", "1", "0", "5000", "0.02"), ("301", "2", "5000", None, "0.01")]
    assert query(tmp_path, "select id, foreigntotal from raw_netsuite.invoice order by id") == [
        ("800", "499.00"), ("801", "499.00")]


def test_429_and_500_mid_load_are_retried_with_backoff_and_the_load_completes(netsuite, tmp_path):
    connection = netsuite.connection()
    log = SuiteQLLog(connection)

    def overload_then_fail() -> None:
        netsuite.arm_fault(kind="status", status=429, error_code="CONCURRENCY_LIMIT_EXCEEDED", path_contains="/suiteql")
        netsuite.arm_fault(kind="status", status=500, path_contains="/suiteql")

    log.before("usage", 1000, overload_then_fail)  # the second page of the usage records
    load(tmp_path, connection, "customer", "usage", "journalentry", "journalentryline")

    assert log.statuses("usage", 1000) == [429, 500, 200]
    first, second, third = log.starts("usage", 1000)
    assert second - first >= 0.2 and third - second >= 0.4  # exponential backoff (plus jitter)
    assert query(tmp_path, "select count(*), count(distinct id) from raw_netsuite.usage") == [
        (USAGE_RECORDS, USAGE_RECORDS)]
    assert query(tmp_path, "select count(*) from raw_netsuite.customer") == [(CUSTOMERS,)]
    assert query(tmp_path, "select count(*) from raw_netsuite.journalentryline") == [
        (RAW_ROW_COUNTS["journalentryline"],)]


def test_a_business_error_stops_the_load_at_once_with_netsuites_message(netsuite, tmp_path):
    connection = netsuite.connection()
    log = SuiteQLLog(connection)
    with pytest.raises(PipelineStepFailed) as failure:
        load(tmp_path, connection, "customer", custom_columns={"customer": ["custentity_region"]})
    message = str(failure.value)
    assert "NetSuite answered 400 INVALID_PARAMETER: Invalid search query. Detailed unprocessed description " \
           "follows. Search error occurred: Field 'custentity_region' for record 'customer' was not found." in message
    assert log.statuses("customer", 0) == [400]  # not retried
    # Nothing half-loaded blocks the next run.
    load(tmp_path, connection, "customer")
    assert query(tmp_path, "select count(*) from raw_netsuite.customer") == [(CUSTOMERS,)]


def test_a_token_revoked_mid_load_stops_it_with_netsuites_message(netsuite, tmp_path):
    """TBA tokens do not expire (they stay valid until revoked); a revoked one is refused with 401
    INVALID_LOGIN, which signing again cannot cure, so it is not retried."""
    connection = netsuite.connection()
    log = SuiteQLLog(connection)
    credentials = netsuite.credentials

    def revoke() -> None:
        connection.session.auth = OAuth1(
            credentials.consumer_key, client_secret=credentials.consumer_secret,
            resource_owner_key=credentials.token_id, resource_owner_secret="revoked" + credentials.token_secret[7:],
            signature_method=SIGNATURE_HMAC_SHA256, realm=credentials.realm)

    log.before("usage", 1000, revoke)
    with pytest.raises(PipelineStepFailed) as failure:
        load(tmp_path, connection)
    assert "NetSuite answered 401 INVALID_LOGIN: Invalid login attempt." in str(failure.value)
    assert log.statuses("usage", 1000) == [401]


def test_a_new_custom_column_evolves_into_the_raw_table(netsuite, tmp_path):
    connection = netsuite.connection()
    load(tmp_path, connection, "journalentry", "journalentryline")
    connection.request("POST", "/record/v1/journalentry", json={
        "externalId": "JE:2026-09:credits", "subsidiary": {"id": "1"}, "currency": {"id": "1"},
        "tranDate": "2026-09-30", "line": {"items": [
            {"account": {"id": "12"}, "debit": "12.00", "custcol_credit_block_id": "CB-7"},
            {"account": {"id": "11"}, "credit": "12.00", "custcol_credit_block_id": "CB-7"}]}})
    load(tmp_path, connection, "journalentry", "journalentryline",
         custom_columns={"journalentryline": ["custcol_credit_block_id"]})
    assert query(tmp_path, "select transaction, id, custcol_credit_block_id from raw_netsuite.journalentryline "
                           "order by cast(transaction as integer), cast(id as integer)") == [
        ("900", "1", None), ("900", "2", None), ("900", "3", None), ("901", "1", None), ("901", "2", None),
        ("902", "1", "CB-7"), ("902", "2", "CB-7")]
    assert query(tmp_path, "select data_type from information_schema.columns where table_schema = 'raw_netsuite' "
                           "and table_name = 'journalentryline' and column_name = 'custcol_credit_block_id'") == [
        ("VARCHAR",)]


class QuantitiesAsNumbers:
    """NetSuite answering usage quantities as JSON numbers (exact decimals) instead of SuiteQL's text."""

    def __init__(self, connection):
        self.connection = connection

    def suiteql(self, text: str):
        for row in self.connection.suiteql(text):
            if "usagequantity" in row:
                row["usagequantity"] = Decimal(row["usagequantity"])
            yield row


def test_a_column_whose_type_changes_fails_the_load_naming_it(netsuite, tmp_path):
    connection = netsuite.connection()
    load(tmp_path, connection, "usage")
    before = fingerprint(tmp_path, "raw_netsuite", "usage")
    with pytest.raises(PipelineStepFailed) as failure:
        load(tmp_path, QuantitiesAsNumbers(connection), "usage")
    assert "In Table: `usage` Column: `('usagequantity',)` . Contract on `data_type` with `contract_mode=freeze` " \
           "is violated. Input should be a valid string" in str(failure.value)
    assert fingerprint(tmp_path, "raw_netsuite", "usage") == before


@pytest.mark.parametrize(("custom_columns", "message"), [
    ({"customer": ["custcol_region"]},
     "custom column 'custcol_region' is not valid for NetSuite table 'customer' "
     r"\(custom columns allowed: names starting with custentity_\)"),
    ({"custmer": ["custentity_region"]}, "custom columns configured for unknown NetSuite tables: custmer"),
])
def test_custom_columns_are_checked_when_the_source_is_built(custom_columns, message):
    with pytest.raises(ValueError, match=message):
        netsuite_source(connect=lambda: None, custom_columns=custom_columns)
