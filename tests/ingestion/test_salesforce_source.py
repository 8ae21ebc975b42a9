"""The Salesforce source against the emulator over HTTPS, loaded by a real dlt pipeline into DuckDB:
idempotent reloads, incremental updates and deletions, query paging, expired sessions, retried
faults, business errors that stop the load, and the schema contract."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from meterledger.connections.errors import DestinationError
from meterledger.connections.salesforce import SalesforceConnection
from tests.emulators.salesforce_fixtures import ACCOUNT_1, ACCOUNT_2, LINE_EU, seed_id
from tests.ingestion.salesforce_helpers import (  # noqa: F401 - fixtures
    DELETED_TIER, MANY_TIERS, RAW_TABLES, STAGING_MODELS, RecordsConnection, dbt_build_salesforce_staging, emulator,
    ingestion_certificates, ingestion_emulator, seed_with_many_tiers, small_seed, warehouse,
)

TWO_PAGES = 2_100  # price tiers: one full query page and a second one
SEED_COUNTS = {"account": 3, "contract": 4, "contract_line_c": 3, "price_tier_c": 3, "amendment_c": 1}


def _cursor(pipeline, table: str) -> str:
    return pipeline.state["sources"]["salesforce"]["resources"][table]["incremental"]["SystemModstamp"]["last_value"]


def _newest_stamp(emulator, sobject: str) -> str:
    return max(record["SystemModstamp"] for record in emulator.records(sobject))


def test_loading_the_same_data_twice_changes_no_raw_or_staging_table(emulator, warehouse, tmp_path):
    warehouse.load(emulator.connection())
    assert {table: warehouse.rows(f"select count(*), count(distinct id) from raw_salesforce.{table}")[0]
            for table in RAW_TABLES} == {table: (count, count) for table, count in SEED_COUNTS.items()}
    output = dbt_build_salesforce_staging(warehouse, tmp_path)
    assert "WARN=0 ERROR=0 SKIP=0" in output
    relations = [f"raw_salesforce.{table}" for table in RAW_TABLES] + [f"staging.{model}" for model in STAGING_MODELS]
    before = {relation: warehouse.fingerprint(relation) for relation in relations}

    pipeline = warehouse.load(emulator.connection())

    assert pipeline.last_trace.last_load_info.loads_ids == []  # nothing new: not even a load package
    assert {relation: warehouse.fingerprint(relation) for relation in relations} == before
    assert {model: before[f"staging.{model}"][0] for model in STAGING_MODELS} == dict(
        zip(STAGING_MODELS, [SEED_COUNTS[table] for table in RAW_TABLES]))
    assert warehouse.rows("select price_tier_id, amendment_id is not null, is_deleted "
                          "from staging.stg_salesforce__price_tiers order by price_tier_id") == [
        (seed_id("a02", 1), False, False), (seed_id("a02", 2), False, False), (DELETED_TIER, True, True)]


def test_an_update_and_a_deletion_arrive_by_cursor(emulator, warehouse, tmp_path):
    first = warehouse.load(emulator.connection())
    assert _cursor(first, "account") == _newest_stamp(emulator, "Account")
    client = emulator.client().login()
    assert client.patch(f"/sobjects/Account/{ACCOUNT_1}", {"Name": "Acme Corporation"}).status_code == 204
    assert client.delete(f"/sobjects/Contract_Line__c/{LINE_EU}").status_code == 204

    second = warehouse.load(emulator.connection())

    assert {table: count for table, count in second.last_trace.last_normalize_info.row_counts.items()
            if not table.startswith("_dlt")} == {"account": 1, "contract_line_c": 1}
    assert warehouse.rows("select id, name from raw_salesforce.account order by id") == [
        (ACCOUNT_1, "Acme Corporation"), (ACCOUNT_2, "Globex GmbH"), (seed_id("001", 3), "Initech")]
    assert warehouse.rows("select id, is_deleted from raw_salesforce.contract_line_c order by id") == [
        (seed_id("a01", 1), False), (seed_id("a01", 2), False), (LINE_EU, True)]
    # The cursors moved to the stamps of the two writes and live in dlt state, which travels with
    # the warehouse: a pipeline with an empty working folder restores it and loads nothing.
    assert _cursor(second, "account") == _newest_stamp(emulator, "Account")
    assert _cursor(second, "contract_line_c") == _newest_stamp(emulator, "Contract_Line__c")
    warehouse.pipelines_dir = tmp_path / "fresh_pipelines"
    restored = warehouse.load(emulator.connection())
    assert restored.last_trace.last_load_info.loads_ids == []
    assert _cursor(restored, "account") == _newest_stamp(emulator, "Account")


def test_a_record_stamped_in_the_instant_of_the_cursor_is_not_lost(emulator, warehouse):
    stamp = "2026-10-05T09:00:00.000+0000"
    seed = small_seed()
    for account in seed["Account"]:
        account["SystemModstamp"] = stamp
    # Committed in the same instant as the others, but visible only after the first load.
    late = {"Id": seed_id("001", 4), "Name": "Umbrella", "Customer_Key__c": "C0004", "SystemModstamp": stamp}
    emulator.reseed(seed)
    first = warehouse.load(emulator.connection())
    assert _cursor(first, "account") == stamp
    loaded = warehouse.rows("select id, _dlt_load_id from raw_salesforce.account order by id")
    assert len(loaded) == 3

    seed["Account"].append(late)
    emulator.reseed(seed)
    second = warehouse.load(emulator.connection())

    assert second.last_trace.last_normalize_info.row_counts["account"] == 1  # the three read again are skipped
    rows = warehouse.rows("select id, _dlt_load_id from raw_salesforce.account order by id")
    assert [row for row in rows if row[0] != late["Id"]] == loaded  # untouched, not reloaded
    assert [row[0] for row in rows] == [ACCOUNT_1, ACCOUNT_2, seed_id("001", 3), late["Id"]]
    assert _cursor(second, "account") == stamp


def test_more_than_2000_rows_are_loaded_whole(emulator, warehouse):
    emulator.reseed(seed_with_many_tiers())
    warehouse.load(emulator.connection())
    assert warehouse.rows("select count(*), count(distinct id), sum(tier_number__c), sum(unit_price__c) "
                          "from raw_salesforce.price_tier_c") == [
        (MANY_TIERS, MANY_TIERS, MANY_TIERS * (MANY_TIERS + 1) // 2,
         Decimal("0.0001") * MANY_TIERS * (MANY_TIERS + 1) / 2)]


class ExpiresAfterFirstPage(SalesforceConnection):
    """Expires every session on the emulator right after the first page of a paged query."""

    expire_url: str = ""
    expired = False
    authentications = 0

    def authenticate(self) -> None:
        self.authentications += 1
        super().authenticate()

    def request(self, method, path, **kwargs):
        response = super().request(method, path, **kwargs)
        if not self.expired and response.json().get("nextRecordsUrl"):
            self.session.post(self.expire_url, timeout=5).raise_for_status()
            self.expired = True
        return response


def test_a_session_expiring_between_two_pages_is_renewed_and_the_load_completes(emulator, warehouse):
    emulator.reseed(seed_with_many_tiers(TWO_PAGES))
    connection = emulator.connection(ExpiresAfterFirstPage)
    connection.expire_url = f"{emulator.base_url}/_emulator/expire-tokens"

    warehouse.load(connection, "price_tier_c")  # one query only: the second page meets the expiry

    assert connection.expired and connection.authentications == 2
    assert warehouse.rows("select count(*), count(distinct id) from raw_salesforce.price_tier_c") == [
        (TWO_PAGES, TWO_PAGES)]


def test_rate_limits_and_server_errors_are_retried_and_the_load_completes(emulator, warehouse):
    emulator.reseed(seed_with_many_tiers(TWO_PAGES))
    client = emulator.client()
    client.arm(kind="status", status=429, error_code="REQUEST_LIMIT_EXCEEDED", path_contains="/queryAll", count=1)
    client.arm(kind="status", status=500, path_contains="/queryAll/", count=1)  # the second page
    client.arm(kind="drop", path_contains="/queryAll", count=1)

    warehouse.load(emulator.connection())

    assert client.control("GET", "state").json()["faults_pending"] == 0
    assert {table: warehouse.rows(f"select count(distinct id) from raw_salesforce.{table}")[0][0]
            for table in RAW_TABLES} == {**SEED_COUNTS, "price_tier_c": TWO_PAGES}


def test_a_business_error_stops_the_load_with_salesforces_message(emulator, warehouse, monkeypatch):
    from ingestion.salesforce.objects import OBJECT_FIELDS

    # The org lacks a field the source reads: Salesforce answers 400 INVALID_FIELD.
    monkeypatch.setitem(OBJECT_FIELDS, "Account", {**OBJECT_FIELDS["Account"], "Region__c": "text"})
    with pytest.raises(PipelineStepFailed) as failure:
        warehouse.load(emulator.connection())
    assert "Salesforce answered 400 INVALID_FIELD" in str(failure.value)
    assert "No such column 'Region__c' on entity 'Account'" in str(failure.value)


def test_business_errors_and_the_daily_limit_are_not_retried(emulator):
    client = emulator.client()
    connection = emulator.connection()
    with pytest.raises(DestinationError) as error:
        list(connection.query("SELECT Id, Region__c FROM Account"))
    assert (error.value.status, error.value.code, error.value.retryable) == (400, "INVALID_FIELD", False)
    assert client.control("GET", "api-usage").json()["used"] == 1  # sent once

    client.control("POST", "api-usage", {"used": 100_000})
    with pytest.raises(DestinationError) as error:
        list(connection.query("SELECT Id FROM Account"))
    assert (error.value.status, error.value.code, error.value.message) == (
        403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    assert not error.value.retryable


# Stand-in connection: the merge and the schema contract, without the emulator ---------------------
def _account(stamp: str, **fields) -> dict:
    return {"Id": ACCOUNT_1, "IsDeleted": False, "SystemModstamp": stamp, "Name": "Acme Corp",
            "Customer_Key__c": "C0001", **fields}


@pytest.mark.parametrize("newest_first", [True, False])
def test_of_two_versions_in_one_load_the_newest_wins(warehouse, newest_first):
    newest = _account("2026-10-03T10:00:00.000+0000", Name="Acme Corporation")
    older = _account("2026-10-01T10:00:00.000+0000", Name="Acme Corp")
    warehouse.load(RecordsConnection({"Account": [newest, older] if newest_first else [older, newest]}))
    assert warehouse.rows("select id, name, system_modstamp from raw_salesforce.account") == [
        (ACCOUNT_1, "Acme Corporation", datetime(2026, 10, 3, 10, tzinfo=timezone.utc))]


def test_a_type_change_fails_naming_the_column_and_a_new_column_evolves(warehouse):
    tier = {"Id": seed_id("a02", 1), "IsDeleted": False, "SystemModstamp": "2026-10-01T10:00:00.000+0000",
            "Contract_Line__c": seed_id("a01", 1), "Tier_Number__c": 1, "Unit_Price__c": Decimal("0.002")}
    warehouse.load(RecordsConnection({"Price_Tier__c": [tier]}))

    with_new_field = {**tier, "SystemModstamp": "2026-10-02T10:00:00.000+0000", "Currency_Note__c": "list"}
    warehouse.load(RecordsConnection({"Price_Tier__c": [with_new_field]}))
    assert warehouse.rows("select tier_number__c, currency_note__c from raw_salesforce.price_tier_c") == [
        (1, "list")]

    retyped = {**tier, "SystemModstamp": "2026-10-03T10:00:00.000+0000", "Tier_Number__c": "first"}
    with pytest.raises(PipelineStepFailed) as failure:
        warehouse.load(RecordsConnection({"Price_Tier__c": [retyped]}))
    message = str(failure.value)
    assert "Column: `tier_number__c__v_text`" in message and "data_type" in message and "frozen" in message
    assert warehouse.rows("select tier_number__c, currency_note__c from raw_salesforce.price_tier_c") == [
        (1, "list")]
