-- What each prepaid credit block pays of each usage event's charge (scenario-format.md,
-- "Timing"): events in time order, an event paying from the block that expires first among
-- those valid on its day and covering its line; a charge larger than the block's rest goes on
-- to the next block, and beyond every balance it is invoiced normally.
-- Drawing the blocks one after the other in expiry order gives the same answer as drawing
-- event by event (the block that expires first always goes first), and each block is then a
-- running sum capped at its amount: least(charges so far, amount) minus the same before the
-- event. The blocks of a contract are unrolled to `max_credit_blocks_per_contract` ranks;
-- assert_credit_blocks_fit_the_drawdown fails when a contract holds more.
{%- set ranks = var('max_credit_blocks_per_contract') %}
with blocks as (
    select * from {{ ref('int_prepaid_credit_blocks') }}
),

-- Time order, ties in load order (docs/scenarios.md, "credit_applied"; the order of
-- int_usage_events_segmented across all of a credit's lines): event_row_key is text
-- ('file:10' sorts before 'file:9'), so it cannot break ties. A first tier's flat fee owed at
-- zero units (no delivered event, so no load order) comes first at its instant, the period's
-- first day; two of them in key order.
unpaid_0 as (
    select
        event_row_key,
        contract_line_id,
        contract_id,
        billing_period_key,
        event_at,
        event_date,
        row_number() over (
            order by
                event_at,
                case when load_id is null then 0 else 1 end,
                load_id,
                file_name,
                file_row,
                event_row_key
        ) as drawdown_order,
        charge as unpaid
    from {{ ref('int_usage_event_charges') }}
),
{% for rank in range(1, ranks + 1) %}
drawn_{{ rank }} as (
    select
        unpaid.event_row_key,
        blocks.credit_line_id,
        blocks.amount,
        sum(unpaid.unpaid) over (
            partition by blocks.credit_line_id
            order by unpaid.drawdown_order
            rows between unbounded preceding and current row
        ) as charged_through,
        unpaid.unpaid
    from unpaid_{{ rank - 1 }} as unpaid
    inner join blocks
        on unpaid.contract_line_id = blocks.usage_line_id
        and blocks.drawdown_rank = {{ rank }}
        and unpaid.event_date between blocks.purchase_date and blocks.expiry_date
),

paid_{{ rank }} as (
    select
        event_row_key,
        credit_line_id,
        case when charged_through < amount then charged_through else amount end
        - case when charged_through - unpaid < amount then charged_through - unpaid else amount end
            as applied
    from drawn_{{ rank }}
),

unpaid_{{ rank }} as (
    select
        unpaid.event_row_key,
        unpaid.contract_line_id,
        unpaid.contract_id,
        unpaid.billing_period_key,
        unpaid.event_at,
        unpaid.event_date,
        unpaid.drawdown_order,
        unpaid.unpaid - coalesce(paid.applied, 0) as unpaid
    from unpaid_{{ rank - 1 }} as unpaid
    left join paid_{{ rank }} as paid
        on unpaid.event_row_key = paid.event_row_key
),
{% endfor %}

paid as (
{%- for rank in range(1, ranks + 1) %}
    select event_row_key, credit_line_id, applied from paid_{{ rank }}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
)

select
    {{ dbt.concat(["paid.credit_line_id", "':'", "paid.event_row_key"]) }} as drawdown_key,
    paid.credit_line_id,
    blocks.credit_line_key,
    charges.contract_id,
    charges.contract_line_id as usage_line_id,
    charges.line_key as usage_line_key,
    charges.billing_period_key,
    charges.event_row_key,
    charges.event_at,
    charges.event_date,
    charges.charge,
    cast(paid.applied as {{ decimal_type(38, 20) }}) as applied
from paid
inner join {{ ref('int_usage_event_charges') }} as charges
    on paid.event_row_key = charges.event_row_key
inner join (select distinct credit_line_id, credit_line_key from blocks) as blocks
    on paid.credit_line_id = blocks.credit_line_id
where paid.applied <> 0
