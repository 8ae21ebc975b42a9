-- Each prepaid credit block bought by the run date with what it has paid and what is left. The
-- consumed amount is what the block has paid so far, as invoiced (int_credit_applications: the
-- drawdown per billing period, rounded once, capped by the covered usage and by the block); the
-- remaining amount is what can still be drawn: the rest until the block expires, 0 from the
-- day after its expiry date (the unused rest is then breakage, int_recognition_prepaid_credits).
-- With the contract's account, customer and currency, so its readers (the Salesforce credit
-- balances, the credit run-out alerts, finance's monthly balances) need no lookups of their own.
with blocks as (
    select distinct
        credit_line_id,
        credit_line_key,
        contract_id,
        amount,
        purchase_date,
        expiry_date
    from {{ ref('int_prepaid_credit_blocks') }}
    where purchase_date <= {{ as_of_date() }}
),

applied as (
    select
        credit_line_id,
        sum(applied_amount) as applied_amount
    from {{ ref('int_credit_applications') }}
    group by credit_line_id
),

contracts as (
    select * from {{ ref('int_contracts') }}
)

select
    blocks.credit_line_id,
    blocks.credit_line_key,
    blocks.contract_id,
    contracts.contract_key,
    contracts.account_id,
    contracts.customer_key,
    contracts.currency_code,
    contracts.minor_units,
    blocks.purchase_date,
    blocks.expiry_date,
    cast(blocks.amount as {{ decimal_type() }}) as granted_amount,
    cast(coalesce(applied.applied_amount, 0) as {{ decimal_type() }}) as consumed_amount,
    cast(case
        when blocks.expiry_date < {{ as_of_date() }} then 0
        else blocks.amount - coalesce(applied.applied_amount, 0)
    end as {{ decimal_type() }}) as remaining_amount
from blocks
left join contracts
    on blocks.contract_id = contracts.contract_id
left join applied
    on blocks.credit_line_id = applied.credit_line_id
