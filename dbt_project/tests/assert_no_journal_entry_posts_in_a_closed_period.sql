-- No journal entry posts into a period NetSuite does not have open: an entry's posting period
-- is an open NetSuite accounting period, never before the period the entry belongs to, and
-- the entry is dated inside it. Checked on what the sync sends too.
select
    entries.external_id,
    entries.accounting_period,
    entries.posting_period,
    periods.period_status as posting_period_status,
    entries.entry_date
from {{ ref('fct_journal_entries') }} as entries
left join {{ ref('int_accounting_periods') }} as periods
    on entries.posting_period = periods.accounting_period
where entries.posting_status = 'ready'
    and (periods.period_status is distinct from 'open'
        or entries.posting_period < entries.accounting_period
        or entries.entry_date not between periods.period_start and periods.period_end)
union all
select
    sync.external_id,
    sync.accounting_period,
    sync.posting_period,
    periods.period_status as posting_period_status,
    sync.transaction_date as entry_date
from {{ ref('sync_netsuite__journal_entries') }} as sync
left join {{ ref('int_accounting_periods') }} as periods
    on sync.posting_period_id = periods.netsuite_accounting_period_id
where periods.period_status is distinct from 'open'
