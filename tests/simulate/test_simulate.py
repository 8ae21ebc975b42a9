"""`meterledger simulate` end to end: a small scenario through the CLI (emulators, dlt, dbt on a
temporary warehouse) with --json, amounts checked to the cent; and the output formatting."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from meterledger.simulate.output import (
    INVOICE_LINE_FIELDS,
    JOURNAL_ENTRY_FIELDS,
    REVENUE_SCHEDULE_FIELDS,
    USAGE_RECORD_FIELDS,
    OutputError,
    format_amount,
    format_quantity,
    property_gap_warnings,
    render_table,
)
from meterledger.simulate.scenario import load_scenario

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SCENARIO = HERE / "small_usage_and_fee.yml"


def _usage(period_start: str, period_end: str, quantity: str, amount: str, status: str) -> dict:
    return {"external_id": f"K1-api:api_calls:{period_start}", "contract": "K1", "line": "K1-api",
            "customer": "C1", "meter": "api_calls", "period_start": period_start, "period_end": period_end,
            "quantity": quantity, "amount": amount, "currency": "USD", "pricing_version": "K1-api:v1",
            "status": status}


def _invoice(line: str, kind: str, start: str, end: str, quantity: str, amount: str, invoice_date: str) -> dict:
    return {"contract": "K1", "line": line, "customer": "C1", "kind": kind, "period_start": start,
            "period_end": end, "quantity": quantity, "amount": amount, "currency": "USD",
            "invoice_date": invoice_date}


EXPECTED_USAGE = [
    _usage("2026-01-01", "2026-01-31", "20.5", "2.67", "final"),
    _usage("2026-02-01", "2026-02-28", "0", "0.00", "final"),
    _usage("2026-03-01", "2026-03-31", "0", "0.00", "provisional"),
]
EXPECTED_INVOICE_LINES = [
    _invoice("K1-fee", "recurring_fee", "2026-01-01", "2026-01-31", "1", "100.00", "2026-01-01"),
    _invoice("K1-api", "usage", "2026-01-01", "2026-01-31", "20.5", "2.67", "2026-02-01"),
    _invoice("K1-fee", "recurring_fee", "2026-02-01", "2026-02-28", "1", "100.00", "2026-02-01"),
    _invoice("K1-api", "usage", "2026-02-01", "2026-02-28", "0", "0.00", "2026-03-01"),
    _invoice("K1-fee", "recurring_fee", "2026-03-01", "2026-03-31", "1", "100.00", "2026-03-01"),
    _invoice("K1-api", "usage", "2026-03-01", "2026-03-31", "0", "0.00", "2026-04-01"),
]


def _schedule(line: str, period: str, recognized: str, to_date: str, billed_to_date: str) -> dict:
    return {"contract": "K1", "line": line, "accounting_period": period, "recognized": recognized,
            "recognized_to_date": to_date, "billed_to_date": billed_to_date, "currency": "USD"}


# Worked in small_usage_and_fee.yml: the fee ratable in its own month, usage as consumed in
# January (2.67, invoiced on Feb 1), the usage invoice of March billed on Apr 1.
EXPECTED_REVENUE_SCHEDULE = [
    _schedule("K1-fee", "2026-01", "100.00", "100.00", "100.00"),
    _schedule("K1-fee", "2026-02", "100.00", "200.00", "200.00"),
    _schedule("K1-fee", "2026-03", "100.00", "300.00", "300.00"),
    _schedule("K1-api", "2026-01", "2.67", "2.67", "0.00"),
    _schedule("K1-api", "2026-02", "0.00", "2.67", "2.67"),
    _schedule("K1-api", "2026-03", "0.00", "2.67", "2.67"),
    _schedule("K1-api", "2026-04", "0.00", "2.67", "2.67"),
]
# January and February are complete on Mar 1 (usage complete through Feb 28): revenue of each;
# January's usage is recognized before it is billed, so 2.67 of unbilled receivable at Jan 31,
# reversed on Feb 1; at Feb 28 everything recognized is billed. March has not ended: no entry.
EXPECTED_ENTRIES = [
    ("je:K1:revenue_recognition:2026-01", "2026-01", "2026-01-31",
     [("deferred_revenue", "2400", "2.67", "0.00", "K1-api"), ("revenue_usage", "4100", "0.00", "2.67", "K1-api"),
      ("deferred_revenue", "2400", "100.00", "0.00", "K1-fee"),
      ("revenue_subscription", "4000", "0.00", "100.00", "K1-fee")]),
    ("je:K1:unbilled_receivable:2026-01", "2026-01", "2026-01-31",
     [("unbilled_receivable", "1210", "2.67", "0.00", None), ("deferred_revenue", "2400", "0.00", "2.67", None)]),
    ("je:K1:revenue_recognition:2026-02", "2026-02", "2026-02-28",
     [("deferred_revenue", "2400", "100.00", "0.00", "K1-fee"),
      ("revenue_subscription", "4000", "0.00", "100.00", "K1-fee")]),
    ("je:K1:unbilled_receivable_reversal:2026-02", "2026-02", "2026-02-01",
     [("deferred_revenue", "2400", "2.67", "0.00", None), ("unbilled_receivable", "1210", "0.00", "2.67", None)]),
]


@pytest.fixture(scope="module")
def cli_run():
    """One run of the CLI, --json --keep: its output, stderr and the folder it kept."""
    result = subprocess.run([sys.executable, "-m", "meterledger", "simulate", str(SCENARIO), "--json", "--keep"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    kept = [line.split(": ", 1)[1] for line in result.stderr.splitlines()
            if line.startswith("kept the simulation's folder: ")]
    yield result, Path(kept[0]) if kept else None
    if kept:
        shutil.rmtree(kept[0], ignore_errors=True)


def test_simulate_json_bills_the_scenario_to_the_cent(cli_run) -> None:
    result, _ = cli_run
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    # The format's four arrays, then the extension: no meter property missing here.
    assert list(document) == ["usage_records", "invoice_lines", "revenue_schedule", "journal_entries",
                              "meter_property_gaps"]
    assert document["meter_property_gaps"] == [] and "warning:" not in result.stderr
    assert document["usage_records"] == EXPECTED_USAGE
    assert document["invoice_lines"] == EXPECTED_INVOICE_LINES
    assert document["revenue_schedule"] == EXPECTED_REVENUE_SCHEDULE
    entries = [(entry["external_id"], entry["accounting_period"], entry["date"],
                [(line["account_role"], line["account"], line["debit"], line["credit"], line["line"])
                 for line in entry["lines"]]) for entry in document["journal_entries"]]
    assert entries == EXPECTED_ENTRIES
    for entry in document["journal_entries"]:
        assert tuple(entry) == JOURNAL_ENTRY_FIELDS
        assert (entry["posting_period"], entry["subsidiary"], entry["currency"]) == (entry["accounting_period"], "US", "USD")
        assert sum(Decimal(line["debit"]) for line in entry["lines"]) == sum(Decimal(line["credit"]) for line in entry["lines"])
        for line in entry["lines"]:
            assert (line["customer"], line["contract"]) == ("C1", "K1")
    for row in document["revenue_schedule"]:
        assert tuple(row) == REVENUE_SCHEDULE_FIELDS
    for row in document["usage_records"]:
        assert tuple(row) == USAGE_RECORD_FIELDS
    for row in document["invoice_lines"]:
        assert tuple(row) == INVOICE_LINE_FIELDS
    total = sum(Decimal(row["amount"]) for row in document["invoice_lines"])
    assert total == Decimal("302.67")


def test_keep_leaves_the_warehouse_and_names_its_folder(cli_run) -> None:
    result, kept = cli_run
    assert result.returncode == 0, result.stderr
    assert kept is not None and (kept / "warehouse.duckdb").is_file()
    assert (kept / "salesforce" / "seed.json").is_file() and (kept / "netsuite" / "seed.json").is_file()
    assert sorted(p.name for p in (kept / "usage" / "scenario").iterdir()) == [
        "2026-01-05", "2026-01-21", "2026-02-10", "_watermark.json"]
    watermark = json.loads((kept / "usage" / "scenario" / "_watermark.json").read_text())
    assert watermark == {"complete_through": "2026-03-01T00:00:00Z", "source": "scenario"}
    events = (kept / "usage" / "scenario" / "2026-01-21" / "events-1.jsonl").read_text().splitlines()
    assert [json.loads(line)["timestamp"] for line in events] == ["2026-01-21T00:30:00Z"] * 2


def test_the_table_groups_rows_by_section() -> None:
    document = {"usage_records": EXPECTED_USAGE, "invoice_lines": EXPECTED_INVOICE_LINES,
                "revenue_schedule": EXPECTED_REVENUE_SCHEDULE, "journal_entries": []}
    text = render_table(document, load_scenario(SCENARIO))
    assert text.startswith("Scenario small-usage-and-fee, as of 2026-03-01 (usage complete through 2026-02-28)")
    assert "Usage records (3)" in text and "Invoice lines (6)" in text
    assert "  total invoiced USD: 302.67" in text
    usage_row = next(line for line in text.splitlines() if line.startswith("K1        K1-api  api_calls"))
    assert usage_row.split() == ["K1", "K1-api", "api_calls", "2026-01-01", "..", "2026-01-31", "20.5", "2.67",
                                 "USD", "K1-api:v1", "final"]
    assert "Revenue schedule (7)" in text and "Journal entries (0)" in text
    schedule_row = next(line for line in text.splitlines() if line.startswith("K1        K1-api  2026-01"))
    assert schedule_row.split() == ["K1", "K1-api", "2026-01", "2.67", "2.67", "0.00", "USD"]


def test_a_meter_property_no_event_carries_is_a_warning_under_the_tables() -> None:
    gap = {"contract": "K1", "line": "K1-users", "meter": "active_users", "aggregation": "unique_count",
           "property": "user_id", "period_start": "2026-01-01", "period_end": "2026-01-31", "events": 2}
    document = {"usage_records": [], "invoice_lines": [], "revenue_schedule": [], "journal_entries": [],
                "meter_property_gaps": [gap]}
    warning = ("warning: K1-users 2026-01-01 .. 2026-01-31: none of its 2 active_users events carries 'user_id', "
               "which the meter's unique_count reads (a top-level quantity or amount, else a key of properties): "
               "billed without it")
    assert property_gap_warnings(document) == [warning]
    assert render_table(document).rstrip("\n").endswith("\n\n" + warning)
    assert property_gap_warnings({**document, "meter_property_gaps": []}) == []


@pytest.mark.parametrize(("value", "minor", "text"), [
    (Decimal("1234.500000000"), 2, "1234.50"), (Decimal("-12.3"), 2, "-12.30"), (Decimal("1200.000000000"), 0, "1200"),
    (Decimal("1.235000000"), 3, "1.235"), (Decimal("-0.000000000"), 2, "0.00"), (Decimal(0), 0, "0"),
])
def test_amounts_carry_exactly_the_currency_s_minor_units(value, minor, text) -> None:
    assert format_amount(value, minor) == text


def test_an_unrounded_amount_is_an_error_not_rounded_here() -> None:
    with pytest.raises(OutputError, match="more decimals than the currency's 2"):
        format_amount(Decimal("2.665"), 2)


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("12.500000000"), "12.5"), (Decimal("100.000000000"), "100"), (Decimal("0E-9"), "0"),
    (Decimal("0.516129000"), "0.516129"), (Decimal("-3.000000000"), "-3"), (Decimal("1E+3"), "1000"),
])
def test_quantities_are_plain_decimals(value, text) -> None:
    assert format_quantity(value) == text
