"""SalesforceDestination against the Salesforce emulator over HTTPS: Collections and Bulk API 2.0
outcomes matched by external ID, update-only writes, an expired session, the daily API limit and
read-back."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.mapping import ObjectMapping
from reverse_etl.protocol import RecordOutcome, SendItem, SyncStopped
from reverse_etl.salesforce import SalesforceDestination, _pair
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, ACCOUNT_2, ACCOUNT_3, CLIENT_ID, CLIENT_SECRET, LINE_API, VERSION, SfClient, sf, sf_certificates,
    sf_seed_file, sf_server,
)

NO_SUCH_ACCOUNT = "001000000000000AAA"  # shaped like an Account id, but no such record
BAD_REFERENCE = f"INVALID_CROSS_REFERENCE_KEY: invalid cross reference id: {NO_SUCH_ACCOUNT} (Account__c)"
# The objects' mappings as shipped, written out so the tests do not move with a deployment's copy.
USAGE = ObjectMapping(
    model="sync_salesforce__usage_summaries", record_type="Usage_Summary__c", mode="upsert", key="external_id",
    fields={"external_id": {"field": "External_Id__c", "type": "string", "required": True},
            "account_id": {"field": "Account__c", "type": "string", "required": True},
            "contract_line_id": {"field": "Contract_Line__c", "type": "string"},
            "meter_id": {"field": "Meter__c", "type": "string", "required": True},
            "period_start": {"field": "Period_Start__c", "type": "date", "required": True},
            "period_end": {"field": "Period_End__c", "type": "date", "required": True},
            "quantity": {"field": "Quantity__c", "type": "decimal", "required": True},
            "currency_code": {"field": "CurrencyIsoCode", "type": "string"},
            "status": {"field": "Status__c", "type": "string", "required": True}})
ACCOUNTS = ObjectMapping(
    model="sync_salesforce__accounts", record_type="Account", mode="update_only", key="account_id",
    fields={"account_id": {"field": "Id", "type": "string", "required": True},
            "credit_balance": {"field": "Credit_Balance__c", "type": "decimal"}})


@pytest.fixture
def connection(sf: SfClient) -> SalesforceConnection:
    return SalesforceConnection(sf.base_url, CLIENT_ID, CLIENT_SECRET, api_version=VERSION,
                                ca_bundle=sf.ca_bundle, timeout=10, max_attempts=3)


class Recorder:
    """The ``report`` callback: keeps every call, so tests see what was reported when."""

    def __init__(self, after_first=None) -> None:
        self.calls: list[list[RecordOutcome]] = []
        self.after_first = after_first

    def __call__(self, outcomes) -> None:
        self.calls.append(list(outcomes))
        if len(self.calls) == 1 and self.after_first:
            self.after_first()

    @property
    def outcomes(self) -> dict[str, RecordOutcome]:
        merged = {}
        for call in self.calls:
            for outcome in call:
                assert outcome.external_id not in merged, f"two outcomes for {outcome.external_id}"
                merged[outcome.external_id] = outcome
        return merged


def usage_item(key: str, number: int, account: str = ACCOUNT_1, meter: str = "api_calls") -> SendItem:
    row = {"external_id": key, "account_id": account, "contract_line_id": LINE_API if number % 3 else None,
           "meter_id": meter, "period_start": date(2026, 9, 1), "period_end": date(2026, 9, 30),
           "quantity": Decimal(f"{number}.125000000"), "currency_code": "USD", "status": "final"}
    return SendItem(key, USAGE.payload(row), f"hash-{key}")


def stored_usage(connection: SalesforceConnection, prefix: str) -> dict[str, dict]:
    """External ID → record, read with SOQL (Id, Quantity__c as Decimal, ...)."""
    return {record["External_Id__c"]: record for record in connection.query(
        "SELECT Id, External_Id__c, Account__c, Meter__c, Quantity__c FROM Usage_Summary__c "
        f"WHERE External_Id__c LIKE '{prefix}%'")}


def assert_one_bad_record(recorder: Recorder, connection: SalesforceConnection, items: list[SendItem],
                          bad_key: str, prefix: str) -> None:
    outcomes = recorder.outcomes
    assert set(outcomes) == {item.external_id for item in items}
    assert outcomes[bad_key] == RecordOutcome(bad_key, "failed", error=BAD_REFERENCE)
    synced = {key: outcome for key, outcome in outcomes.items() if outcome.status == "synced"}
    assert len(synced) == len(items) - 1
    stored = stored_usage(connection, prefix)
    assert len(stored) == len(items) - 1 and bad_key not in stored
    # Every reported Id is the record that holds that external ID, with that record's payload.
    for item in items:
        if item.external_id != bad_key:
            record = stored[item.external_id]
            assert synced[item.external_id].remote_id == record["Id"]
            assert record["Quantity__c"] == item.payload["Quantity__c"]
            assert record["Meter__c"] == item.payload["Meter__c"]


def test_collections_upsert_matches_each_outcome_to_its_external_id(sf, connection):
    items = [usage_item(f"dest:{n:04d}", n) for n in range(450)]
    items[137] = usage_item("dest:0137", 137, account=NO_SUCH_ACCOUNT)
    recorder = Recorder()
    SalesforceDestination(connection).send(USAGE, items, recorder)

    assert sf.control("GET", "api-usage").json()["used"] == 6  # an upsert and a confirming query per 200
    assert [len(call) for call in recorder.calls] == [200, 200, 50]  # reported per request
    assert_one_bad_record(recorder, connection, items, "dest:0137", "dest:")
    assert stored_usage(connection, "dest:0449")["dest:0449"]["Quantity__c"] == Decimal("449.125")


def test_collections_upsert_updates_existing_records_in_place(sf, connection):
    existing = {record["External_Id__c"]: record["Id"] for record in sf.records("Usage_Summary__c")
                if record["External_Id__c"] in ("US-00001", "US-00002")}
    items = [usage_item("US-00001", 7), usage_item("new:1", 8), usage_item("us-00002", 9)]  # keys ignore case
    recorder = Recorder()
    SalesforceDestination(connection).send(USAGE, items, recorder)

    outcomes = recorder.outcomes
    assert outcomes["US-00001"] == RecordOutcome("US-00001", "synced", remote_id=existing["US-00001"])
    assert outcomes["us-00002"] == RecordOutcome("us-00002", "synced", remote_id=existing["US-00002"])
    assert outcomes["new:1"].status == "synced" and outcomes["new:1"].remote_id not in existing.values()
    assert stored_usage(connection, "US-00001")["US-00001"]["Quantity__c"] == Decimal("7.125")


def test_bulk_upsert_matches_result_rows_by_external_id(sf, connection):
    items = [usage_item(f"bulk:{n:04d}", n) for n in range(250)]
    items[42] = usage_item("bulk:0042", 42, account=NO_SUCH_ACCOUNT)
    # CSV quoting: a comma, a quote and a new line inside a value.
    items[7] = usage_item("bulk:0007", 7, meter='api "calls", eu\nsecond line')
    recorder = Recorder()
    SalesforceDestination(connection, bulk_threshold=100, bulk_poll_interval=0.05).send(USAGE, items, recorder)

    assert [len(call) for call in recorder.calls] == [250]  # one job, reported when it finished
    assert list(sf.control("GET", "state").json()["bulk_jobs"].values()) == ["JobComplete"]
    assert_one_bad_record(recorder, connection, items, "bulk:0042", "bulk:")
    assert stored_usage(connection, "bulk:0007")["bulk:0007"]["Meter__c"] == 'api "calls", eu\nsecond line'
    assert stored_usage(connection, "bulk:0100")["bulk:0100"]["Quantity__c"] == Decimal("100.125")


def test_bulk_is_used_only_above_the_threshold(sf, connection):
    items = [usage_item(f"edge:{n:03d}", n) for n in range(100)]
    recorder = Recorder()
    SalesforceDestination(connection, bulk_threshold=100).send(USAGE, items, recorder)
    assert sf.control("GET", "state").json()["bulk_jobs"] == {}
    assert [len(call) for call in recorder.calls] == [100]
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"synced"}


def test_update_only_changes_exactly_the_given_accounts_and_never_creates(sf, connection):
    before = {record["Id"]: record for record in sf.records("Account")}
    items = [SendItem(ACCOUNT_1, {"Id": ACCOUNT_1, "Credit_Balance__c": Decimal("1999.99")}, "h1"),
             # A 15-character id is the same record; the outcome stays under the id that was sent.
             SendItem(ACCOUNT_2[:15], {"Id": ACCOUNT_2[:15], "Credit_Balance__c": Decimal("0.000001")}, "h2"),
             SendItem(NO_SUCH_ACCOUNT, {"Id": NO_SUCH_ACCOUNT, "Credit_Balance__c": Decimal("5")}, "h3")]
    recorder = Recorder()
    destination = SalesforceDestination(connection)
    destination.send(ACCOUNTS, items, recorder)

    assert recorder.outcomes == {
        ACCOUNT_1: RecordOutcome(ACCOUNT_1, "synced", remote_id=ACCOUNT_1),
        ACCOUNT_2[:15]: RecordOutcome(ACCOUNT_2[:15], "synced", remote_id=ACCOUNT_2),
        NO_SUCH_ACCOUNT: RecordOutcome(NO_SUCH_ACCOUNT, "failed",
                                       error="NOT_FOUND: The requested resource does not exist"),
    }
    after = {record["Id"]: record for record in sf.records("Account")}
    assert set(after) == set(before)  # nothing created
    assert after[ACCOUNT_1]["Credit_Balance__c"] == Decimal("1999.99")
    assert after[ACCOUNT_2]["Credit_Balance__c"] == Decimal("0.000001")
    assert after[ACCOUNT_3] == before[ACCOUNT_3]
    for account in (ACCOUNT_1, ACCOUNT_2):  # only the mapped field changed
        assert {k: v for k, v in after[account].items() if k not in ("Credit_Balance__c", "LastModifiedDate",
                                                                      "SystemModstamp")} == \
               {k: v for k, v in before[account].items() if k not in ("Credit_Balance__c", "LastModifiedDate",
                                                                       "SystemModstamp")}

    read = destination.read_back(ACCOUNTS, [ACCOUNT_1, ACCOUNT_2[:15], NO_SUCH_ACCOUNT])
    assert {key: (record.remote_id, record.fields) for key, record in read.items()} == {
        ACCOUNT_1: (ACCOUNT_1, {"Id": ACCOUNT_1, "Credit_Balance__c": Decimal("1999.99")}),
        ACCOUNT_2[:15]: (ACCOUNT_2, {"Id": ACCOUNT_2, "Credit_Balance__c": Decimal("0.000001")}),
    }


def test_an_expired_session_midway_is_renewed_and_everything_syncs(sf, connection):
    items = [usage_item(f"exp:{n:04d}", n) for n in range(450)]
    recorder = Recorder(after_first=lambda: sf.control("POST", "expire-tokens"))
    SalesforceDestination(connection).send(USAGE, items, recorder)

    assert [len(call) for call in recorder.calls] == [200, 200, 50]
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"synced"}
    stored = stored_usage(connection, "exp:")
    assert len(stored) == 450
    assert all(recorder.outcomes[key].remote_id == record["Id"] for key, record in stored.items())


def test_bulk_survives_an_expired_session_while_polling(sf, connection):
    # The session expires while the job runs: the poll is answered 401 INVALID_SESSION_ID once.
    sf.arm(kind="status", status=401, method="GET", path_contains="/jobs/ingest/")
    items = [usage_item(f"bexp:{n:03d}", n) for n in range(150)]
    recorder = Recorder()
    SalesforceDestination(connection, bulk_threshold=100, bulk_poll_interval=0.05).send(USAGE, items, recorder)
    assert sf.control("GET", "state").json()["faults_pending"] == 0
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"synced"}
    assert len(recorder.outcomes) == 150 and len(stored_usage(connection, "bexp:")) == 150


def test_a_failed_bulk_job_leaves_its_records_to_retry(sf, connection):
    items = [SendItem(f"bfail:{n}", {**usage_item(f"bfail:{n}", n).payload, "Bogus__c": "x"}, "h")
             for n in range(20)]
    recorder = Recorder()
    SalesforceDestination(connection, bulk_threshold=10, bulk_poll_interval=0.05).send(USAGE, items, recorder)
    error = ("Bulk job {} ended Failed without a result for this record: InvalidBatch : Field name not found : "
             "Bogus__c")
    [job] = sf.control("GET", "state").json()["bulk_jobs"]
    assert recorder.outcomes == {item.external_id: RecordOutcome(item.external_id, "retry", error=error.format(job))
                                 for item in items}


def test_outcomes_are_never_paired_with_an_unconfirmed_position():
    batch = [SendItem(key, {}, "h") for key in ("a", "b", "c")]
    owners = {"a04Em0000000001": "a", "a04Em0000000002": "b"}
    in_order = [{"id": "a04Em0000000001AAA", "success": True}, {"id": "a04Em0000000002AAA", "success": True},
                {"success": False, "errors": [{"statusCode": "X", "message": "m"},
                                              {"statusCode": "Y", "message": "n"}]}]
    assert [(o.external_id, o.status, o.remote_id, o.error) for o in _pair(batch, in_order, owners)] == [
        ("a", "synced", "a04Em0000000001AAA", None), ("b", "synced", "a04Em0000000002AAA", None),
        ("c", "failed", None, "X: m; Y: n")]
    # Answers out of order: no success is attached to the wrong record, and the failure is not guessed.
    swapped = [in_order[1], in_order[0], in_order[2]]
    assert [o.status for o in _pair(batch, swapped, owners)] == ["retry", "retry", "retry"]
    # An Id that holds none of the sent external IDs confirms nothing.
    assert [o.status for o in _pair(batch, in_order, {"a04Em0000000001": "a"})] == ["synced", "retry", "retry"]
    # Fewer answers than records: nothing can be paired.
    assert {o.status for o in _pair(batch, in_order[:2], owners)} == {"retry"}


def test_the_daily_limit_stops_the_send_after_reporting_what_was_answered(sf, connection):
    maximum = sf.control("GET", "api-usage").json()["max"]
    # Room for the first Collections request and its confirming query, nothing more.
    sf.control("POST", "api-usage", {"used": maximum - 2})
    items = [usage_item(f"lim:{n:04d}", n) for n in range(450)]
    recorder = Recorder()
    with pytest.raises(SyncStopped) as stopped:
        SalesforceDestination(connection).send(USAGE, items, recorder)

    assert str(stopped.value) == "Salesforce daily API request limit reached: TotalRequests Limit exceeded."
    assert len(recorder.calls) == 1
    outcomes = recorder.outcomes
    assert set(outcomes) == {item.external_id for item in items[:200]}
    assert {outcome.status for outcome in outcomes.values()} == {"synced"}
    stored = {record["External_Id__c"]: record["Id"] for record in sf.records("Usage_Summary__c")
              if record["External_Id__c"].startswith("lim:")}  # the control, not the spent API
    assert stored == {key: outcome.remote_id for key, outcome in outcomes.items()}


def test_a_write_whose_confirmation_hits_the_limit_is_unknown_never_guessed(sf, connection):
    maximum = sf.control("GET", "api-usage").json()["max"]
    sf.control("POST", "api-usage", {"used": maximum - 1})  # the upsert is written, the check query refused
    items = [usage_item(f"lim2:{n:04d}", n) for n in range(250)]
    recorder = Recorder()
    with pytest.raises(SyncStopped):
        SalesforceDestination(connection).send(USAGE, items, recorder)

    # Written, but which answer is whose is not confirmed: the engine reads them back first.
    assert recorder.outcomes == {item.external_id: RecordOutcome(
        item.external_id, "unknown", error="REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
        for item in items[:200]}
    assert len([r for r in sf.records("Usage_Summary__c") if r["External_Id__c"].startswith("lim2:")]) == 200


def test_the_daily_limit_before_a_bulk_job_is_written_reports_nothing(sf, connection):
    maximum = sf.control("GET", "api-usage").json()["max"]
    sf.control("POST", "api-usage", {"used": maximum - 2})  # job created and CSV uploaded; closing refused
    recorder = Recorder()
    with pytest.raises(SyncStopped):
        SalesforceDestination(connection, bulk_threshold=10).send(
            USAGE, [usage_item(f"blim:{n}", n) for n in range(20)], recorder)
    assert recorder.calls == []
    assert list(sf.control("GET", "state").json()["bulk_jobs"].values()) == ["Open"]


def test_a_whole_request_refused_is_retry_never_a_refusal_of_its_records(sf, connection):
    # Keyed by a field that is not an External ID: Salesforce answers 400 for the whole call. That
    # says nothing about any one record, so none of them counts toward dead-lettering.
    mapping = USAGE.model_copy(update={"key": "meter_id"})
    items = [usage_item(f"whole:{n}", n) for n in range(3)]
    recorder = Recorder()
    SalesforceDestination(connection).send(mapping, items, recorder)
    error = "INVALID_FIELD: Field name provided, Meter__c is not an External ID or indexed field for Usage_Summary__c"
    assert recorder.outcomes == {item.external_id: RecordOutcome(item.external_id, "retry", error=error)
                                 for item in items}


def test_a_server_error_after_retries_is_retry(sf, connection):
    sf.arm(kind="status", status=503, method="PATCH", path_contains="/composite/sobjects", count=3)
    items = [usage_item(f"five:{n}", n) for n in range(3)]
    recorder = Recorder()
    SalesforceDestination(connection).send(USAGE, items, recorder)
    assert recorder.outcomes == {item.external_id: RecordOutcome(
        item.external_id, "retry", error="SERVER_UNAVAILABLE: Server temporarily unavailable, please try again later")
        for item in items}
    assert sf.control("GET", "state").json()["faults_pending"] == 0  # the connection tried 3 times


def test_read_back_returns_exactly_the_records_that_exist(sf, connection):
    tricky = "rb:o'neil\\x"  # a quote and a backslash, escaped in the SOQL literal
    items = [usage_item(f"rb:{n:04d}", n) for n in range(250)] + [usage_item(tricky, 5)]
    destination = SalesforceDestination(connection)
    recorder = Recorder()
    destination.send(USAGE, items, recorder)
    ids = {key: outcome.remote_id for key, outcome in recorder.outcomes.items()}

    wanted = [item.external_id for item in items] + ["rb:missing", "rb:it's-not-there"]
    read = destination.read_back(USAGE, wanted)  # more than one IN list
    assert set(read) == {item.external_id for item in items}
    assert {key: record.remote_id for key, record in read.items()} == ids
    assert read["rb:0005"].fields == {
        "External_Id__c": "rb:0005", "Account__c": ACCOUNT_1, "Contract_Line__c": LINE_API, "Meter__c": "api_calls",
        "Period_Start__c": "2026-09-01", "Period_End__c": "2026-09-30", "Quantity__c": Decimal("5.125"),
        "CurrencyIsoCode": "USD", "Status__c": "final"}
    assert read[tricky].fields["External_Id__c"] == tricky
    assert read["rb:0003"].fields["Contract_Line__c"] is None  # never sent, so never set
    assert destination.read_back(USAGE, ["rb:missing"]) == {}
