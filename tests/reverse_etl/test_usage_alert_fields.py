"""Account usage alert fields (sync_salesforce__accounts) pushed into the Salesforce emulator by the
sync engine with the shipped mapping, read back through SOQL: an alert is written, an ended alert
is cleared (null sent), and an account without prepaid credit keeps its Credit_Balance__c."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.engine import run_sync
from reverse_etl.mapping import MAPPINGS_DIR, FieldMapping, MappingError, load_mapping
from reverse_etl.salesforce import SalesforceDestination
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, ACCOUNT_2, ACCOUNT_3, CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, sf, sf_certificates, sf_seed_file,
    sf_server,
)

ACCOUNTS = load_mapping("salesforce", MAPPINGS_DIR / "salesforce.yml").objects["accounts"]
FIELDS = "Id, Credit_Balance__c, Usage_Alert_Level__c, Usage_Alert__c, Credit_Runout_Date__c"
COMMIT_100 = ("K0001-api (api_calls) has used 1200 of its 1000 committed units (120%) "
              "in the billing period 2026-10-01 to 2026-10-31.")
RUNOUT = ("Prepaid credit K0003-credits has 700.00 USD left; at 50.00 USD a day (average of the last 7 days) "
          "it runs out on 2026-10-29, before it expires on 2026-12-31.")


def _warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute("create schema reverse_etl_sync")
    # The columns and types of the model's contract (_reverse_etl__models.yml).
    connection.execute("""create table reverse_etl_sync.sync_salesforce__accounts (
        account_id varchar, credit_balance decimal(38, 9), currency_code varchar,
        other_currency_block_count integer, credit_block_count integer, usage_alert_level varchar,
        usage_alert_message varchar, credit_runout_date date)""")
    return connection


def _write(warehouse: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    warehouse.execute("delete from reverse_etl_sync.sync_salesforce__accounts")
    warehouse.executemany("insert into reverse_etl_sync.sync_salesforce__accounts values (?, ?, ?, ?, ?, ?, ?, ?)",
                          rows)


def _held(connection: SalesforceConnection) -> dict[str, tuple]:
    return {record["Id"]: (record["Credit_Balance__c"], record["Usage_Alert_Level__c"], record["Usage_Alert__c"],
                           record["Credit_Runout_Date__c"])
            for record in connection.query(
                f"SELECT {FIELDS} FROM Account WHERE Id IN ('{ACCOUNT_1}', '{ACCOUNT_2}', '{ACCOUNT_3}')")}


@pytest.fixture
def connection(sf: SfClient) -> SalesforceConnection:
    return SalesforceConnection(sf.base_url, CLIENT_ID, CLIENT_SECRET, api_version=VERSION,
                                ca_bundle=sf.ca_bundle, timeout=10, max_attempts=3)


def test_alerts_are_written_and_an_ended_alert_is_cleared(tmp_path, sf, connection):
    # The seed: ACCOUNT_1 holds 1250.50 of credit and no alert; ACCOUNT_2 an old alert
    # ("80% of commitment used", run-out 2026-12-15) and 0 of credit; ACCOUNT_3 nothing.
    assert _held(connection) == {
        ACCOUNT_1: (Decimal("1250.5"), None, None, None),
        ACCOUNT_2: (Decimal("0"), None, "80% of commitment used", "2026-12-15"),
        ACCOUNT_3: (None, None, None, None)}
    warehouse = _warehouse(tmp_path)
    destination = SalesforceDestination(connection)
    _write(warehouse, [
        # No prepaid credit (balance null): the balance is left as it is, the alert written.
        (ACCOUNT_1, None, "USD", 0, 0, "commit_100", COMMIT_100, None),
        # Credit, no alert any more: the old alert and run-out date are cleared.
        (ACCOUNT_2, Decimal("0"), "EUR", 0, 1, None, None, None),
        (ACCOUNT_3, Decimal("700.000000000"), "USD", 0, 1, "commit_80", RUNOUT, date(2026, 10, 29)),
    ])

    first = run_sync(warehouse, destination, "accounts", ACCOUNTS)

    # Never confirmed before: planned as "create", sent as updates by Id (update_only).
    assert (first.to_create, first.succeeded, first.failed, first.retry) == (3, 3, 0, 0)
    assert _held(connection) == {
        ACCOUNT_1: (Decimal("1250.5"), "commit_100", COMMIT_100, None),
        ACCOUNT_2: (Decimal("0"), None, None, None),
        ACCOUNT_3: (Decimal("700"), "commit_80", RUNOUT, "2026-10-29")}

    # The next day ACCOUNT_3's alerts have ended: only it is sent, and its alert fields are cleared.
    _write(warehouse, [
        (ACCOUNT_1, None, "USD", 0, 0, "commit_100", COMMIT_100, None),
        (ACCOUNT_2, Decimal("0"), "EUR", 0, 1, None, None, None),
        (ACCOUNT_3, Decimal("650.000000000"), "USD", 0, 1, None, None, None),
    ])

    second = run_sync(warehouse, destination, "accounts", ACCOUNTS)

    assert (second.unchanged, second.to_update, second.succeeded) == (2, 1, 1)
    assert _held(connection) == {
        ACCOUNT_1: (Decimal("1250.5"), "commit_100", COMMIT_100, None),
        ACCOUNT_2: (Decimal("0"), None, None, None),
        ACCOUNT_3: (Decimal("650"), None, None, None)}
    ledger = dict(warehouse.execute("select external_id, status from reverse_etl.sync_ledger "
                                    "where object_name = 'accounts'").fetchall())
    assert ledger == {ACCOUNT_1: "synced", ACCOUNT_2: "synced", ACCOUNT_3: "synced"}


def test_a_clearing_field_sends_null_and_other_empty_fields_are_left_out():
    row = {"account_id": ACCOUNT_1, "credit_balance": None, "usage_alert_level": None,
           "usage_alert_message": None, "credit_runout_date": None}
    assert ACCOUNTS.payload(row) == {"Id": ACCOUNT_1, "Usage_Alert_Level__c": None, "Usage_Alert__c": None,
                                     "Credit_Runout_Date__c": None}
    row |= {"credit_balance": Decimal("12.500000000"), "usage_alert_level": "commit_80",
            "credit_runout_date": date(2026, 11, 9)}
    assert ACCOUNTS.payload(row) == {"Id": ACCOUNT_1, "Credit_Balance__c": Decimal("12.5"),
                                     "Usage_Alert_Level__c": "commit_80", "Usage_Alert__c": None,
                                     "Credit_Runout_Date__c": "2026-11-09"}


def test_clearing_a_required_field_is_refused_and_an_unset_flag_leaves_the_fingerprint_alone():
    with pytest.raises(ValueError, match="clear_when_null does not apply"):
        FieldMapping(field="Id", type="string", required=True, clear_when_null=True)
    # The serialized mapping feeds every content hash: a field that does not clear serializes as
    # it did before the option existed, so the other objects are not all sent again.
    assert "clear_when_null" not in FieldMapping(field="Name", type="string").model_dump_json()
    assert '"clear_when_null":true' in FieldMapping(field="Name", type="string",
                                                    clear_when_null=True).model_dump_json()


def test_the_shipped_mapping_clears_only_the_alert_fields():
    clearing = {column for column, field in ACCOUNTS.fields.items() if field.clear_when_null}
    assert clearing == {"usage_alert_level", "usage_alert_message", "credit_runout_date"}
    assert {column: field.field for column, field in ACCOUNTS.fields.items()} == {
        "account_id": "Id", "credit_balance": "Credit_Balance__c", "usage_alert_level": "Usage_Alert_Level__c",
        "usage_alert_message": "Usage_Alert__c", "credit_runout_date": "Credit_Runout_Date__c"}
    with pytest.raises(MappingError):
        ACCOUNTS.payload({"account_id": None})
