-- The journal entries NetSuite should hold (issue 6, for the reverse-ETL sync of issue 7): one
-- row per entry line, the entry's fields repeated, keyed by the entry's external ID and the
-- line number. Entries that cannot post yet (no open period) are left out; posted entries stay
-- in, unchanged, so the sync sees them as already there. Reversals and corrected versions are
-- entries of their own. credit_block_id is the canonical column the field mapping sends to the
-- account's custom line field (custcol_credit_block_id or as configured).
with entries as (
    select * from {{ ref('fct_journal_entries') }}
    where posting_status = 'ready'
),

entry_lines as (
    select * from {{ ref('fct_journal_entry_lines') }}
)

select
    {{ dbt.concat(["entries.external_id", "':'", dbt.safe_cast("entry_lines.line_number", api.Column.translate_type("string"))]) }}
        as sync_key,
    entries.external_id,
    entries.entry_type,
    entries.netsuite_subsidiary_id as subsidiary_id,
    currencies.currency_id,
    entries.posting_netsuite_accounting_period_id as posting_period_id,
    entries.entry_date as transaction_date,
    entries.memo,
    entries.accounting_period,
    entries.posting_period,
    entry_lines.line_number,
    entry_lines.netsuite_account_id as account_id,
    entry_lines.account_role,
    entry_lines.debit,
    entry_lines.credit,
    entry_lines.netsuite_customer_id as entity_id,
    entry_lines.memo as line_memo,
    entry_lines.credit_block_id
from entries
inner join entry_lines
    on entries.external_id = entry_lines.external_id
left join {{ ref('stg_netsuite__currencies') }} as currencies
    on entries.currency_code = currencies.currency_code
