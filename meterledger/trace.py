"""`meterledger trace EXTERNAL_ID`: from a record NetSuite holds back to the usage events behind it.

Two kinds of external ID are traced (the IDs the `sync_netsuite__*` models emit):

- a usage record, `<line key>:<meter>:<period start>` (`...:adj<n>` for an adjustment): the row
  of `marts.fct_usage_records` (contract, customer, line, meter, pricing versions, billing
  period, for an adjustment the original period, status, billable quantity, amount) and its
  events from `marts.fct_usage_lineage` (one row per billed event, with its file and row),
  their quantity and amount as loaded (`intermediate.int_usage_events_valid`).
- a journal entry, `je:<contract>:<entry type>:<YYYY-MM>` (`...:v<n>` for a corrected version,
  `...:reversal` for the reversal of a posted one): the entry of `marts.fct_journal_entries`,
  its lines (`marts.fct_journal_entry_lines`), and for each line the usage behind it.

How a journal entry line links to usage records. Revenue is recognized per *obligation*
(docs/decisions.md, "Revenue recognition"); `fct_revenue_schedule` is the sum of a line's
obligations per accounting period, and the entry's line pair for a contract line is that sum. So
the link goes through the obligations, not through a second reading of the dates:

1. a `revenue_recognition` line of a usage line: the line's usage obligations
   (`intermediate.int_recognition_usage`, one per usage line and billing period) that have a row
   in the entry's accounting period; a `credit_drawdown` line of a prepaid credit line: the
   credit line's drawdown obligations (`intermediate.int_recognition_prepaid_credits`, one per
   block, usage line it paid and billing period) in that period. Those obligations exist for
   exactly the billing periods overlapping the month. What each recognized in the month is its
   recognized-to-date minus the month before's; per line they add up to the schedule row and so
   to the entry line's amount.
2. the usage records of each such billing period: every record, the first rating and each
   adjustment, whose *original* billing period it is (`int_usage_records.original_billing_period_key`).
   An adjustment belongs to the obligation of the period whose usage it re-rates, wherever it is
   booked: usage revenue is recognized as of the newest delivery, in the month it was consumed.
3. the events of those records *consumed in the accounting period* (event time inside the
   month): recognition through a month's end rates the usage consumed up to that day, so these
   are the events whose usage the month recognized. The record's other events are counted, not
   listed.

Recurring fees, one-time fees, minimum true-ups, breakage and unbilled receivable entries have
no usage behind them; their lines are listed with the reason.

The warehouse is opened read-only. DuckDB lets one process write a file and no one else open it
meanwhile: when a writer holds it, the file (and its write-ahead log) is copied to a temporary
folder and the copy is read, which stderr says.
"""
from __future__ import annotations

import calendar
import json
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import duckdb

EVENTS_SHOWN = 20  # events listed per table in the text report, unless --all
USAGE_RECORD_FORMAT = "<line key>:<meter>:<period start> (adjustments: ...:adj<n>)"
JOURNAL_ENTRY_FORMAT = "je:<contract>:<entry type>:<YYYY-MM> (corrections: ...:v<n>, ...:reversal)"


class UnknownExternalId(ValueError):
    """The ID is neither a usage record nor a journal entry of this warehouse."""


@dataclass
class Warehouse:
    connection: duckdb.DuckDBPyConnection
    path: Path
    copied: bool = False

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        result = self.connection.execute(sql, params or [])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row)) for row in result.fetchall()]

    def row(self, sql: str, params: list | None = None) -> dict[str, Any] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def has_table(self, schema: str, name: str) -> bool:
        return bool(self.connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name]).fetchone()[0])


def default_warehouse(env_file: Path | None = Path(".env.emulators")) -> Path:
    """Where `meterledger sync` looks: $METERLEDGER_WAREHOUSE (environment, else the env file),
    else warehouse/meterledger.duckdb."""
    from meterledger.sync_command import read_settings

    return Path(read_settings(env_file).get("METERLEDGER_WAREHOUSE", "warehouse/meterledger.duckdb"))


@contextmanager
def open_warehouse(path: Path) -> Iterator[Warehouse]:
    """The warehouse read-only; a copy of it when a writer holds the file."""
    if not path.exists():
        raise ValueError(f"warehouse {path} does not exist: run `make demo` or the daily job first")
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        # IOException "Could not set lock": another process writes; ConnectionException: this
        # process has the file open for writing.
        if isinstance(error, duckdb.IOException) and "lock" not in str(error).lower():
            raise
        with tempfile.TemporaryDirectory(prefix="meterledger-trace-") as folder:
            connection = _open_copy(path, Path(folder), error)
            print(f"meterledger: warehouse {path} is locked by a writer; reading a copy taken at "
                  f"{datetime.now():%H:%M:%S}", file=sys.stderr)
            try:
                yield Warehouse(connection, path, copied=True)
            finally:
                connection.close()
        return
    try:
        yield Warehouse(connection, path)
    finally:
        connection.close()


def _open_copy(path: Path, folder: Path, lock_error: Exception) -> duckdb.DuckDBPyConnection:
    copy = folder / path.name
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():  # the writer's committed work not yet checkpointed into the file
        shutil.copyfile(wal, folder / wal.name)
    try:
        return duckdb.connect(str(copy), read_only=True)
    except duckdb.Error:
        # A log copied in the middle of a write can be torn; the file alone is the last checkpoint.
        (folder / wal.name).unlink(missing_ok=True)
        try:
            return duckdb.connect(str(copy), read_only=True)
        except duckdb.Error as error:
            raise RuntimeError(f"warehouse {path} is locked by a writer ({lock_error}) and a copy of it "
                               f"cannot be read either: {error}") from None


def trace(warehouse: Warehouse, external_id: str) -> dict[str, Any]:
    """The trace of one external ID, as plain data (Decimals, dates)."""
    for schema, table in (("marts", "fct_usage_records"), ("marts", "fct_journal_entries")):
        if not warehouse.has_table(schema, table):
            raise ValueError(f"warehouse {warehouse.path} has no {schema}.{table}: run the pipeline first")
    external_id = external_id.strip()
    if external_id.startswith("je:"):
        found = trace_journal_entry(warehouse, external_id)
    else:
        found = trace_usage_record(warehouse, external_id)
    if found is None:
        raise UnknownExternalId(_unknown_message(warehouse, external_id))
    found["warehouse"] = str(warehouse.path)
    found["read_from_copy"] = warehouse.copied
    found["minor_units"] = _minor_units(warehouse, found)
    return found


def _minor_units(warehouse: Warehouse, found: dict[str, Any]) -> dict[str, int]:
    """The minor units of the currencies the trace shows amounts in (for display)."""
    row = found.get("usage_record") or found.get("journal_entry") or {}
    codes = [code for code in (row.get("currency_code"), row.get("functional_currency_code")) if code]
    if not codes or not warehouse.has_table("reference", "currencies"):
        return {}
    return {found_row["currency_code"]: found_row["minor_units"] for found_row in warehouse.rows(
        "select currency_code, minor_units from reference.currencies "
        f"where currency_code in ({', '.join('?' for _ in codes)})", codes)}


# Usage records

def trace_usage_record(warehouse: Warehouse, external_id: str) -> dict[str, Any] | None:
    record = warehouse.row("select * from marts.fct_usage_records where external_id = ?", [external_id])
    sync = _sync_states(warehouse, [external_id])[external_id]
    if record is None:
        if not sync:
            return None
        return {"kind": "usage_record", "external_id": external_id, "usage_record": None, "sync": sync,
                "note": "in the sync ledger but no longer in marts.fct_usage_records"}
    events = _record_events(warehouse, [external_id])[external_id]
    return {
        "kind": "usage_record",
        "external_id": external_id,
        "usage_record": record,
        "customer_name": _customer_name(warehouse, record["customer_key"]),
        "contract_line": _contract_line(warehouse, record["line_key"]),
        "meter": warehouse.row("select aggregation, property, unit, description from reference.meters "
                               "where meter_id = ?", [record["meter_id"]])
        if warehouse.has_table("reference", "meters") else None,
        "pricing_versions": _pricing_versions(warehouse, record["pricing_version"]),
        "sync_blocked_reason": _blocked_reasons(warehouse, [external_id]).get(external_id),
        "sync": sync,
        "event_count": len(events),
        "events": events,
    }


_EVENT_COLUMNS = """
    lineage.event_id,
    lineage.event_at,
    events.quantity,
    events.amount,
    lineage.file_name,
    lineage.file_row,
    lineage.delivered_on,
    lineage.delivery_cohort,
    lineage.usage_source,
    lineage.billing_segment_key,
    lineage.pricing_version,
    lineage.event_row_key
"""


def _record_events(warehouse: Warehouse, external_ids: list[str], consumed_from: date | None = None,
                   consumed_through: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """The events behind each record, in one pass over the lineage (optionally only those
    consumed between two days)."""
    if not external_ids:
        return {}
    sql = f"""
        select lineage.usage_record_external_id as traced_record, {_EVENT_COLUMNS}
        from marts.fct_usage_lineage as lineage
        left join intermediate.int_usage_events_valid as events
            on lineage.event_row_key = events.event_row_key
        where lineage.usage_record_external_id in ({', '.join('?' for _ in external_ids)})"""
    params: list = list(external_ids)
    if consumed_from is not None:
        sql += " and lineage.event_at >= ? and lineage.event_at < ?"
        params += [consumed_from, consumed_through + timedelta(days=1)]
    events: dict[str, list[dict[str, Any]]] = {external_id: [] for external_id in external_ids}
    for event in warehouse.rows(sql + " order by lineage.event_at, lineage.file_name, lineage.file_row", params):
        events[event.pop("traced_record")].append(event)
    return events


def _contract_line(warehouse: Warehouse, line_key: str) -> dict[str, Any] | None:
    return warehouse.row("""
        select contract_line_id, line_key, line_kind, product_code, meter_id, price_model,
            netsuite_subscription_line_id
        from staging.stg_salesforce__contract_lines
        where line_key = ?
        order by is_deleted, modified_at desc
        limit 1""", [line_key])


def _customer_name(warehouse: Warehouse, customer_key: str) -> str | None:
    found = warehouse.row("select account_name from staging.stg_salesforce__accounts where customer_key = ? "
                          "order by is_deleted limit 1", [customer_key])
    return found["account_name"] if found else None


def _pricing_versions(warehouse: Warehouse, pricing_version: str | None) -> list[dict[str, Any]]:
    keys = [key for key in (pricing_version or "").split(",") if key]
    if not keys or not warehouse.has_table("intermediate", "int_contract_line_versions"):
        return [{"line_version_key": key} for key in keys]
    found = {row["line_version_key"]: row for row in warehouse.rows(f"""
        select line_version_key, version_number, amendment_id, effective_from, effective_to, price_model,
            unit_price, included_quantity
        from intermediate.int_contract_line_versions
        where line_version_key in ({', '.join('?' for _ in keys)})""", keys)}
    return [found.get(key, {"line_version_key": key}) for key in keys]


def _blocked_reasons(warehouse: Warehouse, external_ids: list[str]) -> dict[str, str | None]:
    if not external_ids or not warehouse.has_table("reverse_etl_sync", "sync_netsuite__usage_records"):
        return {}
    return {row["external_id"]: row["sync_blocked_reason"] for row in warehouse.rows(
        "select external_id, sync_blocked_reason from reverse_etl_sync.sync_netsuite__usage_records "
        f"where external_id in ({', '.join('?' for _ in external_ids)})", external_ids)}


def _sync_states(warehouse: Warehouse, external_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each external ID's sync ledger rows (one per destination object)."""
    states: dict[str, list[dict[str, Any]]] = {external_id: [] for external_id in external_ids}
    if not external_ids or not warehouse.has_table("reverse_etl", "sync_ledger"):
        return states
    for row in warehouse.rows(f"""
            select external_id, destination, object_name, status, remote_id, synced_at, first_synced_at, attempts,
                last_error, run_id
            from reverse_etl.sync_ledger
            where external_id in ({', '.join('?' for _ in external_ids)})
            order by destination, object_name""", external_ids):
        states[row.pop("external_id")].append(row)
    return states


# Journal entries

def trace_journal_entry(warehouse: Warehouse, external_id: str) -> dict[str, Any] | None:
    entry = warehouse.row("select * from marts.fct_journal_entries where external_id = ?", [external_id])
    sync = _sync_states(warehouse, [external_id])[external_id]
    if entry is None:
        if not sync:
            return None
        return {"kind": "journal_entry", "external_id": external_id, "journal_entry": None, "sync": sync,
                "note": "in the sync ledger but no longer in marts.fct_journal_entries"}
    lines = warehouse.rows("""
        select line_number, account_role, account_number, netsuite_account_id, debit, credit,
            functional_debit, functional_credit, line_key, credit_block_id, memo
        from marts.fct_journal_entry_lines
        where external_id = ?
        order by line_number""", [external_id])
    month_start, month_end = _month(entry["accounting_period"])
    line_keys = list(dict.fromkeys(line["line_key"] for line in lines if line["line_key"]))
    return {
        "kind": "journal_entry",
        "external_id": external_id,
        "journal_entry": entry,
        "customer_name": _customer_name(warehouse, entry["customer_key"]),
        "accounting_period_start": month_start,
        "accounting_period_end": month_end,
        "sync": sync,
        "lines": lines,
        "usage": [_usage_behind_line(warehouse, entry, line_key, month_start, month_end) for line_key in line_keys],
    }


def _month(accounting_period: str) -> tuple[date, date]:
    year, month = (int(part) for part in accounting_period.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _usage_behind_line(warehouse: Warehouse, entry: dict, line_key: str, month_start: date,
                       month_end: date) -> dict[str, Any]:
    schedule = warehouse.row("""
        select line_kind, revenue_stream, recognized, recognized_to_date, billed, billed_to_date,
            deferred_balance, schedule_status
        from marts.fct_revenue_schedule
        where line_key = ? and accounting_period = ?""", [line_key, entry["accounting_period"]])
    line = _contract_line(warehouse, line_key)
    line_kind = (schedule or {}).get("line_kind") or (line or {}).get("line_kind")
    behind: dict[str, Any] = {"line_key": line_key, "line_kind": line_kind, "revenue_schedule": schedule,
                              "billing_periods": [], "no_usage_reason": None}
    if entry["entry_type"] == "revenue_recognition" and line_kind == "usage":
        obligations = _obligations(warehouse, "int_recognition_usage", "usage", "contract_line_id", line, month_start)
    elif entry["entry_type"] == "credit_drawdown" and line_kind == "prepaid_credit":
        obligations = _obligations(warehouse, "int_recognition_prepaid_credits", "credit_drawdown", "credit_line_id",
                                   line, month_start)
    else:
        behind["no_usage_reason"] = (f"{entry['entry_type']} entries"
                                     + (f" of {line_kind} lines" if line_kind else "")
                                     + " are not recognized from usage records")
        return behind
    for obligation in obligations:
        records = warehouse.rows("""
            select records.*
            from marts.fct_usage_records as records
            inner join intermediate.int_usage_records as rated
                on records.external_id = rated.external_id
            where rated.contract_line_id = ? and rated.original_billing_period_key = ?
            order by records.adjustment_sequence""", [obligation["usage_line_id"], obligation["billing_period_key"]])
        obligation["usage_records"] = records
        behind["billing_periods"].append(obligation)
    # The records' events, ledger rows and sync holds: one query each for the whole line.
    records = [record for obligation in obligations for record in obligation["usage_records"]]
    external_ids = [record["external_id"] for record in records]
    events = _record_events(warehouse, external_ids, month_start, month_end)
    states = _sync_states(warehouse, external_ids)
    reasons = _blocked_reasons(warehouse, external_ids)
    for record in records:
        record["events_consumed_in_period"] = events[record["external_id"]]
        record["sync"] = states[record["external_id"]]
        record["sync_blocked_reason"] = reasons.get(record["external_id"])
    return behind


def _obligations(warehouse: Warehouse, model: str, kind: str, line_column: str, line: dict | None,
                 month_start: date) -> list[dict[str, Any]]:
    """Per usage line and billing period: what its obligations recognized in the month."""
    if line is None or not warehouse.has_table("intermediate", model):
        return []
    return warehouse.rows(f"""
        with schedule as (
            select
                usage_line_id,
                billing_period_key,
                accounting_period_start,
                obligation_total,
                recognized_to_date,
                recognized_to_date - coalesce(lag(recognized_to_date) over (
                    partition by obligation_key order by accounting_period_start), 0) as recognized
            from intermediate.{model}
            where obligation_kind = ? and {line_column} = ?
        )
        select
            usage_lines.line_key as usage_line_key,
            schedule.usage_line_id,
            schedule.billing_period_key,
            periods.period_start,
            periods.period_end,
            sum(schedule.obligation_total) as obligation_total,
            sum(schedule.recognized_to_date) as recognized_to_date,
            sum(schedule.recognized) as recognized
        from schedule
        left join intermediate.int_billing_periods as periods
            on schedule.billing_period_key = periods.billing_period_key
        left join staging.stg_salesforce__contract_lines as usage_lines
            on schedule.usage_line_id = usage_lines.contract_line_id
        where schedule.accounting_period_start = ?
        group by all
        order by usage_lines.line_key, periods.period_start""", [kind, line["contract_line_id"], month_start])


def _unknown_message(warehouse: Warehouse, external_id: str) -> str:
    message = (f"unknown external ID {external_id!r} in {warehouse.path}: trace takes a NetSuite usage record ID, "
               f"{USAGE_RECORD_FORMAT}, or a journal entry ID, {JOURNAL_ENTRY_FORMAT}")
    example = warehouse.row("""
        select
            (select min(external_id) from marts.fct_usage_records) as usage_record,
            (select min(external_id) from marts.fct_journal_entries) as journal_entry""")
    if example and (example["usage_record"] or example["journal_entry"]):
        message += (f"; e.g. {example['usage_record'] or '(no usage records)'} or "
                    f"{example['journal_entry'] or '(no journal entries)'}")
    parts = external_id.split(":")
    if not external_id.startswith("je:") and parts[0]:
        try:
            around = date.fromisoformat(parts[2]) if len(parts) > 2 else None
        except ValueError:
            around = None
        # The line's records nearest the date asked for (its first ones when none was given).
        near = [row["external_id"] for row in warehouse.rows("""
            select external_id from marts.fct_usage_records
            where line_key = ?
            order by abs(date_diff('day', original_period_start, coalesce(?, original_period_start))),
                original_period_start, adjustment_sequence
            limit 4""", [parts[0], around])]
        if near:
            message += f"; {parts[0]} has usage records such as {', '.join(sorted(near))}"
    return message


# Output

def to_json(found: dict[str, Any]) -> str:
    return json.dumps(_jsonable(found), indent=2)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def render_text(found: dict[str, Any], *, all_events: bool = False) -> str:
    limit = None if all_events else EVENTS_SHOWN
    if found["kind"] == "usage_record":
        lines = _render_usage_record(found, limit)
    else:
        lines = _render_journal_entry(found, limit)
    return "\n".join(lines) + "\n"


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _money(value: Decimal | None, minor_units: int | None, currency: str | None = None) -> str:
    """The amount to its currency's minor unit when it is stored rounded to it (it is), else in full."""
    if value is None:
        return ""
    text = _number(value)
    if minor_units is not None:
        shown = value.quantize(Decimal(1).scaleb(-minor_units))
        if shown == value:
            text = format(shown, "f")
    return f"{text} {currency}" if currency else text


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
    return "" if value is None else str(value)


def _period(start: date | None, end: date | None) -> str:
    return f"{start}..{end}" if start else "?"


def _fields(pairs: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max(len(name) for name, _ in pairs)
    return [f"{indent}{name.ljust(width)}  {value}" for name, value in pairs if value not in (None, "")]


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in enumerate(headers)]
    def line(cells: list[str]) -> str:
        return (indent + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths))).rstrip()
    return [line(headers)] + [line(row) for row in rows]


def _sync_lines(sync: list[dict], blocked_reason: str | None = None) -> list[str]:
    """One line per sync ledger row (a usage record's ID is also its Salesforce usage summary's)."""
    lines = [f"{row['destination']} {row['object_name']}: {row['status']}"
             + (f", remote id {row['remote_id']}" if row["remote_id"] else "")
             + f", at {_when(row['synced_at'])}"
             # The ledger's attempts count the destination's refusals of the current content.
             + (f", refused {row['attempts']} time{'s' if row['attempts'] != 1 else ''}" if row["attempts"] else "")
             + (f", last error: {row['last_error']}" if row["last_error"] else "")
             for row in sync] or ["not in the sync ledger"]
    if blocked_reason:
        lines.append(f"held back by the sync: {blocked_reason}")
    return lines


def _sync_fields(sync: list[dict], blocked_reason: str | None = None) -> list[tuple[str, str]]:
    lines = _sync_lines(sync, blocked_reason)
    return [("sync", lines[0])] + [("", line) for line in lines[1:]]


def _render_events(events: list[dict], limit: int | None, indent: str = "  ") -> list[str]:
    if not events:
        return []
    with_amount = any(event["amount"] is not None for event in events)
    headers = ["event_id", "event time (UTC)", "quantity"] + (["amount"] if with_amount else []) + \
        ["file_name:file_row", "delivered_on"]
    shown = events if limit is None else events[:limit]
    rows = [[event["event_id"], _when(event["event_at"]), _number(event["quantity"])]
            + ([_number(event["amount"])] if with_amount else [])
            + [f"{event['file_name']}:{event['file_row']}", _when(event["delivered_on"])] for event in shown]
    lines = _table(headers, rows, indent)
    if len(events) > len(shown):
        lines.append(f"{indent}... {len(events) - len(shown)} more (--all lists them)")
    return lines


def _with_details(name: str, details: str) -> str:
    return f"{name} ({details})" if details else name


def _version_text(version: dict) -> str:
    details = []
    if version.get("price_model"):
        details.append(version["price_model"])
    if version.get("unit_price") is not None:
        details.append(f"unit price {_number(version['unit_price'])}")
    if version.get("included_quantity") is not None:
        details.append(f"included {_number(version['included_quantity'])}")
    if version.get("effective_from"):
        details.append(f"effective {_period(version['effective_from'], version['effective_to'])}")
    if version.get("amendment_id"):
        details.append(f"amendment {version['amendment_id']}")
    return _with_details(version["line_version_key"], ", ".join(details))


def _render_usage_record(found: dict, limit: int | None) -> list[str]:
    record = found["usage_record"]
    out = [f"usage record {found['external_id']}"]
    if record is None:
        return out + [f"  {found['note']}"] + _fields(_sync_fields(found["sync"]))
    line = found["contract_line"] or {}
    meter = found["meter"] or {}
    versions = found["pricing_versions"]
    adjustment = record["adjustment_sequence"] > 0
    contract = record["contract_key"]
    if record["netsuite_subscription_id"]:
        contract += f" (NetSuite subscription {record['netsuite_subscription_id']})"
    line_details = [line.get("line_kind"), line.get("price_model")]
    if record["netsuite_subscription_line_id"]:
        line_details.append(f"NetSuite subscription line {record['netsuite_subscription_line_id']}")
    meter_details = "; ".join(filter(None, [
        " of ".join(filter(None, [meter.get("aggregation"), meter.get("property")])),
        meter.get("unit") and f"unit: {meter['unit']}"]))
    pairs = [
        ("contract", contract),
        ("customer", " ".join(filter(None, [record["customer_key"], found["customer_name"]]))),
        ("contract line", _with_details(record["line_key"], ", ".join(filter(None, line_details)))),
        ("meter", _with_details(record["meter_id"], meter_details)),
        ("pricing version", _version_text(versions[0]) if versions else record["pricing_version"]),
    ] + [("", _version_text(version)) for version in versions[1:]] + [
        ("billing period", _period(record["period_start"], record["period_end"])
         + (" (the adjustment is booked in it)" if adjustment else "")),
        ("original period", f"{_period(record['original_period_start'], record['original_period_end'])} "
                            f"(adjustment {record['adjustment_sequence']}: {record['adjustment_reason']})"
         if adjustment else ""),
        ("status", record["usage_status"]),
        ("quantity", _number(record["quantity"]) + (" (billable: the change of the period's billable quantity)"
                                                    if adjustment else " (billable, after included quantities)")),
        ("amount", _money(record["amount"], found["minor_units"].get(record["currency_code"]),
                          record["currency_code"])),
    ] + _sync_fields(found["sync"], found["sync_blocked_reason"])
    out += _fields(pairs)
    delivered = sorted({event["delivered_on"] for event in found["events"] if event["delivered_on"]})
    out.append(f"events: {found['event_count']}"
               + (f" (delivered {_period(delivered[0], delivered[-1]) if len(delivered) > 1 else delivered[0]})"
                  if delivered else ""))
    out += _render_events(found["events"], limit)
    return out


def _render_journal_entry(found: dict, limit: int | None) -> list[str]:
    entry = found["journal_entry"]
    out = [f"journal entry {found['external_id']}"]
    if entry is None:
        return out + [f"  {found['note']}"] + _fields(_sync_fields(found["sync"]))
    currency = entry["currency_code"]

    def money(value: Decimal | None, code: str | None = None) -> str:
        return _money(value, found["minor_units"].get(code or currency), code)

    functional = ""
    if entry["functional_currency_code"] and entry["functional_currency_code"] != currency:
        functional = (f" (functional {money(entry['functional_total_debit'], entry['functional_currency_code'])}"
                      f" at {_number(entry['exchange_rate'])})")
    out += _fields([
        ("contract", entry["contract_key"]),
        ("customer", " ".join(filter(None, [entry["customer_key"], found["customer_name"]]))),
        ("entry type", entry["entry_type"]),
        ("accounting period", f"{entry['accounting_period']} ({entry['accounting_period_status']})"),
        ("posting", f"{entry['posting_status']} in {entry['posting_period'] or '?'}, "
                    f"dated {entry['entry_date'] or '?'}"),
        ("status", entry["entry_status"] + (f", reverses {entry['reverses_external_id']}"
                                            if entry["reverses_external_id"] else "")),
        ("total", money(entry["total_debit"], currency) + functional),
        ("memo", entry["memo"]),
    ] + _sync_fields(found["sync"]))
    out.append(f"lines: {len(found['lines'])}")
    out += _table(["#", "account role", "account", "debit", "credit", "line_key"], [
        [str(line["line_number"]), line["account_role"], line["account_number"] or "",
         money(line["debit"]) if line["debit"] else "", money(line["credit"]) if line["credit"] else "",
         line["line_key"] or ""] for line in found["lines"]])
    if not found["usage"]:
        out += ["", f"no usage records: {entry['entry_type']} entries are per contract, "
                    "not recognized from usage records"]
    for behind in found["usage"]:
        out.append("")
        schedule = behind["revenue_schedule"]
        heading = f"line {behind['line_key']} ({behind['line_kind'] or '?'})"
        if schedule:
            heading += (f": revenue schedule {entry['accounting_period']} recognized "
                        f"{money(schedule['recognized'], currency)}, to date {money(schedule['recognized_to_date'])}, "
                        f"{schedule['schedule_status']}")
        out.append(heading)
        if behind["no_usage_reason"]:
            out.append(f"  no usage records: {behind['no_usage_reason']}")
            continue
        periods = behind["billing_periods"]
        if not periods:
            out.append("  no billing period of it recognizes revenue in this accounting period")
        else:
            out.append(f"  {len(periods)} billing period{'s' if len(periods) != 1 else ''} behind this entry's "
                       f"lines recognized {money(sum(period['recognized'] for period in periods), currency)} "
                       f"in {entry['accounting_period']}:")
        for period in behind["billing_periods"]:
            out.append(f"  billing period {_period(period['period_start'], period['period_end'])} of "
                       f"{period['usage_line_key']}: recognized in {entry['accounting_period']} "
                       f"{money(period['recognized'], currency)} (to date {money(period['recognized_to_date'])} "
                       f"of {money(period['obligation_total'])})")
            for record in period["usage_records"]:
                events = record["events_consumed_in_period"]
                out.append(f"    usage record {record['external_id']}: {record['usage_status']}, "
                           f"quantity {_number(record['quantity'])}, amount {money(record['amount'], currency)}, "
                           f"pricing {record['pricing_version']}; sync: "
                           f"{'; '.join(_sync_lines(record['sync'], record['sync_blocked_reason']))}")
                out.append(f"      events: {record['event_count']}, {len(events)} of them consumed in "
                           f"{entry['accounting_period']}")
                out += _render_events(events, limit, indent="      ")
    return out


def run_trace_command(external_id: str, *, warehouse: Path | None, as_json: bool, all_events: bool) -> str:
    with open_warehouse(warehouse or default_warehouse()) as opened:
        found = trace(opened, external_id)
    return to_json(found) + "\n" if as_json else render_text(found, all_events=all_events)
