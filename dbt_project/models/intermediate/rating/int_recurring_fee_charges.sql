-- Recurring fee charges: one per line per billing segment (a whole period, or the stretch of it
-- under one version of the terms), the fee prorated by the segment's days over its full
-- period's days and rounded once to the currency's minor unit. In advance: invoiced on the
-- period's first day; in arrears: the day after the period ends (scenario-format.md, "Timing").
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'recurring_fee'
),

versions as (
    select
        line_version_key,
        amount
    from {{ ref('int_contract_line_versions') }}
),

lines as (
    select
        contract_line_id,
        fee_timing
    from {{ ref('stg_salesforce__contract_lines') }}
),

contract_currencies as (
    select * from {{ ref('int_contract_currencies') }}
)

select
    segments.billing_segment_key as charge_key,
    segments.billing_period_key,
    segments.contract_line_id,
    segments.line_key,
    segments.contract_id,
    segments.period_start,
    segments.period_end,
    segments.segment_start,
    segments.segment_end,
    segments.days_in_segment,
    segments.days_in_full_period,
    versions.amount as full_period_amount,
    {{ prorate('versions.amount', 'segments.days_in_segment', 'segments.days_in_full_period', 'contract_currencies.minor_units') }}
        as amount,
    contract_currencies.currency_code,
    lines.fee_timing,
    case lines.fee_timing
        when 'in_advance' then segments.period_start
        when 'in_arrears' then cast({{ dbt.dateadd('day', 1, 'segments.period_end') }} as date)
    end as invoice_date,
    segments.line_version_key as pricing_version
from segments
inner join versions
    on segments.line_version_key = versions.line_version_key
inner join lines
    on segments.contract_line_id = lines.contract_line_id
inner join contract_currencies
    on segments.contract_id = contract_currencies.contract_id
