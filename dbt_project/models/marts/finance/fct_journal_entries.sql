-- One row per journal entry (fct_journal_entry_lines grouped by external ID): where it belongs
-- and where it posts, its totals in the transaction and functional currencies, and its memo,
-- which says when an entry posts after the period it belongs to. An entry with no open
-- NetSuite period at or after its own cannot post yet: posting_status is blocked, and the sync
-- leaves it out until a period opens.
with entry_lines as (
    select * from {{ ref('fct_journal_entry_lines') }}
),

{%- set entry_columns = [
    'external_id', 'base_external_id', 'entry_type', 'entry_status', 'reverses_external_id',
    'accounting_period', 'accounting_period_status', 'posting_period', 'posting_netsuite_accounting_period_id',
    'entry_date', 'subsidiary_code', 'netsuite_subsidiary_id', 'customer_key', 'netsuite_customer_id',
    'contract_key', 'currency_code', 'functional_currency_code'] %}
entries as (
    select
        {{ entry_columns | join(',\n        ') }},
        max(exchange_rate) as exchange_rate,
        count(*) as line_count,
        sum(debit) as total_debit,
        sum(credit) as total_credit,
        sum(functional_debit) as functional_total_debit,
        sum(functional_credit) as functional_total_credit
    from entry_lines
    group by {{ entry_columns | join(', ') }}
)

select
    external_id,
    base_external_id,
    entry_type,
    entry_status,
    case when posting_period is null then 'blocked' else 'ready' end as posting_status,
    reverses_external_id,
    accounting_period,
    accounting_period_status,
    posting_period,
    posting_netsuite_accounting_period_id,
    entry_date,
    subsidiary_code,
    netsuite_subsidiary_id,
    customer_key,
    netsuite_customer_id,
    contract_key,
    currency_code,
    functional_currency_code,
    exchange_rate,
    line_count,
    cast(total_debit as {{ decimal_type() }}) as total_debit,
    cast(total_credit as {{ decimal_type() }}) as total_credit,
    cast(functional_total_debit as {{ decimal_type() }}) as functional_total_debit,
    cast(functional_total_credit as {{ decimal_type() }}) as functional_total_credit,
    {{ dbt.concat([
        "case when reverses_external_id is not null then 'Reversal: ' else '' end",
        "replace(entry_type, '_', ' ')", "' '", "contract_key", "' '", "accounting_period",
        "case
            when posting_period is null
                then " ~ dbt.concat(["' (belongs to '", "accounting_period", "', '", "accounting_period_status", "'; no open period to post in yet)'"]) ~ "
            when posting_period <> accounting_period
                then " ~ dbt.concat(["' (belongs to '", "accounting_period", "', '", "accounting_period_status", "'; posted in '", "posting_period", "')'"]) ~ "
            else ''
        end"]) }} as memo
from entries
