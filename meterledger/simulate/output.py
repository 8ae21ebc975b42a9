"""The output of ``meterledger simulate``: the JSON document of the scenario format, and a table.

Document (docs/scenarios.md "Output"): four arrays, each element with exactly the fields the
format lists; every number a JSON string. Amounts carry exactly the currency's minor units (from
the warehouse's ``reference.currencies`` seed: USD "1234.50", JPY "1200", KWD "1.235");
quantities are plain decimals without trailing zeros or exponent ("12.5", "100", "0").
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

USAGE_RECORD_FIELDS = ("external_id", "contract", "line", "customer", "meter", "period_start", "period_end",
                       "quantity", "amount", "currency", "pricing_version", "status")
INVOICE_LINE_FIELDS = ("contract", "line", "customer", "kind", "period_start", "period_end", "quantity", "amount",
                       "currency", "invoice_date")
REVENUE_SCHEDULE_FIELDS = ("contract", "line", "accounting_period", "recognized", "recognized_to_date",
                           "billed_to_date", "currency")
JOURNAL_ENTRY_FIELDS = ("external_id", "entry_type", "accounting_period", "posting_period", "date", "subsidiary",
                        "currency", "lines")

_USAGE_SQL = """
    select external_id, contract_key, line_key, customer_key, meter_id, period_start, period_end,
           quantity, amount, currency_code, pricing_version, usage_status
    from marts.fct_usage_records
"""
_SCHEDULE_SQL = """
    select contract_key, line_key, accounting_period, recognized, recognized_to_date, billed_to_date, currency_code
    from marts.fct_revenue_schedule
"""
_ENTRY_SQL = """
    select external_id, entry_type, accounting_period, posting_period, entry_date, subsidiary_code, currency_code
    from marts.fct_journal_entries
"""
_ENTRY_LINE_SQL = """
    select external_id, line_number, account_role, account_number, debit, credit, customer_key, contract_key,
           line_key, memo, currency_code
    from marts.fct_journal_entry_lines
    order by external_id, line_number
"""
_PROPERTY_GAP_SQL = """
    select contract_key, line_key, meter_id, aggregation, property, period_start, period_end, event_count
    from marts.rpt_meter_property_gaps
    order by contract_key, line_key, period_start
"""
_INVOICE_SQL = """
    select contract_key, line_key, customer_key, invoice_line_kind, period_start, period_end,
           quantity, amount, currency_code, invoice_date
    from marts.fct_invoice_lines
"""


class OutputError(RuntimeError):
    """The marts hold something the output format cannot say exactly (an unrounded amount)."""


def format_quantity(value: Decimal | int | None) -> str | None:
    """Plain decimal, no trailing zeros, no exponent: 12.5, 100, 0, 0.516129."""
    if value is None:
        return None
    value = Decimal(value).normalize()
    if value == 0:
        return "0"
    return format(value, "f")


def format_amount(value: Decimal | int | None, minor_units: int, where: str = "") -> str | None:
    """Exactly the currency's minor units: 1234.50, -12.30, 1200 (JPY), 1.235 (KWD).
    The marts round; an amount with more digits than its currency has is an error, not rounded here."""
    if value is None:
        return None
    value = Decimal(value)
    exact = value.quantize(Decimal(1).scaleb(-minor_units))
    if exact != value:
        raise OutputError(f"{where}amount {value} has more decimals than the currency's {minor_units}")
    if exact == 0:
        exact = abs(exact)  # never "-0.00"
    return format(exact, "f")


def _day(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def document(warehouse: Path, scenario=None) -> dict:
    """Read the billing marts of ``warehouse`` into the output document."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        minor = dict(connection.execute("select currency_code, minor_units from reference.currencies").fetchall())
        usage_rows = connection.execute(_USAGE_SQL).fetchall()
        invoice_rows = connection.execute(_INVOICE_SQL).fetchall()
        schedule_rows = connection.execute(_SCHEDULE_SQL).fetchall()
        entry_rows = connection.execute(_ENTRY_SQL).fetchall()
        entry_line_rows = connection.execute(_ENTRY_LINE_SQL).fetchall()
        gap_rows = connection.execute(_PROPERTY_GAP_SQL).fetchall()

    def amount(value, currency, where):
        if currency not in minor:
            raise OutputError(f"{where}currency {currency!r} is not in reference.currencies")
        return format_amount(value, minor[currency], where)

    usage_records = []
    for (external_id, contract, line, customer, meter, start, end, quantity, value, currency, version,
         status) in usage_rows:
        usage_records.append({
            "external_id": external_id, "contract": contract, "line": line, "customer": customer, "meter": meter,
            "period_start": _day(start), "period_end": _day(end), "quantity": format_quantity(quantity),
            "amount": amount(value, currency, f"usage record {external_id}: "), "currency": currency,
            "pricing_version": version, "status": status,
        })
    invoice_lines = []
    for (contract, line, customer, kind, start, end, quantity, value, currency, invoice_date) in invoice_rows:
        invoice_lines.append({
            "contract": contract, "line": line, "customer": customer, "kind": kind,
            "period_start": _day(start), "period_end": _day(end), "quantity": format_quantity(quantity),
            "amount": amount(value, currency, f"invoice line {line} {_day(start)}: "), "currency": currency,
            "invoice_date": _day(invoice_date),
        })
    revenue_schedule = []
    for (contract, line, period, recognized, to_date, billed_to_date, currency) in schedule_rows:
        where = f"revenue schedule {line} {period}: "
        revenue_schedule.append({
            "contract": contract, "line": line, "accounting_period": period,
            "recognized": amount(recognized, currency, where), "recognized_to_date": amount(to_date, currency, where),
            "billed_to_date": amount(billed_to_date, currency, where), "currency": currency,
        })
    entry_lines: dict[str, list[dict]] = {}
    for (external_id, _number, role, account, debit, credit, customer, contract, line, memo,
         currency) in entry_line_rows:
        where = f"journal entry {external_id}: "
        entry_lines.setdefault(external_id, []).append({
            "account_role": role, "account": account, "debit": amount(debit, currency, where),
            "credit": amount(credit, currency, where), "customer": customer, "contract": contract, "line": line,
            "memo": memo,
        })
    journal_entries = [{
        "external_id": external_id, "entry_type": entry_type, "accounting_period": period,
        "posting_period": posting_period, "date": _day(entry_date), "subsidiary": subsidiary, "currency": currency,
        "lines": entry_lines.get(external_id, []),
    } for (external_id, entry_type, period, posting_period, entry_date, subsidiary, currency) in entry_rows]
    usage_order, invoice_order = row_orders(scenario)
    schedule_order, entry_order = revenue_orders(scenario)
    return {
        "usage_records": sorted(usage_records, key=usage_order),
        "invoice_lines": sorted(invoice_lines, key=invoice_order),
        "revenue_schedule": sorted(revenue_schedule, key=schedule_order),
        "journal_entries": sorted(journal_entries, key=entry_order),
        # Extension (docs/scenarios.md): usage billed without the property its meter reads.
        "meter_property_gaps": [{
            "contract": contract, "line": line, "meter": meter, "aggregation": aggregation, "property": prop,
            "period_start": _day(start), "period_end": _day(end), "events": events,
        } for (contract, line, meter, aggregation, prop, start, end, events) in gap_rows],
    }


def property_gap_warnings(doc: dict) -> list[str]:
    """One line per usage line and period whose meter's property no event carries."""
    return [f"warning: {gap['line']} {gap['period_start']} .. {gap['period_end']}: none of its {gap['events']} "
            f"{gap['meter']} events carries {gap['property']!r}, which the meter's {gap['aggregation']} reads "
            "(a top-level quantity or amount, else a key of properties): billed without it"
            for gap in doc.get("meter_property_gaps", [])]


KIND_ORDER = {"recurring_fee": 0, "usage": 1, "minimum_true_up": 2, "prepaid_credit": 3, "credit_applied": 4,
              "one_time": 5}


def row_orders(scenario=None):
    """Sort keys of the arrays: chronological within a contract, lines in the order the scenario
    lists them (alphabetical without a scenario). Consumers should not depend on the order."""
    contracts: dict[str, int] = {}
    lines: dict[str, int] = {}
    if scenario is not None:
        for position, contract in enumerate(scenario.contracts):
            contracts[contract.id] = position
            for line_position, line in enumerate(contract.lines):
                lines[line.id] = line_position

    def contract_key(row: dict) -> tuple:
        return (contracts.get(row["contract"], len(contracts)), row["contract"] or "")

    def line_key(row: dict) -> tuple:
        return (lines.get(row["line"], len(lines)), row["line"] or "")

    def usage_order(row: dict) -> tuple:
        return (*contract_key(row), *line_key(row), row["period_start"] or "", row["external_id"] or "")

    def invoice_order(row: dict) -> tuple:
        return (*contract_key(row), row["period_start"] or "", *line_key(row), KIND_ORDER.get(row["kind"], 9),
                row["period_end"] or "", row["invoice_date"] or "")

    return usage_order, invoice_order


ENTRY_TYPE_ORDER = {"revenue_recognition": 0, "credit_drawdown": 1, "breakage": 2, "unbilled_receivable": 3,
                    "unbilled_receivable_reversal": 4}


def revenue_orders(scenario=None):
    """Sort keys of the revenue arrays: by contract and line as the scenario lists them, then
    period; entries by accounting period, then entry type, then external ID."""
    usage_order, _ = row_orders(scenario)
    order_of = {}
    if scenario is not None:
        for position, contract in enumerate(scenario.contracts):
            order_of[contract.id] = position
            for line_position, line in enumerate(contract.lines):
                order_of[line.id] = line_position

    def schedule_order(row: dict) -> tuple:
        return (order_of.get(row["contract"], len(order_of)), row["contract"] or "",
                order_of.get(row["line"], len(order_of)), row["line"] or "", row["accounting_period"] or "")

    def entry_order(row: dict) -> tuple:
        return (row["accounting_period"] or "", ENTRY_TYPE_ORDER.get(row["entry_type"], 9), row["external_id"] or "")

    return schedule_order, entry_order


# --- the readable table -----------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def render_table(doc: dict, scenario=None) -> str:
    """Plain aligned text, one section per array, invoice totals per currency."""
    out: list[str] = []
    if scenario is not None:
        out += [f"Scenario {scenario.scenario}, as of {scenario.as_of.isoformat()} "
                f"(usage complete through {scenario.complete_through.isoformat()})", ""]
    usage = doc["usage_records"]
    out.append(f"Usage records ({len(usage)})")
    if usage:
        out += _table(["contract", "line", "meter", "period", "quantity", "amount", "currency", "pricing", "status"],
                      [[r["contract"], r["line"], r["meter"], f"{r['period_start']} .. {r['period_end']}",
                        r["quantity"], r["amount"], r["currency"], r["pricing_version"] or "", r["status"] or ""]
                       for r in usage], right={4, 5})
    else:
        out.append("  (none)")
    out.append("")
    lines = doc["invoice_lines"]
    out.append(f"Invoice lines ({len(lines)})")
    if lines:
        out += _table(["contract", "line", "kind", "period", "quantity", "amount", "currency", "invoice date"],
                      [[r["contract"], r["line"], r["kind"], f"{r['period_start']} .. {r['period_end']}",
                        r["quantity"], r["amount"], r["currency"], r["invoice_date"]] for r in lines],
                      right={4, 5})
        totals: dict[str, Decimal] = {}
        places: dict[str, int] = {}
        for r in lines:
            totals[r["currency"]] = totals.get(r["currency"], Decimal(0)) + Decimal(r["amount"])
            places[r["currency"]] = len(r["amount"].partition(".")[2])
        for currency, total in sorted(totals.items()):
            out.append(f"  total invoiced {currency}: {format_amount(total, places[currency])}")
    else:
        out.append("  (none)")
    schedule = doc["revenue_schedule"]
    out += ["", f"Revenue schedule ({len(schedule)})"]
    if schedule:
        out += _table(["contract", "line", "period", "recognized", "to date", "billed to date", "currency"],
                      [[r["contract"], r["line"], r["accounting_period"], r["recognized"], r["recognized_to_date"],
                        r["billed_to_date"], r["currency"]] for r in schedule], right={3, 4, 5})
    else:
        out.append("  (none)")
    entries = doc["journal_entries"]
    out += ["", f"Journal entries ({len(entries)})"]
    if entries:
        rows = []
        for entry in entries:
            posting = entry["posting_period"] or "blocked"
            for line in entry["lines"]:
                rows.append([entry["external_id"], entry["accounting_period"], posting, entry["date"] or "",
                             line["account_role"], line["account"] or "", line["debit"], line["credit"],
                             line["line"] or ""])
        out += _table(["entry", "belongs to", "posts in", "date", "account role", "account", "debit", "credit",
                       "line"], rows, right={6, 7})
    else:
        out.append("  (none)")
    warnings = property_gap_warnings(doc)
    if warnings:
        out += ["", *warnings]
    return "\n".join(out) + "\n"
