"""Revenue recognition and journal entries on the small demo run (issue 6), checked against
independent sources: the invoice lines, NetSuite's accounting periods read through SuiteQL, and
arithmetic redone here in Python decimals (never the marts' own totals)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb

from meterledger.connections.netsuite import netsuite_connection_from


def _query(run, sql):
    with duckdb.connect(str(run.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_journal_entry_balances_to_the_cent_in_both_currencies(pipeline_run):
    totals = defaultdict(lambda: [Decimal(0)] * 4)
    for external_id, debit, credit, functional_debit, functional_credit in _query(pipeline_run, """
            select external_id, debit, credit, functional_debit, functional_credit
            from marts.fct_journal_entry_lines"""):
        row = totals[external_id]
        row[0] += debit
        row[1] += credit
        row[2] += functional_debit
        row[3] += functional_credit
    assert len(totals) > 100
    unbalanced = {key: row for key, row in totals.items() if row[0] != row[1] or row[2] != row[3]}
    assert unbalanced == {}
    assert all(row[0] > 0 for row in totals.values())


def test_no_entry_posts_into_a_period_netsuite_has_closed(pipeline_run):
    netsuite = netsuite_connection_from(pipeline_run.stack.environment())
    periods = list(netsuite.suiteql(
        "select id, startdate, closed, alllocked from accountingperiod where isquarter = 'F' and isyear = 'F'"))
    open_months = sorted(_month(row["startdate"]) for row in periods
                         if row["closed"] == "F" and row["alllocked"] == "F")
    assert open_months, "the demo keeps its last months open"
    entries = _query(pipeline_run, """
        select external_id, accounting_period, posting_period, entry_date, memo
        from marts.fct_journal_entries""")
    late = 0
    for external_id, accounting_period, posting_period, entry_date, memo in entries:
        expected = next(month for month in open_months if month >= accounting_period)
        assert posting_period == expected, external_id
        assert entry_date.strftime("%Y-%m") == posting_period, external_id
        if posting_period != accounting_period:
            late += 1
            assert entry_date == date.fromisoformat(f"{posting_period}-01"), external_id
            assert f"belongs to {accounting_period}" in memo and f"posted in {posting_period}" in memo
    assert late > 0, "the demo closes its first months: late usage revenue must post after them"


def _month(netsuite_date: str) -> str:
    """YYYY-MM of a SuiteQL date (the emulator answers YYYY-MM-DD or M/D/YYYY)."""
    if "/" in netsuite_date:
        month, _day, year = netsuite_date.split("/")
        return f"{year}-{int(month):02d}"
    return netsuite_date[:7]


def test_billed_to_date_is_the_invoice_lines_and_fees_recognize_exactly_what_was_billed(pipeline_run):
    # What was billed per line: the expected invoice lines, except the months NetSuite invoiced
    # the line (read back from its invoices), where NetSuite's lines count.
    invoiced = defaultdict(Decimal)
    for line_key, amount in _query(pipeline_run, """
            with expected as (
                select line_key, date_trunc('month', invoice_date) as month, sum(amount) as amount
                from marts.fct_invoice_lines
                where invoice_line_kind in ('recurring_fee', 'one_time', 'minimum_true_up')
                group by 1, 2
            ),
            netsuite as (
                select contract_lines.line_key, date_trunc('month', invoices.invoice_date) as month,
                    sum(invoice_lines.amount) as amount
                from staging.stg_netsuite__invoice_lines as invoice_lines
                join staging.stg_netsuite__invoices as invoices using (invoice_id)
                join staging.stg_netsuite__subscription_lines as subscription_lines
                    on invoice_lines.subscription_line_id = subscription_lines.subscription_line_id
                join staging.stg_salesforce__contract_lines as contract_lines
                    on contract_lines.line_key = subscription_lines.line_key
                where contract_lines.line_kind in ('recurring_fee', 'one_time', 'minimum_commitment')
                group by 1, 2
            )
            select coalesce(netsuite.line_key, expected.line_key), coalesce(netsuite.amount, expected.amount)
            from expected full outer join netsuite using (line_key, month)"""):
        invoiced[line_key] += amount
    # What the contract bills: revenue follows the contract's terms, whatever NetSuite invoiced
    # (a difference stays in deferred revenue or unbilled receivable).
    contracted = defaultdict(Decimal)
    for line_key, amount in _query(pipeline_run, """
            select line_key, amount from marts.fct_invoice_lines
            where invoice_line_kind in ('recurring_fee', 'one_time', 'minimum_true_up')"""):
        contracted[line_key] += amount
    schedules = defaultdict(list)
    for line_key, period, recognized, recognized_to_date, billed_to_date in _query(pipeline_run, """
            select line_key, accounting_period, recognized, recognized_to_date, billed_to_date
            from marts.fct_revenue_schedule
            where line_kind in ('recurring_fee', 'one_time', 'minimum_commitment')
            order by line_key, accounting_period"""):
        schedules[line_key].append((period, recognized, recognized_to_date, billed_to_date))
    assert len(schedules) > 10
    for line_key, rows in schedules.items():
        running = Decimal(0)
        for _period, recognized, recognized_to_date, _billed in rows:
            running += recognized
            assert running == recognized_to_date, line_key
        # The last row: everything invoiced for the line is billed, and a fee's schedule ends
        # after its last service day, so it has recognized exactly what the contract bills.
        assert rows[-1][3] == invoiced[line_key], line_key
        assert rows[-1][2] == contracted[line_key], line_key
    # NetSuite's bill runs invoiced some of these lines: the read-back is in the schedules.
    [(billed_by_netsuite,)] = _query(pipeline_run, """
        select count(*) from marts.fct_revenue_schedule
        where is_billed_by_netsuite and line_kind in ('recurring_fee', 'one_time', 'minimum_commitment')""")
    assert billed_by_netsuite > 0


def test_the_deferred_revenue_rollforward_closes_every_period(pipeline_run):
    rows = _query(pipeline_run, """
        select subsidiary_code, currency_code, deferred_account_role, accounting_period,
               opening_balance, billed, recognized, closing_balance
        from marts.rpt_deferred_revenue_rollforward
        order by 1, 2, 3, 4""")
    assert rows
    previous: dict[tuple, Decimal] = {}
    for subsidiary, currency, role, _period, opening, billed, recognized, closing in rows:
        book = (subsidiary, currency, role)
        assert opening == previous.get(book, Decimal(0))
        assert opening + billed - recognized == closing
        previous[book] = closing
    # Each book's closing balance is what the schedule holds: billed to date − recognized to date.
    expected = defaultdict(Decimal)
    for subsidiary, currency, role, balance in _query(pipeline_run, """
            select subsidiary_code, currency_code, deferred_account_role, deferred_balance
            from marts.fct_revenue_schedule
            qualify row_number() over (partition by line_key order by period_start desc) = 1"""):
        expected[(subsidiary, currency, role)] += balance
    assert previous == dict(expected)


def test_every_line_kind_of_the_demo_gets_entries_with_mapped_accounts(pipeline_run):
    kinds = {kind for (kind,) in _query(pipeline_run, """
        select distinct lines.line_kind
        from marts.fct_revenue_schedule as schedule
        join staging.stg_salesforce__contract_lines as lines using (line_key)
        where schedule.schedule_status = 'final' and schedule.recognized <> 0""")}
    with_entries = {kind for (kind,) in _query(pipeline_run, """
        select distinct lines.line_kind
        from marts.fct_journal_entry_lines as entry_lines
        join staging.stg_salesforce__contract_lines as lines using (line_key)""")}
    assert kinds and kinds <= with_entries
    accounts = _query(pipeline_run, """
        select distinct entry_lines.subsidiary_code, entry_lines.account_role, entry_lines.account_number,
            entry_lines.netsuite_account_id
        from marts.fct_journal_entry_lines as entry_lines""")
    mapping = {(subsidiary, role): number for subsidiary, role, number in _query(pipeline_run, """
        select subsidiary_code, account_role, account_number from reference.gl_account_mapping""")}
    for subsidiary, role, number, netsuite_id in accounts:
        assert mapping[(subsidiary, role)] == number
        assert netsuite_id is not None


def test_functional_amounts_use_netsuites_rate_of_the_entry_date(pipeline_run):
    netsuite = netsuite_connection_from(pipeline_run.stack.environment())
    symbols = {row["id"]: row["symbol"] for row in netsuite.suiteql("select id, symbol from currency")}
    minor_units = {row["symbol"]: int(row["currencyprecision"])
                   for row in netsuite.suiteql("select symbol, currencyprecision from currency")}
    rates: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for row in netsuite.suiteql("select basecurrency, transactioncurrency, exchangerate, effectivedate from currencyrate"):
        effective = row["effectivedate"]
        day = (date(int(effective.split("/")[2]), int(effective.split("/")[0]), int(effective.split("/")[1]))
               if "/" in effective else date.fromisoformat(effective[:10]))
        rates[(symbols[row["basecurrency"]], symbols[row["transactioncurrency"]])].append(
            (day, Decimal(str(row["exchangerate"]))))
    lines = _query(pipeline_run, """
        select journal_entry_line_key, currency_code, functional_currency_code, entry_date, exchange_rate,
               debit, credit, functional_debit, functional_credit
        from marts.fct_journal_entry_lines""")
    converted = 0
    for key, currency, functional, entry_date, rate, debit, credit, functional_debit, functional_credit in lines:
        if currency == functional:
            assert rate == 1 and (functional_debit, functional_credit) == (debit, credit), key
            continue
        expected_rate = max((when, value) for when, value in rates[(functional, currency)] if when <= entry_date)[1]
        assert rate == expected_rate, key
        unit = Decimal(1).scaleb(-minor_units[functional])
        assert functional_debit == (debit * expected_rate).quantize(unit, "ROUND_HALF_UP"), key
        assert functional_credit == (credit * expected_rate).quantize(unit, "ROUND_HALF_UP"), key
        converted += 1
    assert converted > 0, "the demo bills JPY through the EU subsidiary: some lines convert"
