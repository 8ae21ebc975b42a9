-- Minimum commitment true-ups (scenario-format.md, "Timing"): per billing period,
-- max(0, prorated minimum - the rounded amounts of the lines the commitment applies to in that
-- period), rounded once and invoiced with the period's usage. The minimum is prorated by each
-- of the commitment's segments (an amendment or a partial period); the lines are its
-- `applies_to` list, by default every recurring_fee and usage line of the contract. Usage counts
-- at the amount the period was first rated at (late usage is billed as an adjustment later).
with commitment_segments as (
    select
        segments.billing_period_key,
        segments.contract_line_id,
        segments.line_key,
        segments.contract_id,
        segments.period_start,
        segments.period_end,
        {{ prorate('versions.amount', 'segments.days_in_segment', 'segments.days_in_full_period', 9) }}
            as prorated_minimum
    from {{ ref('int_billing_segments') }} as segments
    inner join {{ ref('int_contract_line_versions') }} as versions
        on segments.line_version_key = versions.line_version_key
    where segments.line_kind = 'minimum_commitment'
),

commitments as (
    select
        billing_period_key,
        contract_line_id,
        line_key,
        contract_id,
        min(period_start) as period_start,
        max(period_end) as period_end,
        sum(prorated_minimum) as prorated_minimum
    from commitment_segments
    group by billing_period_key, contract_line_id, line_key, contract_id
),

commitment_lines as (
    select
        commitment.contract_line_id as commitment_line_id,
        covered.contract_line_id as covered_line_id
    from {{ ref('stg_salesforce__contract_lines') }} as commitment
    inner join {{ ref('stg_salesforce__contract_lines') }} as covered
        on commitment.contract_id = covered.contract_id
        and covered.line_kind in ('recurring_fee', 'usage')
        and not covered.is_deleted
        and {{ line_in_list('commitment.applies_to', 'covered.line_key') }}
    where commitment.line_kind = 'minimum_commitment'
),

line_amounts as (
    select contract_line_id, billing_period_key, amount
    from {{ ref('int_recurring_fee_charges') }}
    union all
    select contract_line_id, billing_period_key, amount
    from {{ ref('int_usage_charges') }}
    where delivery_cohort = 0
        and consumed_through is null
),

covered_amounts as (
    select
        commitment_lines.commitment_line_id,
        line_amounts.billing_period_key,
        sum(line_amounts.amount) as covered_amount
    from commitment_lines
    inner join line_amounts
        on commitment_lines.covered_line_id = line_amounts.contract_line_id
    group by commitment_lines.commitment_line_id, line_amounts.billing_period_key
),

contract_currencies as (
    select * from {{ ref('int_contract_currencies') }}
),

trued_up as (
    select
        commitments.*,
        coalesce(covered_amounts.covered_amount, 0) as covered_amount,
        {{ round_money(
            'case when commitments.prorated_minimum > coalesce(covered_amounts.covered_amount, 0)'
            ~ ' then commitments.prorated_minimum - coalesce(covered_amounts.covered_amount, 0) else 0 end',
            'contract_currencies.minor_units') }} as true_up_amount,
        contract_currencies.currency_code
    from commitments
    left join covered_amounts
        on commitments.contract_line_id = covered_amounts.commitment_line_id
        and commitments.billing_period_key = covered_amounts.billing_period_key
    inner join contract_currencies
        on commitments.contract_id = contract_currencies.contract_id
)

select
    {{ dbt.concat(["line_key", "':'", "billing_period_key"]) }} as true_up_key,
    billing_period_key,
    contract_line_id,
    line_key,
    contract_id,
    period_start,
    period_end,
    prorated_minimum,
    covered_amount,
    true_up_amount,
    currency_code,
    cast({{ dbt.dateadd('day', 1, 'period_end') }} as date) as invoice_date
from trued_up
