-- Credit_Balance__c records that should exist in Salesforce: one per prepaid credit block bought
-- by the run date, keyed by the block's ID (its credit line's key, as on the journal entry lines).
-- Consumed is what the block has paid so far, as invoiced (int_credit_applications: the
-- drawdown per billing period, rounded once, capped by the covered usage and by the block);
-- remaining is what can still be drawn: the rest until the block expires, 0 from the day after
-- its expiry date (the unused rest is then breakage, int_recognition_prepaid_credits).
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

balances as (
    select
        blocks.credit_line_key,
        contracts.account_id,
        currencies.currency_code,
        blocks.expiry_date,
        blocks.amount as granted_amount,
        coalesce(applied.applied_amount, 0) as consumed_amount,
        case
            when blocks.expiry_date < {{ as_of_date() }} then 0
            else blocks.amount - coalesce(applied.applied_amount, 0)
        end as remaining_amount
    from blocks
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on blocks.contract_id = contracts.contract_id
    inner join {{ ref('int_contract_currencies') }} as currencies
        on blocks.contract_id = currencies.contract_id
    left join applied
        on blocks.credit_line_id = applied.credit_line_id
)

select
    credit_line_key as external_id,
    account_id,
    credit_line_key as credit_block_id,
    cast(granted_amount as {{ decimal_type() }}) as granted_amount,
    cast(consumed_amount as {{ decimal_type() }}) as consumed_amount,
    cast(remaining_amount as {{ decimal_type() }}) as remaining_amount,
    currency_code,
    expiry_date as expires_on,
    {{ as_of_date() }} as as_of
from balances
