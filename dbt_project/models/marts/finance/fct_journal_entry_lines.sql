-- The journal entry lines meterledger posts to NetSuite (ARCHITECTURE.md, "Posting model"),
-- one entry per contract, entry type and accounting period, built for every accounting period
-- that is complete (int_accounting_periods) and has no pending amendment of the contract:
--   revenue_recognition: per line, Dr deferred revenue / Cr the line's revenue account, the
--     period's recognized amount (fct_revenue_schedule's source, int_revenue_recognition);
--   credit_drawdown: per credit block, Dr prepaid credit deferred revenue / Cr usage revenue;
--   breakage: per credit block, Dr prepaid credit deferred revenue / Cr breakage revenue;
--   unbilled_receivable: where the contract's recognized-to-date exceeds its billed-to-date at
--     the period's end (deferred revenue lines, not prepaid credits), Dr unbilled receivable /
--     Cr deferred revenue, and unbilled_receivable_reversal, the same reversed on the first day
--     of the next period.
-- Each posting is a debit line and a credit line of the same amount (a negative amount swaps
-- the sides), so every entry balances by construction, in its currency and, each pair sharing
-- one rate, in the subsidiary's functional currency too.
-- Periods: an entry belongs to its accounting period and posts in it while open, otherwise in
-- the first open period after it, dated that period's first day, its memo saying so.
-- Posted entries are immutable: an entry whose posted version (read back from NetSuite by
-- external ID) differs from what it should be now is corrected by a reversal of the posted
-- version plus a new version, each with its own external ID (`<base>`, `<base>:v2`, ...;
-- `<version>:reversal`).
with recognition as (
    select * from {{ ref('int_revenue_recognition') }}
),

months as (
    select * from {{ ref('int_accounting_periods') }}
),

lines as (
    select * from {{ ref('stg_salesforce__contract_lines') }}
),

contracts as (
    select * from {{ ref('stg_salesforce__contracts') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
),

pending_amendments as (
    select
        contract_id,
        min(effective_date) as first_pending_effective_date
    from {{ ref('stg_salesforce__amendments') }}
    where amendment_status = 'Pending'
        and not is_deleted
    group by contract_id
),

-- Contract and accounting period pairs whose entries can be built now.
postable_months as (
    select
        contracts.contract_id,
        months.*
    from contracts
    cross join months
    left join pending_amendments
        on contracts.contract_id = pending_amendments.contract_id
    where months.is_complete
        and (pending_amendments.first_pending_effective_date is null
            or pending_amendments.first_pending_effective_date > months.period_end)
),

revenue_postings as (
    select
        recognition.contract_id,
        'revenue_recognition' as entry_type,
        recognition.accounting_period_start,
        recognition.contract_line_id,
        cast(null as {{ dbt.type_string() }}) as credit_line_id,
        recognition.deferred_account_role as debit_role,
        recognition.revenue_account_role as credit_role,
        sum(recognition.recognized) as amount
    from recognition
    where recognition.deferred_account_role = 'deferred_revenue'
    group by recognition.contract_id, recognition.accounting_period_start, recognition.contract_line_id,
        recognition.deferred_account_role, recognition.revenue_account_role
),

credit_postings as (
    select
        recognition.contract_id,
        case recognition.obligation_kind
            when 'credit_drawdown' then 'credit_drawdown'
            else 'breakage'
        end as entry_type,
        recognition.accounting_period_start,
        recognition.credit_line_id as contract_line_id,
        recognition.credit_line_id,
        recognition.deferred_account_role as debit_role,
        recognition.revenue_account_role as credit_role,
        sum(recognition.recognized) as amount
    from recognition
    where recognition.deferred_account_role = 'deferred_revenue_prepaid'
    group by recognition.contract_id, recognition.obligation_kind, recognition.accounting_period_start,
        recognition.credit_line_id, recognition.deferred_account_role, recognition.revenue_account_role
),

-- Recognized and billed per contract and period on the deferred revenue lines, to date over
-- every period from the contract's first activity through the last complete period.
contract_flows as (
    select
        contracts.contract_id,
        schedule.period_start,
        sum(schedule.recognized) as recognized,
        sum(schedule.billed) as billed
    from {{ ref('fct_revenue_schedule') }} as schedule
    inner join contracts
        on schedule.contract_key = contracts.contract_key
    where schedule.deferred_account_role = 'deferred_revenue'
    group by contracts.contract_id, schedule.period_start
),

contract_spans as (
    select
        contract_id,
        min(period_start) as first_month
    from contract_flows
    group by contract_id
),

contract_balances as (
    select
        contract_spans.contract_id,
        months.period_start,
        sum(coalesce(contract_flows.recognized, 0) - coalesce(contract_flows.billed, 0)) over (
            partition by contract_spans.contract_id
            order by months.period_start
            rows between unbounded preceding and current row
        ) as unbilled
    from contract_spans
    inner join months
        on months.period_start >= contract_spans.first_month
        and months.is_complete
    left join contract_flows
        on contract_spans.contract_id = contract_flows.contract_id
        and months.period_start = contract_flows.period_start
),

unbilled_postings as (
    select
        contract_id,
        'unbilled_receivable' as entry_type,
        period_start as accounting_period_start,
        cast(null as {{ dbt.type_string() }}) as contract_line_id,
        cast(null as {{ dbt.type_string() }}) as credit_line_id,
        'unbilled_receivable' as debit_role,
        'deferred_revenue' as credit_role,
        unbilled as amount
    from contract_balances
    where unbilled > 0
    union all
    select
        contract_id,
        'unbilled_receivable_reversal' as entry_type,
        cast({{ dbt.dateadd('month', 1, 'period_start') }} as date) as accounting_period_start,
        cast(null as {{ dbt.type_string() }}) as contract_line_id,
        cast(null as {{ dbt.type_string() }}) as credit_line_id,
        'deferred_revenue' as debit_role,
        'unbilled_receivable' as credit_role,
        unbilled as amount
    from contract_balances
    where unbilled > 0
),

-- Postings of complete periods without pending amendments; a reversal goes with the period it
-- reverses.
postings as (
    select all_postings.*
    from (
        select * from revenue_postings
        union all
        select * from credit_postings
        union all
        select * from unbilled_postings
    ) as all_postings
    inner join postable_months
        on all_postings.contract_id = postable_months.contract_id
        and postable_months.period_start = case
            when all_postings.entry_type = 'unbilled_receivable_reversal'
                then cast({{ dbt.dateadd('month', -1, 'all_postings.accounting_period_start') }} as date)
            else all_postings.accounting_period_start
        end
    where all_postings.amount <> 0
),

numbered as (
    select
        postings.*,
        contracts.contract_key,
        accounts.customer_key,
        accounts.subsidiary_code,
        contracts.currency_code,
        lines.line_key,
        credit_lines.line_key as credit_block_id,
        row_number() over (
            partition by postings.contract_id, postings.entry_type, postings.accounting_period_start
            order by coalesce(lines.line_key, ''), coalesce(credit_lines.line_key, '')
        ) as posting_number
    from postings
    inner join contracts
        on postings.contract_id = contracts.contract_id
    inner join accounts
        on contracts.account_id = accounts.account_id
    left join lines
        on postings.contract_line_id = lines.contract_line_id
    left join lines as credit_lines
        on postings.credit_line_id = credit_lines.contract_line_id
),

-- Two lines per posting: the debit side first.
sides as (
    select 1 as side_number, 'debit' as side
    union all
    select 2 as side_number, 'credit' as side
),

desired_lines as (
    select
        {{ dbt.concat(["'je:'", "numbered.contract_key", "':'", "numbered.entry_type", "':'",
                       accounting_period_label('numbered.accounting_period_start')]) }} as base_external_id,
        numbered.entry_type,
        numbered.accounting_period_start,
        numbered.contract_key,
        numbered.customer_key,
        numbered.subsidiary_code,
        numbered.currency_code,
        numbered.line_key,
        numbered.credit_block_id,
        (numbered.posting_number - 1) * 2 + sides.side_number as line_number,
        -- A negative amount moves the other way: the roles swap.
        case
            when (sides.side = 'debit') = (numbered.amount > 0) then numbered.debit_role
            else numbered.credit_role
        end as account_role,
        case when sides.side = 'debit' then abs(numbered.amount) else 0 end as debit,
        case when sides.side = 'credit' then abs(numbered.amount) else 0 end as credit
    from numbered
    cross join sides
),

mapped_lines as (
    select
        desired_lines.*,
        mapping.account_number
    from desired_lines
    left join {{ ref('gl_account_mapping') }} as mapping
        on desired_lines.subsidiary_code = mapping.subsidiary_code
        and desired_lines.account_role = mapping.account_role
),

-- What NetSuite holds under our external IDs (the read-back), one fingerprint per entry.
posted_entries as (
    select
        entries.journal_entry_id,
        entries.journal_entry_key as external_id,
        entries.memo
    from {{ ref('stg_netsuite__journal_entries') }} as entries
    where entries.journal_entry_key like 'je:%'
),

posted_lines as (
    select
        posted_entries.external_id,
        entry_lines.line_number,
        netsuite_accounts.account_number,
        cast(coalesce(entry_lines.debit_amount, 0) as {{ decimal_type() }}) as debit,
        cast(coalesce(entry_lines.credit_amount, 0) as {{ decimal_type() }}) as credit,
        entry_lines.memo
    from posted_entries
    inner join {{ ref('stg_netsuite__journal_entry_lines') }} as entry_lines
        on posted_entries.journal_entry_id = entry_lines.journal_entry_id
    left join {{ ref('stg_netsuite__accounts') }} as netsuite_accounts
        on entry_lines.account_id = netsuite_accounts.account_id
),

-- An entry's content, comparable between what NetSuite holds and what should be: its lines'
-- accounts and amounts in line order. The amounts as canonical text (decimal_text): an engine
-- that keeps each number's own scale (PostgreSQL prints 30.00 and 30.000000000) must not see
-- a difference where there is none.
{%- set entry_fingerprint = dbt.listagg(
    dbt.concat(["coalesce(account_number, '?')", "'|'",
                decimal_text("debit"), "'|'",
                decimal_text("credit")]),
    "','", "order by line_number") %}
posted_fingerprints as (
    select
        external_id,
        {{ entry_fingerprint }} as fingerprint
    from posted_lines
    group by external_id
),

desired_fingerprints as (
    select
        base_external_id,
        {{ entry_fingerprint }} as fingerprint
    from mapped_lines
    group by base_external_id
),

-- Posted entries by their external ID's parts, je:<contract>:<entry type>:<YYYY-MM>, then
-- `:v<N>` from the second version on and `:reversal` on a reversal (contract keys hold no ':',
-- assert_contract_keys_fit_journal_entry_ids).
posted_ids as (
    select
        external_id,
        fingerprint,
        {{ dbt.concat(["'je:'", dbt.split_part('external_id', "':'", 2), "':'",
                       dbt.split_part('external_id', "':'", 3), "':'", dbt.split_part('external_id', "':'", 4)]) }}
            as base_external_id,
        {{ dbt.split_part('external_id', "':'", 2) }} as contract_key,
        {{ dbt.split_part('external_id', "':'", 3) }} as entry_type,
        {{ dbt.split_part('external_id', "':'", 4) }} as accounting_period,
        {{ dbt.split_part('external_id', "':'", 5) }} as version_part,
        external_id like '%:reversal' as is_reversal
    from posted_fingerprints
),

posted_versions as (
    select
        *,
        case
            when version_part like 'v%' then cast(substring(version_part, 2) as integer)
            else 1
        end as version_number
    from posted_ids
    where not is_reversal
),

latest_posted as (
    select
        ranked.*,
        exists (
            select 1
            from posted_ids as reversals
            where reversals.external_id = {{ dbt.concat(["ranked.external_id", "':reversal'"]) }}
        ) as is_reversed
    from (
        select
            posted_versions.*,
            row_number() over (
                partition by posted_versions.base_external_id
                order by posted_versions.version_number desc
            ) as recency_rank
        from posted_versions
    ) as ranked
    where recency_rank = 1
),

-- Per base external ID: keep the posted version, or reverse it and post the next.
resolution as (
    select
        coalesce(desired_fingerprints.base_external_id, latest_posted.base_external_id) as base_external_id,
        latest_posted.external_id as posted_external_id,
        latest_posted.version_number as posted_version,
        case
            when latest_posted.external_id is null then 'new'
            when not latest_posted.is_reversed and latest_posted.fingerprint = desired_fingerprints.fingerprint
                then 'unchanged'
            else 'corrected'
        end as resolution,
        coalesce(latest_posted.is_reversed, false) as is_posted_reversed,
        latest_posted.contract_key as posted_contract_key,
        latest_posted.entry_type as posted_entry_type,
        latest_posted.accounting_period as posted_accounting_period
    from desired_fingerprints
    full outer join latest_posted
        on desired_fingerprints.base_external_id = latest_posted.base_external_id
),

current_versions as (
    select
        case
            when resolution.resolution = 'unchanged' then resolution.posted_external_id
            when resolution.resolution = 'new' then mapped_lines.base_external_id
            else {{ dbt.concat(["mapped_lines.base_external_id", "':v'",
                                dbt.safe_cast("resolution.posted_version + 1", api.Column.translate_type("string"))]) }}
        end as external_id,
        case when resolution.resolution = 'unchanged' then 'posted' else 'to_post' end as entry_status,
        cast(null as {{ dbt.type_string() }}) as reverses_external_id,
        mapped_lines.*
    from mapped_lines
    inner join resolution
        on mapped_lines.base_external_id = resolution.base_external_id
),

-- A reversal swaps the posted version's lines; it belongs where the posted entry belonged.
reversal_lines as (
    select
        {{ dbt.concat(["resolution.posted_external_id", "':reversal'"]) }} as external_id,
        -- A reversal NetSuite already holds is there: it is listed, never sent again.
        case when resolution.is_posted_reversed then 'posted' else 'to_post' end as entry_status,
        resolution.posted_external_id as reverses_external_id,
        resolution.base_external_id,
        resolution.posted_entry_type as entry_type,
        months.period_start as accounting_period_start,
        contracts.contract_key,
        accounts.customer_key,
        accounts.subsidiary_code,
        contracts.currency_code,
        cast(null as {{ dbt.type_string() }}) as line_key,
        cast(null as {{ dbt.type_string() }}) as credit_block_id,
        posted_lines.line_number,
        mapping.account_role,
        posted_lines.credit as debit,
        posted_lines.debit as credit,
        posted_lines.account_number
    from resolution
    inner join posted_lines
        on resolution.posted_external_id = posted_lines.external_id
    inner join months
        on resolution.posted_accounting_period = months.accounting_period
    inner join contracts
        on resolution.posted_contract_key = contracts.contract_key
    inner join accounts
        on contracts.account_id = accounts.account_id
    left join {{ ref('gl_account_mapping') }} as mapping
        on accounts.subsidiary_code = mapping.subsidiary_code
        and posted_lines.account_number = mapping.account_number
    where resolution.resolution = 'corrected'
),

all_lines as (
    {%- set entry_line_columns = [
        'external_id', 'entry_status', 'reverses_external_id', 'base_external_id', 'entry_type',
        'accounting_period_start', 'contract_key', 'customer_key', 'subsidiary_code', 'currency_code',
        'line_key', 'credit_block_id', 'line_number', 'account_role', 'account_number', 'debit', 'credit'] %}
    select {{ entry_line_columns | join(', ') }} from current_versions
    union all
    select {{ entry_line_columns | join(', ') }} from reversal_lines
),

dated as (
    select
        all_lines.*,
        months.accounting_period,
        months.period_status as accounting_period_status,
        months.posting_period,
        months.posting_period_start,
        months.posting_netsuite_accounting_period_id,
        case
            when months.posting_period is null then null
            when months.posting_period_start <> months.period_start then months.posting_period_start
            when all_lines.entry_type = 'unbilled_receivable_reversal' then months.period_start
            else months.period_end
        end as entry_date
    from all_lines
    inner join months
        on all_lines.accounting_period_start = months.period_start
),

-- The subsidiary's functional currency and NetSuite's rate on the entry date (the newest rate
-- effective on or before it); the same currency converts at 1.
netsuite_customers as (
    select * from {{ ref('stg_netsuite__customers') }}
),

functional as (
    select
        dated.external_id,
        dated.line_number,
        subsidiaries.subsidiary_id as netsuite_subsidiary_id,
        functional_currencies.currency_code as functional_currency_code,
        transaction_currencies.currency_id as transaction_currency_id,
        subsidiaries.currency_id as functional_currency_id,
        netsuite_customers.customer_id as netsuite_customer_id
    from dated
    left join netsuite_customers
        on dated.customer_key = netsuite_customers.customer_key
    left join {{ ref('stg_netsuite__subsidiaries') }} as subsidiaries
        on netsuite_customers.subsidiary_id = subsidiaries.subsidiary_id
    left join {{ ref('stg_netsuite__currencies') }} as functional_currencies
        on subsidiaries.currency_id = functional_currencies.currency_id
    left join {{ ref('stg_netsuite__currencies') }} as transaction_currencies
        on dated.currency_code = transaction_currencies.currency_code
),

rates as (
    select
        dated.external_id,
        dated.line_number,
        rates.exchange_rate,
        row_number() over (
            partition by dated.external_id, dated.line_number
            order by rates.effective_date desc
        ) as recency_rank
    from dated
    inner join functional
        on dated.external_id = functional.external_id
        and dated.line_number = functional.line_number
    inner join {{ ref('stg_netsuite__currency_rates') }} as rates
        on functional.functional_currency_id = rates.base_currency_id
        and functional.transaction_currency_id = rates.transaction_currency_id
        and rates.effective_date <= dated.entry_date
),

converted as (
    select
        dated.*,
        functional.netsuite_subsidiary_id,
        functional.netsuite_customer_id,
        functional.functional_currency_code,
        case
            when functional.functional_currency_code = dated.currency_code then cast(1 as {{ decimal_type(38, 12) }})
            else rates.exchange_rate
        end as exchange_rate,
        coalesce(functional_minor_units.minor_units, 2) as functional_minor_units
    from dated
    left join functional
        on dated.external_id = functional.external_id
        and dated.line_number = functional.line_number
    left join rates
        on dated.external_id = rates.external_id
        and dated.line_number = rates.line_number
        and rates.recency_rank = 1
    left join {{ ref('currencies') }} as functional_minor_units
        on functional.functional_currency_code = functional_minor_units.currency_code
)

select
    {{ dbt.concat(["converted.external_id", "':'", dbt.safe_cast("converted.line_number", api.Column.translate_type("string"))]) }}
        as journal_entry_line_key,
    converted.external_id,
    converted.line_number,
    converted.base_external_id,
    converted.entry_type,
    converted.entry_status,
    converted.reverses_external_id,
    converted.accounting_period,
    converted.accounting_period_status,
    converted.posting_period,
    converted.posting_netsuite_accounting_period_id,
    converted.entry_date,
    converted.subsidiary_code,
    converted.netsuite_subsidiary_id,
    converted.customer_key,
    converted.netsuite_customer_id,
    converted.contract_key,
    converted.line_key,
    converted.credit_block_id,
    converted.account_role,
    converted.account_number,
    netsuite_accounts.account_id as netsuite_account_id,
    converted.currency_code,
    cast(converted.debit as {{ decimal_type() }}) as debit,
    cast(converted.credit as {{ decimal_type() }}) as credit,
    converted.functional_currency_code,
    converted.exchange_rate,
    {{ round_money('converted.debit * converted.exchange_rate', 'converted.functional_minor_units') }} as functional_debit,
    {{ round_money('converted.credit * converted.exchange_rate', 'converted.functional_minor_units') }} as functional_credit,
    case
        when converted.reverses_external_id is not null
            then {{ dbt.concat(["'Reverses '", "converted.reverses_external_id"]) }}
        when converted.line_key is not null
            then {{ dbt.concat(["converted.line_key", "': '", "replace(converted.entry_type, '_', ' ')", "' '", "converted.accounting_period"]) }}
        when converted.credit_block_id is not null
            then {{ dbt.concat(["'credit block '", "converted.credit_block_id", "': '", "replace(converted.entry_type, '_', ' ')", "' '", "converted.accounting_period"]) }}
        else {{ dbt.concat(["converted.contract_key", "': '", "replace(converted.entry_type, '_', ' ')", "' '", "converted.accounting_period"]) }}
    end as memo
from converted
left join {{ ref('stg_netsuite__accounts') }} as netsuite_accounts
    on converted.account_number = netsuite_accounts.account_number
