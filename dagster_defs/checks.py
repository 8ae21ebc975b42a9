"""Blocking asset checks that guard the syncs: nothing is pushed while reconciliation breaks
its tolerance or a journal entry does not balance. Every sync asset depends on both checked
models, so a failed check stops the syncs of the same run (Dagster skips what a blocking check
guards), in the daily run and in the period-close run alike. dbt's own tests are asset checks
too (dagster-dbt); these two add what the syncs must not run without."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check
from dagster_dbt import get_asset_key_for_model

from dagster_defs.assets.transformation import meterledger_dbt_models
from dagster_defs.resources import WarehouseResource

RECONCILIATION = get_asset_key_for_model([meterledger_dbt_models], "rpt_billing_reconciliation")
JOURNAL_ENTRIES = get_asset_key_for_model([meterledger_dbt_models], "fct_journal_entries")
JOURNAL_ENTRY_LINES = get_asset_key_for_model([meterledger_dbt_models], "fct_journal_entry_lines")
SHOWN = 20  # breaking rows listed in the check's metadata


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if value is None else str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


@asset_check(asset=RECONCILIATION, blocking=True, name="reconciliation_within_tolerance",
             description="No row of rpt_billing_reconciliation breaks the configured tolerance "
                         "(dbt vars reconciliation_*): what was sent, what NetSuite holds and what it invoiced agree.")
def reconciliation_within_tolerance(context: AssetCheckExecutionContext,
                                    warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as connection:
        by_status = connection.execute(
            "select reconciliation_status, count(*), count(*) filter (where is_break) "
            "from marts.rpt_billing_reconciliation group by 1 order by 1").fetchall()
        breaks = connection.execute(
            "select customer_key, line_key, meter_id, period_start, period_end, reconciliation_status, status_reason "
            "from marts.rpt_billing_reconciliation where is_break "
            f"order by customer_key, line_key, meter_id, period_start limit {SHOWN}").fetchall()
    broken = sum(count for _, _, count in by_status)
    metadata = {f"rows_{status}": MetadataValue.int(rows) for status, rows, _ in by_status}
    metadata["breaking_rows"] = MetadataValue.int(broken)
    if breaks:
        metadata["first_breaks"] = MetadataValue.md(_table(
            ("customer", "line", "meter", "period start", "period end", "status", "reason"), breaks))
        context.log.error("reconciliation: %d breaking rows; the syncs are blocked. First: %s",
                          broken, "; ".join(f"{row[1]} {row[3]}..{row[4]}: {row[6]}" for row in breaks[:5]))
    return AssetCheckResult(passed=broken == 0, severity=AssetCheckSeverity.ERROR, metadata=metadata)


@asset_check(asset=JOURNAL_ENTRIES, blocking=True, name="journal_entries_balance",
             additional_deps=[JOURNAL_ENTRY_LINES],
             description="Every journal entry balances to the cent (debits = credits, in the entry's currency "
                         "and in the functional currency) and its header totals are the sums of its lines.")
def journal_entries_balance(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as connection:
        [(entries,)] = connection.execute("select count(*) from marts.fct_journal_entries").fetchall()
        unbalanced = connection.execute("""
            with line_totals as (
                select external_id, sum(debit) as debit, sum(credit) as credit,
                    sum(functional_debit) as functional_debit, sum(functional_credit) as functional_credit
                from marts.fct_journal_entry_lines
                group by external_id
            )
            select entries.external_id, entries.total_debit, entries.total_credit,
                line_totals.debit, line_totals.credit
            from marts.fct_journal_entries as entries
            left join line_totals using (external_id)
            where entries.total_debit <> entries.total_credit
                or entries.functional_total_debit <> entries.functional_total_credit
                or line_totals.external_id is null
                or line_totals.debit <> entries.total_debit
                or line_totals.credit <> entries.total_credit
                or line_totals.functional_debit <> line_totals.functional_credit
            order by entries.external_id""").fetchall()
    metadata = {"entries": MetadataValue.int(entries), "unbalanced_entries": MetadataValue.int(len(unbalanced))}
    if unbalanced:
        metadata["first_unbalanced"] = MetadataValue.md(_table(
            ("external id", "header debit", "header credit", "lines debit", "lines credit"), unbalanced[:SHOWN]))
        context.log.error("%d journal entries do not balance; the syncs are blocked. First: %s",
                          len(unbalanced), ", ".join(row[0] for row in unbalanced[:5]))
    return AssetCheckResult(passed=not unbalanced, severity=AssetCheckSeverity.ERROR, metadata=metadata)


sync_guards = [reconciliation_within_tolerance, journal_entries_balance]
